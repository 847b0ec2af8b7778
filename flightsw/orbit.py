"""The onboard ephemeris: a circular orbit and the Earth's cylindrical shadow, as pure functions.

Flight software never imports the hardware model (hwsim), so it carries its own orbit model, as
a real spacecraft carries an onboard orbit propagator loaded from the ground. It is the model
REFERENCE.md describes:

- period T = 2π·√(a³/μ), a = R⊕ + h (5 801 s at 600 km);
- the orbit phase u is measured from orbit noon (u = 0: the satellite closest to the Sun's
  direction, u = π: orbit midnight); it advances at the mean motion n = 2π/T;
- cylindrical shadow: the satellite is in eclipse when |u − π| < θ, the half angle
  θ = acos(√(h² + 2R⊕h) / (a·cos β)), so the eclipse lasts 2θ/n (35.5 min at β = 0, 600 km)
  and there is none above β* = asin(R⊕/a) (66.1° at 600 km).

The elements (:class:`OrbitElements`) are what the ground uplinks, or what the launcher and the
what-if runner take from the spacecraft configuration: altitude, β, and the argument of
latitude at an epoch (mission time) together with the argument of latitude of orbit noon. The
sun sensors can correct the phase at an observed eclipse edge (:func:`corrected_at_edge`):
the model is then re-anchored so that its predicted edge falls where the edge was seen.

Times are mission nanoseconds (``runtime.clock``), angles in degrees at the surface and radians
inside. Nothing here reads a clock.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "MU_EARTH_KM3_S2",
    "R_EARTH_KM",
    "EclipseWindow",
    "OrbitElements",
    "beta_critical_deg",
    "corrected_at_edge",
    "eclipse_duration_s",
    "eclipse_fraction",
    "eclipse_half_angle_rad",
    "eclipse_window",
    "in_eclipse",
    "next_edge_ns",
    "orbital_period_s",
    "phase_rad",
    "semi_major_axis_km",
]

MU_EARTH_KM3_S2 = 398_600.44
R_EARTH_KM = 6_378.137
_NS = 1_000_000_000
_TWO_PI = 2.0 * math.pi


class OrbitElements(BaseModel):
    """A circular orbit as flight software knows it (uplinked or configured)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    altitude_km: float = Field(600.0, gt=150, le=40_000, description="Circular orbit altitude, km.")
    beta_deg: float = Field(0.0, ge=-90, le=90, description="Sun elevation over the orbit plane.")
    epoch_ns: int = Field(
        0, description="Mission time (ns) at which the argument of latitude is given."
    )
    arg_of_latitude_deg: float = Field(
        0.0, ge=-360, le=360, description="Argument of latitude (from the ascending node) at epoch."
    )
    noon_arg_of_latitude_deg: float = Field(
        0.0, ge=-360, le=360, description="Argument of latitude of orbit noon (the Sun's side)."
    )


class EclipseWindow(BaseModel):
    """What the model predicts from a given time on."""

    model_config = ConfigDict(frozen=True)

    in_eclipse: bool = Field(description="The satellite is in the shadow at that time.")
    next_entry_ns: int | None = Field(description="Next shadow entry, mission ns (None: none).")
    next_exit_ns: int | None = Field(description="Next shadow exit, mission ns (None: none).")
    duration_s: float = Field(ge=0.0, description="Length of an eclipse on this orbit, s.")


def semi_major_axis_km(altitude_km: float) -> float:
    return R_EARTH_KM + altitude_km


def orbital_period_s(altitude_km: float) -> float:
    """T = 2π√(a³/μ)."""
    a = semi_major_axis_km(altitude_km)
    return _TWO_PI * math.sqrt(a**3 / MU_EARTH_KM3_S2)


def beta_critical_deg(altitude_km: float) -> float:
    """β* = asin(R⊕/a): no eclipse above it."""
    return math.degrees(math.asin(R_EARTH_KM / semi_major_axis_km(altitude_km)))


