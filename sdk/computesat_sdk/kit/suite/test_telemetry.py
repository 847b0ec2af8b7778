"""Telemetry: ranges, units, monotonic counters and mission time, through every state."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from computesat_sdk.contract import BoardHealth, PowerState, UpsetKind
from computesat_sdk.kit.harness import PLATE_NOMINAL_K, TelemetryWatch, long_job, run_until

if TYPE_CHECKING:
    from computesat_sdk.contract import ComputeBoard


def test_telemetry_ranges_units_and_monotonic_counters(computesat_board: ComputeBoard) -> None:
    for name, info in BoardHealth.model_fields.items():
        assert info.description, f"BoardHealth.{name} has no description"
    board = computesat_board
    watch = TelemetryWatch(board)
    watch()
    board.power_on()
    watch()
    run_until(board, lambda: board.state is not PowerState.BOOTING, 1e6, on_step=watch)
    board.submit(long_job(board, 30.0))
    watch()
    start_s = board.health().mission_time_s
    for _ in range(10):
        board.step(0.25, PLATE_NOMINAL_K)
        watch()
    end_s = board.health().mission_time_s
    assert math.isclose(end_s, start_s + 2.5, abs_tol=1e-9), (
        f"ten 0.25 s steps from {start_s} s ended at {end_s} s"
    )
    heartbeat = board.health().heartbeat
    assert heartbeat > watch.samples[0].heartbeat, "heartbeat does not advance while up"
    board.inject_upset(UpsetKind.MEMORY_CE)
    watch()
    before, after = watch.samples[-2].correctable_errors, watch.samples[-1].correctable_errors
    assert after == before + 1, f"correctable_errors {before} -> {after} after one MEMORY_CE"
    board.inject_upset(UpsetKind.MEMORY_UE)
    watch()
    before, after = watch.samples[-2].uncorrectable_errors, watch.samples[-1].uncorrectable_errors
    assert after == before + 1, f"uncorrectable_errors {before} -> {after} after one MEMORY_UE"
    board.power_cycle()
    watch()
    run_until(board, lambda: board.state is not PowerState.BOOTING, 1e6, on_step=watch)
    board.inject_upset(UpsetKind.LATCH_UP)
    watch()
    board.power_off()
    watch()
