"""Sequential big-endian reads for the PUS codecs of the icd (the dictionary's services, modes
130, monitoring 12, event-action 19): every failure is a DecodeError naming the field."""

from __future__ import annotations

import struct
from typing import Any

from icd.errors import DecodeError

__all__ = ["Reader"]


class Reader:
    """Sequential big-endian reads that fail with a DecodeError naming the field."""

    def __init__(self, what: str, data: bytes) -> None:
        self.what = what
        self.data = data
        self.offset = 0

    def take(self, field: str, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        if self.offset + size > len(self.data):
            raise DecodeError(
                f"{self.what}.{field}",
                expected=f"{size} more bytes at offset {self.offset}",
                got=f"{len(self.data) - self.offset} bytes",
            )
        (value,) = struct.unpack_from(fmt, self.data, self.offset)
        self.offset += size
        return value

    def raw(self, field: str, size: int) -> bytes:
        if self.offset + size > len(self.data):
            raise DecodeError(
                f"{self.what}.{field}",
                expected=f"{size} more bytes at offset {self.offset}",
                got=f"{len(self.data) - self.offset} bytes",
            )
        value = self.data[self.offset : self.offset + size]
        self.offset += size
        return value

    def text(self, field: str, encoding: str = "ascii") -> str:
        """A length-prefixed (u8) string in ``encoding``."""
        raw = self.raw(field, self.take(f"{field}_length", ">B"))
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            expected = "ASCII" if encoding == "ascii" else encoding
            raise DecodeError(f"{self.what}.{field}", expected=expected, got=raw[:16]) from None

    def end(self) -> None:
        if self.offset != len(self.data):
            raise DecodeError(
                self.what,
                expected=f"{self.offset} bytes",
                got=f"{len(self.data)} bytes ({len(self.data) - self.offset} trailing)",
            )
