"""PUS service 132, power control (mission-specific; APID 1): telecommand codecs, events and
the power controller's housekeeping (SID 6). Registered in :mod:`icd.dictionary`.

Application data (big-endian; "str" = length u8 + ASCII, 1..64 characters):

- 132,1 shed load: PDU switch name str ('laser_terminals', 'slot_017', 'pump_L1_B')
- 132,2 restore load: PDU switch name str
- 132,3 sun tracking: wing id str ('W1'), enabled u8 (0/1)
- 132,4 MPPT: wing id str, enabled u8 (0/1) (off then on = an MPPT restart)
- 132,5 battery limit: minimum state of charge u8, percent, 5..90 (the depth-of-discharge floor
  the controller keeps the battery above)
- 132,6 re-close switch: PDU switch name str (once per trip; a second trip keeps it open)

A layout that does not decode, a name that is not ASCII or a value out of range is refused at
acceptance (1,2 INVALID_APP_DATA). What only the controller can judge (an unknown switch, a
load that may not be shed, a switch that is not tripped) is a completion failure (1,8) with
one of the codes below and a POWER_COMMAND_REFUSED event saying why.
"""

from __future__ import annotations

import string
import struct
from dataclasses import dataclass
from enum import IntEnum

from icd.errors import DecodeError

__all__ = [
    "MAX_MIN_SOC_PERCENT",
    "MIN_MIN_SOC_PERCENT",
    "SERVICE",
    "SID",
    "BatteryLimit",
    "PowerEvent",
    "SwitchRequest",
    "WingRequest",
]

SERVICE = 132
SID = 6
MIN_MIN_SOC_PERCENT = 5
MAX_MIN_SOC_PERCENT = 90
_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "_.")


class PowerEvent(IntEnum):
    """Event ids of the power controller (55-69, and 32 when 55-69 were full)."""

    COMPUTE_SHED_FOR_ECLIPSE = 55
    COMPUTE_RESTORED = 56
    ARRAY_DRIVE_STUCK = 57
    MPPT_RESTARTED = 58
    MPPT_FAILED = 59
    BATTERY_DEGRADED = 60
    LOAD_SHED = 61
    LOAD_RESTORED = 62
    SWITCH_TRIPPED = 63
    SWITCH_RECLOSED = 64
    SUN_TRACKING_SET = 65
    BATTERY_LOW = 66
    ORBIT_MODEL_CORRECTED = 67
    BATTERY_LIMIT_SET = 68
    POWER_INPUTS_INVALID = 69
    # A refused 132,x (with its 1,8): never under the name of the action it did not do.
    POWER_COMMAND_REFUSED = 32


def _read_name(data: bytes, offset: int, what: str) -> tuple[str, int]:
    if len(data) <= offset:
        raise DecodeError(what, expected="length u8 + ASCII name", got=f"{len(data)} bytes")
    n = data[offset]
    raw = data[offset + 1 : offset + 1 + n]
    if n == 0 or n > 64 or len(raw) != n:
        raise DecodeError(what, expected="1..64 characters present", got=f"length {n}")
    try:
        name = raw.decode("ascii")
    except UnicodeDecodeError:
        raise DecodeError(what, expected="ASCII", got=raw.hex()) from None
    if not set(name) <= _NAME_CHARS:
        raise DecodeError(what, expected="letters, digits, '_' or '.'", got=name)
    return name, offset + 1 + n


def _name(value: str) -> bytes:
    raw = value.encode("ascii")
    if not 1 <= len(raw) <= 64:
        raise ValueError("a name is 1..64 ASCII characters")
    return bytes([len(raw)]) + raw


def _end(data: bytes, offset: int, what: str) -> None:
    if len(data) != offset:
        raise DecodeError(what, expected=f"{offset} bytes", got=f"{len(data)} bytes")


@dataclass(frozen=True)
class SwitchRequest:
    """132,1 shed load, 132,2 restore load, 132,6 re-close switch: a PDU switch name."""

    switch: str

    def pack(self) -> bytes:
        return _name(self.switch)

    @classmethod
    def unpack(cls, data: bytes) -> SwitchRequest:
        name, end = _read_name(data, 0, "switch")
        _end(data, end, "switch")
        return cls(name)


@dataclass(frozen=True)
class WingRequest:
    """132,3 sun tracking, 132,4 MPPT: a wing id ('W1') and enabled (0/1)."""

    wing: str
    enabled: bool

    def pack(self) -> bytes:
        return _name(self.wing) + bytes([int(self.enabled)])

    @classmethod
    def unpack(cls, data: bytes) -> WingRequest:
        wing, end = _read_name(data, 0, "wing")
        if len(data) < end + 1 or data[end] > 1:
            got = data[end] if len(data) > end else "nothing"
            raise DecodeError("enabled", expected="u8 0 or 1", got=got)
        _end(data, end + 1, "wing request")
        return cls(wing, bool(data[end]))


@dataclass(frozen=True)
class BatteryLimit:
    """132,5: the minimum state of charge the controller keeps, percent (5..90)."""

    min_soc_percent: int

    def pack(self) -> bytes:
        return struct.pack(">B", self.min_soc_percent)

    @classmethod
    def unpack(cls, data: bytes) -> BatteryLimit:
        if len(data) != 1:
            raise DecodeError("min_soc", expected="1 byte", got=f"{len(data)} bytes")
        value = data[0]
        if not MIN_MIN_SOC_PERCENT <= value <= MAX_MIN_SOC_PERCENT:
            raise DecodeError(
                "min_soc",
                expected=f"{MIN_MIN_SOC_PERCENT}..{MAX_MIN_SOC_PERCENT} percent",
                got=value,
            )
        return cls(value)
