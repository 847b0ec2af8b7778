"""Power states: a new board, the power sequence, illegal transitions, power-off, stepping."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pytest

from computesat_sdk.contract import BoardStateError, JobStatus, PowerState, UpsetKind
from computesat_sdk.kernels import verify_result
from computesat_sdk.kit.harness import (
    PLATE_NOMINAL_K,
    boot,
    check_health,
    long_job,
    one_result,
    run_until,
    small_job,
    supported_kernels,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from computesat_sdk.contract import ComputeBoard


def test_new_board_is_off_and_draws_off_power(computesat_board: ComputeBoard) -> None:
    board = computesat_board
    model = board.thermal_model()
    assert board.state is PowerState.OFF, board.state
    health = board.health()
    check_health(board, health)
    assert math.isclose(health.die_temp_k, PLATE_NOMINAL_K), health.die_temp_k
    assert math.isclose(board.power_draw_w(), model.off_w), (board.power_draw_w(), model.off_w)
    assert health.utilisation == 0.0 and health.active_job_id is None, health
    for _ in range(5):
        board.step(1.0, PLATE_NOMINAL_K)
    assert board.state is PowerState.OFF, board.state
    assert board.health().heartbeat == health.heartbeat, "heartbeat advanced while OFF"


def test_power_sequence(computesat_board: ComputeBoard) -> None:
    board = computesat_board
    model = board.thermal_model()
    board.power_on()
    assert board.state is PowerState.BOOTING, board.state
    assert math.isclose(board.power_draw_w(), model.idle_w), (board.power_draw_w(), model.idle_w)
    if model.boot_time_s > 0.0:
        board.step(model.boot_time_s / 2.0, PLATE_NOMINAL_K)
        assert board.state is PowerState.BOOTING, "finished booting early"
        board.step(model.boot_time_s / 2.0 + 1e-6, PLATE_NOMINAL_K)
    else:
        board.step(1e-3, PLATE_NOMINAL_K)
    assert board.state is PowerState.IDLE, board.state
    assert math.isclose(board.power_draw_w(), model.idle_w), (board.power_draw_w(), model.idle_w)
    assert board.health().boot_count >= 1, "boot_count did not count the boot"

    job = long_job(board, 10.0)
    board.submit(job)
    assert board.state is PowerState.BUSY, board.state
    health = board.health()
    assert health.active_job_id == job.job_id and health.utilisation > 0.0, health
    assert model.idle_w < board.power_draw_w() <= model.peak_w + 1e-9, (
        f"busy power {board.power_draw_w()} W not in ({model.idle_w}, {model.peak_w}] W"
    )
    assert run_until(board, lambda: board.state is PowerState.IDLE, 20.0, dt_s=0.5), (
        "a 10 s job was not done after 20 s"
    )
    result = one_result(board)
    assert verify_result(job, result), result
    assert math.isclose(board.power_draw_w(), model.idle_w), (board.power_draw_w(), model.idle_w)
    board.power_off()
    assert board.state is PowerState.OFF, board.state
    assert math.isclose(board.power_draw_w(), model.off_w), (board.power_draw_w(), model.off_w)


def test_illegal_transitions_are_refused(computesat_board: ComputeBoard) -> None:
    board = computesat_board
    job = small_job(supported_kernels(board)[0])

    def refused(action: Callable[[], Any], state: PowerState) -> None:
        with pytest.raises(BoardStateError):
            action()
        assert board.state is state, f"a refused command moved {state} to {board.state}"
        assert board.take_results() == [], "a refused command produced a result"

    refused(lambda: board.submit(job), PowerState.OFF)
    refused(board.self_test, PowerState.OFF)
    refused(board.reset, PowerState.OFF)
    refused(lambda: board.set_throttle(0), PowerState.OFF)
    board.power_on()
    refused(lambda: board.submit(job), PowerState.BOOTING)
    refused(board.power_on, PowerState.BOOTING)
    refused(board.self_test, PowerState.BOOTING)
    run_until(
        board, lambda: board.state is not PowerState.BOOTING, board.thermal_model().boot_time_s + 5
    )
    refused(board.power_on, PowerState.IDLE)
    board.submit(long_job(board, 100.0))
    refused(board.self_test, PowerState.BUSY)
    refused(board.power_on, PowerState.BUSY)


def test_power_off_from_every_state(computesat_new_board: Callable[[str], ComputeBoard]) -> None:
    def off_and_check(board: ComputeBoard) -> None:
        board.power_off()
        assert board.state is PowerState.OFF, board.state
        off_w = board.thermal_model().off_w
        assert math.isclose(board.power_draw_w(), off_w), (board.power_draw_w(), off_w)

    booting = computesat_new_board("b1")
    booting.power_on()
    off_and_check(booting)
    idle = computesat_new_board("b2")
    boot(idle)
    off_and_check(idle)
    busy = computesat_new_board("b3")
    boot(busy)
    busy.submit(long_job(busy, 100.0))
    off_and_check(busy)
    status = one_result(busy).status
    assert status is JobStatus.FAILED, f"a job cut by power-off ended {status}"
    faulted = computesat_new_board("b4")
    boot(faulted)
    faulted.inject_upset(UpsetKind.LATCH_UP)
    off_and_check(faulted)
    off_and_check(faulted)


def test_step_arguments_are_checked(computesat_board: ComputeBoard) -> None:
    board = computesat_board
    for dt_s, plate_k in ((-1.0, 300.0), (math.nan, 300.0), (math.inf, 300.0), (1.0, 0.0)):
        with pytest.raises(ValueError):
            board.step(dt_s, plate_k)
    before = board.health()
    board.step(0.0, PLATE_NOMINAL_K)
    assert board.health().mission_time_s == before.mission_time_s, "a 0 s step moved time"
