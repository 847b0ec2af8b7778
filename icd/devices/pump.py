"""Coolant pump (``pump.L<n>.<A|B>``): registers, commands, fault states."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from icd.devices._base import CommandArgs, DeviceKind, DeviceRegisters, NoArgs, arg, reg

__all__ = ["PUMP", "PumpFault", "PumpRegisters", "PumpSetSpeed", "PumpState"]


class PumpState(StrEnum):
    """What the pump is doing."""

    RUNNING = "running"
    OFF = "off"
    SEIZED = "seized"
    UNPOWERED = "unpowered"


class PumpFault(StrEnum):
    """Fault states a pump reports in ``state``: seized (a fault of the pump), unpowered (its
    PDU switch is open or tripped)."""

    SEIZED = "seized"
    UNPOWERED = "unpowered"


class PumpRegisters(DeviceRegisters):
    state: Annotated[PumpState, Field(strict=False)] = reg("", "running, off, seized, unpowered")
    speed_rpm: float = reg("rpm", "Shaft speed", ge=0.0)
    target_speed_rpm: float = reg("rpm", "Commanded speed", ge=0.0)
    flow_kg_s: float = reg("kg/s", "Mass flow through this pump")
    outlet_pressure_kpa: float = reg("kPa", "Outlet pressure (static + pump rise)")
    power_w: float = reg("W", "Electrical power drawn", ge=0.0)
    motor_current_a: float = reg("A", "Motor current at bus voltage", ge=0.0)


class PumpStart(NoArgs):
    """Start the pump (ramps to the target speed); needs its PDU switch on."""


class PumpStop(NoArgs):
    """Stop the pump."""


class PumpSetSpeed(CommandArgs):
    """Set the target speed (at most the pump's configured max_speed_rpm)."""

    speed_rpm: float = arg("rpm", "Target shaft speed", gt=0.0, le=100_000.0)


PUMP = DeviceKind(
    name="pump",
    description="Coolant pump of a fluid loop (two per loop, A and B)",
    ids="pump.L<n>.<A|B>",
    registers=PumpRegisters,
    commands={"start": PumpStart, "stop": PumpStop, "set_speed_rpm": PumpSetSpeed},
    faults=PumpFault,
)
