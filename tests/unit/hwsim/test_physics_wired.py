"""The off-nominal physics wired into the subsystems, checked through them and the Spacecraft.

- orbit_env: J2 nodal precession and β over a year (``orbit.beta_mode = "j2"``);
- wings: Earth IR and albedo, the rated clamp, the settled start;
- power_bus: PDU overcurrent protection, visible on the ``pdu`` device.

The pure functions themselves are tested in test_physics_*.py; here the question is whether the
model does what they say.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import pytest

from hwsim.config import SpacecraftConfig
from hwsim.model.constants import (
    EARTH_IR_W_M2,
    J2_EARTH,
    MU_EARTH_KM3_S2,
    R_EARTH_KM,
    SIGMA_W_M2_K4,
    SOLAR_CONSTANT_W_M2,
)
from hwsim.model.orbit import (
    beta_critical_deg,
    beta_from_geometry_deg,
    eclipse_duration_s,
    eclipse_half_angle_rad,
    noon_arg_of_latitude_rad,
    orbital_period_s,
    raan_rad,
    sun_ecliptic_longitude_rad,
    sun_synchronous_inclination_deg,
)
from hwsim.model.protection import trip_time_s
from hwsim.model.solar import (
    array_mpp_power_w,
    wing_drive_normal_from_nadir_rad,
    wing_earth_absorbed_w_m2,
    wing_equilibrium_temp_k,
)
from hwsim.model.thermal import albedo_flux_w_m2, earth_view_factor_tilted_plate
from hwsim.spacecraft import Spacecraft
from hwsim.subsystems.wings import Wings
from icd.devices import TripReason

Variant = Callable[..., SpacecraftConfig]

# --------------------------------------------------------------------------- J2 and β


def _j2(ai1: SpacecraftConfig, variant: Variant, **more: object) -> SpacecraftConfig:
    return variant(ai1, **{"orbit.beta_mode": "j2", "orbit.raan_deg": 40.0, **more})


def test_beta_mode_j2_needs_an_epoch(ai1: SpacecraftConfig, variant: Variant) -> None:
    with pytest.raises(ValueError, match="epoch_utc"):
        _j2(ai1, variant, **{"orbit.epoch_utc": None})
    with pytest.raises(ValueError, match="not an ISO-8601"):
        _j2(ai1, variant, **{"orbit.epoch_utc": "next tuesday"})


def test_fixed_beta_stays_the_default(ai1: SpacecraftConfig) -> None:
    """The AI1 configuration keeps its fixed β (the closed-form cases rely on it)."""
    assert ai1.orbit.beta_mode == "fixed"
    sc = Spacecraft(ai1)
    sc.run(30 * 86400.0, 3600.0)
    assert sc.truth()["beta_deg"] == ai1.orbit.beta_deg


def test_node_precesses_at_the_closed_form_j2_rate(ai1: SpacecraftConfig, variant: Variant) -> None:
    """Ω̇ = −(3/2)·n·J2·(R⊕/a)²·cos i, read from the truth over 20 days (≈ −4.38°/day)."""
    cfg = _j2(ai1, variant)
    a = R_EARTH_KM + cfg.orbit.altitude_km
    n = math.sqrt(MU_EARTH_KM3_S2 / a**3)
    rate = -1.5 * n * J2_EARTH * (R_EARTH_KM / a) ** 2 * math.cos(math.radians(53.0))
    sc = Spacecraft(cfg)
    raan = [sc.truth()["raan_deg"]]
    for _ in range(20):
        sc.run(86400.0, 600.0)
        raan.append(sc.truth()["raan_deg"])
    total = sum((b - a + 180.0) % 360.0 - 180.0 for a, b in itertools.pairwise(raan))
    # the truth shows the orbit at the start of the last step (t = 0 for the first reading)
    got = math.radians(total) / (sc.time_s - 600.0)
    assert got == pytest.approx(rate, rel=1e-9), f"Ω̇ {got} rad/s, closed form {rate}"
    assert math.degrees(rate) * 86400.0 == pytest.approx(-4.378, abs=0.002)


def test_a_year_of_j2_sweeps_beta_and_makes_eclipse_seasons(
    ai1: SpacecraftConfig, variant: Variant
) -> None:
    """A 53° orbit over a year: β from the pure geometry at every hour, both signs past
    β*, eclipse-free seasons that come and go, and the eclipse the model flies on a sampled
    orbit as long as the closed form for that day's β."""
    cfg = _j2(ai1, variant)
    o = cfg.orbit
    sc = Spacecraft(cfg)
    rate = sc._orbit.raan_rate_rad_s  # checked against the closed form above
    d0 = o.epoch_days_since_j2000
    betas: list[float] = []
    for _ in range(365 * 24):
        sc.step(3600.0)
        t = sc.time_s - 3600.0  # the step's start, where the truth's β was evaluated
        want = beta_from_geometry_deg(
            raan_rad(t, math.radians(o.raan_deg), rate),
            o.inclination_deg,
            sun_ecliptic_longitude_rad(d0 + t / 86400.0),
        )
        got = sc.truth()["beta_deg"]
        assert got == pytest.approx(want, abs=1e-9), f"t={t}: β {got} != {want}"
        betas.append(got)
    b_star = beta_critical_deg(o.altitude_km)
    assert max(betas) > b_star and min(betas) < -b_star, (min(betas), max(betas))
    assert max(abs(b) for b in betas) <= o.inclination_deg + 23.44 + 1e-6
    free = [abs(b) > b_star for b in betas]
    seasons = sum(1 for x, y in itertools.pairwise(free) if x and not y)
    assert seasons >= 3, f"eclipse-free seasons in a year: {seasons}"
    # fly one orbit at a small step on the day β is largest and on the day it is smallest
    for target in (
        max(range(len(betas)), key=lambda k: abs(betas[k])),
        betas.index(min(betas, key=abs)),
    ):
        probe = Spacecraft(cfg)
        probe.run(target * 3600.0 + 3600.0, 3600.0)
        beta = probe.truth()["beta_deg"]
        dark = 0.0
        dt = 2.0
        for _ in range(round(orbital_period_s(o.altitude_km) / dt)):
            probe.step(dt)
            dark += dt * (probe.truth()["illumination"] <= 0.0)
        want = eclipse_duration_s(o.altitude_km, beta) if abs(beta) < b_star else 0.0
        assert abs(dark - want) <= 2 * dt + 5.0, f"β={beta:.2f}: eclipse {dark} s, closed {want}"


