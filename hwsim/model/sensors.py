"""Radiator temperature sensors: bias, gaussian noise, quantisation (seeded RNG)."""

from __future__ import annotations

import numpy as np

__all__ = ["quantise", "sensor_reading_k"]


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
