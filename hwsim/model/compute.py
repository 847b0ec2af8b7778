"""Compute slots: board power, the plug-in board contract, single-event upset rates.

Slots are held as numpy vectors by :class:`~hwsim.spacecraft.Spacecraft`. A richer board
object (the board plug-in interface) can replace a slot's parameters by implementing
:class:`BoardModel`; the physics then asks it for its power each step and tells it its die
temperature, without any other change.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from hwsim.model.constants import SECONDS_PER_YEAR

__all__ = ["BoardModel", "board_power_w", "plugin_upset_kind", "seu_rate_per_s"]


@runtime_checkable
class BoardModel(Protocol):
    """What hwsim needs from a plug-in board in a slot.

    - ``power_draw_w()``: electrical power drawn now (W); it becomes heat in the die node.
    - ``thermal_mass_j_per_k``, ``die_to_plate_k_per_w``, ``max_die_temp_k``: thermal model.
    - ``set_die_temp_k(temp_k)``: called after every step with the new die temperature.
    """

    thermal_mass_j_per_k: float
    die_to_plate_k_per_w: float
    max_die_temp_k: float

    def power_draw_w(self) -> float: ...

    def set_die_temp_k(self, temp_k: float) -> None: ...


def board_power_w(
    powered: np.ndarray, utilisation: np.ndarray, idle_w: np.ndarray, peak_w: np.ndarray
) -> np.ndarray:
    """P = idle + u·(peak − idle) when powered, else 0."""
    return np.where(powered, idle_w + utilisation * (peak_w - idle_w), 0.0)


def seu_rate_per_s(rate_per_year: np.ndarray, in_saa: bool, saa_factor: float) -> np.ndarray:
    """Poisson upset rate per board, multiplied inside the South Atlantic Anomaly."""
    return rate_per_year * ((saa_factor if in_saa else 1.0) / SECONDS_PER_YEAR)


def plugin_upset_kind(
    u: float,
    busy: bool,
    uncorrectable_fraction: float,
    hang_fraction: float,
    bit_flip_fraction: float,
) -> str:
    """Which upset a radiation hit is on a plug-in board, from a uniform draw ``u`` in [0, 1).

    The unit interval is cut, in order, into ``hang_fraction`` (hang), ``uncorrectable_fraction``
    (memory_ue), ``bit_flip_fraction`` (bit_flip_result if a job is running, else the hit lands
    in memory and is corrected: memory_ce) and the rest (memory_ce). The AI1 default
    (1 %, 15 %, 10 %) makes most hits correctable errors.
    """
    if u < hang_fraction:
        return "hang"
    u -= hang_fraction
    if u < uncorrectable_fraction:
        return "memory_ue"
    u -= uncorrectable_fraction
    if u < bit_flip_fraction and busy:
        return "bit_flip_result"
    return "memory_ce"
