"""The hwsim process: steps the spacecraft model on the mission clock and serves its ports.

Inputs: device-port requests (flight software), simulation-control requests (tests, ground
scripts). Outputs: replies only; hwsim never initiates traffic. With ``--snapshot-dir`` it
writes a snapshot of the whole model there every ``--snapshot-period-s`` mission seconds;
``--restore FILE|latest`` starts from one (see ``hwsim.snapshot``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import zmq.asyncio
from pydantic import BaseModel, ConfigDict, Field, model_validator

from hwsim.boards.executor import ResultWatch, SlotExecutor
from hwsim.ports import PortServer, device_handler, simctl_handler
from hwsim.snapshot import (
    SnapshotError,
    SnapshotHeader,
    SnapshotStore,
    load_snapshot,
    read_header,
    restore_into,
    write_snapshot,
)
from runtime.clock import NS_PER_S, Clock, WallClock
from runtime.service import run_until_signalled

__all__ = ["HwsimSettings", "InProcessHardware", "Simulation", "physics_loop", "run", "serve"]

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
    snapshot_dir: Path | None = Field(
        None,
        description="Directory for periodic snapshots of the whole model, and for "
        "'computesat hwsim snapshot' without --out; periodic snapshots are off without it.",
    )
    snapshot_period_s: float = Field(
        600.0, gt=0, description="Mission seconds between periodic snapshots (--snapshot-dir)."
    )
    snapshot_keep: int = Field(
        5, ge=1, description="Snapshots kept in --snapshot-dir; older ones are deleted."
    )
    restore: str | None = Field(
        None,
        description="Start from this snapshot file (any valid one), or 'latest': the newest "
        "valid snapshot in --snapshot-dir; with --run-id only that run's snapshots, and with "
        "--start-time-ns none later than that time (none left: start fresh and say why). "
        "The snapshot's mission time, random state and boards replace --seed and the start "
        "time.",
    )
    run_id: str = Field(
        "",
        max_length=64,
        pattern=r"^[A-Za-z0-9._-]*$",
        description="The satellite run this hwsim belongs to (the process supervisor makes "
        "one per run): written into every snapshot; '--restore latest' restores only "
        "snapshots of this run when it is set.",
    )
    start_time_ns: int | None = Field(
        None,
        ge=0,
        description="Mission time (ns since the mission epoch) hwsim's clock starts at; with "
        "--restore the restored model catches up to it (physics stepped through the gap). "
        "The process supervisor passes the time at which a dead hwsim died, so mission time "
        "never goes back. Default: the mission's start, or the snapshot's time.",
    )
    start_time_at_monotonic_ns: int | None = Field(
        None,
        ge=0,
        description="The host's CLOCK_MONOTONIC instant (ns) at which --start-time-ns held "
        "(default: when hwsim builds its clock): the clock runs on while hwsim starts.",
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

    @model_validator(mode="after")
    def _latest_needs_a_directory(self) -> HwsimSettings:
        if self.restore == "latest" and self.snapshot_dir is None:
            raise ValueError("--restore latest needs --snapshot-dir (where to look)")
        return self


class Simulation:
    """The running model, its mission-time anchoring and its snapshots.

    A restore replaces the model's state in place (the servers keep their reference), moves
    the model epoch, re-anchors the clock to the snapshot's mission time and restarts the
    physics loop from there (a loop asleep until the old time would stall until then).
    """

    def __init__(
        self,
        model: Any,
        clock: WallClock,
        model_epoch_ns: int,
        *,
        config_name: str = "built-in",
        registry: Any = None,
        store: SnapshotStore | None = None,
        period_s: float = 600.0,
        run_id: str = "",
    ) -> None:
        self.model = model
        self.clock = clock
        self.epoch_ns = model_epoch_ns
        self.config_name = config_name
        self.registry = registry
        self.store = store
        self.run_id = run_id
        self.period_ns = round(period_s * NS_PER_S)
        self._tasks: asyncio.TaskGroup | None = None
        self._physics: asyncio.Task[None] | None = None
        self._physics_args: tuple[float, int] = (1.0, 1)
        # Set when a job worker finishes (ResultWatch.worker_done); None on a stepped clock.
        self.job_wake: asyncio.Event | None = None
        self.next_snapshot_ns = self.mission_time_ns() + self.period_ns
        self.snapshots_written = 0
        self.snapshot_failures = 0
        # Called with the model after every physics step (the what-if recorder), or None.
        self.on_step: Callable[[Any], None] | None = None

    def start_physics(self, tasks: asyncio.TaskGroup, step_s: float, max_catch_up: int) -> None:
        """Run the physics loop in ``tasks`` (again, after a restore)."""
        self._tasks = tasks
        self._physics_args = (step_s, max_catch_up)
        self._physics = tasks.create_task(
            physics_loop(
                self.model,
                self.clock,
                step_s,
                max_catch_up,
                self.epoch_ns,
                self,
                self.job_wake,
                self.on_step,
            )
        )

    def stop_physics(self) -> None:
        if self._physics is not None:
            self._physics.cancel()

    def mission_time_ns(self) -> int:
        """Mission time of the model's state (one step behind the clock at most)."""
        return self.epoch_ns + self.model.time_ns

    def snapshot(self, path: str | None = None) -> dict[str, Any]:
        """Save the model now, to ``path`` or the next file of the snapshot directory."""
        try:
            if path is not None:
                target = Path(path)
                header = write_snapshot(
                    self.model,
                    target,
                    config_name=self.config_name,
                    model_epoch_ns=self.epoch_ns,
                    run_id=self.run_id,
                )
            elif self.store is not None:
                target, header = self.store.write(
                    self.model,
                    config_name=self.config_name,
                    model_epoch_ns=self.epoch_ns,
                    run_id=self.run_id,
                )
            else:
                raise SnapshotError(
                    "<none>", "path", "a path (no --snapshot-dir is set)", "no path"
                )
        except OSError as exc:
            raise SnapshotError(
                path or "<snapshot dir>", "write", "a writable file", exc.strerror or repr(exc)
            ) from exc
        self.snapshots_written += 1
        return _describe(target, header)

    def after_steps(self) -> None:
        """The periodic snapshot, when the model has reached its mission time."""
        if self.store is None or self.mission_time_ns() < self.next_snapshot_ns:
            return
        self.next_snapshot_ns = self.mission_time_ns() + self.period_ns
        try:
            result = self.snapshot()
        except SnapshotError as exc:  # a full disk must not stop the hardware
            self.snapshot_failures += 1
            log.error("hwsim: periodic snapshot failed: %s", exc)
            return
        log.info("hwsim: snapshot %s at mission %.3f s", result["path"], result["mission_time_s"])

    def restore(self, path: str) -> dict[str, Any]:
        """Take the state of snapshot ``path``; on any error nothing running changes."""
        header, loaded = load_snapshot(path, self.model.config, self.registry)
        restore_into(self.model, loaded)
        self.epoch_ns = header.model_epoch_ns
        self.clock.anchor(header.mission_time_ns)
        self.next_snapshot_ns = header.mission_time_ns + self.period_ns
        if self._tasks is not None:
            self.stop_physics()
            self.start_physics(self._tasks, *self._physics_args)
        log.info("hwsim: restored %s, mission time %.3f s", path, header.mission_time_s)
        return {"restored": str(path)} | _describe(Path(path), header)


