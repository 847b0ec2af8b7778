"""Reference compute kernels and the job models shared by hwsim, flight software and ground.

A job names a kernel, a size and a seed. Everything else follows deterministically from those
three: the inputs (generated from the seed), the result (computed with numpy), the cost in
floating-point operations, the memory the job needs, and the result digest. Ground verifies a
board's answer by recomputing the digest here (`verify`), so this module must not depend on
anything board-specific.

Digests are SHA-256 over the result quantised on a fixed absolute grid chosen per kernel
(`Kernel.digest_quantum`), so two correct executions that differ only in floating-point
summation order agree, while a silently flipped high-order bit does not:

- `matmul` uses small integer-valued float64 inputs, so its result is exact on any IEEE-754
  machine whatever the summation order, and its quantum is 1.
- `fft` (orthonormal) and `mlp_inference` (softmax probabilities) produce values of order one;
  their quantum is 2**-20, about a million times coarser than float64 round-off.

Jobs are deliberately permissive models (any kernel name, any integer size, any dtype string):
validation is a board's job and ends in a `JobRejected` with a numeric `JobRejectCode`, which
flight software turns into a PUS failure report. A pydantic validation error would carry no
such code.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    # numpy is imported where a kernel runs: flight software validates job specs against
    # these models and never computes, so it does not pay numpy's ~70 ms import at boot.
    import numpy as np

__all__ = [
    "KERNELS",
    "MAX_ITERATIONS",
    "REFERENCE_DTYPE",
    "JobRejectCode",
    "JobRejected",
    "JobResult",
    "JobSpec",
    "JobStatus",
    "Kernel",
    "KernelName",
    "KernelOutput",
    "corrupt_result",
    "digest_result",
    "execute",
    "generate_inputs",
    "get_kernel",
    "job_flops",
    "job_memory_bytes",
    "run_reference",
    "summarise_result",
    "validate_job",
    "verify",
    "verify_result",
]

REFERENCE_DTYPE = "float64"
"""The only element type the reference kernels are defined for."""

MAX_ITERATIONS = 2**53
"""Largest JobSpec.iterations accepted (the largest integer a float64 FLOP count holds exactly)."""

_DIGEST_DOMAIN = b"computesat.kernels.v1"


class KernelName(StrEnum):
    """Names of the reference kernels."""

    MATMUL = "matmul"
    FFT = "fft"
    MLP_INFERENCE = "mlp_inference"


class JobStatus(StrEnum):
    """Outcome of a job as the board knows it.

    There is deliberately no "corrupted": a silently corrupted result looks `completed` to the
    board; only verification (ground, or redundant execution) can tell.
    """

    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class JobRejectCode(IntEnum):
    """Why a board refused a job. Values are stable: they travel in PUS 1,2 failure reports."""

    UNKNOWN_KERNEL = 1
    UNSUPPORTED_KERNEL = 2
    BAD_SIZE = 3
    TOO_LARGE_FOR_MEMORY = 4
    WRONG_DTYPE = 5
    QUEUE_FULL = 6
    DUPLICATE_JOB_ID = 7
    BAD_JOB_ID = 8


class JobRejected(Exception):
    """A job was refused before it started; the board's state is unchanged."""

    def __init__(self, code: JobRejectCode, reason: str) -> None:
        super().__init__(f"{code.name}: {reason}")
        self.code = code
        self.reason = reason

    def __reduce__(self) -> tuple[type[JobRejected], tuple[JobRejectCode, str]]:
        return (type(self), (self.code, self.reason))


