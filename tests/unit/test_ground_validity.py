"""The ground side of honest telemetry: invalid HK values are None, never satisfy a wait,
say so when a wait times out, and show as stale on the console.

A plain UDP socket plays the satellite: it sends hand-packed 3,25 reports to a real Ground.
"""

from __future__ import annotations

import socket
from collections import deque
from collections.abc import AsyncIterator, Callable

import pytest

from ground.console import STALE, render
from ground.station import Ground, InvalidParameter, Telemetry
from icd import dictionary as dic
from icd.cuc import CucTime
from icd.pus import PusTm
from runtime.clock import DEFAULT_START_NS

SPEED = 100.0  # ground clock: 1 mission s = 10 wall ms, so a timeout test stays short
THERMAL = dic.HK_STRUCTURES[2]
PUMP_A = [p.name for p in THERMAL.parameters if p.name.startswith("pump.L1.A.")]


class _Satellite:
    def __init__(self, ground: Ground) -> None:
        self.ground = ground
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sent = 0

    def hk(self, invalid: tuple[str, ...] = (), value: float = 5000.0) -> None:
        pool: dict[str, float | None] = {p.name: value for p in THERMAL.parameters}
        pool.update(dict.fromkeys(invalid))
        self.sent += 1
        tm = PusTm(
            apid=dic.Apid.PLATFORM,
            service=3,
            subservice=25,
            time=CucTime.from_ns(DEFAULT_START_NS + self.sent * 2_000_000_000),
            source_data=dic.pack_hk_report(THERMAL, pool),
            seq_count=self.sent,
        )
        self.sock.sendto(tm.pack(), self.ground.local_address)


@pytest.fixture
async def link() -> AsyncIterator[_Satellite]:
    async with Ground("127.0.0.1", 9, speed=SPEED) as ground:  # never sends in these tests
        satellite = _Satellite(ground)
        try:
            yield satellite
        finally:
            satellite.sock.close()


def _speed(name: str) -> Callable[[Telemetry], bool]:
    return lambda tm: tm.sid == 2 and tm.parameters[name] > 0


async def test_invalid_values_are_none_in_the_ground_api_and_named(link: _Satellite):
    link.hk(invalid=tuple(PUMP_A))
    tm = await link.ground.wait_for(lambda tm: tm.sid == 2, timeout=5)
    assert tm.parameters["pump.L1.A.speed_rpm"] is None, tm.parameters
    assert tm.parameters["pump.L1.B.speed_rpm"] == 5000.0
    assert set(tm.invalid) == set(PUMP_A), tm.invalid
    assert "4 invalid" in tm.summary()
    with pytest.raises(InvalidParameter, match=r"pump\.L1\.A\.speed_rpm is invalid in HK 2"):
        tm.value("pump.L1.A.speed_rpm")
    assert tm.value("pump.L1.B.speed_rpm") == 5000.0
    assert link.ground.latest_hk[2].parameters["pump.L1.A.power_w"] is None


async def test_a_predicate_never_matches_on_an_invalid_value(link: _Satellite):
    wait = link.ground.expect(_speed("pump.L1.A.speed_rpm"))
    link.hk(invalid=tuple(PUMP_A))  # None > 0 raises TypeError: no match, still waiting
    link.hk()
    tm = await link.ground.clock.wait_for(wait, 5)
    assert tm.parameters["pump.L1.A.speed_rpm"] == 5000.0, "matched the valid report"
    assert [t.invalid != () for t in link.ground.archive] == [True, False]


async def test_a_wait_that_times_out_on_invalid_values_says_they_were_invalid(link: _Satellite):
    link.hk(invalid=tuple(PUMP_A))
    link.hk(invalid=("pump.L1.A.speed_rpm",))
    with pytest.raises(TimeoutError) as timed_out:
        await link.ground.wait_for(_speed("pump.L1.A.speed_rpm"), timeout=1)
    message = str(timed_out.value)
    assert "2 report(s) could not match because values were invalid" in message, message
    assert "pump.L1.A.speed_rpm" in message, message
    with pytest.raises(TimeoutError) as via_value:
        link.hk(invalid=("pump.L1.A.speed_rpm",))
        await link.ground.wait_for(lambda tm: tm.value("pump.L1.A.speed_rpm") > 0, timeout=1)
    assert "invalid (None" in str(via_value.value) and "power_w" not in str(via_value.value)


async def test_a_predicate_with_a_bug_fails_the_wait_instead_of_hanging(link: _Satellite):
    link.hk()
    with pytest.raises(KeyError, match=r"no\.such\.parameter"):
        await link.ground.wait_for(lambda tm: tm.parameters["no.such.parameter"] > 0, 5)
    link.hk()  # the station keeps receiving
    assert (await link.ground.wait_for(lambda tm: tm.sid == 2, 5)).sid == 2


async def test_console_shows_stale_for_invalid_values_only(link: _Satellite):
    link.hk(invalid=("pump.L1.A.speed_rpm",))
    await link.ground.wait_for(lambda tm: tm.sid == 2, timeout=5)
    screen = render(link.ground, deque(maxlen=8), "ping ok", width=60)
    lines = screen.splitlines()
    stale = next(line for line in lines if "pump.L1.A.speed_rpm" in line)
    assert STALE in stale and "rpm" not in stale.split("speed_rpm", 1)[1], stale
    fresh = next(line for line in lines if "pump.L1.B.speed_rpm" in line)
    assert "5000.000" in fresh and STALE not in fresh, fresh
    assert "[HK 2 thermal]" in screen and "1 stale" in screen, screen
    dimmed = render(link.ground, deque(maxlen=8), "ping ok", width=60, dim=True)
    row = next(line for line in dimmed.splitlines() if "pump.L1.A.speed_rpm" in line)
    assert row.startswith("  \x1b[2m") and "\x1b[22m" in row, repr(row)
