"""An in-process satellite (hwsim + flightsw in the test's event loop) for fast tests.

The in-process form is a convenience for fast, deterministic tests; tests/hil starts real
processes on an accelerated clock. Here hwsim, flight software and the test's ground station
share one stepped mission clock (``runtime.clock.SteppedClock``): mission time jumps to the
next wake-up whenever the event loop goes quiet, so a run is as fast as the CPU allows, and a
loaded host makes it slower, never different. Every wait is a mission-time timeout.

The device ports run over ``inproc://`` in one shared ZeroMQ context: a request is in the
server's queue when ``send`` returns, so no I/O thread stands between a request and its reply
while the stepped clock watches for quiet. The link to the ground is loopback UDP.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import zmq.asyncio

from flightsw.app import FlightReady, FlightSettings, boot
from ground.station import Ground
from hwsim.app import HwsimSettings, serve
from icd.dictionary import Mode
from runtime.clock import SteppedClock
from runtime.localbus import LocalBus
from runtime.ports import DevicePort
from runtime.service import ServiceSpec

T = TypeVar("T")
_names = itertools.count()


@dataclass
class InProcessSatellite:
    udp_port: int
    device_endpoint: str
    simctl_endpoint: str
    bus_pub_endpoint: str
    clock: SteppedClock
    context: zmq.asyncio.Context


@contextlib.asynccontextmanager
async def in_process_satellite(
    specs: list[ServiceSpec] | None = None,
    hwsim_config: Path | None = None,
    push: str | None = None,
    clock: SteppedClock | None = None,
    zmq_bus: bool = False,
) -> AsyncIterator[InProcessSatellite]:
    """``clock``: the mission clock to run on (a test's ground may need it first).

    The software bus is in memory (``runtime.localbus``) unless ``zmq_bus``: the ZeroMQ bus
    runs a broker thread, and on a loaded host that thread may not forward a message within
    the stepped clock's quiet window, so mission time ran ahead while services waited for
    their messages (a boot took 170-440 mission s). ``zmq_bus`` for a test that reaches the
    bus from outside (its endpoints are then loopback TCP)."""
    loop = asyncio.get_running_loop()
    # Flight software stops first, as the launcher stops it: hardware that vanished under
    # running services would only add device timeouts to the end of every test.
    stop_flight, stop_hardware = asyncio.Event(), asyncio.Event()
    clock = SteppedClock() if clock is None else clock
    context = zmq.asyncio.Context()
    name = f"inprocess-{next(_names)}"
    hw_ready: asyncio.Future[tuple[str, str, int]] = loop.create_future()
    hw_settings = HwsimSettings(
        device_endpoint=f"inproc://{name}-devices",
        simctl_endpoint=f"inproc://{name}-simctl",
        config=hwsim_config,
        # Threads: no worker processes to spawn per test satellite (tests/hil and
        # test_hwsim_jobs run the process pool).
        job_executor="thread",
    )
    hw_task = asyncio.create_task(
        serve(hw_settings, stop_hardware, hw_ready, clock=clock, context=context)
    )
    fsw_task: asyncio.Task[None] | None = None
    try:
        device_endpoint, simctl_endpoint, _ = await _ready_or_failed(hw_ready, hw_task)
        fsw_ready: asyncio.Future[FlightReady] = loop.create_future()
        settings = FlightSettings(
            device_endpoint=device_endpoint,
            port=0,
            bus_pub_endpoint="tcp://127.0.0.1:0",
            bus_sub_endpoint="tcp://127.0.0.1:0",
            push=push,
        )
        if zmq_bus:
            flight_run = boot(
                settings, stop_flight, specs, ready=fsw_ready, clock=clock, context=context
            )
        else:
            flight_run = _boot_on_local_bus(
                settings, stop_flight, specs, fsw_ready, clock, context, name
            )
        fsw_task = asyncio.create_task(flight_run)
        flight = await _ready_or_failed(fsw_ready, fsw_task)
        yield InProcessSatellite(
            flight.udp_port,
            device_endpoint,
            simctl_endpoint,
            flight.bus_pub_endpoint,
            clock,
            context,
        )
    finally:
        try:
            for stop, task in ((stop_flight, fsw_task), (stop_hardware, hw_task)):
                stop.set()
                if task is not None:
                    await asyncio.wait_for(task, 30)  # a hang bound (wall), not a window
        finally:
            context.destroy(linger=0)


async def _boot_on_local_bus(
    settings: FlightSettings,
    stop: asyncio.Event,
    specs: list[ServiceSpec] | None,
    ready: asyncio.Future[FlightReady],
    clock: SteppedClock,
    context: zmq.asyncio.Context,
    name: str,
) -> None:
    """Flight software with the in-memory bus and the real (inproc ZeroMQ) device port."""
    bus = LocalBus(name)
    port = DevicePort(context, settings.device_endpoint, clock, timeout_s=settings.device_timeout_s)
    async with port:
        await boot(
            settings,
            stop,
            specs,
            ready=ready,
            clock=clock,
            bus=bus,  # type: ignore[arg-type]  # the Bus API
            device_port=port,
        )


async def _ready_or_failed(ready: asyncio.Future[T], task: asyncio.Task[None]) -> T:
    """The ready value, or the task's own error if it dies first (not a blind timeout)."""
    await asyncio.wait((ready, task), timeout=60, return_when=asyncio.FIRST_COMPLETED)
    if ready.done():
        return ready.result()
    if task.done():
        task.result()
        raise RuntimeError("process finished before it was ready")
    raise TimeoutError("not ready within 60 s of wall time")


_FLYING = (Mode.NOMINAL, Mode.ECLIPSE)


async def until_nominal(ground: Ground, timeout_s: float = 120.0) -> None:
    """Wait (mission time) until platform HK says the mode manager has left BOOT and SAFE for
    NOMINAL or ECLIPSE: compute is held at 0 W before (the boot's SAFE hold)."""
    await ground.wait_for(
        lambda tm: tm.sid == 1 and tm.parameters.get("mode.current") in _FLYING,
        timeout_s,
    )
