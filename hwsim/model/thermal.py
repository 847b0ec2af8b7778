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
    "board_die_temp_step_k",
    "earth_view_factor_vertical_plate",
    "hx_conductance_w_per_k",
    "implicit_node_temp_k",
    "panel_absorbed_w_per_m2",
    "radiated_power_w",
    "radiating_node_temp_k",
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


def hx_conductance_w_per_k(ua_w_per_k: F, flow_kg_s: F, cp_j_per_kg_k: float) -> F:
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


def board_die_temp_step_k(
    die_temp_k: F,
    plate_temp_k: F,
    power_w: F,
    die_to_plate_k_per_w: F,
    thermal_mass_j_per_k: F,
    dt_s: float,
    decay: F | None = None,
) -> F:
    """Exact step of C dT/dt = P − (T − T_plate)/R with T_plate held (any dt is stable).

    ``decay`` = exp(−dt/RC) may be passed precomputed (it only changes with dt or R).
    """
    t_inf = plate_temp_k + power_w * die_to_plate_k_per_w
    if decay is None:
        decay = np.exp(-dt_s / (die_to_plate_k_per_w * thermal_mass_j_per_k))
    return t_inf + (die_temp_k - t_inf) * decay
