"""Counter-based sensor noise (hwsim/model/noise.py): what one read's noise costs.

Run: ``python bench/bench_noise.py [--quick]``. The baseline, measured in the same run, is
drawing the same noise the way the model does today: ``rng.standard_normal(1) * sigma`` from
a shared numpy Generator (fast, but its values depend on the read order):

- ``noise_scalar_per_read``: ``sensor_noise_scalar_k`` for one sensor (the per-read path);
- ``noise_vector_24_sensors``: ``sensor_noise_k`` for all 24 radiator sensors of AI1 at once;
- ``noise_vector_per_sensor_of_24``: the same per sensor.

Ratios are value / baseline (lower is cheaper); a read through a device port costs tens of
µs, so a few µs of noise per read is negligible.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from _common import emit, median, note, parse_args

from hwsim.model.noise import sensor_noise_k, sensor_noise_scalar_k


def per_call_us(fn: Callable[[], object], calls: int, repeats: int) -> float:
    """Median over ``repeats`` of the mean wall time per call of ``calls`` calls, in µs."""
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        samples.append((time.perf_counter() - t0) / calls * 1e6)
    return median(samples)


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    calls, repeats = (2_000, 3) if args.quick else (20_000, 7)
    rng = np.random.default_rng(1)
    idx = np.arange(24)
    state = {"tick": 0}

    def baseline() -> object:
        return rng.standard_normal(1) * 0.2

    def scalar() -> object:
        state["tick"] += 1
        return sensor_noise_scalar_k(1234, 5, state["tick"], 0.2)

    def vector() -> object:
        state["tick"] += 1
        return sensor_noise_k(1234, idx, state["tick"], 0.2)

    note(f"{calls} calls x {repeats} repeats each")
    base = per_call_us(baseline, calls, repeats)
    s = per_call_us(scalar, calls, repeats)
    v = per_call_us(vector, calls, repeats)
    emit("noise_scalar_per_read", s, "us/call", base)
    emit("noise_vector_24_sensors", v, "us/call", base)
    emit("noise_vector_per_sensor_of_24", v / 24, "us/sensor", base)


if __name__ == "__main__":
    main()