def test_sun_synchronous_orbit_keeps_its_node_on_the_mean_sun(
    ai1: SpacecraftConfig, variant: Variant
) -> None:
    """At the SSO inclination Ω̇ equals the mean Sun's motion: over a year the node's angle to
    the mean Sun does not move (β still breathes with the obliquity, 57-90° dawn-dusk)."""
    incl = sun_synchronous_inclination_deg(600.0)
    cfg = _j2(ai1, variant, **{"orbit.inclination_deg": incl})
    d0 = cfg.orbit.epoch_days_since_j2000
    # a dawn-dusk node: 90° east of the mean Sun at the epoch
    mean_sun0 = (280.460 + 0.9856474 * d0) % 360.0
    cfg = variant(cfg, **{"orbit.raan_deg": (mean_sun0 + 90.0) % 360.0 - 360.0})
    sc = Spacecraft(cfg)
    offsets, betas = [], []
    for _ in range(365):
        sc.run(86400.0, 86400.0)
        # the truth shows the orbit at the start of the last step
        mean_sun = 280.460 + 0.9856474 * (d0 + (sc.time_s - 86400.0) / 86400.0)
        offsets.append((sc.truth()["raan_deg"] - mean_sun + 180.0) % 360.0 - 180.0)
        betas.append(abs(sc.truth()["beta_deg"]))
    assert max(offsets) - min(offsets) < 0.01, (min(offsets), max(offsets))
    assert offsets[0] == pytest.approx(90.0, abs=0.01)
    assert 55.0 < min(betas) < 62.0 and max(betas) > 85.0, (min(betas), max(betas))


