"""Lumped-node thermal network: boards → cold plates → coolant → radiator panels → space.

All updates are point-implicit (conductances and the linearised T⁴ term taken at the new
temperature), which keeps the network stable at a 1 s step and well beyond; functions accept
floats or numpy arrays.
"""

from __future__ import annotations

import math
from typing import TypeVar

import numpy as np

from hwsim.model.constants import (
    ALBEDO,
    EARTH_IR_W_M2,
    R_EARTH_KM,
    SIGMA_W_M2_K4,
    SOLAR_CONSTANT_W_M2,
)

__all__ = [
    "albedo_flux_w_m2",
    "board_die_decay",
    "board_die_temp_step_k",
    "coolant_network_matrix",
    "die_temp_relax_k",
    "earth_view_factor_tilted_plate",
    "earth_view_factor_vertical_plate",
    "hx_conductance_w_per_k",
    "implicit_network_operator",
    "implicit_node_coefficients",
    "implicit_node_temp_k",
    "isolated_panel_equilibrium_temp_k",
    "network_step_k",
    "panel_absorbed_w_per_m2",
    "parasitic_equilibrium_temp_k",
    "parasitic_heat_flow_w",
    "parasitic_node_step_k",
    "radiated_power_w",
    "radiating_node_temp_k",
    "radiation_step_inplace_k",
    "radiation_step_k",
    "radiator_equilibrium_temp_k",
    "steady_state_network_k",
]

F = TypeVar("F", float, np.ndarray)


def radiated_power_w(temp_k: F, area_m2: F, emissivity: F) -> F:
    """Stefan–Boltzmann emission εσAT⁴."""
    return emissivity * SIGMA_W_M2_K4 * area_m2 * temp_k**4


def radiator_equilibrium_temp_k(
    heat_w: float, radiating_area_m2: float, emissivity: float, absorbed_w: float = 0.0
) -> float:
    """Temperature at which εσAT⁴ = heat + absorbed (steady state)."""
    return ((heat_w + absorbed_w) / (emissivity * SIGMA_W_M2_K4 * radiating_area_m2)) ** 0.25


def earth_view_factor_vertical_plate(altitude_km: float) -> float:
    """View factor to Earth of a plate whose normal is horizontal (e.g. the orbit normal).

    F = (1/π)·(atan(1/X) − X/H²), H = a/R⊕, X = √(H²−1); 0.5 on the ground, ~0.25 at 600 km.
    """
    h = (R_EARTH_KM + altitude_km) / R_EARTH_KM
    x = math.sqrt(h * h - 1.0)
    return (math.atan(1.0 / x) - x / (h * h)) / math.pi


def panel_absorbed_w_per_m2(
    illumination: float,
    sun_cos_on_face: float,
    albedo_cos: float,
    earth_view_factor: float,
    absorptivity: float,
    emissivity: float,
) -> float:
    """Absorbed flux on one face: direct sunlight + albedo + Earth IR (IR absorptivity = ε)."""
    direct = absorptivity * SOLAR_CONSTANT_W_M2 * illumination * max(0.0, sun_cos_on_face)
    albedo = absorptivity * SOLAR_CONSTANT_W_M2 * ALBEDO * earth_view_factor * max(0.0, albedo_cos)
    ir = emissivity * EARTH_IR_W_M2 * earth_view_factor
    return direct + albedo + ir


def hx_conductance_w_per_k(ua_w_per_k: F, flow_kg_s: F, cp_j_per_kg_k: F) -> F:
    """Effective stream conductance ε·ṁc_p with ε = 1 − exp(−UA/ṁc_p) (0 at zero flow)."""
    mcp = np.maximum(flow_kg_s * cp_j_per_kg_k, 1e-12)
    return mcp * (1.0 - np.exp(-ua_w_per_k / mcp))


def implicit_node_temp_k(
    temp_k: F,
    capacity_j_per_k: F,
    dt_s: float,
    heat_in_w: F,
    conductance_w_per_k: F,
    neighbour_temp_k: F,
) -> F:
    """Backward-Euler step of C dT/dt = Q + G (T_nb − T) with T_nb held."""
    c = capacity_j_per_k / dt_s
    return (c * temp_k + heat_in_w + conductance_w_per_k * neighbour_temp_k) / (
        c + conductance_w_per_k
    )


def implicit_node_coefficients(
    capacity_j_per_k: F, dt_s: float, conductance_w_per_k: F
) -> tuple[F, F, F]:
    """(a, b, k) such that :func:`implicit_node_temp_k` = a·T + b·T_nb + k·Q.

    They change only with dt and conductance, so a stepped model can compute them once.
    """
    c = capacity_j_per_k / dt_s
    k = 1.0 / (c + conductance_w_per_k)
    return c * k, conductance_w_per_k * k, k


