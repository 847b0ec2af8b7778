"""The whole satellite in one process on the stepped clock: mission seconds per wall second.

hwsim (the default AI1 configuration: 160 plug-in boards) and every flight-software service
of ``flightsw.app.services`` (device polling, housekeeping, payload manager, link...) run in
one event loop on ``SteppedClock(io_free=True)``, joined by the in-process device port and
bus (``computesat.inprocess``), with a ground's workload keeping the boards busy (the what-if
runner's: ``computesat.whatif``). Mission time is counted after boot and a settling minute.

Lines (JSON, ``bench/README.md``):

- ``satellite_inprocess_vs_realtime``: mission s / wall s, baseline real time (1.0); target
  600x (issue 9: an orbit in under 10 s);
- ``satellite_inprocess_vs_physics``: the same figure against the physics alone in the same
  run (``Spacecraft.step`` of the same configuration at the same step, no flight software):
  ratio = the share of the speed the flight software and transports leave;
- ``physics_alone_vs_realtime``: the physics alone, baseline real time.

Run: ``python bench/bench_satellite_inprocess.py [--quick] [--seconds N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import emit, note

from computesat.inprocess import whole_satellite
from computesat.whatif import _Workload, flight_specs
from hwsim.app import InProcessHardware
from hwsim.boards.executor import ResultsNotComputed
from hwsim.config import default_config
from hwsim.spacecraft import Spacecraft

TARGET_RTF = 600.0
STEP_S = 1.0
SETTLE_S = 60.0


class _Timed:
    """Wall time spent in a callable (bench instrumentation, not mission time)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self.wall_s = 0.0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.wall_s += time.perf_counter() - t0


async def satellite_rtf(mission_s: float) -> tuple[float, dict[str, Any]]:
    config = default_config()
    timers: dict[str, _Timed] = {}

    def instrument(hooks: InProcessHardware) -> None:
        # before the first step: the physics loop and the port take the wrapped callables
        assert hooks.simulation is not None and hooks.device is not None
        model = hooks.simulation.model
        timers["physics"] = model.step = _Timed(model.step)
        timers["device_port"] = hooks.device.answer_request = _Timed(hooks.device.answer_request)

    async with whole_satellite(
        spacecraft_config=config,
        physics_step_s=STEP_S,
        specs=lambda settings: flight_specs(settings, config),
        on_start=instrument,
    ) as sat:
        workload = _Workload()
        task = asyncio.create_task(workload.run(sat))
        try:
            await sat.clock.sleep(SETTLE_S)  # boards booting, the first jobs queued
            published = sat.bus.stats.published
            before = {k: t.wall_s for k, t in timers.items()}
            t0 = time.perf_counter()
            await sat.clock.sleep(mission_s)
            wall = time.perf_counter() - t0
            spent = {k: t.wall_s - before[k] for k, t in timers.items()}
            stats: dict[str, Any] = {
                "bus_messages": sat.bus.stats.published - published,
                "jobs_submitted": workload.submitted,
                # where the wall time went: hwsim's physics steps, hwsim answering device
                # requests (the backplane of 160 boards every second...), and the rest
                # (flight software: validating replies, services, bus; the event loop)
                "share_physics": round(spent["physics"] / wall, 3),
                "share_hwsim_device_port": round(spent["device_port"] / wall, 3),
                "share_flight_software_and_loop": round(
                    1.0 - (spent["physics"] + spent["device_port"]) / wall, 3
                ),
            }
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    return mission_s / wall, stats


def physics_rtf(mission_s: float) -> float:
    sc = Spacecraft(default_config(), seed=0, settle_step_s=STEP_S)
    if sc.plugin_slots is not None:
        sc.plugin_slots.attach_executor(ResultsNotComputed())
    for _ in range(int(SETTLE_S / STEP_S)):
        sc.step(STEP_S)
    n = int(mission_s / STEP_S)
    t0 = time.perf_counter()
    for _ in range(n):
        sc.step(STEP_S)
    return n * STEP_S / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run (rough)")
    parser.add_argument("--seconds", type=float, default=None, help="mission seconds timed")
    args = parser.parse_args()
    mission_s = args.seconds or (120.0 if args.quick else 1800.0)
    note(f"whole satellite in one process: {mission_s:g} mission s after {SETTLE_S:g} s")
    rtf, stats = asyncio.run(satellite_rtf(mission_s))
    note("physics alone, same configuration and step")
    physics = physics_rtf(mission_s)
    emit(
        "satellite_inprocess_vs_realtime",
        rtf,
        "mission s / wall s",
        1.0,
        target=f">= {TARGET_RTF:g}",
        mission_s=mission_s,
        step_s=STEP_S,
        **stats,
    )
    emit("satellite_inprocess_vs_physics", rtf, "mission s / wall s", physics)
    emit("physics_alone_vs_realtime", physics, "mission s / wall s", 1.0, mission_s=mission_s)


if __name__ == "__main__":
    main()
