"""PUS-C codec: round trips, properties, cross-decoding with spacepackets, typed errors."""

from __future__ import annotations

import binascii

import pytest
from hypothesis import given
from hypothesis import strategies as st
from spacepackets.ecss import PusTc as SpTc
from spacepackets.ecss import PusTm as SpTm

from icd.cuc import CUC_FIELD_LEN, CucTime
from icd.errors import DecodeError, ErrorCode
from icd.pus import AckFlags, PusTc, PusTm, TcDecodeError, crc16

apids = st.integers(0, 2047)
bytes8 = st.integers(0, 255)
u16 = st.integers(0, 0xFFFF)
seqs = st.integers(0, 0x3FFF)
app_data = st.binary(max_size=200)


def test_crc_is_ccitt_false():
    assert crc16(b"123456789") == 0x29B1  # the catalogue check value of CRC-16/CCITT-FALSE
    assert crc16(b"123456789") == binascii.crc_hqx(b"123456789", 0xFFFF)


def test_ping_tc_layout_matches_reference():
    packet = PusTc(apid=1, service=17, subservice=1, seq_count=5, source_id=0x10).pack()
    assert packet[0] >> 5 == 0  # version 0
    assert (packet[0] >> 4) & 1 == 1  # TC
    assert (packet[0] >> 3) & 1 == 1  # secondary header
    assert int.from_bytes(packet[0:2], "big") & 0x7FF == 1
    assert packet[2] >> 6 == 0b11  # unsegmented
    assert int.from_bytes(packet[4:6], "big") == len(packet) - 7
    assert packet[6] == 0x2F  # PUS version 2, all acks
    assert (packet[7], packet[8]) == (17, 1)
    assert len(packet) == 6 + 5 + 2
    assert crc16(packet) == 0


@given(apids, bytes8, bytes8, app_data, seqs, u16, st.integers(0, 15))
def test_tc_round_trip(apid, service, subservice, data, seq, source, ack):
    tc = PusTc(apid, service, subservice, data, seq, source, AckFlags(ack))
    assert PusTc.unpack(tc.pack(), max_len=65_542) == tc
    assert tc.request_id == tc.pack()[:4]


@given(apids, bytes8, bytes8, app_data, seqs, u16, st.integers(0, 15))
def test_tc_decoded_by_spacepackets(apid, service, subservice, data, seq, source, ack):
    raw = PusTc(apid, service, subservice, data, seq, source, AckFlags(ack)).pack()
    theirs = SpTc.unpack(raw)
    assert (theirs.apid, theirs.service, theirs.message_subtype) == (apid, service, subservice)
    assert (theirs.seq_count, theirs.source_id, theirs.app_data) == (seq, source, data)
    assert theirs.pack() == raw


@given(
    apids,
    bytes8,
    bytes8,
    app_data,
    seqs,
    u16,
    u16,
    st.integers(0, 2**32 - 1),
    st.integers(0, 0xFFFF),
)
def test_tm_round_trip_and_spacepackets(
    apid, service, subservice, data, seq, counter, dest, coarse, fine
):
    tm = PusTm(apid, service, subservice, CucTime(coarse, fine), data, seq, counter, dest)
    raw = tm.pack()
    assert PusTm.unpack(raw) == tm
    theirs = SpTm.unpack(raw, timestamp_len=CUC_FIELD_LEN)
    assert (theirs.apid, theirs.service, theirs.message_subtype) == (apid, service, subservice)
    header = theirs.pus_tm_sec_header
    assert header.pus_version == 2
    assert (theirs.seq_count, header.message_counter, header.dest_id) == (seq, counter, dest)
    assert theirs.source_data == data
    assert theirs.timestamp == CucTime(coarse, fine).pack()


def test_spacepackets_tc_decoded_by_us():
    theirs = SpTc(service=17, message_subtype=1, apid=1, seq_count=42, source_id=7).pack()
    ours = PusTc.unpack(theirs)
    assert (ours.apid, ours.service, ours.subservice, ours.seq_count, ours.source_id) == (
        1,
        17,
        1,
        42,
        7,
    )
    assert ours.ack_flags == AckFlags.ALL


