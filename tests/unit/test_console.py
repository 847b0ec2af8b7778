"""The ground console: pings, then draws housekeeping and events from live telemetry."""

from __future__ import annotations

import io
from collections import deque

import pytest

from ground.console import render, run_console
from ground.station import Ground, Telemetry
from icd import dictionary as dic
from icd.dictionary import EventId

# The in-process satellite runs on a stepped clock: each test takes a second or two, so a
# hang shows within a minute even on a loaded host.
pytestmark = pytest.mark.timeout(60)


async def test_screen_shows_every_hk_structure_in_columns_and_the_events(ground: Ground):
    event = ground.expect(lambda tm: tm.event_id == EventId.BAD_DATAGRAM)
    ground.send_raw(b"\x00")
    events: deque[Telemetry] = deque([await ground.clock.wait_for(event, 10)], maxlen=8)
    for sid in (1, 2, 3):
        await ground.hk(sid)
    screen = render(ground, events, "ping ok", width=120)
    for heading in ("[HK 1 platform]", "[HK 2 thermal]", "[HK 3 payload]", "[events]"):
        assert heading in screen
    assert "BAD_DATAGRAM: 1 B from" in screen
    row = next(line for line in screen.splitlines() if "time.clock_speed" in line)
    names = {p.name for p in dic.HK_STRUCTURES[1].parameters}
    beside = [word for word in row.split() if word in names]
    assert len(beside) == 2, f"expected two parameters side by side at 120 columns: {row!r}"
    narrow = render(ground, events, "ping ok", width=60)
    assert len(narrow.splitlines()) > len(screen.splitlines())


async def test_console_pings_then_draws(satellite):
    out = io.StringIO()
    await run_console("127.0.0.1", satellite.udp_port, refresh_s=0.05, count=1, out=out)
    assert "ping ok (stages [1, 3, 7])" in out.getvalue()
