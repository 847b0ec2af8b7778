"""Every inlined copy of a pure physics function in hwsim/subsystems equals the function.

The subsystems' steps inline the pure functions of hwsim/model (orbit, solar, power) for speed.
Each test runs the subsystem's step over a spread of inputs and compares, bit for bit, with the
pure function it copies.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from hwsim.config import SpacecraftConfig
from hwsim.model.constants import SECONDS_PER_YEAR, SIGMA_W_M2_K4, SOLAR_CONSTANT_W_M2
from hwsim.model.orbit import in_saa_box, subsatellite_lat_lon_deg
from hwsim.model.power import battery_soc_step, battery_terminal_voltage_v, cell_ocv_v
from hwsim.model.solar import (
    array_mpp_power_w,
    array_power_limited_w,
    drive_angle_step_deg,
    incidence_cosine,
    mppt_output_power_w,
    sun_angle_in_drive_plane_deg,
    wing_drive_normal_from_nadir_rad,
    wing_earth_absorbed_w_m2,
    wing_temp_step_k,
)
from hwsim.model.thermal import (
    albedo_flux_w_m2,
    board_die_decay,
    board_die_temp_step_k,
    coolant_network_matrix,
    hx_conductance_w_per_k,
    implicit_network_operator,
    network_step_k,
    parasitic_heat_flow_w,
    radiation_step_inplace_k,
    radiation_step_k,
)
from hwsim.subsystems.loops import Loops
from hwsim.subsystems.orbit_env import OrbitEnv
from hwsim.subsystems.power_bus import PowerBus
from hwsim.subsystems.radiators import Radiators
from hwsim.subsystems.thermal_network import ThermalNetwork
from hwsim.subsystems.wings import Wings

_RNG = np.random.default_rng(20240808)


def test_orbit_step_equals_pure_functions(ai1: SpacecraftConfig, variant) -> None:
    """OrbitEnv.step (inlined) vs OrbitEnv.update (the pure functions), over β, inclination,
    penumbra and a wide, irregular spread of times (both sides of every shadow edge)."""
    cases = itertools.product((0.0, 35.0, 60.0, 75.0), (0.0, 51.6, 97.8), (False, True))
    saa_hits = eclipses = 0
    for beta, incl, penumbra in cases:
        cfg = variant(
            ai1,
            **{"orbit.beta_deg": beta, "orbit.inclination_deg": incl, "orbit.penumbra": penumbra},
        )
        fast, pure = OrbitEnv(cfg.orbit), OrbitEnv(cfg.orbit)
        for t in np.concatenate([_RNG.uniform(0.0, 4.0e6, 400), np.arange(0.0, 6000.0, 7.3)]):
            t = float(t)
            fast.step(t)
            pure.update(t)
            got = (fast.phase_rad, fast.illumination, fast.in_saa, fast.cos_phase)
            want = (pure.phase_rad, pure.illumination, pure.in_saa, math.cos(pure.phase_rad))
            assert got == want, f"β={beta} i={incl} penumbra={penumbra} t={t}: {got} != {want}"
            # the ground track the step computes equals subsatellite_lat_lon_deg
            lat_lon = subsatellite_lat_lon_deg(
                t, pure.phase_rad + pure.noon_argl_rad, pure.incl_rad, pure.node_lon_rad
            )
            assert fast.lat_lon_deg() == lat_lon, f"t={t}: {fast.lat_lon_deg()} != {lat_lon}"
            assert fast.in_saa == in_saa_box(*lat_lon, *pure.saa_box)
            saa_hits += fast.in_saa
            eclipses += fast.illumination < 1.0
    assert saa_hits > 10 and eclipses > 100, (
        f"the spread must cover the SAA and the shadow: {saa_hits} SAA, {eclipses} eclipse"
    )


def test_orbit_step_with_j2_beta_equals_pure_functions(ai1: SpacecraftConfig, variant) -> None:
    """beta_mode 'j2': the step (which re-evaluates β only on leaving its 600 s grid cell)
    and update (every call) agree at any time order, and hold the grid point's geometry."""
    cfg = variant(ai1, **{"orbit.beta_mode": "j2", "orbit.raan_deg": 123.0})
    fast, pure = OrbitEnv(cfg.orbit), OrbitEnv(cfg.orbit)
    times = np.concatenate([_RNG.uniform(0.0, 3.2e7, 300), np.arange(0.0, 7200.0, 9.7)])
    betas = set()
    for t in times:
        t = float(t)
        fast.step(t)
        pure.update(t)
        got = (fast.beta_rad, fast.raan_rad, fast.illumination, fast.in_saa, fast.lat_lon_deg())
        want = (pure.beta_rad, pure.raan_rad, pure.illumination, pure.in_saa, pure.lat_lon_deg())
        assert got == want, f"t={t}: {got} != {want}"
        grid = OrbitEnv(cfg.orbit)
        grid.update(math.floor(t / 600.0) * 600.0)
        assert fast.beta_rad == grid.beta_rad, f"t={t}: β is not the grid point's"
        betas.add(round(math.degrees(fast.beta_rad)))
    assert len(betas) > 50, f"the times must spread over the year's β: {sorted(betas)}"


