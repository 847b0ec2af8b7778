"""Pumped fluid loop (``loop.L<n>``): registers (read-only)."""

from __future__ import annotations

from icd.devices._base import DeviceKind, DeviceRegisters, reg

__all__ = ["LOOP", "LoopRegisters"]


class LoopRegisters(DeviceRegisters):
    flow_kg_s: float = reg("kg/s", "Loop mass flow")
    pressure_kpa: float = reg("kPa", "Loop static (accumulator) pressure")
    delta_p_kpa: float = reg("kPa", "Pump pressure rise / system pressure drop")
    supply_temp_k: float = reg("K", "Coolant temperature to the cold plates", ge=0.0)
    return_temp_k: float = reg("K", "Coolant temperature to the radiators", ge=0.0)
    inventory_kg: float = reg("kg", "Coolant mass in the loop", ge=0.0)
    heat_load_w: float = reg("W", "Heat picked up from the cold plates and pumps")


LOOP = DeviceKind(
    name="loop",
    description="Pumped-liquid coolant loop (its pumps are devices of their own)",
    ids="loop.L<n>",
    registers=LoopRegisters,
)
