"""The kit's harness as a vendor uses it in their own tests (plain calls, no kit option)."""

from __future__ import annotations

import math

import pytest
from computesat_sdk.contract import BoardHealth, ComputeBoard, JobStatus, PowerState
from computesat_sdk.kernels import KERNELS, job_flops, verify_result
from computesat_sdk.kit import harness
from computesat_sdk.registry import BoardRegistry, RefusedPlugin


def test_board_factory_names_what_is_installed() -> None:
    with pytest.raises(harness.BoardUnavailable) as info:
        harness.new_board("no-such-board")
    message = str(info.value)
    assert "'no-such-board'" in message and "ref-cpu" in message, message


def test_board_factory_gives_the_refusal_reason() -> None:
    registry = BoardRegistry(refused=[RefusedPlugin("broken", "import failed: boom")])
    with pytest.raises(harness.BoardUnavailable, match="'broken' was refused: import failed"):
        harness.board_factory("broken", registry)


def test_new_board_is_off_at_the_nominal_plate_temperature() -> None:
    board = harness.new_board("ref-cpu", "mine")
    health = board.health()
    assert board.board_id == "mine" and board.state is PowerState.OFF, (board.board_id, board.state)
    assert health.mission_time_s == 0.0, health.mission_time_s
    assert health.die_temp_k == harness.PLATE_NOMINAL_K, health.die_temp_k


def test_boot_then_a_long_job_takes_its_duration() -> None:
    board = harness.new_board("ref-gpu")
    harness.boot(board)
    assert board.state is PowerState.IDLE, board.state
    job = harness.long_job(board, 5.0)
    board.submit(job)
    watch = harness.TelemetryWatch(board)
    done = harness.run_until(
        board, lambda: board.health().active_job_id is None, 10.0, dt_s=0.05, on_step=watch
    )
    assert done, "a 5 s job was not done after 10 s"
    result = harness.one_result(board)
    assert result.status is JobStatus.COMPLETED and verify_result(job, result), result
    rate = board.capabilities().kernel_flops_per_s[job.kernel]
    iteration_s = KERNELS[job.kernel].flops(job.size) / rate
    # At least the duration asked for, less than one iteration more (iterations round up).
    planned_s = job_flops(job) / rate
    assert 5.0 <= planned_s < 5.0 + iteration_s, f"long_job(5 s) planned {planned_s} s"
    took_s = result.end_mission_time_s - result.start_mission_time_s
    assert math.isclose(took_s, planned_s, rel_tol=1e-6), f"planned {planned_s} s, took {took_s}"
    assert len(watch.samples) >= 100, f"expected a sample per step, got {len(watch.samples)}"


@pytest.mark.parametrize("name", ["ref-gpu", "ref-npu", "ref-cpu"])
def test_a_long_job_is_within_the_boards_limits(name: str) -> None:
    """The kit's longest ask (the thermal check's 200 tau + 1000 s) from each reference board:
    within its iteration limit, by a larger size or another kernel, lasting at least that."""
    board = harness.new_board(name)
    limits = board.job_limits()
    duration_s = 200.0 * board.thermal_model().time_constant_s + 1000.0
    job = harness.long_job(board, duration_s)
    why = limits.violation(job.kernel, job.size, job.iterations)
    assert why is None, f"{name}: long_job({duration_s} s) = {job} is beyond its limits: {why}"
    planned_s = job_flops(job) / board.capabilities().kernel_flops_per_s[job.kernel]
    assert duration_s <= planned_s < 1.01 * duration_s, f"{name}: {job} lasts {planned_s} s"
    with pytest.raises(AssertionError, match=f"max_iterations={limits.max_iterations}"):
        harness.long_job(board, 2 * 86_400.0)  # beyond a day of its costliest job


def test_run_until_gives_up_after_max_s_of_mission_time() -> None:
    board = harness.new_board("ref-cpu")
    came_true = harness.run_until(board, lambda: False, 3.0, dt_s=0.5)
    assert came_true is False, "a predicate that never holds came true"
    assert math.isclose(board.health().mission_time_s, 3.0), board.health().mission_time_s


class _Rewinding:
    """A board wrapper whose heartbeat goes backwards between samples."""

    def __init__(self, board: ComputeBoard) -> None:
        self._board = board
        self._beats = iter([5, 4])

    def __getattr__(self, name: str) -> object:
        return getattr(self._board, name)

    def health(self) -> BoardHealth:
        return self._board.health().model_copy(update={"heartbeat": next(self._beats)})


def test_telemetry_watch_catches_a_counter_going_backwards() -> None:
    watch = harness.TelemetryWatch(_Rewinding(harness.new_board("ref-cpu")))
    watch()
    with pytest.raises(AssertionError, match="heartbeat went backwards: 5 -> 4"):
        watch()


def test_check_health_catches_a_value_out_of_range() -> None:
    board = harness.new_board("ref-cpu")
    bad = board.health().model_copy(update={"die_temp_k": 1000.0})
    with pytest.raises(AssertionError, match=r"die_temp_k 1000\.0 implausible"):
        harness.check_health(board, bad)
