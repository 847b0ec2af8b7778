"""The one-sensor reading (a device read: plain floats) is the array reading bit for bit, in
every fault mode, on the ADC's rounding edges and beyond its range."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from hwsim.model.sensors import (
    SENSOR_DEAD,
    SENSOR_DRIFT,
    SENSOR_NOISY,
    SENSOR_OK,
    SENSOR_STUCK,
    radiator_sensor_reading_k,
    radiator_sensor_reading_scalar_k,
)

MODES = (SENSOR_OK, SENSOR_STUCK, SENSOR_DRIFT, SENSOR_NOISY, SENSOR_DEAD)


def _array(mode: int, *values: float, bits: int) -> float:
    arrays = [np.array([v]) for v in values]
    with np.errstate(invalid="ignore"):  # a NaN's cast to counts: the array path's own way
        return float(radiator_sensor_reading_k(np.array([mode]), *arrays, bits)[0])


def _cases() -> list[tuple[int, tuple[float, ...], int]]:
    rng = random.Random(9)
    cases = []
    for _ in range(3000):
        mode = rng.choice(MODES)
        lsb = rng.choice((0.1, 0.05, 0.25, 0.0, 1e-3))
        temp = rng.choice((rng.uniform(-50, 500), rng.uniform(150, 350), 1e6, -1e6))
        if rng.random() < 0.2 and lsb > 0:  # exactly on a half count: rounding to even
            temp = (round(temp / lsb) + 0.5) * lsb
        values = (
            temp,
            rng.gauss(0, 0.5),
            rng.gauss(0, 0.2),
            rng.gauss(0, 2.0),
            rng.uniform(-5, 5),
            rng.uniform(0, 400),
            lsb,
        )
        cases.append((mode, values, rng.choice((12, 10, 16))))
    return cases


def test_the_scalar_reading_is_the_array_reading_bit_for_bit():
    for mode, values, bits in _cases():
        scalar = radiator_sensor_reading_scalar_k(mode, *values, bits)
        array = _array(mode, *values, bits=bits)
        assert scalar == array or (math.isnan(scalar) and math.isnan(array)), (
            f"mode {mode}, values {values}, bits {bits}: scalar {scalar!r} != array {array!r}"
        )
        assert type(scalar) is float


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_value_reads_as_the_array_reads_it(bad: float):
    values = (bad, 0.0, 0.0, 0.0, 0.0, 300.0, 0.1)
    scalar = radiator_sensor_reading_scalar_k(SENSOR_OK, *values, 12)
    array = _array(SENSOR_OK, *values, bits=12)
    assert scalar == array or (math.isnan(scalar) and math.isnan(array)), (scalar, array)
