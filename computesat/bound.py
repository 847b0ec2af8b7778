"""The upper bound on compute a satellite can deliver on an orbit (docs/hwsim.md, "Compute
against its bound").

Compute delivered is the compute boards' electrical energy (which all becomes heat in the
coolant loops). Three things cap it, each a pure function here:

1. **Energy** (:func:`energy_limited_j`): the array energy available at the maximum power
   point over the run, less what the rest of the satellite must have: housekeeping loads and
   pumps in sunlight straight from the array, in eclipse through the battery, which costs
   ``1 / (charge_efficiency x discharge_efficiency)`` of array energy per joule delivered;
   corrected by the energy the battery stored less at the end than at the start (state of
   charge times capacity): that much less has to be charged for the eclipse, each stored joule
   saving ``1 / charge_efficiency`` of array energy (and costing as much when it ended
   fuller); only a drop beyond what the eclipse needs is delivered at ``discharge_efficiency``.
   Compute run in eclipse would pay the round trip, so the bound assumes none does (the most).
2. **Heat rejection** (:func:`rejection_limited_j`): no radiator can be hotter than the
   coolant, nor the coolant than the boards' limit temperature, so the panels reject at most
   ``sum(emissivity x faces x area) x sigma x T_limit^4`` (nothing absorbed, a 0 K sink), over
   the run; housekeeping heat does not go through the loops.
3. **The boards** (:func:`boards_limited_j`): every board at its peak power all the time.

The bound is the least of the three (:func:`compute_bound`), in kWh per day of the run.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

__all__ = [
    "STEFAN_BOLTZMANN",
    "ComputeBound",
    "boards_limited_j",
    "compute_bound",
    "energy_limited_j",
    "rejection_limited_j",
]

STEFAN_BOLTZMANN = 5.670374419e-8  # W m^-2 K^-4
_J_PER_KWH = 3.6e6


def energy_limited_j(
    array_j: float,
    housekeeping_sun_j: float,
    housekeeping_eclipse_j: float,
    charge_efficiency: float,
    discharge_efficiency: float,
    battery_drop_j: float = 0.0,
) -> float:
    """Array energy left for compute, J (never below 0).

    ``array_j``: array energy available at the maximum power point over the run;
    ``housekeeping_sun_j`` / ``housekeeping_eclipse_j``: housekeeping and pump energy needed
    in sunlight / in eclipse; the eclipse share passes through the battery (round trip
    ``charge_efficiency x discharge_efficiency``); ``battery_drop_j``: stored energy at the
    start less at the end (negative when it ended fuller), J.

    The battery must give the eclipse share, ``D >= housekeeping_eclipse_j /
    discharge_efficiency`` drawn from its store, and ``D >= battery_drop_j`` (nothing is
    charged back); array energy charged is ``(D - battery_drop_j) / charge_efficiency``, so
    compute gets at most ``array - housekeeping_sun - housekeeping_eclipse + battery_drop /
    charge_efficiency - D x (1 / charge_efficiency - discharge_efficiency)`` with the least D.
    """
    if not (0.0 < charge_efficiency <= 1.0 and 0.0 < discharge_efficiency <= 1.0):
        raise ValueError("battery efficiencies must be in (0, 1]")
    drawn_j = max(housekeeping_eclipse_j / discharge_efficiency, battery_drop_j)
    left = (
        array_j
        - housekeeping_sun_j
        - housekeeping_eclipse_j
        + battery_drop_j / charge_efficiency
        - drawn_j * (1.0 / charge_efficiency - discharge_efficiency)
    )
    return max(0.0, left)


def rejection_limited_j(
    panels: list[tuple[float, float]], limit_temp_k: float, duration_s: float
) -> float:
    """Heat the radiators can reject over ``duration_s`` with every panel at the boards'
    limit temperature, J: ``panels`` are (radiating area m² over all faces, emissivity)."""
    if limit_temp_k <= 0.0 or duration_s < 0.0:
        raise ValueError("limit temperature must be > 0 K and the duration >= 0")
    ea = sum(area * emissivity for area, emissivity in panels)
    return ea * STEFAN_BOLTZMANN * limit_temp_k**4 * duration_s


def boards_limited_j(peak_w: list[float], duration_s: float) -> float:
    """Every board at its peak power for the whole run, J."""
    return sum(peak_w) * duration_s


class ComputeBound(BaseModel):
    """The bound and its three parts, kWh per day."""

    energy_kwh_per_day: float = Field(description="Array energy left for compute")
    rejection_kwh_per_day: float = Field(description="Radiators at the boards' limit")
    boards_kwh_per_day: float = Field(description="Every board at peak")
    bound_kwh_per_day: float = Field(description="The least of the three")
    limited_by: str = Field(description="energy, rejection or boards")


def compute_bound(
    energy_j: float, rejection_j: float, boards_j: float, duration_s: float
) -> ComputeBound:
    """The least of the three limits, each scaled to kWh per day of ``duration_s``."""
    if duration_s <= 0.0:
        raise ValueError("duration must be > 0")
    per_day = 86400.0 / duration_s / _J_PER_KWH
    parts = {"energy": energy_j, "rejection": rejection_j, "boards": boards_j}
    limited_by = min(parts, key=lambda k: parts[k])
    return ComputeBound(
        energy_kwh_per_day=energy_j * per_day,
        rejection_kwh_per_day=rejection_j * per_day,
        boards_kwh_per_day=boards_j * per_day,
        bound_kwh_per_day=parts[limited_by] * per_day,
        limited_by=limited_by,
    )
