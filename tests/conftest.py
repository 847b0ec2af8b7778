"""Shared fixtures: an in-process satellite and a ground station in contact with it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from _inprocess import SPEED, InProcessSatellite, in_process_satellite

from ground.station import Ground


@pytest.fixture
async def satellite() -> AsyncIterator[InProcessSatellite]:
    async with in_process_satellite() as sat:
        yield sat


@pytest.fixture
async def ground(satellite: InProcessSatellite) -> AsyncIterator[Ground]:
    async with Ground("127.0.0.1", satellite.udp_port, speed=SPEED) as station:
        # Contact first: unsolicited telemetry goes to grounds that have sent a TC.
        await station.ping()
        yield station