@pytest.mark.parametrize(
    ("raan_deg", "incl_deg", "sun_deg"), [(0, 53, 0), (40, 53, 100), (250, 97.8, 300)]
)
def test_orbit_noon_is_where_the_sun_is_closest(
    raan_deg: float, incl_deg: float, sun_deg: float
) -> None:
    """noon_arg_of_latitude_rad: at that argument of latitude the satellite's direction makes
    the smallest angle with the Sun, cos = cos β (the Sun's projection on the orbit plane)."""
    om, lam = math.radians(raan_deg), math.radians(sun_deg)
    noon = noon_arg_of_latitude_rad(om, incl_deg, lam)
    beta = math.radians(beta_from_geometry_deg(om, incl_deg, lam))
    eps = math.radians(23.4392911)
    sun = (math.cos(lam), math.cos(eps) * math.sin(lam), math.sin(eps) * math.sin(lam))
    i = math.radians(incl_deg)

    def sat(u: float) -> tuple[float, float, float]:
        node = (math.cos(om), math.sin(om), 0.0)
        ahead = (-math.cos(i) * math.sin(om), math.cos(i) * math.cos(om), math.sin(i))
        return tuple(math.cos(u) * a + math.sin(u) * b for a, b in zip(node, ahead, strict=True))

    def cos_to_sun(u: float) -> float:
        return sum(a * b for a, b in zip(sat(u), sun, strict=True))

    assert cos_to_sun(noon) == pytest.approx(math.cos(beta), abs=1e-6)
    assert cos_to_sun(noon) >= max(cos_to_sun(noon + d) for d in (-0.01, 0.01, 1.0, math.pi))


def test_radiator_sunlight_follows_beta(ai1: SpacecraftConfig, variant: Variant) -> None:
    """The radiators' absorbed sunlight (panel normals along the orbit normal: |sin β|)
    follows the moving β: after months of precession the j2 spacecraft's panels absorb what
    a fixed-β spacecraft at that day's β absorbs at the same orbit phase."""
    cfg = _j2(ai1, variant)
    sc = Spacecraft(cfg)
    beta0 = sc.truth()["beta_deg"]
    while abs(abs(sc.truth()["beta_deg"]) - abs(beta0)) < 25.0:
        sc.run(86400.0, 3600.0)
    sc.step(1.0)
    tr = sc.truth()
    assert abs(abs(tr["beta_deg"]) - abs(beta0)) > 20.0, (beta0, tr["beta_deg"])
    fixed = Spacecraft(variant(ai1, **{"orbit.beta_deg": tr["beta_deg"]}))
    fixed.run(sc.time_s - 1.0, 3600.0)
    fixed.run(1.0, 1.0)
    assert fixed.truth()["orbit_phase_rad"] == pytest.approx(tr["orbit_phase_rad"], abs=1e-9)
    assert tr["illumination"] == 1.0 and sum(tr["radiator_absorbed_w"]) > 0.0
    assert tr["radiator_absorbed_w"] == pytest.approx(
        fixed.truth()["radiator_absorbed_w"], rel=1e-9
    )


# --------------------------------------------------------------------------- wings


def _eclipse_equilibrium_k(normal_from_nadir_rad: float, altitude_km: float = 600.0) -> float:
    """(OLR·ΣF/2σ)^¼: a dark wing's Earth IR over its two faces' radiation (ε cancels)."""
    f = earth_view_factor_tilted_plate(altitude_km, normal_from_nadir_rad)
    f += earth_view_factor_tilted_plate(altitude_km, math.pi - normal_from_nadir_rad)
    return (EARTH_IR_W_M2 * f / (2.0 * SIGMA_W_M2_K4)) ** 0.25


def test_a_dark_wing_settles_at_the_closed_form(ai1: SpacecraftConfig) -> None:
    """The Wings subsystem in the dark at a held drive angle settles at (OLR·ΣF/2σ)^¼: 204 K
    with the cells on nadir, 180 K edge-on (no more 99.5 K)."""
    for angle, want_k in ((0.0, 204.4), (90.0, 179.6)):
        wings = Wings(ai1.wings, 600.0)
        wings.tracking = [False, False]
        wings.target_deg = [angle, angle]
        wings.angle_deg = [angle, angle]
        for _ in range(2000):
            wings.step(10.0, 0.0, math.pi, 0.0, 1.0, -1.0)
            wings.deliver(1.0)  # the bus takes what they give (nothing, in the dark)
        closed = _eclipse_equilibrium_k(math.radians(angle))
        assert closed == pytest.approx(want_k, abs=0.05)
        for t in wings.temp_k:
            assert t == pytest.approx(closed, abs=1e-6), f"{angle}°: {t} K, closed {closed} K"


