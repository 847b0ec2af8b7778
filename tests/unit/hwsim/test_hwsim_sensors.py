"""Radiator sensors: noise, bias, quantisation, seeded determinism."""

from __future__ import annotations

import numpy as np

from hwsim.model.sensors import quantise, sensor_reading_k
from hwsim.spacecraft import Spacecraft


def test_quantisation() -> None:
    assert quantise(np.array([300.04, 300.06]), np.array([0.1, 0.1])).tolist() == [300.0, 300.1]
    assert quantise(np.array([300.04]), np.array([0.0])).tolist() == [300.04]


def test_noise_statistics_and_bias() -> None:
    rng = np.random.default_rng(1)
    true = np.full(20000, 320.0)
    r = sensor_reading_k(true, np.full(20000, 0.5), np.full(20000, 2.0), np.zeros(20000), rng)
    assert abs(r.mean() - 320.5) < 0.05
    assert abs(r.std() - 2.0) < 0.05


def test_sensor_reads_are_deterministic_for_a_seed(ai1) -> None:
    def series(seed: int) -> list[float]:
        sc = Spacecraft(ai1, seed=seed)
        out = []
        for _ in range(50):
            sc.step(1.0)
            out.extend(sc.read(f"radsensor.P01.S{i}")["temp_k"] for i in (1, 2, 3))
        return out

    assert series(3) == series(3)
    assert series(3) != series(4)
