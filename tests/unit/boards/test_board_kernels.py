"""Reference kernels: determinism, digests that survive summation order, cost models."""

import math

import numpy as np
import pytest
from computesat_sdk.kernels import (
    KERNELS,
    JobRejectCode,
    JobRejected,
    JobResult,
    JobSpec,
    JobStatus,
    corrupt_result,
    digest_result,
    execute,
    generate_inputs,
    job_flops,
    job_memory_bytes,
    run_reference,
    validate_job,
    verify,
    verify_result,
)
from hypothesis import given, settings
from hypothesis import strategies as st

SMALL = {"matmul": 24, "fft": 128, "mlp_inference": 10}


def job(kernel: str, size: int | None = None, seed: int = 5, **extra: object) -> JobSpec:
    return JobSpec(job_id="j", kernel=kernel, size=size or SMALL[kernel], seed=seed, **extra)


@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_same_job_same_digest_and_other_seed_differs(kernel: str) -> None:
    first = run_reference(job(kernel))
    assert first.digest == run_reference(job(kernel)).digest
    assert first.digest != run_reference(job(kernel, seed=6)).digest
    assert verify(job(kernel), first.digest)
    assert not verify(job(kernel, seed=6), first.digest)


def test_matmul_is_correct_and_exact() -> None:
    a, b = generate_inputs(job("matmul"))
    assert np.array_equal(a, np.round(a)) and np.abs(a).max() <= 4
    result = execute(job("matmul"))
    assert np.array_equal(result, a @ b)
    # Any summation order gives the same exact integers, hence the same digest.
    by_columns = sum(np.outer(a[:, k], b[k, :]) for k in range(a.shape[1]))
    assert digest_result("matmul", by_columns) == digest_result("matmul", result)


def test_fft_matches_naive_dft_digest() -> None:
    spec = job("fft", size=64)
    (signal,) = generate_inputs(spec)
    n = signal.size
    k = np.arange(n)
    dft = np.exp(-2j * np.pi * np.outer(k, k) / n) @ signal / math.sqrt(n)
    assert np.allclose(dft, execute(spec), atol=1e-12)
    assert verify(spec, digest_result("fft", dft))


def test_mlp_outputs_are_probabilities_and_batch_independent() -> None:
    probabilities = execute(job("mlp_inference", size=12))
    assert probabilities.shape == (12, 10)
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert (probabilities >= 0).all()


def test_digest_tolerates_round_off_but_not_a_bit_flip() -> None:
    spec = job("fft", size=256)
    result = execute(spec)
    noisy = result * (1 + 1e-13)
    assert digest_result("fft", noisy) == digest_result("fft", result)
    flipped = corrupt_result(result, seed=spec.seed)
    assert np.count_nonzero(flipped != result) == 1
    assert not verify(spec, digest_result("fft", flipped))


@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_corruption_is_always_detected(kernel: str) -> None:
    spec = job(kernel)
    assert not verify(spec, digest_result(kernel, corrupt_result(execute(spec), spec.seed)))


def test_non_finite_results_do_not_verify() -> None:
    spec = job("matmul")
    result = execute(spec)
    result[0, 0] = np.nan
    assert not verify(spec, digest_result("matmul", result))


def test_cost_and_memory_models() -> None:
    assert job_flops(job("matmul", size=100)) == 2e6
    assert job_flops(job("matmul", size=100, iterations=3)) == 6e6
    assert job_flops(job("fft", size=1024)) == 5 * 1024 * 10
    assert job_flops(job("mlp_inference", size=2)) == 2 * job_flops(job("mlp_inference", size=1))
    assert job_memory_bytes(job("matmul", size=100)) == 3 * 8 * 100 * 100
    for kernel in KERNELS:
        assert job_flops(job(kernel)) > 0 and job_memory_bytes(job(kernel)) > 0


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"kernel": "conv2d"}, JobRejectCode.UNKNOWN_KERNEL),
        ({"dtype": "float32"}, JobRejectCode.WRONG_DTYPE),
        ({"size": 0}, JobRejectCode.BAD_SIZE),
        ({"size": 4097}, JobRejectCode.BAD_SIZE),
        ({"kernel": "fft", "size": 100}, JobRejectCode.BAD_SIZE),
        ({"iterations": 0}, JobRejectCode.BAD_SIZE),
        ({"job_id": ""}, JobRejectCode.BAD_JOB_ID),
    ],
)
def test_invalid_jobs_are_rejected_with_codes(
    changes: dict[str, object], code: JobRejectCode
) -> None:
    spec = job("matmul").model_copy(update=changes)
    with pytest.raises(JobRejected) as info:
        validate_job(spec)
    assert info.value.code is code
    assert not verify(spec, "0" * 64)


def test_verify_result_checks_identity_and_status() -> None:
    spec = job("matmul")
    digest = run_reference(spec).digest
    good = JobResult(
        job_id="j",
        kernel="matmul",
        board_id="b",
        status=JobStatus.COMPLETED,
        digest=digest,
        start_mission_time_s=0.0,
        end_mission_time_s=1.0,
        flops=1.0,
    )
    assert verify_result(spec, good)
    assert not verify_result(spec, good.model_copy(update={"job_id": "other"}))
    assert not verify_result(spec, good.model_copy(update={"status": JobStatus.FAILED}))


@settings(max_examples=25, deadline=None, derandomize=True, database=None)
@given(
    kernel=st.sampled_from(sorted(KERNELS)),
    exponent=st.integers(min_value=1, max_value=8),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_digests_are_reproducible_for_any_seed_and_size(
    kernel: str, exponent: int, seed: int
) -> None:
    spec = job(kernel, size=2**exponent, seed=seed)
    assert run_reference(spec).digest == digest_result(kernel, execute(spec))
