"""The device API types: :class:`DeviceError`, and the descriptions of registers and commands,
which are the ICD's (``icd.devices``): hwsim generates ``describe`` from the ICD models.

The device-port server wraps :class:`~hwsim.spacecraft.Spacecraft` ``device_ids``,
``describe``, ``read`` and ``command`` one-to-one; these are the types it carries.
"""

from __future__ import annotations

from typing import Literal

from icd.devices import CommandSpec, DeviceDescription, RegisterSpec

__all__ = [
    "DEVICE_ERROR_CODES",
    "CommandInfo",
    "DeviceDescription",
    "DeviceError",
    "RegisterInfo",
]

# the ICD's names, under the names hwsim always used
RegisterInfo = RegisterSpec
CommandInfo = CommandSpec

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