class JobSpec(BaseModel):
    """A compute job: everything needed to generate its inputs and check its result."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job_id: str = Field(description="Caller-chosen identifier, unique among a board's live jobs")
    kernel: str = Field(description="Kernel name, one of KernelName (checked by the board)")
    size: int = Field(
        description="Problem size: matrix order n (matmul), transform length (fft), batch (mlp)"
    )
    seed: int = Field(ge=0, lt=2**63, description="Seed for the input generator")
    dtype: str = Field(default=REFERENCE_DTYPE, description="Element type; only float64 exists")
    iterations: int = Field(
        default=1,
        description=(
            "Times the kernel is repeated on the same inputs (e.g. inference over many "
            "batches). Mission-time cost scales with it; the result is that of one iteration, "
            "so the emulator host computes it once"
        ),
    )


class JobResult(BaseModel):
    """What a board reports for a job once it is over (completed, failed or cancelled)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    job_id: str = Field(description="The JobSpec.job_id this result belongs to")
    kernel: str = Field(description="Kernel name of the job")
    board_id: str = Field(description="Board that ran (or dropped) the job")
    status: JobStatus = Field(description="Outcome as known to the board")
    digest: str | None = Field(
        default=None,
        description="SHA-256 hex digest of the quantised result; None unless completed",
    )
    summary: dict[str, float] = Field(
        default_factory=dict,
        description="Small numeric summary of the result (e.g. checksum, norm, trace); unitless",
    )
    start_mission_time_s: float = Field(description="Mission time the job started executing, s")
    end_mission_time_s: float = Field(description="Mission time the job ended, s")
    flops: float = Field(ge=0.0, description="Floating-point operations the job cost, FLOP")
    error: str | None = Field(default=None, description="Why the job failed or was cancelled")


@dataclass(frozen=True)
class KernelOutput:
    """A computed result with its digest and summary."""

    result: np.ndarray
    digest: str
    summary: dict[str, float]


@dataclass(frozen=True)
class Kernel:
    """One reference kernel: input generator, executor, cost and memory models, digest grid."""

    name: KernelName
    min_size: int
    max_size: int
    size_rule: str
    digest_quantum: float
    generate: Callable[[int, int], tuple[np.ndarray, ...]]
    run: Callable[[tuple[np.ndarray, ...]], np.ndarray]
    flops: Callable[[int], float]
    memory_bytes: Callable[[int], int]
    summarise: Callable[[np.ndarray], dict[str, float]]
    size_ok: Callable[[int], bool]

    def check_size(self, size: int) -> str | None:
        """Return why `size` is not acceptable, or None if it is."""
        if not self.min_size <= size <= self.max_size or not self.size_ok(size):
            return f"{self.name} size must be {self.size_rule}, got {size}"
        return None


# --- matmul -----------------------------------------------------------------------------------
# Integer-valued operands in [-4, 4] keep every partial sum an exact float64 integer for any
# n up to 2**40, so the product is bit-identical whatever BLAS or tiling a board uses.


def _matmul_generate(seed: int, n: int) -> tuple[np.ndarray, ...]:
    import numpy as np

    rng = np.random.default_rng(seed)
    a = rng.integers(-4, 5, size=(n, n)).astype(np.float64)
    b = rng.integers(-4, 5, size=(n, n)).astype(np.float64)
    return (a, b)


def _matmul_run(inputs: tuple[np.ndarray, ...]) -> np.ndarray:
    a, b = inputs
    return a @ b


def _matmul_summary(result: np.ndarray) -> dict[str, float]:
    import numpy as np

    return {
        "checksum": float(result.sum()),
        "trace": float(np.trace(result)),
        "frobenius_norm": float(np.linalg.norm(result)),
    }


# --- fft --------------------------------------------------------------------------------------


def _fft_generate(seed: int, n: int) -> tuple[np.ndarray, ...]:
    import numpy as np

    rng = np.random.default_rng(seed)
    return (rng.uniform(-1.0, 1.0, size=n),)


def _fft_run(inputs: tuple[np.ndarray, ...]) -> np.ndarray:
    # Orthonormal scaling keeps coefficients of order one for any n, which the fixed absolute
    # digest quantum relies on.
    import numpy as np

    return np.fft.fft(inputs[0], norm="ortho")


def _fft_summary(result: np.ndarray) -> dict[str, float]:
    import numpy as np

    return {
        "checksum_real": float(result.real.sum()),
        "checksum_imag": float(result.imag.sum()),
        "norm": float(np.linalg.norm(result)),
    }


# --- mlp_inference ----------------------------------------------------------------------------
# A fixed small network: 64 inputs, two hidden ReLU layers of 128, 10 softmax outputs. Weights
# and inputs both come from the seed, so one job fully defines the computation.

_MLP_LAYERS = (64, 128, 128, 10)


def _mlp_generate(seed: int, batch: int) -> tuple[np.ndarray, ...]:
    import numpy as np

    rng = np.random.default_rng(seed)
    arrays: list[np.ndarray] = [rng.standard_normal((batch, _MLP_LAYERS[0]))]
    for fan_in, fan_out in itertools.pairwise(_MLP_LAYERS):
        arrays.append(rng.standard_normal((fan_in, fan_out)) / math.sqrt(fan_in))
        arrays.append(rng.standard_normal(fan_out) * 0.1)
    return tuple(arrays)


