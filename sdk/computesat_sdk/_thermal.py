"""Lumped die thermal model as pure functions (tested alone against the closed form)."""

from __future__ import annotations

import math

__all__ = ["die_temp_after_k", "heat_to_plate_j"]


def die_temp_after_k(
    die_temp_k: float,
    plate_temp_k: float,
    power_w: float,
    dt_s: float,
    thermal_mass_j_per_k: float,
    die_to_plate_k_per_w: float,
) -> float:
    """Die temperature after `dt_s` at constant power and plate temperature, K.

    Exact solution of C dT/dt = P - (T - T_plate)/R, so any step size is stable and
    splitting a step in two gives the same answer as taking it whole.
    """
    steady_k = plate_temp_k + power_w * die_to_plate_k_per_w
    decay = math.exp(-dt_s / (thermal_mass_j_per_k * die_to_plate_k_per_w))
    return steady_k + (die_temp_k - steady_k) * decay


def heat_to_plate_j(
    power_w: float,
    dt_s: float,
    die_temp_before_k: float,
    die_temp_after_k: float,
    thermal_mass_j_per_k: float,
) -> float:
    """Heat delivered into the plate over a step: energy in minus energy stored, J."""
    return power_w * dt_s - thermal_mass_j_per_k * (die_temp_after_k - die_temp_before_k)
