"""The RF link end to end in one process: ping, verification, and the bad-input table."""

from __future__ import annotations

import os
import random

import pytest
from _inprocess import in_process_satellite

from ground.station import Ground, Telemetry
from icd.cuc import CucTime
from icd.dictionary import EventId
from icd.errors import ErrorCode
from icd.pus import AckFlags, PusTc, PusTm, crc16
from runtime.clock import SteppedClock

# The in-process satellite runs on a stepped clock: each test takes a second or two, so a
# hang shows within a minute even on a loaded host.
pytestmark = pytest.mark.timeout(60)


async def test_ping_every_apid_gets_full_verification_and_reply(ground: Ground):
    for apid in (1, 2):
        result = await ground.ping(apid=apid)
        assert result.stages == [1, 3, 7]
        assert [r.kind for r in result.replies] == [(17, 2)]
        assert all(r.apid == apid for r in result.reports + result.replies)


async def test_ack_flags_are_honoured_failures_always_sent(ground: Ground):
    silent = await ground.command(17, 1, ack=AckFlags.COMPLETION, reply=(17, 2))
    assert silent.stages == [7]
    bad = await ground.command(99, 1, ack=AckFlags.NONE | AckFlags.COMPLETION)
    assert bad.stages == [2] and bad.error_code == ErrorCode.ILLEGAL_SERVICE


async def test_telemetry_time_is_mission_time_and_advances(ground: Ground):
    first = (await ground.ping()).replies[0]
    second = (await ground.ping()).replies[0]
    assert first.time_s > 800_000_000  # 2026 after the 2000 epoch
    assert second.time_s >= first.time_s


def _tc(**fields) -> bytes:
    defaults = {"apid": 1, "service": 17, "subservice": 1, "seq_count": 77}
    return PusTc(**(defaults | fields)).pack()


def _with_bad_crc(packet: bytes) -> bytes:
    return packet[:-2] + bytes([packet[-2] ^ 0xFF, packet[-1]])


def _with_length_field(packet: bytes, declared_len: int) -> bytes:
    body = packet[:4] + (declared_len - 7).to_bytes(2, "big") + packet[6:-2]
    return body + crc16(body).to_bytes(2, "big")


BAD_INPUTS = [
    # name, datagram, expected error code in TM(1,2) (None = not parseable: no report),
    # HK counter expected to count it
    ("truncated", b"\x18\x01\xc0", None, "link.bad_truncated"),
    ("empty", b"", None, "link.bad_truncated"),
    ("oversized", _tc(app_data=os.urandom(1500)), ErrorCode.INVALID_LENGTH, "link.bad_length"),
    ("wrong_crc", _with_bad_crc(_tc()), ErrorCode.INVALID_CHECKSUM, "link.bad_crc"),
    ("wrong_length", _with_length_field(_tc(), 40), ErrorCode.INVALID_LENGTH, "link.bad_length"),
    (
        "short_secondary",
        _with_length_field(_tc()[:8] + b"\x00\x00", 10),
        ErrorCode.INVALID_LENGTH,
        "link.bad_length",
    ),
    ("unknown_apid", _tc(apid=0x123), ErrorCode.ILLEGAL_APID, "link.bad_apid"),
    ("unknown_service", _tc(service=200), ErrorCode.ILLEGAL_SERVICE, "link.bad_service"),
    ("unknown_subservice", _tc(subservice=9), ErrorCode.ILLEGAL_SUBSERVICE, "link.bad_service"),
    (
        "tm_sent_up",
        PusTm(1, 17, 2, CucTime(1, 0)).pack(),
        ErrorCode.ILLEGAL_PACKET_TYPE,
        "link.bad_header",
    ),
    (
        "bad_app_data",
        _tc(service=3, subservice=5, app_data=b"\x02\x00"),
        ErrorCode.INVALID_APP_DATA,
        "link.bad_app_data",
    ),
]


@pytest.mark.parametrize(
    ("name", "datagram", "code", "counter"), BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS]
)
async def test_bad_input_is_reported_counted_and_survived(
    ground: Ground, name, datagram, code, counter
):
    before = (await ground.request_hk(1))[counter]
    event = ground.expect(lambda tm: tm.event_id in (EventId.BAD_DATAGRAM, EventId.TC_REJECTED))
    failure = ground.expect(lambda tm: tm.kind == (1, 2) and tm.request_id == datagram[:4])
    any_failure = ground.expect(lambda tm: tm.kind == (1, 2))
    ground.send_raw(datagram)
    bad_event: Telemetry = await ground.clock.wait_for(event, 10)
    assert f"{len(datagram)} B" in (bad_event.message or "")
    if code is not None:
        report = await ground.clock.wait_for(failure, 10)
        assert report.error_code == code
    # Still alive, and the counter moved by exactly one.
    assert (await ground.ping()).ok
    if code is None:
        # The link sends a failure report while it handles the datagram, before the event (a
        # bus round trip) and before the reply to any later TC: with the event and the ping
        # down, a report for the unparseable datagram would already be here. (Independent
        # of load, unlike watching for one over a span of time.)
        assert not any_failure.done(), f"unexpected report: {any_failure.result().summary()}"
        failure.cancel()
    any_failure.cancel()
    after = await ground.request_hk(1)
    assert after[counter] == before + 1
    assert after["link.tc_rejected"] >= 1


async def test_random_datagrams_never_stop_the_satellite(ground: Ground):
    rng = random.Random(1234)
    # Bursts of 50 with a ping between them: UDP may drop what overflows a socket buffer,
    # and this test is about the satellite surviving garbage, not about loopback capacity.
    for _ in range(6):
        for _ in range(50):
            ground.send_raw(rng.randbytes(rng.randrange(0, 300)))
        assert (await ground.ping(timeout=120)).ok
    hk = await ground.request_hk(1)
    assert hk["link.tc_rejected"] >= 300
    # Accepted TCs are counted in the once-a-second update.
    await ground.wait_for(
        lambda tm: (
            tm.sid == 1
            and tm.parameters["link.tc_accepted"] >= 7
            and tm.parameters["link.tc_received"] >= 307
        ),
        timeout=10,
    )


async def test_bad_datagram_events_are_rate_limited_but_all_counted(ground: Ground):
    for _ in range(100):
        ground.send_raw(b"\x00")
    assert (await ground.ping(timeout=120)).ok
    hk = await ground.request_hk(1)
    assert hk["link.bad_truncated"] == 100


async def test_push_target_gets_telemetry_without_ever_sending_a_tc():
    clock = SteppedClock()
    async with Ground("127.0.0.1", 9, clock=clock) as listener:  # never sends anything
        host, port = listener.local_address
        async with in_process_satellite(push=f"{host}:{port}", clock=clock) as sat:
            hk = await listener.wait_for(lambda tm: tm.sid == 1, timeout=10)
            assert hk.parameters["time.synced"] == 1
            async with Ground("127.0.0.1", sat.udp_port, clock=sat.clock) as operator:
                copied = listener.expect(lambda tm: tm.kind == (17, 2))
                await operator.ping()
                assert (await listener.clock.wait_for(copied, 10)).apid == 1