def test_wing_in_eclipse_follows_the_closed_form(ai1: SpacecraftConfig, variant: Variant) -> None:
    """Starting at orbit midnight the wings sit at the closed form; over a day every eclipse
    temperature stays inside the closed forms of the attitudes a tracking wing passes through
    in eclipse (cells up to 66° from nadir at β = 0), and by the next midnight it is back
    within 2.5 K of the nadir value."""
    cfg = variant(ai1, **{"orbit.initial_phase_deg": 180.0})
    sc = Spacecraft(cfg)
    nadir = _eclipse_equilibrium_k(0.0)
    assert sc.truth()["eclipse"]
    for t in sc.truth()["wing_temp_k"]:
        assert t == pytest.approx(nadir, rel=1e-12), f"t=0 at midnight: {t} K, closed {nadir}"
    lowest = _eclipse_equilibrium_k(eclipse_half_angle_rad(600.0, 0.0))  # at the edge
    period = orbital_period_s(600.0)
    eclipse_temps = []
    midnights = []
    for _ in range(1, round(86400.0 / 5.0)):
        sc.step(5.0)
        tr = sc.truth()
        if tr["eclipse"]:
            eclipse_temps.extend(tr["wing_temp_k"])
        if abs((sc.time_s % period) - 0.0) < 2.5 or abs((sc.time_s % period) - period) < 2.5:
            midnights.extend(tr["wing_temp_k"])
    assert min(eclipse_temps) > lowest - 0.5, f"{min(eclipse_temps)} K < {lowest} K"
    assert max(abs(t - nadir) for t in midnights) < 2.5, (midnights, nadir)
    assert min(eclipse_temps) > 150.0


def test_sunrise_power_never_exceeds_the_rated_maximum(ai1: SpacecraftConfig) -> None:
    """Over a day the arrays never offer more than their nameplate, although at sunrise the
    cold cells' linear coefficient alone would give ~1.4x it."""
    sc = Spacecraft(ai1)
    rated = sum(w.rated_max_w for w in ai1.wings)
    w0 = ai1.wings[0]
    worst_unclamped = 0.0
    was_dark = sc.truth()["eclipse"]
    sunrises = 0
    for _ in range(round(86400.0 / 5.0)):
        sc.step(5.0)
        tr = sc.truth()
        assert tr["array_available_w"] <= rated * (1.0 + 1e-12), (tr["time_s"], tr)
        if was_dark and not tr["eclipse"]:
            sunrises += 1
            w = sc.read("wing.W1")
            assert w["available_power_w"] <= w0.rated_max_w * (1.0 + 1e-12)
            unclamped = array_mpp_power_w(
                w0.area_m2,
                w0.efficiency,
                SOLAR_CONSTANT_W_M2 * tr["illumination"],
                w["incidence_cos"],
                w["temp_k"],
                w0.reference_temp_k,
                w0.temp_coeff_per_k,
                w0.degradation_per_year,
                tr["time_s"] / (365.25 * 86400.0),
            )
            worst_unclamped = max(worst_unclamped, unclamped)
        was_dark = tr["eclipse"]
    assert sunrises >= 14
    assert worst_unclamped > 1.3 * w0.rated_max_w, "the clamp must have been needed"


