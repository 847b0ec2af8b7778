"""The time reference (``timeref``): the hardware's mission time, served by hwsim's device
port itself (not by the spacecraft model)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from icd.devices._base import DeviceKind, DeviceRegisters, reg

__all__ = ["TIMEREF", "ClockMode", "TimeRefRegisters"]


class ClockMode(StrEnum):
    REALTIME = "realtime"
    ACCELERATED = "accelerated"
    STEPPED = "stepped"


class TimeRefRegisters(DeviceRegisters):
    mission_time_ns: int = reg("ns", "Mission time", ge=0)
    clock_speed: float = reg("x", "Mission seconds per wall second (inf: stepped)", ge=0.0)
    clock_mode: Annotated[ClockMode, Field(strict=False)] = reg(
        "", "realtime, accelerated or stepped"
    )


TIMEREF = DeviceKind(
    name="timeref",
    description="Spacecraft time reference flight software synchronises to",
    ids="timeref",
    registers=TimeRefRegisters,
)
