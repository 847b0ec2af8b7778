"""Circular-orbit geometry: period, phase, eclipse, sun vector, ground track, SAA.

Frames. The *orbit frame* is inertial: e1 is the Sun's projection on the orbit plane, e3 the
orbit normal, e2 = e3 × e1. The orbit phase ``u`` is measured from e1 (u = 0 is orbit noon,
u = π orbit midnight). The *body frame* is LVLH: x along the velocity, z to nadir, y = −normal.
"""

from __future__ import annotations

import math

from hwsim.model.constants import (
    EARTH_ROTATION_RAD_S,
    J2_EARTH,
    MU_EARTH_KM3_S2,
    OBLIQUITY_RAD,
    R_EARTH_KM,
    SUN_ANGULAR_RADIUS_RAD,
    SUN_MEAN_MOTION_RAD_S,
)

__all__ = [
    "beta_critical_deg",
    "beta_from_geometry_deg",
    "eclipse_duration_s",
    "eclipse_fraction",
    "eclipse_half_angle_rad",
    "illumination_fraction",
    "in_saa_box",
    "mean_motion_rad_s",
    "nodal_precession_rad_s",
    "noon_arg_of_latitude_rad",
    "orbit_phase_rad",
    "orbital_period_s",
    "raan_rad",
    "semi_major_axis_km",
    "subsatellite_lat_lon_deg",
    "sun_ecliptic_longitude_rad",
    "sun_right_ascension_rad",
    "sun_synchronous_inclination_deg",
    "sun_vector_body",
    "sun_vector_orbit",
]


def semi_major_axis_km(altitude_km: float) -> float:
    return R_EARTH_KM + altitude_km


def orbital_period_s(altitude_km: float) -> float:
    """T = 2π√(a³/μ)."""
    a = semi_major_axis_km(altitude_km)
    return 2.0 * math.pi * math.sqrt(a**3 / MU_EARTH_KM3_S2)


def mean_motion_rad_s(altitude_km: float) -> float:
    a = semi_major_axis_km(altitude_km)
    return math.sqrt(MU_EARTH_KM3_S2 / a**3)


def orbit_phase_rad(time_s: float, altitude_km: float, initial_phase_rad: float = 0.0) -> float:
    """Phase from orbit noon in [0, 2π)."""
    return (initial_phase_rad + mean_motion_rad_s(altitude_km) * time_s) % (2.0 * math.pi)


def beta_critical_deg(altitude_km: float) -> float:
    """β* = asin(R⊕/a): no eclipse above it."""
    return math.degrees(math.asin(R_EARTH_KM / semi_major_axis_km(altitude_km)))


def eclipse_half_angle_rad(altitude_km: float, beta_deg: float) -> float:
    """Half the phase span of the cylindrical shadow (0 if there is no eclipse)."""
    a = semi_major_axis_km(altitude_km)
    cos_b = math.cos(math.radians(beta_deg))
    if cos_b <= 0.0:
        return 0.0
    x = math.sqrt(a * a - R_EARTH_KM * R_EARTH_KM) / (a * cos_b)
    if x >= 1.0:
        return 0.0
    return math.acos(x)


def eclipse_fraction(altitude_km: float, beta_deg: float) -> float:
    """f = (1/π)·acos(√(h² + 2R⊕h) / (a·cos β)), 0 above β*."""
    return eclipse_half_angle_rad(altitude_km, beta_deg) / math.pi


def eclipse_duration_s(altitude_km: float, beta_deg: float) -> float:
    return eclipse_fraction(altitude_km, beta_deg) * orbital_period_s(altitude_km)


def sun_vector_orbit(phase_rad: float, beta_rad: float) -> tuple[float, float, float]:
    """Unit Sun vector in the orbit frame (independent of phase by construction)."""
    return (math.cos(beta_rad), 0.0, math.sin(beta_rad))