def test_wing_step_equals_pure_functions(ai1: SpacecraftConfig) -> None:
    """Wings.step vs drive_angle_step_deg, incidence_cosine, array_mpp_power_w,
    array_power_limited_w, mppt_output_power_w, wing_earth_absorbed_w_m2 (Earth view factors
    and albedo flux) and wing_temp_step_k, wing by wing, over random states and inputs
    (tracking or commanded, stuck, MPPT on/off/failed, sunlit/eclipse, cold wings at the
    rated clamp, every drive angle, a range of dt). The drive, incidence and power are bit
    for bit; the Earth terms, computed for both faces at once, to rounding (1e-12)."""
    alt = ai1.orbit.altitude_km
    wings = Wings(ai1.wings, alt)
    n = len(ai1.wings)
    lit = dark = clamped = partial_view = 0
    for _ in range(3000):
        # a random state
        for i in range(n):
            wings.angle_deg[i] = float(_RNG.uniform(0.0, 360.0))
            wings.target_deg[i] = float(_RNG.uniform(0.0, 360.0))
            wings.tracking[i] = bool(_RNG.random() < 0.7)
            wings.stuck[i] = bool(_RNG.random() < 0.1)
            wings.mppt_on[i] = bool(_RNG.random() < 0.8)
            wings.mppt_failed[i] = bool(_RNG.random() < 0.1)
            wings.temp_k[i] = float(_RNG.uniform(120.0, 400.0))
            wings.power_w[i] = float(_RNG.uniform(0.0, 5.0e4))
        if _RNG.random() < 0.3:  # both wings at one angle (the step reuses the view factors)
            wings.angle_deg[1] = wings.angle_deg[0]
        before = (
            list(wings.angle_deg),
            list(wings.temp_k),
            list(wings.power_w),
        )
        dt = float(_RNG.choice([0.01, 0.1, 1.0, 5.0, 30.0]))
        t = float(_RNG.uniform(0.0, 5.0 * SECONDS_PER_YEAR))
        phase = float(_RNG.uniform(0.0, 2.0 * math.pi))
        illum = float(_RNG.choice([0.0, 1.0, _RNG.uniform(0.0, 1.0)]))
        beta = float(_RNG.uniform(-1.3, 1.3))
        wings.step(dt, t, phase, illum, math.cos(beta), math.cos(phase))
        sun = sun_angle_in_drive_plane_deg(phase)
        irr = SOLAR_CONSTANT_W_M2 * illum
        albedo = albedo_flux_w_m2(illum, math.cos(beta) * math.cos(phase))
        for i, w in enumerate(ai1.wings):
            angle0, temp0, power0 = before[0][i], before[1][i], before[2][i]
            if wings.stuck[i]:
                angle = angle0
            else:
                target = sun if wings.tracking[i] else wings.target_deg[i]
                angle = drive_angle_step_deg(angle0, target, w.array_drive.max_rate_deg_s, dt)
            assert wings.angle_deg[i] == angle, f"wing {i} angle {wings.angle_deg[i]} != {angle}"
            cos_i = incidence_cosine(sun, angle, beta) if irr > 0 else 0.0
            assert wings.incidence_cos[i] == cos_i, f"wing {i} cos {wings.incidence_cos[i]}"
            mpp = array_mpp_power_w(
                w.area_m2,
                w.efficiency,
                irr,
                cos_i,
                temp0,
                w.reference_temp_k,
                w.temp_coeff_per_k,
                w.degradation_per_year,
                t / SECONDS_PER_YEAR,
            )
            limited = array_power_limited_w(mpp, w.rated_max_w)
            clamped += limited < mpp
            active = wings.mppt_on[i] and not wings.mppt_failed[i]
            avail = mppt_output_power_w(limited, active, w.mppt.off_mpp_fraction) if cos_i else 0.0
            assert wings.available_w[i] == avail, (
                f"wing {i} avail {wings.available_w[i]} != {avail}"
            )
            normal = wing_drive_normal_from_nadir_rad(angle)
            env = wing_earth_absorbed_w_m2(
                alt, normal, albedo, w.absorptivity, w.back_absorptivity, w.emissivity
            )
            assert wings.earth_absorbed_w_m2[i] == pytest.approx(env, rel=1e-12, abs=1e-12), (
                f"wing {i} at {angle}°: Earth IR + albedo {wings.earth_absorbed_w_m2[i]!r} "
                f"!= {env!r}"
            )
            temp = wing_temp_step_k(
                temp0,
                dt,
                w.area_m2,
                w.absorptivity * irr * cos_i + env,
                power0,
                w.emissivity,
                w.thermal_mass_j_per_k,
            )
            assert wings.temp_k[i] == pytest.approx(temp, rel=1e-13), (
                f"wing {i} temp {wings.temp_k[i]!r} != {temp!r}"
            )
            lit += avail > 0.0
            dark += avail == 0.0
            partial_view += 0.45 < normal < math.pi - 0.45  # both faces see part of the Earth
    assert lit > 1000 and dark > 1000, f"spread must cover lit and dark arrays: {lit}, {dark}"
    assert clamped > 100, f"spread must reach the rated clamp (cold wings): {clamped}"
    assert partial_view > 1000, f"spread must cover tilted faces: {partial_view}"


