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
- **Report** (summary.json ``flight_software``): every flight-software event, per fault the
  injection time and the events that followed, eclipse shed and restore times of compute
  against the eclipses flown, and compute delivered against its bound (``computesat.bound``).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
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
from icd.device import DeviceReply, DeviceRequest, SimOp
from icd.devices import IdentityResult
from icd.dictionary import Apid, EventId, SubmitJob
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
    same seed); catalogue defaults for the parameters."""
    rng = random.Random(seed)
    probe = Spacecraft(config, seed=seed, settle_step_s=None)
    out: list[FaultEvent] = []
    for spec in fault_catalogue():
        targets = sorted(probe.fault_targets(spec.target_kind))
        if not targets:
            continue
        target = rng.choice(targets)
        at_s = round(rng.uniform(0.1, 0.9) * duration_s)
        out.append(
            FaultEvent.model_validate(
                {"fault": spec.id, "target": target, "at": at_s, "source": "--all-faults"}
            )
        )
    return sorted(out, key=lambda ev: ev.at_s)


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
        epoch_s = sim.epoch_ns / 1e9
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
        record(sim.model)

    def on_step(model: Spacecraft) -> None:
        nonlocal steps
        steps += 1
        if steps > n_steps:
            return
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
    )


async def _collect_events(sub: Any, origin_ns: int, out: list[dict[str, Any]]) -> None:
    """Every flight-software event, at model time (s since the run's start)."""
    while True:
        message = await sub.recv()
        assert isinstance(message, Event)
        try:
            name = EventId(message.event_id).name
        except ValueError:
            name = str(message.event_id)
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


def _eclipses(t: np.ndarray, ecl: np.ndarray) -> list[tuple[float, float | None]]:
    edges = np.flatnonzero(np.diff(ecl.astype(int)))
    out: list[tuple[float, float | None]] = []
    start = float(t[0]) if ecl[0] else None
    for j in edges:
        if ecl[j + 1]:
            start = float(t[j + 1])
        elif start is not None:
            out.append((start, float(t[j + 1])))
            start = None
    if start is not None:
        out.append((start, None))
    return out


def _shed_restore(
    cols: dict[str, np.ndarray],
    eclipses: list[tuple[float, float | None]],
    forecasts: set[tuple[float | None, float | None]] | None = None,
) -> list[dict[str, Any]]:
    """Per eclipse: when compute fell below 20 % of its sunlit level (looked for from 30 min
    before the eclipse) and when it came back above 80 % after it; with the flight
    software's forecasts (``EclipseForecast``), the predicted entry and exit nearest the
    eclipse flown (within 10 min)."""
    t, p = cols["time_s"], cols["compute_power_w"]
    sun = cols["eclipse"] == 0
    ref = float(np.median(p[sun])) if sun.any() else 0.0
    out = []
    for start, end in eclipses:
        entry: dict[str, Any] = {"eclipse_start_s": start, "eclipse_end_s": end}
        entries = [e for e, _ in (forecasts or ()) if e is not None and abs(e - start) <= 600]
        exits = [x for _, x in (forecasts or ()) if x is not None and end and abs(x - end) <= 600]
        entry["predicted_start_s"] = min(entries, key=lambda e: abs(e - start), default=None)
        entry["predicted_end_s"] = min(exits, key=lambda x: abs(x - (end or 0)), default=None)
        if ref <= 0.0:
            out.append(entry | {"note": "no compute in sunlight"})
            continue
        low = np.flatnonzero((t >= start - 1800.0) & (p < 0.2 * ref))
        entry["shed_at_s"] = float(t[low[0]]) if len(low) else None
        entry["shed_before_eclipse_s"] = (
            start - entry["shed_at_s"] if entry["shed_at_s"] is not None else None
        )
        if end is not None:
            back = np.flatnonzero((t >= end) & (p >= 0.8 * ref))
            entry["restored_at_s"] = float(t[back[0]]) if len(back) else None
            entry["restored_after_eclipse_s"] = (
                entry["restored_at_s"] - end if entry["restored_at_s"] is not None else None
            )
        out.append(entry)
    return out


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
        # the events that name the fault's target (pdu.slot_028: 'slot_028' too)
        names = {f["target"], f["target"].removeprefix("pdu.")}
        naming = [e for e in events if e["time_s"] >= at and any(n in e["message"] for n in names)]
        per_fault.append(
            {
                "fault": f["fault"],
                "target": f["target"],
                "injected_at_s": at,
                "events_after": following[:EVENTS_PER_FAULT],
                "events_after_count": len(following),
                "events_naming_target": naming[:EVENTS_PER_FAULT],
                "responded": bool(following),
                "responded_to_target": bool(naming),
            }
        )
    ratio = delivered / bound.bound_kwh_per_day if bound.bound_kwh_per_day > 0 else None
    return {
        "summary": {
            "compute_delivered_kwh_per_day": delivered,
            "compute_bound_kwh_per_day": bound.bound_kwh_per_day,
            "compute_ratio": ratio if ratio is not None else float("nan"),
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
        "eclipses": _shed_restore(cols, _eclipses(t, ecl), forecasts),
        "eclipse_forecasts": len(forecasts or ()),
        "faults": per_fault,
        "jobs_submitted": workload.submitted,
        "events_count": len(events),
        "events": events,
    }


# ---------------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``computesat whatif`` (``hwsim.whatif``'s and ``--all-faults``)."""
    hw_whatif.add_arguments(parser)
    parser.add_argument(
        "--all-faults",
        action="store_true",
        help="inject every catalogue fault once, on a target and at a time (10-90 %% of the "
        "run) drawn from --seed (added to the scenario's and --fault's)",
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
