"""ACME Photon-7: a ~600 W photonic-assisted accelerator.

Its optical matrix and Fourier engines make matmul and fft very fast; dense inference goes
through the electronic side and is comparatively slow. It runs hot-sensitive optics, so it
throttles early (353 K) and in six fine steps.

Only characteristics and one kernel implementation are supplied here: everything else
(states, timing, thermal behaviour, throttling, upsets) comes from `computesat_sdk.base.BaseBoard`.
"""

from __future__ import annotations

import numpy as np
from computesat_sdk import kernels
from computesat_sdk.base import BaseBoard
from computesat_sdk.contract import (
    BoardCapabilities,
    BoardIdentity,
    BoardKind,
    JobSpec,
    ThermalElectricalModel,
    ThrottleLevel,
)

__all__ = ["Photon7Board"]

_GIB = 1024**3

_THROTTLE = ((1.0, 1.0), (0.9, 0.82), (0.75, 0.62), (0.55, 0.42), (0.35, 0.25), (0.2, 0.12))


class Photon7Board(BaseBoard):
    """ACME Photon-7 accelerator board."""

    IDENTITY = BoardIdentity(
        vendor="ACME Photonics",
        part_number="PH7-600-A",
        model_name="ACME Photon-7",
        firmware_version="2.3.1",
        # The contract version this board was written against, as a literal: importing
        # BOARD_INTERFACE_VERSION would always "match" and defeat the loader's check.
        interface_version="1.0",
        kind=BoardKind.ACCELERATOR,
    )
    THERMAL = ThermalElectricalModel(
        off_w=5.0,
        idle_w=90.0,
        peak_w=600.0,
        latch_up_w=900.0,
        thermal_mass_j_per_k=500.0,
        die_to_plate_k_per_w=0.05,
        throttle_temp_k=353.0,
        throttle_hysteresis_k=3.0,
        throttle_step_s=1.5,
        max_die_temp_k=363.0,
        shutdown_temp_k=373.0,
        memory_coupling=0.75,
        boot_time_s=20.0,
        throttle_levels=tuple(
            ThrottleLevel(level=i, perf_fraction=perf, power_fraction=power)
            for i, (perf, power) in enumerate(_THROTTLE)
        ),
    )
    CAPABILITIES = BoardCapabilities(
        memory_bytes=48 * _GIB,
        kernel_flops_per_s={"matmul": 120e12, "fft": 60e12, "mlp_inference": 25e12},
        queue_depth=6,
    )

    def execute(self, job: JobSpec) -> np.ndarray:
        if job.kernel != "fft":
            return kernels.execute(job)
        # The Fourier engine's own radix-2 transform; its digest must match the reference.
        (signal,) = kernels.generate_inputs(job)
        return _radix2_fft(signal) / np.sqrt(signal.size)


def _radix2_fft(signal: np.ndarray) -> np.ndarray:
    """Iterative radix-2 decimation-in-time FFT of a power-of-two-length signal."""
    n = signal.size
    bits = n.bit_length() - 1
    index = np.arange(n)
    reversed_index = np.zeros(n, dtype=np.int64)
    for bit in range(bits):
        reversed_index |= ((index >> bit) & 1) << (bits - 1 - bit)
    values = signal[reversed_index].astype(np.complex128)
    span = 2
    while span <= n:
        half = span // 2
        twiddle = np.exp(-2j * np.pi * np.arange(half) / span)
        blocks = values.reshape(-1, span)
        even = blocks[:, :half].copy()
        odd = blocks[:, half:] * twiddle
        blocks[:, :half] = even + odd
        blocks[:, half:] = even - odd
        span *= 2
    return values
