"""Run one matmul job on the satellite and verify its result on the ground.

    computesat satellite &              # or: computesat up
    python examples/scripts/run_matmul_job.py --size 512 --seed 7 --redundancy 2

Pings both APIDs, lists the boards (140,6 → 140,7), submits the job (140,1), waits for its
result (140,5), recomputes the digest on the ground (computesat_sdk.kernels) and prints the outcome.
Timeouts are mission seconds, so the script works at any clock speed. Exit status 0 only if
the job completed and its digest verified.
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from ground.station import Ground
from icd import dictionary as dic


async def main(args: argparse.Namespace) -> int:
    async with Ground(args.host, args.port) as ground:
        await ground.ping()
        await ground.ping(apid=dic.Apid.PAYLOAD)
        boards = await ground.list_boards()
        print(f"{len(boards)} boards:")
        for b in boards[: args.show_boards]:
            print(
                f"  slot {b.slot:3d} {b.board:14s} {b.vendor:22s} {b.state.name.lower():9s} "
                f"{b.die_temp_k:6.1f} K throttle {b.throttle_level} {b.power_w:7.1f} W"
            )
        job_id = await ground.submit_job(
            "matmul", args.size, args.seed, args.iterations, redundancy=args.redundancy
        )
        print(f"job {job_id} submitted (matmul n={args.size}, seed {args.seed})")
        report = await ground.wait_job(job_id, timeout=args.timeout)
        verified = ground.verify(report) if report.digest else False
        print(
            f"job {job_id} {report.state.name.lower()} on slots {list(report.slots)} "
            f"retries {report.retries}, {report.end_s - report.start_s:.6f} mission s"
        )
        print(f"digest {report.digest or '-'}: {'VERIFIED' if verified else 'NOT verified'}")
        if report.reason:
            print(f"reason: {report.reason}")
        return 0 if report.state == dic.JobState.COMPLETED and verified else 1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="satellite RF-link host")
    parser.add_argument("--port", type=int, default=7301, help="satellite RF-link UDP port")
    parser.add_argument("--size", type=int, default=256, help="matrix order n (1..4096)")
    parser.add_argument("--seed", type=int, default=1, help="input seed (u32)")
    parser.add_argument("--iterations", type=int, default=1, help="repetitions (u32)")
    parser.add_argument("--redundancy", type=int, choices=(1, 2), default=1)
    parser.add_argument("--timeout", type=float, default=600.0, help="mission seconds")
    parser.add_argument("--show-boards", type=int, default=10, help="boards to print")
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