def _describe(path: Path, header: SnapshotHeader) -> dict[str, Any]:
    return {
        "path": str(path),
        "mission_time_ns": header.mission_time_ns,
        "mission_time_s": header.mission_time_s,
        "model_time_s": header.model_time_ns / NS_PER_S,
        "config": header.config_name,
        "bytes": header.body_bytes,
        "run_id": header.run_id,
    }


# Physics steps taken in one go before the event loop turns when catching up: a step of
# the AI1 model costs ~0.15 ms, so a burst holds the ports for well under a millisecond
# (a 2 s device timeout is 6.7 ms of wall time at x300).
STEPS_PER_TURN = 4


async def physics_loop(
    model: Any,
    clock: Clock,
    step_s: float,
    max_catch_up: int,
    model_epoch_ns: int,
    sim: Simulation | None = None,
    job_wake: asyncio.Event | None = None,
    on_step: Callable[[Any], None] | None = None,
    steps_per_turn: int = STEPS_PER_TURN,
) -> None:
    """Keep the model's time within one step of mission time, in fixed steps.

    With ``sim``: periodic snapshots after the steps (a snapshot always holds a model between
    two steps). With ``job_wake`` (set when a job's worker finishes): the model is stepped to
    the present at once, a step shorter than ``step_s``, so the board sees its job's modelled
    end now rather than at the next whole step: at x1 that was up to a second of wall time
    added to every job. The steps go on from there, whole again. ``on_step`` (the what-if
    recorder) is called with the model after every step. Late by several steps, the loop
    takes them ``steps_per_turn`` at a time and lets the event loop turn (serve the ports)
    between bursts.
    """
    if steps_per_turn < 1:
        raise ValueError(f"steps_per_turn must be >= 1, got {steps_per_turn}")
    step = model.step
    step_ns = round(step_s * NS_PER_S)
    # Shorter than this, a wake is not worth a step (the next whole step is that close).
    min_partial_ns = max(1, step_ns // 1000)
    model_time_ns = model_epoch_ns + int(getattr(model, "time_ns", 0))
    while True:
        if job_wake is None:
            await clock.sleep_until_ns(model_time_ns + step_ns)
            woken = False
        else:
            woken = await clock.sleep_until_ns_or(model_time_ns + step_ns, job_wake)
            job_wake.clear()
        now_ns = clock.now_ns()
        due = (now_ns - model_time_ns) // step_ns
        if due == 0:
            if woken and now_ns - model_time_ns >= min_partial_ns:
                step((now_ns - model_time_ns) / NS_PER_S)
                model_time_ns = now_ns
                if on_step is not None:
                    on_step(model)
            continue
        if due > max_catch_up:
            # Falling behind (slow host at a high speed): drop the backlog rather than spiral.
            log.warning("physics %d steps behind; skipping %d", due, due - max_catch_up)
            model_time_ns += (due - max_catch_up) * step_ns
            due = max_catch_up
        for done in range(due):
            if done and done % steps_per_turn == 0:
                # Catching up after a stall (the host did not run hwsim, a GC pause): a
                # device request that came meanwhile is served between bursts rather than
                # after all of them, so it is not made later still by the catch-up.
                await asyncio.sleep(0)
            step(step_s)
            model_time_ns += step_ns
            if on_step is not None:
                on_step(model)
        if sim is not None:
            sim.after_steps()


async def serve(
    settings: HwsimSettings,
    stop: asyncio.Event,
    ready: asyncio.Future[tuple[str, str, int]] | None = None,
    *,
    clock: Clock | None = None,
    context: zmq.asyncio.Context | None = None,
    started: list[str] | None = None,
    in_process: InProcessHardware | None = None,
    spacecraft_config: Any = None,
) -> None:
    """Run hwsim until ``stop`` is set; ``ready`` gets the bound (device, simctl) endpoints.

    ``started`` (if given) gets one line saying how the model started: the snapshot restored
    (file name and mission time) or "started fresh" and why (what the READY line says).

    ``clock`` and ``context`` are for an in-process satellite (tests), whose parts share one
    mission clock (a stepped one) and one ZeroMQ context (``inproc://`` endpoints); by default
    hwsim builds its clock from ``settings`` and owns its context. ``in_process``: no sockets
    at all; the caller's transports call the servers it is handed (see InProcessHardware).
    ``spacecraft_config``: a configuration already built (instead of ``settings.config``).
    """
    from hwsim.boards.slots import default_registry
    from hwsim.config import default_config, load_config
    from hwsim.faults import fault_catalogue
    from hwsim.spacecraft import Spacecraft

    if spacecraft_config is not None:  # built by the caller (a what-if's overrides applied)
        config, config_name = spacecraft_config, spacecraft_config.name
    else:
        config = load_config(settings.config) if settings.config else default_config()
        config_name = settings.config.name if settings.config else "built-in"
    # Discover the board plug-ins once, before the clock starts; a refused plug-in is logged
    # and its slots boot empty (fault_reason on the slot), never stopping hwsim.
    registry = default_registry()
    for refused in registry.refused:
        log.warning("hwsim: board plug-in %r refused: %s", refused.name, refused.reason)
    store = (
        SnapshotStore(settings.snapshot_dir, settings.snapshot_keep)
        if settings.snapshot_dir is not None
        else None
    )
    restored, how = _restore_at_start(settings, store, config, registry)
    if started is not None:
        started.append(how)
    speed = settings.speed if settings.clock == "accelerated" else 1.0
    if restored is not None:
        header, model = restored
        # The hardware's time reference continues from the snapshot's mission time (an
        # injected clock is the caller's: it should stand at that time).
        if clock is None:
            if settings.start_time_ns is not None and (
                settings.start_time_ns > header.mission_time_ns
            ):
                clock = WallClock(
                    speed, settings.start_time_ns, settings.start_time_at_monotonic_ns
                )
            else:
                clock = WallClock(speed, start_ns=header.mission_time_ns)
        model_epoch_ns = header.model_epoch_ns
    else:
        if clock is None:
            clock = (
                WallClock(speed)
                if settings.start_time_ns is None
                else WallClock(speed, settings.start_time_ns, settings.start_time_at_monotonic_ns)
            )
        # The model counts from 0; this is the mission time of its 0 (the physics loop
        # catches up from here once the model is built).
        model_epoch_ns = clock.now_ns()
        model = Spacecraft(
            config,
            seed=settings.seed,
            registry=registry,
            mission_time_origin_s=model_epoch_ns / NS_PER_S,
            settle_step_s=settings.physics_step_s,  # its thermal start: that step's orbit
        )
        for slot_id, reason in model.truth()["empty_slots"].items():
            log.warning("hwsim: %s is empty: %s", slot_id, reason)
    sim = Simulation(
        model,
        clock,
        model_epoch_ns,
        config_name=config_name,
        registry=registry,
        store=store,
        period_s=settings.snapshot_period_s,
        run_id=settings.run_id,
    )
    # Jobs compute off the event loop (hwsim.boards.executor); results are announced to the
    # long poll backplane.await_results as soon as they are ready. Attached after the fresh or
    # restored model is built (a snapshot holds no executor), and again by every restore
    # (hwsim.snapshot.restore_into), so the watch asks the model's current slots.
    executor: SlotExecutor | None = None
    watch: ResultWatch | None = None
    if model.plugin_slots is not None and in_process is not None:
        # Nobody reads the results of an in-process run's jobs (what-if, bench): their
        # duration, power and heat follow the boards' models; no worker, no thread.
        from hwsim.boards.executor import ResultsNotComputed

        plugins = model.plugin_slots
        watch = ResultWatch(clock, plugins.gather, model.read)
        plugins.attach_executor(ResultsNotComputed(), watch.notify)
    elif model.plugin_slots is not None:

        def gather() -> list[str]:
            plugins = model.plugin_slots
            return plugins.gather() if plugins is not None else []

        watch = ResultWatch(clock, gather, model.read)
        if settings.job_executor != "inline":
            executor = SlotExecutor(
                workers=settings.job_workers or None,
                processes=settings.job_executor == "process",
                # On a stepped clock mission time would run on while a worker computes (the
                # loop is quiet): a job's result is waited for at its modelled end, so a run
                # is the same for a seed as with results computed inline.
                wait_at_end=clock.mode == "stepped",
                nice=settings.job_nice,
            )
            if clock.mode != "stepped":
                # A worker that finishes wakes the physics loop (from a pool thread), which
                # steps to the present so the board sees its job's end now.
                job_wake = sim.job_wake = asyncio.Event()
                loop = asyncio.get_running_loop()

                def computed() -> None:
                    with contextlib.suppress(RuntimeError):  # the loop is closed
                        loop.call_soon_threadsafe(job_wake.set)

                executor.on_computed = computed
        model.plugin_slots.attach_executor(executor, watch.notify)
    if in_process is not None:
        await _serve_in_process(settings, stop, ready, sim, watch, in_process)
        return
    own_context = context is None
    context = zmq.asyncio.Context() if context is None else context
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
                simctl_handler(model, clock, fault_catalogue, lambda: sim.epoch_ns, snapshots=sim),
                "simctl",
            ) as simctl,
            asyncio.TaskGroup() as tasks,
        ):
            sim.start_physics(tasks, settings.physics_step_s, settings.max_catch_up_steps)
            owned = [
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
                ready.set_result((devices.endpoint, simctl.endpoint, clock.now_ns()))
            if executor is not None:
                # The job workers start after the ports answer, not before: spawning them took
                # ~0.75 s of hwsim's start-up (flight software waits for hwsim's time
                # reference), and no job can start before a board has booted (10-60 mission s).
                tasks.create_task(_warm_in_background(executor))
            await stop.wait()
            sim.stop_physics()
            for task in owned:
                task.cancel()
    finally:
        # Every socket is closed by its owner on the way out; destroy() (linger 0) makes
        # sure a socket left by a crashed path cannot hang term() and the process with it.
        if own_context:
            context.destroy(linger=0)
        if executor is not None:
            executor.close()


@dataclass
class InProcessHardware:
    """Hooks of an in-process satellite (``computesat.inprocess``): hwsim binds no socket;
    ``serve`` fills ``device``, ``simctl`` (PortServers whose ``answer_request`` and
    ``settle`` a transport calls directly: the same checks and replies as over ZeroMQ) and
    ``simulation`` before ``ready`` is set. ``on_step`` is called with the model after every
    physics step (the what-if recorder), ``on_start`` before the first. Job results are not
    computed (ResultsNotComputed)."""

    on_step: Callable[[Any], None] | None = None
    # Called once the servers are filled in, before the first physics step (faults scheduled
    # through ``simctl``); an exception stops ``serve`` with it.
    on_start: Callable[[InProcessHardware], None] | None = None
    device: PortServer | None = None
    simctl: PortServer | None = None
    simulation: Simulation | None = None


async def _serve_in_process(
    settings: HwsimSettings,
    stop: asyncio.Event,
    ready: asyncio.Future[tuple[str, str, int]] | None,
    sim: Simulation,
    watch: ResultWatch | None,
    hooks: InProcessHardware,
) -> None:
    """``serve`` without sockets: the physics loop, and the port servers handed to ``hooks``."""
    from hwsim.faults import fault_catalogue

    model, clock = sim.model, sim.clock
    hooks.device = PortServer(
        None,  # type: ignore[arg-type]  # never bound: answered in process
        "local://devices",
        clock,
        device_handler(model, clock, watch.wait if watch is not None else None),
        "device-port",
    )
    hooks.simctl = PortServer(
        None,  # type: ignore[arg-type]
        "local://simctl",
        clock,
        simctl_handler(model, clock, fault_catalogue, lambda: sim.epoch_ns, snapshots=sim),
        "simctl",
    )
    hooks.simulation = sim
    sim.on_step = hooks.on_step
    if hooks.on_start is not None:
        hooks.on_start(hooks)
    async with asyncio.TaskGroup() as tasks:
        sim.start_physics(tasks, settings.physics_step_s, settings.max_catch_up_steps)
        if ready is not None:
            ready.set_result((hooks.device.endpoint, hooks.simctl.endpoint, clock.now_ns()))
        await stop.wait()
        sim.stop_physics()


async def _warm_in_background(executor: SlotExecutor) -> None:
    try:
        await asyncio.to_thread(executor.warm)
    except Exception as exc:  # stopped while warming, or a worker that could not start
        log.debug("hwsim: job workers not warmed: %r", exc)


def _restore_at_start(
    settings: HwsimSettings, store: SnapshotStore | None, config: Any, registry: Any
) -> tuple[tuple[SnapshotHeader, Any] | None, str]:
    """The snapshot ``--restore`` asks for, loaded (None to start fresh), and how the model
    starts in words: "restored FILE (mission T s)" or "started fresh: WHY".

    An explicit file that fails its checks stops the start with its SnapshotError (the
    operator asked for that state); ``latest`` passes over invalid snapshots, snapshots of
    another run (with ``--run-id``) and snapshots later than ``--start-time-ns`` (a restart
    must not move mission time ahead of the flight software's) to the newest that is left,
    and starts fresh, saying why, when none is.
    """
    if settings.restore is None:
        return None, "started fresh: no --restore"
    if settings.restore != "latest":
        header, model = load_snapshot(settings.restore, config, registry)
        return (header, model), _restored_text(Path(settings.restore), header)
    assert store is not None  # HwsimSettings requires --snapshot-dir with --restore latest
    candidates = list(reversed(store.snapshots()))
    passed: dict[str, int] = {}
    for candidate in candidates:
        try:
            header = read_header(candidate.path)
            if settings.run_id and header.run_id != settings.run_id:
                passed["of another run"] = passed.get("of another run", 0) + 1
                continue
            if settings.start_time_ns is not None and (
                header.mission_time_ns > settings.start_time_ns
            ):
                passed["later than the start time"] = passed.get("later than the start time", 0) + 1
                continue
            header, model = load_snapshot(candidate.path, config, registry)
        except SnapshotError as exc:
            log.warning("hwsim: passing over %s", exc)
            passed["invalid"] = passed.get("invalid", 0) + 1
            continue
        how = _restored_text(candidate.path, header)
        log.info("hwsim: %s", how)
        return (header, model), how
    if not candidates:
        why = "no snapshot taken yet"
    else:
        reasons = ", ".join(f"{n} {what}" for what, n in passed.items())
        why = f"no usable snapshot ({reasons})"
    log.warning("hwsim: no valid snapshot in %s (%s); starting fresh", store.directory, why)
    return None, f"started fresh: {why}"


def _restored_text(path: Path, header: SnapshotHeader) -> str:
    return f"restored {path.name} (mission {header.mission_time_s:.1f} s)"


def run(settings: HwsimSettings) -> int:
    """Entry point of ``computesat hwsim serve``; prints a READY line once serving."""

    async def main(stop: asyncio.Event) -> None:
        ready: asyncio.Future[tuple[str, str, int]] = asyncio.get_running_loop().create_future()
        started: list[str] = []
        # "restore=" comes last and runs to the end of the line (it has spaces): how the model
        # started, for the process supervisor's HARDWARE_GAP event.
        ready.add_done_callback(
            lambda f: (
                print(
                    f"READY hwsim device={f.result()[0]} simctl={f.result()[1]} "
                    f"time_ns={f.result()[2]} restore={started[0] if started else '?'}",
                    flush=True,
                )
                if not f.cancelled() and not f.exception()
                else None
            )
        )
        await serve(settings, stop, ready, started=started)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_until_signalled(main))
    return 0
