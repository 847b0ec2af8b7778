"""Orbit and environment: orbit phase, illumination, ground track and the SAA.

Owns: the circular orbit (altitude, β, inclination, node longitude, initial phase), the
shadow model (cylindrical, optionally with a linear penumbra) and the South Atlantic Anomaly
box, i.e. the environment every other subsystem is lit, heated or upset by. It has no device.

Input: ``step(t_s)``, mission time in s (model time, from 0).

Outputs (public attributes, valid after ``step``):

- ``phase_rad``: orbit phase u from orbit noon, rad in [0, 2π);
- ``cos_phase``: cos u (the thermal network's albedo driver uses it);
- ``illumination``: fraction of the solar disc seen, 0 (umbra) … 1 (sunlight);
- ``in_saa``: the subsatellite point is inside the SAA box (upset rates rise there);
- ``beta_rad`` / ``cos_beta`` / ``sin_beta_abs``: Sun elevation over the orbit plane (fixed);
- ``altitude_km``.

``lat_lon_deg()`` gives the ground track at the last step (computed on demand). The step
inlines :func:`hwsim.model.orbit.illumination_fraction` and
:func:`hwsim.model.orbit.subsatellite_lat_lon_deg` operation for operation (the per-step cost
sits near the floor of CPython call overhead); ``tests/unit/hwsim/test_subsystems_inline.py``
proves the copies equal the pure functions.
"""

from __future__ import annotations

import math

from hwsim.config import OrbitConfig
from hwsim.model.constants import EARTH_ROTATION_RAD_S, R_EARTH_KM
from hwsim.model.orbit import (
    illumination_fraction,
    in_saa_box,
    mean_motion_rad_s,
    subsatellite_lat_lon_deg,
    sun_vector_body,
)

__all__ = ["OrbitEnv"]

_TWO_PI = 2.0 * math.pi
_PI = math.pi
_DEG = 180.0 / math.pi  # what math.degrees multiplies by


class OrbitEnv:
    """Orbit geometry and the environment it puts the spacecraft in (see the module doc)."""

    def __init__(self, o: OrbitConfig) -> None:
        self.altitude_km = o.altitude_km
        self.n_rad_s = mean_motion_rad_s(o.altitude_km)
        self.phase0_rad = math.radians(o.initial_phase_deg)
        self.beta_rad = math.radians(o.beta_deg)
        self.incl_rad = math.radians(o.inclination_deg)
        self.node_lon_rad = math.radians(o.ascending_node_lon_deg)
        self.noon_argl_rad = math.radians(o.noon_arg_of_latitude_deg)
        self.penumbra = o.penumbra
        self.saa_box = (
            o.saa.lat_min_deg,
            o.saa.lat_max_deg,
            o.saa.lon_min_deg,
            o.saa.lon_max_deg,
        )
        self.sin_beta_abs = abs(math.sin(self.beta_rad))
        self.cos_beta = math.cos(self.beta_rad)
        # hot-path constants (the same products illumination_fraction and
        # subsatellite_lat_lon_deg form, so the inlined step is bit-identical to them)
        a = R_EARTH_KM + o.altitude_km
        self._a_cos_beta = a * math.cos(self.beta_rad)
        self._a2 = a * a
        self._re2 = R_EARTH_KM * R_EARTH_KM
        self._sin_incl = math.sin(self.incl_rad)
        self._cos_incl = math.cos(self.incl_rad)
        # bounds on sin(incl)·sin(arg of latitude) outside which the SAA box cannot hold the
        # latitude (padded well beyond rounding; see step)
        lo, hi = o.saa.lat_min_deg, o.saa.lat_max_deg
        self._saa_x_lo = math.sin(math.radians(lo)) - 1e-9 if lo > -90.0 else -math.inf
        self._saa_x_hi = math.sin(math.radians(hi)) + 1e-9 if hi < 90.0 else math.inf
        # outputs
        self.time_s = 0.0
        self.phase_rad = 0.0
        self.cos_phase = 1.0
        self.illumination = 1.0
        self.in_saa = False
        self.update(0.0)

    def update(self, t_s: float) -> None:
        """The outputs at ``t_s`` from the pure functions (construction; the reference the
        inlined :meth:`step` is tested against)."""
        u = (self.phase0_rad + self.n_rad_s * t_s) % _TWO_PI
        self.time_s = t_s
        self.phase_rad = u
        self.cos_phase = math.cos(u)
        self.illumination = illumination_fraction(u, self.beta_rad, self.altitude_km, self.penumbra)
        lat, lon = subsatellite_lat_lon_deg(
            t_s, u + self.noon_argl_rad, self.incl_rad, self.node_lon_rad
        )
        self.in_saa = in_saa_box(lat, lon, *self.saa_box)

    def step(self, t_s: float) -> None:
        """The outputs at mission time ``t_s`` (inlined pure functions, see the module doc)."""
        u = (self.phase0_rad + self.n_rad_s * t_s) % _TWO_PI
        self.phase_rad = u
        cos_u = math.cos(u)
        self.cos_phase = cos_u
        along = self._a_cos_beta * cos_u
        if along >= 0.0:
            illum = 1.0
        elif not self.penumbra:
            illum = 0.0 if self._a2 - along * along < self._re2 else 1.0
        else:
            illum = illumination_fraction(u, self.beta_rad, self.altitude_km, True)
        self.illumination = illum
        # the ground track only when the latitude can be inside the SAA box: asin is
        # monotonic, so sin(incl)·sin(arg) outside the (padded) sines of the box's latitude
        # limits rules it out; latitude and longitude are otherwise computed when read
        self.time_s = t_s
        x = self._sin_incl * math.sin(u + self.noon_argl_rad)
        if self._saa_x_lo <= x <= self._saa_x_hi:
            lat, lon = self.ground_track(t_s, u)
            lat_min, lat_max, lon_min, lon_max = self.saa_box
            self.in_saa = lat_min <= lat <= lat_max and lon_min <= lon <= lon_max
        else:
            self.in_saa = False

    def ground_track(self, t_s: float, u: float) -> tuple[float, float]:
        """Subsatellite latitude and longitude in degrees at time ``t_s`` and orbit phase ``u``
        (subsatellite_lat_lon_deg, operation for operation)."""
        arg = u + self.noon_argl_rad
        s_arg = math.sin(arg)
        lat = math.asin(max(-1.0, min(1.0, self._sin_incl * s_arg)))
        lon = (
            math.atan2(self._cos_incl * s_arg, math.cos(arg))
            + self.node_lon_rad
            - EARTH_ROTATION_RAD_S * t_s
        )
        return lat * _DEG, ((lon + _PI) % _TWO_PI - _PI) * _DEG

    def illumination_at(self, t_s: float) -> float:
        """Illuminated fraction of the Sun at mission time ``t_s`` (a sun sensor read between
        steps sees the present, not the start of the last step)."""
        u = (self.phase0_rad + self.n_rad_s * t_s) % _TWO_PI
        return illumination_fraction(u, self.beta_rad, self.altitude_km, self.penumbra)

    def lat_lon_deg(self) -> tuple[float, float]:
        """Ground track at the last step, degrees."""
        return self.ground_track(self.time_s, self.phase_rad)

    def sun_vector_body(self) -> tuple[float, float, float]:
        """Unit Sun vector in the LVLH body frame at the last step."""
        return sun_vector_body(self.phase_rad, self.beta_rad)
