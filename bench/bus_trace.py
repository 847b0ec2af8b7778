"""Every bus message of the whole satellite in one process, for comparing two checkouts.

A speed change must not change behaviour: run this at the base and at the branch and compare
the two files (``cmp`` or ``diff``), or their digests. The satellite is the one of
``bench_satellite_inprocess.py`` (default configuration, 1 s physics step, the what-if
runner's ground workload), on the stepped clock, so the run is deterministic: each line is
one published message, in publication order, as ``<mission ns> <topic> <content repr>``.

Run: ``python bench/bus_trace.py [--seconds 400] [--all-faults SEED] [--out FILE]``; prints
the line count and the SHA-256 of the trace. ``--all-faults``: every catalogue fault once
within the run, drawn as the what-if report draws them.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import re
from pathlib import Path

from computesat.inprocess import whole_satellite
from computesat.whatif import _Workload, all_faults, flight_specs, schedule_faults
from hwsim.app import InProcessHardware
from hwsim.config import default_config
from runtime.bus import BusMessage
from runtime.clock import SteppedClock
from runtime.localbus import LocalBus

_PID = re.compile(r"pid \d+")


async def record(mission_s: float, faults_seed: int | None = None) -> list[str]:
    """The trace lines of ``mission_s`` mission seconds from the start (boot included);
    ``faults_seed``: every catalogue fault injected once in the run, as the what-if report's
    ``--all-faults --seed`` draws them (targets and times)."""
    config = default_config()
    faults = [] if faults_seed is None else all_faults(config, mission_s, faults_seed)

    def inject(hooks: InProcessHardware) -> None:
        schedule_faults(hooks, faults)

    lines: list[str] = []
    clock = SteppedClock(io_free=True)
    original = LocalBus.publish

    def publish(self: LocalBus, message: BusMessage) -> None:
        # the boot event names the process: the one thing two runs may not share
        content = _PID.sub("pid <pid>", repr(message.model_dump()))
        lines.append(f"{clock.now_ns()} {message.frame()!r} {content}")
        original(self, message)

    LocalBus.publish = publish  # type: ignore[method-assign]
    try:
        async with whole_satellite(
            spacecraft_config=config,
            physics_step_s=1.0,
            specs=lambda settings: flight_specs(settings, config),
            clock=clock,
            on_start=inject,
        ) as sat:
            workload = _Workload()
            task = asyncio.create_task(workload.run(sat))
            try:
                await sat.clock.sleep(mission_s)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
    finally:
        LocalBus.publish = original  # type: ignore[method-assign]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=400.0, help="mission seconds")
    parser.add_argument("--out", type=Path, default=None, help="write the trace here")
    parser.add_argument(
        "--all-faults", type=int, default=None, metavar="SEED", help="every fault once (seed)"
    )
    args = parser.parse_args()
    lines = asyncio.run(record(args.seconds, args.all_faults))
    text = "\n".join(lines) + "\n"
    if args.out is not None:
        args.out.write_text(text)
    print(len(lines), hashlib.sha256(text.encode()).hexdigest())


if __name__ == "__main__":
    main()
