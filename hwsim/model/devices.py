"""The device API types: descriptions of registers and commands, and :class:`DeviceError`.

The device-port server wraps :class:`~hwsim.model.spacecraft.Spacecraft` ``device_ids``,
``describe``, ``read`` and ``command`` one-to-one; these are the types it carries.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DEVICE_ERROR_CODES",
    "CommandInfo",
    "DeviceDescription",
    "DeviceError",
    "RegisterInfo",
]

DEVICE_ERROR_CODES = (
    "unknown_device",
    "unknown_command",
    "bad_argument",
    "device_fault",
    "device_off",
)

DeviceErrorCode = Literal[
    "unknown_device", "unknown_command", "bad_argument", "device_fault", "device_off"
]


class DeviceError(Exception):
    """A device refused a request. ``code`` is one of :data:`DEVICE_ERROR_CODES`."""

    def __init__(self, code: str, message: str) -> None:
        if code not in DEVICE_ERROR_CODES:
            raise ValueError(f"unknown device error code {code!r}")
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class RegisterInfo(BaseModel):
    model_config = ConfigDict(frozen=True)
    unit: str = Field(description="Unit of the value ('' for dimensionless, 'bool', 'enum')")
    description: str = Field(description="What the register reports")


class CommandInfo(BaseModel):
    model_config = ConfigDict(frozen=True)
    description: str = Field(description="What the command does")
    args: dict[str, str] = Field(default_factory=dict, description="Argument name -> meaning")


class DeviceDescription(BaseModel):
    model_config = ConfigDict(frozen=True)
    device_id: str = Field(description="Device id, e.g. pump.L1.A")
    kind: str = Field(description="Device kind: pump, loop, radsensor, wing, battery, pdu, slot")
    registers: dict[str, RegisterInfo] = Field(description="Telemetry registers of read()")
    commands: dict[str, CommandInfo] = Field(description="Commands accepted by command()")
