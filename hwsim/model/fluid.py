"""Pumped coolant loops: pump and system curves, operating point, pump power, ṁ c_p ΔT.

Pump curve (affinity laws): Δp = p_max·s² − (p_max/ṁ_max²)·ṁ², with s = speed / max speed.
System curve: Δp = K·ṁ². Identical pumps in parallel share the flow equally.
"""

from __future__ import annotations

import math

__all__ = [
    "ACCUMULATOR_GAS_FRACTION",
    "coolant_flow_for_heat_kg_s",
    "coolant_temp_rise_k",
    "inventory_flow_factor",
    "loop_static_pressure_kpa",
    "operating_flow_kg_s",
    "pump_electrical_power_w",
    "pump_head_kpa",
    "system_pressure_drop_kpa",
]

ACCUMULATOR_GAS_FRACTION = 0.1
"""Gas volume of the loop accumulator as a fraction of the liquid volume at full inventory."""


def pump_head_kpa(
    flow_kg_s: float, speed_fraction: float, max_pressure_kpa: float, max_flow_kg_s: float
) -> float:
    """Pressure rise of one pump at ``flow_kg_s``."""
    return max(0.0, max_pressure_kpa * (speed_fraction**2 - (flow_kg_s / max_flow_kg_s) ** 2))


def system_pressure_drop_kpa(flow_kg_s: float, resistance_kpa_s2_kg2: float) -> float:
    return resistance_kpa_s2_kg2 * flow_kg_s * flow_kg_s


def operating_flow_kg_s(
    speed_fraction: float,
    n_running: int,
    max_pressure_kpa: float,
    max_flow_kg_s: float,
    resistance_kpa_s2_kg2: float,
) -> float:
    """Flow where n parallel pumps at ``speed_fraction`` meet the system curve.

    n pumps each carrying ṁ/n: p_max s² − p_max (ṁ/n)²/ṁ_max² = K ṁ².
    """
    if n_running <= 0 or speed_fraction <= 0.0:
        return 0.0
    k_pump = max_pressure_kpa / (max_flow_kg_s * max_flow_kg_s * n_running * n_running)
    return speed_fraction * math.sqrt(max_pressure_kpa / (resistance_kpa_s2_kg2 + k_pump))


def pump_electrical_power_w(
    flow_kg_s: float,
    pressure_rise_kpa: float,
    density_kg_m3: float,
    efficiency: float,
    idle_power_w: float,
    max_power_w: float,
) -> float:
    """Hydraulic power (V̇·Δp) over the wire-to-water efficiency, plus controller power."""
    hydraulic_w = flow_kg_s / density_kg_m3 * pressure_rise_kpa * 1e3
    return min(max_power_w, idle_power_w + hydraulic_w / efficiency)


def coolant_flow_for_heat_kg_s(heat_w: float, cp_j_per_kg_k: float, delta_t_k: float) -> float:
    """ṁ = Q / (c_p ΔT)."""
    return heat_w / (cp_j_per_kg_k * delta_t_k)


def coolant_temp_rise_k(heat_w: float, flow_kg_s: float, cp_j_per_kg_k: float) -> float:
    """ΔT = Q / (ṁ c_p)."""
    return heat_w / (flow_kg_s * cp_j_per_kg_k)


def loop_static_pressure_kpa(inventory_fraction: float, nominal_pressure_kpa: float) -> float:
    """Gas-charged accumulator: pressure falls as liquid leaves (isothermal gas)."""
    lost = max(0.0, 1.0 - inventory_fraction)
    return nominal_pressure_kpa * ACCUMULATOR_GAS_FRACTION / (ACCUMULATOR_GAS_FRACTION + lost)


def inventory_flow_factor(inventory_fraction: float, min_inventory_fraction: float) -> float:
    """Pumps deliver full flow above min + 0.1 and cavitate to zero at min."""
    x = (inventory_fraction - min_inventory_fraction) / 0.1
    return 0.0 if x <= 0.0 else (1.0 if x >= 1.0 else x)
