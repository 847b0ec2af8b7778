"""Shared fixtures: an in-process satellite and a ground station in contact with it.

The ground station keeps the satellite's own stepped clock (see ``_inprocess``), so its
mission-time timeouts are the satellite's mission time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from _inprocess import InProcessSatellite, in_process_satellite

from ground.station import Ground


@pytest.fixture
async def satellite() -> AsyncIterator[InProcessSatellite]:
    async with in_process_satellite() as sat:
        yield sat


@pytest.fixture
async def ground(satellite: InProcessSatellite) -> AsyncIterator[Ground]:
    async with Ground("127.0.0.1", satellite.udp_port, clock=satellite.clock) as station:
        # Contact first: unsolicited telemetry goes to grounds that have sent a TC.
        await station.ping()
        yield station
