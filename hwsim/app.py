"""The hwsim process: steps the spacecraft model on the mission clock and serves its ports.

Inputs: device-port requests (flight software), simulation-control requests (tests, ground
scripts). Outputs: replies only; hwsim never initiates traffic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path
from typing import Any, Literal

import zmq.asyncio
from pydantic import BaseModel, ConfigDict, Field

from hwsim.boards.executor import ResultWatch, SlotExecutor
from hwsim.ports import PortServer, device_handler, simctl_handler
from runtime.clock import NS_PER_S, Clock, WallClock
from runtime.service import run_until_signalled

__all__ = ["HwsimSettings", "physics_loop", "run", "serve"]

log = logging.getLogger(__name__)


class HwsimSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    config: Path | None = Field(None, description="Spacecraft TOML file (default: built-in AI1).")
    device_endpoint: str = Field(
        "tcp://127.0.0.1:7320", description="ZeroMQ endpoint the device ports bind."
    )
    simctl_endpoint: str = Field(
        "tcp://127.0.0.1:7321", description="ZeroMQ endpoint of the simulation-control port."
    )
    clock: Literal["realtime", "accelerated"] = Field(
        "realtime", description="Mission clock mode (stepped runs use 'hwsim run')."
    )
    speed: float = Field(
        1.0, gt=0, le=100_000, description="Mission seconds per wall second when accelerated."
    )
    physics_step_s: float = Field(1.0, gt=0, le=60, description="Physics step, mission seconds.")
    seed: int = Field(0, ge=0, description="Seed for sensor noise and random upsets.")
    max_catch_up_steps: int = Field(
        1000, ge=1, description="Most physics steps taken at once when late."
    )
    job_executor: Literal["process", "thread", "inline"] = Field(
        "process",
        description=(
            "Where board jobs compute their results: worker processes (the event loop never "
            "waits for numpy), worker threads, or inline in the physics step (blocks the "
            "ports while a big job computes)."
        ),
    )
    job_workers: int = Field(
        0, ge=0, le=64, description="Job worker processes/threads (0: one per CPU core)."
    )
    job_nice: int = Field(
        0,
        ge=0,
        le=19,
        description="Scheduling niceness of job worker processes (higher: the ports win the "
        "CPU over a running job, but jobs starve under other load on the host).",
    )


async def physics_loop(
    model: Any, clock: Clock, step_s: float, max_catch_up: int, model_epoch_ns: int
) -> None:
    """Keep the model's time within one step of mission time, in whole fixed steps."""
    step = model.step
    step_ns = round(step_s * NS_PER_S)
    model_time_ns = model_epoch_ns
    while True:
        await clock.sleep_until_ns(model_time_ns + step_ns)
        due = (clock.now_ns() - model_time_ns) // step_ns
        if due > max_catch_up:
            # Falling behind (slow host at a high speed): drop the backlog rather than spiral.
            log.warning("physics %d steps behind; skipping %d", due, due - max_catch_up)
            model_time_ns += (due - max_catch_up) * step_ns
            due = max_catch_up
        for _ in range(due):
            step(step_s)
            model_time_ns += step_ns


async def serve(
    settings: HwsimSettings,
    stop: asyncio.Event,
    ready: asyncio.Future[tuple[str, str]] | None = None,
) -> None:
    """Run hwsim until ``stop`` is set; ``ready`` gets the bound (device, simctl) endpoints."""
    from hwsim.boards.slots import default_registry
    from hwsim.config import default_config, load_config
    from hwsim.faults import fault_catalogue
    from hwsim.model import Spacecraft

    config = load_config(settings.config) if settings.config else default_config()
    # Discover the board plug-ins once, before the clock starts; a refused plug-in is logged
    # and its slots boot empty (fault_reason on the slot), never stopping hwsim.
    registry = default_registry()
    for refused in registry.refused:
        log.warning("hwsim: board plug-in %r refused: %s", refused.name, refused.reason)
    clock = WallClock(settings.speed if settings.clock == "accelerated" else 1.0)
    # The model counts from 0; this is the mission time of its 0 (the physics loop catches
    # up from here once the model is built).
    model_epoch_ns = clock.now_ns()
    model = Spacecraft(
        config,
        seed=settings.seed,
        registry=registry,
        mission_time_origin_s=model_epoch_ns / NS_PER_S,
    )
    for slot_id, reason in model.truth()["empty_slots"].items():
        log.warning("hwsim: %s is empty: %s", slot_id, reason)
    # Jobs compute off the event loop (hwsim.boards.executor); results are announced to the
    # long poll backplane.await_results as soon as they are ready.
    plugins = model.plugin_slots
    executor: SlotExecutor | None = None
    watch: ResultWatch | None = None
    if plugins is not None:
        watch = ResultWatch(clock, plugins.gather, model.read)
        if settings.job_executor != "inline":
            executor = SlotExecutor(
                workers=settings.job_workers or None,
                processes=settings.job_executor == "process",
                nice=settings.job_nice,
            )
            await asyncio.to_thread(executor.warm)
        plugins.attach_executor(executor, watch.notify)
    context = zmq.asyncio.Context()
    try:
        async with (
            PortServer(
                context,
                settings.device_endpoint,
                clock,
                device_handler(model, clock, watch.wait if watch is not None else None),
                "device-port",
            ) as devices,
            PortServer(
                context,
                settings.simctl_endpoint,
                clock,
                simctl_handler(model, clock, fault_catalogue, model_epoch_ns),
                "simctl",
            ) as simctl,
            asyncio.TaskGroup() as tasks,
        ):
            owned = [
                tasks.create_task(
                    physics_loop(
                        model,
                        clock,
                        settings.physics_step_s,
                        settings.max_catch_up_steps,
                        model_epoch_ns,
                    )
                ),
                tasks.create_task(devices.serve()),
                tasks.create_task(simctl.serve()),
            ]
            log.info(
                "hwsim: %d devices on %s, simulation control on %s, clock %s x%g",
                len(model.device_ids()),
                devices.endpoint,
                simctl.endpoint,
                clock.mode,
                clock.speed,
            )
            if ready is not None:
                ready.set_result((devices.endpoint, simctl.endpoint))
            await stop.wait()
            for task in owned:
                task.cancel()
    finally:
        # Every socket is closed by its owner on the way out; destroy() (linger 0) makes
        # sure a socket left by a crashed path cannot hang term() and the process with it.
        context.destroy(linger=0)
        if executor is not None:
            executor.close()


def run(settings: HwsimSettings) -> int:
    """Entry point of ``computesat hwsim serve``; prints a READY line once serving."""

    async def main(stop: asyncio.Event) -> None:
        ready: asyncio.Future[tuple[str, str]] = asyncio.get_running_loop().create_future()
        ready.add_done_callback(
            lambda f: (
                print(f"READY hwsim device={f.result()[0]} simctl={f.result()[1]}", flush=True)
                if not f.cancelled() and not f.exception()
                else None
            )
        )
        await serve(settings, stop, ready)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_until_signalled(main))
    return 0