def test_battery_step_equals_pure_functions(ai1: SpacecraftConfig) -> None:
    """PowerBus.step_battery vs battery_soc_step, cell_ocv_v and battery_terminal_voltage_v
    over SoC across every knee of the OCV curve, charge and discharge, failed cells and dt."""
    b = ai1.battery
    ledger = dict.fromkeys(("array_j", "load_j", "battery_stored_change_j", "battery_loss_j"), 0.0)
    bus = PowerBus(b, ai1.power_bus, [], [], [], ledger)
    charging = discharging = 0
    socs = np.concatenate([[0.0, 1e-9, 0.05, 0.1, 0.5, 0.9, 0.95, 1.0], _RNG.uniform(0, 1, 3000)])
    for soc0 in socs:
        bus.soc = float(soc0)
        bus.failed_cells = int(_RNG.integers(0, 5))
        bus.served_w = float(_RNG.uniform(0.0, 2.0e5))
        array_w = float(_RNG.choice([0.0, _RNG.uniform(0.0, 2.5e5)]))
        dt = float(_RNG.choice([0.1, 1.0, 10.0]))
        stored0 = ledger["battery_stored_change_j"]
        bus.step_battery(dt, array_w)
        batt_w = bus.power_w
        if array_w >= bus.served_w:  # charging from the surplus, within the limits
            headroom_w = max(0.0, (1.0 - soc0) * b.capacity_wh * 3600.0) / (
                b.charge_efficiency * dt
            )
            assert batt_w == -min(b.max_charge_power_w, array_w - bus.served_w, headroom_w)
            charging += 1
        else:
            assert batt_w == bus.served_w - array_w
            discharging += 1
        soc, d_stored, _ = battery_soc_step(
            float(soc0), batt_w, dt, b.capacity_wh, b.charge_efficiency, b.discharge_efficiency
        )
        soc = min(1.0, max(0.0, soc))
        assert bus.soc == soc, f"SoC {bus.soc!r} != {soc!r} (from {soc0}, {batt_w} W)"
        assert ledger["battery_stored_change_j"] - stored0 == pytest.approx(d_stored, abs=1e-6)
        ocv = (b.cells_in_series - bus.failed_cells) * cell_ocv_v(
            soc, b.cell_voltage_empty_v, b.cell_voltage_nominal_v, b.cell_voltage_full_v
        )
        r = b.internal_resistance_ohm
        current = (ocv - math.sqrt(max(ocv * ocv - 4.0 * r * batt_w, 0.0))) / (2.0 * r)
        assert bus.current_a == current, f"current {bus.current_a!r} != {current!r}"
        assert bus.voltage_v == battery_terminal_voltage_v(ocv, current, r)
        assert bus.current_a * bus.voltage_v == pytest.approx(batt_w, abs=1e-6), "P != I·V"
    assert charging > 500 and discharging > 500, f"{charging} charging, {discharging} discharging"


