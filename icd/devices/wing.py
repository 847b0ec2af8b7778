"""Solar wing (``wing.W<n>``): the array, its drive and its MPPT in one device."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from icd.devices._base import CommandArgs, DeviceKind, DeviceRegisters, arg, reg

__all__ = [
    "WING",
    "DriveState",
    "MpptState",
    "WingFault",
    "WingMpptEnable",
    "WingRegisters",
    "WingSetAngle",
    "WingSetTracking",
]


class DriveState(StrEnum):
    OK = "ok"
    STUCK = "stuck"


class MpptState(StrEnum):
    TRACKING = "tracking"
    OFF = "off"
    FAILED = "failed"


class WingFault(StrEnum):
    """Faults a wing reports: the array drive stuck (``drive_state``), the MPPT failed
    (``mppt_state``)."""

    DRIVE_STUCK = "stuck"
    MPPT_FAILED = "failed"


class WingRegisters(DeviceRegisters):
    sun_angle_deg: float = reg("deg", "Sun direction in the drive plane")
    sun_illumination: float = reg(
        "", "Sun sensor: fraction of the solar disc seen, 0 in eclipse", ge=0.0, le=1.0
    )
    drive_angle_deg: float = reg("deg", "Array drive angle")
    target_angle_deg: float = reg("deg", "Commanded angle when not tracking")
    tracking: bool = reg("", "Sun tracking enabled")
    drive_state: Annotated[DriveState, Field(strict=False)] = reg(
        "", "ok, stuck (drive does not follow commands)"
    )
    incidence_cos: float = reg("", "Cosine of the Sun incidence on the array", ge=-1.0, le=1.0)
    available_power_w: float = reg("W", "Power the array could deliver now", ge=0.0)
    power_w: float = reg("W", "Power delivered to the bus", ge=0.0)
    voltage_v: float = reg("V", "Array voltage", ge=0.0)
    current_a: float = reg("A", "Array current", ge=0.0)
    temp_k: float = reg("K", "Cell temperature", ge=0.0)
    mppt_enabled: bool = reg("", "MPPT commanded on")
    mppt_state: Annotated[MpptState, Field(strict=False)] = reg("", "tracking, off, failed")


class WingSetTracking(CommandArgs):
    """Enable or disable Sun tracking (refused while the drive is stuck)."""

    enabled: bool = arg("", "Track the Sun")


class WingSetAngle(CommandArgs):
    """Point the array at an angle; disables tracking (refused while the drive is stuck)."""

    angle_deg: float = arg("deg", "Drive angle", ge=0.0, le=360.0)


class WingMpptEnable(CommandArgs):
    """Enable or disable the MPPT."""

    enabled: bool = arg("", "MPPT on")


WING = DeviceKind(
    name="wing",
    description="Solar wing: array, array drive (sun tracking) and MPPT",
    ids="wing.W<n>",
    registers=WingRegisters,
    commands={
        "set_tracking": WingSetTracking,
        "set_angle_deg": WingSetAngle,
        "mppt_enable": WingMpptEnable,
    },
    faults=WingFault,
)