def sun_vector_body(phase_rad: float, beta_rad: float) -> tuple[float, float, float]:
    """Unit Sun vector in the LVLH body frame (x velocity, y −normal, z nadir)."""
    cb = math.cos(beta_rad)
    return (-cb * math.sin(phase_rad), -math.sin(beta_rad), -cb * math.cos(phase_rad))


def illumination_fraction(
    phase_rad: float, beta_rad: float, altitude_km: float, penumbra: bool = False
) -> float:
    """Fraction of the solar disc seen: 0 in umbra, 1 in sunlight (cylindrical shadow).

    With ``penumbra`` the shadow edge is a linear fade over ± the Sun's angular radius times
    the orbit radius, which is about ±32 km at 600 km.
    """
    a = semi_major_axis_km(altitude_km)
    along = a * math.cos(beta_rad) * math.cos(phase_rad)
    if along >= 0.0:
        return 1.0
    dist2 = a * a - along * along
    if not penumbra:
        return 0.0 if dist2 < R_EARTH_KM * R_EARTH_KM else 1.0
    w = SUN_ANGULAR_RADIUS_RAD * a
    d = math.sqrt(max(dist2, 0.0))
    frac = (d - (R_EARTH_KM - w)) / (2.0 * w)
    return 0.0 if frac <= 0.0 else (1.0 if frac >= 1.0 else frac)


def subsatellite_lat_lon_deg(
    time_s: float,
    arg_of_latitude_rad: float,
    inclination_rad: float,
    ascending_node_lon_rad: float,
) -> tuple[float, float]:
    """Ground track of a circular orbit over a rotating spherical Earth."""
    s = math.sin(arg_of_latitude_rad)
    c = math.cos(arg_of_latitude_rad)
    lat = math.asin(max(-1.0, min(1.0, math.sin(inclination_rad) * s)))
    lon = (
        math.atan2(math.cos(inclination_rad) * s, c)
        + ascending_node_lon_rad
        - EARTH_ROTATION_RAD_S * time_s
    )
    lon = (lon + math.pi) % (2.0 * math.pi) - math.pi
    return math.degrees(lat), math.degrees(lon)


def in_saa_box(
    lat_deg: float,
    lon_deg: float,
    lat_min_deg: float,
    lat_max_deg: float,
    lon_min_deg: float,
    lon_max_deg: float,
) -> bool:
    """South Atlantic Anomaly as a lat/lon box."""
    return lat_min_deg <= lat_deg <= lat_max_deg and lon_min_deg <= lon_deg <= lon_max_deg


# ------------------------------------------------------------------ off the healthy path
#
# J2 nodal precession and a β that changes over the year. Inertial frame: x to the vernal
# equinox, z to the north pole. The ascending node is at right ascension Ω; the Sun at
# ecliptic longitude λ (its direction (cos λ, cos ε sin λ, sin ε sin λ), ε the obliquity).
# β = asin(n̂·ŝ) with the orbit normal n̂ = (sin i sin Ω, −sin i cos Ω, cos i).


def nodal_precession_rad_s(
    altitude_km: float, inclination_deg: float, eccentricity: float = 0.0
) -> float:
    """Ω̇ = −(3/2)·n·J2·(R⊕/a)²·cos i/(1 − e²)² (≈ −5.0°/day at 400 km, 51.6°)."""
    a = semi_major_axis_km(altitude_km)
    n = math.sqrt(MU_EARTH_KM3_S2 / a**3)
    return (
        -1.5
        * n
        * J2_EARTH
        * (R_EARTH_KM / a) ** 2
        * math.cos(math.radians(inclination_deg))
        / (1.0 - eccentricity**2) ** 2
    )


def sun_synchronous_inclination_deg(altitude_km: float) -> float:
    """Inclination whose Ω̇ equals the Sun's mean motion (+0.9856°/day): 97.8° at 600 km."""
    a = semi_major_axis_km(altitude_km)
    n = math.sqrt(MU_EARTH_KM3_S2 / a**3)
    c = -SUN_MEAN_MOTION_RAD_S / (1.5 * n * J2_EARTH * (R_EARTH_KM / a) ** 2)
    if c < -1.0:
        raise ValueError(f"no sun-synchronous orbit at {altitude_km} km")
    return math.degrees(math.acos(c))