def radiating_node_temp_k(
    temp_k: F,
    capacity_j_per_k: F,
    dt_s: float,
    heat_in_w: F,
    conductance_w_per_k: F,
    neighbour_temp_k: F,
    radiating_area_m2: F,
    emissivity: F,
) -> F:
    """As :func:`implicit_node_temp_k` plus εσAT⁴ emission linearised about ``temp_k``."""
    e = emissivity * SIGMA_W_M2_K4 * radiating_area_m2 * temp_k**4
    de = 4.0 * e / temp_k
    c = capacity_j_per_k / dt_s
    return ((c + de) * temp_k + heat_in_w - e + conductance_w_per_k * neighbour_temp_k) / (
        c + de + conductance_w_per_k
    )


def board_die_decay(dt_s: float, die_to_plate_k_per_w: F, thermal_mass_j_per_k: F) -> F:
    """exp(−dt/RC): the fraction of a die's excess temperature left after one step."""
    return np.exp(-dt_s / (die_to_plate_k_per_w * thermal_mass_j_per_k))


def board_die_temp_step_k(
    die_temp_k: F,
    plate_temp_k: F,
    power_w: F,
    die_to_plate_k_per_w: F,
    thermal_mass_j_per_k: F,
    dt_s: float,
) -> F:
    """Exact step of C dT/dt = P − (T − T_plate)/R with T_plate held (any dt is stable)."""
    return die_temp_relax_k(
        die_temp_k,
        plate_temp_k,
        power_w * die_to_plate_k_per_w,
        board_die_decay(dt_s, die_to_plate_k_per_w, thermal_mass_j_per_k),
    )


def die_temp_relax_k(die_temp_k: F, plate_temp_k: F, steady_rise_k: F, decay: F) -> F:
    """:func:`board_die_temp_step_k` with P·R and exp(−dt/RC) precomputed (hot path)."""
    t_inf = plate_temp_k + steady_rise_k
    return t_inf + (die_temp_k - t_inf) * decay


def radiation_step_k(
    temp_k: np.ndarray, capacity_per_dt_w_per_k: np.ndarray, emission_coeff_w_per_k4: np.ndarray
) -> np.ndarray:
    """Point-implicit emission-only step: C/dt·(T' − T) = −(e + e'·(T' − T)), e = kT⁴.

    ``emission_coeff_w_per_k4`` is εσA (A = all radiating faces). Used after a linear network
    step (operator splitting); stable for any dt since T' stays between 0 and T.
    """
    t2 = temp_k * temp_k
    e = emission_coeff_w_per_k4 * t2 * t2
    return temp_k - e / (capacity_per_dt_w_per_k + 4.0 * e / temp_k)


def radiation_step_inplace_k(
    temp_k: np.ndarray, capacity_per_dt_over_emission_k3: np.ndarray, work: np.ndarray
) -> np.ndarray:
    """:func:`radiation_step_k` in place (hot path): T ← T − d; returns d, the temperature drop.

    The same point-implicit step written as d = e/(C/dt + 4e/T) = T/(r/T³ + 4) with
    r = (C/dt)/(εσA) precomputed, so it costs six small array operations and no temporaries;
    ``work`` (same shape as ``temp_k``) receives d.
    """
    np.multiply(temp_k, temp_k, out=work)
    work *= temp_k
    np.divide(capacity_per_dt_over_emission_k3, work, out=work)
    work += 4.0
    np.divide(temp_k, work, out=work)
    temp_k -= work
    return work


def coolant_network_matrix(
    n_loops: int,
    plate_loop: np.ndarray,
    plate_g_w_per_k: np.ndarray,
    panel_loop: np.ndarray,
    panel_g_w_per_k: np.ndarray,
    stream_w_per_k: np.ndarray,
) -> np.ndarray:
    """Conductance/advection matrix L (C dT/dt = −L·T + Q) of the pumped loops.

    Node order: cold plates, hot legs (one per loop), radiator panels, cold legs. A plate
    exchanges G_j (ε-NTU stream conductance) with its loop's cold (supply) leg and the heat
    arrives in the hot leg; a panel exchanges G_k with the hot leg and the heat leaves the cold
    leg; the stream ṁc_p carries the legs into each other. Every column sums to zero, so the
    network conserves energy exactly.
    """
    n_p, n_k = len(plate_loop), len(panel_loop)
    hot = n_p + np.arange(n_loops)
    cold = n_p + n_loops + n_k + np.arange(n_loops)
    n = n_p + 2 * n_loops + n_k
    lm = np.zeros((n, n))
    for j in range(n_p):
        g, lp = plate_g_w_per_k[j], plate_loop[j]
        lm[j, j] += g
        lm[j, cold[lp]] -= g
        lm[hot[lp], j] -= g
        lm[hot[lp], cold[lp]] += g
    for k in range(n_k):
        g, lp = panel_g_w_per_k[k], panel_loop[k]
        i = n_p + n_loops + k
        lm[i, i] += g
        lm[i, hot[lp]] -= g
        lm[cold[lp], i] -= g
        lm[cold[lp], hot[lp]] += g
    for lp in range(n_loops):
        m = stream_w_per_k[lp]
        lm[hot[lp], hot[lp]] += m
        lm[hot[lp], cold[lp]] -= m
        lm[cold[lp], cold[lp]] += m
        lm[cold[lp], hot[lp]] -= m
    return lm


