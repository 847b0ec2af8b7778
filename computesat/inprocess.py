"""The whole satellite in one process: hwsim and every flight-software service on one stepped
clock, joined by in-process transports instead of ZeroMQ and UDP.

- Device ports: :class:`LocalDevicePort` is a ``runtime.ports.DevicePort`` whose transport
  (``_exchange``, the documented seam) hands the request model to hwsim's port server
  (``PortServer.answer_request``: the same checks, errors and long polls as over the socket)
  and returns its reply model. Everything above the seam (``read_model`` validation into the
  ICD register models, errors, timeouts of long polls) is the DevicePort's own code.
- Software bus: ``runtime.localbus.LocalBus`` (the Bus API, no broker).
- Clock: a ``SteppedClock(io_free=True)``: with no socket in play the loop is quiet as soon as
  no callback is ready, so mission time moves on after one loop iteration, not sixteen.

The services' code is unchanged: flight software's ``boot`` and hwsim's ``serve`` are the
real ones, told to use these transports. The link service still opens its UDP socket (port 0,
loopback) so it runs as in flight; nothing sends to it here.

Use::

    async with whole_satellite(config_path, seed=0) as sat:
        await sat.clock.sleep(600.0)          # ten mission minutes of the whole satellite
        sat.simctl(SimOp.INJECT_FAULT, ...)   # the simulation-control handler
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack

from flightsw.app import FlightReady, FlightSettings, boot
from hwsim.app import HwsimSettings, InProcessHardware, serve
from hwsim.ports import LongPoll, PortServer
from icd.device import DeviceReply, DeviceRequest
from runtime.clock import SteppedClock
from runtime.localbus import LocalBus
from runtime.ports import DevicePort, DevicePortError
from runtime.service import ServiceSpec

__all__ = ["LocalDevicePort", "WholeSatellite", "whole_satellite"]

_names = itertools.count()


class LocalDevicePort(DevicePort):
    """A DevicePort whose transport calls hwsim's port server in this process.

    Replies are the server's own ``DeviceReply`` models, not packed: a register map may hold
    a tuple where msgpack delivers a list, or a str enum member where it delivers the string
    (equal as values; ``read_model`` validates both alike). A long poll
    (``backplane.await_results``) is awaited under the port's mission-time timeout, like a
    reply on the socket.
    """

    def __init__(self, server: PortServer, clock: SteppedClock, timeout_s: float = 2.0) -> None:
        super().__init__(None, server.endpoint, clock, timeout_s)  # type: ignore[arg-type]
        self._server = server

    async def __aenter__(self) -> LocalDevicePort:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    async def _exchange(self, request: DeviceRequest, within_s: float | None = None) -> DeviceReply:
        # Answered at once (no queue to wait in): ``within_s``, the wait a shared socket may
        # spend behind another request, only bounds a long poll here.
        timeout_s = self.timeout_s if within_s is None else within_s
        reply = self._server.answer_request(request)
        if isinstance(reply, LongPoll):
            try:
                reply = await self._clock.wait_for(self._server.settle(reply), timeout_s)
            except TimeoutError:
                raise self.timeout_error(request.device, timeout_s, 0) from None
        return reply

    def sibling(self, timeout_s: float | None = None) -> LocalDevicePort:
        return LocalDevicePort(
            self._server, self._clock, self.timeout_s if timeout_s is None else timeout_s
        )


def roundtrip_reply(reply: DeviceReply) -> DeviceReply:
    """The reply as it comes out of a socket (packed and unpacked): for equivalence tests."""
    return DeviceReply.model_validate(msgpack.unpackb(reply.pack()))


@dataclass
class WholeSatellite:
    """A running in-process satellite (see :func:`whole_satellite`)."""

    clock: SteppedClock
    bus: LocalBus
    devices: LocalDevicePort
    hardware: InProcessHardware
    udp_port: int

    @property
    def model(self) -> Any:
        """hwsim's spacecraft model (the recorder reads it; flight software never does)."""
        assert self.hardware.simulation is not None
        return self.hardware.simulation.model

    def simctl(self, op: str, **args: Any) -> Any:
        """A simulation-control request (inject, clear, truth...), answered at once;
        DevicePortError on refusal, as the socket client raises."""
        assert self.hardware.simctl is not None
        reply = self.hardware.simctl.answer_request(DeviceRequest(id=0, op=op, args=args))
        assert isinstance(reply, DeviceReply)
        if not reply.ok:
            assert reply.error is not None
            raise DevicePortError(None, reply.error.code, reply.error.message)
        return reply.result


