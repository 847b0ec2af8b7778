"""Off the healthy path (issue 8): parasitic paths, Earth IR/albedo on the wings, the settled
start, each against its closed form."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hwsim.boards.reference import RefCpuBoard, RefGpuBoard, RefNpuBoard
from hwsim.config import default_config
from hwsim.model.constants import EARTH_IR_W_M2, R_EARTH_KM, SIGMA_W_M2_K4, SOLAR_CONSTANT_W_M2
from hwsim.model.solar import (
    array_mpp_power_w,
    array_power_limited_w,
    array_rated_power_w,
    incidence_cosine,
    sun_angle_in_drive_plane_deg,
    sun_pointing_drive_angle_deg,
    wing_drive_normal_from_nadir_rad,
    wing_earth_absorbed_w_m2,
    wing_equilibrium_temp_k,
    wing_temp_step_k,
)
from hwsim.model.thermal import (
    albedo_flux_w_m2,
    coolant_network_matrix,
    earth_view_factor_tilted_plate,
    earth_view_factor_vertical_plate,
    parasitic_equilibrium_temp_k,
    parasitic_heat_flow_w,
    parasitic_node_step_k,
    steady_state_network_k,
)

_BOARDS = {"ref-gpu": RefGpuBoard, "ref-cpu": RefCpuBoard, "ref-npu": RefNpuBoard}


def _bisect(f, lo: float, hi: float) -> float:
    """Independent root finder: plain bisection of an increasing function."""
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if f(mid) > 0.0:
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)


# ----------------------------------------------------------------------- parasitic paths


def test_conduction_only_equilibrium_is_t_struct_plus_q_over_g() -> None:
    t = parasitic_equilibrium_temp_k(112.0, 5.0, 290.0, 0.0, 0.0, 3.0)
    assert t == pytest.approx(290.0 + 112.0 / 5.0, abs=1e-12), f"expected 312.4 K, got {t}"


def test_radiation_only_equilibrium_is_the_stefan_boltzmann_root() -> None:
    q, eps, a, ts = 500.0, 0.85, 0.5, 200.0
    expected = (q / (eps * SIGMA_W_M2_K4 * a) + ts**4) ** 0.25
    t = parasitic_equilibrium_temp_k(q, 0.0, 290.0, eps, a, ts)
    assert t == pytest.approx(expected, rel=1e-14), f"expected {expected}, got {t}"


@pytest.mark.parametrize("q_w", [0.0, 112.0, 2520.0, 14000.0])
def test_combined_equilibrium_closes_the_balance_and_matches_bisection(q_w: float) -> None:
    g, ts, eps, a, tsink = 5.0, 290.0, 0.85, 0.5, 290.0
    t = parasitic_equilibrium_temp_k(q_w, g, ts, eps, a, tsink)
    resid = parasitic_heat_flow_w(t, g, ts, eps, a, tsink) - q_w
    assert abs(resid) < 1e-9 * max(q_w, 1.0), f"balance residual {resid} W at {t} K"
    ref = _bisect(lambda x: parasitic_heat_flow_w(x, g, ts, eps, a, tsink) - q_w, 1.0, 5000.0)
    assert t == pytest.approx(ref, abs=1e-8), f"Newton {t} K, bisection {ref} K"


def test_equilibrium_refuses_a_node_without_any_path() -> None:
    with pytest.raises(ValueError, match="no conductance"):
        parasitic_equilibrium_temp_k(10.0, 0.0, 290.0, 0.0, 1.0, 3.0)


@pytest.mark.parametrize("dt_s", [1.0, 60.0, 3600.0, 1e6])
@pytest.mark.parametrize("t0_k", [150.0, 600.0])
def test_stepped_node_converges_to_equilibrium_without_overshoot(dt_s: float, t0_k: float) -> None:
    g, ts, eps, a, tsink, q, c = 5.0, 290.0, 0.85, 0.5, 290.0, 2520.0, 2.0e4
    t_eq = parasitic_equilibrium_temp_k(q, g, ts, eps, a, tsink)
    t = t0_k
    sign = 1.0 if t0_k < t_eq else -1.0
    # ~40 time constants C/P'(T_eq) ≈ 1 100 s
    for n in range(int(40 * 1200.0 / dt_s) + 50):
        t_new = parasitic_node_step_k(t, c, dt_s, q, g, ts, eps, a, tsink)
        assert sign * (t_new - t) >= -1e-9, f"step {n}: not monotone ({t} -> {t_new})"
        assert sign * (t_eq - t_new) >= -1e-9, f"step {n}: overshot {t_eq} K to {t_new} K"
        t = t_new
        if abs(t - t_eq) < 1e-7:
            break
    assert abs(t - t_eq) < 1e-6, f"did not converge: {t} K vs {t_eq} K"


def test_node_step_is_backward_euler_and_vectorises() -> None:
    temps = np.array([150.0, 300.0, 700.0])
    q = np.array([2520.0, 0.0, 100.0])
    out = parasitic_node_step_k(temps, 2.0e4, 10.0, q, 5.0, 290.0, 0.85, 0.5, 290.0)
    for k in range(3):
        one = parasitic_node_step_k(
            float(temps[k]), 2.0e4, 10.0, float(q[k]), 5.0, 290.0, 0.85, 0.5, 290.0
        )
        assert out[k] == pytest.approx(one, rel=1e-14)
        # C/dt·(T' − T) = Q − P(T') holds at the new temperature
        lhs = 2.0e4 / 10.0 * (out[k] - temps[k])
        rhs = q[k] - parasitic_heat_flow_w(out[k], 5.0, 290.0, 0.85, 0.5, 290.0)
        assert lhs == pytest.approx(rhs, abs=1e-8), f"node {k}: {lhs} != {rhs}"


def _plate_loads_w() -> dict[str, tuple[float, float, float, float]]:
    """Per plate of the default AI1: (standby, idle, peak heat in W, lowest shutdown K)."""
    out: dict[str, list[float]] = {}
    for s in default_config().compute.expanded_slots():
        th = _BOARDS[s.board].THERMAL
        acc = out.setdefault(s.cold_plate_id, [0.0, 0.0, 0.0, math.inf])
        acc[0] += th.off_w
        acc[1] += th.idle_w
        acc[2] += th.peak_w
        acc[3] = min(acc[3], th.shutdown_temp_k)
    return {k: (v[0], v[1], v[2], v[3]) for k, v in out.items()}


def test_dry_plate_with_boards_at_standby_settles_below_the_shutdown_limit() -> None:
    cfg = default_config()
    ts = cfg.structure.temp_k
    loads = _plate_loads_w()
    for plate in cfg.cold_plates:
        standby, _idle, _peak, limit = loads[plate.plate_id]
        args = (
            plate.structure_conductance_w_per_k,
            ts,
            plate.emissivity,
            plate.radiating_area_m2,
            ts,
        )
        t = parasitic_equilibrium_temp_k(standby, *args)
        assert t < limit - 30.0, f"{plate.plate_id}: {standby} W standby settles at {t} K"
        # the docstring of thermal.py states these (14 ref-gpu boards on a plate)
        if plate.plate_id == "CP06":
            assert standby == pytest.approx(15 * 8.0 + 1.0)  # 14 + slot 156 ref-gpu, 1 ref-npu
    gpu = RefGpuBoard.THERMAL
    p = cfg.cold_plates[0]
    args = (p.structure_conductance_w_per_k, ts, p.emissivity, p.radiating_area_m2, ts)
    assert parasitic_equilibrium_temp_k(14 * gpu.off_w, *args) == pytest.approx(305.0, abs=1.0)
    assert parasitic_equilibrium_temp_k(14 * gpu.idle_w, *args) == pytest.approx(508.0, abs=1.0)
    assert parasitic_equilibrium_temp_k(14 * gpu.peak_w, *args) == pytest.approx(831.0, abs=1.0)


def test_dry_coolant_leg_and_panel_stay_bounded() -> None:
    cfg = default_config()
    lp, panel, ts = cfg.loops[0], cfg.radiators.panels[0], cfg.structure.temp_k
    # a dry loop's leg with a running pump's controller power (30 W) in it
    t_leg = parasitic_equilibrium_temp_k(
        lp.pumps[0].idle_power_w,
        lp.line_structure_conductance_w_per_k,
        ts,
        lp.line_emissivity,
        lp.line_radiating_area_m2,
        ts,
    )
    assert ts < t_leg < ts + 15.0, f"dry leg with 30 W settles at {t_leg} K"
    # a dry panel in eclipse: its hinge and its own faces (Earth IR as the only input)
    ir_w = (
        EARTH_IR_W_M2
        * panel.emissivity
        * earth_view_factor_vertical_plate(600.0)
        * (2 * panel.area_per_face_m2)
    )
    t_panel = parasitic_equilibrium_temp_k(
        ir_w,
        panel.structure_conductance_w_per_k,
        ts,
        panel.emissivity,
        2 * panel.area_per_face_m2,
        3.0,
    )
    assert 150.0 < t_panel < 220.0, f"dry panel in eclipse settles at {t_panel} K"


# ------------------------------------------------------------------ Earth IR and albedo


def _numerical_view_factor(altitude_km: float, theta_rad: float, n: int = 600) -> float:
    """(1/π)∫ cos α dω over the face's hemisphere, counting directions that hit the Earth
    (angle to nadir below asin(R⊕/a)): midpoint rule, independent of the closed form."""
    half = math.asin(R_EARTH_KM / (R_EARTH_KM + altitude_km))
    al = (np.arange(n) + 0.5) * (math.pi / 2) / n
    ph = (np.arange(2 * n) + 0.5) * (2 * math.pi) / (2 * n)
    a, p = np.meshgrid(al, ph, indexing="ij")
    # face normal tilted by θ from nadir (z) in the x–z plane
    d = np.stack([np.sin(a) * np.cos(p), np.sin(a) * np.sin(p), np.cos(a)])
    nadir = np.array([-math.sin(theta_rad), 0.0, math.cos(theta_rad)])
    cos_to_nadir = np.tensordot(nadir, d, axes=1)
    hit = cos_to_nadir > math.cos(half)
    w = np.cos(a) * np.sin(a) * (math.pi / 2 / n) * (2 * math.pi / (2 * n))
    return float((w * hit).sum() / math.pi)


@pytest.mark.parametrize("theta_deg", [0.0, 20.0, 45.0, 70.0, 90.0, 100.0, 110.0, 113.0])
def test_tilted_view_factor_matches_numerical_integration(theta_deg: float) -> None:
    f = earth_view_factor_tilted_plate(600.0, math.radians(theta_deg))
    ref = _numerical_view_factor(600.0, math.radians(theta_deg))
    assert f == pytest.approx(ref, abs=2e-3), f"θ={theta_deg}°: closed form {f}, integral {ref}"


def test_tilted_view_factor_limits() -> None:
    h = 600.0
    ratio2 = (R_EARTH_KM / (R_EARTH_KM + h)) ** 2
    assert earth_view_factor_tilted_plate(h, 0.0) == pytest.approx(ratio2, rel=1e-15)
    assert earth_view_factor_tilted_plate(h, math.pi / 2) == pytest.approx(
        earth_view_factor_vertical_plate(h), rel=1e-12
    )
    assert earth_view_factor_tilted_plate(h, math.pi) == 0.0
    # continuous where the Earth's cap starts to go behind the face
    tc = math.acos(R_EARTH_KM / (R_EARTH_KM + h))
    below = earth_view_factor_tilted_plate(h, tc - 1e-9)
    above = earth_view_factor_tilted_plate(h, tc + 1e-9)
    assert abs(below - above) < 1e-7, f"jump at θc: {below} vs {above}"


def test_albedo_is_zero_in_eclipse_and_a_s_cos_zeta_in_sun() -> None:
    assert albedo_flux_w_m2(0.0, 1.0) == 0.0
    assert albedo_flux_w_m2(1.0, -0.3) == 0.0
    assert albedo_flux_w_m2(1.0, 0.5) == pytest.approx(0.30 * SOLAR_CONSTANT_W_M2 * 0.5)


def test_eclipse_wing_equilibrium_is_the_earth_ir_closed_form() -> None:
    w = default_config().wings[0]
    for drive_deg in (0.0, 45.0, 90.0, 135.0, 180.0):
        th = wing_drive_normal_from_nadir_rad(drive_deg)
        sum_f = earth_view_factor_tilted_plate(600.0, th) + earth_view_factor_tilted_plate(
            600.0, math.pi - th
        )
        absorbed = wing_earth_absorbed_w_m2(
            600.0, th, 0.0, w.absorptivity, w.back_absorptivity, w.emissivity
        )
        t_eq = wing_equilibrium_temp_k(absorbed, 0.0, w.emissivity)
        closed = (EARTH_IR_W_M2 * sum_f / (2.0 * SIGMA_W_M2_K4)) ** 0.25
        assert t_eq == pytest.approx(closed, rel=1e-12)
        assert t_eq > 170.0, f"drive {drive_deg}°: eclipse wing at {t_eq} K (today 99.5 K)"
        # the stepped wing node of solar.py settles there
        t = 300.0
        for _ in range(3000):
            t = wing_temp_step_k(
                t, 10.0, w.area_m2, absorbed, 0.0, w.emissivity, w.thermal_mass_j_per_k
            )
        assert t == pytest.approx(t_eq, abs=1e-6), f"stepped {t} K vs closed form {t_eq} K"
    # cells on nadir at orbit midnight (a tracking drive at 0°): ~204 K
    th0 = wing_drive_normal_from_nadir_rad(sun_angle_in_drive_plane_deg(math.pi))
    a0 = wing_earth_absorbed_w_m2(600.0, th0, 0.0, 0.9, 0.9, 0.85)
    assert wing_equilibrium_temp_k(a0, 0.0, 0.85) == pytest.approx(204.4, abs=0.1)


def test_sunlit_wing_equilibrium_closed_form() -> None:
    w = default_config().wings[0]
    u = 0.0  # orbit noon: cells on the Sun, back face on nadir seeing albedo and IR
    th = wing_drive_normal_from_nadir_rad(sun_angle_in_drive_plane_deg(u))
    alb = albedo_flux_w_m2(1.0, math.cos(u))
    earth = wing_earth_absorbed_w_m2(
        600.0, th, alb, w.absorptivity, w.back_absorptivity, w.emissivity
    )
    f_back = earth_view_factor_tilted_plate(600.0, math.pi - th)
    assert earth == pytest.approx(
        f_back * (w.emissivity * EARTH_IR_W_M2 + w.back_absorptivity * alb), rel=1e-12
    )
    absorbed = w.absorptivity * SOLAR_CONSTANT_W_M2 + earth
    elec = 250.0
    t_eq = wing_equilibrium_temp_k(absorbed, elec, w.emissivity)
    assert 2 * w.emissivity * SIGMA_W_M2_K4 * t_eq**4 == pytest.approx(absorbed - elec, rel=1e-12)
    assert 320.0 < t_eq < 360.0, f"sunlit wing at {t_eq} K"


def test_sunrise_after_eclipse_never_exceeds_the_rated_maximum() -> None:
    cfg = default_config()
    total_rated = sum(w.rated_max_w for w in cfg.wings)
    assert total_rated == pytest.approx(
        sum(array_rated_power_w(w.area_m2, w.efficiency) for w in cfg.wings)
    )
    for cold_k, label in ((99.5, "today's wing"), (None, "with Earth IR")):
        total = 0.0
        unclamped = 0.0
        for w in cfg.wings:
            t = cold_k
            if t is None:
                th = wing_drive_normal_from_nadir_rad(90.0)  # the coldest attitude (edge-on)
                t = wing_equilibrium_temp_k(
                    wing_earth_absorbed_w_m2(600.0, th, 0.0, 0.9, 0.9, w.emissivity),
                    0.0,
                    w.emissivity,
                )
            p = array_mpp_power_w(
                w.area_m2,
                w.efficiency,
                SOLAR_CONSTANT_W_M2,
                1.0,
                t,
                w.reference_temp_k,
                w.temp_coeff_per_k,
                w.degradation_per_year,
                0.0,
            )
            unclamped += p
            total += array_power_limited_w(p, w.rated_max_w)
        assert unclamped > total_rated, f"{label}: the linear coefficient alone stays under"
        assert total <= total_rated, f"{label}: {total} W above the rated {total_rated} W"
    assert total_rated == pytest.approx(165.5e3, rel=1e-3)


# ------------------------------------------------------------------------- settled start


@pytest.mark.parametrize("phase_deg", [0.0, 37.0, 90.0, 180.0, 271.0])
@pytest.mark.parametrize("beta_deg", [0.0, 40.0])
def test_initial_drive_angle_points_at_the_sun(phase_deg: float, beta_deg: float) -> None:
    u = math.radians(phase_deg)
    d = sun_pointing_drive_angle_deg(u)
    cos_i = incidence_cosine(sun_angle_in_drive_plane_deg(u), d, math.radians(beta_deg))
    assert cos_i == pytest.approx(math.cos(math.radians(beta_deg)), rel=1e-12)


def test_steady_state_two_nodes_conduction_then_radiation() -> None:
    # node 0 gets 1 kW and conducts 50 W/K to node 1, which radiates to deep space
    g, q, k = 50.0, 1000.0, 0.9 * SIGMA_W_M2_K4 * 2.0
    lm = np.array([[g, -g], [-g, g]])
    t = steady_state_network_k(lm, np.array([q, 0.0]), np.array([0.0, k]))
    t1 = (q / k) ** 0.25
    assert t[1] == pytest.approx(t1, rel=1e-12), f"radiator {t[1]} K, closed form {t1}"
    assert t[0] == pytest.approx(t1 + q / g, rel=1e-12)


def test_steady_state_three_nodes_with_a_fixed_structure() -> None:
    # 0 → 1 → structure (fixed 290 K), conduction only: T0 = Ts + Q(1/G01 + 1/G12)
    g01, g12, q, ts = 20.0, 5.0, 100.0, 290.0
    lm = np.array([[g01, -g01, 0.0], [-g01, g01 + g12, -g12], [0.0, -g12, g12]])
    t = steady_state_network_k(
        lm, np.array([q, 0.0, 0.0]), np.zeros(3), fixed_temp_k=np.array([np.nan, np.nan, ts])
    )
    assert t[2] == ts
    assert t[1] == pytest.approx(ts + q / g12, rel=1e-12)
    assert t[0] == pytest.approx(ts + q / g12 + q / g01, rel=1e-12)


def test_steady_state_of_a_pumped_loop_balances_heat_and_radiation() -> None:
    # one loop: 2 plates, 2 panels (the advection matrix of thermal.py), 20 kW in
    lm = coolant_network_matrix(
        1,
        np.array([0, 0]),
        np.array([4000.0, 4000.0]),
        np.array([0, 0]),
        np.array([4000.0, 4000.0]),
        np.array([2.5 * 3620.0]),
    )
    q = np.array([12e3, 8e3, 0.0, 0.0, 0.0, 0.0])
    k = np.array([0.0, 0.0, 0.0, 0.875 * SIGMA_W_M2_K4 * 27.5, 0.875 * SIGMA_W_M2_K4 * 27.5, 0.0])
    t = steady_state_network_k(lm, q, k, sink_temp_k=3.0)
    radiated = float((k * (t**4 - 3.0**4)).sum())
    assert radiated == pytest.approx(q.sum(), rel=1e-10), f"radiated {radiated} W of 20 kW"
    resid = lm @ t + k * (t**4 - 81.0) - q
    assert np.max(np.abs(resid)) < 1e-6, f"balance residual {resid}"
    assert t[0] > t[1] > t[5], f"hotter plate, then the cooler plate, then the supply: {t}"


def test_steady_state_refuses_a_network_without_a_sink() -> None:
    lm = np.array([[1.0, -1.0], [-1.0, 1.0]])
    with pytest.raises(ValueError, match="no path to a sink"):
        steady_state_network_k(lm, np.array([10.0, 0.0]), np.zeros(2))
