"""hwsim snapshots: what a periodic snapshot costs, and how fast a restore is.

Run: ``python bench/bench_hwsim_snapshot.py [--quick]``. The AI1 default (150 plug-in boards)
after 600 mission seconds:

- ``snapshot_write_vs_period``: wall time to write one snapshot (pickle, SHA-256, fsync,
  rename) against the baseline of stepping one default period (600 mission s at a 1 s step)
  as fast as the host can; the ratio is the share periodic snapshots add to an as-fast-as-
  possible run (target <= 0.05);
- ``snapshot_load_vs_build``: wall time to check and load one snapshot against building the
  same spacecraft afresh (target <= 2: restoring is about as cheap as starting).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from _common import emit, median, note, parse_args

from hwsim.boards.slots import default_registry
from hwsim.config import default_config
from hwsim.snapshot import load_snapshot, write_snapshot
from hwsim.spacecraft import Spacecraft

PERIOD_S = 600.0


def main() -> None:
    args = parse_args(__doc__ or "")
    repeats = 3 if args.quick else 15
    config = default_config()
    registry = default_registry()
    writes, loads, builds, periods = [], [], [], []
    size = 0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.snap"
        for r in range(repeats):
            t0 = time.perf_counter()
            sc = Spacecraft(config, seed=r, registry=registry)
            builds.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            sc.run(PERIOD_S, 1.0)
            periods.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            header = write_snapshot(sc, path)
            writes.append(time.perf_counter() - t0)
            size = path.stat().st_size
            t0 = time.perf_counter()
            load_snapshot(path, config, registry)
            loads.append(time.perf_counter() - t0)
            note(f"repeat {r + 1}/{repeats}: write {writes[-1] * 1e3:.1f} ms")
    emit(
        "snapshot_write_vs_period",
        median(writes) * 1e3,
        "ms",
        median(periods) * 1e3,
        target="<= 0.05",
        file_bytes=size,
        body_bytes=header.body_bytes,
        boards=sum(header.boards.values()),
        repeats=repeats,
    )
    emit(
        "snapshot_load_vs_build",
        median(loads) * 1e3,
        "ms",
        median(builds) * 1e3,
        target="<= 2",
        repeats=repeats,
    )


if __name__ == "__main__":
    main()
