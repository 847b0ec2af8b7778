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
    "board_die_decay",
    "board_die_temp_step_k",
    "coolant_network_matrix",
    "die_temp_relax_k",
    "earth_view_factor_vertical_plate",
    "hx_conductance_w_per_k",
    "implicit_network_operator",
    "implicit_node_coefficients",
    "implicit_node_temp_k",
    "network_step_k",
    "panel_absorbed_w_per_m2",
    "radiated_power_w",
    "radiating_node_temp_k",
    "radiation_step_inplace_k",
    "radiation_step_k",
    "radiator_equilibrium_temp_k",
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
