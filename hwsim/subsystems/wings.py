"""Solar wings: the arrays, their single-axis array drives and their MPPTs.

Owns, per wing (``wing.W<n>``, ICD kind ``wing``): the drive angle (deg), its target and
tracking flag, the MPPT state, the lumped cell temperature (K), the power the array could
deliver now (``available_w``, W) and the power it delivers to the bus (``power_w``, W).
Faults of its kinds: ``array_drive_stuck``, ``mppt_failure``.

Inputs of ``step(dt_s, t_s, phase_rad, illumination, cos_beta, cos_phase)``: the step (s),
mission time (s, for degradation), orbit phase u (rad), illuminated fraction of the Sun, cos β
and cos u from :class:`hwsim.subsystems.orbit_env.OrbitEnv`. The bus decides how much of the
available power it draws: :meth:`deliver` takes that fraction (the electrical power leaves the
cells' heat balance in the next step).

Outputs (public, per wing, lists indexed like ``ids``): ``available_w``, ``power_w``,
``incidence_cos``, ``angle_deg``, ``temp_k``, ``earth_absorbed_w_m2``; ``available_total_w``.

Physics: each wing absorbs sunlight on its cells (α·S·cos i) plus the Earth's IR and albedo on
both faces through their view factors (:func:`hwsim.model.solar.wing_earth_absorbed_w_m2`;
the cell face's normal is the drive angle from nadir, the albedo flux a·S·cos β·cos u), so a
wing in eclipse settles at the closed form (OLR·ΣF/2σ)^¼ (~180-204 K at 600 km), not near
0 K; the array's MPP power is clamped at its rated maximum (``array_power_limited_w``), so a
cold wing at sunrise never gives more than its nameplate. A run starts settled
(:meth:`settle`): the drive on the Sun (``sun_pointing_drive_angle_deg``, incidence cos β)
and the wing at its equilibrium for the start condition (``wing_equilibrium_temp_k``, the
cells at their MPP), unless the configuration gives an angle or a temperature.

The step inlines :mod:`hwsim.model.solar` (drive_angle_step_deg, incidence_cosine,
array_mpp_power_w, array_power_limited_w, mppt_output_power_w, wing_temp_step_k) operation for
operation, and :func:`~hwsim.model.solar.wing_earth_absorbed_w_m2` (with
:func:`~hwsim.model.thermal.earth_view_factor_tilted_plate` for both faces, sharing the
trigonometry of the two faces, and :func:`~hwsim.model.thermal.albedo_flux_w_m2`) to
rounding; ``tests/unit/hwsim/test_subsystems_inline.py`` proves both. Both wings usually sit
at the same angle: the view factors of the last angle are reused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from hwsim.config import WingConfig
from hwsim.model.constants import (
    ALBEDO,
    EARTH_IR_W_M2,
    R_EARTH_KM,
    SECONDS_PER_YEAR,
    SIGMA_W_M2_K4,
    SOLAR_CONSTANT_W_M2,
)
from hwsim.model.devices import DeviceError
from hwsim.model.solar import (
    array_mpp_power_w,
    array_power_limited_w,
    mppt_output_power_w,
    sun_angle_in_drive_plane_deg,
    sun_pointing_drive_angle_deg,
    wing_drive_normal_from_nadir_rad,
    wing_earth_absorbed_w_m2,
    wing_equilibrium_temp_k,
)
from hwsim.model.thermal import albedo_flux_w_m2
from icd.devices import CommandArgs, WingRegisters
from icd.devices.wing import WingSetAngle

__all__ = ["Wings"]

_DEG = 180.0 / math.pi  # what math.degrees multiplies by
_RAD = math.pi / 180.0  # what math.radians multiplies by
_PI = math.pi
_sqrt, _asin, _acos = math.sqrt, math.asin, math.acos
_ALBEDO_S = ALBEDO * SOLAR_CONSTANT_W_M2  # albedo_flux_w_m2's a·S


class Wings:
    """All solar wings of the spacecraft (see the module doc)."""

    KIND = "wing"
    FAULTS = ("array_drive_stuck", "mppt_failure")

    def __init__(self, wings: Sequence[WingConfig], altitude_km: float) -> None:
        ws = list(wings)
        self.config = ws
        self.altitude_km = altitude_km
        self.wing_ids = [w.wing_id for w in ws]
        self.index = {w: i for i, w in enumerate(self.wing_ids)}
        self.angle_deg = [(w.array_drive.initial_angle_deg or 0.0) % 360.0 for w in ws]
        self.target_deg = list(self.angle_deg)
        self.tracking = [w.array_drive.tracking_at_start for w in ws]
        self.stuck = [False] * len(ws)
        self.mppt_on = [True] * len(ws)
        self.mppt_failed = [False] * len(ws)
        self.temp_k = [300.0 if w.initial_temp_k is None else w.initial_temp_k for w in ws]
        self.available_w = [0.0] * len(ws)
        self.power_w = [0.0] * len(ws)
        self.incidence_cos = [0.0] * len(ws)
        self.earth_absorbed_w_m2 = [0.0] * len(ws)
        self.rated_w = [w.rated_max_w for w in ws]
        # Earth view factor constants (earth_view_factor_tilted_plate): H = a/R⊕, X = √(H²−1)
        h = (R_EARTH_KM + altitude_km) / R_EARTH_KM
        self._vf = (h, h * h, 1.0 / h, math.sqrt(h * h - 1.0), math.pi * h * h)
        self._vf_key = math.nan  # the drive angle whose view factors _vf_faces holds
        self._vf_faces = (0.0, 0.0)
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
                w.emissivity * EARTH_IR_W_M2,
                w.back_absorptivity,
                self.rated_w[i],
            )
            for i, w in enumerate(ws)
        ]
        self.settle(0.0, 1.0, 1.0, 1.0)

    def settle(
        self, phase_rad: float, illumination: float, cos_beta: float, cos_phase: float
    ) -> None:
        """Start settled at orbit phase ``phase_rad``: every wing whose configuration gives no
        initial angle points on the Sun, every one without an initial temperature sits at the
        equilibrium of its absorbed sunlight, Earth IR and albedo less the MPP power it
        delivers (a fixed point: the power depends on the temperature)."""
        sun = sun_pointing_drive_angle_deg(phase_rad)
        irr = SOLAR_CONSTANT_W_M2 * illumination
        albedo = albedo_flux_w_m2(illumination, cos_beta * cos_phase)
        for i, w in enumerate(self.config):
            if w.array_drive.initial_angle_deg is None:
                self.angle_deg[i] = self.target_deg[i] = sun % 360.0
            angle = self.angle_deg[i]
            # incidence_cosine(sun, angle, β) with the cos β at hand
            cos_i = cos_beta * math.cos(math.radians(sun - angle)) if irr > 0 else 0.0
            cos_i = cos_i if cos_i > 0.0 else 0.0
            env = wing_earth_absorbed_w_m2(
                self.altitude_km,
                wing_drive_normal_from_nadir_rad(angle),
                albedo,
                w.absorptivity,
                w.back_absorptivity,
                w.emissivity,
            )
            absorbed = w.absorptivity * irr * cos_i + env
            temp = self.temp_k[i]
            if w.initial_temp_k is None:
                for _ in range(100):
                    power = self._mpp_available_w(i, irr, cos_i, temp)
                    new = wing_equilibrium_temp_k(absorbed, power / w.area_m2, w.emissivity)
                    done = abs(new - temp) < 1e-12 * new
                    temp = new
                    if done:
                        break
            self.temp_k[i] = temp
            self.incidence_cos[i] = cos_i
            self.earth_absorbed_w_m2[i] = env
            self.available_w[i] = self._mpp_available_w(i, irr, cos_i, temp)
            self.power_w[i] = self.available_w[i]

    def _mpp_available_w(self, i: int, irr: float, cos_i: float, temp_k: float) -> float:
        """What wing ``i`` offers the bus at t=0 (pure functions; no degradation yet)."""
        w = self.config[i]
        mpp = array_mpp_power_w(
            w.area_m2,
            w.efficiency,
            irr,
            cos_i,
            temp_k,
            w.reference_temp_k,
            w.temp_coeff_per_k,
            w.degradation_per_year,
            0.0,
        )
        mpp = array_power_limited_w(mpp, self.rated_w[i])
        active = self.mppt_on[i] and not self.mppt_failed[i]
        return mppt_output_power_w(mpp, active, w.mppt.off_mpp_fraction) if cos_i > 0.0 else 0.0

    @property
    def available_total_w(self) -> float:
        return sum(self.available_w)

    # ------------------------------------------------------------------------------ step

    def step(
        self,
        dt_s: float,
        t_s: float,
        phase_rad: float,
        illumination: float,
        cos_beta: float,
        cos_phase: float,
    ) -> None:
        """Drive, incidence, MPP power and cell temperature of every wing over ``dt_s``."""
        sun_angle = (phase_rad * _DEG + 180.0) % 360.0
        irr = SOLAR_CONSTANT_W_M2 * illumination
        age_years = t_s / SECONDS_PER_YEAR
        # albedo_flux_w_m2(illumination, cos β·cos u)
        cz = cos_beta * cos_phase
        albedo = _ALBEDO_S * cz * illumination if illumination > 0.0 and cz > 0.0 else 0.0
        vf_h, vf_h2, vf_inv_h, vf_x, vf_pi_h2 = self._vf
        vf_key = self._vf_key
        f_cell, f_back = self._vf_faces
        w_env = self.earth_absorbed_w_m2
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
        for (
            i,
            rate,
            area,
            eff,
            tref,
            kt,
            deg,
            off,
            alpha,
            g,
            mass,
            eps_olr,
            alpha_b,
            rated,
        ) in self._fast:
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
                if not mpp < rated:  # array_power_limited_w
                    mpp = rated
                w_avail[i] = mpp if w_mppt_on[i] and not w_mppt_failed[i] else mpp * off
            else:
                w_avail[i] = 0.0
            # Earth IR and albedo on both faces (wing_earth_absorbed_w_m2): the cell face's
            # normal is the drive angle from nadir, the back face's π minus it; the view
            # factors of the two faces share their trigonometry
            if angle != vf_key:
                vf_key = angle
                c = cos(angle * _RAD)
                if c >= vf_inv_h:
                    f_cell = c / vf_h2
                    f_back = 0.0
                elif c <= -vf_inv_h:
                    f_cell = 0.0
                    f_back = -c / vf_h2
                else:  # both faces see part of the Earth cap (|c| < 1/H, so s_t > X/H)
                    s_t = _sqrt(1.0 - c * c)
                    q = vf_x / (vf_h * s_t)
                    part = 0.5 - _asin(q if q < 1.0 else 1.0) / _PI
                    q = -vf_x * c / s_t
                    b = _acos(q if -1.0 < q < 1.0 else (1.0 if q > 0.0 else -1.0))
                    q = 1.0 - vf_h2 * c * c
                    r = vf_x * _sqrt(q if q > 0.0 else 0.0)
                    f_cell = part + (c * b - r) / vf_pi_h2
                    f_back = part + (-c * (_PI - b) - r) / vf_pi_h2
            env = eps_olr * (f_cell + f_back) + albedo * (alpha * f_cell + alpha_b * f_back)
            w_env[i] = env
            e = g * temp**4
            w_temp[i] = temp + (area * (alpha * irr * cos_i + env) - w_power[i] - e) / (
                mass / dt_s + 4.0 * e / temp
            )
        self._vf_key = vf_key
        self._vf_faces = (f_cell, f_back)

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
