"""Battery and power bus: open-circuit voltage, SoC integration, power balance, shedding."""

from __future__ import annotations

import numpy as np

__all__ = [
    "battery_soc_step",
    "battery_terminal_voltage_v",
    "cell_ocv_v",
    "serve_by_priority",
    "served_count",
]


def cell_ocv_v(soc: float, empty_v: float, nominal_v: float, full_v: float) -> float:
    """Piecewise-linear Li-ion cell open-circuit voltage: knee below 10 %, plateau, top."""
    k1 = empty_v + 0.6 * (nominal_v - empty_v)
    k2 = nominal_v + 0.5 * (full_v - nominal_v)
    if soc <= 0.0:
        return empty_v
    if soc < 0.1:
        return empty_v + (k1 - empty_v) * soc / 0.1
    if soc < 0.9:
        return k1 + (k2 - k1) * (soc - 0.1) / 0.8
    if soc < 1.0:
        return k2 + (full_v - k2) * (soc - 0.9) / 0.1
    return full_v


def battery_terminal_voltage_v(ocv_pack_v: float, current_a: float, resistance_ohm: float) -> float:
    """Terminal voltage; ``current_a`` > 0 discharging."""
    return ocv_pack_v - current_a * resistance_ohm


def battery_soc_step(
    soc: float,
    battery_power_w: float,
    dt_s: float,
    capacity_wh: float,
    charge_efficiency: float,
    discharge_efficiency: float,
) -> tuple[float, float, float]:
    """Integrate SoC for a bus-side battery power (> 0 discharge, < 0 charge).

    Returns (new SoC, stored-energy change J, conversion loss J).
    """
    if battery_power_w >= 0.0:
        d_stored_j = -battery_power_w / discharge_efficiency * dt_s
    else:
        d_stored_j = -battery_power_w * charge_efficiency * dt_s
    loss_j = abs(battery_power_w) * dt_s - abs(d_stored_j)
    new_soc = soc + d_stored_j / (capacity_wh * 3600.0)
    return new_soc, d_stored_j, abs(loss_j)


def serve_by_priority(demand_w: np.ndarray, order: np.ndarray, available_w: float) -> np.ndarray:
    """Boolean mask of served loads: loads taken in ``order`` (most important first) while
    their cumulative demand fits in ``available_w``; the rest are shed."""
    served = np.zeros(demand_w.shape[0], dtype=bool)
    cum = np.cumsum(demand_w[order])
    served[order] = cum <= available_w + 1e-9
    return served


def served_count(cum_demand_w: np.ndarray, available_w: float) -> int:
    """How many loads, taken in priority order with cumulative demand ``cum_demand_w``, fit
    in ``available_w`` (the same cut as :func:`serve_by_priority`)."""
    return int(np.searchsorted(cum_demand_w, available_w + 1e-9, side="right"))
