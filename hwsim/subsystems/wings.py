"""Solar wings: the arrays, their single-axis array drives and their MPPTs.

Owns, per wing (``wing.W<n>``, ICD kind ``wing``): the drive angle (deg), its target and
tracking flag, the MPPT state, the lumped cell temperature (K), the power the array could
deliver now (``available_w``, W) and the power it delivers to the bus (``power_w``, W).
Faults of its kinds: ``array_drive_stuck``, ``mppt_failure``.

Inputs of ``step(dt_s, t_s, phase_rad, illumination, cos_beta)``: the step (s), mission time
(s, for degradation), orbit phase (rad), illuminated fraction of the Sun and cos β from
:class:`hwsim.subsystems.orbit_env.OrbitEnv`. The bus decides how much of the available power
it draws: :meth:`deliver` takes that fraction (the electrical power leaves the cells'
heat balance in the next step).

Outputs (public, per wing, lists indexed like ``ids``): ``available_w``, ``power_w``,
``incidence_cos``, ``angle_deg``, ``temp_k``; ``available_total_w``.

The step inlines :mod:`hwsim.model.solar` (drive_angle_step_deg, incidence_cosine,
array_mpp_power_w, mppt_output_power_w, wing_temp_step_k) operation for operation;
``tests/unit/hwsim/test_subsystems_inline.py`` proves it equals the pure functions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from hwsim.config import WingConfig
from hwsim.model.constants import SECONDS_PER_YEAR, SIGMA_W_M2_K4, SOLAR_CONSTANT_W_M2
from hwsim.model.devices import DeviceError
from hwsim.model.solar import sun_angle_in_drive_plane_deg
from icd.devices import CommandArgs, WingRegisters
from icd.devices.wing import WingSetAngle

__all__ = ["Wings"]

_DEG = 180.0 / math.pi  # what math.degrees multiplies by
_RAD = math.pi / 180.0  # what math.radians multiplies by


class Wings:
    """All solar wings of the spacecraft (see the module doc)."""

    KIND = "wing"
    FAULTS = ("array_drive_stuck", "mppt_failure")

    def __init__(self, wings: Sequence[WingConfig]) -> None:
        ws = list(wings)
        self.config = ws
        self.wing_ids = [w.wing_id for w in ws]
        self.index = {w: i for i, w in enumerate(self.wing_ids)}
        self.angle_deg = [w.array_drive.initial_angle_deg % 360.0 for w in ws]
        self.target_deg = list(self.angle_deg)
        self.tracking = [w.array_drive.tracking_at_start for w in ws]
        self.stuck = [False] * len(ws)
        self.mppt_on = [True] * len(ws)
        self.mppt_failed = [False] * len(ws)
        self.temp_k = [w.initial_temp_k for w in ws]
        self.available_w = [0.0] * len(ws)
        self.power_w = [0.0] * len(ws)
        self.incidence_cos = [0.0] * len(ws)
        # per wing, with the constant 2εσA of wing_temp_step_k, for the inlined step
        self._fast = [
            (
                i,
                w.array_drive.max_rate_deg_s,
                w.area_m2,
                w.efficiency,
                w.reference_temp_k,
                w.temp_coeff_per_k,
                w.degradation_per_year,
                w.mppt.off_mpp_fraction,
                w.absorptivity,
                2.0 * w.emissivity * SIGMA_W_M2_K4 * w.area_m2,
                w.thermal_mass_j_per_k,
            )
            for i, w in enumerate(ws)
        ]

    @property
    def available_total_w(self) -> float:
        return sum(self.available_w)

    # ------------------------------------------------------------------------------ step

    def step(
        self, dt_s: float, t_s: float, phase_rad: float, illumination: float, cos_beta: float
    ) -> None:
        """Drive, incidence, MPP power and cell temperature of every wing over ``dt_s``."""
        sun_angle = (phase_rad * _DEG + 180.0) % 360.0
        irr = SOLAR_CONSTANT_W_M2 * illumination
        age_years = t_s / SECONDS_PER_YEAR
        w_angle = self.angle_deg
        w_temp = self.temp_k
        w_cos = self.incidence_cos
        w_avail = self.available_w
        w_power = self.power_w
        w_stuck = self.stuck
        w_tracking = self.tracking
        w_mppt_on = self.mppt_on
        w_mppt_failed = self.mppt_failed
        w_target = self.target_deg
        cos = math.cos
        for i, rate, area, eff, tref, kt, deg, off, alpha, g, mass in self._fast:
            angle = w_angle[i]
            if not w_stuck[i]:
                target = sun_angle if w_tracking[i] else w_target[i]
                diff = (target - angle + 180.0) % 360.0 - 180.0
                step = rate * dt_s
                if diff > step:
                    diff = step
                elif diff < -step:
                    diff = -step
                angle = (angle + diff) % 360.0
                w_angle[i] = angle
            temp = w_temp[i]
            if irr > 0:
                cos_i = cos_beta * cos((sun_angle - angle) * _RAD)
                if not cos_i > 0.0:
                    cos_i = 0.0
            else:
                cos_i = 0.0
            w_cos[i] = cos_i
            if cos_i > 0.0:
                eta = eff * (1.0 + kt * (temp - tref))
                fade = 1.0 - deg * age_years
                eta *= fade if fade > 0.0 else 0.0  # max(0.0, fade)
                mpp = area * irr * cos_i * eta
                if not mpp > 0.0:
                    mpp = 0.0
                w_avail[i] = mpp if w_mppt_on[i] and not w_mppt_failed[i] else mpp * off
            else:
                w_avail[i] = 0.0
            e = g * temp**4
            w_temp[i] = temp + (area * (alpha * irr * cos_i) - w_power[i] - e) / (
                mass / dt_s + 4.0 * e / temp
            )

    def deliver(self, fraction: float) -> None:
        """The bus draws ``fraction`` (0…1) of every wing's available power."""
        self.power_w = [p * fraction for p in self.available_w]

    # ------------------------------------------------------------------------------ device

    def device_ids(self) -> list[str]:
        return [f"wing.{w}" for w in self.wing_ids]

    def read(self, i: int, phase_rad: float, illumination: float) -> WingRegisters:
        """Registers of wing ``i``; ``phase_rad`` is the orbit phase (the Sun's direction),
        ``illumination`` the fraction of the Sun seen now (the wing's sun sensor)."""
        w = self.config[i]
        mppt_active = self.mppt_on[i] and not self.mppt_failed[i]
        v = (
            (w.mppt.mpp_voltage_v if mppt_active else w.mppt.off_mpp_voltage_v)
            if (self.available_w[i] > 0.0)
            else 0.0
        )
        state = "failed" if self.mppt_failed[i] else ("tracking" if mppt_active else "off")
        return WingRegisters(
            sun_angle_deg=float(sun_angle_in_drive_plane_deg(phase_rad)),
            sun_illumination=float(illumination),
            drive_angle_deg=float(self.angle_deg[i]),
            target_angle_deg=float(self.target_deg[i]),
            tracking=bool(self.tracking[i]),
            drive_state="stuck" if self.stuck[i] else "ok",
            incidence_cos=float(self.incidence_cos[i]),
            available_power_w=float(self.available_w[i]),
            power_w=float(self.power_w[i]),
            voltage_v=float(v),
            current_a=float(self.power_w[i] / v) if v > 0 else 0.0,
            temp_k=float(self.temp_k[i]),
            mppt_enabled=bool(self.mppt_on[i]),
            mppt_state=state,
        )

    def command(self, i: int, command: str, args: CommandArgs) -> None:
        wid = f"wing.{self.wing_ids[i]}"
        if command == "mppt_enable":
            self.mppt_on[i] = bool(args.enabled)  # type: ignore[attr-defined]
            return
        if self.stuck[i]:
            raise DeviceError("device_fault", f"{wid}: array drive is stuck")
        if isinstance(args, WingSetAngle):
            self.target_deg[i] = args.angle_deg % 360.0
            self.tracking[i] = False
        else:
            self.tracking[i] = bool(args.enabled)  # type: ignore[attr-defined]

    # ------------------------------------------------------------------------------ faults

    def apply_fault(self, fault_id: str, i: int, params: dict[str, Any], time_s: float) -> None:
        if fault_id == "array_drive_stuck":
            self.stuck[i] = True
        elif fault_id == "mppt_failure":
            self.mppt_failed[i] = True
        else:
            raise ValueError(f"wings: no fault {fault_id!r} (valid: {', '.join(self.FAULTS)})")

    def clear_fault(self, fault_id: str, i: int, params: dict[str, Any]) -> None:
        if fault_id == "array_drive_stuck":
            self.stuck[i] = False
        elif fault_id == "mppt_failure":
            self.mppt_failed[i] = False
