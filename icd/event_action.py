"""PUS service 19, event-action: the subset of ECSS-E-ST-70-41C (PUS-C) §6.19 flown here, and
its application-data layouts (big-endian; "str" = length u8 + UTF-8).

An event-action definition stores one whole PUS-C telecommand packet and the event that
fires it:

    EA        ea_id u16 (≥ 1), event id u16 (a dictionary event), match str (empty = any
              occurrence of the event; otherwise the event's message must contain it, e.g.
              'PMON 12 ' or 'pump.L1.A', so one event id can drive a response per unit),
              TC length u16 + the TC packet (CCSDS primary header, PUS-C TC secondary header,
              application data, CRC; at most 1024 bytes)

Deviation from PUS-C, on purpose: a definition has its own id (``ea_id``) instead of being
identified by its event alone, so one event may fire several definitions (a sequence, in
``ea_id`` order) and a definition may be narrowed to one unit by ``match``.

Telecommands and reports:
    19,1  add definitions         N u8 (≥ 1) + N × EA (added disabled, as PUS-C says: 19,4
                                  enables them; all or none)
    19,2  delete definitions      N u8 (≥ 1) + N × ea_id u16
    19,4  enable definitions      N u8 (≥ 1) + N × ea_id u16
    19,5  disable definitions     N u8 (≥ 1) + N × ea_id u16
    19,8  enable the event-action function    (no data)
    19,9  disable the event-action function   (no data)
    19,10 report definitions      N u8 + N × ea_id u16 (N = 0: every definition)
    19,11 TM definition report    function enabled u8, N u16 + N × (EA, enabled u8,
                                  firings u32 since added)
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Collection
from dataclasses import dataclass

from icd._reader import Reader as _Reader
from icd.errors import DecodeError, ErrorCode, RefusedError
from icd.monitoring import pack_ids, unpack_ids
from icd.pus import MAX_TC_LEN, PusTc

__all__ = [
    "ONBOARD_SOURCE_ID",
    "TC_LAYOUTS",
    "EventActionDefinition",
    "EventActionReport",
    "check_ids_in_use",
    "pack_definitions",
    "pack_ids",
    "unpack_definitions",
    "unpack_ids",
    "validate",
]

# PUS source id of the telecommands event-action dispatches on board (19 = its service): the
# services that answer them tell an FDIR response from a ground command by it.
ONBOARD_SOURCE_ID = 0x0013

MAX_DEFINITIONS_PER_REQUEST = 255


def _utf8(value: str) -> bytes:
    raw = value.encode("utf-8")
    if len(raw) > 255:
        raise ValueError("match longer than 255 bytes")
    return bytes([len(raw)]) + raw


@dataclass(frozen=True)
class EventActionDefinition:
    """One event-action definition; ``tc`` is the stored packet as it would be uplinked."""

    ea_id: int
    event_id: int
    tc: bytes
    match: str = ""

    def pack(self) -> bytes:
        return (
            struct.pack(">HH", self.ea_id, self.event_id)
            + _utf8(self.match)
            + struct.pack(">H", len(self.tc))
            + self.tc
        )

    @classmethod
    def read(cls, reader: _Reader) -> EventActionDefinition:
        ea_id = reader.take("ea_id", ">H")
        if ea_id == 0:
            raise DecodeError(f"{reader.what}.ea_id", expected="1..65535", got=0)
        event_id = reader.take("event_id", ">H")
        raw = reader.raw("match", reader.take("match_length", ">B"))
        try:
            match = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise DecodeError(f"{reader.what}.match", expected="UTF-8", got=raw[:16]) from None
        tc = bytes(reader.raw("tc", reader.take("tc_length", ">H")))
        return cls(ea_id, event_id, tc, match)

    def telecommand(self) -> PusTc:
        """The stored TC decoded (TcDecodeError if it is not a valid PUS-C TC)."""
        return PusTc.unpack(self.tc)


def pack_definitions(definitions: list[EventActionDefinition]) -> bytes:
    """19,1 application data."""
    if not 1 <= len(definitions) <= MAX_DEFINITIONS_PER_REQUEST:
        raise ValueError(f"1..{MAX_DEFINITIONS_PER_REQUEST} definitions per request")
    return bytes([len(definitions)]) + b"".join(d.pack() for d in definitions)


def unpack_definitions(data: bytes) -> list[EventActionDefinition]:
    reader = _Reader("ea_list", data)
    count = reader.take("count", ">B")
    if count == 0:
        raise DecodeError("ea_list.count", expected="1..255", got=0)
    definitions = [EventActionDefinition.read(reader) for _ in range(count)]
    reader.end()
    ids = [d.ea_id for d in definitions]
    if len(set(ids)) != len(ids):
        raise RefusedError(
            "ea_list.ea_id",
            ErrorCode.FDIR_ID_IN_USE,
            expected="distinct event-action ids in one request",
            got=sorted({i for i in ids if ids.count(i) > 1}),
        )
    return definitions


def validate(
    definition: EventActionDefinition,
    known_events: Collection[int],
    check_tc: Callable[[PusTc], None],
) -> None:
    """Raise RefusedError if ``definition`` cannot be flown: unknown event, or a stored TC
    that does not decode or that ``check_tc`` (the link's acceptance routing: APID, service,
    subservice, application data) refuses."""
    where = f"ea {definition.ea_id}"
    if definition.event_id not in known_events:
        raise RefusedError(
            f"{where}.event_id",
            ErrorCode.FDIR_UNKNOWN_EVENT,
            expected="a dictionary event id",
            got=definition.event_id,
        )
    if len(definition.tc) > MAX_TC_LEN:
        raise RefusedError(
            f"{where}.tc",
            ErrorCode.FDIR_BAD_STORED_TC,
            expected=f"<= {MAX_TC_LEN} bytes",
            got=len(definition.tc),
        )
    try:
        tc = definition.telecommand()
        check_tc(tc)
    except DecodeError as exc:
        raise RefusedError(
            f"{where}.tc",
            ErrorCode.FDIR_BAD_STORED_TC,
            expected=f"stored TC {exc.reason}: {exc.expected}",
            got=exc.got,
        ) from None


def check_ids_in_use(subservice: int, data: bytes, ids_in_use: Collection[int]) -> None:
    """The link's acceptance check against the event-action ids in force (RefusedError)."""
    if subservice == 1:
        clash = [d.ea_id for d in unpack_definitions(data) if d.ea_id in ids_in_use]
        if clash:
            raise RefusedError(
                "ea.ea_id",
                ErrorCode.FDIR_ID_IN_USE,
                expected="an event-action id not in use",
                got=clash,
            )
        return
    if subservice not in (2, 4, 5, 10):
        return
    unknown = [
        i
        for i in unpack_ids(data, allow_empty=subservice == 10, what="ea_ids")
        if i not in ids_in_use
    ]
    if unknown:
        raise RefusedError(
            "ea.ea_id",
            ErrorCode.FDIR_UNKNOWN_ID,
            expected="event-action ids in force",
            got=unknown,
        )


