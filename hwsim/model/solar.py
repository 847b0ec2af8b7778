"""Solar wings: array drive, incidence, MPP power, MPPT, wing temperature.

The wings rotate about the orbit normal (body y); a single-axis drive cannot follow the
out-of-plane Sun component, so the best incidence cosine is cos β.
"""

from __future__ import annotations

import math

from hwsim.model.constants import SIGMA_W_M2_K4
from hwsim.model.thermal import earth_view_factor_tilted_plate

__all__ = [
    "array_mpp_power_w",
    "array_power_limited_w",
    "array_rated_power_w",
    "drive_angle_step_deg",
    "incidence_cosine",
    "mppt_output_power_w",
    "sun_angle_in_drive_plane_deg",
    "sun_pointing_drive_angle_deg",
    "wing_drive_normal_from_nadir_rad",
    "wing_earth_absorbed_w_m2",
    "wing_equilibrium_temp_k",
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


# ------------------------------------------------------------------ off the healthy path


def sun_pointing_drive_angle_deg(phase_rad: float) -> float:
    """Drive angle that puts the array normal on the Sun at orbit phase ``phase_rad``.

    What a run's initial drive angle should be (``initial_phase_deg`` → angle), so that it
    starts on the Sun rather than slewing toward it from 0 for the first minutes. The same
    angle :func:`sun_angle_in_drive_plane_deg` gives; incidence there is cos β, the most a
    single-axis drive can get.
    """
    return sun_angle_in_drive_plane_deg(phase_rad)


def wing_drive_normal_from_nadir_rad(drive_angle_deg: float) -> float:
    """Angle between the cell face's normal and nadir for a drive angle.

    The Sun in the body frame is (−cos β sin u, −sin β, −cos β cos u) (z nadir) and a
    tracking drive sits at u + 180°, where the cell normal is (−sin u, 0, −cos u): its nadir
    component is cos(drive angle). So drive 0° faces nadir (orbit midnight), 180° zenith
    (noon); the back face is at π minus this.
    """
    return math.acos(math.cos(math.radians(drive_angle_deg)))


def wing_earth_absorbed_w_m2(
    altitude_km: float,
    cell_normal_from_nadir_rad: float,
    albedo_w_m2: float,
    cell_absorptivity: float,
    back_absorptivity: float,
    emissivity: float,
    earth_ir_w_m2: float = 237.0,
) -> float:
    """Earth IR and albedo absorbed by a wing, per m² of wing (both faces together).

    Face f at θ_f from nadir sees the Earth with F_f (thermal.earth_view_factor_tilted_plate);
    it absorbs ε·OLR·F_f + α_f·albedo·F_f (IR absorptivity = ε, Kirchhoff). The cell face is
    at θ, the back face at π − θ. At midnight with the cells on nadir this is 0.835·ε·OLR.
    """
    f_cell = earth_view_factor_tilted_plate(altitude_km, cell_normal_from_nadir_rad)
    f_back = earth_view_factor_tilted_plate(altitude_km, math.pi - cell_normal_from_nadir_rad)
    ir = emissivity * earth_ir_w_m2 * (f_cell + f_back)
    alb = albedo_w_m2 * (cell_absorptivity * f_cell + back_absorptivity * f_back)
    return ir + alb


def wing_equilibrium_temp_k(
    absorbed_w_m2: float, electrical_w_m2: float, emissivity: float
) -> float:
    """Steady wing temperature: absorbed − electrical = 2εσT⁴ (both faces, deep-space sink).

    The balance :func:`wing_temp_step_k` steps toward. In eclipse absorbed = ε·OLR·ΣF (the
    Earth IR alone; no electrical output), so T = (OLR·ΣF/(2σ))^¼, independent of ε: ~204 K
    with the cells on nadir at 600 km (ΣF = 0.835), ~180 K edge-on (ΣF = 0.498). In the Sun at
    normal incidence add α·S·cos θ (+ albedo) and take out the electrical power.
    """
    net = absorbed_w_m2 - electrical_w_m2
    if net <= 0.0:
        return 0.0
    return (net / (2.0 * emissivity * SIGMA_W_M2_K4)) ** 0.25


def array_rated_power_w(
    area_m2: float, efficiency: float, irradiance_w_m2: float = 1361.0
) -> float:
    """Nameplate (rated maximum) of an array: A·S·η at the reference temperature, normal
    incidence, beginning of life (2 × 320 m² × 1361 × 0.19 = 165.5 kW for AI1)."""
    return area_m2 * irradiance_w_m2 * efficiency


def array_power_limited_w(mpp_power_w: float, rated_power_w: float) -> float:
    """min(P_mpp, P_rated): the linear temperature coefficient of :func:`array_mpp_power_w`
    overstates a cold array (a 99.5 K wing would give 1.7× its nameplate); the array's
    regulator and harness are rated for its nameplate, so what it delivers is clamped there.
    """
    return mpp_power_w if mpp_power_w < rated_power_w else rated_power_w