@pytest.mark.parametrize("beta_deg", [0.0, 35.0, 60.0])
def test_a_run_starts_on_the_sun_and_settled(
    ai1: SpacecraftConfig, variant: Variant, beta_deg: float
) -> None:
    """t=0: the drive points at the Sun (incidence cos β), the wing temperature is the
    equilibrium of the start condition, and the first seconds change it by what the moving
    orbit moves the equilibrium (~0.01 K/s; it started at 300 K, ~0.8 K/s off, and slewed
    from 0° before)."""
    cfg = variant(ai1, **{"orbit.beta_deg": beta_deg, "orbit.initial_phase_deg": 30.0})
    sc = Spacecraft(cfg)
    w = sc.read("wing.W1")
    beta = math.radians(beta_deg)
    assert w["incidence_cos"] == pytest.approx(math.cos(beta), rel=1e-12)
    assert w["drive_angle_deg"] == pytest.approx(w["sun_angle_deg"], abs=1e-9)
    c = ai1.wings[0]
    env = wing_earth_absorbed_w_m2(
        600.0,
        wing_drive_normal_from_nadir_rad(w["drive_angle_deg"]),
        albedo_flux_w_m2(1.0, math.cos(beta) * math.cos(math.radians(30.0))),
        c.absorptivity,
        c.back_absorptivity,
        c.emissivity,
    )
    absorbed = c.absorptivity * SOLAR_CONSTANT_W_M2 * math.cos(beta) + env
    eq = wing_equilibrium_temp_k(absorbed, w["available_power_w"] / c.area_m2, c.emissivity)
    assert w["temp_k"] == pytest.approx(eq, abs=1e-9), f"{w['temp_k']} K, equilibrium {eq} K"
    assert w["available_power_w"] > 0.9 * math.cos(beta) * 0.7 * c.rated_max_w
    t0 = w["temp_k"]
    sc.run(10.0, 1.0)
    w = sc.read("wing.W1")
    assert w["incidence_cos"] == pytest.approx(math.cos(beta), rel=1e-9)
    assert abs(w["temp_k"] - t0) < 0.2, f"not settled: {t0} K -> {w['temp_k']} K in 10 s"


# --------------------------------------------------------------------------- PDU protection


def _run_until_tripped(sc: Spacecraft, switch: str, limit_s: float, dt: float = 1.0) -> float:
    while sc.time_s < limit_s:
        sc.step(dt)
        if sc.read_model("pdu").switches[switch].tripped:
            return sc.time_s
    raise AssertionError(f"{switch} did not trip by t={limit_s} s")


def test_seized_pump_trips_its_channel_at_the_closed_form_time(ai1: SpacecraftConfig) -> None:
    """A running pump seizes: its 2 kW stall current trips its PDU channel at
    τ·ln((x² − θ₀)/(x² − k²)) (θ₀: the image its healthy current left), within one step; the
    PDU shows the trip, the pump stops drawing, the loop's flow is gone."""
    sc = Spacecraft(ai1)
    sc.run(600.0, 1.0)
    prot = ai1.power_bus.protection
    rating = ai1.loops[0].pumps[0].channel_rating_a
    healthy = sc.read("pump.L1.A")
    v0 = sc.read_model("pdu").bus_voltage_v
    theta0 = (healthy["power_w"] / v0 / rating) ** 2
    assert 0.05 < theta0 < 1.0
    sc.inject_fault("pump_seizure", "pump.L1.A")
    stall = sc.read("pump.L1.A")
    assert stall["state"] == "seized" and stall["power_w"] == ai1.loops[0].pumps[0].max_power_w
    want = trip_time_s(
        stall["power_w"] / v0, rating, prot.time_constant_s, prot.pickup_factor, theta0
    )
    assert 10.0 < want < 60.0
    t_trip = _run_until_tripped(sc, "pump_L1_A", 700.0)
    lag = t_trip - (600.0 + want)  # the trip lands on the first step end after the closed form
    assert -0.05 <= lag <= 1.05, f"tripped at {t_trip} s, closed form {600.0 + want} s"
    sw = sc.read_model("pdu").switches["pump_L1_A"]
    assert (sw.on, sw.tripped, sw.trip_reason, sw.current_a) == (
        False,
        True,
        TripReason.OVERCURRENT,
        0.0,
    )
    assert sw.trip_time_s == pytest.approx(t_trip)
    wire = sc.registers("pdu")
    assert wire["pump_L1_A_trip_reason"] == "overcurrent" and wire["pump_L1_A_tripped"] is True
    sc.step(1.0)
    pump = sc.read("pump.L1.A")
    assert pump["power_w"] == 0.0 and pump["motor_current_a"] == 0.0, pump
    assert sc.read("loop.L1")["flow_kg_s"] == 0.0, "the loop must see its only pump stop"
    assert sc.read("loop.L2")["flow_kg_s"] > 0.0
    assert not any(s.tripped for n, s in sc.read_model("pdu").switches.items() if n != "pump_L1_A")


