"""PDU channel overcurrent protection: an inverse-time thermal-memory trip curve.

Each channel's solid-state power controller keeps a thermal image θ of its wiring, in units of
(rated current)²: θ̇ = ((I/I_r)² − θ)/τ. It trips when θ reaches k² (k: the pickup factor,
the largest current it carries forever). From cold (θ = 0) under a constant I = x·I_r this is
the IEC 60255-8 "cold" thermal curve

    t_trip = τ·ln(x² / (x² − k²))     (never for x ≤ k),

inverse in I (≈ τ·k²/x² for large x: constant I²t); with θ₀ ≠ 0 (a channel still warm from an
earlier overload) t = τ·ln((x² − θ₀)/(x² − k²)). Below the rating θ relaxes toward x² < 1 ≤ k²
(the image cools), so a channel that once carried overcurrent recovers by itself. The step is
the exact solution for a current held over the step, so the trip time of a stepped channel is
the closed form rounded up to the step.

Defaults (hwsim/config.py, PduProtectionConfig): τ = 10 s, k = 1.1; a pump channel rated
4.5 A at 350 V (1.58 kW), above a healthy pump's most (~1.36 kW, two pumps at max speed on the
AI1 loop: 3.9 A) and below a seized pump's 2 kW stall (5.7 A, x = 1.27), which trips in
τ·ln(1.613/(1.613 − 1.21)) ≈ 13.9 s. At 2× the rating a channel trips in 3.6 s, at 5× in 0.5 s.
"""

from __future__ import annotations

import math
from typing import TypeVar

import numpy as np

__all__ = [
    "overcurrent_image_step",
    "overcurrent_tripped",
    "trip_time_s",
]

F = TypeVar("F", float, np.ndarray)


def trip_time_s(
    current_a: float,
    rated_a: float,
    time_constant_s: float,
    pickup_factor: float = 1.1,
    initial_image: float = 0.0,
) -> float:
    """Time to trip under a constant current from thermal image θ₀ (math.inf: never).

    t = τ·ln((x² − θ₀)/(x² − k²)), x = I/I_r; 0 if θ₀ ≥ k² already.
    """
    if rated_a <= 0.0 or time_constant_s <= 0.0:
        raise ValueError("rated_a and time_constant_s must be > 0")
    k2 = pickup_factor * pickup_factor
    if initial_image >= k2:
        return 0.0
    x2 = (current_a / rated_a) ** 2
    if x2 <= k2:
        return math.inf
    return time_constant_s * math.log((x2 - initial_image) / (x2 - k2))


def overcurrent_image_step(
    image: F, current_a: F, rated_a: F, dt_s: float, time_constant_s: F
) -> F:
    """θ after ``dt_s`` at a constant current: θ' = x² + (θ − x²)·e^(−dt/τ) (exact)."""
    x2 = (current_a / rated_a) ** 2
    return x2 + (image - x2) * np.exp(-dt_s / time_constant_s)


def overcurrent_tripped(image: F, pickup_factor: F = 1.1) -> F | bool:
    """True where the thermal image has reached k²: the channel opens (and stays open until
    commanded on again, as an SSPC latches its trip)."""
    return image >= pickup_factor * pickup_factor