def eclipse_half_angle_rad(altitude_km: float, beta_deg: float) -> float:
    """θ = acos(√(h² + 2R⊕h) / (a·cos β)); 0 when there is no eclipse (|β| ≥ β*)."""
    a = semi_major_axis_km(altitude_km)
    h = altitude_km
    cos_b = math.cos(math.radians(beta_deg))
    if cos_b <= 0.0:
        return 0.0
    x = math.sqrt(h * h + 2.0 * R_EARTH_KM * h) / (a * cos_b)
    return 0.0 if x >= 1.0 else math.acos(x)


def eclipse_fraction(altitude_km: float, beta_deg: float) -> float:
    """f = θ/π: the share of the orbit spent in the shadow."""
    return eclipse_half_angle_rad(altitude_km, beta_deg) / math.pi


def eclipse_duration_s(altitude_km: float, beta_deg: float) -> float:
    return eclipse_fraction(altitude_km, beta_deg) * orbital_period_s(altitude_km)


def _phase_at_epoch_rad(el: OrbitElements) -> float:
    return math.radians(el.arg_of_latitude_deg - el.noon_arg_of_latitude_deg)


def phase_rad(el: OrbitElements, t_ns: int) -> float:
    """Orbit phase u from orbit noon at mission time ``t_ns``, in [0, 2π)."""
    n = _TWO_PI / orbital_period_s(el.altitude_km)
    return (_phase_at_epoch_rad(el) + n * (t_ns - el.epoch_ns) / _NS) % _TWO_PI


def in_eclipse(el: OrbitElements, t_ns: int) -> bool:
    theta = eclipse_half_angle_rad(el.altitude_km, el.beta_deg)
    return theta > 0.0 and abs(phase_rad(el, t_ns) - math.pi) < theta


def next_edge_ns(el: OrbitElements, t_ns: int, edge: Literal["entry", "exit"]) -> int | None:
    """The first shadow ``edge`` strictly after ``t_ns`` (None when the orbit has no eclipse)."""
    theta = eclipse_half_angle_rad(el.altitude_km, el.beta_deg)
    if theta <= 0.0:
        return None
    period_s = orbital_period_s(el.altitude_km)
    target = math.pi - theta if edge == "entry" else math.pi + theta
    ahead = (target - phase_rad(el, t_ns)) % _TWO_PI
    dt_ns = round(ahead / _TWO_PI * period_s * _NS)
    if dt_ns <= 0:
        dt_ns += round(period_s * _NS)
    return t_ns + dt_ns


def eclipse_window(el: OrbitElements, t_ns: int) -> EclipseWindow:
    """Whether ``t_ns`` is in the shadow, the next entry and exit after it, the duration."""
    return EclipseWindow(
        in_eclipse=in_eclipse(el, t_ns),
        next_entry_ns=next_edge_ns(el, t_ns, "entry"),
        next_exit_ns=next_edge_ns(el, t_ns, "exit"),
        duration_s=eclipse_duration_s(el.altitude_km, el.beta_deg),
    )


def corrected_at_edge(
    el: OrbitElements, observed_ns: int, edge: Literal["entry", "exit"]
) -> tuple[OrbitElements, float]:
    """Elements re-anchored so that the model's ``edge`` falls at ``observed_ns`` (a sun
    sensor saw it there), and the correction in seconds (> 0: the model was early, the edge
    came later than predicted). The phase is shifted by less than half an orbit, to the
    nearest model edge; an orbit without eclipse is returned unchanged."""
    theta = eclipse_half_angle_rad(el.altitude_km, el.beta_deg)
    if theta <= 0.0:
        return el, 0.0
    period_s = orbital_period_s(el.altitude_km)
    target = math.pi - theta if edge == "entry" else math.pi + theta
    # the model's phase at the observation minus the edge's phase, wrapped to (-π, π]:
    # positive = the model ran ahead (the edge came late)
    lead = (phase_rad(el, observed_ns) - target + math.pi) % _TWO_PI - math.pi
    argl = (el.arg_of_latitude_deg - math.degrees(lead) + 180.0) % 360.0 - 180.0
    return el.model_copy(update={"arg_of_latitude_deg": argl}), lead / _TWO_PI * period_s
