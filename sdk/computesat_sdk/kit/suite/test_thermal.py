"""Thermal: self-throttling and recovery, the over-temperature trip, the lumped model."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pytest

from computesat_sdk.contract import BoardStateError, JobStatus, PowerState
from computesat_sdk.kit.harness import TelemetryWatch, long_job, one_result, run_until

if TYPE_CHECKING:
    from computesat_sdk.contract import ComputeBoard


def test_thermal_self_throttling_and_recovery(computesat_up_board: ComputeBoard) -> None:
    board = computesat_up_board
    model = board.thermal_model()
    tau_s = model.time_constant_s
    board.submit(long_job(board, 200.0 * tau_s + 1000.0))
    busy_w = board.power_draw_w()
    # Hot enough that full power settles midway between throttle and shutdown: it must
    # throttle, and throttling (which only lowers power) keeps it below the trip.
    hot_plate_k = (model.throttle_temp_k + model.shutdown_temp_k) / 2.0 - model.peak_w * (
        model.die_to_plate_k_per_w
    )
    watch = TelemetryWatch(board)
    throttled = run_until(
        board,
        lambda: board.health().throttle_level > 0,
        20.0 * tau_s + 10.0 * model.throttle_step_s,
        hot_plate_k,
        on_step=watch,
    )
    assert throttled, "never throttled with the die above throttle_temp_k"
    assert board.state is PowerState.THROTTLED, board.state
    assert board.power_draw_w() < busy_w, f"throttled at {board.power_draw_w()} W >= {busy_w} W"
    run_until(board, lambda: False, 10.0 * tau_s, hot_plate_k, on_step=watch)
    assert all(h.power_state is not PowerState.FAULT for h in watch.samples), (
        "tripped although throttling should have kept it below shutdown_temp_k"
    )
    hottest_k = max(h.die_temp_k for h in watch.samples)
    assert hottest_k < model.shutdown_temp_k, (hottest_k, model.shutdown_temp_k)
    assert board.health().active_job_id is not None, "throttling lost the running job"
    # Cold enough that even full power stays under the recovery threshold.
    cool_plate_k = (
        model.throttle_temp_k
        - model.throttle_hysteresis_k
        - model.peak_w * model.die_to_plate_k_per_w
    ) - 5.0
    recovered = run_until(
        board,
        lambda: board.health().throttle_level == 0,
        20.0 * tau_s + 4.0 * model.throttle_step_s * (model.max_throttle_level + 1),
        cool_plate_k,
    )
    assert recovered, "did not recover from thermal throttling after cooling"
    assert board.state is PowerState.BUSY, board.state
    assert math.isclose(board.power_draw_w(), busy_w), (board.power_draw_w(), busy_w)


def test_over_temperature_trip_and_reset(computesat_up_board: ComputeBoard) -> None:
    board = computesat_up_board
    model = board.thermal_model()
    tau_s = model.time_constant_s
    # running until it trips: longer at full speed than the trip is waited for (throttling
    # before the trip only makes it last longer), within the board's job limits
    job = long_job(board, 30.0 * tau_s + 1000.0)
    board.submit(job)
    busy_w = board.power_draw_w()
    hot_plate_k = model.shutdown_temp_k + 10.0
    tripped = run_until(board, lambda: board.state is PowerState.FAULT, 30.0 * tau_s, hot_plate_k)
    assert tripped, "no FAULT with the die above shutdown_temp_k"
    assert board.power_draw_w() < busy_w, (board.power_draw_w(), busy_w)
    result = one_result(board)
    assert result.job_id == job.job_id and result.status is JobStatus.FAILED, result
    board.step(1.0, hot_plate_k)
    with pytest.raises(BoardStateError):
        board.reset()
    cool_plate_k = model.throttle_temp_k - model.throttle_hysteresis_k - 20.0
    assert run_until(
        board, lambda: board.health().die_temp_k < cool_plate_k + 5.0, 50 * tau_s, cool_plate_k
    ), f"die did not cool to {cool_plate_k + 5.0} K in {50 * tau_s} s"
    assert board.state is PowerState.FAULT, "an over-temperature fault must latch until reset"
    board.reset()
    assert board.state is PowerState.BOOTING, board.state
    run_until(
        board, lambda: board.state is not PowerState.BOOTING, model.boot_time_s + 5.0, cool_plate_k
    )
    assert board.state is PowerState.IDLE, board.state


def test_thermal_steady_state_and_energy_balance(computesat_up_board: ComputeBoard) -> None:
    board = computesat_up_board
    model = board.thermal_model()
    tau_s = model.time_constant_s
    plate_k = 290.0
    dt = tau_s / 10.0
    energy_in_j = 0.0
    heat_out_j = 0.0
    start_k = board.health().die_temp_k
    for _ in range(300):
        energy_in_j += board.power_draw_w() * dt
        heat_out_j += board.step(dt, plate_k) * dt
    end_k = board.health().die_temp_k
    stored_j = model.thermal_mass_j_per_k * (end_k - start_k)
    assert math.isclose(
        heat_out_j, energy_in_j - stored_j, rel_tol=1e-6, abs_tol=1e-6 * energy_in_j
    ), f"heat out {heat_out_j} J != energy in {energy_in_j} J - stored {stored_j} J"
    power_w = board.power_draw_w()
    steady_k = model.steady_die_temp_k(plate_k, power_w)
    assert math.isclose(end_k, steady_k, abs_tol=0.01), (end_k, steady_k)
    heat_w = board.step(dt, plate_k)
    assert math.isclose(heat_w, power_w, rel_tol=1e-3), (
        f"at steady state heat to the plate {heat_w} W != power {power_w} W"
    )
