"""Solar wings: array drive, incidence, MPP power, MPPT, wing temperature.

The wings rotate about the orbit normal (body y); a single-axis drive cannot follow the
out-of-plane Sun component, so the best incidence cosine is cos β.
"""

from __future__ import annotations

import math

from hwsim.model.constants import SIGMA_W_M2_K4

__all__ = [
    "array_mpp_power_w",
    "drive_angle_step_deg",
    "incidence_cosine",
    "mppt_output_power_w",
    "sun_angle_in_drive_plane_deg",
    "wing_temp_step_k",
]


def sun_angle_in_drive_plane_deg(phase_rad: float) -> float:
    """Drive angle that points the array normal at the Sun (0 = normal to zenith... see docs)."""
    return (math.degrees(phase_rad) + 180.0) % 360.0


def drive_angle_step_deg(
    angle_deg: float, target_deg: float, max_rate_deg_s: float, dt_s: float
) -> float:
    """Move toward ``target_deg`` the short way round, at most ``max_rate_deg_s``."""
    diff = (target_deg - angle_deg + 180.0) % 360.0 - 180.0
    step = max_rate_deg_s * dt_s
    if diff > step:
        diff = step
    elif diff < -step:
        diff = -step
    return (angle_deg + diff) % 360.0


def incidence_cosine(sun_angle_deg: float, drive_angle_deg: float, beta_rad: float) -> float:
    """cos of the Sun incidence on the array (0 if the Sun is behind it)."""
    c = math.cos(beta_rad) * math.cos(math.radians(sun_angle_deg - drive_angle_deg))
    return c if c > 0.0 else 0.0


def array_mpp_power_w(
    area_m2: float,
    efficiency: float,
    irradiance_w_m2: float,
    incidence_cos: float,
    cell_temp_k: float,
    reference_temp_k: float,
    temp_coeff_per_k: float,
    degradation_per_year: float,
    age_years: float,
) -> float:
    """Power at the maximum power point."""
    eta = efficiency * (1.0 + temp_coeff_per_k * (cell_temp_k - reference_temp_k))
    eta *= max(0.0, 1.0 - degradation_per_year * age_years)
    p = area_m2 * irradiance_w_m2 * incidence_cos * eta
    return p if p > 0.0 else 0.0


def mppt_output_power_w(mpp_power_w: float, mppt_active: bool, off_mpp_fraction: float) -> float:
    """An active MPPT extracts the MPP; a clamped (off/failed) array gives a fraction."""
    return mpp_power_w if mppt_active else mpp_power_w * off_mpp_fraction


def wing_temp_step_k(
    temp_k: float,
    dt_s: float,
    area_m2: float,
    absorbed_w_m2: float,
    electrical_w: float,
    emissivity: float,
    thermal_mass_j_per_k: float,
) -> float:
    """Point-implicit step of the wing node: absorbed − electric − 2εσAT⁴ (two faces)."""
    g = 2.0 * emissivity * SIGMA_W_M2_K4 * area_m2
    e = g * temp_k**4
    de = 4.0 * e / temp_k
    c = thermal_mass_j_per_k / dt_s
    q = area_m2 * absorbed_w_m2 - electrical_w
    return temp_k + (q - e) / (c + de)
