"""The three built-in reference boards.

They are deliberately different in the ways that matter to flight software: a hot, fast GPU
that throttles at normal cold-plate temperatures; a frugal inference accelerator that is fast
only on `mlp_inference`, slow on `matmul`, refuses `fft` and has little memory; a modest CPU
that runs everything. Each computes results for real with numpy; the GPU and the accelerator
use their own kernel implementations, which must (and do) agree with the reference digests.
Their figures are plausible for current hardware, not any product's data sheet.
"""

from __future__ import annotations

import math

import numpy as np
from computesat_sdk import kernels
from computesat_sdk.base import BaseBoard
from computesat_sdk.contract import (
    BoardCapabilities,
    BoardIdentity,
    BoardKind,
    JobLimits,
    JobSpec,
    ThermalElectricalModel,
    ThrottleLevel,
)

__all__ = ["RefCpuBoard", "RefGpuBoard", "RefNpuBoard"]

_GIB = 1024**3
_MIB = 1024**2

# Board time one job may take at most: a day. A job is the unit the payload manager schedules,
# retries and reports; one that runs for days holds a board through eclipses, upsets and
# passes with no result to show, and the TC's u32 iterations (up to 4 294 967 295) would
# otherwise allow a matmul 4096 to run for years.
_MAX_JOB_S = 86_400.0


def _day_limits(capabilities: BoardCapabilities) -> JobLimits:
    """The board's job limits: sizes from its memory (``JobLimits.from_capabilities``) and
    ``max_iterations`` = the iterations its costliest job at its largest size completes in
    ``_MAX_JOB_S`` at full speed: floor(86 400 s x rate[k] / flops(max_size[k])), the least
    over its kernels k. The reference boards get (matmul is each one's costliest):

    - GPU: matmul n=4096, 2 n^3 = 1.37e11 FLOP at 45 TFLOP/s -> 28 288 923 iterations;
    - NPU: matmul n=3344 (256 MiB), 7.48e10 FLOP at 1.5 TFLOP/s -> 1 732 910 iterations;
    - CPU: matmul n=4096 at 2.5 TFLOP/s -> 1 571 606 iterations.

    Smaller jobs may run that many iterations in less than a day; throttled, a job at the
    limit takes longer than a day (a job is never stopped for its length, only refused).
    """
    sized = JobLimits.from_capabilities(capabilities)
    iterations = min(
        math.floor(
            _MAX_JOB_S * capabilities.kernel_flops_per_s[name] / kernels.KERNELS[name].flops(size)
        )
        for name, size in sized.max_size.items()
    )
    return sized.model_copy(update={"max_iterations": max(1, iterations)})


def _levels(*fractions: tuple[float, float]) -> tuple[ThrottleLevel, ...]:
    return tuple(
        ThrottleLevel(level=i, perf_fraction=perf, power_fraction=power)
        for i, (perf, power) in enumerate(fractions)
    )


class RefGpuBoard(BaseBoard):
    """~1 kW GPU-class board with HBM: fastest on everything, throttles from 358 K."""

    IDENTITY = BoardIdentity(
        vendor="computesat reference",
        part_number="CS-REF-GPU1K",
        model_name="Reference GPU 1 kW",
        firmware_version="1.0.0",
        interface_version="1.0",
        kind=BoardKind.GPU,
    )
    THERMAL = ThermalElectricalModel(
        off_w=8.0,
        idle_w=180.0,
        peak_w=1000.0,
        latch_up_w=1500.0,
        thermal_mass_j_per_k=900.0,
        die_to_plate_k_per_w=0.032,
        throttle_temp_k=358.0,
        throttle_hysteresis_k=4.0,
        throttle_step_s=2.0,
        max_die_temp_k=368.0,
        shutdown_temp_k=378.0,
        memory_coupling=0.8,
        boot_time_s=60.0,
        throttle_levels=_levels((1.0, 1.0), (0.85, 0.75), (0.7, 0.55), (0.5, 0.35), (0.3, 0.18)),
    )
    CAPABILITIES = BoardCapabilities(
        memory_bytes=96 * _GIB,
        kernel_flops_per_s={"matmul": 45e12, "fft": 9e12, "mlp_inference": 30e12},
        queue_depth=8,
    )
    LIMITS = _day_limits(CAPABILITIES)

    def execute(self, job: JobSpec) -> np.ndarray:
        if job.kernel != "matmul":
            return kernels.execute(job)
        # Tiled product, as the GPU's tensor cores do it: a different summation order from the
        # reference, which the integer-valued matmul inputs make irrelevant to the digest.
        a, b = kernels.generate_inputs(job)
        n = job.size
        tile = 256
        out = np.zeros((n, n))
        for k in range(0, n, tile):
            out += a[:, k : k + tile] @ b[k : k + tile, :]
        return out


