"""CCSDS Unsegmented time Code (CUC, CCSDS 301.0-B-4) with its P-field.

Every TM packet carries mission time as a 7-byte field: one P-field octet, 4 coarse octets
(whole seconds) and 2 fine octets (1/65 536 s). The epoch is agency-defined: 2000-01-01T00:00:00
(``runtime.clock.MISSION_EPOCH``), signalled by time code id 0b010 in the P-field.
"""

from __future__ import annotations

from dataclasses import dataclass

from icd.errors import DecodeError

__all__ = ["CUC_FIELD_LEN", "CUC_P_FIELD", "CucTime"]

NS_PER_S = 1_000_000_000
FINE_UNITS_PER_S = 1 << 16
# 0 | 010 (agency-defined epoch) | 11 (4 coarse octets) | 10 (2 fine octets)
CUC_P_FIELD = 0b0_010_11_10
CUC_FIELD_LEN = 7


@dataclass(frozen=True, slots=True)
class CucTime:
    """Mission time as CUC: ``coarse_s`` whole seconds and ``fine`` 1/65 536 s units."""

    coarse_s: int
    fine: int

    @classmethod
    def from_ns(cls, mission_ns: int) -> CucTime:
        coarse_s, rest_ns = divmod(int(mission_ns), NS_PER_S)
        if not 0 <= coarse_s < 1 << 32:
            raise ValueError(f"mission time {mission_ns} ns does not fit a 4-octet CUC")
        return cls(coarse_s, rest_ns * FINE_UNITS_PER_S // NS_PER_S)

    def to_ns(self) -> int:
        return self.coarse_s * NS_PER_S + self.fine * NS_PER_S // FINE_UNITS_PER_S

    def to_s(self) -> float:
        return self.coarse_s + self.fine / FINE_UNITS_PER_S

    def pack(self) -> bytes:
        return (
            bytes([CUC_P_FIELD]) + self.coarse_s.to_bytes(4, "big") + self.fine.to_bytes(2, "big")
        )

    @classmethod
    def unpack(cls, data: bytes | memoryview) -> CucTime:
        if len(data) < CUC_FIELD_LEN:
            raise DecodeError(
                "cuc_length", expected=f"{CUC_FIELD_LEN} bytes", got=f"{len(data)} bytes"
            )
        if data[0] != CUC_P_FIELD:
            raise DecodeError("cuc_p_field", expected=hex(CUC_P_FIELD), got=hex(data[0]))
        return cls(int.from_bytes(data[1:5], "big"), int.from_bytes(data[5:7], "big"))