def _valid() -> bytes:
    return PusTc(apid=1, service=17, subservice=1, seq_count=3).pack()


def _recrc(body: bytes) -> bytes:
    return body + crc16(body).to_bytes(2, "big")


@pytest.mark.parametrize(
    ("datagram", "reason", "code", "has_request_id"),
    [
        (b"", "truncated_header", ErrorCode.INVALID_LENGTH, False),
        (b"\x18\x01\xc0", "truncated_header", ErrorCode.INVALID_LENGTH, False),
        (_valid()[:-1], "length_mismatch", ErrorCode.INVALID_LENGTH, True),
        (_valid() + b"\x00", "length_mismatch", ErrorCode.INVALID_LENGTH, True),
        (_valid()[:-2] + b"\x00\x00", "crc", ErrorCode.INVALID_CHECKSUM, True),
        (PusTc(1, 17, 1, b"x" * 2000).pack(), "oversized", ErrorCode.INVALID_LENGTH, True),
        (PusTm(1, 17, 2, CucTime(1, 0)).pack(), "packet_type", ErrorCode.ILLEGAL_PACKET_TYPE, True),
        (
            _recrc(bytes([0x10]) + _valid()[1:-2]),
            "no_secondary_header",
            ErrorCode.ILLEGAL_PACKET_TYPE,
            True,
        ),
        (
            _recrc(_valid()[:2] + bytes([0x40]) + _valid()[3:-2]),
            "segmented",
            ErrorCode.ILLEGAL_PACKET_TYPE,
            True,
        ),
        (
            _recrc(_valid()[:6] + bytes([0x1F]) + _valid()[7:-2]),
            "pus_version",
            ErrorCode.UNSUPPORTED_PUS_VERSION,
            True,
        ),
        (
            _recrc(bytes([0x38]) + _valid()[1:-2]),
            "packet_version",
            ErrorCode.ILLEGAL_PACKET_TYPE,
            True,
        ),
    ],
)
def test_bad_tc_errors_carry_code_and_request_id(datagram, reason, code, has_request_id):
    with pytest.raises(TcDecodeError) as caught:
        PusTc.unpack(datagram)
    assert caught.value.reason == reason
    assert caught.value.code == code
    assert (caught.value.request_id is not None) == has_request_id
    if has_request_id:
        assert caught.value.request_id == datagram[:4]


@given(st.binary(max_size=300))
def test_random_bytes_either_decode_or_raise_typed_error(datagram):
    try:
        tc = PusTc.unpack(datagram)
    except TcDecodeError as error:
        assert isinstance(error.code, ErrorCode)
        return
    assert tc.pack() == datagram


def test_tm_decode_errors_are_typed():
    raw = PusTm(1, 3, 25, CucTime(5, 0), b"abc").pack()
    with pytest.raises(DecodeError, match="crc"):
        PusTm.unpack(raw[:-1] + bytes([raw[-1] ^ 1]))
    with pytest.raises(DecodeError, match="tm_length"):
        PusTm.unpack(raw[:10])


@given(st.integers(0, (2**32 - 1) * 10**9))
def test_cuc_resolution(mission_ns):
    cuc = CucTime.from_ns(mission_ns)
    assert CucTime.unpack(cuc.pack()) == cuc
    assert 0 <= mission_ns - cuc.to_ns() < 10**9 / 65536 + 1


def test_cuc_p_field_and_errors():
    packed = CucTime.from_ns(1_500_000_000).pack()
    assert packed[0] == 0x2E and len(packed) == 7
    assert CucTime.unpack(packed).fine == 32768
    with pytest.raises(DecodeError, match="cuc_p_field"):
        CucTime.unpack(b"\x1e" + packed[1:])
    with pytest.raises(ValueError):
        CucTime.from_ns(2**32 * 10**9)