def _mlp_run(inputs: tuple[np.ndarray, ...]) -> np.ndarray:
    import numpy as np

    x = inputs[0]
    layers = [(inputs[i], inputs[i + 1]) for i in range(1, len(inputs), 2)]
    for index, (weights, bias) in enumerate(layers):
        x = x @ weights + bias
        if index < len(layers) - 1:
            x = np.maximum(x, 0.0)
    x = x - x.max(axis=1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=1, keepdims=True)


def _mlp_flops(batch: int) -> float:
    macs = sum(a * b for a, b in itertools.pairwise(_MLP_LAYERS))
    # 2 FLOP per multiply-accumulate, plus bias/activation and ~5 FLOP per softmax output.
    elementwise = 2 * sum(_MLP_LAYERS[1:]) + 5 * _MLP_LAYERS[-1]
    return float(batch * (2 * macs + elementwise))


def _mlp_memory(batch: int) -> int:
    weights = sum(a * b + b for a, b in itertools.pairwise(_MLP_LAYERS))
    activations = batch * (_MLP_LAYERS[0] + 2 * max(_MLP_LAYERS[1:]))
    return 8 * (weights + activations)


def _mlp_summary(result: np.ndarray) -> dict[str, float]:
    return {
        "checksum": float(result.sum()),
        "mean_max_probability": float(result.max(axis=1).mean()),
        "argmax_checksum": float(result.argmax(axis=1).sum()),
    }


def _is_power_of_two(n: int) -> bool:
    return n > 0 and n & (n - 1) == 0


def _any_size(n: int) -> bool:
    return True


# Upper sizes keep a job computable by the emulator host in seconds; they are protocol limits,
# not board limits (boards refuse on memory separately).
KERNELS: Mapping[str, Kernel] = MappingProxyType(
    {
        KernelName.MATMUL.value: Kernel(
            name=KernelName.MATMUL,
            min_size=1,
            max_size=4096,
            size_rule="an integer in 1..4096",
            digest_quantum=1.0,
            generate=_matmul_generate,
            run=_matmul_run,
            flops=lambda n: 2.0 * n**3,
            memory_bytes=lambda n: 3 * 8 * n * n,
            summarise=_matmul_summary,
            size_ok=_any_size,
        ),
        KernelName.FFT.value: Kernel(
            name=KernelName.FFT,
            min_size=2,
            max_size=2**22,
            size_rule="a power of two in 2..4194304",
            digest_quantum=2.0**-20,
            generate=_fft_generate,
            run=_fft_run,
            flops=lambda n: 5.0 * n * math.log2(n),
            memory_bytes=lambda n: 8 * n + 2 * 16 * n,
            summarise=_fft_summary,
            size_ok=_is_power_of_two,
        ),
        KernelName.MLP_INFERENCE.value: Kernel(
            name=KernelName.MLP_INFERENCE,
            min_size=1,
            max_size=65536,
            size_rule="a batch size in 1..65536",
            digest_quantum=2.0**-20,
            generate=_mlp_generate,
            run=_mlp_run,
            flops=_mlp_flops,
            memory_bytes=_mlp_memory,
            summarise=_mlp_summary,
            size_ok=_any_size,
        ),
    }
)
"""Every reference kernel by name."""


def get_kernel(name: str) -> Kernel:
    """Return the kernel called `name`; raise `JobRejected(UNKNOWN_KERNEL)` if there is none."""
    try:
        return KERNELS[name]
    except KeyError:
        raise JobRejected(
            JobRejectCode.UNKNOWN_KERNEL,
            f"unknown kernel {name!r}; known: {', '.join(sorted(KERNELS))}",
        ) from None


