"""PUS service 130 (mission-specific): mode management, APID 1 (platform).

Layouts (big-endian; "str" = length u8 + ASCII):
- 130,1 TC request mode: mode u8 (``icd.dictionary.Mode``), reason str (may be empty).
- 130,2 TC report mode: no data; answered by
- 130,3 TM mode report: mode u8, previous u8, since f64 (mission seconds since the CUC epoch,
  when the mode was entered), transitions u32 (since boot), reason str (why the mode was
  entered).

``unpack`` checks what acceptance can check (a known mode, ASCII text, no trailing bytes);
whether a transition is allowed is the mode manager's decision at execution (TM 1,8
``MODE_DENIED`` with a ``MODE_DENIED`` event that says why).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from icd._reader import Reader
from icd.dictionary import Mode
from icd.errors import DecodeError

__all__ = ["ModeReport", "RequestMode", "unpack_no_data"]


def _text(value: str) -> bytes:
    raw = value.encode("ascii", errors="replace")[:255]
    return bytes([len(raw)]) + raw


class _Reader(Reader):
    """The icd's reader, with a mode byte and printable reasons."""

    def mode(self, field: str) -> Mode:
        raw = int(self.take(field, ">B"))
        try:
            return Mode(raw)
        except ValueError:
            raise DecodeError(
                f"{self.what}.{field}", expected=[f"{m.value} {m.name}" for m in Mode], got=raw
            ) from None

    def text(self, field: str, encoding: str = "ascii") -> str:
        text = super().text(field, encoding)
        if not text.isprintable():
            raise DecodeError(
                f"{self.what}.{field}", expected="printable ASCII", got=text.encode()[:16]
            )
        return text


@dataclass(frozen=True)
class RequestMode:
    """TC 130,1: the ground asks for ``mode``; ``reason`` is named in the transition event."""

    mode: Mode
    reason: str = ""

    def pack(self) -> bytes:
        return bytes([int(self.mode)]) + _text(self.reason)

    @classmethod
    def unpack(cls, data: bytes) -> RequestMode:
        reader = _Reader("request_mode", data)
        mode = reader.mode("mode")
        reason = reader.text("reason")
        reader.end()
        return cls(mode, reason)


@dataclass(frozen=True)
class ModeReport:
    """TM 130,3: the mode in force (reply to 130,2)."""

    mode: Mode
    previous: Mode
    since_s: float
    transitions: int
    reason: str = ""

    def pack(self) -> bytes:
        return struct.pack(
            ">BBdI",
            int(self.mode),
            int(self.previous),
            self.since_s,
            min(self.transitions, 0xFFFF_FFFF),
        ) + _text(self.reason)

    @classmethod
    def unpack(cls, data: bytes) -> ModeReport:
        reader = _Reader("mode_report", data)
        mode = reader.mode("mode")
        previous = reader.mode("previous")
        since_s = float(reader.take("since_s", ">d"))
        transitions = int(reader.take("transitions", ">I"))
        reason = reader.text("reason")
        reader.end()
        return cls(mode, previous, since_s, transitions, reason)


def unpack_no_data(data: bytes) -> None:
    """130,2 carries no application data."""
    if data:
        raise DecodeError("report_mode", expected="no application data", got=f"{len(data)} bytes")