class RefNpuBoard(BaseBoard):
    """~75 W inference accelerator: fast on mlp_inference, slow matmul, no fft, 256 MiB."""

    IDENTITY = BoardIdentity(
        vendor="computesat reference",
        part_number="CS-REF-NPU75",
        model_name="Reference NPU 75 W",
        firmware_version="1.0.0",
        interface_version="1.0",
        kind=BoardKind.ACCELERATOR,
    )
    THERMAL = ThermalElectricalModel(
        off_w=1.0,
        idle_w=15.0,
        peak_w=75.0,
        latch_up_w=130.0,
        thermal_mass_j_per_k=120.0,
        die_to_plate_k_per_w=0.4,
        throttle_temp_k=368.0,
        throttle_hysteresis_k=5.0,
        throttle_step_s=1.0,
        max_die_temp_k=378.0,
        shutdown_temp_k=388.0,
        memory_coupling=0.6,
        boot_time_s=10.0,
        throttle_levels=_levels((1.0, 1.0), (0.75, 0.7), (0.5, 0.45), (0.25, 0.2)),
    )
    CAPABILITIES = BoardCapabilities(
        memory_bytes=256 * _MIB,
        kernel_flops_per_s={"mlp_inference": 40e12, "matmul": 1.5e12},
        queue_depth=16,
    )
    LIMITS = _day_limits(CAPABILITIES)

    def execute(self, job: JobSpec) -> np.ndarray:
        if job.kernel != "mlp_inference":
            return kernels.execute(job)
        # Streams the batch through in micro-batches, as an NPU with small on-chip SRAM would.
        inputs = kernels.generate_inputs(job)
        micro_batch = 256
        parts = [
            kernels.KERNELS["mlp_inference"].run((inputs[0][i : i + micro_batch], *inputs[1:]))
            for i in range(0, job.size, micro_batch)
        ]
        return np.concatenate(parts, axis=0)


class RefCpuBoard(BaseBoard):
    """~250 W CPU board: modest FLOP rate, runs every kernel, plenty of DRAM."""

    IDENTITY = BoardIdentity(
        vendor="computesat reference",
        part_number="CS-REF-CPU250",
        model_name="Reference CPU 250 W",
        firmware_version="1.0.0",
        interface_version="1.0",
        kind=BoardKind.CPU,
    )
    THERMAL = ThermalElectricalModel(
        off_w=4.0,
        idle_w=70.0,
        peak_w=250.0,
        latch_up_w=420.0,
        thermal_mass_j_per_k=700.0,
        die_to_plate_k_per_w=0.12,
        throttle_temp_k=363.0,
        throttle_hysteresis_k=5.0,
        throttle_step_s=1.0,
        max_die_temp_k=373.0,
        shutdown_temp_k=383.0,
        memory_coupling=0.5,
        boot_time_s=30.0,
        throttle_levels=_levels((1.0, 1.0), (0.8, 0.72), (0.6, 0.48), (0.4, 0.28)),
    )
    CAPABILITIES = BoardCapabilities(
        memory_bytes=64 * _GIB,
        kernel_flops_per_s={"matmul": 2.5e12, "fft": 0.6e12, "mlp_inference": 1.2e12},
        queue_depth=4,
    )
    LIMITS = _day_limits(CAPABILITIES)
