"""PUS service 12, on-board parameter monitoring: the subset of ECSS-E-ST-70-41C (PUS-C) §6.12
flown here, and its application-data layouts (big-endian; "str" = length u8 + ASCII).

A parameter monitoring definition (PMON) watches one pool parameter ('device.register' or
'service.counter', icd.dictionary HK names or a numeric register of an icd.devices kind):

    PMON           pmon_id u16 (≥ 1), parameter str, validity, repetition u8 (1..255),
                   check type u8, then the check's fields:
    validity       validity parameter str (empty = the definition is always valid); when not
                   empty: mask u32, expected value u32 — the check runs only while
                   (int(validity parameter) & mask) == expected (PUS's check validity
                   condition: e.g. a flow monitored only while its pump's switch is on)
    check type 1   limit:          low f64, low event u16, high f64, high event u16
    check type 2   expected value: mask u32, expected u32, event u16
    check type 3   delta:          low f64, low event u16, high f64, high event u16 — on the
                   change of the value between two consecutive checks (PUS's delta check
                   with one delta per sample)
    event ids: 0 = no event for that side; otherwise a dictionary event id. low < high.

Telecommands and reports:
    12,1  enable definitions      N u8 (≥ 1) + N × pmon_id u16
    12,2  disable definitions     N u8 (≥ 1) + N × pmon_id u16
    12,5  add definitions         N u8 (≥ 1) + N × PMON (all or none: one refused = none added)
    12,6  delete definitions      N u8 (≥ 1) + N × pmon_id u16
    12,7  modify definitions      N u8 (≥ 1) + N × PMON (replaces the definition of that id,
                                  keeps its enabled state; the checking status restarts)
    12,8  report definitions      N u8 + N × pmon_id u16 (N = 0: every definition)
    12,9  TM definition report    function enabled u8, N u16 + N × (PMON, enabled u8,
                                  checking status u8)
    12,12 TM check transitions    N u8 + N × (pmon_id u16, parameter str, check type u8,
                                  value f64 (NaN if none), limit crossed f64 (NaN if none),
                                  previous status u8, current status u8, time f64 mission s)
    12,15 enable the parameter monitoring function    (no data)
    12,16 disable the parameter monitoring function   (no data)

Checking status (u8, PUS-C's checking statuses): 0 unchecked (no valid value, definition
disabled, or no previous sample for a delta), 1 invalid (validity condition false), 2 within
limits / expected value / within thresholds, 3 below low, 4 above high, 5 unexpected value.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Callable, Collection
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from icd._reader import Reader as _Reader
from icd.errors import DecodeError, ErrorCode, RefusedError

__all__ = [
    "TC_LAYOUTS",
    "CheckStatus",
    "CheckTransition",
    "CheckType",
    "DefinitionReport",
    "ExpectedCheck",
    "LimitCheck",
    "MonitoringDefinition",
    "Validity",
    "check_ids_in_use",
    "pack_definitions",
    "pack_ids",
    "parameter_matcher",
    "unpack_definitions",
    "unpack_ids",
    "validate",
]

MAX_IDS = 255


class CheckType(IntEnum):
    LIMIT = 1
    EXPECTED = 2
    DELTA = 3


class CheckStatus(IntEnum):
    UNCHECKED = 0
    INVALID = 1
    WITHIN = 2
    BELOW_LOW = 3
    ABOVE_HIGH = 4
    UNEXPECTED = 5

    @property
    def violated(self) -> bool:
        return self >= CheckStatus.BELOW_LOW


def _text(value: str) -> bytes:
    raw = value.encode("ascii")
    if len(raw) > 255:
        raise ValueError(f"text longer than 255 bytes: {value[:40]}...")
    return bytes([len(raw)]) + raw


def _finite(reader_what: str, field: str, value: float) -> float:
    if not math.isfinite(value):
        raise DecodeError(f"{reader_what}.{field}", expected="a finite number", got=value)
    return value


@dataclass(frozen=True)
class Validity:
    """The check validity condition: check only while (int(parameter) & mask) == expected."""

    parameter: str
    mask: int = 0xFFFF_FFFF
    expected: int = 1

    def holds(self, value: float) -> bool:
        return (int(value) & self.mask) == self.expected


@dataclass(frozen=True)
class LimitCheck:
    """Limit (CheckType.LIMIT) or delta (CheckType.DELTA) check: violated outside [low, high]."""

    low: float
    high: float
    low_event: int = 0
    high_event: int = 0


@dataclass(frozen=True)
class ExpectedCheck:
    """Expected-value check: violated when (int(value) & mask) != expected."""

    mask: int
    expected: int
    event: int = 0


@dataclass(frozen=True)
class MonitoringDefinition:
    """One PMON. ``check`` is a LimitCheck for LIMIT and DELTA, an ExpectedCheck for EXPECTED."""

    pmon_id: int
    parameter: str
    check_type: CheckType
    check: LimitCheck | ExpectedCheck
    repetition: int = 1
    validity: Validity | None = None

    @property
    def events(self) -> tuple[int, ...]:
        if isinstance(self.check, ExpectedCheck):
            return (self.check.event,)
        return (self.check.low_event, self.check.high_event)

    def pack(self) -> bytes:
        out = struct.pack(">H", self.pmon_id) + _text(self.parameter)
        if self.validity is None:
            out += _text("")
        else:
            out += _text(self.validity.parameter)
            out += struct.pack(">II", self.validity.mask, self.validity.expected)
        out += struct.pack(">BB", self.repetition, self.check_type)
        if isinstance(self.check, ExpectedCheck):
            out += struct.pack(">IIH", self.check.mask, self.check.expected, self.check.event)
        else:
            c = self.check
            out += struct.pack(">dHdH", c.low, c.low_event, c.high, c.high_event)
        return out

    @classmethod
    def read(cls, reader: _Reader) -> MonitoringDefinition:
        pmon_id = reader.take("pmon_id", ">H")
        if pmon_id == 0:
            raise DecodeError(f"{reader.what}.pmon_id", expected="1..65535", got=0)
        parameter = reader.text("parameter")
        if not parameter:
            raise DecodeError(f"{reader.what}.parameter", expected="a parameter name", got="''")
        validity_parameter = reader.text("validity_parameter")
        validity = None
        if validity_parameter:
            mask = reader.take("validity_mask", ">I")
            expected = reader.take("validity_expected", ">I")
            validity = Validity(validity_parameter, mask, expected)
        repetition = reader.take("repetition", ">B")
        raw_type = reader.take("check_type", ">B")
        try:
            check_type = CheckType(raw_type)
        except ValueError:
            raise DecodeError(
                f"{reader.what}.check_type", expected=[int(t) for t in CheckType], got=raw_type
            ) from None
        check: LimitCheck | ExpectedCheck
        if check_type is CheckType.EXPECTED:
            check = ExpectedCheck(
                reader.take("mask", ">I"), reader.take("expected", ">I"), reader.take("event", ">H")
            )
        else:
            low = _finite(reader.what, "low", reader.take("low", ">d"))
            low_event = reader.take("low_event", ">H")
            high = _finite(reader.what, "high", reader.take("high", ">d"))
            high_event = reader.take("high_event", ">H")
            check = LimitCheck(low, high, low_event, high_event)
        return cls(pmon_id, parameter, check_type, check, repetition, validity)

    @classmethod
    def unpack(cls, data: bytes) -> MonitoringDefinition:
        reader = _Reader("pmon", data)
        definition = cls.read(reader)
        reader.end()
        return definition


def pack_definitions(definitions: list[MonitoringDefinition]) -> bytes:
    """12,5 / 12,7 application data."""
    if not 1 <= len(definitions) <= MAX_IDS:
        raise ValueError(f"1..{MAX_IDS} definitions per request")
    return bytes([len(definitions)]) + b"".join(d.pack() for d in definitions)


def unpack_definitions(data: bytes) -> list[MonitoringDefinition]:
    reader = _Reader("pmon", data)
    count = reader.take("count", ">B")
    if count == 0:
        raise DecodeError("pmon.count", expected="1..255", got=0)
    definitions = [MonitoringDefinition.read(reader) for _ in range(count)]
    reader.end()
    ids = [d.pmon_id for d in definitions]
    if len(set(ids)) != len(ids):
        raise RefusedError(
            "pmon.pmon_id",
            ErrorCode.FDIR_ID_IN_USE,
            expected="distinct PMON ids in one request",
            got=sorted({i for i in ids if ids.count(i) > 1}),
        )
    return definitions


def pack_ids(ids: list[int]) -> bytes:
    """12,1 / 12,2 / 12,6 / 12,8 application data (N = 0 only for 12,8: every definition)."""
    if len(ids) > MAX_IDS:
        raise ValueError(f"at most {MAX_IDS} ids per request")
    return struct.pack(f">B{len(ids)}H", len(ids), *ids)


def unpack_ids(data: bytes, *, allow_empty: bool = False, what: str = "pmon_ids") -> list[int]:
    reader = _Reader(what, data)
    count = reader.take("count", ">B")
    if count == 0 and not allow_empty:
        raise DecodeError(f"{what}.count", expected="1..255", got=0)
    ids = [reader.take("id", ">H") for _ in range(count)]
    reader.end()
    return ids


@dataclass(frozen=True)
class DefinitionReport:
    """One entry of a 12,9 definition report."""

    definition: MonitoringDefinition
    enabled: bool
    status: CheckStatus

    @staticmethod
    def pack_all(function_enabled: bool, entries: list[DefinitionReport]) -> bytes:
        return struct.pack(">BH", int(function_enabled), len(entries)) + b"".join(
            e.definition.pack() + struct.pack(">BB", int(e.enabled), e.status) for e in entries
        )

    @staticmethod
    def unpack_all(data: bytes) -> tuple[bool, list[DefinitionReport]]:
        reader = _Reader("pmon_report", data)
        function_enabled = bool(reader.take("function_enabled", ">B"))
        entries = []
        for _ in range(reader.take("count", ">H")):
            definition = MonitoringDefinition.read(reader)
            enabled = bool(reader.take("enabled", ">B"))
            status = CheckStatus(reader.take("status", ">B"))
            entries.append(DefinitionReport(definition, enabled, status))
        reader.end()
        return function_enabled, entries


@dataclass(frozen=True)
class CheckTransition:
    """One entry of a 12,12 check transition report."""

    pmon_id: int
    parameter: str
    check_type: CheckType
    value: float | None
    limit: float | None
    previous: CheckStatus
    current: CheckStatus
    time_s: float

    def pack(self) -> bytes:
        return (
            struct.pack(">H", self.pmon_id)
            + _text(self.parameter)
            + struct.pack(
                ">BddBBd",
                self.check_type,
                math.nan if self.value is None else self.value,
                math.nan if self.limit is None else self.limit,
                self.previous,
                self.current,
                self.time_s,
            )
        )

    @staticmethod
    def pack_all(transitions: list[CheckTransition]) -> bytes:
        if len(transitions) > MAX_IDS:
            raise ValueError(f"at most {MAX_IDS} transitions per report")
        return bytes([len(transitions)]) + b"".join(t.pack() for t in transitions)

    @staticmethod
    def unpack_all(data: bytes) -> list[CheckTransition]:
        reader = _Reader("check_transitions", data)
        out = []
        for _ in range(reader.take("count", ">B")):
            pmon_id = reader.take("pmon_id", ">H")
            parameter = reader.text("parameter")
            check_type = CheckType(reader.take("check_type", ">B"))
            value = reader.take("value", ">d")
            limit = reader.take("limit", ">d")
            previous = CheckStatus(reader.take("previous", ">B"))
            current = CheckStatus(reader.take("current", ">B"))
            time_s = reader.take("time_s", ">d")
            out.append(
                CheckTransition(
                    pmon_id,
                    parameter,
                    check_type,
                    None if math.isnan(value) else value,
                    None if math.isnan(limit) else limit,
                    previous,
                    current,
                    time_s,
                )
            )
        reader.end()
        return out


# --- meaning checks made at acceptance ------------------------------------------------------

# Placeholders of icd.devices id patterns and register tables, as regular expressions.
_PLACEHOLDERS = {
    "<n>": r"\d+",
    "<nn>": r"\d{2}",
    "<nnn>": r"\d{3}",
    "<A|B>": r"[AB]",
    "<switch>": r"[A-Za-z0-9_]+?",
}


def _pattern(form: str) -> str:
    out = ""
    rest = form
    while rest:
        match = re.match(r"<[^>]+>", rest)
        if match:
            token = match.group(0)
            out += _PLACEHOLDERS.get(token, r"[A-Za-z0-9_]+")
            rest = rest[len(token) :]
        else:
            out += re.escape(rest[0])
            rest = rest[1:]
    return out


def parameter_matcher(
    hk_names: Collection[str], kinds: dict[str, dict[str, Any]]
) -> Callable[[str], bool]:
    """A predicate saying whether ``name`` is a parameter the pool can hold: a housekeeping
    parameter, or '<device id>.<register>' of a numeric or flag register of a device kind
    (``kinds`` = ``icd.devices.device_tables()['kinds']``; text and enum registers are never
    in the pool)."""
    known = frozenset(hk_names)
    patterns = []
    for table in kinds.values():
        registers = [
            _pattern(name)
            for name, spec in table["registers"].items()
            if spec["type"] in ("float", "int", "bool")
        ]
        if registers:
            patterns.append(f"{_pattern(table['ids'])}\\.(?:{'|'.join(registers)})")
    compiled = re.compile("|".join(f"(?:{p})" for p in patterns))

    def known_parameter(name: str) -> bool:
        return name in known or compiled.fullmatch(name) is not None

    return known_parameter


def validate(
    definition: MonitoringDefinition,
    known_parameter: Callable[[str], bool],
    known_events: Collection[int],
) -> None:
    """Raise RefusedError (with its service 1 code) if ``definition`` cannot be flown."""
    where = f"pmon {definition.pmon_id}"
    for field, name in (
        ("parameter", definition.parameter),
        ("validity_parameter", definition.validity.parameter if definition.validity else None),
    ):
        if name is not None and not known_parameter(name):
            raise RefusedError(
                f"{where}.{field}",
                ErrorCode.FDIR_UNKNOWN_PARAMETER,
                expected="a housekeeping parameter or a numeric device register",
                got=name,
            )
    if definition.repetition < 1:
        raise RefusedError(
            f"{where}.repetition", ErrorCode.FDIR_BAD_DEFINITION, expected="1..255", got=0
        )
    check = definition.check
    if isinstance(check, LimitCheck) and not check.low < check.high:
        raise RefusedError(
            f"{where}.low",
            ErrorCode.FDIR_BAD_DEFINITION,
            expected=f"low < high ({check.high:g})",
            got=check.low,
        )
    for event in definition.events:
        if event and event not in known_events:
            raise RefusedError(
                f"{where}.event",
                ErrorCode.FDIR_UNKNOWN_EVENT,
                expected="0 or a dictionary event id",
                got=event,
            )


def check_ids_in_use(subservice: int, data: bytes, ids_in_use: Collection[int]) -> None:
    """The link's acceptance check against the PMON ids in force (RefusedError)."""
    if subservice == 5:
        clash = [d.pmon_id for d in unpack_definitions(data) if d.pmon_id in ids_in_use]
        if clash:
            raise RefusedError(
                "pmon.pmon_id", ErrorCode.FDIR_ID_IN_USE, expected="a PMON id not in use", got=clash
            )
        return
    if subservice == 7:
        wanted = [d.pmon_id for d in unpack_definitions(data)]
    elif subservice in (1, 2, 6, 8):
        wanted = unpack_ids(data, allow_empty=subservice == 8)
    else:
        return
    unknown = [i for i in wanted if i not in ids_in_use]
    if unknown:
        raise RefusedError(
            "pmon.pmon_id", ErrorCode.FDIR_UNKNOWN_ID, expected="PMON ids in force", got=unknown
        )


TC_LAYOUTS = {
    1: "N u8 (>= 1) + N x pmon_id u16",
    2: "N u8 (>= 1) + N x pmon_id u16",
    5: "N u8 (>= 1) + N x PMON",
    6: "N u8 (>= 1) + N x pmon_id u16",
    7: "N u8 (>= 1) + N x PMON",
    8: "N u8 + N x pmon_id u16 (N = 0: all)",
    15: "no data",
    16: "no data",
}
