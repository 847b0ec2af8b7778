"""Lumped die thermal model as pure functions (tested alone against the closed form)."""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "die_decay",
    "die_temp_after_k",
    "die_temp_after_k_array",
    "heat_to_plate_j",
    "heat_to_plate_j_array",
]


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


# The array forms below step many dies at once (computesat_sdk.arrays). They perform, board by
# board, the same IEEE operations in the same order as the scalar functions above, so their
# results are bit-identical (tests/unit/sdk/test_sdk_arrays.py proves it).


def die_decay(
    dt_s: float, thermal_mass_j_per_k: np.ndarray, die_to_plate_k_per_w: np.ndarray
) -> np.ndarray:
    """exp(-dt/(C·R)) per die, with `math.exp` as `die_temp_after_k` uses (numpy's exp may
    differ in the last bit)."""
    return np.array(
        [
            math.exp(-dt_s / (c * r))
            for c, r in zip(
                thermal_mass_j_per_k.tolist(), die_to_plate_k_per_w.tolist(), strict=True
            )
        ],
        dtype=float,
    )


def die_temp_after_k_array(
    die_temp_k: np.ndarray, plate_temp_k: np.ndarray, power_r_k: np.ndarray, decay: np.ndarray
) -> np.ndarray:
    """`die_temp_after_k` for arrays of dies, K: ``power_r_k`` is P·R per die (K), ``decay``
    `die_decay` for the step."""
    steady_k = plate_temp_k + power_r_k
    out = die_temp_k - steady_k
    out *= decay
    out += steady_k
    return out


def heat_to_plate_j_array(
    power_dt_j: np.ndarray,
    die_temp_before_k: np.ndarray,
    die_temp_after_k: np.ndarray,
    thermal_mass_j_per_k: np.ndarray,
) -> np.ndarray:
    """`heat_to_plate_j` for arrays of dies, J: ``power_dt_j`` is P·dt per die."""
    stored = die_temp_after_k - die_temp_before_k
    stored *= thermal_mass_j_per_k
    return power_dt_j - stored
