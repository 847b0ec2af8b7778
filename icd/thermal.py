"""Service 131, thermal control (mission-specific): telecommand layouts, events, HK SID 5.

Layouts (big-endian; "str" = length u8 + ASCII), all on APID 1:

- 131,1 switch pump: loop id str (``L1``), pump id str (``B``): run this pump, stop the others.
- 131,2 isolate panel: panel id str (``P03``): close its radiator valve (``radvalve.P03``).
- 131,3 restore panel: panel id str: open its radiator valve again.
- 131,4 vote sensor out: sensor device id str (``radsensor.P03.S2``): out of the panel's vote
  until 131,5.
- 131,5 vote sensor in: sensor device id str: back in the vote, its history reset.
- 131,6 isolate loop: loop id str: its pumps stopped, the compute on that loop off (a
  ``ComputeLimit`` of 0 W from source ``thermal``).
- 131,7 restore loop: loop id str: a usable pump started, the loop's limit lifted.

A layout that does not decode, or an id not of its documented form, is refused at acceptance
(1,2 INVALID_APP_DATA). An id of the right form that the spacecraft does not have fails to
start (1,4 NOT_FOUND). A command that cannot be carried out completes with 1,8 and one of the
thermal error codes (``icd.errors``: THERMAL_PUMP_UNAVAILABLE, THERMAL_VALVE_UNAVAILABLE,
THERMAL_STATE_CONFLICT), with an event naming the reason.

This module stands on ``icd.errors`` only; ``icd.dictionary`` registers its service, checks,
events and housekeeping structure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum

from icd.errors import DecodeError

__all__ = [
    "HK_SID",
    "LOOP_ID",
    "PANEL_ID",
    "PUMP_ID",
    "SENSOR_ID",
    "SERVICE",
    "SUBSERVICES",
    "LeakState",
    "LoopRef",
    "PanelRef",
    "PumpCode",
    "SensorRef",
    "SwitchPump",
    "ThermalEvent",
    "hk_parameter_names",
]

SERVICE = 131
HK_SID = 5

SUBSERVICES: dict[int, str] = {
    1: "TC switch pump (loop id str, pump id str)",
    2: "TC isolate radiator panel (panel id str)",
    3: "TC restore radiator panel (panel id str)",
    4: "TC vote sensor out (sensor device id str)",
    5: "TC vote sensor in (sensor device id str)",
    6: "TC isolate loop (loop id str)",
    7: "TC restore loop (loop id str)",
}

LOOP_ID = re.compile(r"L\d{1,2}")
PUMP_ID = re.compile(r"[A-Z]")
PANEL_ID = re.compile(r"P\d{2}")
SENSOR_ID = re.compile(r"radsensor\.P\d{2}\.S\d")


class ThermalEvent(IntEnum):
    """Event ids of thermal control (reserved 40-54, and 33 when those were full)."""

    PUMP_SWITCHOVER = 40
    PUMP_DEGRADED = 41
    LEAK_DETECTED = 42
    PANEL_ISOLATED = 43
    PANEL_RESTORED = 44
    LOOP_ISOLATED = 45
    LOOP_RESTORED = 46
    SENSOR_VOTED_OUT = 47
    SENSOR_VOTED_IN = 48
    SENSOR_VOTE_LOST = 49
    THERMAL_LIMIT = 50
    THERMAL_LIMIT_LIFTED = 51
    LOOP_NO_FLOW = 52
    LOOP_FLOW_RESTORED = 53
    THERMAL_ACTION_FAILED = 54
    # The periodic check of a loop's standby pump found it unusable (seized while not running).
    PUMP_STANDBY_UNAVAILABLE = 33
    # The periodic test run of a loop's standby pump (pump rotation) and its result.
    PUMP_TEST_RUN = 34


class PumpCode(IntEnum):
    """``thermal.L<n>.active_pump`` in HK: which pump thermal control runs on the loop."""

    NONE = 0
    A = 1
    B = 2
    OTHER = 3


class LeakState(IntEnum):
    """``thermal.L<n>.leak_state`` in HK."""

    NONE = 0
    LOCALISING = 1  # a leak is detected; panels are closed one at a time
    PANEL_ISOLATED = 2  # the leaking panel is closed; the loop runs on the others
    LOOP_ISOLATED = 3  # localisation failed or the inventory fell below its floor


def _read_str(what: str, data: bytes, offset: int, pattern: re.Pattern[str]) -> tuple[str, int]:
    if offset >= len(data):
        raise DecodeError(f"{what}", expected="length u8 + ASCII", got="end of data")
    size = data[offset]
    raw = data[offset + 1 : offset + 1 + size]
    if len(raw) != size:
        raise DecodeError(what, expected=f"{size} bytes", got=f"{len(raw)} bytes")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        raise DecodeError(what, expected="ASCII", got=raw[:16]) from exc
    if not pattern.fullmatch(text):
        raise DecodeError(what, expected=f"an id of the form {pattern.pattern}", got=text)
    return text, offset + 1 + size


def _pack_str(text: str) -> bytes:
    raw = text.encode("ascii")
    if len(raw) > 255:
        raise ValueError(f"{text[:20]}...: at most 255 characters")
    return bytes([len(raw)]) + raw


def _end(what: str, data: bytes, offset: int) -> None:
    if offset != len(data):
        raise DecodeError(what, expected=f"{offset} bytes", got=f"{len(data)} bytes")


@dataclass(frozen=True)
class SwitchPump:
    """TC 131,1."""

    loop_id: str
    pump_id: str

    def pack(self) -> bytes:
        return _pack_str(self.loop_id) + _pack_str(self.pump_id)

    @classmethod
    def unpack(cls, data: bytes) -> SwitchPump:
        loop_id, offset = _read_str("switch_pump.loop_id", data, 0, LOOP_ID)
        pump_id, offset = _read_str("switch_pump.pump_id", data, offset, PUMP_ID)
        _end("switch_pump", data, offset)
        return cls(loop_id, pump_id)


@dataclass(frozen=True)
class LoopRef:
    """TC 131,6 / 131,7."""

    loop_id: str

    def pack(self) -> bytes:
        return _pack_str(self.loop_id)

    @classmethod
    def unpack(cls, data: bytes) -> LoopRef:
        loop_id, offset = _read_str("loop.loop_id", data, 0, LOOP_ID)
        _end("loop", data, offset)
        return cls(loop_id)


@dataclass(frozen=True)
class PanelRef:
    """TC 131,2 / 131,3."""

    panel_id: str

    def pack(self) -> bytes:
        return _pack_str(self.panel_id)

    @classmethod
    def unpack(cls, data: bytes) -> PanelRef:
        panel_id, offset = _read_str("panel.panel_id", data, 0, PANEL_ID)
        _end("panel", data, offset)
        return cls(panel_id)


@dataclass(frozen=True)
class SensorRef:
    """TC 131,4 / 131,5."""

    sensor_id: str

    def pack(self) -> bytes:
        return _pack_str(self.sensor_id)

    @classmethod
    def unpack(cls, data: bytes) -> SensorRef:
        sensor_id, offset = _read_str("sensor.sensor_id", data, 0, SENSOR_ID)
        _end("sensor", data, offset)
        return cls(sensor_id)


UNPACKERS = {
    1: SwitchPump.unpack,
    2: PanelRef.unpack,
    3: PanelRef.unpack,
    4: SensorRef.unpack,
    5: SensorRef.unpack,
    6: LoopRef.unpack,
    7: LoopRef.unpack,
}

# The AI1 layout the HK structure is built for (flight software's Config defaults).
DEFAULT_LOOPS = ("L1", "L2")
DEFAULT_PANELS = tuple(f"P{i:02d}" for i in range(1, 9))

LOOP_PARAMETERS: tuple[tuple[str, str, str, str], ...] = (
    ("active_pump", "u8", "code", "pump thermal control runs (PumpCode: 0 none, 1 A, 2 B)"),
    ("speed_cmd_rpm", "f32", "rpm", "pump speed last commanded by the closed loop"),
    ("isolated", "u8", "bool", "loop isolated (pumps stopped, its compute off)"),
    ("leak_state", "u8", "code", "LeakState: 0 none, 1 localising, 2 panel, 3 loop isolated"),
    ("no_flow", "u8", "bool", "no coolant flow (its compute shed)"),
    ("compute_limit_w", "f32", "W", "thermal ComputeLimit on the loop (invalid = none)"),
    ("capacity_w", "f32", "W", "estimated rejection at the radiator limit, panels in service"),
    ("flow_per_krpm", "f32", "kg/s/krpm", "learnt healthy flow per 1000 rpm of its pump"),
)
PANEL_PARAMETERS: tuple[tuple[str, str, str, str], ...] = (
    ("voted_temp_k", "f32", "K", "voted temperature (median of sensors in vote)"),
    ("sensors_in_vote", "u8", "count", "sensors in the vote (< 2: vote lost)"),
    ("isolated", "u8", "bool", "panel valve closed by thermal control or the ground"),
)


def hk_parameter_names(
    loops: tuple[str, ...] = DEFAULT_LOOPS, panels: tuple[str, ...] = DEFAULT_PANELS
) -> list[tuple[str, str, str, str]]:
    """(name, format, unit, description) of every SID 5 parameter, in order."""
    out = [
        (f"thermal.{loop}.{name}", fmt, unit, f"Loop {loop}: {what}.")
        for loop in loops
        for name, fmt, unit, what in LOOP_PARAMETERS
    ]
    out += [
        (f"thermal.{panel}.{name}", fmt, unit, f"Panel {panel}: {what}.")
        for panel in panels
        for name, fmt, unit, what in PANEL_PARAMETERS
    ]
    out.append(
        ("thermal.sensors_voted_out", "u8", "count", "Radiator sensors out of the vote now.")
    )
    return out