def test_switch_on_clears_a_trip_and_a_persisting_fault_trips_again(
    ai1: SpacecraftConfig,
) -> None:
    """switch_on re-closes the channel and clears the registers; the pump is still seized and
    running, so it trips again, sooner than from cold (the image kept its memory, cooling
    with τ while open). Stopped, the seized pump draws nothing and the channel holds."""
    sc = Spacecraft(ai1)
    sc.run(60.0, 1.0)
    prot = ai1.power_bus.protection
    k2 = prot.pickup_factor**2
    rating = ai1.loops[0].pumps[0].channel_rating_a
    sc.inject_fault("pump_seizure", "pump.L1.A")
    t_trip = _run_until_tripped(sc, "pump_L1_A", 200.0)
    sc.run(5.0, 1.0)
    sc.command("pdu", "switch_on", {"switch": "pump_L1_A"})
    r = sc.registers("pdu")
    assert r["pump_L1_A_on"] and not r["pump_L1_A_tripped"]
    assert r["pump_L1_A_trip_reason"] == "none" and r["pump_L1_A_trip_time_s"] == -1.0
    t_close = sc.time_s
    current = ai1.loops[0].pumps[0].max_power_w / sc.read_model("pdu").bus_voltage_v
    theta0 = k2 * math.exp(-(t_close - t_trip) / prot.time_constant_s)
    want = trip_time_s(current, rating, prot.time_constant_s, prot.pickup_factor, theta0)
    cold = trip_time_s(current, rating, prot.time_constant_s, prot.pickup_factor)
    t_again = _run_until_tripped(sc, "pump_L1_A", t_close + 120.0)
    assert want - 2.0 <= t_again - t_close <= want + 1.1, (t_again - t_close, want)
    assert t_again - t_close < cold - 1.0
    # stop the seized pump: the channel re-closes for good
    sc.command("pump.L1.A", "stop", {})
    sc.command("pdu", "switch_on", {"switch": "pump_L1_A"})
    sc.run(300.0, 1.0)
    sw = sc.read_model("pdu").switches["pump_L1_A"]
    assert sw.on and not sw.tripped and sw.current_a == 0.0


def test_healthy_pump_at_max_speed_never_trips_over_a_day(
    ai1: SpacecraftConfig, variant: Variant
) -> None:
    """A healthy pump at its maximum speed runs a day on a closed channel (through eclipses:
    the bus voltage sags); the same current on a channel rated below it trips, so the
    protection is watching."""
    pump = ai1.loops[0].pumps[0]
    sc = Spacecraft(ai1)
    sc.command("pump.L1.A", "set_speed_rpm", {"speed_rpm": pump.max_speed_rpm})
    worst = 0.0
    for _ in range(96):
        sc.run(900.0, 1.0)
        r = sc.read("pump.L1.A")
        worst = max(worst, r["motor_current_a"])
    pdu = sc.read_model("pdu")
    assert not any(s.tripped for s in pdu.switches.values())
    assert pdu.switches["pump_L1_A"].on and pdu.switches["pump_L1_A"].current_a > 0.0
    assert worst / pump.channel_rating_a < ai1.power_bus.protection.pickup_factor
    assert worst / pump.channel_rating_a > 0.5, f"max speed should load the channel: {worst} A"
    # the same pump on a channel rated at 80 % of what it draws trips
    low = variant(ai1, **{"loops.0.pumps.0.channel_rating_a": 0.8 * worst / 1.1})
    sc = Spacecraft(low)
    sc.command("pump.L1.A", "set_speed_rpm", {"speed_rpm": pump.max_speed_rpm})
    _run_until_tripped(sc, "pump_L1_A", 3600.0)
