"""Orbit geometry against closed forms (REFERENCE.md)."""

from __future__ import annotations

import itertools
import math

import numpy as np

from hwsim.model.constants import R_EARTH_KM
from hwsim.model.orbit import (
    beta_critical_deg,
    eclipse_duration_s,
    eclipse_fraction,
    illumination_fraction,
    in_saa_box,
    orbital_period_s,
    subsatellite_lat_lon_deg,
    sun_vector_body,
)


def closed_form_fraction(h_km: float, beta_deg: float) -> float:
    a = R_EARTH_KM + h_km
    x = math.sqrt(h_km**2 + 2 * R_EARTH_KM * h_km) / (a * math.cos(math.radians(beta_deg)))
    return 0.0 if x >= 1 else math.acos(x) / math.pi


def sampled_eclipse_s(h_km: float, beta_deg: float, dt_s: float = 1.0) -> float:
    period = orbital_period_s(h_km)
    n = int(period / dt_s)
    w = 2 * math.pi / period
    beta = math.radians(beta_deg)
    dark = sum(illumination_fraction(w * k * dt_s, beta, h_km) == 0.0 for k in range(n))
    return dark * dt_s


def test_period_600km_is_5801s() -> None:
    assert abs(orbital_period_s(600.0) - 5801.0) / 5801.0 < 0.01
    assert abs(orbital_period_s(600.0) - 5801.0) < 2.0


def test_eclipse_at_beta0_is_35_5_min() -> None:
    assert abs(eclipse_duration_s(600.0, 0.0) / 60.0 - 35.5) / 35.5 < 0.01


def test_critical_beta_is_66_1_deg() -> None:
    assert abs(beta_critical_deg(600.0) - 66.1) < 0.1
    assert eclipse_fraction(600.0, 66.2) == 0.0
    assert eclipse_fraction(600.0, 80.0) == 0.0
    assert sampled_eclipse_s(600.0, 67.0) == 0.0


def test_eclipse_vs_beta_matches_closed_form() -> None:
    period = orbital_period_s(600.0)
    for beta in (0.0, 20.0, 40.0, 55.0, 60.0, 64.0):
        expected = closed_form_fraction(600.0, beta)
        assert abs(eclipse_fraction(600.0, beta) - expected) < 1e-12
        sampled = sampled_eclipse_s(600.0, beta)
        # 1 s sampling of the shadow: within 1 % (2 s absolute near the tangent)
        assert abs(sampled - expected * period) <= max(0.01 * expected * period, 2.0)


def test_penumbra_is_a_linear_fade_between_sun_and_umbra() -> None:
    half = math.acos(math.sqrt(600.0**2 + 2 * R_EARTH_KM * 600.0) / (R_EARTH_KM + 600.0))
    entry = math.pi - half
    u = np.linspace(entry - 0.02, entry + 0.02, 401)
    vals = [illumination_fraction(x, 0.0, 600.0, penumbra=True) for x in u]
    assert vals[0] == 1.0 and vals[-1] == 0.0
    assert all(b <= a + 1e-12 for a, b in itertools.pairwise(vals))
    assert any(0.0 < v < 1.0 for v in vals)


def test_sun_vector_is_unit_and_points_up_at_noon() -> None:
    for u in np.linspace(0, 2 * math.pi, 13):
        for beta in (0.0, 0.5, -1.0):
            s = sun_vector_body(float(u), beta)
            assert abs(math.sqrt(sum(c * c for c in s)) - 1.0) < 1e-12
    s = sun_vector_body(0.0, 0.0)
    assert s[2] == -1.0  # z is nadir: the Sun is at zenith at orbit noon


def test_ground_track_latitude_bounded_by_inclination_and_saa_crossed() -> None:
    period = orbital_period_s(600.0)
    w = 2 * math.pi / period
    incl = math.radians(53.0)
    lats, saa = [], 0
    for k in range(0, 86400, 30):
        lat, lon = subsatellite_lat_lon_deg(k, w * k, incl, 0.0)
        lats.append(lat)
        assert -180.0 <= lon <= 180.0
        saa += in_saa_box(lat, lon, -50.0, 0.0, -90.0, 40.0)
    assert max(lats) <= 53.0 + 1e-9 and min(lats) >= -53.0 - 1e-9
    assert max(lats) > 52.0
    assert 0 < saa < len(lats) * 0.2  # crosses the SAA on some orbits of the day
