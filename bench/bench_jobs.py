"""Compute-job throughput through the whole path vs the same kernels called directly.

- path: ground → RF link (UDP) → payload manager (flight software) → device port → plug-in
  board in hwsim (numpy) → take_results → TM(140,5) → ground. The satellite is the real
  thing as separate processes (``launch_satellite``, default AI1: 150 reference boards),
  accelerated so that mission-time control periods (the manager collects results once per
  mission second) do not dominate. ``sequential``: submit, wait for the result, repeat.
  ``pipelined``: submit a batch, then wait for all results.
- baseline: ``computesat_sdk.kernels.run_reference`` on the same job specs in this process (inputs,
  kernel, digest), i.e. the numpy work alone.

Every result is verified on the ground against the reference digest; the default spacecraft
has random upsets, so a rare unverified job is reported on stderr.

    python bench/bench_jobs.py [--quick]
"""

from __future__ import annotations

import asyncio
import time

from _common import emit, note, parse_args
from computesat_sdk import kernels

from computesat.launcher import launch_satellite
from ground.station import Ground
from icd.dictionary import BoardState, JobState

SPEED = 200.0
SIZE = 64


def direct_rate(specs: list[kernels.JobSpec]) -> float:
    start = time.perf_counter()
    for spec in specs:
        kernels.run_reference(spec)
    return len(specs) / (time.perf_counter() - start)


async def main() -> None:
    args = parse_args("compute-job throughput: whole path vs direct kernel calls")
    n = 20 if args.quick else 200
    sat = await launch_satellite(
        ["--clock", "accelerated", "--speed", str(SPEED)],
        ["--port", "0"],
        device_endpoint="tcp://127.0.0.1:0",
        simctl_endpoint="tcp://127.0.0.1:0",
    )
    async with sat, Ground(sat.udp_host, sat.udp_port, speed=SPEED) as ground:
        await ground.ping()
        while True:  # boards boot in 10-60 mission s
            boards = await ground.list_boards()
            if boards and sum(b.state == BoardState.IDLE for b in boards) >= 100:
                break
            await ground.wait_for(lambda tm: tm.sid == 3, timeout=30)
        note(f"{len(boards)} boards up; {n} jobs of matmul {SIZE}")

        # The default spacecraft has random upsets: a rare wrong or failed job is reported
        # (unverified), not hidden.
        bad = 0
        start = time.perf_counter()
        for seed in range(n):
            job_id = await ground.submit_job("matmul", SIZE, seed)
            report = await ground.wait_job(job_id, timeout=120)
            bad += not (report.state == JobState.COMPLETED and ground.verify(report))
        sequential = n / (time.perf_counter() - start)

        start = time.perf_counter()
        ids = [await ground.submit_job("matmul", SIZE, 10_000 + seed) for seed in range(n)]
        for job_id in ids:
            report = await ground.wait_job(job_id, timeout=300)
            bad += not (report.state == JobState.COMPLETED and ground.verify(report))
        pipelined = n / (time.perf_counter() - start)

    specs = [kernels.JobSpec(job_id=str(s), kernel="matmul", size=SIZE, seed=s) for s in range(n)]
    baseline = direct_rate(specs)
    emit("jobs_sequential", sequential, "jobs/s", baseline, clock_speed=SPEED, jobs=n)
    emit("jobs_pipelined", pipelined, "jobs/s", baseline, clock_speed=SPEED, jobs=n)
    if bad:
        note(f"{bad} of {2 * n} jobs did not complete with a verified digest")


if __name__ == "__main__":
    asyncio.run(main())