@contextlib.asynccontextmanager
async def whole_satellite(
    config: Path | None = None,
    *,
    seed: int = 0,
    physics_step_s: float = 1.0,
    specs: Callable[[FlightSettings], list[ServiceSpec]] | list[ServiceSpec] | None = None,
    on_step: Callable[[Any], None] | None = None,
    on_start: Callable[[InProcessHardware], None] | None = None,
    clock: SteppedClock | None = None,
    spacecraft_config: Any = None,
) -> AsyncIterator[WholeSatellite]:
    """hwsim (``config`` TOML, or ``spacecraft_config`` already built) and flight software
    (``specs``: the service list, or a function of the settings; default every service of
    ``flightsw.app.services``) running in this event loop until the block ends. ``on_step``
    is called with the model after every physics step, ``on_start`` (with the hardware's
    hooks: ``simctl``, ``simulation``) before the first."""
    loop = asyncio.get_running_loop()
    clock = SteppedClock(io_free=True) if clock is None else clock
    name = f"satellite-{next(_names)}"
    hooks = InProcessHardware(on_step=on_step, on_start=on_start)
    hw_settings = HwsimSettings(
        config=config, seed=seed, physics_step_s=physics_step_s, job_executor="inline"
    )
    stop_flight, stop_hardware = asyncio.Event(), asyncio.Event()
    hw_ready: asyncio.Future[tuple[str, str, int]] = loop.create_future()
    hw_task = asyncio.create_task(
        serve(
            hw_settings,
            stop_hardware,
            hw_ready,
            clock=clock,
            in_process=hooks,
            spacecraft_config=spacecraft_config,
        )
    )
    fsw_task: asyncio.Task[None] | None = None
    try:
        await _ready_or_failed(hw_ready, hw_task)
        assert hooks.device is not None
        bus = LocalBus(name)
        settings = FlightSettings(
            device_endpoint=hooks.device.endpoint,
            port=0,
            bus_pub_endpoint=bus.pub_endpoint,
            bus_sub_endpoint=bus.sub_endpoint,
        )
        port = LocalDevicePort(hooks.device, clock, timeout_s=settings.device_timeout_s)
        spec_list = specs(settings) if callable(specs) else specs
        fsw_ready: asyncio.Future[FlightReady] = loop.create_future()
        fsw_task = asyncio.create_task(
            boot(
                settings,
                stop_flight,
                spec_list,
                ready=fsw_ready,
                clock=clock,
                bus=bus,  # type: ignore[arg-type]  # the Bus API
                device_port=port,
            )
        )
        flight = await _ready_or_failed(fsw_ready, fsw_task)
        yield WholeSatellite(clock, bus, port, hooks, flight.udp_port)
    finally:
        for stop, task in ((stop_flight, fsw_task), (stop_hardware, hw_task)):
            stop.set()
            if task is not None:
                await asyncio.wait_for(task, 60)  # a hang bound (wall), not a window


async def _ready_or_failed(ready: asyncio.Future[Any], task: asyncio.Task[None]) -> Any:
    """The ready value, or the task's own error if it dies first."""
    await asyncio.wait((ready, task), timeout=120, return_when=asyncio.FIRST_COMPLETED)
    if ready.done():
        return ready.result()
    if task.done():
        task.result()
        raise RuntimeError("finished before it was ready")
    raise TimeoutError("not ready within 120 s of wall time")
