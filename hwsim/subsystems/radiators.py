"""Radiators: the radiator panels, what they absorb and emit, their isolation valves and
their temperature sensors.

Owns, per panel (``radiator.P<nn>``, a fault target; its valve is a device): its loop, heat
capacity (J/K), coolant-side UA (W/K), faces, areas (m²), ε and α, its absorbed-environment
coefficients (sunlight, albedo, Earth IR; W per unit flux), its εσT⁴ emission step and a
puncture flag. Per sensor (``radsensor.P<nn>.S<n>``, ICD kind ``radsensor``): bias (K), noise
σ (K), ADC step (K) and bits, sample period, fault mode; readings go through the ADC in
every mode and their noise is the counter-based stream of (seed, sensor, sample tick)
(:meth:`reading_k`). Faults of its kinds:
``radiator_puncture`` (the coolant it loses is the loop's while the panel's valve is open:
the spacecraft hands the leak rate to :class:`hwsim.subsystems.loops.Loops`),
``sensor_stuck``, ``sensor_drift``, ``sensor_noisy``, ``sensor_dead``.

Per panel too, its isolation valve (``radvalve.P<nn>``, ICD kind ``radvalve``; open at start)
and the coolant in its tubes (``coolant_kg``, kg; part of its heat capacity, not of the
loop's inventory). A closed valve takes the panel out of its loop's flow (the network splits
the loop's flow over the open panels, ``open_f``; with none open the loop is blocked); a
puncture of an open panel drains the loop (the spacecraft hands the hole to the loop), of a
closed one only the coolant trapped in the panel (:meth:`set_trapped_leak`,
:meth:`step_slow`): the trapped coolant leaks through the same hole at the pressure it was
trapped at, falling with it like the loop's accumulator law, and the panel's heat capacity
falls by the coolant's (the network books the enthalpy that leaves as lost coolant). A panel
opened again keeps the coolant it has (its refill from the loop is not modelled).

The panels' temperatures are nodes of the thermal network: ``temp_k`` (K, per panel) is a view
of the network's state that the network binds (:meth:`bind_temperatures`); the network folds
the absorbed environment (``k_sun``/``k_albedo``/``k_ir``, driven by ``sun_flux_w_m2`` and
``albedo_flux_w_m2`` of :meth:`environment`) into its linear step, then the panels emit
(:meth:`emit`: operator splitting).

Inputs: :meth:`set_step` (the step, s) when it changes; :meth:`set_sun_elevation` (|sin β|)
when β moves; :meth:`environment` (illuminated fraction, cos β·cos u from the orbit) every
step; :meth:`emit` every step.
Outputs: ``temp_k``; ``radiated_j()`` (energy emitted since the last call, J); the absorbed
power of each panel (:meth:`absorbed_w`, W); sensor reads; ``open_f`` (per panel 1.0 open,
0.0 closed), :meth:`open_per_loop`; ``c_j_per_k`` (per panel, J/K: falls while trapped coolant
leaks out); valve reads.

:meth:`emit` inlines :func:`hwsim.model.thermal.radiation_step_inplace_k` on Python floats
(cheaper than six numpy calls for a few panels); ``tests/unit/hwsim/test_subsystems_inline.py``
proves it equals the pure function.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from hwsim.config import RadiatorsConfig
from hwsim.model.constants import SIGMA_W_M2_K4
from hwsim.model.fluid import leak_inventory_step_kg
from hwsim.model.noise import sensor_noise_at_k, sensor_noise_stream
from hwsim.model.sensors import radiator_sensor_reading_scalar_k
from hwsim.model.thermal import earth_view_factor_vertical_plate, panel_absorbed_w_per_m2
from icd.devices import RadValveRegisters, SensorRegisters

__all__ = ["Radiators"]

# sensor fault modes (the numbering of hwsim.model.sensors.SENSOR_*)
_OK, _STUCK, _DRIFT, _NOISY, _DEAD = range(5)
_EXTRA_STREAM = 1 << 32
"""Offset of the noise stream of a sensor_noisy fault's extra noise from the sensor's own."""
# A stream's state is constant per (seed, stream): kept here (not on the model, whose
# snapshots would carry it), so a reading hashes its tick alone (sensor_noise_scalar_k's
# value, bit for bit: tests/unit/hwsim/test_noise_stream.py).
_noise_stream = lru_cache(maxsize=4096)(sensor_noise_stream)
DEFAULT_COOLANT_CP_J_PER_KG_K = 3620.0
"""c_p of the panels' coolant when the caller gives none (50 % glycol, the AI1 loops')."""


class Radiators:
    """Every radiator panel and its sensors (see the module doc)."""

    FAULTS = ("radiator_puncture", "sensor_stuck", "sensor_drift", "sensor_noisy", "sensor_dead")

    def __init__(
        self,
        cfg: RadiatorsConfig,
        loop_index: dict[str, int],
        altitude_km: float,
        sin_beta_abs: float,
        sensor_seed: int,
        coolant_cp_j_per_kg_k: Sequence[float] | None = None,
    ) -> None:
        """``coolant_cp_j_per_kg_k``: c_p of each loop's coolant (by loop index), J/(kg·K)
        (default DEFAULT_COOLANT_CP_J_PER_KG_K): the heat capacity trapped coolant takes
        with it when it leaks out of a closed panel."""
        panels = cfg.panels
        self.panel_ids = [p.panel_id for p in panels]
        self.panel_index = {p: i for i, p in enumerate(self.panel_ids)}
        self.loop = np.array([loop_index[p.loop_id] for p in panels])
        self.c_j_per_k = np.array([p.thermal_mass_j_per_k for p in panels])
        self.ua_w_per_k = np.array([p.ua_w_per_k for p in panels])
        # conduction through the hinge and standoffs to the structure (the thermal network's
        # parasitic path of the panel node)
        self.structure_conductance_w_per_k = np.array(
            [p.structure_conductance_w_per_k for p in panels]
        )
        area_face = np.array([p.area_per_face_m2 for p in panels])
        area_rad = np.array([p.area_per_face_m2 * p.faces for p in panels])
        faces = np.array([float(p.faces) for p in panels])
        eps = np.array([p.emissivity for p in panels])
        alpha = np.array([p.absorptivity for p in panels])
        self.temp_k = np.array([p.initial_temp_k for p in panels])
        self.per_loop = np.bincount(self.loop, minlength=len(loop_index)).astype(float)
        self.include_environment = cfg.include_environment
        vf = cfg.earth_view_factor_per_face
        self.view_factor = earth_view_factor_vertical_plate(altitude_km) if vf is None else vf
        # absorbed environment = k_sun·(sun flux) + k_albedo·(albedo flux) + k_ir
        self.k_sun = area_face * alpha
        self.k_albedo = area_face * alpha * faces
        ir = panel_absorbed_w_per_m2(0.0, 0.0, 0.0, self.view_factor, 0.0, 1.0)
        self.k_ir = area_face * eps * faces * ir
        self._k_sun_sum = float(self.k_sun.sum())
        self._k_albedo_sum = float(self.k_albedo.sum())
        self._k_ir_sum = float(self.k_ir.sum())
        # both fluxes are linear in their driver: unit values, scaled every step
        self._sun_unit_w_m2 = panel_absorbed_w_per_m2(1.0, sin_beta_abs, 0.0, 0.0, 1.0, 0.0)
        self._albedo_unit_w_m2 = panel_absorbed_w_per_m2(0.0, 0.0, 1.0, self.view_factor, 1.0, 0.0)
        self.sun_flux_w_m2 = -1.0  # < 0: no step yet
        self.albedo_flux_w_m2 = 0.0
        self.kemit_w_per_k4 = eps * SIGMA_W_M2_K4 * area_rad
        self._r_list: list[float] = []
        # the panels' temperature drops to emission, summed over steps; times their heat
        # capacity this is the radiated energy (radiated_j)
        self._drop_sum = [0.0] * len(panels)
        self.punctured = [False] * len(panels)
        self._init_valves(cfg, coolant_cp_j_per_kg_k)
        self._init_sensors(cfg, sensor_seed)

    def _init_valves(self, cfg: RadiatorsConfig, cp_by_loop: Sequence[float] | None) -> None:
        """Isolation valves (all open) and the coolant in the panels (all full)."""
        n = len(cfg.panels)
        self.valve_open = [True] * n
        self.valve_commanded_open = [True] * n
        self.open_f = np.ones(n)  # the network's mask of panels in their loop's flow
        # leak rate of each panel's punctures at the loop's fill pressure, kg/s (their hole)
        self.puncture_leak_kg_s = [0.0] * n
        self.coolant_nominal_kg = np.array([p.coolant_mass_kg for p in cfg.panels])
        self.coolant_kg = self.coolant_nominal_kg.copy()
        if cp_by_loop is None:
            self._coolant_cp = np.full(n, DEFAULT_COOLANT_CP_J_PER_KG_K)
        else:
            self._coolant_cp = np.asarray(cp_by_loop, dtype=float)[self.loop]
        self._c_nominal_j_per_k = self.c_j_per_k.copy()
        # the coolant trapped in a closed panel: its pressure when trapped, Pa, and the leak
        # constant c of dm/dt = −c·m^(n/2) through the panel's hole (0: not leaking)
        self.trapped_pressure_pa = [0.0] * n
        self.trapped_kg = self.coolant_kg.copy()  # the coolant in the panel when trapped
        self._trap_c = [0.0] * n
        self._trap_n = [1.0] * n
        self.trapped_leak_kg_s = [0.0] * n
        # energy radiated at capacities since changed (radiated_j multiplies the summed
        # drops by the present capacity, so a change of capacity books what came before)
        self._radiated_pending_j = 0.0

    def _init_sensors(self, cfg: RadiatorsConfig, seed: int) -> None:
        ids: list[str] = []
        panel: list[int] = []
        noise: list[float] = []
        bias: list[float] = []
        quant: list[float] = []
        bits: list[int] = []
        period_ns: list[int] = []
        for pi, p in enumerate(cfg.panels):
            for s in p.sensors:
                ids.append(f"radsensor.{p.panel_id}.{s.sensor_id}")
                panel.append(pi)
                noise.append(s.noise_std_k)
                bias.append(s.bias_k)
                quant.append(s.quantisation_k)
                bits.append(s.adc_bits)
                period_ns.append(round(s.sample_period_s * 1e9))
        self.sensor_ids = ids
        self.sensor_index = {s: i for i, s in enumerate(ids)}
        # the counter-based noise streams: sensor i's own noise is stream i, the extra noise
        # of a sensor_noisy fault stream i + _EXTRA_STREAM (hwsim.model.noise)
        self.sensor_seed = int(seed)
        self._rs_bits = bits
        self._rs_period_ns = period_ns
        self._rs_panel = np.array(panel)
        self._rs_noise = np.array(noise)
        self._rs_bias = np.array(bias)
        self._rs_quant = np.array(quant)
        n = len(ids)
        self._rs_mode = np.zeros(n, dtype=np.int64)
        self._rs_stuck_k = np.zeros(n)
        self._rs_drift_k_s = np.zeros(n)
        self._rs_t0 = np.zeros(n)
        self._rs_noise_extra = np.zeros(n)

    # ------------------------------------------------------------------------------ step

    def bind_temperatures(self, view: np.ndarray) -> None:
        """The thermal network holds the panel temperatures in its state: ``view`` of it."""
        self.temp_k = view

    def set_step(self, dt_s: float) -> None:
        """Per-step emission constants r = (C/dt)/(εσA) for a step of ``dt_s``."""
        self._r_list = (self.c_j_per_k / dt_s / self.kemit_w_per_k4).tolist()

    def set_sun_elevation(self, sin_beta_abs: float) -> None:
        """β moved (orbit beta_mode 'j2'): the direct sunlight on the panels follows it."""
        self._sun_unit_w_m2 = panel_absorbed_w_per_m2(1.0, sin_beta_abs, 0.0, 0.0, 1.0, 0.0)

    def environment(self, illumination: float, cos_beta_cos_u: float) -> float:
        """Sun and albedo fluxes of this step (illuminated fraction of the Sun, and cos β·cos u
        which lights the Earth below); returns the environment power absorbed, W."""
        sun = illumination * self._sun_unit_w_m2
        albedo = cos_beta_cos_u * self._albedo_unit_w_m2 if cos_beta_cos_u > 0.0 else 0.0
        self.sun_flux_w_m2 = sun
        self.albedo_flux_w_m2 = albedo
        return self._k_sun_sum * sun + self._k_albedo_sum * albedo + self._k_ir_sum

    def emit(self) -> None:
        """The panels' εσT⁴ emission over the step (radiation_step_inplace_k, operation for
        operation on Python floats), the drops summed per panel."""
        rp = self.temp_k
        drop_sum = self._drop_sum
        out = []
        i = 0
        for t_k, r_k in zip(rp.tolist(), self._r_list, strict=True):
            d = t_k / (r_k / (t_k * t_k * t_k) + 4.0)
            out.append(t_k - d)
            drop_sum[i] += d
            i += 1
        rp[...] = out

    def radiated_j(self) -> float:
        """Energy the panels emitted since the last call, J (for the spacecraft's ledger)."""
        drop = self._drop_sum
        pending = self._radiated_pending_j
        if not any(drop):
            self._radiated_pending_j = 0.0
            return pending
        self._drop_sum = [0.0] * len(drop)
        self._radiated_pending_j = 0.0
        return pending + float(np.dot(self.c_j_per_k, drop))

    def absorbed_w(self) -> np.ndarray:
        """Environment heat absorbed by each panel in the last step, W."""
        sun = self.sun_flux_w_m2
        if not self.include_environment or sun < 0.0:
            return np.zeros(len(self.panel_ids))
        return self.k_albedo * self.albedo_flux_w_m2 + (self.k_sun * sun + self.k_ir)

    # ------------------------------------------------------------------------------ valves

    def open_per_loop(self, n_loops: int) -> np.ndarray:
        """Number of open panels on each loop."""
        return np.bincount(self.loop, weights=self.open_f, minlength=n_loops)

    @property
    def has_trapped_leak(self) -> bool:
        """Coolant trapped in a closed, punctured panel is leaking (step_slow has work)."""
        return any(
            c > 0.0 and m > 0.0 for c, m in zip(self._trap_c, self.coolant_kg.tolist(), strict=True)
        )

    def command_valve(self, i: int, command: str) -> bool:
        """``open`` or ``close`` panel ``i``'s valve; True when its position changed."""
        want = command == "open"
        self.valve_commanded_open[i] = want
        if self.valve_open[i] == want:
            return False
        self.valve_open[i] = want
        self.open_f[i] = 1.0 if want else 0.0
        return True

    def set_trapped_leak(self, i: int, rate_constant: float, exponent: float) -> None:
        """The coolant trapped in closed panel ``i`` leaks with dm/dt = −c·m^(n/2) (c =
        ``rate_constant``, 0 = no leak; n = ``exponent``): the orifice flow at its pressure
        P_trap·(m/m_trap)^n (see :meth:`trap`)."""
        self._trap_c[i] = rate_constant
        self._trap_n[i] = exponent
        m = float(self.coolant_kg[i])
        self.trapped_leak_kg_s[i] = rate_constant * m ** (0.5 * exponent) if m > 0.0 else 0.0

    def trap(self, i: int, pressure_pa: float) -> None:
        """Panel ``i``'s valve just closed: its coolant (``trapped_kg[i]``) is trapped at
        ``pressure_pa`` (its loop's pressure)."""
        self.trapped_kg[i] = float(self.coolant_kg[i])
        self.trapped_pressure_pa[i] = pressure_pa

    def step_slow(self, dt_s: float) -> bool:
        """Trapped coolant leaks out of closed, punctured panels (leak_inventory_step_kg, exact
        for a held hole); each panel's heat capacity falls with its coolant's. True when a
        capacity changed (the network must refresh its coefficients)."""
        changed = False
        for i, c in enumerate(self._trap_c):
            if c <= 0.0:
                continue
            m = float(self.coolant_kg[i])
            n = self._trap_n[i]
            if m > 0.0:
                m_new = leak_inventory_step_kg(m, dt_s, c, n)
                self.coolant_kg[i] = m_new
                m = m_new
                changed = True
            self.trapped_leak_kg_s[i] = c * m ** (0.5 * n) if m > 0.0 else 0.0
        if changed:
            # the drops so far were emitted at the old capacities
            self._radiated_pending_j += float(np.dot(self.c_j_per_k, self._drop_sum))
            self._drop_sum = [0.0] * len(self._drop_sum)
            lost = (self.coolant_nominal_kg - self.coolant_kg) * self._coolant_cp
            self.c_j_per_k = self._c_nominal_j_per_k - lost
        return changed

    def read_valve(self, i: int, loop_flow_kg_s: float, open_on_loop: float) -> RadValveRegisters:
        """Valve ``i``'s registers; the panel's flow is its share of its loop's flow
        (panel_flow_split_kg_s: ṁ_loop / open panels, 0 when closed)."""
        is_open = self.valve_open[i]
        flow = loop_flow_kg_s / open_on_loop if is_open and open_on_loop > 0.0 else 0.0
        return RadValveRegisters(
            open=is_open,
            commanded_open=self.valve_commanded_open[i],
            flow_kg_s=float(max(flow, 0.0)),
        )

    # ------------------------------------------------------------------------------ devices

    def reading_k(self, i: int, time_ns: int) -> float:
        """Sensor ``i``'s reading at mission time ``time_ns`` (integer ns), K: every mode
        through the ADC (radiator_sensor_reading_k: a multiple of the LSB, clamped to
        [0, full scale]); the noise is the counter-based stream of (seed, sensor, sample
        tick = time // sample period), so a reading depends only on the state and the time,
        never on how often or in which order the sensors are read."""
        tick = time_ns // self._rs_period_ns[i]
        mode = int(self._rs_mode[i])
        noise = sensor_noise_at_k(
            _noise_stream(self.sensor_seed, i), tick, float(self._rs_noise[i])
        )
        extra = 0.0
        if mode == _NOISY:
            extra = sensor_noise_at_k(
                _noise_stream(self.sensor_seed, i + _EXTRA_STREAM),
                tick,
                float(self._rs_noise_extra[i]),
            )
        drift = self._rs_drift_k_s[i] * (time_ns / 1e9 - self._rs_t0[i]) if mode == _DRIFT else 0.0
        return radiator_sensor_reading_scalar_k(
            mode,
            float(self.temp_k[self._rs_panel[i]]),
            float(self._rs_bias[i]),
            noise,
            extra,
            float(drift),
            float(self._rs_stuck_k[i]),
            float(self._rs_quant[i]),
            int(self._rs_bits[i]),
        )

    def read_sensor(self, i: int, time_ns: int) -> SensorRegisters:
        """The sensor's registers at mission time ``time_ns`` (see :meth:`reading_k`)."""
        return SensorRegisters(temp_k=self.reading_k(i, time_ns))

    # ------------------------------------------------------------------------------ faults

    def fault_targets(self, kind: str) -> dict[str, int]:
        if kind == "radiator":
            return {f"radiator.{p}": i for i, p in enumerate(self.panel_ids)}
        return dict(self.sensor_index)

    def apply_fault(self, fault_id: str, i: int, params: dict[str, Any], time_s: float) -> None:
        """``radiator_puncture`` marks panel ``i`` (its leak is the loop's); the sensor faults
        change sensor ``i``'s reading."""
        if fault_id == "radiator_puncture":
            self.punctured[i] = True
            self.puncture_leak_kg_s[i] += float(params["leak_rate_kg_s"])
            return
        if not fault_id.startswith("sensor_"):
            raise ValueError(f"radiators: no fault {fault_id!r} (valid: {', '.join(self.FAULTS)})")
        self._rs_t0[i] = time_s
        if fault_id == "sensor_stuck":
            v = params["value_k"]
            self._rs_stuck_k[i] = float(self.temp_k[self._rs_panel[i]]) if v is None else float(v)
            self._rs_mode[i] = _STUCK
        elif fault_id == "sensor_drift":
            self._rs_drift_k_s[i] = float(params["rate_k_per_hour"]) / 3600.0
            self._rs_mode[i] = _DRIFT
        elif fault_id == "sensor_noisy":
            self._rs_noise_extra[i] = float(params["noise_std_k"])
            self._rs_mode[i] = _NOISY
        else:
            self._rs_mode[i] = _DEAD

    def clear_fault(self, fault_id: str, i: int, params: dict[str, Any]) -> None:
        if fault_id == "radiator_puncture":
            self.punctured[i] = False
            rest = self.puncture_leak_kg_s[i] - float(params["leak_rate_kg_s"])
            self.puncture_leak_kg_s[i] = rest if rest > 1e-15 else 0.0
        elif fault_id.startswith("sensor_"):
            self._rs_mode[i] = _OK
            self._rs_noise_extra[i] = 0.0
            self._rs_drift_k_s[i] = 0.0
