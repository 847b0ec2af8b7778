"""Pure hardware model of the spacecraft: physics functions and the :class:`Spacecraft`."""

from hwsim.model.compute import BoardModel
from hwsim.model.devices import (
    DEVICE_ERROR_CODES,
    CommandInfo,
    DeviceDescription,
    DeviceError,
    RegisterInfo,
)
from hwsim.model.spacecraft import ActiveFault, Spacecraft

__all__ = [
    "DEVICE_ERROR_CODES",
    "ActiveFault",
    "BoardModel",
    "CommandInfo",
    "DeviceDescription",
    "DeviceError",
    "RegisterInfo",
    "Spacecraft",
]
