"""Jobs: results on every reference kernel, rejections, job limits, timing, throttle, cancel,
self-test."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pytest

from computesat_sdk.contract import (
    JobLimits,
    JobRejectCode,
    JobRejected,
    JobStatus,
    PowerState,
    SelfTestResult,
)
from computesat_sdk.kernels import KERNELS, MAX_ITERATIONS, job_flops, verify, verify_result
from computesat_sdk.kit.harness import (
    long_job,
    one_result,
    run_until,
    small_job,
    supported_kernels,
)

if TYPE_CHECKING:
    from computesat_sdk.contract import ComputeBoard
    from computesat_sdk.kernels import JobSpec


def test_job_correctness(computesat_up_board: ComputeBoard, computesat_kernel: str) -> None:
    board = computesat_up_board
    caps = board.capabilities()
    job = small_job(computesat_kernel, seed=11)
    if computesat_kernel not in caps.kernel_flops_per_s:
        with pytest.raises(JobRejected) as refused:
            board.submit(job)
        assert refused.value.code is JobRejectCode.UNSUPPORTED_KERNEL, refused.value.code
        assert board.state is PowerState.IDLE, board.state
        return
    job = job.model_copy(update={"iterations": 1000})
    board.submit(job)
    expected_s = job_flops(job) / caps.kernel_flops_per_s[computesat_kernel]
    dt = max(expected_s / 50.0, 1e-9)
    limit_s = expected_s * 2 + 1.0
    assert run_until(board, lambda: board.state is PowerState.IDLE, limit_s, dt_s=dt), (
        f"job expected to take {expected_s} s not done after {limit_s} s"
    )
    result = one_result(board)
    assert result.status is JobStatus.COMPLETED, result
    assert result.board_id == board.board_id and result.kernel == computesat_kernel, result
    assert result.digest is not None and verify(job, result.digest), (
        f"digest {result.digest} does not verify against the reference kernel"
    )
    assert verify_result(job, result), result
    assert result.summary and all(math.isfinite(v) for v in result.summary.values()), result.summary
    duration_s = result.end_mission_time_s - result.start_mission_time_s
    assert math.isclose(duration_s, expected_s, rel_tol=1e-6, abs_tol=dt), (duration_s, expected_s)
    assert board.take_results() == [], "results were handed out twice"


def test_bad_jobs_are_rejected(computesat_up_board: ComputeBoard) -> None:
    board = computesat_up_board
    kernel = supported_kernels(board)[0]
    good = small_job(kernel)

    def rejected(job: JobSpec, code: JobRejectCode) -> None:
        state = board.state
        with pytest.raises(JobRejected) as info:
            board.submit(job)
        assert info.value.code is code, (
            f"expected {code}, got {info.value.code} ({info.value.reason})"
        )
        assert info.value.reason, "a rejection without a reason"
        assert board.state is state, f"a rejected job moved {state} to {board.state}"
        assert board.take_results() == [], "a rejected job produced a result"

    rejected(good.model_copy(update={"kernel": "no_such_kernel"}), JobRejectCode.UNKNOWN_KERNEL)
    rejected(good.model_copy(update={"size": 0}), JobRejectCode.BAD_SIZE)
    rejected(good.model_copy(update={"size": -5}), JobRejectCode.BAD_SIZE)
    rejected(good.model_copy(update={"size": KERNELS[kernel].max_size + 1}), JobRejectCode.BAD_SIZE)
    rejected(good.model_copy(update={"iterations": 0}), JobRejectCode.BAD_SIZE)
    rejected(good.model_copy(update={"dtype": "float32"}), JobRejectCode.WRONG_DTYPE)
    memory = board.capabilities().memory_bytes
    for name in supported_kernels(board):
        spec = KERNELS[name]
        size = spec.min_size
        while size <= spec.max_size:
            if spec.check_size(size) is None and spec.memory_bytes(size) > memory:
                job = good.model_copy(update={"kernel": name, "size": size})
                rejected(job, JobRejectCode.TOO_LARGE_FOR_MEMORY)
                break
            size *= 2
    assert board.state is PowerState.IDLE, board.state

    long = long_job(board, 1000.0, job_id="dup")
    board.submit(long)
    rejected(long, JobRejectCode.DUPLICATE_JOB_ID)
    depth = board.capabilities().queue_depth
    for index in range(depth):
        board.submit(long.model_copy(update={"job_id": f"queued-{index}"}))
    assert board.health().queued_jobs == depth, (board.health().queued_jobs, depth)
    rejected(long.model_copy(update={"job_id": "one-too-many"}), JobRejectCode.QUEUE_FULL)


def test_job_limits_are_stated_and_enforced(computesat_up_board: ComputeBoard) -> None:
    board = computesat_up_board
    limits = board.job_limits()
    assert isinstance(limits, JobLimits), f"job_limits() returned {type(limits).__name__}"
    assert JobLimits.model_validate(limits.model_dump()) == limits
    caps = board.capabilities()
    assert set(limits.max_size) <= set(caps.kernel_flops_per_s), (
        f"limits name kernels {sorted(limits.max_size)} the board does not run "
        f"({sorted(caps.kernel_flops_per_s)})"
    )
    assert limits.max_memory_bytes <= caps.memory_bytes, (limits, caps.memory_bytes)
    for kernel, size in limits.max_size.items():
        spec = KERNELS[kernel]
        assert spec.check_size(size) is None, f"max_size[{kernel}]={size}: {spec.size_rule}"
        assert spec.memory_bytes(size) <= limits.max_memory_bytes, (kernel, size)
        bigger = size + 1
        while bigger <= spec.max_size and spec.check_size(bigger) is not None:
            bigger += 1
        if bigger <= spec.max_size:
            job = small_job(kernel, job_id=f"beyond-{kernel}").model_copy(update={"size": bigger})
            assert limits.violation(kernel, bigger) is not None
            with pytest.raises(JobRejected) as info:
                board.submit(job)
            assert info.value.code in (JobRejectCode.BAD_SIZE, JobRejectCode.TOO_LARGE_FOR_MEMORY)
    if limits.max_iterations < MAX_ITERATIONS:
        kernel = sorted(limits.max_size)[0]
        job = small_job(kernel, job_id="beyond-iterations").model_copy(
            update={"iterations": limits.max_iterations + 1}
        )
        assert limits.violation(kernel, job.size, job.iterations) is not None
        with pytest.raises(JobRejected) as info:
            board.submit(job)
        assert info.value.code is JobRejectCode.BAD_SIZE, (info.value.code, info.value.reason)
    assert board.take_results() == [], "a refused job must leave no result"


def test_commanded_throttle(computesat_up_board: ComputeBoard) -> None:
    board = computesat_up_board
    model = board.thermal_model()
    deepest = model.max_throttle_level
    for bad in (-1, deepest + 1):
        with pytest.raises(ValueError):
            board.set_throttle(bad)
    job = long_job(board, 5.0)
    board.submit(job)
    full_power_w = board.power_draw_w()
    if deepest == 0:
        return
    board.set_throttle(deepest)
    health = board.health()
    assert health.throttle_level == deepest == health.commanded_throttle_level, (
        f"commanded {deepest}: level {health.throttle_level}, "
        f"commanded {health.commanded_throttle_level}"
    )
    assert board.state is PowerState.THROTTLED, board.state
    assert board.power_draw_w() < full_power_w, (board.power_draw_w(), full_power_w)
    perf = model.throttle_levels[deepest].perf_fraction
    expected_s = job_flops(job) / (board.capabilities().kernel_flops_per_s[job.kernel] * perf)
    assert run_until(board, lambda: board.health().active_job_id is None, 4 * expected_s, dt_s=0.1)
    result = one_result(board)
    assert verify_result(job, result), result
    took_s = result.end_mission_time_s - result.start_mission_time_s
    assert math.isclose(took_s, expected_s, rel_tol=1e-6, abs_tol=0.1), (took_s, expected_s)
    board.set_throttle(0)
    assert board.state is PowerState.IDLE and board.health().throttle_level == 0, (
        board.state,
        board.health().throttle_level,
    )


def test_cancel(computesat_up_board: ComputeBoard) -> None:
    board = computesat_up_board
    running = long_job(board, 100.0, job_id="running")
    queued = long_job(board, 100.0, job_id="queued")
    board.submit(running)
    if board.capabilities().queue_depth > 0:
        board.submit(queued)
        assert board.cancel("queued"), "cancel of a queued job refused"
        assert one_result(board).status is JobStatus.CANCELLED
    assert board.cancel("running"), "cancel of the running job refused"
    result = one_result(board)
    assert result.job_id == "running" and result.status is JobStatus.CANCELLED, result
    assert board.state is PowerState.IDLE, board.state
    assert not board.cancel("no-such-job"), "cancel of an unknown job said yes"


def test_self_test(computesat_up_board: ComputeBoard) -> None:
    board = computesat_up_board
    result = board.self_test()
    assert isinstance(result, SelfTestResult), type(result).__name__
    assert result.passed, result.detail
    assert result.board_id == board.board_id and result.checks, result
