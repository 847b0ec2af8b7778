"""Off the healthy path (issue 8): pressure-driven leak and its ledger, PDU trip curve, ADC
grid, counter-based noise, J2 precession; each against its closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hwsim.config import default_config
from hwsim.model.constants import OBLIQUITY_RAD, SUN_MEAN_MOTION_RAD_S
from hwsim.model.fluid import (
    leak_empty_time_s,
    leak_inventory_closed_form_kg,
    leak_inventory_step_kg,
    leak_rate_constant,
    loop_pressure_pa,
    lost_coolant_enthalpy_w,
    operating_flow_kg_s,
    orifice_area_for_flow_m2,
    orifice_flow_kg_s,
    pump_electrical_power_w,
    system_pressure_drop_kpa,
)
from hwsim.model.noise import sample_tick, sensor_noise_k, sensor_noise_scalar_k
from hwsim.model.orbit import (
    beta_critical_deg,
    beta_from_geometry_deg,
    eclipse_duration_s,
    nodal_precession_rad_s,
    raan_rad,
    sun_ecliptic_longitude_rad,
    sun_right_ascension_rad,
    sun_synchronous_inclination_deg,
)
from hwsim.model.protection import overcurrent_image_step, overcurrent_tripped, trip_time_s
from hwsim.model.sensors import (
    SENSOR_DEAD,
    SENSOR_DRIFT,
    SENSOR_NOISY,
    SENSOR_OK,
    SENSOR_STUCK,
    adc_counts,
    adc_full_scale_k,
    adc_quantise_k,
    radiator_sensor_reading_k,
)
from hwsim.model.thermal import (
    parasitic_equilibrium_temp_k,
    parasitic_heat_flow_w,
    parasitic_node_step_k,
)

DAY_S = 86400.0

# ---------------------------------------------------------------------------------- leak

_LOOP = default_config().loops[0]
_RHO, _CP = _LOOP.rho_kg_m3, _LOOP.cp_j_per_kg_k
_M0, _P0 = _LOOP.inventory_kg, _LOOP.nominal_pressure_kpa * 1e3
_CD = _LOOP.leak_discharge_coefficient
_HOLE_M2 = 1.0e-6  # a 1 mm² micrometeoroid hole


def test_orifice_flow_and_its_inverse() -> None:
    f = orifice_flow_kg_s(0.61, 1e-6, 1060.0, 200e3)
    assert f == pytest.approx(0.61 * 1e-6 * math.sqrt(2 * 1060.0 * 200e3), rel=1e-15)
    assert orifice_area_for_flow_m2(f, 0.61, 1060.0, 200e3) == pytest.approx(1e-6, rel=1e-14)
    assert orifice_flow_kg_s(0.61, 1e-6, 1060.0, 0.0) == 0.0


def test_pressure_and_inventory_reach_zero_together() -> None:
    assert loop_pressure_pa(_M0, _M0, _P0) == _P0
    assert loop_pressure_pa(0.5 * _M0, _M0, _P0) == pytest.approx(0.5 * _P0)
    assert loop_pressure_pa(0.0, _M0, _P0) == 0.0
    k = leak_rate_constant(_CD, _HOLE_M2, _RHO, _M0, _P0)
    t_empty = leak_empty_time_s(_M0, k)
    m = _M0
    t = 0.0
    while m > 0.0:
        m = leak_inventory_step_kg(m, 10.0, k)
        t += 10.0
        assert m >= 0.0
        p = loop_pressure_pa(m, _M0, _P0)
        assert p >= 0.0 and (p == 0.0) == (m == 0.0), f"t={t}: m={m} kg but P={p} Pa"
    assert t_empty <= t < t_empty + 10.0, f"empty at {t} s, closed form {t_empty} s"


@pytest.mark.parametrize("dt_s", [0.5, 10.0, 60.0, 997.0])
def test_stepped_leak_follows_the_closed_form(dt_s: float) -> None:
    k = leak_rate_constant(_CD, _HOLE_M2, _RHO, _M0, _P0)
    assert k == pytest.approx(_CD * _HOLE_M2 * math.sqrt(2 * _RHO * _P0 / _M0), rel=1e-15)
    m, t = _M0, 0.0
    end = 1.2 * leak_empty_time_s(_M0, k)
    while t < end:
        m = leak_inventory_step_kg(m, dt_s, k)
        t += dt_s
        exact = leak_inventory_closed_form_kg(_M0, t, k)
        assert m >= 0.0
        assert m == pytest.approx(exact, rel=1e-9, abs=1e-9), f"t={t}: {m} vs {exact} kg"
    assert m == 0.0


def test_leak_step_derivative_is_the_orifice_flow_at_the_loop_pressure() -> None:
    # dm/dt of the step at m equals −C_d·A·√(2ρ·P(m)) for every accumulator exponent
    for n in (0.5, 1.0, 2.0, 3.0):
        k = leak_rate_constant(_CD, _HOLE_M2, _RHO, _M0, _P0, n)
        for m in (150.0, 90.0, 3.0):
            dt = 1e-3
            rate = (m - leak_inventory_step_kg(m, dt, k, n)) / dt
            flow = orifice_flow_kg_s(_CD, _HOLE_M2, _RHO, loop_pressure_pa(m, _M0, _P0, n))
            assert rate == pytest.approx(flow, rel=1e-5), f"n={n} m={m}: {rate} vs {flow}"


def test_leak_ledger_closes_over_a_day() -> None:
    """A small loop (one coolant node plus its dry hardware) with 3 kW of pump and board heat,
    a radiator and the parasitic paths, leaking through a 1 mm² hole: over a day
    in − out − Δstored − enthalpy lost closes within 0.01 % of what went in."""
    t_ref, ts = 273.15, 290.0
    hardware_j_per_k = 2.0e4  # pipes, pump and plates: what is left when the loop is dry
    q_in = 3000.0
    area = 4.0  # a two-sided 2 m² panel
    g_struct = 3.0
    k = leak_rate_constant(_CD, _HOLE_M2, _RHO, _M0, _P0)
    m, temp = _M0, 300.0
    stored0 = (m * _CP + hardware_j_per_k) * (temp - t_ref)
    e_in = e_out = e_lost = 0.0
    dt = 10.0
    for _ in range(int(DAY_S / dt)):
        # the leak: mass leaves at the node temperature over the step
        m_new = leak_inventory_step_kg(m, dt, k)
        flow = (m - m_new) / dt
        e_lost += lost_coolant_enthalpy_w(flow, _CP, temp, t_ref) * dt
        m = m_new
        # the thermal step with what remains (backward Euler with the parasitic paths)
        c = m * _CP + hardware_j_per_k
        temp_new = parasitic_node_step_k(temp, c, dt, q_in, g_struct, ts, 0.875, area, 3.0)
        e_in += q_in * dt
        e_out += parasitic_heat_flow_w(temp_new, g_struct, ts, 0.875, area, 3.0) * dt
        temp = temp_new
    stored = (m * _CP + hardware_j_per_k) * (temp - t_ref)
    assert m == 0.0, "the loop should be empty within the day"
    assert e_lost > 0.01 * e_in, "the lost enthalpy should matter to the ledger"
    imbalance = e_in - e_out - (stored - stored0) - e_lost
    assert abs(imbalance) < 1e-4 * e_in, f"ledger off by {imbalance} J of {e_in} J"
    # without the lost enthalpy it does not close: the term is needed
    assert abs(imbalance + e_lost) > 1e-3 * e_in
    # dry, the node settles where its radiator and structure take the 3 kW
    assert temp == pytest.approx(
        parasitic_equilibrium_temp_k(q_in, g_struct, ts, 0.875, area, 3.0), abs=1e-6
    )


# ----------------------------------------------------------------------------- protection


@pytest.mark.parametrize("multiple", [2.0, 5.0])
def test_stepped_channel_trips_at_the_closed_form_time(multiple: float) -> None:
    rated, tau, k, dt = 4.5, 10.0, 1.1, 0.01
    t_trip = trip_time_s(multiple * rated, rated, tau, k)
    assert t_trip == pytest.approx(tau * math.log(multiple**2 / (multiple**2 - k * k)), rel=1e-14)
    image, t = 0.0, 0.0
    while not overcurrent_tripped(image, k):
        image = overcurrent_image_step(image, multiple * rated, rated, dt, tau)
        t += dt
        assert t < 100.0
    assert t_trip <= t + 1e-9 < t_trip + dt + 1e-9, f"tripped at {t} s, closed form {t_trip} s"


def test_below_the_pickup_never_trips_and_the_image_cools() -> None:
    rated, tau, k = 4.5, 10.0, 1.1
    assert trip_time_s(rated * 1.09, rated, tau, k) == math.inf
    image = 0.0
    for _ in range(int(DAY_S)):
        image = overcurrent_image_step(image, 1.09 * rated, rated, 1.0, tau)
        assert not overcurrent_tripped(image, k)
    # an overload that stops short of the trip, then a rest below the rating: it cools
    image = 0.0
    for _ in range(3):
        image = overcurrent_image_step(image, 2.0 * rated, rated, 1.0, tau)
    warm = image
    assert trip_time_s(2.0 * rated, rated, tau, k, warm) < trip_time_s(2.0 * rated, rated, tau, k)
    for _ in range(100):
        image = overcurrent_image_step(image, 0.5 * rated, rated, 1.0, tau)
    assert image == pytest.approx(0.25, abs=1e-3), f"image {image} did not relax to (I/I_r)²"


def test_seized_pump_trips_its_channel_and_a_healthy_pump_never_does() -> None:
    cfg = default_config()
    prot = cfg.power_bus.protection
    lp = cfg.loops[0]
    pump = lp.pumps[0]
    v_bus = cfg.power_bus.nominal_voltage_v
    # a seized pump draws its stall power (max_power_w, the model's stall) from the bus
    t_stall = trip_time_s(
        pump.max_power_w / v_bus, pump.channel_rating_a, prot.time_constant_s, prot.pickup_factor
    )
    assert 10.0 < t_stall < 20.0, f"seized pump trips in {t_stall} s (documented ~14 s)"
    # the healthiest pump at its hardest: both pumps at max speed, at the empty-battery voltage
    k_sys = lp.pressure_drop_at_design_flow_kpa / lp.design_flow_kg_s**2
    b = cfg.battery
    v_min = b.cells_in_series * b.cell_voltage_empty_v
    for n_running in (1, 2):
        flow = operating_flow_kg_s(1.0, n_running, pump.max_pressure_kpa, pump.max_flow_kg_s, k_sys)
        p_w = pump_electrical_power_w(
            flow / n_running,
            system_pressure_drop_kpa(flow, k_sys),
            lp.rho_kg_m3,
            pump.efficiency,
            pump.idle_power_w,
            pump.max_power_w,
        )
        assert p_w < pump.max_power_w
        t = trip_time_s(
            p_w / v_min, pump.channel_rating_a, prot.time_constant_s, prot.pickup_factor
        )
        assert t == math.inf, f"{n_running} pump(s) at {p_w:.0f} W / {v_min} V would trip"


# ---------------------------------------------------------------------------------- ADC


def _on_grid(values: np.ndarray, lsb: float) -> bool:
    return bool(np.all(np.abs(values / lsb - np.rint(values / lsb)) < 1e-6))


def test_adc_counts_and_range_clamp() -> None:
    assert adc_full_scale_k(0.1, 12) == pytest.approx(409.5)
    assert adc_counts(np.array([300.04, 300.06, -5.0, 1e4]), 0.1).tolist() == [3000, 3001, 0, 4095]
    q = adc_quantise_k(np.array([300.04, -5.0, 1e4]), 0.1)
    assert q.tolist() == [300.0, 0.0, 409.5]
    # LSB 0 (no quantisation configured) passes the value, clamped at 0
    assert adc_quantise_k(np.array([300.04, -1.0]), np.array([0.0, 0.0])).tolist() == [300.04, 0.0]


def test_every_faulty_reading_is_on_the_adc_grid() -> None:
    n = 5000
    lsb = 0.1
    rng = np.random.default_rng(3)
    modes = np.resize(
        np.array([SENSOR_OK, SENSOR_STUCK, SENSOR_DRIFT, SENSOR_NOISY, SENSOR_DEAD]), n
    )
    true = 250.0 + 100.0 * rng.random(n)
    noise = sensor_noise_k(7, np.arange(n), 42, 0.2)
    extra = sensor_noise_k(8, np.arange(n), 42, 3.0)
    drift = 1e-3 * rng.random(n) * 3600.0
    stuck = 250.0 + 100.0 * rng.random(n)  # a stuck sensor holds an arbitrary analogue value
    r = radiator_sensor_reading_k(
        modes, true, np.full(n, 0.3), noise, extra, drift, stuck, np.full(n, lsb)
    )
    for mode in (SENSOR_OK, SENSOR_STUCK, SENSOR_DRIFT, SENSOR_NOISY, SENSOR_DEAD):
        sel = r[modes == mode]
        assert _on_grid(sel, lsb), f"mode {mode}: readings off the {lsb} K grid: {sel[:5]}"
    assert np.all(r[modes == SENSOR_DEAD] == 0.0)
    stuck_sel = modes == SENSOR_STUCK
    assert np.all(np.abs(r[stuck_sel] - stuck[stuck_sel]) <= lsb / 2 + 1e-9)
    drift_sel = modes == SENSOR_DRIFT
    expect = true + 0.3 + noise + drift
    assert np.all(np.abs(r[drift_sel] - expect[drift_sel]) <= lsb / 2 + 1e-9)


# ---------------------------------------------------------------------------------- noise


def test_noise_is_a_pure_function_of_seed_sensor_and_tick() -> None:
    idx = np.arange(64)
    a = sensor_noise_k(12345, idx, 1000, 0.2)
    for _ in range(3):  # repeated calls, other streams in between
        sensor_noise_k(999, idx, 7, 1.0)
        assert np.array_equal(sensor_noise_k(12345, idx, 1000, 0.2), a)
    perm = np.random.default_rng(0).permutation(64)
    assert np.array_equal(sensor_noise_k(12345, idx[perm], 1000, 0.2), a[perm])
    one = [sensor_noise_k(12345, int(i), 1000, 0.2)[0] for i in idx[::-1]]
    assert np.array_equal(np.array(one[::-1]), a)
    scalar = np.array([sensor_noise_scalar_k(12345, int(i), 1000, 0.2) for i in idx])
    assert np.allclose(scalar, a, rtol=1e-14, atol=1e-15)
    assert not np.array_equal(sensor_noise_k(12346, idx, 1000, 0.2), a), "seed must matter"
    assert not np.array_equal(sensor_noise_k(12345, idx, 1001, 0.2), a), "tick must matter"
    assert sample_tick(2_500_000_000, 1_000_000_000) == 2


@pytest.mark.parametrize("axis", ["sensors", "ticks"])
def test_noise_mean_std_and_independence(axis: str) -> None:
    n, sigma = 100_000, 0.2
    if axis == "sensors":
        x = sensor_noise_k(2024, np.arange(n), 77, sigma)
    else:
        x = sensor_noise_k(2024, 3, np.arange(n), sigma)
    z = x / sigma
    # 5-sigma bounds of the sampling distributions: mean ~ N(0, 1/n), var ~ N(1, 2/n)
    assert abs(z.mean()) < 5.0 / math.sqrt(n), f"mean {z.mean()}"
    assert abs(z.var() - 1.0) < 5.0 * math.sqrt(2.0 / n), f"variance {z.var()}"
    # neighbours (adjacent sensors or ticks) uncorrelated: r ~ N(0, 1/n)
    r = float(np.corrcoef(z[:-1], z[1:])[0, 1])
    assert abs(r) < 5.0 / math.sqrt(n), f"lag-1 correlation {r}"
    # gaussian shape: the fraction within ±1σ
    p = 0.682689492
    inside = float(np.mean(np.abs(z) < 1.0))
    assert abs(inside - p) < 5.0 * math.sqrt(p * (1 - p) / n), f"within 1σ: {inside}"
    # the cross stream: sensor s at tick t against sensor s+1 at tick t
    a = sensor_noise_k(2024, np.arange(n), 78, 1.0)
    b = sensor_noise_k(2024, np.arange(n) + 1, 78, 1.0)
    assert abs(float(np.corrcoef(a, b)[0, 1])) < 5.0 / math.sqrt(n)


# ------------------------------------------------------------------------------------- J2


def test_nodal_precession_closed_forms() -> None:
    iss = math.degrees(nodal_precession_rad_s(400.0, 51.6)) * DAY_S
    assert iss == pytest.approx(-5.0, abs=0.1), f"ISS-like orbit precesses {iss}°/day"
    ai1 = math.degrees(nodal_precession_rad_s(600.0, 53.0)) * DAY_S
    assert ai1 == pytest.approx(-4.4, abs=0.05), f"AI1 orbit precesses {ai1}°/day"
    assert nodal_precession_rad_s(600.0, 90.0) == pytest.approx(0.0, abs=1e-20)
    i_sso = sun_synchronous_inclination_deg(600.0)
    assert i_sso == pytest.approx(97.8, abs=0.05), f"SSO inclination {i_sso}°"
    rate = math.degrees(nodal_precession_rad_s(600.0, i_sso)) * DAY_S
    assert rate == pytest.approx(0.9856, abs=1e-4), f"SSO precesses {rate}°/day"


def test_sun_longitude_model() -> None:
    # J2000.0: λ ≈ 280.46° + 1.915°·sin(357.5°) ≈ 280.4°;
    # March equinox 2000-03-20 07:35 UT = day 78.816
    assert math.degrees(sun_ecliptic_longitude_rad(0.0)) == pytest.approx(280.38, abs=0.02)
    assert math.degrees(sun_ecliptic_longitude_rad(78.816)) % 360.0 == pytest.approx(0.0, abs=0.1)
    assert math.degrees(sun_right_ascension_rad(math.pi / 2)) == pytest.approx(90.0, abs=1e-9)


def test_sun_synchronous_orbit_keeps_its_node_on_the_sun() -> None:
    """An SSO's node follows the mean Sun exactly, and the true Sun to within the equation of
    time. Its β is constant only without the obliquity (the Sun in the equator); with it, a
    dawn-dusk 600 km SSO's β swings with the Sun's declination: ~59° at the June solstice
    (the orbit normal sits 7.8° south), near 90° when the declination passes −7.8°, and
    REFERENCE.md's eclipse season: eclipses up to ~20 min on ~90 days a year."""
    alt = 600.0
    inc = sun_synchronous_inclination_deg(alt)
    rate = nodal_precession_rad_s(alt, inc)
    assert rate == pytest.approx(SUN_MEAN_MOTION_RAD_S, rel=1e-12)
    lam0 = sun_ecliptic_longitude_rad(0.0)
    raan0 = sun_right_ascension_rad(lam0) + math.pi / 2  # dawn-dusk: node 6 h from the Sun
    betas_flat, betas, node_offsets = [], [], []
    for day in range(365):
        t = day * DAY_S
        om = raan_rad(t, raan0, rate)
        lam = sun_ecliptic_longitude_rad(day)
        lam_mean = lam0 + SUN_MEAN_MOTION_RAD_S * t
        betas_flat.append(beta_from_geometry_deg(om, inc, lam_mean, obliquity_rad=0.0))
        betas.append(beta_from_geometry_deg(om, inc, lam))
        off = math.remainder(om - sun_right_ascension_rad(lam) - math.pi / 2, 2 * math.pi)
        node_offsets.append(math.degrees(off))
    # by construction: the node tracks the mean Sun, so with the Sun in the equator β is fixed
    spread_flat = max(betas_flat) - min(betas_flat)
    assert spread_flat < 1e-6, f"β drifts by {spread_flat}° with the Sun in the equator"
    # the equation of time spans −14.2…+16.4 min over a year: 7.65° of right ascension
    spread = max(node_offsets) - min(node_offsets)
    assert 5.0 < spread < 7.8, f"node-to-Sun angle spreads over {spread}°"
    assert 85.0 < max(betas) <= 90.0 and 58.0 < min(betas) < 60.5, f"β {min(betas)}..{max(betas)}"
    durations = [eclipse_duration_s(alt, b) for b in betas]
    eclipse_days = sum(1 for d in durations if d > 0.0)
    assert 80 <= eclipse_days <= 110, f"{eclipse_days} days with eclipses"
    assert max(durations) / 60.0 == pytest.approx(20.0, abs=1.5)


