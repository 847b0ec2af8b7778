"""Faults: memory errors, hang, latch-up, silent result corruption, upsets while unpowered."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pytest

from computesat_sdk.contract import BoardStateError, JobStatus, PowerState, UpsetKind
from computesat_sdk.kernels import verify, verify_result
from computesat_sdk.kit.harness import (
    PLATE_NOMINAL_K,
    long_job,
    one_result,
    run_until,
    small_job,
)

if TYPE_CHECKING:
    from computesat_sdk.contract import ComputeBoard


def test_memory_ue_fails_the_running_job(computesat_up_board: ComputeBoard) -> None:
    board = computesat_up_board
    job = long_job(board, 100.0)
    board.submit(job)
    board.step(1.0, PLATE_NOMINAL_K)
    board.inject_upset(UpsetKind.MEMORY_UE)
    result = one_result(board)
    assert result.job_id == job.job_id and result.status is JobStatus.FAILED, result
    assert board.state is PowerState.IDLE, board.state
    errors = board.health().uncorrectable_errors
    assert errors == 1, f"uncorrectable_errors {errors} after one MEMORY_UE"


@pytest.mark.parametrize("recovery", ["reset", "power_cycle"])
def test_hang_and_recovery(computesat_up_board: ComputeBoard, recovery: str) -> None:
    board = computesat_up_board
    job = long_job(board, 2.0)
    board.submit(job)
    board.step(0.5, PLATE_NOMINAL_K)
    board.inject_upset(UpsetKind.HANG)
    heartbeat = board.health().heartbeat
    run_until(board, lambda: False, 20.0, dt_s=0.5)
    health = board.health()
    assert health.heartbeat == heartbeat, "heartbeat advanced on a hung board"
    assert health.active_job_id == job.job_id, "a hung board let go of its job"
    assert board.take_results() == [], "a hung board produced a result"
    check = board.self_test() if board.state is not PowerState.BUSY else None
    assert check is None or not check.passed, "self-test passed on a hung board"
    getattr(board, recovery)()
    assert board.state is PowerState.BOOTING, board.state
    result = one_result(board)
    assert result.job_id == job.job_id and result.status is JobStatus.FAILED, result
    run_until(
        board,
        lambda: board.state is not PowerState.BOOTING,
        board.thermal_model().boot_time_s + 5,
    )
    assert board.state is PowerState.IDLE, board.state
    after = long_job(board, 1.0, job_id="after-hang")
    board.submit(after)
    assert run_until(board, lambda: board.state is PowerState.IDLE, 10.0, dt_s=0.5)
    assert verify_result(after, one_result(board)), "wrong result after recovering from hang"


def test_latch_up_needs_power_cycle(computesat_up_board: ComputeBoard) -> None:
    board = computesat_up_board
    model = board.thermal_model()
    job = long_job(board, 100.0)
    board.submit(job)
    board.inject_upset(UpsetKind.LATCH_UP)
    assert board.state is PowerState.FAULT, board.state
    assert math.isclose(board.power_draw_w(), model.latch_up_w), (
        board.power_draw_w(),
        model.latch_up_w,
    )
    assert board.health().power_w > model.peak_w or model.latch_up_w == model.peak_w
    result = one_result(board)
    assert result.job_id == job.job_id and result.status is JobStatus.FAILED, result
    board.step(1.0, PLATE_NOMINAL_K)
    with pytest.raises(BoardStateError):
        board.submit(small_job(job.kernel, "during-latch-up"))
    with pytest.raises(BoardStateError):
        board.reset()
    assert board.state is PowerState.FAULT, board.state
    assert not board.self_test().passed, "self-test passed during a latch-up"
    board.power_cycle()
    assert board.state is PowerState.BOOTING, board.state
    run_until(board, lambda: board.state is not PowerState.BOOTING, model.boot_time_s + 5.0)
    assert board.state is PowerState.IDLE, board.state
    assert board.self_test().passed, "self-test failed after the power cycle"
    after = long_job(board, 1.0, job_id="after-latch-up")
    board.submit(after)
    assert run_until(board, lambda: board.state is PowerState.IDLE, 10.0, dt_s=0.5)
    assert verify_result(after, one_result(board)), "wrong result after the latch-up"


def test_bit_flip_result_is_silent(computesat_up_board: ComputeBoard) -> None:
    board = computesat_up_board
    job = long_job(board, 2.0)
    board.submit(job)
    board.step(0.5, PLATE_NOMINAL_K)
    board.inject_upset(UpsetKind.BIT_FLIP_RESULT)
    assert run_until(board, lambda: board.state is PowerState.IDLE, 10.0, dt_s=0.5)
    result = one_result(board)
    assert result.status is JobStatus.COMPLETED, "the board cannot know its result is corrupt"
    assert result.digest is not None and not verify(job, result.digest), (
        "the flipped result still verifies"
    )
    clean = long_job(board, 1.0, job_id="clean")
    board.submit(clean)
    assert run_until(board, lambda: board.state is PowerState.IDLE, 10.0, dt_s=0.5)
    assert verify_result(clean, one_result(board)), "the bit flip outlived its job"


def test_upsets_do_not_affect_an_unpowered_board(computesat_board: ComputeBoard) -> None:
    board = computesat_board
    before = board.health()
    for kind in UpsetKind:
        board.inject_upset(kind)
    assert board.state is PowerState.OFF, board.state
    assert board.health() == before, "an upset changed an unpowered board"