def test_radiator_emission_equals_pure_function(ai1: SpacecraftConfig) -> None:
    """Radiators.emit vs radiation_step_inplace_k (and radiation_step_k), over panel
    temperatures from 3 K to 600 K and steps from 0.01 s to 60 s; the energy it books is the
    panels' heat capacity times the temperature drops."""
    rad = Radiators(
        ai1.radiators,
        {lp.loop_id: i for i, lp in enumerate(ai1.loops)},
        600.0,
        0.0,
        0,
    )
    n = len(rad.panel_ids)
    for _ in range(2000):
        dt = float(_RNG.choice([0.01, 0.5, 1.0, 10.0, 60.0]))
        temps = _RNG.uniform(3.0, 600.0, n)
        rad.bind_temperatures(temps.copy())
        rad.set_step(dt)
        rad.emit()
        want = temps.copy()
        drop = radiation_step_inplace_k(want, rad.c_j_per_k / dt / rad.kemit_w_per_k4, np.empty(n))
        assert np.array_equal(rad.temp_k, want), f"dt={dt}: {rad.temp_k} != {want}"
        np.testing.assert_allclose(
            rad.temp_k, radiation_step_k(temps, rad.c_j_per_k / dt, rad.kemit_w_per_k4), rtol=1e-12
        )
        radiated = rad.radiated_j()
        assert radiated == pytest.approx(float(np.dot(rad.c_j_per_k, drop)), rel=1e-12)
        assert radiated > 0.0


def _network(cfg: SpacecraftConfig, n_dies: int, n_classes: int):
    """A thermal network of ``cfg`` with ``n_dies`` dies of ``n_classes`` distinct time
    constants spread over the plates; the loops running at a spread of flows."""
    loops = Loops(cfg.loops)
    loops.flow_kg_s[:] = _RNG.uniform(0.5, 3.0, len(cfg.loops))
    loops.pump_heat_w[:] = _RNG.uniform(0.0, 500.0, len(cfg.loops))
    rad = Radiators(cfg.radiators, loops.loop_index, 600.0, 0.3, 0)
    net = ThermalNetwork(cfg.cold_plates, loops, rad, np.array([300.0] * len(cfg.loops)))
    n_p = len(cfg.cold_plates)
    plate = np.arange(n_dies) % n_p
    die_r = 0.02 + 0.01 * (np.arange(n_dies) % n_classes)
    die_c = np.full(n_dies, 800.0)
    die_vec = np.ones(n_dies)
    die_vec[::7] = 0.0  # plug-in boards: stepped by themselves, not by the network
    net.bind_dies(plate, _RNG.uniform(290.0, 330.0, n_dies))
    return loops, rad, net, plate, die_r, die_c, die_vec