def validate_job(job: JobSpec) -> Kernel:
    """Check a job against the kernel definitions (not against any board); return its kernel.

    Raises `JobRejected` with UNKNOWN_KERNEL, WRONG_DTYPE, BAD_SIZE or BAD_JOB_ID.
    """
    if not job.job_id or len(job.job_id) > 64:
        raise JobRejected(JobRejectCode.BAD_JOB_ID, "job_id must be 1..64 characters")
    kernel = get_kernel(job.kernel)
    if job.dtype != REFERENCE_DTYPE:
        raise JobRejected(
            JobRejectCode.WRONG_DTYPE,
            f"{kernel.name} is defined for {REFERENCE_DTYPE}, got {job.dtype!r}",
        )
    problem = kernel.check_size(job.size)
    if problem is not None:
        raise JobRejected(JobRejectCode.BAD_SIZE, problem)
    if not 1 <= job.iterations <= MAX_ITERATIONS:
        raise JobRejected(
            JobRejectCode.BAD_SIZE,
            f"iterations must be in 1..{MAX_ITERATIONS}, got {job.iterations}",
        )
    return kernel


def job_flops(job: JobSpec) -> float:
    """Cost of a (valid) job in floating-point operations, all iterations, FLOP."""
    return validate_job(job).flops(job.size) * job.iterations


def job_memory_bytes(job: JobSpec) -> int:
    """Working set of a (valid) job: inputs, result and intermediates, bytes."""
    return validate_job(job).memory_bytes(job.size)


def generate_inputs(job: JobSpec) -> tuple[np.ndarray, ...]:
    """The job's input arrays, generated from its seed."""
    return validate_job(job).generate(job.seed, job.size)


def execute(job: JobSpec) -> np.ndarray:
    """Compute the job's result with the reference implementation."""
    kernel = validate_job(job)
    return kernel.run(kernel.generate(job.seed, job.size))


def digest_result(kernel: str, result: np.ndarray) -> str:
    """SHA-256 hex digest of `result` quantised on the kernel's grid.

    Non-finite values hash as a fixed sentinel so a board producing NaN gets a stable digest
    that simply does not verify.
    """
    import numpy as np

    spec = get_kernel(kernel)
    values = np.asarray(result)
    if np.iscomplexobj(values):
        values = np.stack([values.real, values.imag], axis=-1)
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    scaled = np.where(finite, values / spec.digest_quantum, 0.0)
    # Clip before the integer cast: an out-of-range cast is undefined and could differ by host.
    scaled = np.clip(np.rint(scaled), -(2.0**62), 2.0**62)
    quantised = np.where(finite, scaled, 2.0**62 + 1).astype("<i8")
    h = hashlib.sha256()
    h.update(_DIGEST_DOMAIN)
    h.update(spec.name.value.encode())
    h.update(repr(tuple(values.shape)).encode())
    h.update(np.ascontiguousarray(quantised).tobytes())
    return h.hexdigest()


def summarise_result(kernel: str, result: np.ndarray) -> dict[str, float]:
    """The kernel's small numeric summary of a result."""
    return get_kernel(kernel).summarise(result)


def run_reference(job: JobSpec) -> KernelOutput:
    """Reference execution: result, digest and summary."""
    result = execute(job)
    return KernelOutput(
        result=result,
        digest=digest_result(job.kernel, result),
        summary=summarise_result(job.kernel, result),
    )


def verify(job: JobSpec, digest: str) -> bool:
    """True if `digest` is the digest of a correct result of `job` (recomputed here).

    An invalid job has no correct result, so it never verifies.
    """
    try:
        return run_reference(job).digest == digest
    except JobRejected:
        return False


def verify_result(job: JobSpec, result: JobResult) -> bool:
    """True if `result` is a completed, correct result for `job`."""
    return (
        result.job_id == job.job_id
        and result.kernel == job.kernel
        and result.status is JobStatus.COMPLETED
        and result.digest is not None
        and verify(job, result.digest)
    )


def corrupt_result(result: np.ndarray, seed: int) -> np.ndarray:
    """Return a copy of `result` with one high-order mantissa bit flipped, as an upset would.

    The element with the largest magnitude is chosen (ties broken by `seed`) so the flip is
    never lost in a zero, and bit 51 moves the value by a quarter to a half of itself: far
    beyond any digest quantum.
    """
    import numpy as np

    corrupted = np.array(result, copy=True)
    flat = corrupted.reshape(-1)
    if flat.size == 0:
        return corrupted
    real_view = flat.view(np.float64) if np.iscomplexobj(flat) else flat
    magnitudes = np.abs(real_view)
    candidates = np.flatnonzero(magnitudes == magnitudes.max())
    index = int(candidates[seed % candidates.size])
    bits = real_view[index : index + 1].view(np.uint64)
    bits ^= np.uint64(1 << 51)
    return corrupted
