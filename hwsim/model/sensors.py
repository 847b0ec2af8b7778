"""Radiator temperature sensors: bias, gaussian noise, quantisation (seeded RNG)."""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "SENSOR_DEAD",
    "SENSOR_DRIFT",
    "SENSOR_NOISY",
    "SENSOR_OK",
    "SENSOR_STUCK",
    "adc_counts",
    "adc_full_scale_k",
    "adc_quantise_k",
    "quantise",
    "radiator_sensor_reading_k",
    "sensor_reading_k",
]


def quantise(value: np.ndarray, step: np.ndarray) -> np.ndarray:
    """Round to the ADC step; a step of 0 leaves the value unchanged."""
    safe = np.where(step > 0.0, step, 1.0)
    # the final rounding hides binary float noise such as 323.20000000000005
    return np.where(step > 0.0, np.round(np.round(value / safe) * safe, 9), value)


def sensor_reading_k(
    true_temp_k: np.ndarray,
    bias_k: np.ndarray,
    noise_std_k: np.ndarray,
    quantisation_k: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """One sample per sensor: quantise(T + bias + N(0, σ))."""
    noise = rng.standard_normal(np.shape(true_temp_k)) * noise_std_k
    return quantise(true_temp_k + bias_k + noise, quantisation_k)


# ------------------------------------------------------------------ off the healthy path
#
# Every reading, healthy or faulty, leaves the sensor through its ADC: counts = round(v/LSB)
# clamped to [0, 2^bits − 1], value = counts·LSB. A stuck, drifting or noisy sensor therefore
# reads on the same 0.1 K grid as a healthy one and can only be found by voting and
# plausibility, not by an off-grid value. A dead sensor (open circuit) reads 0 counts.
# fault modes of a radiator sensor (the numbering of the spacecraft model's _rs_mode)
SENSOR_OK, SENSOR_STUCK, SENSOR_DRIFT, SENSOR_NOISY, SENSOR_DEAD = 0, 1, 2, 3, 4


def adc_full_scale_k(lsb_k: float, bits: int) -> float:
    """Largest value the ADC reports: (2^bits − 1)·LSB (409.5 K for 12 bits at 0.1 K)."""
    return ((1 << bits) - 1) * lsb_k


def adc_counts(
    value_k: np.ndarray | float, lsb_k: np.ndarray | float, bits: int = 12
) -> np.ndarray:
    """ADC counts of a value: round(v/LSB) (half to even) clamped to [0, 2^bits − 1]."""
    c = np.rint(np.asarray(value_k, dtype=float) / lsb_k)
    return np.clip(c, 0, (1 << bits) - 1).astype(np.int64)


def adc_quantise_k(
    value_k: np.ndarray | float, lsb_k: np.ndarray | float, bits: int = 12
) -> np.ndarray:
    """The value the ADC reports: counts·LSB, rounded to 9 decimals so that it prints as the
    grid value (323.2, not 323.20000000000005); always a multiple of the LSB to within
    float rounding, and clamped to [0, full scale]."""
    lsb = np.asarray(lsb_k, dtype=float)
    if np.all(lsb > 0.0):
        return np.round(adc_counts(value_k, lsb, bits) * lsb, 9)
    # an LSB of 0 is a configuration without quantisation (SensorConfig.quantisation_k = 0):
    # the value passes unquantised, clamped at 0 only
    safe = np.where(lsb > 0.0, lsb, 1.0)
    grid = np.round(adc_counts(value_k, safe, bits) * safe, 9)
    return np.where(lsb > 0.0, grid, np.maximum(np.asarray(value_k, dtype=float), 0.0))


def radiator_sensor_reading_scalar_k(
    mode: int,
    true_temp_k: float,
    bias_k: float,
    noise_k: float,
    extra_noise_k: float,
    drift_k: float,
    stuck_k: float,
    lsb_k: float,
    bits: int = 12,
) -> float:
    """:func:`radiator_sensor_reading_k` of one sensor in plain floats, bit for bit (the
    device read of one sensor: no arrays of one element); the same operations in the same
    order, ``round`` half to even like ``np.rint``, ``np.round(x, 9)`` as rint(x·1e9)/1e9."""
    v = true_temp_k + bias_k + noise_k
    if mode == SENSOR_DRIFT:
        v = v + drift_k
    elif mode == SENSOR_NOISY:
        v = v + extra_noise_k
    elif mode == SENSOR_STUCK:
        v = stuck_k
    elif mode == SENSOR_DEAD:
        v = 0.0
    if not math.isfinite(v) or not math.isfinite(lsb_k):
        with np.errstate(invalid="ignore"):  # NaN to counts: whatever the array path makes
            return _array_reading(
                mode, true_temp_k, bias_k, noise_k, extra_noise_k, drift_k, stuck_k, lsb_k, bits
            )
    if lsb_k > 0.0:
        counts = min(max(round(v / lsb_k), 0), (1 << bits) - 1)
        return round(counts * lsb_k * 1e9) / 1e9
    return max(v, 0.0)


def _array_reading(
    mode: int,
    true_temp_k: float,
    bias_k: float,
    noise_k: float,
    extra_noise_k: float,
    drift_k: float,
    stuck_k: float,
    lsb_k: float,
    bits: int,
) -> float:
    return float(
        radiator_sensor_reading_k(
            np.array([mode]),
            np.array([true_temp_k]),
            np.array([bias_k]),
            np.array([noise_k]),
            np.array([extra_noise_k]),
            np.array([drift_k]),
            np.array([stuck_k]),
            np.array([lsb_k]),
            bits,
        )[0]
    )


def radiator_sensor_reading_k(
    mode: np.ndarray,
    true_temp_k: np.ndarray,
    bias_k: np.ndarray,
    noise_k: np.ndarray,
    extra_noise_k: np.ndarray,
    drift_k: np.ndarray,
    stuck_k: np.ndarray,
    lsb_k: np.ndarray,
    bits: int = 12,
) -> np.ndarray:
    """Readings of radiator sensors in any fault mode, all through the ADC.

    ``noise_k`` is the sensor's own noise sample (σ·z, e.g. noise.sensor_noise_k), and
    ``extra_noise_k`` the additional noise of a SENSOR_NOISY fault (σ_extra·z' from another
    counter stream; ignored otherwise); ``drift_k`` is the drift accumulated so far (rate ×
    time since the fault; ignored unless SENSOR_DRIFT); ``stuck_k`` the value a SENSOR_STUCK
    sensor holds. Dead sensors read 0. Every result is counts·LSB.
    """
    mode = np.asarray(mode)
    v = true_temp_k + bias_k + noise_k
    v = np.where(mode == SENSOR_DRIFT, v + drift_k, v)
    v = np.where(mode == SENSOR_NOISY, v + extra_noise_k, v)
    v = np.where(mode == SENSOR_STUCK, stuck_k, v)
    v = np.where(mode == SENSOR_DEAD, 0.0, v)
    return adc_quantise_k(v, lsb_k, bits)
