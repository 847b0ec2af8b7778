"""CCSDS Space Packets (133.0-B-2) with ECSS PUS-C secondary headers and CRC-16/CCITT-FALSE.

Layouts (big-endian):

    primary header, 6 bytes:
        version(3)=0 | type(1) TC=1 TM=0 | sec-hdr flag(1)=1 | APID(11)
        sequence flags(2)=0b11 | sequence count(14)
        data length(16) = total packet length - 7
    TC secondary header, 5 bytes:
        PUS version(4)=2 | ack flags(4) | service(8) | subservice(8) | source id(16)
    TM secondary header, 7 bytes + 7-byte CUC time field:
        PUS version(4)=2 | time reference status(4)=0 | service(8) | subservice(8)
        message type counter(16) | destination id(16) | CUC (P-field + 4 coarse + 2 fine)
    then the application/source data, then the CRC over everything before it.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from enum import IntEnum, IntFlag

from icd.cuc import CUC_FIELD_LEN, CucTime
from icd.errors import DecodeError, ErrorCode

__all__ = [
    "MAX_PACKET_LEN",
    "PRIMARY_HEADER_LEN",
    "TC_HEADER_LEN",
    "TM_HEADER_LEN",
    "AckFlags",
    "PacketType",
    "PusTc",
    "PusTm",
    "TcDecodeError",
    "crc16",
    "request_id_of",
]

PRIMARY_HEADER_LEN = 6
TC_SECONDARY_LEN = 5
TM_SECONDARY_LEN = 7 + CUC_FIELD_LEN
TC_HEADER_LEN = PRIMARY_HEADER_LEN + TC_SECONDARY_LEN
TM_HEADER_LEN = PRIMARY_HEADER_LEN + TM_SECONDARY_LEN
CRC_LEN = 2
# The satellite refuses uplinked packets longer than this (a CCSDS TC frame carries at most
# 1024 octets); a 65 542-byte packet is legal CCSDS but not a legal telecommand here.
MAX_TC_LEN = 1024
MAX_PACKET_LEN = 65_542
PUS_VERSION = 2
UNSEGMENTED = 0b11
MAX_SEQ_COUNT = (1 << 14) - 1
MAX_APID = (1 << 11) - 1


class PacketType(IntEnum):
    TM = 0
    TC = 1


class AckFlags(IntFlag):
    """Which successful verification stages the sender asks for (failures are always sent)."""

    NONE = 0
    COMPLETION = 0b0001
    PROGRESS = 0b0010
    START = 0b0100
    ACCEPTANCE = 0b1000
    ALL = 0b1111


def crc16(data: bytes | memoryview) -> int:
    """CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, no reflection, no xor-out."""
    return binascii.crc_hqx(data, 0xFFFF)


def request_id_of(packet: bytes | memoryview) -> bytes:
    """The PUS request id of a TC: its first four primary-header bytes."""
    return bytes(packet[:4])


class TcDecodeError(DecodeError):
    """A telecommand that cannot be accepted, with the PUS 1 error code to report.

    ``request_id`` and ``apid`` are set when the primary header was readable, which is what
    makes a TM(1,2) acceptance failure report possible.
    """

    def __init__(
        self,
        reason: str,
        code: ErrorCode,
        *,
        request_id: bytes | None = None,
        apid: int | None = None,
        expected: object = None,
        got: object = None,
    ) -> None:
        super().__init__(reason, expected=expected, got=got)
        self.code = code
        self.request_id = request_id
        self.apid = apid


def _primary_header(packet_type: PacketType, apid: int, seq_count: int, total_len: int) -> bytes:
    if not 0 <= apid <= MAX_APID:
        raise ValueError(f"APID must be 0..{MAX_APID}, got {apid}")
    word0 = (int(packet_type) << 12) | (1 << 11) | apid
    word1 = (UNSEGMENTED << 14) | (seq_count & MAX_SEQ_COUNT)
    return word0.to_bytes(2, "big") + word1.to_bytes(2, "big") + (total_len - 7).to_bytes(2, "big")


def _with_crc(body: bytes) -> bytes:
    return body + crc16(body).to_bytes(2, "big")


@dataclass(frozen=True, slots=True)
class PusTc:
    """A PUS-C telecommand."""

    apid: int
    service: int
    subservice: int
    app_data: bytes = b""
    seq_count: int = 0
    source_id: int = 0
    ack_flags: AckFlags = AckFlags.ALL

    def pack(self) -> bytes:
        total_len = TC_HEADER_LEN + len(self.app_data) + CRC_LEN
        body = (
            _primary_header(PacketType.TC, self.apid, self.seq_count, total_len)
            + bytes([(PUS_VERSION << 4) | int(self.ack_flags), self.service, self.subservice])
            + self.source_id.to_bytes(2, "big")
            + self.app_data
        )
        return _with_crc(body)

    @property
    def request_id(self) -> bytes:
        """The first four bytes of the packed TC, without packing it."""
        word0 = (int(PacketType.TC) << 12) | (1 << 11) | self.apid
        word1 = (UNSEGMENTED << 14) | (self.seq_count & MAX_SEQ_COUNT)
        return word0.to_bytes(2, "big") + word1.to_bytes(2, "big")

    @classmethod
    def unpack(cls, datagram: bytes | memoryview, *, max_len: int = MAX_TC_LEN) -> PusTc:
        """Decode one datagram as exactly one TC; raise :class:`TcDecodeError` with its code."""
        data = bytes(datagram)
        if len(data) < PRIMARY_HEADER_LEN:
            raise TcDecodeError(
                "truncated_header",
                ErrorCode.INVALID_LENGTH,
                expected=f">= {PRIMARY_HEADER_LEN} bytes",
                got=f"{len(data)} bytes",
            )
        word0 = int.from_bytes(data[0:2], "big")
        word1 = int.from_bytes(data[2:4], "big")
        apid = word0 & MAX_APID
        request_id = data[:4]
        declared_len = int.from_bytes(data[4:6], "big") + 7

        def fail(reason: str, code: ErrorCode, expected: object = None, got: object = None) -> None:
            raise TcDecodeError(
                reason, code, request_id=request_id, apid=apid, expected=expected, got=got
            )

        if word0 >> 13 != 0:
            fail("packet_version", ErrorCode.ILLEGAL_PACKET_TYPE, 0, word0 >> 13)
        if (word0 >> 12) & 1 != PacketType.TC:
            fail("packet_type", ErrorCode.ILLEGAL_PACKET_TYPE, "TC (1)", "TM (0)")
        if len(data) > max_len:
            fail("oversized", ErrorCode.INVALID_LENGTH, f"<= {max_len} bytes", f"{len(data)} bytes")
        if declared_len != len(data):
            fail("length_mismatch", ErrorCode.INVALID_LENGTH, declared_len, len(data))
        if len(data) < TC_HEADER_LEN + CRC_LEN:
            fail(
                "truncated_secondary_header",
                ErrorCode.INVALID_LENGTH,
                f">= {TC_HEADER_LEN + CRC_LEN} bytes",
                f"{len(data)} bytes",
            )
        if crc16(data) != 0:
            # CRC over the packet including its own CRC is zero exactly when the CRC matches.
            fail(
                "crc",
                ErrorCode.INVALID_CHECKSUM,
                hex(crc16(data[:-CRC_LEN])),
                hex(int.from_bytes(data[-CRC_LEN:], "big")),
            )
        if not (word0 >> 11) & 1:
            fail("no_secondary_header", ErrorCode.ILLEGAL_PACKET_TYPE, 1, 0)
        if word1 >> 14 != UNSEGMENTED:
            fail("segmented", ErrorCode.ILLEGAL_PACKET_TYPE, bin(UNSEGMENTED), bin(word1 >> 14))
        if data[6] >> 4 != PUS_VERSION:
            fail("pus_version", ErrorCode.UNSUPPORTED_PUS_VERSION, PUS_VERSION, data[6] >> 4)
        return cls(
            apid=apid,
            service=data[7],
            subservice=data[8],
            app_data=data[TC_HEADER_LEN:-CRC_LEN],
            seq_count=word1 & MAX_SEQ_COUNT,
            source_id=int.from_bytes(data[9:11], "big"),
            ack_flags=AckFlags(data[6] & 0x0F),
        )


@dataclass(frozen=True, slots=True)
class PusTm:
    """A PUS-C telemetry packet."""

    apid: int
    service: int
    subservice: int
    time: CucTime
    source_data: bytes = b""
    seq_count: int = 0
    msg_counter: int = 0
    dest_id: int = 0

    def pack(self) -> bytes:
        total_len = TM_HEADER_LEN + len(self.source_data) + CRC_LEN
        if total_len > MAX_PACKET_LEN:
            raise ValueError(f"TM packet of {total_len} bytes exceeds {MAX_PACKET_LEN}")
        body = (
            _primary_header(PacketType.TM, self.apid, self.seq_count, total_len)
            + bytes([PUS_VERSION << 4, self.service, self.subservice])
            + (self.msg_counter & 0xFFFF).to_bytes(2, "big")
            + self.dest_id.to_bytes(2, "big")
            + self.time.pack()
            + self.source_data
        )
        return _with_crc(body)

    @classmethod
    def unpack(cls, datagram: bytes | memoryview) -> PusTm:
        data = bytes(datagram)
        if len(data) < TM_HEADER_LEN + CRC_LEN:
            raise DecodeError(
                "tm_length",
                expected=f">= {TM_HEADER_LEN + CRC_LEN} bytes",
                got=f"{len(data)} bytes",
            )
        word0 = int.from_bytes(data[0:2], "big")
        word1 = int.from_bytes(data[2:4], "big")
        declared_len = int.from_bytes(data[4:6], "big") + 7
        if (word0 >> 12) & 1 != PacketType.TM:
            raise DecodeError("packet_type", expected="TM (0)", got="TC (1)")
        if declared_len != len(data):
            raise DecodeError("length_mismatch", expected=declared_len, got=len(data))
        if crc16(data) != 0:
            raise DecodeError(
                "crc",
                expected=hex(crc16(data[:-CRC_LEN])),
                got=hex(int.from_bytes(data[-CRC_LEN:], "big")),
            )
        if data[6] >> 4 != PUS_VERSION:
            raise DecodeError("pus_version", expected=PUS_VERSION, got=data[6] >> 4)
        return cls(
            apid=word0 & MAX_APID,
            service=data[7],
            subservice=data[8],
            time=CucTime.unpack(data[13:20]),
            source_data=data[TM_HEADER_LEN:-CRC_LEN],
            seq_count=word1 & MAX_SEQ_COUNT,
            msg_counter=int.from_bytes(data[9:11], "big"),
            dest_id=int.from_bytes(data[11:13], "big"),
        )
