"""Fixtures shared by the hardware-in-the-loop tests (each module provides `satellite`).

A HIL module runs its tests in one event loop (``pytest.mark.asyncio(loop_scope="module")``)
so that they can share one satellite; the fixtures here live in that loop too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from computesat.launcher import Satellite
from ground.simctl import SimControl


@pytest_asyncio.fixture(loop_scope="module")
async def simctl(satellite: Satellite) -> AsyncIterator[SimControl]:
    """The test conductor's hand on the hardware: hwsim's simulation-control port."""
    async with SimControl(satellite.simctl_endpoint) as sim:
        yield sim