def implicit_network_operator(
    capacity_j_per_k: np.ndarray, dt_s: float, l_matrix: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(M, C/dt) with M = (C/dt + L)⁻¹: the backward-Euler step is T' = M·(C/dt·T + Q)."""
    c_dt = capacity_j_per_k / dt_s
    return np.linalg.inv(np.diag(c_dt) + l_matrix), c_dt


def network_step_k(
    operator: np.ndarray,
    capacity_per_dt_w_per_k: np.ndarray,
    temp_k: np.ndarray,
    heat_in_w: np.ndarray,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """One backward-Euler step of the linear network (see :func:`implicit_network_operator`)."""
    rhs = capacity_per_dt_w_per_k * temp_k
    rhs += heat_in_w
    return np.matmul(operator, rhs, out=out)


# ------------------------------------------------------------------ off the healthy path
#
# Parasitic paths. A node cut off from its coolant still loses heat by conduction to the
# structure and by radiation from its own surfaces (REFERENCE.md, "parasitic heat"):
#
#     P(T) = G·(T − T_struct) + εσA·(T⁴ − T_sink⁴)
#
# P is increasing and convex in T (T > 0), which is what makes the solvers below monotone.
#
# With the defaults of hwsim/config.py (cold plate: G = 5 W/K to a 290 K structure and 0.5 m²
# at ε 0.85 seeing it) a plate of 15 ref-gpu boards settles at:
#   - standby (off_w 8 W each, 120 W):        ~306 K, far below the 378 K shutdown limit;
#   - idle (idle_w 180 W each, 2.7 kW):       ~518 K, above every limit;
#   - full load (peak 1 kW each, 15 kW):      ~847 K, far above every limit.
# With its loop dry a plate can therefore only carry its boards' standby heat: thermal
# protection (board shutdown, flight software switching the boards off) must act, and the
# numbers above are what it protects against.


def parasitic_heat_flow_w(
    temp_k: F,
    conductance_w_per_k: F,
    structure_temp_k: F,
    emissivity: F,
    area_m2: F,
    sink_temp_k: F,
) -> F:
    """Heat a node loses by its parasitic paths: G·(T − T_struct) + εσA·(T⁴ − T_sink⁴)."""
    return conductance_w_per_k * (temp_k - structure_temp_k) + emissivity * SIGMA_W_M2_K4 * (
        area_m2
    ) * (temp_k**4 - sink_temp_k**4)


def _parasitic_slope_w_per_k(
    temp_k: np.ndarray, conductance_w_per_k: np.ndarray, rad_coeff: np.ndarray
) -> np.ndarray:
    return conductance_w_per_k + 4.0 * rad_coeff * temp_k**3


def parasitic_node_step_k(
    temp_k: F,
    capacity_j_per_k: F,
    dt_s: float,
    heat_in_w: F,
    conductance_w_per_k: F,
    structure_temp_k: F,
    emissivity: F,
    area_m2: F,
    sink_temp_k: F,
    newton_iterations: int = 8,
) -> F:
    """Backward-Euler step of C dT/dt = Q − P(T) (P: :func:`parasitic_heat_flow_w`).

    Solves C/dt·(T' − T) + P(T') = Q for T'. The first iterate is the point-implicit
    (linearised) step; because P is convex it lies on the far side of the root when heating,
    so the Newton corrections that follow approach the root monotonically from above (and
    from T itself when cooling). The exact backward-Euler root lies between T and the
    equilibrium, so the stepped node never overshoots its equilibrium, for any dt.
    ``newton_iterations=0`` gives the plain linearised step (cheaper, may overshoot when
    heating with C/dt small against the slope of P).
    """
    t = np.asarray(temp_k, dtype=float)
    g = np.asarray(conductance_w_per_k, dtype=float)
    k = np.asarray(emissivity * SIGMA_W_M2_K4 * area_m2, dtype=float)
    c = np.asarray(capacity_j_per_k, dtype=float) / dt_s
    q = np.asarray(heat_in_w, dtype=float)

    def resid(x: np.ndarray) -> np.ndarray:
        return c * (x - t) + g * (x - structure_temp_k) + k * (x**4 - sink_temp_k**4) - q

    # linearised step about T
    x = t - resid(t) / (c + _parasitic_slope_w_per_k(t, g, k))
    # cooling (resid(T) > 0): start Newton at T, which is above the root
    x = np.where(resid(t) > 0.0, t, x)
    for _ in range(newton_iterations):
        dx = resid(x) / (c + _parasitic_slope_w_per_k(x, g, k))
        x = x - dx
        if np.all(np.abs(dx) <= 1e-12 * np.abs(x)):
            break
    return x if isinstance(temp_k, np.ndarray) else float(x)  # type: ignore[return-value]


def parasitic_equilibrium_temp_k(
    heat_in_w: float,
    conductance_w_per_k: float,
    structure_temp_k: float,
    emissivity: float,
    area_m2: float,
    sink_temp_k: float,
) -> float:
    """Temperature at which a node with its loop dry loses its heat input: P(T) = Q.

    Closed forms: conduction only (εA = 0) T = T_struct + Q/G; radiation only (G = 0)
    T = (Q/(εσA) + T_sink⁴)^¼. Both: the root of the balance, by Newton from an upper bound
    (the larger single-path answer, where P ≥ Q), which converges monotonically.
    """
    g = conductance_w_per_k
    k = emissivity * SIGMA_W_M2_K4 * area_m2
    if g < 0.0 or k < 0.0:
        raise ValueError("conductance, emissivity and area must be >= 0")
    if g == 0.0 and k == 0.0:
        raise ValueError("a node with no conductance and no radiating area has no equilibrium")
    q = heat_in_w
    if k == 0.0:
        return structure_temp_k + q / g
    t_rad = max(q / k + sink_temp_k**4, 0.0) ** 0.25
    if g == 0.0:
        return t_rad
    if parasitic_heat_flow_w(1e-9, g, structure_temp_k, emissivity, area_m2, sink_temp_k) > q:
        raise ValueError(f"no positive equilibrium: heat input {q} W is below P(0 K)")
    x = max(structure_temp_k + q / g, t_rad, structure_temp_k, sink_temp_k)
    for _ in range(100):
        f = parasitic_heat_flow_w(x, g, structure_temp_k, emissivity, area_m2, sink_temp_k) - q
        dx = f / (g + 4.0 * k * x**3)
        x -= dx
        if abs(dx) <= 1e-13 * x:
            break
    return x


def isolated_panel_equilibrium_temp_k(
    absorbed_w: float,
    structure_conductance_w_per_k: float,
    structure_temp_k: float,
    emissivity: float,
    radiating_area_m2: float,
) -> float:
    """Equilibrium of a radiator panel isolated from its loop (valve closed): the environment
    it absorbs Q equals its emission to deep space plus its hinge conduction,
    Q = εσA·T⁴ + G·(T − T_struct) (A all its radiating faces). Closed form without the hinge
    (G = 0): T = (Q/(εσA))^¼; with it, the root of the balance
    (:func:`parasitic_equilibrium_temp_k` with a 0 K sink)."""
    return parasitic_equilibrium_temp_k(
        absorbed_w,
        structure_conductance_w_per_k,
        structure_temp_k,
        emissivity,
        radiating_area_m2,
        0.0,
    )


def steady_state_network_k(
    l_matrix: np.ndarray,
    heat_in_w: np.ndarray,
    emission_coeff_w_per_k4: np.ndarray,
    sink_temp_k: np.ndarray | float = 0.0,
    fixed_temp_k: np.ndarray | None = None,
    initial_temp_k: np.ndarray | None = None,
    tol_k: float = 1e-9,
    max_iterations: int = 100,
) -> np.ndarray:
    """Steady state of a thermal network: L·T + εσA·(T⁴ − T_sink⁴) = Q, by Newton.

    ``l_matrix`` is the conductance/advection matrix of :func:`coolant_network_matrix` (or
    any L with C dT/dt = −L·T + Q); ``emission_coeff_w_per_k4`` is εσA per node (0 for a
    node that does not radiate); ``fixed_temp_k`` holds a temperature for the boundary nodes
    (e.g. the structure) and NaN for the free ones, whose balance is solved. The Jacobian is
    L + diag(4εσA·T³); the step is halved while it would not reduce the residual or would
    take a temperature to ≤ 0. Raises ValueError if the network has no path to a sink
    (singular Jacobian) or Newton does not converge. Phase 2 uses it to pre-converge the
    thermal state so that a run starts settled.
    """
    lm = np.asarray(l_matrix, dtype=float)
    n = lm.shape[0]
    q = np.asarray(heat_in_w, dtype=float) * np.ones(n)
    k = np.asarray(emission_coeff_w_per_k4, dtype=float) * np.ones(n)
    ts4 = (np.asarray(sink_temp_k, dtype=float) * np.ones(n)) ** 4
    fixed = np.full(n, np.nan) if fixed_temp_k is None else np.asarray(fixed_temp_k, dtype=float)
    free = np.isnan(fixed)
    if not free.any():
        return fixed.copy()
    t = np.where(free, 300.0, fixed) if initial_temp_k is None else np.array(initial_temp_k)
    t = np.where(free, t, fixed).astype(float)
    lf = lm[np.ix_(free, free)]

    def resid(x: np.ndarray) -> np.ndarray:
        return (lm @ x + k * (x**4 - ts4) - q)[free]

    r = resid(t)
    for _ in range(max_iterations):
        jac = lf + np.diag(4.0 * k[free] * t[free] ** 3)
        try:
            dx = np.linalg.solve(jac, -r)
        except np.linalg.LinAlgError:
            raise ValueError("thermal network has a node with no path to a sink") from None
        norm = float(np.linalg.norm(r))
        step = 1.0
        while True:
            trial = t.copy()
            trial[free] += step * dx
            if np.all(trial[free] > 0.0):
                r_new = resid(trial)
                if float(np.linalg.norm(r_new)) <= norm or step < 1e-6:
                    break
            step *= 0.5
            if step < 1e-12:
                raise ValueError("steady-state Newton cannot make progress")
        t, r = trial, r_new
        if float(np.max(np.abs(step * dx))) <= tol_k:
            return t
    raise ValueError(f"steady-state Newton did not converge in {max_iterations} iterations")


def earth_view_factor_tilted_plate(altitude_km: float, normal_from_nadir_rad: float) -> float:
    """View factor from one face of a flat plate at altitude h to the Earth (a sphere).

    The face's normal makes the angle θ with nadir; H = a/R⊕, X = √(H² − 1). The Earth fills
    the cone of half-angle asin(1/H) about nadir; with the whole cap in front of the face
    (θ ≤ acos(1/H)) F = cos θ/H², so θ = 0 gives (R⊕/(R⊕+h))² (0.835 at 600 km). Tilted past
    that, the face sees part of the cap (Howell's catalogue, plane element to a sphere):
    F = ½ − (1/π)·asin(X/(H sin θ)) + (1/(πH²))·(cos θ·acos(−X cot θ) − X·√(1 − H²cos²θ)),
    which at θ = 90° is :func:`earth_view_factor_vertical_plate`; 0 once θ ≥ 90° + asin(1/H).
    """
    h = (R_EARTH_KM + altitude_km) / R_EARTH_KM
    x = math.sqrt(h * h - 1.0)
    theta = abs(math.remainder(normal_from_nadir_rad, 2.0 * math.pi))
    cos_t = math.cos(theta)
    if cos_t >= 1.0 / h:
        return cos_t / (h * h)
    if cos_t <= -1.0 / h:
        return 0.0
    sin_t = math.sin(theta)
    f = (
        0.5
        - math.asin(min(1.0, x / (h * sin_t))) / math.pi
        + (
            cos_t * math.acos(max(-1.0, min(1.0, -x * cos_t / sin_t)))
            - x * math.sqrt(max(0.0, 1.0 - h * h * cos_t * cos_t))
        )
        / (math.pi * h * h)
    )
    return max(0.0, f)


def albedo_flux_w_m2(illumination: float, cos_subsolar_zenith: float) -> float:
    """Albedo flux leaving the Earth under the satellite: a·S·cos ζ, 0 in eclipse or at night.

    ζ is the Sun's zenith angle at the sub-satellite point (cos ζ = cos β·cos u for the orbit
    geometry of orbit.py); multiply by the absorptivity and the view factor of a face to get
    what that face absorbs (the Earth's reflected light is taken as diffuse, with the same
    view factor as its IR).
    """
    if illumination <= 0.0 or cos_subsolar_zenith <= 0.0:
        return 0.0
    return ALBEDO * SOLAR_CONSTANT_W_M2 * cos_subsolar_zenith * illumination
