"""The hardware model's physics as pure, unit-named functions (orbit, solar, thermal, fluid,
power, sensors, noise, protection) and the device API types. The spacecraft that puts them
together is :class:`hwsim.spacecraft.Spacecraft`, above the subsystems (``hwsim.subsystems``)."""

from hwsim.model.compute import BoardModel
from hwsim.model.devices import (
    DEVICE_ERROR_CODES,
    CommandInfo,
    DeviceDescription,
    DeviceError,
    RegisterInfo,
)

__all__ = [
    "DEVICE_ERROR_CODES",
    "BoardModel",
    "CommandInfo",
    "DeviceDescription",
    "DeviceError",
    "RegisterInfo",
]
