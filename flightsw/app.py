"""The flight-software process: the bus, the device ports, and the supervised services.

Boot: open the ZeroMQ context and the bus broker, connect the device port, synchronise time to
the hardware reference, then start services in order (link last, so nothing is accepted
before its owner listens). Stop (SIGINT/SIGTERM or ``stop``): services in reverse order, each
within its stop grace (failures are collected and reported together: exit code 1), then the
bus, then the context; a second signal exits at once. A service past its restart budget is
FAILED: event SERVICE_FAILED and ``supervisor.*`` in platform HK.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import zmq.asyncio
from pydantic import BaseModel, ConfigDict, Field

from flightsw.context import ServiceContext
from flightsw.messages import TmRequest
from flightsw.orbit import OrbitElements
from flightsw.services import (
    devices,
    event_action,
    events,
    housekeeping,
    link,
    modes,
    monitoring,
    payload,
    ping,
    power,
    restarts,
    thermal,
    timesync,
)
from icd import dictionary as dic
from icd.dictionary import EventId
from runtime.bus import Broker, Bus
from runtime.clock import DEFAULT_START_NS, Clock, WallClock
from runtime.ports import DevicePort, DeviceTimeout
from runtime.service import ServiceSpec, ServiceStopError, Supervisor, run_process

__all__ = ["FlightReady", "FlightSettings", "boot", "run"]

log = logging.getLogger(__name__)

VERSION = "0.1.0"


class FlightSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    device_endpoint: str = Field(
        "tcp://127.0.0.1:7320", description="ZeroMQ endpoint of the hardware's device ports."
    )
    host: str = Field(
        "127.0.0.1", description="Address the RF-link UDP socket binds (0.0.0.0 in a container)."
    )
    port: int = Field(7301, ge=0, le=65535, description="RF-link UDP port (0 = any free).")
    push: str | None = Field(None, description="host:port that gets a copy of every TM.")
    bus_pub_endpoint: str = Field(
        "inproc://bus-pub", description="Software-bus broker XSUB endpoint."
    )
    bus_sub_endpoint: str = Field(
        "inproc://bus-sub", description="Software-bus broker XPUB endpoint."
    )
    device_timeout_s: float = Field(
        2.0, gt=0, description="Device-port reply timeout, mission seconds."
    )
    boot_timeout_s: float = Field(
        30.0, gt=0, description="Wall seconds to wait for the hardware time reference at boot."
    )
    # Set by the process supervisor (computesat.supervisor), which counts the boots.
    boot_count: int = Field(1, ge=1, description="This boot's number since launch (1 = first).")
    restart_reason: str = Field(
        "", description="How the previous flight-software process ended (on a restart)."
    )
    supervised: bool = Field(
        False, description="Read the process supervisor's notices (JSON lines) on stdin."
    )
    # --- the onboard ephemeris of power control (flightsw.orbit; the launcher fills these
    # from the spacecraft configuration: computesat.launcher.onboard_orbit_args)
    orbit_altitude_km: float = Field(600.0, gt=150, le=40_000, description="Orbit altitude, km.")
    orbit_beta_deg: float = Field(0.0, ge=-90, le=90, description="Sun beta angle, deg.")
    orbit_arg_of_latitude_deg: float = Field(
        0.0, ge=-360, le=360, description="Argument of latitude at --orbit-epoch-ns, deg."
    )
    orbit_noon_arg_of_latitude_deg: float = Field(
        0.0, ge=-360, le=360, description="Argument of latitude of orbit noon, deg."
    )
    orbit_epoch_ns: int = Field(
        DEFAULT_START_NS, ge=0, description="Mission time (ns) of the orbit elements' epoch."
    )


@dataclass(frozen=True)
class FlightReady:
    """Where a booted flight software can be reached (ports may have been chosen at bind)."""

    udp_port: int
    bus_pub_endpoint: str
    bus_sub_endpoint: str


def services(settings: FlightSettings) -> list[ServiceSpec]:
    """The service set, in start order."""
    return [
        ServiceSpec("events", events.run, events.Config()),
        ServiceSpec("housekeeping", housekeeping.run, housekeeping.Config()),
        ServiceSpec("time", timesync.run, timesync.Config()),
        ServiceSpec("devices", devices.run, devices.Config()),
        ServiceSpec("ping", ping.run, ping.Config()),
        ServiceSpec("modes", modes.run, modes.Config()),
        # fdir: on-board monitoring (PUS 12) and event-action (PUS 19)
        ServiceSpec("monitoring", monitoring.run, monitoring.Config()),
        ServiceSpec("event_action", event_action.run, event_action.Config()),
        ServiceSpec("thermal", thermal.run, thermal.Config()),  # thermal control (131)
        ServiceSpec("power", power.run, _power_config(settings)),  # power control (PUS 132)
        ServiceSpec("payload", payload.run, payload.Config()),
        ServiceSpec(
            "restarts",
            restarts.run,
            restarts.Config(
                boot_count=settings.boot_count,
                restart_reason=settings.restart_reason,
                announce_at_once=settings.push is not None,
                notices_from_stdin=settings.supervised,
            ),
        ),
        ServiceSpec(
            "link",
            link.run,
            link.Config(host=settings.host, port=settings.port, push=settings.push),
        ),
    ]


def _power_config(settings: FlightSettings) -> power.Config:
    return power.Config(
        orbit=OrbitElements(
            altitude_km=settings.orbit_altitude_km,
            beta_deg=settings.orbit_beta_deg,
            epoch_ns=settings.orbit_epoch_ns,
            arg_of_latitude_deg=settings.orbit_arg_of_latitude_deg,
            noon_arg_of_latitude_deg=settings.orbit_noon_arg_of_latitude_deg,
        )
    )


async def _await_time_reference(clock: WallClock, port: DevicePort, wall_timeout_s: float) -> None:
    # Before the first sync the clock has no meaningful speed, so this wait is in wall time:
    # retry until hwsim answers (it may still be starting).
    deadline = asyncio.get_running_loop().time() + wall_timeout_s
    said = False
    while True:
        try:
            await timesync.synchronise(clock, port)
            return
        except DeviceTimeout:
            if asyncio.get_running_loop().time() > deadline:
                raise
            if not said:
                log.info(
                    "flightsw: no time reference from %s yet; retrying for up to %g s",
                    port.endpoint,
                    wall_timeout_s,
                )
                said = True


async def boot(
    settings: FlightSettings,
    stop: asyncio.Event,
    specs: list[ServiceSpec] | None = None,
    ready: asyncio.Future[FlightReady] | None = None,
    *,
    clock: Clock | None = None,
    context: zmq.asyncio.Context | None = None,
    bus: Bus | None = None,
    device_port: DevicePort | None = None,
) -> None:
    """Run flight software until ``stop``; ``ready`` says where it can be reached.

    ``clock`` and ``context`` are for an in-process satellite (tests) that shares hwsim's
    mission clock (a stepped one: nothing to synchronise) and ZeroMQ context; by default
    flight software anchors its own clock to the hardware time reference and owns its context.

    ``bus`` and ``device_port`` (both or neither; a stepped ``clock`` with them): a whole
    satellite in one process (``computesat.inprocess``) hands its in-process transports (the
    Bus and DevicePort APIs, opened by the caller); no broker, socket or context is made.
    """
    if bus is not None and device_port is not None:
        assert clock is not None, "in-process transports run on the caller's clock"
        await _run_services(settings, stop, clock, bus, device_port, specs, ready)
        return
    own_context = context is None
    context = zmq.asyncio.Context() if context is None else context
    clock = WallClock() if clock is None else clock
    try:
        async with (
            Broker(context, settings.bus_pub_endpoint, settings.bus_sub_endpoint) as broker,
            DevicePort(context, settings.device_endpoint, clock, timeout_s=0.5) as port,
        ):
            if isinstance(clock, WallClock):
                # A stop (SIGINT/SIGTERM) ends the wait at once: nothing has started yet.
                waiting = asyncio.ensure_future(
                    _await_time_reference(clock, port, settings.boot_timeout_s)
                )
                stopping = asyncio.ensure_future(stop.wait())
                try:
                    await asyncio.wait([waiting, stopping], return_when=asyncio.FIRST_COMPLETED)
                finally:
                    stopping.cancel()
                    if not waiting.done():
                        waiting.cancel()
                        with contextlib.suppress(asyncio.CancelledError):
                            await waiting
                if stop.is_set() and not (waiting.done() and not waiting.cancelled()):
                    log.info("flightsw: stopped while waiting for the hardware time reference")
                    return
                waiting.result()
            port.timeout_s = settings.device_timeout_s
            bus = Bus(context, broker.pub_endpoint, broker.sub_endpoint)
            try:
                await _run_services(settings, stop, clock, bus, port, specs, ready)
            finally:
                bus.close()
    finally:
        # Every socket is closed by its owner on the way out; destroy() (linger 0) makes
        # sure a socket left by a crashed path cannot hang term() and the process with it.
        if own_context:
            context.destroy(linger=0)


async def _run_services(
    settings: FlightSettings,
    stop: asyncio.Event,
    clock: Clock,
    bus: Bus,
    port: DevicePort,
    specs: list[ServiceSpec] | None,
    ready: asyncio.Future[FlightReady] | None,
) -> None:
    def context_for(
        name: str, on_ready: Callable[[Any], None] = lambda info: None
    ) -> ServiceContext:
        return ServiceContext(
            name, clock, bus, port, logging.getLogger(f"flightsw.{name}"), on_ready
        )

    platform = context_for("platform")
    supervisor: Supervisor

    def publish_supervision() -> None:
        platform.parameters(
            **{
                "supervisor.restarts": supervisor.total_restarts,
                "supervisor.failed": len(supervisor.failed),
                **{f"supervisor.state.{n}": int(s) for n, s in supervisor.states.items()},
            }
        )

    def on_restart(name: str, error: str, count: int) -> None:
        platform.event(EventId.SERVICE_RESTARTED, f"{name} restart {count}: {error}")

    def on_failed(name: str, error: str, restarts: int) -> None:
        spec = next(s for s in specs if s.name == name)
        why = (
            f"after {restarts} restarts in {spec.window_s:g} s"
            if spec.restart
            else "(not restartable)"
        )
        platform.event(EventId.SERVICE_FAILED, f"service {name} FAILED {why}: {error}")
        publish_supervision()  # at once: the mode manager and the ground act on it

    bus.on_rejected.append(
        lambda reason: platform.event(EventId.BUS_MESSAGE_REJECTED, reason[:150])
    )
    specs = specs if specs is not None else services(settings)
    async with Supervisor(clock, context_for, on_restart, on_failed) as supervisor:
        # In order, each once its inputs are open: events first so it hears everything,
        # the link last so no TC is accepted before its owner listens.
        link_port = None
        for spec in specs:
            info = await supervisor.start(spec)
            if spec.name == "link":
                link_port = info
        platform.event(
            EventId.BOOT,
            f"computesat flight software {VERSION} pid {os.getpid()} boot {settings.boot_count}",
        )

        async def platform_counters() -> None:
            while True:
                publish_supervision()
                platform.parameters(**{"bus.rejected": bus.stats.rejected})
                await clock.sleep(1.0)

        counters = asyncio.create_task(platform_counters())
        try:
            if ready is not None:
                ready.set_result(FlightReady(link_port, bus.pub_endpoint, bus.sub_endpoint))
            await stop.wait()
            await _announce_shutdown(platform, bus)
        finally:
            counters.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await counters


async def _announce_shutdown(platform: ServiceContext, bus: Bus) -> None:
    """Raise SHUTDOWN and wait (briefly, wall time) until its TM is on the bus, so the link,
    which stops first, still sends it as it drains."""
    async with bus.subscribe(TmRequest) as telemetry:
        platform.event(EventId.SHUTDOWN, "stop requested")
        shutdown = dic.pack_event(EventId.SHUTDOWN, "")[:2]

        async def announced() -> None:
            while True:
                message = await telemetry.recv()
                if (
                    isinstance(message, TmRequest)
                    and message.service == 5
                    and (message.source_data[:2] == shutdown)
                ):
                    return

        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(announced(), 2.0)


def run(settings: FlightSettings) -> int:
    """Entry point of ``computesat flightsw``; prints a READY line once the link is up."""

    async def main(stop: asyncio.Event) -> None:
        ready: asyncio.Future[FlightReady] = asyncio.get_running_loop().create_future()
        ready.add_done_callback(
            lambda f: (
                print(f"READY flightsw udp={settings.host}:{f.result().udp_port}", flush=True)
                if not f.cancelled() and not f.exception()
                else None
            )
        )
        await boot(settings, stop, ready=ready)

    try:
        with contextlib.suppress(KeyboardInterrupt):
            run_process(main)
    except ServiceStopError as failures:
        # Each was logged as it happened; the exit code tells whoever started us.
        log.error("flight software stopped with %s", failures)
        return 1
    return 0