def test_inclined_orbit_beta_sweeps_and_eclipse_seasons_come_and_go() -> None:
    alt, inc = 600.0, 53.0
    rate = nodal_precession_rad_s(alt, inc)
    betas = []
    for day in range(366):
        t = day * DAY_S
        betas.append(
            beta_from_geometry_deg(raan_rad(t, 0.0, rate), inc, sun_ecliptic_longitude_rad(day))
        )
    bound = inc + math.degrees(OBLIQUITY_RAD)
    assert max(abs(b) for b in betas) <= bound + 1e-9
    assert max(abs(b) for b in betas) > 70.0, "β should reach close to i + ε over a year"
    assert min(betas) < -60.0 < 60.0 < max(betas), f"β {min(betas)}..{max(betas)}"
    durations = [eclipse_duration_s(alt, b) for b in betas]
    no_eclipse = [d for d, x in enumerate(durations) if x == 0.0]
    assert no_eclipse, "a 53° orbit has eclipse-free days (|β| > β*)"
    assert max(durations) > 0.99 * eclipse_duration_s(alt, 0.0)
    # the seasons come and go: several separate eclipse-free spells in a year
    spells = sum(1 for d in range(1, 366) if durations[d] == 0.0 and durations[d - 1] > 0.0)
    assert spells >= 4, f"{spells} eclipse-free seasons in a year"
    assert beta_critical_deg(alt) == pytest.approx(66.1, abs=0.05)
