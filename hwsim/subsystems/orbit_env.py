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
- ``beta_rad`` / ``cos_beta`` / ``sin_beta_abs``: Sun elevation over the orbit plane;
- ``raan_rad``: right ascension of the ascending node (``beta_mode = "j2"``: precessing);
- ``altitude_km``.

β: with ``orbit.beta_mode = "fixed"`` (the AI1 default) β is ``beta_deg`` for ever. With
``"j2"`` the node precesses at the closed-form J2 rate (:func:`~hwsim.model.orbit.
nodal_precession_rad_s`) from ``raan_deg`` at the epoch, the Sun moves along the ecliptic
(:func:`~hwsim.model.orbit.sun_ecliptic_longitude_rad`) and β follows
(:func:`~hwsim.model.orbit.beta_from_geometry_deg`); a sun-synchronous inclination keeps the
node's angle to the mean Sun because its Ω̇ equals the mean Sun's motion. β, the node and the
argument of latitude of orbit noon are evaluated on a grid of mission time
(``beta_update_s``, 600 s: t_k = k·600 s) and held between grid points, so a step costs two
comparisons: β moves less than 4.5°/day (|Ω̇|·sin i + the Sun's 0.99°/day at 600 km, 53°), so
the held β is never more than 0.031° off, which changes an eclipse (~35 min) by < 1 s for
|β| < 50°, < 2.4 s below 60° and < 11 s up to 65.5°; only in the last tenth of a degree
before β* (66.1° at 600 km), where the eclipse is itself a minute or two, by up to ~35 s. The
orbit phase u keeps advancing at the mean motion n (eclipse lengths stay those of the
closed form); the ground track takes the precessing node and the moving noon.
Step returns True when β changed (the spacecraft refreshes what depends on it).

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
    beta_from_geometry_deg,
    illumination_fraction,
    in_saa_box,
    mean_motion_rad_s,
    nodal_precession_rad_s,
    noon_arg_of_latitude_rad,
    raan_rad,
    subsatellite_lat_lon_deg,
    sun_ecliptic_longitude_rad,
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
        # β geometry: fixed, or J2 precession + the Sun's motion on a grid of mission time
        self.beta_mode = o.beta_mode
        self.inclination_deg = o.inclination_deg
        self.raan0_rad = math.radians(o.raan_deg)
        self.raan_rad = self.raan0_rad % _TWO_PI
        self.raan_rate_rad_s = (
            nodal_precession_rad_s(o.altitude_km, o.inclination_deg) if o.beta_mode == "j2" else 0.0
        )
        self.epoch_days = o.epoch_days_since_j2000
        self.beta_update_s = o.beta_update_s
        self.sun_longitude_rad = 0.0
        self._node_lon0_rad = self.node_lon_rad
        self._geom_t0 = -math.inf  # the held geometry is valid for _geom_t0 <= t < _geom_next
        self._geom_next = math.inf
        a = R_EARTH_KM + o.altitude_km
        self._a = a
        self._set_beta(self.beta_rad)
        # hot-path constants (the same products illumination_fraction and
        # subsatellite_lat_lon_deg form, so the inlined step is bit-identical to them)
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
        if self.beta_mode == "j2":
            self._geom_next = -math.inf
            self.geometry_at(0.0)
        self.update(0.0)

    def _set_beta(self, beta_rad: float) -> None:
        self.beta_rad = beta_rad
        self.sin_beta_abs = abs(math.sin(beta_rad))
        self.cos_beta = math.cos(beta_rad)
        self._a_cos_beta = self._a * self.cos_beta

    def geometry_at(self, t_s: float) -> bool:
        """Hold the β geometry of the grid point at or before ``t_s`` (beta_mode 'j2'; a
        no-op for 'fixed'); True when it was re-evaluated."""
        if self._geom_t0 <= t_s < self._geom_next:
            return False
        n = self.beta_update_s
        k = math.floor(t_s / n)
        t_k = k * n
        self._geom_t0 = t_k
        self._geom_next = (k + 1) * n
        om = raan_rad(t_k, self.raan0_rad, self.raan_rate_rad_s)
        lam = sun_ecliptic_longitude_rad(self.epoch_days + t_k / 86400.0)
        self.raan_rad = om
        self.sun_longitude_rad = lam
        self._set_beta(math.radians(beta_from_geometry_deg(om, self.inclination_deg, lam)))
        self.noon_argl_rad = noon_arg_of_latitude_rad(om, self.inclination_deg, lam)
        self.node_lon_rad = self._node_lon0_rad + (om - self.raan0_rad)
        return True

    def update(self, t_s: float) -> None:
        """The outputs at ``t_s`` from the pure functions (construction; the reference the
        inlined :meth:`step` is tested against)."""
        self.geometry_at(t_s)
        u = (self.phase0_rad + self.n_rad_s * t_s) % _TWO_PI
        self.time_s = t_s
        self.phase_rad = u
        self.cos_phase = math.cos(u)
        self.illumination = illumination_fraction(u, self.beta_rad, self.altitude_km, self.penumbra)
        lat, lon = subsatellite_lat_lon_deg(
            t_s, u + self.noon_argl_rad, self.incl_rad, self.node_lon_rad
        )
        self.in_saa = in_saa_box(lat, lon, *self.saa_box)

    def step(self, t_s: float) -> bool:
        """The outputs at mission time ``t_s`` (inlined pure functions, see the module doc);
        True when β changed (beta_mode 'j2', a new grid point)."""
        changed = False
        if not self._geom_t0 <= t_s < self._geom_next:
            changed = self.geometry_at(t_s)
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
        return changed

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