def test_network_step_equals_pure_functions(ai1: SpacecraftConfig) -> None:
    """ThermalNetwork.step (the dies folded into one product A·z, by class or as a vector)
    vs the pure functions it assembles: network_step_k for the plates, legs and panels (with
    pump heat, absorbed environment and plug-in heat), each plate receiving its boards' power
    minus what their dies store while stepping toward the new plate temperature (the die
    exchange implicit in the plate: w = C/dt·(1 − e^(−dt/RC)) on its diagonal), then
    board_die_temp_step_k for every die against its new plate and radiation_step_k for the
    panels."""
    for n_dies, n_classes in ((150, 3), (40, 40)):  # carried by class / stepped as a vector
        loops, rad, net, plate, die_r, die_c, die_vec = _network(ai1, n_dies, n_classes)
        n_p, n_l = len(ai1.cold_plates), len(ai1.loops)
        dt = 1.0
        for k in range(40):
            if k % 10 == 0:
                dt = float(_RNG.choice([0.5, 1.0, 5.0]))
            power = _RNG.uniform(0.0, 1500.0, n_dies) * (_RNG.random(n_dies) < 0.8)
            if k % 10 == 0:
                net.refresh_coeffs(dt, die_r, die_c, die_vec, power)
            net.set_die_power(power, die_r, die_vec)
            illum = float(_RNG.choice([0.0, 1.0]))
            albedo_drive = float(_RNG.uniform(-1.0, 1.0))
            plug_heat = _RNG.uniform(0.0, 300.0, n_p)
            # the reference, from the state before the step
            nodes = np.concatenate(
                [net.plate_temp_k, net.return_temp_k, rad.temp_k, net.supply_temp_k]
            )
            dies = net.die_temp_k.copy()
            net.take_parasitic_j()
            # each die steps exactly toward its *new* plate temperature T_p' (implicit
            # coupling): it takes w·(T_p' + P·R − T_b) from the plate, w = C/dt·(1 − e^(−dt/RC))
            w = die_c / dt * (1.0 - board_die_decay(dt, die_r, die_c)) * die_vec
            q = np.zeros(len(nodes))
            q[:n_p] = np.bincount(
                plate, weights=power * die_vec + w * (dies - power * die_r), minlength=n_p
            )
            q[:n_p] += plug_heat
            q[n_p : n_p + n_l] = loops.pump_heat_w
            net.step(illum, albedo_drive, plug_heat)
            panels = slice(n_p + n_l, n_p + n_l + len(rad.panel_ids))
            q[panels] += rad.absorbed_w()
            cp = loops.cp_j_per_kg_k
            cp_loop = np.array([loops.loop_index[p.loop_id] for p in ai1.cold_plates])
            per_loop = np.bincount(cp_loop, minlength=n_l)
            ua = np.array([p.ua_w_per_k for p in ai1.cold_plates])
            g_plates = hx_conductance_w_per_k(
                ua, loops.flow_kg_s[cp_loop] / per_loop[cp_loop], cp[cp_loop]
            )
            g_panels = hx_conductance_w_per_k(
                rad.ua_w_per_k, loops.flow_kg_s[rad.loop] / rad.per_loop[rad.loop], cp[rad.loop]
            )
            leg_c = loops.inventory_kg * cp * 0.5
            caps = np.concatenate(
                [[p.thermal_mass_j_per_k for p in ai1.cold_plates], leg_c, rad.c_j_per_k, leg_c]
            )
            lm = coolant_network_matrix(
                n_l, cp_loop, g_plates, rad.loop, g_panels, loops.flow_kg_s * cp
            )
            # the parasitic paths, on their tangent at the temperatures of the last refresh:
            # P(T) = g·T − s, equal to parasitic_heat_flow_w there
            t_ref = net._par_ref_k
            g_par, s_par = net.parasitic_g_w_per_k, net.parasitic_source_w
            want_p = parasitic_heat_flow_w(
                t_ref,
                net.parasitic_conductance_w_per_k,
                net.structure_temp_k,
                1.0,
                net.parasitic_emission_w_per_k4 / SIGMA_W_M2_K4,
                net.structure_temp_k,
            )
            np.testing.assert_allclose(g_par * t_ref - s_par, want_p, rtol=1e-9, atol=1e-9)
            lm = lm + np.diag(g_par)
            lm[np.arange(n_p), np.arange(n_p)] += np.bincount(plate, weights=w, minlength=n_p)
            q += s_par
            m, c_dt = implicit_network_operator(caps, dt, lm)
            want = network_step_k(m, c_dt, nodes, q)
            new_dies = board_die_temp_step_k(dies, want[plate], power * die_vec, die_r, die_c, dt)
            # the energy the parasitic paths took over the step, from the same T'
            want_e = dt * float(g_par @ want - s_par.sum())
            got_e = net.take_parasitic_j()
            assert got_e == pytest.approx(want_e, rel=1e-9, abs=1e-6), f"parasitic J, step {k}"
            want[panels] = radiation_step_k(want[panels], rad.c_j_per_k / dt, rad.kemit_w_per_k4)
            got = np.concatenate(
                [net.plate_temp_k, net.return_temp_k, rad.temp_k, net.supply_temp_k]
            )
            np.testing.assert_allclose(got, want, rtol=1e-9, err_msg=f"{n_dies} dies, step {k}")
            want_dies = np.where(die_vec > 0.0, new_dies, dies)
            np.testing.assert_allclose(
                net.die_temp_k * die_vec, want_dies * die_vec, rtol=1e-9, err_msg="dies"
            )
