"""Pumped coolant loops: pump and system curves, operating point, pump power, ṁ c_p ΔT.

Pump curve (affinity laws): Δp = p_max·s² − (p_max/ṁ_max²)·ṁ², with s = speed / max speed.
System curve: Δp = K·ṁ². Identical pumps in parallel share the flow equally.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "ACCUMULATOR_GAS_FRACTION",
    "coolant_flow_for_heat_kg_s",
    "coolant_temp_rise_k",
    "inventory_flow_factor",
    "leak_empty_time_s",
    "leak_inventory_closed_form_kg",
    "leak_inventory_step_kg",
    "leak_rate_constant",
    "loop_pressure_pa",
    "loop_static_pressure_kpa",
    "lost_coolant_enthalpy_w",
    "operating_flow_kg_s",
    "orifice_area_for_flow_m2",
    "orifice_flow_kg_s",
    "panel_flow_split_kg_s",
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


# ------------------------------------------------------------------ off the healthy path
#
# A leak driven by the loop's pressure. The loop's pressure is held by a spring-loaded metal
# bellows accumulator: P = P_fill·(m/m_fill)^n (n = 1: the bellows spring is linear and its
# preload is zero at an empty loop), so pressure and inventory reach zero together, unlike the
# gas-charged model of loop_static_pressure_kpa, which keeps ~18 kPa in an empty loop. The hole
# is an orifice to vacuum: ṁ = C_d·A·√(2ρP). With n = 1, ṁ = k·√m, k = C_d·A·√(2ρP_fill/m_fill),
# and the inventory follows m(t) = (√m₀ − k·t/2)², empty at t = 2√m₀/k.


def orifice_flow_kg_s(
    discharge_coefficient: float, area_m2: float, density_kg_m3: float, delta_p_pa: float
) -> float:
    """Flow through a sharp orifice: ṁ = C_d·A·√(2ρΔP) (0 for ΔP ≤ 0)."""
    if delta_p_pa <= 0.0 or area_m2 <= 0.0:
        return 0.0
    return discharge_coefficient * area_m2 * math.sqrt(2.0 * density_kg_m3 * delta_p_pa)


def loop_pressure_pa(
    inventory_kg: float, fill_inventory_kg: float, fill_pressure_pa: float, exponent: float = 1.0
) -> float:
    """Bellows-accumulator loop pressure P = P_fill·(m/m_fill)^n: 0 exactly when m = 0."""
    if inventory_kg <= 0.0:
        return 0.0
    return fill_pressure_pa * (inventory_kg / fill_inventory_kg) ** exponent


def leak_rate_constant(
    discharge_coefficient: float,
    area_m2: float,
    density_kg_m3: float,
    fill_inventory_kg: float,
    fill_pressure_pa: float,
    exponent: float = 1.0,
) -> float:
    """c in dm/dt = −c·m^(n/2): C_d·A·√(2ρP_fill/m_fill^n) (k of the header for n = 1)."""
    return (
        discharge_coefficient
        * area_m2
        * math.sqrt(2.0 * density_kg_m3 * fill_pressure_pa / fill_inventory_kg**exponent)
    )


def leak_inventory_step_kg(
    inventory_kg: float, dt_s: float, rate_constant: float, exponent: float = 1.0
) -> float:
    """Inventory after ``dt_s`` of dm/dt = −c·m^(n/2), exact for a constant hole.

    m^(1−n/2) falls linearly for n < 2 (√m by c·dt/2 for n = 1) and reaches 0 in finite time;
    n = 2 decays exponentially; n > 2 algebraically. Never negative, for any dt.
    """
    m = inventory_kg
    if m <= 0.0:
        return 0.0
    if rate_constant <= 0.0:
        return m
    if exponent == 2.0:
        return m * math.exp(-rate_constant * dt_s)
    p = 1.0 - exponent / 2.0
    y = m**p - p * rate_constant * dt_s
    if p > 0.0:
        return y ** (1.0 / p) if y > 0.0 else 0.0
    return y ** (1.0 / p)


def leak_inventory_closed_form_kg(initial_kg: float, time_s: float, k: float) -> float:
    """m(t) = (√m₀ − k·t/2)² until empty at t = 2√m₀/k, then 0 (linear accumulator, n = 1)."""
    r = math.sqrt(initial_kg) - 0.5 * k * time_s
    return r * r if r > 0.0 else 0.0


def leak_empty_time_s(initial_kg: float, k: float) -> float:
    """t = 2√m₀/k: when a loop with a linear accumulator and a constant hole is empty."""
    return 2.0 * math.sqrt(initial_kg) / k


def lost_coolant_enthalpy_w(
    leak_flow_kg_s: float, cp_j_per_kg_k: float, temp_k: float, reference_temp_k: float
) -> float:
    """Enthalpy carried out by leaking coolant: ṁ·c_p·(T − T_ref).

    T_ref must be the reference of the stored-energy ledger (stored = m·c_p·(T − T_ref)); then
    d(stored)/dt = in − out − this, and the ledger closes with the loss counted.
    """
    return leak_flow_kg_s * cp_j_per_kg_k * (temp_k - reference_temp_k)


def orifice_area_for_flow_m2(
    flow_kg_s: float, discharge_coefficient: float, density_kg_m3: float, delta_p_pa: float
) -> float:
    """Hole area that leaks ``flow_kg_s`` at ΔP (inverse of :func:`orifice_flow_kg_s`): turns
    a fault's initial leak rate (radiator_puncture's leak_rate_kg_s) into a hole (0.01 kg/s
    of glycol at 200 kPa is a 0.8 mm² hole)."""
    return flow_kg_s / (discharge_coefficient * math.sqrt(2.0 * density_kg_m3 * delta_p_pa))


# Radiator panels in parallel on a loop, each behind its isolation valve (radvalve.P<nn>): the
# loop's flow splits equally over its open panels (identical panels, equal resistance); a
# closed panel carries none. The loop's system curve is the loop's (the panels' share of its
# pressure drop is not modelled), so closing a panel does not change the loop's flow unless it
# closes the last one: then the loop is blocked and its flow is zero (the pumps dead-head).


def panel_flow_split_kg_s(
    loop_flow_kg_s: np.ndarray, panel_loop: np.ndarray, panel_open: np.ndarray
) -> np.ndarray:
    """Flow through each panel, kg/s: ṁ_loop / n_open on its loop's open panels, 0 through a
    closed one (Σ over a loop's panels = ṁ_loop when one is open, 0 when all are closed)."""
    open_f = np.asarray(panel_open, dtype=float)
    n_open = np.bincount(panel_loop, weights=open_f, minlength=len(loop_flow_kg_s))
    per_open = np.asarray(loop_flow_kg_s, dtype=float) / np.maximum(n_open, 1.0)
    return per_open[panel_loop] * open_f