def raan_rad(time_s: float, raan0_rad: float, rate_rad_s: float) -> float:
    """Ω(t) = Ω₀ + Ω̇·t, in [0, 2π)."""
    return (raan0_rad + rate_rad_s * time_s) % (2.0 * math.pi)


def sun_ecliptic_longitude_rad(days_since_j2000: float) -> float:
    """Apparent ecliptic longitude of the Sun, low-precision formula of the Astronomical
    Almanac (error ≲ 0.01° over 1950–2050): L = 280.460° + 0.9856474°·d,
    g = 357.528° + 0.9856003°·d, λ = L + 1.915°·sin g + 0.020°·sin 2g."""
    d = days_since_j2000
    mean_lon = math.radians(280.460 + 0.9856474 * d)
    g = math.radians(357.528 + 0.9856003 * d)
    lam = mean_lon + math.radians(1.915 * math.sin(g) + 0.020 * math.sin(2.0 * g))
    return lam % (2.0 * math.pi)


def sun_right_ascension_rad(
    ecliptic_longitude_rad: float, obliquity_rad: float = OBLIQUITY_RAD
) -> float:
    """α = atan2(cos ε·sin λ, cos λ), in [0, 2π)."""
    lam = ecliptic_longitude_rad
    return math.atan2(math.cos(obliquity_rad) * math.sin(lam), math.cos(lam)) % (2.0 * math.pi)


def beta_from_geometry_deg(
    node_raan_rad: float,
    inclination_deg: float,
    sun_longitude_rad: float,
    obliquity_rad: float = OBLIQUITY_RAD,
) -> float:
    """β = asin(cos λ sin Ω sin i − sin λ cos ε cos Ω sin i + sin λ sin ε cos i).

    |β| ≤ i + ε (for i ≤ 90°): 76.4° for a 53° orbit, which passes β* = 66.1° at 600 km, so
    such an orbit has eclipse-free seasons.
    """
    i = math.radians(inclination_deg)
    lam = sun_longitude_rad
    om = node_raan_rad
    s = (
        math.cos(lam) * math.sin(om) * math.sin(i)
        - math.sin(lam) * math.cos(obliquity_rad) * math.cos(om) * math.sin(i)
        + math.sin(lam) * math.sin(obliquity_rad) * math.cos(i)
    )
    return math.degrees(math.asin(max(-1.0, min(1.0, s))))


def noon_arg_of_latitude_rad(
    node_raan_rad: float,
    inclination_deg: float,
    sun_longitude_rad: float,
    obliquity_rad: float = OBLIQUITY_RAD,
) -> float:
    """Argument of latitude (from the ascending node) of orbit noon, where the satellite is
    closest to the Sun's direction: atan2(ŝ·M̂, ŝ·N̂) with N̂ = (cos Ω, sin Ω, 0) the node
    and M̂ = n̂ × N̂ = (−cos i sin Ω, cos i cos Ω, sin i) the in-plane axis 90° ahead of it;
    there ŝ·r̂ = cos β (same frame as :func:`beta_from_geometry_deg`). In [0, 2π)."""
    i = math.radians(inclination_deg)
    lam = sun_longitude_rad
    sx = math.cos(lam)
    sy = math.cos(obliquity_rad) * math.sin(lam)
    sz = math.sin(obliquity_rad) * math.sin(lam)
    along_node = sx * math.cos(node_raan_rad) + sy * math.sin(node_raan_rad)
    ahead = (
        -sx * math.cos(i) * math.sin(node_raan_rad)
        + sy * math.cos(i) * math.cos(node_raan_rad)
        + sz * math.sin(i)
    )
    return math.atan2(ahead, along_node) % (2.0 * math.pi)
