"""What-if runs flown by the real flight software (``computesat whatif``).

The whole satellite runs in one process on the stepped clock (``computesat.inprocess``):
hwsim's ``serve`` and flight software's ``boot`` with every service of
``flightsw.app.services``, joined by in-process transports. The run's inputs, recorder,
margins, tables and plot are ``hwsim.whatif``'s; this module is the :data:`hwsim.whatif.Flyer`
that flies it, and what only the whole satellite can say:

- **Faults** from the same schedules (``--fault``, scenario TOML; ``--all-faults``: every
  catalogue fault once, on a target and at a time drawn from ``--seed``) are injected through
  hwsim's simulation-control handler, scheduled before the first physics step; clears go the
  same way at their time.
- **Recorder**: samples the model after physics steps (hwsim's physics-loop hook).
- **Workload**: a ground keeps the boards busy: TC 140,1 job submissions (``TcDispatch`` on
  the bus, as the link routes an accepted TC) of filler jobs within each board's limits
  (``hwsim.boards.slots.filler_shape``, about ten minutes each), topping the payload
  manager's queue up to :data:`QUEUE_TARGET` every :data:`WORKLOAD_PERIOD_S` from its
  ``payload.jobs_queued`` parameter. Nobody reads the results: they are not computed
  (``hwsim.boards.executor.ResultsNotComputed``).
- **Report** (summary.json ``flight_software``): every flight-software event; per fault the
  injection time, the events that name its unit and whether it was recovered (the recovery
  event of :data:`RECOVERY_EVENTS`); per eclipse of the orbit (:func:`orbit_eclipses`) when
  power control shed compute for it and restored it (its COMPUTE_SHED_FOR_ECLIPSE and
  COMPUTE_RESTORED events); time per mode; the bus's protection sheds; compute delivered
  against its bound (``computesat.bound``). summary.json's ``done_when`` (:func:`done_when`)
  puts issue 9's Done-when in one block.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import re
import struct
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
from tqdm import tqdm

from computesat.bound import (
    boards_limited_j,
    compute_bound,
    energy_limited_j,
    rejection_limited_j,
)
from computesat.ephemeris import onboard_orbit_elements
from computesat.inprocess import WholeSatellite, whole_satellite
from flightsw.app import FlightSettings, services
from flightsw.messages import EclipseForecast, Event, ParameterUpdate, TcDispatch
from hwsim import whatif as hw_whatif
from hwsim.app import InProcessHardware
from hwsim.boards.slots import filler_shape
from hwsim.config import SpacecraftConfig
from hwsim.faults import fault_catalogue
from hwsim.scenario import FaultEvent
from hwsim.spacecraft import Spacecraft
from hwsim.subsystems.orbit_env import OrbitEnv
from icd.device import DeviceReply, DeviceRequest, SimOp
from icd.devices import IdentityResult
from icd.dictionary import EVENTS, Apid, SubmitJob
from icd.power import PowerEvent
from runtime.ports import DevicePortError
from runtime.service import ServiceSpec

__all__ = [
    "QUEUE_TARGET",
    "WORKLOAD_PERIOD_S",
    "add_arguments",
    "all_faults",
    "flight_specs",
    "fly",
    "main",
    "run_whatif",
]

# Filler jobs queued at the payload manager beyond the running ones, topped up every period:
# enough that a board whose job ends finds the next one waiting (160 boards ending ~10-minute
# jobs end ~8 jobs in a 30 s period).
QUEUE_TARGET = 24
WORKLOAD_PERIOD_S = 30.0
FILLER_S = 600.0
# Events kept per fault in the report (those following its injection).
EVENTS_PER_FAULT = 12
# How long after a fault's injection its following events are looked for.
FAULT_WINDOW_S = 1800.0
# Events of routine work, left out of the events that follow a fault.
_ROUTINE = frozenset({"JOB_COMPLETED"})


def flight_specs(settings: FlightSettings, config: SpacecraftConfig) -> list[ServiceSpec]:
    """Every flight-software service (``flightsw.app.services``), configured for this
    spacecraft where a service needs to know it (see :func:`_power_config_hook`)."""
    return [_power_config_hook(spec, config) for spec in services(settings)]


def _power_config_hook(spec: ServiceSpec, config: SpacecraftConfig) -> ServiceSpec:
    """The power service's onboard ephemeris from the spacecraft configuration (its orbit
    elements at the model's start, ``computesat.ephemeris``): what flight software's
    database would hold for this orbit. Every other spec is returned unchanged."""
    if spec.name != "power":
        return spec
    orbit = onboard_orbit_elements(config)
    return ServiceSpec(spec.name, spec.run, spec.config.model_copy(update={"orbit": orbit}))


# ------------------------------------------------------------------------------- all faults


def all_faults(config: SpacecraftConfig, duration_s: float, seed: int) -> list[FaultEvent]:
    """Every catalogue fault once, each on a target drawn from the spacecraft's targets of
    its kind and at a time drawn in [10 %, 90 %] of the run (``seed``: the same draw for the
    same seed); catalogue defaults for the parameters.

    No two faults fall in one redundancy group (:func:`redundancy_group`: a loop's pump pair
    and their PDU switches, a radiator panel with its three sensors, a compute slot with its
    switch, a wing): the satellite's FDIR is single-fault tolerant per group, as its design
    is — a second pump fault on the loop whose standby already failed leaves nothing to
    switch to, two bad sensors of one panel leave no majority to vote with."""
    rng = random.Random(seed)
    probe = Spacecraft(config, seed=seed, settle_step_s=None)
    out: list[FaultEvent] = []
    taken: set[str] = set()
    for spec in fault_catalogue():
        targets = sorted(probe.fault_targets(spec.target_kind))
        rng.shuffle(targets)
        free = [t for t in targets if redundancy_group(t) not in taken]
        if not free:
            continue
        target = free[0]
        taken.add(redundancy_group(target))
        at_s = round(rng.uniform(0.1, 0.9) * duration_s)
        out.append(
            FaultEvent.model_validate(
                {"fault": spec.id, "target": target, "at": at_s, "source": "--all-faults"}
            )
        )
    return sorted(out, key=lambda ev: ev.at_s)


_GROUPS = (
    # (pattern of a fault target, its redundancy group)
    (re.compile(r"^pump\.(L\d+)\.[A-Z]$"), r"loop \1 pumps"),
    (re.compile(r"^pdu\.pump_(L\d+)_[A-Z]$"), r"loop \1 pumps"),
    (re.compile(r"^radiator\.(P\d+)$"), r"panel \1"),
    (re.compile(r"^radsensor\.(P\d+)\.S\d+$"), r"panel \1"),
    (re.compile(r"^slot\.(\d+)$"), r"slot \1"),
    (re.compile(r"^pdu\.slot_(\d+)$"), r"slot \1"),
)


def redundancy_group(target: str) -> str:
    """The redundancy group a fault target belongs to (``all_faults`` puts one fault in a
    group): ``pump.L1.A`` and ``pdu.pump_L1_B`` → ``loop L1 pumps``; ``radiator.P03`` and
    ``radsensor.P03.S2`` → ``panel P03``; ``slot.017`` and ``pdu.slot_017`` → ``slot 017``;
    any other target (a wing, the battery, another PDU switch) is a group of its own."""
    for pattern, group in _GROUPS:
        if pattern.match(target):
            return pattern.sub(group, target)
    return target


# ------------------------------------------------------------------------ observability

# Board faults whose effect depends on what the board is doing when they strike (the SDK
# drops an upset on a board that is off; a fouled cold plate only shows on a board that
# computes hot enough to reach its throttle temperature).
_AT_INJECTION = frozenset({"board_upset", "board_latchup"})
_WHILE_ACTIVE = frozenset({"seu_burst", "board_overtemp"})


class _Observability:
    """Simulator truth, read by the what-if's recorder (never by flight software): whether a
    board fault had any effect flight software could see. A fault on a board that was off
    when it struck, or (a fouled plate) never ran hot enough to throttle, has nothing to
    detect or recover: the report says so instead of counting it unrecovered."""

    def __init__(self, faults: list[FaultEvent]) -> None:
        self.pending = [
            (k, ev)
            for k, ev in enumerate(faults)
            if ev.fault in _AT_INJECTION | _WHILE_ACTIVE and ev.target.startswith("slot.")
        ]
        self.seen: dict[int, str] = {}  # fault index -> what made it observable

    def step(self, model: Spacecraft) -> None:
        if not self.pending:
            return
        still = []
        active = None
        for k, ev in self.pending:
            if model.time_s < ev.at_s:
                still.append((k, ev))
                continue
            if active is None:
                active = {(f.fault_id, f.target) for f in model.active_faults() if f.active}
            if (ev.fault, ev.target) not in active:
                still.append((k, ev))  # due, not applied yet (the next step applies it)
                continue
            slot = _plugin_slot(model, ev.target)
            board = slot.board if slot is not None else None
            if board is None:
                continue  # an empty slot: never observable
            h = board.health()
            on = h.power_state.value != "off"
            if ev.fault in _AT_INJECTION:
                if on:
                    self.seen[k] = f"board {h.power_state.value} when it struck"
                continue  # decided at the injection step either way
            hot = on and h.die_temp_k >= board.THERMAL.throttle_temp_k
            if ev.fault == "seu_burst" and on:
                self.seen[k] = "board powered while the burst lasted"
            elif ev.fault == "board_overtemp" and hot:
                self.seen[k] = f"die {h.die_temp_k:.1f} K reached its throttle temperature"
            else:
                still.append((k, ev))
        self.pending = still

    def observable(self, k: int, fault: str) -> tuple[bool, str]:
        if fault not in _AT_INJECTION | _WHILE_ACTIVE:
            return True, ""
        if k in self.seen:
            return True, self.seen[k]
        if fault in _AT_INJECTION:
            return False, "board off (or slot empty) when it struck: the upset had no effect"
        return False, "the board never ran hot enough to throttle while the fault lasted"


def _plugin_slot(model: Spacecraft, target: str) -> Any:
    plug = model.plugin_slots
    if plug is None:
        return None
    slot_id = target.removeprefix("slot.")
    return next((s for s in plug.by_slot.values() if s.slot_id == slot_id), None)


# ------------------------------------------------------------------------------------ fly


def fly(
    config: SpacecraftConfig,
    seed: int,
    faults: list[FaultEvent],
    duration_s: float,
    step_s: float,
    record: Callable[[Spacecraft], None],
    record_due: Callable[[float], bool],
    progress: bool,
) -> hw_whatif.Flown:
    """The :data:`hwsim.whatif.Flyer` of flight software (see the module doc)."""
    return asyncio.run(_fly(config, seed, faults, duration_s, step_s, record, record_due, progress))


def schedule_faults(hooks: InProcessHardware, faults: list[FaultEvent]) -> None:
    """Hand hwsim each fault with its activation time (mission s from the run's start), before
    the first step, through its simulation-control port; a fault hwsim refuses is a
    ``WhatIfError`` naming it."""
    assert hooks.simulation is not None
    epoch_s = hooks.simulation.epoch_ns / 1e9
    for ev in faults:
        try:
            _simctl(
                hooks,
                SimOp.INJECT_FAULT,
                fault_id=ev.fault,
                target=ev.target,
                params=dict(ev.params),
                at_time_s=epoch_s + ev.at_s,
            )
        except DevicePortError as err:
            raise hw_whatif.WhatIfError(f"{ev.label}: {err}") from None


def _simctl(hooks: InProcessHardware, op: str, **args: Any) -> Any:
    assert hooks.simctl is not None
    reply = hooks.simctl.answer_request(DeviceRequest(id=0, op=op, args=args))
    assert isinstance(reply, DeviceReply)
    if not reply.ok:
        assert reply.error is not None
        raise DevicePortError(None, reply.error.code, reply.error.message)
    return reply.result


async def _fly(
    config: SpacecraftConfig,
    seed: int,
    faults: list[FaultEvent],
    duration_s: float,
    step_s: float,
    record: Callable[[Spacecraft], None],
    record_due: Callable[[float], bool],
    progress: bool,
) -> hw_whatif.Flown:
    n_steps = math.ceil(duration_s / step_s - 1e-9)
    steps = 0
    done = asyncio.Event()
    bar = tqdm(
        total=n_steps,
        disable=not progress,
        file=sys.stderr,
        unit="step",
        desc=f"what-if {config.name}",
        mininterval=0.5,
    )
    hardware: list[InProcessHardware] = []

    def on_start(hooks: InProcessHardware) -> None:
        hardware.append(hooks)
        sim = hooks.simulation
        assert sim is not None
        schedule_faults(hooks, faults)
        record(sim.model)

    observability = _Observability(faults)

    def on_step(model: Spacecraft) -> None:
        nonlocal steps
        steps += 1
        if steps > n_steps:
            return
        observability.step(model)
        if steps == n_steps or record_due(model.time_s):
            record(model)
        if steps % 2000 == 0 or steps == n_steps:
            bar.update(steps - bar.n)
        if steps == n_steps:
            assert hardware and hardware[0].simulation is not None
            hardware[0].simulation.stop_physics()  # the model stays at the run's end
            done.set()

    events: list[dict[str, Any]] = []
    forecasts: set[tuple[float | None, float | None]] = set()
    cleared_at: dict[int, float] = {}
    workload = _Workload()
    try:
        async with whole_satellite(
            seed=seed,
            physics_step_s=step_s,
            specs=lambda settings: flight_specs(settings, config),
            on_step=on_step,
            on_start=on_start,
            spacecraft_config=config,
        ) as sat:
            model = sat.model
            epoch_ns = sat.hardware.simulation.epoch_ns
            async with (
                sat.bus.subscribe(Event) as ev_sub,
                sat.bus.subscribe(EclipseForecast) as fc_sub,
            ):
                tasks = [
                    asyncio.create_task(_collect_events(ev_sub, epoch_ns, events)),
                    asyncio.create_task(_collect_forecasts(fc_sub, epoch_ns, forecasts)),
                    asyncio.create_task(workload.run(sat)),
                    asyncio.create_task(_clears(sat, faults, cleared_at)),
                ]
                try:
                    await done.wait()
                finally:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        bar.close()
    active = {(f.fault_id, f.target): f for f in model.active_faults()}
    ran = []
    for k, ev in enumerate(faults):
        f = active.get((ev.fault, ev.target))
        ran.append(
            {
                "fault": ev.fault,
                "target": ev.target,
                "params": dict(f.params) if f is not None else dict(ev.params),
                "at_s": ev.at_s,
                "activated_at_s": f.activated_at_s if f is not None else ev.at_s,
                "cleared_at_s": cleared_at.get(k),
                "observable": observability.observable(k, ev.fault),
            }
        )
    energy = model.truth()["energy_j"]

    def report(cols: dict[str, np.ndarray]) -> dict[str, Any]:
        return _report(cols, config, duration_s, energy, ran, events, workload, forecasts)

    return hw_whatif.Flown(
        spacecraft=model,
        steps=min(steps, n_steps),
        faults=ran,
        summary={"jobs_submitted": float(workload.submitted)},
        cols_hook=report,
        document_hook=_add_done_when,
    )


async def _collect_events(sub: Any, origin_ns: int, out: list[dict[str, Any]]) -> None:
    """Every flight-software event, at model time (s since the run's start)."""
    while True:
        message = await sub.recv()
        assert isinstance(message, Event)
        # the dictionary's table: EventId holds only the core events, not thermal's or power's
        definition = EVENTS.get(message.event_id)
        name = definition.name if definition is not None else str(message.event_id)
        out.append(
            {
                "time_s": round((message.time_ns - origin_ns) / 1e9, 3),
                "event": name,
                "source": message.source,
                "message": message.message,
            }
        )


async def _collect_forecasts(
    sub: Any, origin_ns: int, out: set[tuple[float | None, float | None]]
) -> None:
    """The power service's eclipse predictions (entry, exit), model time, rounded to 1 s."""
    while True:
        m = await sub.recv()
        assert isinstance(m, EclipseForecast)
        entry = round((m.next_entry_ns - origin_ns) / 1e9) if m.next_entry_ns else None
        exit_ = round((m.next_exit_ns - origin_ns) / 1e9) if m.next_exit_ns else None
        out.add((entry, exit_))


async def _clears(sat: WholeSatellite, faults: list[FaultEvent], cleared_at: dict) -> None:
    sim = sat.hardware.simulation
    assert sim is not None
    clears = sorted((ev.clear_s, k, ev) for k, ev in enumerate(faults) if ev.clear_s)
    for clear_s, k, ev in clears:
        # 1 ns after the clear time: the physics step that ends at it comes first (as a
        # fault's start does, the clear falls between two steps)
        await sat.clock.sleep_until_ns(sim.epoch_ns + round(clear_s * 1e9) + 1)
        sat.simctl(SimOp.CLEAR_FAULT, fault_id=ev.fault, target=ev.target)
        cleared_at[k] = sat.model.time_s


class _Workload:
    """A ground keeping the boards busy with filler jobs (see the module doc)."""

    def __init__(self) -> None:
        self.submitted = 0
        self.peak_w: list[float] = []
        self.queued: float | None = None

    async def run(self, sat: WholeSatellite) -> None:
        shapes: dict[tuple[str, int, int], int] = {}
        config = sat.model.config
        for slot in config.compute.expanded_slots():
            device = f"slot.{slot.slot_id}"
            if not slot.is_plugin:
                self.peak_w.append(slot.peak_w)  # a built-in slot: no jobs, its rating
                continue
            try:
                ident = await sat.devices.command_model(device, "identity", None, IdentityResult)
            except DevicePortError:
                continue  # an empty slot
            self.peak_w.append(ident.thermal.peak_w)
            shape = filler_shape(ident.capabilities, ident.limits, FILLER_S)
            if shape is not None:
                key = (shape.kernel, shape.size, shape.iterations)
                shapes[key] = shapes.get(key, 0) + 1
        if not shapes:
            return
        # each shape in proportion to its boards, in a fixed order (deterministic)
        cycle = [key for key, n in sorted(shapes.items()) for _ in range(n)]
        rng = random.Random(len(cycle))
        rng.shuffle(cycle)
        async with sat.bus.subscribe(ParameterUpdate) as params:
            watcher = asyncio.create_task(self._watch(params))
            try:
                k = 0
                while True:
                    # Until the manager reports its queue, one board's worth at a time.
                    want = QUEUE_TARGET - int(self.queued) if self.queued is not None else 0
                    if self.queued is None and self.submitted == 0:
                        want = QUEUE_TARGET
                    for _ in range(max(0, want)):
                        kernel, size, iterations = cycle[k % len(cycle)]
                        k += 1
                        self._submit(sat, kernel, size, iterations)
                    if want > 0:
                        self.queued = (self.queued or 0) + want  # until the next report
                    await sat.clock.sleep(WORKLOAD_PERIOD_S)
            finally:
                watcher.cancel()

    async def _watch(self, params: Any) -> None:
        while True:
            message = await params.recv()
            value = message.values.get("payload.jobs_queued")
            if value is not None:
                self.queued = float(value)

    def _submit(self, sat: WholeSatellite, kernel: str, size: int, iterations: int) -> None:
        self.submitted += 1
        job_id = self.submitted
        sat.bus.publish(
            TcDispatch(
                request_id=struct.pack(">I", 0x80000000 | job_id),
                apid=int(Apid.PAYLOAD),
                service=140,
                subservice=1,
                source_id=1,
                app_data=SubmitJob(
                    job_id=job_id, kernel=kernel, size=size, seed=job_id, iterations=iterations
                ).pack(),
            )
        )


# --------------------------------------------------------------------------------- report


def _integral(t: np.ndarray, y: np.ndarray) -> float:
    """Left-rectangle integral of sampled ``y`` over ``t`` (each sample stands until the
    next)."""
    if len(t) < 2:
        return 0.0
    return float(np.sum(y[:-1] * np.diff(t)))


def orbit_eclipses(
    config: SpacecraftConfig, duration_s: float, grid_s: float = 1.0
) -> list[tuple[float, float | None]]:
    """Entry and exit (model s) of every eclipse of the orbit flown over ``duration_s``, from
    the geometry hwsim flies (``OrbitEnv``: umbra, illumination 0, as the model's ``eclipse``
    flag), found on a ``grid_s`` grid and refined by bisection to 1 ms; an eclipse in force at
    0 enters at 0.0, one not over by the end exits None. The samples' flag (30 s apart) would
    misplace an edge by up to a sample."""
    env = OrbitEnv(config.orbit)

    def dark(t_s: float) -> bool:
        env.geometry_at(t_s)  # β of 'j2' orbits is held on a grid (a no-op when fixed)
        return env.illumination_at(t_s) <= 0.0

    def edge(lo: float, hi: float) -> float:
        state = dark(lo)
        while hi - lo > 1e-3:
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if dark(mid) == state else (lo, mid)
        return round(hi, 3)

    times = np.arange(0.0, duration_s + grid_s, grid_s)
    times[-1] = min(times[-1], duration_s)
    flags = [dark(float(t)) for t in times]
    out: list[tuple[float, float | None]] = []
    entry: float | None = 0.0 if flags[0] else None
    for k in range(1, len(times)):
        if flags[k] == flags[k - 1]:
            continue
        at = edge(float(times[k - 1]), float(times[k]))
        if flags[k]:
            entry = at
        elif entry is not None:
            out.append((entry, at))
            entry = None
    if entry is not None:
        out.append((entry, None))
    return out


_SHED = PowerEvent.COMPUTE_SHED_FOR_ECLIPSE.name
_RESTORED = PowerEvent.COMPUTE_RESTORED.name


def _shed_restore(
    eclipses: list[tuple[float, float | None]],
    events: list[dict[str, Any]],
    forecasts: set[tuple[float | None, float | None]] | None = None,
    cols: dict[str, np.ndarray] | None = None,
) -> list[dict[str, Any]]:
    """Per eclipse of the orbit (:func:`orbit_eclipses`), when the flight software shed
    compute for it and when it restored it, from power control's own events: the first
    COMPUTE_SHED_FOR_ECLIPSE after the previous eclipse's exit (and before this one's), then
    the first COMPUTE_RESTORED after it (and before the next entry). ``shed_before_eclipse_s``
    is entry - shed (negative: shed after the entry), ``restored_after_eclipse_s`` restore -
    exit. Beside them: the power service's predicted entry and exit (``EclipseForecast``,
    nearest within 10 min) and, from the samples, the mean compute power in the eclipse."""
    sheds = [e["time_s"] for e in events if e["event"] == _SHED]
    restores = [e["time_s"] for e in events if e["event"] == _RESTORED]
    out = []
    for k, (start, end) in enumerate(eclipses):
        after = eclipses[k - 1][1] if k else None
        before = eclipses[k + 1][0] if k + 1 < len(eclipses) else math.inf
        entry: dict[str, Any] = {
            "eclipse_start_s": start,
            "eclipse_end_s": end,
            "duration_s": None if end is None else round(end - start, 3),
        }
        entries = [e for e, _ in (forecasts or ()) if e is not None and abs(e - start) <= 600]
        exits = [x for _, x in (forecasts or ()) if x is not None and end and abs(x - end) <= 600]
        entry["predicted_start_s"] = min(entries, key=lambda e: abs(e - start), default=None)
        entry["predicted_end_s"] = min(exits, key=lambda x: abs(x - (end or 0)), default=None)
        shed = next(
            (t for t in sheds if (after is None or t > after) and (end is None or t <= end)), None
        )
        entry["shed_at_s"] = shed
        entry["shed_before_eclipse_s"] = None if shed is None else round(start - shed, 3)
        restored = next((t for t in restores if shed is not None and shed < t < before), None)
        entry["restored_at_s"] = restored
        entry["restored_after_eclipse_s"] = (
            None if restored is None or end is None else round(restored - end, 3)
        )
        if shed is None:
            entry["note"] = f"no {_SHED} event for this eclipse"
        elif restored is None and end is not None:
            entry["note"] = f"no {_RESTORED} event after this eclipse"
        if cols is not None:
            t = cols["time_s"]
            inside = (t >= start) & (t < (end if end is not None else math.inf))
            p = cols["compute_power_w"][inside]
            entry["mean_compute_w_in_eclipse"] = float(p.mean()) if len(p) else None
        out.append(entry)
    return out


# ------------------------------------------------------------------------ modes and sheds

_MODE_CHANGE = re.compile(r"^(?P<old>[A-Z_]+) -> (?P<new>[A-Z_]+): ?(?P<why>.*)$")


def _modes(events: list[dict[str, Any]], duration_s: float) -> dict[str, Any]:
    """Time per spacecraft mode from the mode manager's MODE_CHANGED events ('OLD -> NEW:
    why'). The SAFE of boot (entered from BOOT, left once the platform is up) is the boot
    sequence, not a response to anything: it is counted apart (``boot_safe_s``), and
    ``safe_s`` / ``survival_s`` are the time in SAFE and SURVIVAL after it."""
    changes = []
    for e in events:
        if e["event"] != "MODE_CHANGED":
            continue
        m = _MODE_CHANGE.match(e["message"])
        if m is not None:
            changes.append((float(e["time_s"]), m["old"], m["new"], m["why"]))
    time_in: dict[str, float] = {}
    boot_safe_s = 0.0
    entries = []
    for k, (at, old, new, why) in enumerate(changes):
        until = changes[k + 1][0] if k + 1 < len(changes) else duration_s
        span = max(0.0, until - at)
        if new == "SAFE" and old == "BOOT":
            boot_safe_s += span
            continue
        time_in[new] = time_in.get(new, 0.0) + span
        if new in ("SAFE", "SURVIVAL"):
            entries.append({"time_s": at, "mode": new, "from": old, "reason": why, "for_s": span})
    return {
        "safe_s": time_in.get("SAFE", 0.0),
        "survival_s": time_in.get("SURVIVAL", 0.0),
        "boot_safe_s": boot_safe_s,
        "time_in_mode_s": time_in,
        "safe_or_survival_entries": entries,
        "transitions": len(changes),
    }


def _bus_protection(cols: dict[str, np.ndarray]) -> dict[str, Any]:
    """The power bus's own protection: loads the hardware shed because array and battery
    (above its floor) could not carry them (``shed_loads``, a count per sample), as distinct
    from what flight software switched off on purpose. Episodes are runs of samples with any
    load shed."""
    t = cols["time_s"]
    shed = cols["shed_loads"] > 0
    dt = np.diff(t, prepend=t[0])
    starts = np.flatnonzero(shed & ~np.concatenate(([False], shed[:-1])))
    return {
        "episodes": len(starts),
        "shed_s": float(dt[shed].sum()),
        "max_loads_shed": int(cols["shed_loads"].max()) if len(t) else 0,
        "first_at_s": float(t[starts[0]]) if len(starts) else None,
    }


# ------------------------------------------------------------------------------ faults

# What flight software reports once it has taken the catalogue's corrective action for a
# fault (``hwsim.faults``, ``fdir_response``): a fault counts as **recovered** when one of
# these events names its unit after the injection (docs/hwsim.md, What-if runs). A fault
# whose response is never reported (a board that throttles itself within its limit) is not
# recovered, whatever its harm: the limits say that.
RECOVERY_EVENTS: dict[str, frozenset[str]] = {
    # a seized duty pump is switched over; a seized standby is found by the standby check and
    # marked unusable (there is nothing to switch: the duty pump runs on)
    "pump_seizure": frozenset({"PUMP_SWITCHOVER", "PUMP_STANDBY_UNAVAILABLE"}),
    "pump_degradation": frozenset({"PUMP_DEGRADED", "PUMP_SWITCHOVER"}),
    "radiator_puncture": frozenset({"PANEL_ISOLATED", "LOOP_ISOLATED"}),
    "sensor_stuck": frozenset({"SENSOR_VOTED_OUT"}),
    "sensor_drift": frozenset({"SENSOR_VOTED_OUT"}),
    "sensor_noisy": frozenset({"SENSOR_VOTED_OUT"}),
    "sensor_dead": frozenset({"SENSOR_VOTED_OUT"}),
    "array_drive_stuck": frozenset({"ARRAY_DRIVE_STUCK"}),
    "mppt_failure": frozenset({"MPPT_FAILED"}),
    "battery_cell_failure": frozenset({"BATTERY_DEGRADED"}),
    "switch_trip": frozenset({"SWITCH_RECLOSED", "SWITCH_TRIPPED"}),
    "board_overtemp": frozenset({"BOARD_OVERTEMP"}),
    # a power cycle, or (BOARD_LATCHUP: raised only with the action) a power-off under a
    # compute limit, which clears the latch as well
    "board_latchup": frozenset({"BOARD_POWER_CYCLED", "BOARD_LATCHUP"}),
    # a burst is answered upset by upset (scrub, reset, power cycle) until SEU_BURST's rate
    "seu_burst": frozenset({"SEU_BURST", "BOARD_UPSET", "BOARD_HUNG", "BOARD_POWER_CYCLED"}),
}
# board_upset: by its kind (the catalogue's response to each)
UPSET_RECOVERY_EVENTS: dict[str, frozenset[str]] = {
    "bit_flip_result": frozenset({"RESULT_MISMATCH"}),
    "hang": frozenset({"BOARD_HUNG", "BOARD_POWER_CYCLED"}),
    "latch_up": frozenset({"BOARD_POWER_CYCLED"}),
    "memory_ce": frozenset({"BOARD_UPSET"}),
    "memory_ue": frozenset({"BOARD_UPSET"}),
}


def _recovery_events(fault: str, params: dict[str, Any]) -> frozenset[str]:
    if fault == "board_upset":
        return UPSET_RECOVERY_EVENTS.get(str(params.get("kind", "bit_flip_result")), frozenset())
    if fault == "switch_trip" and not params.get("persistent"):
        return frozenset({"SWITCH_RECLOSED"})  # 'kept open' is the answer to a persistent one
    return RECOVERY_EVENTS.get(fault, frozenset())


def unit_names(target: str) -> re.Pattern[str]:
    """How flight software's event messages name a fault's unit: the device id itself, and
    the short forms its services write ('L2: pump B', 'P08 of L2', 'wing W1', 'switch
    slot_013' for the slot's PDU channel and its board 'slot.013', 'battery: 1 failed
    cell')."""
    forms = [re.escape(target)]
    kind, _, rest = target.partition(".")
    if kind == "pump" and "." in rest:
        loop, pump = rest.split(".", 1)
        forms.append(rf"{loop}:? pump {pump}")
    elif kind == "radiator":
        forms += [rf"radvalve\.{rest}", rest]
    elif kind == "wing":
        forms.append(rf"wing {rest}")
    elif kind == "battery":
        forms = [r"battery\.cell", r"failed cell"]
    elif kind == "pdu":
        forms.append(re.escape(rest))
        if rest.startswith("slot_"):
            forms.append(rf"slot\.{rest.removeprefix('slot_')}")
    elif kind == "slot":
        forms.append(rf"slot_{rest}")
    return re.compile(r"(?<![\w.])(?:" + "|".join(forms) + r")(?![\w])")


def _fault_report(f: dict[str, Any], events: list[dict[str, Any]]) -> dict[str, Any]:
    """A fault with the events flight software raised for it (those naming its unit from
    the injection on), when it was first seen and whether (and by what) it was recovered."""
    at = f["activated_at_s"] if f["activated_at_s"] is not None else f["at_s"]
    names = unit_names(f["target"])
    raised = [
        e
        for e in events
        if e["time_s"] >= at and e["event"] not in _ROUTINE and names.search(e["message"])
    ]
    wanted = _recovery_events(f["fault"], f.get("params") or {})
    recovery = next((e for e in raised if e["event"] in wanted), None)
    # a unit already answered for (a sensor voted out by an earlier fault): said, not counted
    earlier = [
        e
        for e in events
        if e["time_s"] < at and e["event"] in wanted and names.search(e["message"])
    ]
    observable, why = f.get("observable", (True, ""))
    if (
        recovery is None
        and f["fault"] == "board_upset"
        and (f.get("params") or {}).get("kind", "bit_flip_result") == "bit_flip_result"
    ):
        # The what-if's workload runs every job once (payload spot checks off by default):
        # a flipped result is then seen only by the ground's check of the job's digest
        # (docs/payload.md, which upsets flight software can see).
        observable = False
        why = "a flipped result of a job run once: only the ground's digest check sees it"
    return {
        "observable": observable,
        "observable_note": why,
        "events_for_fault": [
            {"time_s": e["time_s"], "event": e["event"], "message": e["message"]}
            for e in raised[:EVENTS_PER_FAULT]
        ],
        "events_for_fault_count": len(raised),
        "detected_at_s": raised[0]["time_s"] if raised else None,
        "recovered": recovery is not None,
        "recovered_by": recovery["event"] if recovery else None,
        "recovered_at_s": recovery["time_s"] if recovery else None,
        "recovery_s": round(recovery["time_s"] - at, 3) if recovery else None,
        "recovery_events": sorted(wanted),
        "answered_before_injection": (
            f"{earlier[-1]['event']} at {earlier[-1]['time_s']:g} s" if earlier else None
        ),
    }


def _report(
    cols: dict[str, np.ndarray],
    config: SpacecraftConfig,
    duration_s: float,
    energy: dict[str, float],
    ran: list[dict[str, Any]],
    events: list[dict[str, Any]],
    workload: _Workload,
    forecasts: set[tuple[float | None, float | None]] | None = None,
) -> dict[str, Any]:
    t = cols["time_s"]
    ecl = cols["eclipse"].astype(bool)
    hk_w = float(sum(ld.power_w for ld in config.power_bus.loads))
    pump = cols["pump_power_w"]
    array_j = _integral(t, cols["array_available_w"])
    hk_sun_j = _integral(t, np.where(ecl, 0.0, hk_w + pump))
    hk_ecl_j = _integral(t, np.where(ecl, hk_w + pump, 0.0))
    battery = config.battery
    soc = cols["battery_soc"]
    battery_drop_j = float(soc[0] - soc[-1]) * battery.capacity_wh * 3600.0  # stored energy
    energy_j = energy_limited_j(
        array_j,
        hk_sun_j,
        hk_ecl_j,
        battery.charge_efficiency,
        battery.discharge_efficiency,
        battery_drop_j,
    )
    limit_k = min(
        (s.max_die_temp_k for s in config.compute.expanded_slots() if s.max_die_temp_k),
        default=373.15,
    )
    panels = [(p.area_per_face_m2 * p.faces, p.emissivity) for p in config.radiators.panels]
    bound = compute_bound(
        energy_j,
        rejection_limited_j(panels, limit_k, duration_s),
        boards_limited_j(workload.peak_w, duration_s),
        duration_s,
    )
    delivered = energy["compute_heat_j"] / 3.6e6 * 86400.0 / duration_s
    per_fault = []
    for f in ran:
        at = f["activated_at_s"] if f["activated_at_s"] is not None else f["at_s"]
        following = [
            e
            for e in events
            if at <= e["time_s"] <= at + FAULT_WINDOW_S and e["event"] not in _ROUTINE
        ]
        per_fault.append(
            {
                "fault": f["fault"],
                "target": f["target"],
                "injected_at_s": at,
                **_fault_report(f, events),
                # every event of the window, the fault's or not (context for the reader)
                "events_after": following[:EVENTS_PER_FAULT],
                "events_after_count": len(following),
                "responded": bool(following),
            }
        )
    ratio = delivered / bound.bound_kwh_per_day if bound.bound_kwh_per_day > 0 else None
    modes = _modes(events, duration_s)
    bus = _bus_protection(cols)
    return {
        "summary": {
            "compute_delivered_kwh_per_day": delivered,
            "compute_bound_kwh_per_day": bound.bound_kwh_per_day,
            "compute_ratio": ratio if ratio is not None else float("nan"),
            "safe_or_survival_s": modes["safe_s"] + modes["survival_s"],
            "bus_protection_shed_episodes": float(bus["episodes"]),
            "faults_recovered": float(sum(f["recovered"] for f in per_fault)),
            "faults_injected": float(len(per_fault)),
        },
        "compute_vs_bound": {
            "compute_delivered_kwh_per_day": delivered,
            "compute_bound_kwh_per_day": bound.bound_kwh_per_day,
            "ratio": ratio,
            "bound": bound.model_dump(),
            "inputs": {
                "array_available_kwh": array_j / 3.6e6,
                "housekeeping_and_pumps_sunlit_kwh": hk_sun_j / 3.6e6,
                "housekeeping_and_pumps_eclipse_kwh": hk_ecl_j / 3.6e6,
                "battery_stored_drop_kwh": battery_drop_j / 3.6e6,
                "boards_limit_temp_k": limit_k,
                "boards": len(workload.peak_w),
                "note": "array, pump and eclipse figures integrate the recorded samples",
            },
        },
        "eclipses": _shed_restore(orbit_eclipses(config, duration_s), events, forecasts, cols),
        "modes": modes,
        "bus_protection": bus,
        "eclipse_forecasts": len(forecasts or ()),
        "faults": per_fault,
        "jobs_submitted": workload.submitted,
        "events_count": len(events),
        "events": events,
    }


RECOVERED_MEANS = (
    "flight software reported the catalogue's corrective action for the fault: one of "
    "'recovery_events' (per fault id) named the faulty unit after the injection"
)


# How long after an eclipse's exit compute may wait to be restored (the battery recharging
# first) before a run that ends meanwhile counts it as never restored.
RESTORE_DUE_S = 600.0


def done_when(doc: dict[str, Any]) -> dict[str, Any]:
    """Issue 9's Done-when, checkable at a glance, from summary.json's document (margins
    and the flight software's report): each limit's worst value against it, battery depth
    of discharge against its limit, compute against its bound, SAFE/SURVIVAL time, the bus's
    protection sheds, every fault with its events and whether it was recovered, and the
    eclipse shed/restore times. ``checks`` says which hold; ``all_pass`` whether all do."""
    margins, fsw = doc["margins"], doc["flight_software"]
    limits = {k: v for k, v in margins["limits"].items() if isinstance(v, dict)}
    power = margins["power"]
    dod = {
        "worst": 1.0 - power["min_battery_soc"],
        "limit": 1.0 - power["min_soc_limit"],
        "time_s": power["time_s"],
        "note": "1 - state of charge, against 1 - the battery's min_soc",
    }
    dod["within"] = bool(dod["worst"] <= dod["limit"])
    cvb = fsw["compute_vs_bound"]
    modes, bus = fsw["modes"], fsw["bus_protection"]
    faults = fsw["faults"]
    catalogue = {spec.id: spec.fdir_response for spec in fault_catalogue()}
    each = [
        {
            "fault": f["fault"],
            "target": f["target"],
            "injected_at_s": f["injected_at_s"],
            "events": [f"{e['event']} at {e['time_s']:g} s" for e in f["events_for_fault"]],
            "detected_at_s": f["detected_at_s"],
            "recovered": f["recovered"],
            "recovered_by": f["recovered_by"],
            "recovery_s": f["recovery_s"],
            "observable": f.get("observable", True),
            "observable_note": f.get("observable_note", ""),
        }
        for f in faults
    ]
    not_observable = [
        {"fault": f["fault"], "target": f["target"], "why": f.get("observable_note", "")}
        for f in faults
        if not f["recovered"] and not f.get("observable", True)
    ]
    not_recovered = [
        {
            "fault": f["fault"],
            "target": f["target"],
            "detected": f["detected_at_s"] is not None,
            "expected": f["recovery_events"],
            "fdir_response": catalogue.get(f["fault"], ""),
            "answered_before_injection": f.get("answered_before_injection"),
        }
        for f in faults
        if not f["recovered"] and f.get("observable", True)
    ]
    eclipses = fsw["eclipses"]
    checks = {
        "limits_within": bool(margins["limits"]["all_within"]),
        "battery_dod_within": dod["within"],
        "no_safe_or_survival": modes["safe_s"] == 0.0 and modes["survival_s"] == 0.0,
        "no_bus_protection_sheds": bus["episodes"] == 0,
        "every_fault_recovered": not not_recovered,
        "compute_at_least_90_percent_of_bound": bool(
            cvb["ratio"] is not None and cvb["ratio"] >= 0.9
        ),
        # compute shed (if the battery could not carry it) before each entry, never after,
        # and restored once the eclipse is over
        "eclipse_shed_before_entry_and_restored": all(
            e["shed_before_eclipse_s"] is None
            or (
                e["shed_before_eclipse_s"] >= 0
                and (
                    e["restored_after_eclipse_s"] is not None
                    # the run ended before a restore was due
                    or e["eclipse_end_s"] + RESTORE_DUE_S >= float(doc["duration_s"])
                )
            )
            for e in eclipses
        ),
    }
    return {
        "checks": checks,
        "all_pass": all(checks.values()),
        "limits": limits,
        "battery_depth_of_discharge": dod,
        "compute": {
            "delivered_kwh_per_day": cvb["compute_delivered_kwh_per_day"],
            "bound_kwh_per_day": cvb["compute_bound_kwh_per_day"],
            "ratio": cvb["ratio"],
            "limited_by": cvb["bound"]["limited_by"],
        },
        "safe_survival": {
            "safe_s": modes["safe_s"],
            "survival_s": modes["survival_s"],
            "boot_safe_s": modes["boot_safe_s"],
            "entries": modes["safe_or_survival_entries"],
        },
        "bus_protection_sheds": {**bus, "must_be": 0},
        "faults": {
            "injected": len(faults),
            "detected": sum(f["detected_at_s"] is not None for f in faults),
            "recovered": sum(bool(f["recovered"]) for f in faults),
            "recovered_means": RECOVERED_MEANS,
            "not_recovered": not_recovered,
            # faults that had no effect flight software could see: not counted either way
            "not_observable": not_observable,
            "each": each,
        },
        "eclipses": [
            {
                "entry_s": e["eclipse_start_s"],
                "exit_s": e["eclipse_end_s"],
                "shed_before_entry_s": e["shed_before_eclipse_s"],
                "restored_after_exit_s": e["restored_after_eclipse_s"],
            }
            for e in fsw["eclipses"]
        ],
    }


def _add_done_when(doc: dict[str, Any]) -> None:
    doc["done_when"] = done_when(doc)


# ---------------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``computesat whatif`` (``hwsim.whatif``'s and ``--all-faults``)."""
    hw_whatif.add_arguments(parser)
    parser.add_argument(
        "--all-faults",
        action="store_true",
        help="inject every catalogue fault once, on a target and at a time (10-90 %% of the "
        "run) drawn from --seed, no two in one redundancy group (a loop's pumps, a panel "
        "and its sensors, a slot and its switch) (added to the scenario's and --fault's)",
    )


def _more(args: argparse.Namespace, planned: dict[str, Any]) -> None:
    if getattr(args, "all_faults", False):
        planned["faults"] = [
            *planned["faults"],
            *all_faults(planned["config"], planned["duration_s"], planned["seed"]),
        ]


def main(args: argparse.Namespace) -> int:
    """``computesat whatif``: 0 on success, 2 on bad input."""
    return hw_whatif.main(args, fly=fly, more=_more)


def run_whatif(*args: Any, **kwargs: Any) -> hw_whatif.WhatIfResult:
    """``hwsim.whatif.run_whatif`` flown by flight software."""
    kwargs.setdefault("fly", fly)
    return hw_whatif.run_whatif(*args, **kwargs)
