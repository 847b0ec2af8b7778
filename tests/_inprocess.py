"""An in-process satellite (hwsim + flightsw in the test's event loop) for fast tests.

The in-process form is a convenience for fast tests; tests/hil starts real processes.
Both run the clock accelerated, and every wait is a mission-time timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from flightsw.app import FlightReady, FlightSettings, boot
from hwsim.app import HwsimSettings, serve
from runtime.service import ServiceSpec

SPEED = 20.0
T = TypeVar("T")


@dataclass
class InProcessSatellite:
    udp_port: int
    device_endpoint: str
    simctl_endpoint: str
    bus_pub_endpoint: str


@contextlib.asynccontextmanager
async def in_process_satellite(
    specs: list[ServiceSpec] | None = None,
    speed: float = SPEED,
    hwsim_config: Path | None = None,
    push: str | None = None,
) -> AsyncIterator[InProcessSatellite]:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    hw_ready: asyncio.Future[tuple[str, str]] = loop.create_future()
    hw_settings = HwsimSettings(
        device_endpoint="tcp://127.0.0.1:0",
        simctl_endpoint="tcp://127.0.0.1:0",
        clock="accelerated",
        speed=speed,
        config=hwsim_config,
        # Threads: no worker processes to spawn per test satellite (tests/hil and
        # test_hwsim_jobs run the process pool).
        job_executor="thread",
    )
    hw_task = asyncio.create_task(serve(hw_settings, stop, hw_ready))
    fsw_task: asyncio.Task[None] | None = None
    try:
        device_endpoint, simctl_endpoint = await _ready_or_failed(hw_ready, hw_task)
        fsw_ready: asyncio.Future[FlightReady] = loop.create_future()
        settings = FlightSettings(
            device_endpoint=device_endpoint,
            port=0,
            bus_pub_endpoint="tcp://127.0.0.1:0",
            bus_sub_endpoint="tcp://127.0.0.1:0",
            push=push,
        )
        fsw_task = asyncio.create_task(boot(settings, stop, specs, ready=fsw_ready))
        flight = await _ready_or_failed(fsw_ready, fsw_task)
        yield InProcessSatellite(
            flight.udp_port, device_endpoint, simctl_endpoint, flight.bus_pub_endpoint
        )
    finally:
        stop.set()
        for task in (fsw_task, hw_task):
            if task is not None:
                await asyncio.wait_for(task, 30)


async def _ready_or_failed(ready: asyncio.Future[T], task: asyncio.Task[None]) -> T:
    """The ready value, or the task's own error if it dies first (not a blind timeout)."""
    await asyncio.wait((ready, task), timeout=60, return_when=asyncio.FIRST_COMPLETED)
    if ready.done():
        return ready.result()
    if task.done():
        task.result()
        raise RuntimeError("process finished before it was ready")
    raise TimeoutError("not ready within 60 s of wall time")
