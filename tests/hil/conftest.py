"""Fixtures shared by the hardware-in-the-loop tests (each module provides `satellite`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from computesat.launcher import Satellite
from ground.simctl import SimControl


@pytest.fixture
async def simctl(satellite: Satellite) -> AsyncIterator[SimControl]:
    """The test conductor's hand on the hardware: hwsim's simulation-control port."""
    async with SimControl(satellite.simctl_endpoint) as sim:
        yield sim