@dataclass(frozen=True)
class EventActionReport:
    """One entry of a 19,11 definition report."""

    definition: EventActionDefinition
    enabled: bool
    firings: int

    @staticmethod
    def pack_all(function_enabled: bool, entries: list[EventActionReport]) -> bytes:
        return struct.pack(">BH", int(function_enabled), len(entries)) + b"".join(
            e.definition.pack() + struct.pack(">BI", int(e.enabled), min(e.firings, 2**32 - 1))
            for e in entries
        )

    @staticmethod
    def unpack_all(data: bytes) -> tuple[bool, list[EventActionReport]]:
        reader = _Reader("ea_report", data)
        function_enabled = bool(reader.take("function_enabled", ">B"))
        entries = []
        for _ in range(reader.take("count", ">H")):
            definition = EventActionDefinition.read(reader)
            enabled = bool(reader.take("enabled", ">B"))
            entries.append(EventActionReport(definition, enabled, reader.take("firings", ">I")))
        reader.end()
        return function_enabled, entries


TC_LAYOUTS = {
    1: "N u8 (>= 1) + N x EA",
    2: "N u8 (>= 1) + N x ea_id u16",
    4: "N u8 (>= 1) + N x ea_id u16",
    5: "N u8 (>= 1) + N x ea_id u16",
    8: "no data",
    9: "no data",
    10: "N u8 + N x ea_id u16 (N = 0: all)",
}
