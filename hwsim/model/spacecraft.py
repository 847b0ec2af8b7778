"""The :class:`Spacecraft` aggregate: state in numpy arrays, physics from the pure modules.

``step(dt_s)`` orchestrates, in order: scheduled faults, orbit geometry, the optional built-in
control law, solar wings, pumps and loop flow, the power balance with load shedding, the
battery, the thermal network, upsets, and slow fault processes (leaks, pump wear).

The hot path keeps per-board and per-node state in numpy arrays and per-wing/per-pump state
in plain Python lists; dictionaries and pydantic objects are built only in ``read()``,
``describe()`` and ``truth()``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from hwsim.config import SpacecraftConfig
from hwsim.faults import (
    ActiveFault,
    FaultError,
    activate_fault,
    deactivate_fault,
    resolve_fault,
)
from hwsim.model.compute import BoardModel, board_power_w, plugin_upset_kind, seu_rate_per_s
from hwsim.model.constants import (
    SIGMA_W_M2_K4,
)
from hwsim.model.devices import DeviceDescription, DeviceError
from hwsim.model.sensors import sensor_reading_k
from hwsim.model.thermal import (
    board_die_decay,
    coolant_network_matrix,
    earth_view_factor_vertical_plate,
    hx_conductance_w_per_k,
    implicit_network_operator,
    panel_absorbed_w_per_m2,
)
from hwsim.subsystems.loops import Loops
from hwsim.subsystems.orbit_env import OrbitEnv
from hwsim.subsystems.power_bus import PowerBus
from hwsim.subsystems.wings import Wings
from icd import devices as icd_devices
from icd.devices import (
    BackplaneRegisters,
    BackplaneSlot,
    BatteryRegisters,
    BoardSlotRegisters,
    BuiltinSlotRegisters,
    CommandArgs,
    CommandArgsInvalid,
    DeviceKind,
    DeviceRegisters,
    LoopRegisters,
    PduRegisters,
    PumpRegisters,
    SensorRegisters,
    WingRegisters,
)
from icd.devices.compute import BOARD_SLOT, BUILTIN_SLOT, SetUtilisation

if TYPE_CHECKING:
    from computesat_sdk.registry import BoardRegistry

    from hwsim.boards.slots import PluginSlot, PluginSlots

from computesat_sdk.contract import PowerState, UpsetKind

__all__ = ["ActiveFault", "Spacecraft"]

_NS = 1_000_000_000
_TWO_PI = 2.0 * math.pi
_PI = math.pi
_DEG = 180.0 / math.pi  # what math.degrees multiplies by
_RAD = math.pi / 180.0  # what math.radians multiplies by


class Spacecraft:
    """Hardware model of the whole satellite, stepped by ``step(dt_s)``.

    ``seed`` fixes every random process (sensor noise, upsets); two spacecraft built from the
    same config and seed and driven by the same calls produce identical series.

    Slots that name a plug-in board (``board = "ref-gpu"``) get one from ``registry``
    (default: the installed ``computesat.boards`` plug-ins, discovered once per process).
    """

    def __init__(
        self,
        config: SpacecraftConfig,
        seed: int = 0,
        registry: BoardRegistry | None = None,
        mission_time_origin_s: float = 0.0,
    ) -> None:
        self.config = config
        self._registry = registry
        # Model time counts from 0; plug-in boards keep mission time (what their job results
        # carry), which is model time plus this origin (the mission time of model time 0).
        self.mission_time_origin_s = float(mission_time_origin_s)
        self.seed = int(seed)
        ss = np.random.SeedSequence(self.seed)
        s_sensor, s_seu = ss.spawn(2)
        self._sensor_rng = np.random.default_rng(s_sensor)
        self._seu_rng = np.random.default_rng(s_seu)
        self._time_ns = 0
        self._dt_cache = -1.0
        self._energy = {
            "array_j": 0.0,
            "load_j": 0.0,
            "battery_stored_change_j": 0.0,
            "battery_loss_j": 0.0,
            "compute_heat_j": 0.0,
            "compute_unbilled_standby_j": 0.0,
            "pump_heat_j": 0.0,
            "radiated_j": 0.0,
            "absorbed_env_j": 0.0,
        }
        self._orbit = OrbitEnv(config.orbit)
        self._wings = Wings(config.wings, config.orbit.altitude_km)
        o = self._orbit
        self._wings.settle(o.phase_rad, o.illumination, o.cos_beta, o.cos_phase)
        self._init_loops()
        self._init_thermal()
        self._init_slots()
        self._bus = PowerBus(
            config.battery,
            config.power_bus,
            self._p_ids,
            self._slot_ids,
            [int(p) for p in self._s_prio],
            self._energy,
            [p.channel_rating_a for lp in config.loops for p in lp.pumps],
        )
        self._init_sensors()
        self._faults: list[ActiveFault] = []
        self._pending: list[ActiveFault] = []
        self._next_pending_s = math.inf
        self._boards: dict[int, BoardModel] = {}
        self._invalidate()
        self._refresh_coeffs(1.0)
        self._thermal_energy_0_j = self._thermal_energy_j()
        self._update_flows(0.0)
        self._refresh_slot_demand()
        self._refresh_slot_power()

    # ------------------------------------------------------------------------------ setup

    def _init_loops(self) -> None:
        self._loops = Loops(self.config.loops)
        self._loop_ids = self._loops.loop_ids
        self._loop_index = self._loops.loop_index
        self._p_ids = self._loops.pump_ids
        # coolant temperatures: nodes of the thermal network (views into its state, see
        # _layout_state); start at each loop's initial temperature
        self._l_supply = np.array([lp.initial_temp_k for lp in self.config.loops])
        self._l_return = self._l_supply.copy()
        self._pump_heat_w = 0.0
        self._pump_power_w = 0.0
        self._flows_dirty = True
        self._flows_steady = False
        self._coeff_dirty = True
        self._slow_faults = False

    def _init_thermal(self) -> None:
        cfg = self.config
        plates = cfg.cold_plates
        self._plate_ids = [p.plate_id for p in plates]
        self._plate_index = {p: i for i, p in enumerate(self._plate_ids)}
        self._cp_loop = np.array([self._loop_index[p.loop_id] for p in plates])
        self._cp_c = np.array([p.thermal_mass_j_per_k for p in plates])
        self._cp_ua = np.array([p.ua_w_per_k for p in plates])
        self._cp_temp = self._l_supply[self._cp_loop].copy()
        nl = len(self._loop_ids)
        self._cp_per_loop = np.bincount(self._cp_loop, minlength=nl).astype(float)
        panels = cfg.radiators.panels
        self._panel_ids = [p.panel_id for p in panels]
        self._panel_index = {p: i for i, p in enumerate(self._panel_ids)}
        self._rp_loop = np.array([self._loop_index[p.loop_id] for p in panels])
        self._rp_c = np.array([p.thermal_mass_j_per_k for p in panels])
        self._rp_ua = np.array([p.ua_w_per_k for p in panels])
        self._rp_area_face = np.array([p.area_per_face_m2 for p in panels])
        self._rp_area_rad = np.array([p.area_per_face_m2 * p.faces for p in panels])
        self._rp_faces = np.array([float(p.faces) for p in panels])
        self._rp_eps = np.array([p.emissivity for p in panels])
        self._rp_alpha = np.array([p.absorptivity for p in panels])
        self._rp_temp = np.array([p.initial_temp_k for p in panels])
        self._rp_per_loop = np.bincount(self._rp_loop, minlength=nl).astype(float)
        self._rp_env = cfg.radiators.include_environment
        vf = cfg.radiators.earth_view_factor_per_face
        self._rp_vf = (
            earth_view_factor_vertical_plate(self._orbit.altitude_km) if vf is None else vf
        )
        # absorbed environment = k_sun·(sun flux) + k_albedo·(albedo flux) + k_ir
        self._k_sun = self._rp_area_face * self._rp_alpha
        self._k_albedo = self._rp_area_face * self._rp_alpha * self._rp_faces
        ir = panel_absorbed_w_per_m2(0.0, 0.0, 0.0, self._rp_vf, 0.0, 1.0)
        self._k_ir = self._rp_area_face * self._rp_eps * self._rp_faces * ir
        self._k_sun_sum = float(self._k_sun.sum())
        self._k_albedo_sum = float(self._k_albedo.sum())
        self._k_ir_sum = float(self._k_ir.sum())
        self._absorbed_sun = -1.0
        self._sun_unit_w_m2 = panel_absorbed_w_per_m2(
            1.0, self._orbit.sin_beta_abs, 0.0, 0.0, 1.0, 0.0
        )
        self._albedo_unit_w_m2 = panel_absorbed_w_per_m2(0.0, 0.0, 1.0, self._rp_vf, 1.0, 0.0)
        self._rp_kemit = self._rp_eps * SIGMA_W_M2_K4 * self._rp_area_rad
        # small thermal nodes in one vector (plates, hot legs, panels, cold legs); _bind_state
        # moves it, with the dies, into the state vector z, the named arrays being views
        self._tn = np.concatenate([self._cp_temp, self._l_return, self._rp_temp, self._l_supply])
        self._cp_temp = self._tn[: len(plates)]
        self._tn_c = np.zeros(len(self._tn))
        self._rp_punctured = [False] * len(panels)

    def _init_slots(self) -> None:
        slots = self.config.compute.expanded_slots()
        self._slot_cfg = slots
        self._slot_ids = [s.slot_id for s in slots]
        self._slot_index = {s: i for i, s in enumerate(self._slot_ids)}
        n = len(slots)
        self._s_plate = np.array([self._plate_index[s.cold_plate_id] for s in slots])
        self._s_loop = self._cp_loop[self._s_plate]
        self._s_idle = np.array([s.idle_w for s in slots])
        self._s_peak = np.array([s.peak_w for s in slots])
        self._s_c = np.array([s.thermal_mass_j_per_k for s in slots])
        self._s_r_nom = np.array([s.die_to_plate_k_per_w for s in slots])
        self._s_r = self._s_r_nom.copy()
        self._s_max = np.array([s.max_die_temp_k for s in slots])
        self._s_shutdown_k = self._s_max + self.config.compute.thermal_shutdown_margin_k
        self._s_shutdown_floor_k = float(self._s_shutdown_k.min())
        self._s_prio = np.array([s.priority for s in slots])
        self._s_enabled = np.array([s.power_on_at_start for s in slots])
        self._s_util = np.array([s.initial_utilisation for s in slots])
        self._s_latched = np.zeros(n, dtype=bool)
        self._s_latch_w = np.zeros(n)
        self._s_extra_w = np.zeros(n)
        self._s_tshut = np.zeros(n, dtype=bool)
        self._bind_state(self._cp_temp[self._s_plate])
        self._s_seu_base = np.array([s.seu_rate_per_year for s in slots])
        self._s_seu_mult = np.ones(n)
        self._s_unc_frac = np.array([s.uncorrectable_fraction for s in slots])
        self._s_seu = np.zeros(n, dtype=np.int64)
        self._s_unc = np.zeros(n, dtype=np.int64)
        self._s_power = np.zeros(n)  # served power this step
        self._s_hang_frac = np.array([s.hang_fraction for s in slots])
        self._s_flip_frac = np.array([s.bit_flip_fraction for s in slots])
        self._init_plugins(slots)
        self._saa_factor = self.config.compute.saa_upset_factor
        self._seu_hazard = 0.0
        self._seu_threshold = float(self._seu_rng.exponential())
        self._seu_cache_key: tuple[bool, int] | None = None
        self._seu_version = 0
        self._seu_cum = np.zeros(n)
        self._seu_total_per_s = 0.0
        self._slots_dirty = True
        self._s_demand = np.zeros(n)
        self._s_demand_w = 0.0
        self._s_power_w = 0.0
        self._s_pr = np.zeros(n)
        self._plate_p = np.zeros(len(self._plate_ids))
        self._demand_version = 0

    _LAZY_MAX_CLASSES = 32
    """Die classes up to which the dies are carried by class (see _layout_state)."""

    def _bind_state(self, die_temp_k: np.ndarray) -> None:
        """Initial die temperatures; the state vector z is laid out by _refresh_coeffs."""
        n_p, n_l, n_k = len(self._plate_ids), len(self._loop_ids), len(self._panel_ids)
        self._n_plates = n_p
        self._n_net = n_p + 2 * n_l + n_k
        self._panel_sl = slice(n_p + n_l, n_p + n_l + n_k)
        self._lazy = False
        self._die_view = np.array(die_temp_k, dtype=float)
        self._z = np.zeros(0)
        self._cls_key: tuple[np.ndarray, np.ndarray] | None = None
        self._rad_work = np.empty(n_k)
        self._qconst_dirty = True
        # the panels' temperature drops to emission, summed over steps; times their heat
        # capacity this is the radiated energy (booked into _energy on read)
        self._rad_drop_sum = [0.0] * n_k
        # upper bounds for the thermal-shutdown test (see _step_thermal)
        self._die_max_bound = math.inf
        self._plate_max = math.inf
        self._pr_max = 0.0

    @property
    def _s_temp(self) -> np.ndarray:
        """Die temperature of every slot (computed from the class states when carried by class)."""
        if self._lazy and not self._die_fresh:
            self._materialize_dies()
        return self._die_view

    def _materialize_dies(self) -> None:
        """T_b = p·T_b0 + b·h + b·P·R·g (see _layout_state), into _die_view."""
        z = self._z
        d = self._die_view
        np.multiply(z.take(self._ix_p), self._die0, out=d)
        d += z.take(self._ix_h) * self._s_b
        d += z.take(self._ix_g) * self._s_bpr
        self._die_fresh = True

    def _rebase_dies(self) -> None:
        """Start the class histories afresh from the present die temperatures (before the
        die coefficients change, and now and then so that aⁿ never becomes subnormal)."""
        if not self._lazy:
            return
        self._die0 = self._s_temp.copy()
        k = self._n_cls
        z = self._z
        i = self._n_net + k
        z[i : i + k] = 0.0  # h
        z[i + k : i + 2 * k] = 1.0  # p
        z[i + 2 * k : i + 3 * k] = 0.0  # g
        self._rebase_in = self._rebase_every

    def _layout_state(self, t_net: np.ndarray, die: np.ndarray, cls: np.ndarray, k: int) -> None:
        """Lay out the linear thermal state vector z.

        Per die only the exact step T_b' = a·T_b + b·T_plate + b·P·R is needed (a =
        e^(−dt/RC), b = 1 − a). Dies with the same plate and the same a form a class; for a
        class the plate sees only Y = Σ w·T_b (w = C/dt·b, see _refresh_coeffs), and every
        die in it is T_b = p·T_b0 + b·h + b·P·R·g with p = aⁿ, h = Σ aⁿ⁻¹⁻ᵐ T_plate,m and
        g = Σ aᵐ (n steps since the snapshot T_b0). Y, h, p and g all step linearly, so with
        up to _LAZY_MAX_CLASSES classes z = [nodes, Y, h, p, g, sun, albedo, 1] and a step is
        one product with A whatever the number of boards; the dies are computed only when
        read. With more classes z = [nodes, dies, sun, albedo, 1] and the dies step as a
        vector.
        """
        n_net, n_p = self._n_net, self._n_plates
        n = len(die)
        lazy = k <= self._LAZY_MAX_CLASSES
        self._lazy = lazy
        n_state = n_net + (4 * k if lazy else n)
        z = np.empty(n_state + 3)
        z[:n_net] = t_net
        if lazy:
            self._n_cls = k
            self._cls = cls
            self._die0 = die.copy()
            self._die_view = die.copy()
            self._die_fresh = True
            z[n_net : n_net + k] = np.bincount(cls, weights=self._s_w * die, minlength=k)
            z[n_net + k : n_net + 2 * k] = 0.0
            z[n_net + 2 * k : n_net + 3 * k] = 1.0
            z[n_net + 3 * k : n_state] = 0.0
            self._ix_h = n_net + k + cls
            self._ix_p = n_net + 2 * k + cls
            self._ix_g = n_net + 3 * k + cls
        else:
            z[n_net:n_state] = die
            self._die_view = z[n_net:n_state]
        z[n_state:] = (0.0, 0.0, 1.0)
        self._z = z
        n_rows = n_state if lazy else n_net  # the states A·z steps
        self._z_state = z[:n_rows]
        self._tn = z[:n_net]
        self._cp_temp = z[:n_p]
        n_l = len(self._loop_ids)
        self._l_return = z[n_p : n_p + n_l]
        self._rp_temp = z[self._panel_sl]
        self._l_supply = z[self._panel_sl.stop : n_net]
        self._iz_sun = n_state
        self._iz_albedo = n_state + 1
        self._iz_const = n_state + 2
        self._za = np.zeros((n_rows, len(z)))
        self._tn_new = np.empty(n_rows)

    def _init_plugins(self, slots: list[Any]) -> None:
        """Plug-in boards own their die: their entries in the slot vectors are neutralised
        (no power, no heat capacity, no shutdown) and ``_s_vec`` masks them out of the
        vectorised die step."""
        n = len(slots)
        self._s_vec = np.ones(n)
        self._plug: PluginSlots | None = None
        self._plug_sup = np.zeros(0, dtype=bool)
        wanted = [(i, s.slot_id, s.board) for i, s in enumerate(slots) if s.is_plugin]
        if not wanted:
            return
        from hwsim.boards.slots import PluginSlots, default_registry

        registry = self._registry if self._registry is not None else default_registry()
        on = [slots[i].power_on_at_start for i, _, _ in wanted]
        plug = PluginSlots(
            wanted, self._s_plate, self._cp_temp, registry, on, self.mission_time_origin_s
        )
        for i, _, _ in wanted:
            self._s_vec[i] = 0.0
            self._s_idle[i] = self._s_peak[i] = self._s_util[i] = 0.0
            self._s_enabled[i] = True
            self._s_c[i] = self._s_r_nom[i] = self._s_r[i] = 1.0
            self._s_shutdown_k[i] = math.inf
            thermal = plug.by_slot[i].thermal
            self._s_max[i] = thermal.max_die_temp_k if thermal is not None else 0.0
        self._s_shutdown_floor_k = float(self._s_shutdown_k.min())
        plug.poll_draw_w()
        self._plug = plug
        self._plug_sup = np.ones(len(plug.boards), dtype=bool)

    def _init_sensors(self) -> None:
        ids: list[str] = []
        panel: list[int] = []
        noise: list[float] = []
        bias: list[float] = []
        quant: list[float] = []
        for pi, p in enumerate(self.config.radiators.panels):
            for s in p.sensors:
                ids.append(f"radsensor.{p.panel_id}.{s.sensor_id}")
                panel.append(pi)
                noise.append(s.noise_std_k)
                bias.append(s.bias_k)
                quant.append(s.quantisation_k)
        self._rs_ids = ids
        self._rs_index = {s: i for i, s in enumerate(ids)}
        self._rs_panel = np.array(panel)
        self._rs_noise = np.array(noise)
        self._rs_bias = np.array(bias)
        self._rs_quant = np.array(quant)
        n = len(ids)
        # fault modes: 0 ok, 1 stuck, 2 drift, 3 noisy, 4 dead
        self._rs_mode = np.zeros(n, dtype=np.int64)
        self._rs_stuck_k = np.zeros(n)
        self._rs_drift_k_s = np.zeros(n)
        self._rs_t0 = np.zeros(n)
        self._rs_noise_extra = np.zeros(n)

    # ------------------------------------------------------------------------------ time

    @property
    def time_s(self) -> float:
        """Mission seconds since the configuration epoch."""
        return self._time_ns / _NS

    # ------------------------------------------------------------------------------ plug-ins

    def install_board(self, slot_id: str, board: BoardModel) -> None:
        """Replace a slot's parameter model by a plug-in board (see :class:`BoardModel`)."""
        i = self._slot_idx(slot_id)
        if not isinstance(board, BoardModel):
            raise TypeError("board does not implement hwsim.model.compute.BoardModel")
        self._boards[i] = board
        self._s_c[i] = board.thermal_mass_j_per_k
        self._s_r_nom[i] = board.die_to_plate_k_per_w
        self._s_r[i] = board.die_to_plate_k_per_w
        self._s_max[i] = board.max_die_temp_k
        self._s_shutdown_k[i] = board.max_die_temp_k + self.config.compute.thermal_shutdown_margin_k
        self._s_shutdown_floor_k = float(self._s_shutdown_k.min())
        self._invalidate()

    # ------------------------------------------------------------------------------ step

    def _invalidate(self) -> None:
        """Something a command or fault changed: recompute the cached quantities next step."""
        self._slots_dirty = True
        self._flows_dirty = True
        self._coeff_dirty = True
        self._slow_faults = self._loops.has_slow_faults

    def step(self, dt_s: float) -> None:
        """Advance the hardware by ``dt_s`` seconds of mission time.

        The orbit, wing and upset arithmetic is inlined here (the pure functions of orbit.py
        and solar.py, operation for operation) to keep the per-step cost near the floor of
        CPython call overhead.
        """
        if not dt_s > 0.0:
            raise ValueError("dt_s must be > 0")
        t = self._time_ns / _NS
        if t >= self._next_pending_s:
            self._activate_due(t)
        orbit = self._orbit
        if orbit.step(t):
            self._beta_changed()
        self._wings.step(
            dt_s, t, orbit.phase_rad, orbit.illumination, orbit.cos_beta, orbit.cos_phase
        )
        if self._flows_dirty or not self._flows_steady:
            self._update_flows(dt_s)
        plug = self._plug
        if plug is not None and plug.poll_draw_w():
            self._slots_dirty = True
        self._step_power(dt_s)
        if plug is not None:
            self._plugin_supply(dt_s)
        self._step_thermal(dt_s, orbit.cos_phase)
        # upsets: one Poisson process; the full _step_seu only when one is due or the rates
        # change (SAA entry/exit, seu_burst)
        tot = self._seu_total_per_s
        in_saa = orbit.in_saa
        key = self._seu_cache_key
        if key is None or key[0] != in_saa or key[1] != self._seu_version:
            self._step_seu(dt_s)
        elif tot > 0.0:
            if self._seu_hazard + tot * dt_s < self._seu_threshold:
                self._seu_hazard += tot * dt_s
            else:
                self._step_seu(dt_s)
        if self._slow_faults:
            self._step_slow_faults(dt_s)
        self._time_ns += round(dt_s * _NS)

    def _beta_changed(self) -> None:
        """β moved (orbit beta_mode 'j2'): the radiators' direct sunlight follows it."""
        self._sun_unit_w_m2 = panel_absorbed_w_per_m2(
            1.0, self._orbit.sin_beta_abs, 0.0, 0.0, 1.0, 0.0
        )

    def run(self, duration_s: float, dt_s: float) -> None:
        """Step ``duration_s`` in steps of ``dt_s`` (last step shortened to land exactly)."""
        end_ns = self._time_ns + round(duration_s * _NS)
        step_ns = round(dt_s * _NS)
        while self._time_ns + step_ns <= end_ns:
            self.step(dt_s)
        rest = end_ns - self._time_ns
        if rest > 0:
            self.step(rest / _NS)

    # pumps and flow ----------------------------------------------------------------------

    def _update_flows(self, dt_s: float) -> None:
        """Pumps and loop flow (Loops); the thermal network follows a change of flow."""
        bus = self._bus
        changed, steady = self._loops.update_flows(dt_s, bus.on[bus.pump_sw0 : bus.slot_sw0])
        self._pump_heat_w = self._loops.pump_heat_total_w
        self._pump_power_w = self._loops.pump_power_total_w
        self._qconst_dirty = True
        if changed:
            self._coeff_dirty = True
        self._flows_steady = steady and not self._slow_faults
        self._flows_dirty = False

    # power -------------------------------------------------------------------------------

    def _refresh_slot_demand(self) -> None:
        """Requested power of each slot (before bus shedding) and housekeeping total."""
        on = self._s_enabled & ~self._s_tshut & self._bus.on[self._bus.slot_sw0 :]
        p = board_power_w(on, self._s_util, self._s_idle, self._s_peak)
        p += np.where(on, self._s_extra_w + self._s_latch_w * self._s_latched, 0.0)
        for i, board in self._boards.items():
            p[i] = board.power_draw_w() + self._s_extra_w[i] if on[i] else 0.0
            if on[i] and self._s_latched[i]:
                p[i] += self._s_latch_w[i]
        plug = self._plug
        if plug is not None and len(plug.boards):
            idx = plug.live_slots
            p[idx] = np.where(on[idx], plug.draw_w + self._s_extra_w[idx], 0.0)
        self._s_demand = p
        self._s_demand_w = float(p.sum())
        self._demand_version += 1
        self._bus.refresh_housekeeping()
        self._slots_dirty = bool(self._boards)  # plug-in boards may change every step

    def _refresh_slot_power(self) -> None:
        """Served slot power and what the thermal step derives from it."""
        if self._lazy:
            self._rebase_dies()  # the dies' P·R is about to change
        served = self._bus.served[self._bus.slot_sw0 :]
        self._s_power = self._s_demand * served
        self._s_power_w = float(self._s_power.sum())
        self._s_pr = self._s_power * self._s_r * self._s_vec
        self._pr_max = float(self._s_pr.max()) if len(self._s_pr) else 0.0
        self._s_bpr = self._s_b * self._s_pr
        # plug-in boards hand their plate the heat their own step returns (see _step_thermal)
        self._plate_p = np.bincount(
            self._s_plate, weights=self._s_power * self._s_vec, minlength=len(self._plate_ids)
        )
        self._qconst_dirty = True

    def _plugin_supply(self, dt_s: float) -> None:
        """A plug-in board whose slot lost its supply (switch open, shed) is powered off."""
        plug = self._plug
        assert plug is not None
        supplied = (self._bus.on & self._bus.served)[self._bus.slot_sw0 :][plug.live_slots]
        if supplied.all():
            if not self._plug_sup.all():
                self._plug_sup = supplied
            return
        self._plug_sup = supplied
        for k in np.flatnonzero(~supplied).tolist():
            board = plug.boards[k]
            if board.state is not PowerState.OFF:
                board.power_off()
                self._slots_dirty = True
        # An unpowered board still integrates its standby draw (the contract has no "no power
        # at all" state); that heat is booked so that the thermal balance closes.
        unbilled_w = float(plug.draw_w[~supplied].sum())
        self._energy["compute_heat_j"] += unbilled_w * dt_s
        self._energy["compute_unbilled_standby_j"] += unbilled_w * dt_s

    def _step_power(self, dt_s: float) -> None:
        """Bus balance with shedding, then the battery (PowerBus); the slots and pumps see what
        was served, the wings how much of their power was drawn."""
        bus = self._bus
        demand_changed = self._slots_dirty
        if demand_changed:
            self._refresh_slot_demand()
        array_w = sum(self._wings.available_w)
        demand_w = bus.hk_on_w + self._pump_power_w + self._s_demand_w
        served_changed = bus.balance(
            dt_s, array_w, demand_w, self._loops.pump_power_w, self._s_demand, self._demand_version
        )
        if served_changed:
            new_p = [bool(x) for x in bus.served[bus.pump_sw0 : bus.slot_sw0]]
            if new_p != self._loops.served:
                self._loops.served = new_p
                self._flows_dirty = True
        if served_changed or demand_changed:
            self._refresh_slot_power()
        tripped = bus.protect(self._time_ns / _NS, dt_s, self._loops.pump_power_w)
        bus.step_battery(dt_s, array_w)
        self._wings.deliver(bus.array_fraction)
        e = self._energy
        e["compute_heat_j"] += self._s_power_w * dt_s
        e["pump_heat_j"] += self._pump_heat_w * dt_s
        for k in tripped:  # overcurrent: the channel opened at the end of this step
            self._switch_opened(k)

    def _switch_opened(self, k: int) -> None:
        """PDU switch ``k`` opened by itself (a trip): its load stops (a slot's board is
        powered off, a pump stops and the loop's flow follows)."""
        if k >= self._bus.slot_sw0:
            self._power_cycle_slot(k - self._bus.slot_sw0)
        self._invalidate()
        self._update_flows(0.0)

    # thermal -----------------------------------------------------------------------------

    def _refresh_coeffs(self, dt_s: float) -> None:
        """Coefficients of the linear thermal network; they change only with dt, flow,
        inventory and board resistance, so they are computed once and reused.

        The step of the plates, legs and panels is T' = M·(C/dt·T + Q) with M = (C/dt + L)⁻¹
        (implicit_network_operator). Q is linear in the state: each plate receives its
        boards' power minus what their dies store, P − Σ C_b/dt·(T_b' − T_b), and the exact
        die step makes T_b' − T_b = (1 − e^(−dt/RC))·(T_plate + P·R − T_b); the panels absorb
        k_sun·sun + k_albedo·albedo + k_IR; the legs get the pump heat. So T' = A·z with
        z = [T, T_b, sun, albedo, 1] and A assembled here from M once per change (the constant
        column, which carries the board and pump powers, in _refresh_qconst).
        """
        self._dt_cache = dt_s
        self._coeff_dirty = False
        t_net = self._tn.copy()
        die = self._s_temp.copy()
        cp = self._loops.cp_j_per_kg_k
        flow = self._loops.flow_kg_s
        self._s_decay = board_die_decay(dt_s, self._s_r, self._s_c)
        self._s_pr = self._s_power * self._s_r * self._s_vec
        self._pr_max = float(self._s_pr.max()) if len(self._s_pr) else 0.0
        self._s_c_dt = self._s_c / dt_s * self._s_vec
        self._cp_g = hx_conductance_w_per_k(
            self._cp_ua,
            flow[self._cp_loop] / self._cp_per_loop[self._cp_loop],
            cp[self._cp_loop],
        )
        self._rp_g = hx_conductance_w_per_k(
            self._rp_ua,
            flow[self._rp_loop] / self._rp_per_loop[self._rp_loop],
            cp[self._rp_loop],
        )
        # a drained loop keeps the fluid wetting its walls (1 %), which keeps C/dt + L regular
        inv = np.maximum(
            self._loops.inventory_kg, 0.01 * np.asarray(self._loops.inventory_nominal_kg)
        )
        leg_c = inv * cp * 0.5
        self._tn_c = np.concatenate([self._cp_c, leg_c, self._rp_c, leg_c])
        lm = coolant_network_matrix(
            len(self._loop_ids),
            self._cp_loop,
            self._cp_g,
            self._rp_loop,
            self._rp_g,
            flow * cp,
        )
        m, self._tn_c_dt = implicit_network_operator(self._tn_c, dt_s, lm)
        self._tn_m = m
        self._rp_c_dt = self._rp_c / dt_s
        self._rp_r = self._rp_c_dt / self._rp_kemit
        self._rp_r_list = self._rp_r.tolist()
        # the assembled step matrix A (see the docstring)
        self._s_b = 1.0 - self._s_decay
        self._s_bpr = self._s_b * self._s_pr
        w = self._s_c_dt * self._s_b  # die weight: plate heat per K of T_plate + P·R − T_b
        self._s_w = w
        key = self._cls_key
        if key is None or not np.array_equal(key[0], self._s_decay):
            pairs = np.column_stack([self._s_plate.astype(float), self._s_decay])
            uniq, cls = np.unique(pairs, axis=0, return_inverse=True)
            key = (self._s_decay.copy(), cls.ravel(), uniq)
            self._cls_key = key
        _, cls, uniq = key
        k = len(uniq)
        self._layout_state(t_net, die, cls, k)
        n_net, n_p, n = self._n_net, self._n_plates, len(die)
        a = self._za
        np.multiply(m, self._tn_c_dt, out=a[:n_net, :n_net])
        m_p = np.ascontiguousarray(m[:, :n_p])
        self._tn_m_plates = m_p
        a[:n_net, :n_p] -= m_p * np.bincount(self._s_plate, weights=w, minlength=n_p)
        if self._lazy:
            cls_plate = uniq[:, 0].astype(np.intp)
            cls_a = uniq[:, 1]
            r = np.arange(k)
            iy, ih, ip, ig = n_net, n_net + k, n_net + 2 * k, n_net + 3 * k
            a[:n_net, iy : iy + k] = m_p[:, cls_plate]  # the plates receive Σ w·T_b
            a[iy + r, iy + r] = cls_a  # Y' = a·Y + Σ w·b·T_plate + Σ w·b·P·R
            a[iy + r, cls_plate] = np.bincount(cls, weights=w * self._s_b, minlength=k)
            a[ih + r, ih + r] = cls_a  # h' = a·h + T_plate
            a[ih + r, cls_plate] = 1.0
            a[ip + r, ip + r] = cls_a  # p' = a·p
            a[ig + r, ig + r] = cls_a  # g' = a·g + 1
            a_min = float(cls_a.min())
            x = -math.log(a_min) if a_min > 0.0 else math.inf
            self._rebase_every = max(1, min(4096, int(300.0 / x))) if x > 0.0 else 4096
            self._rebase_in = self._rebase_every
        else:
            a[:n_net, n_net : n_net + n] = m_p[:, self._s_plate] * w
        if self._rp_env:
            m_k = m[:, self._panel_sl]
            a[:n_net, self._iz_sun] = m_k @ self._k_sun
            a[:n_net, self._iz_albedo] = m_k @ self._k_albedo
        self._qconst_dirty = True

    def _refresh_qconst(self) -> None:
        """The constant column of A: M·(board power − Σ w·P·R per plate, pump heat, IR)."""
        self._qconst_dirty = False
        n_p = len(self._plate_ids)
        q = np.zeros(len(self._tn))
        q[:n_p] = self._plate_p - np.bincount(
            self._s_plate, weights=self._s_w * self._s_pr, minlength=n_p
        )
        q[n_p : n_p + len(self._loop_ids)] = self._loops.pump_heat_w
        if self._rp_env:
            q[self._panel_sl] += self._k_ir
        col = self._za[:, self._iz_const]
        n_net = self._n_net
        col[:n_net] = self._tn_m @ q
        if self._lazy:
            k = self._n_cls
            col[n_net : n_net + k] = np.bincount(
                self._cls, weights=self._s_w * self._s_bpr, minlength=k
            )
            col[n_net + 3 * k : n_net + 4 * k] = 1.0

    def _step_thermal(self, dt_s: float, cos_u: float) -> None:
        """One thermal step; ``cos_u`` is cos(orbit phase), which step() has at hand."""
        if self._coeff_dirty or dt_s != self._dt_cache:
            self._refresh_coeffs(dt_s)
        if self._qconst_dirty:
            self._refresh_qconst()
        z = self._z
        if self._rp_env:
            # absorbed sunlight, albedo and Earth IR (panel normals along ± orbit normal: the
            # Sun lights one face at |sin β|, edge-on at β = 0; albedo and IR reach every
            # face); both fluxes are linear in their driver, so unit values computed once by
            # panel_absorbed_w_per_m2 are scaled here
            sun = self._orbit.illumination * self._sun_unit_w_m2
            c = self._orbit.cos_beta * cos_u
            albedo = c * self._albedo_unit_w_m2 if c > 0.0 else 0.0
            z[self._iz_sun] = sun
            z[self._iz_albedo] = albedo
            self._absorbed_sun = sun
            total = self._k_sun_sum * sun + self._k_albedo_sum * albedo + self._k_ir_sum
            self._energy["absorbed_env_j"] += total * dt_s
        # plates, coolant legs and panels: one backward-Euler step of the linear network,
        # with the dies' exchange with their plates folded in (A·z, see _refresh_coeffs and
        # _layout_state) ...
        # (the ndarray methods and [...] assignments below skip numpy's function dispatch
        # and slice objects; same operations)
        t_new = self._tn_new
        self._za.dot(z, t_new)
        lazy = self._lazy
        if not lazy:
            # ... the boards: exact exponential step of each die toward plate + P·R (plates
            # held); when carried by class, A·z has stepped their class states
            die = self._die_view
            t_inf = self._cp_temp.take(self._s_plate)
            t_inf += self._s_pr
            die -= t_inf
            die *= self._s_decay
            die += t_inf
        plug = self._plug
        if plug is not None and len(plug.boards):
            # each plug-in board steps its own die against its plate (held over the step, as
            # the vector dies are) and returns the heat it delivered into the plate
            heat = plug.step(dt_s, self._cp_temp)
            extra = self._s_extra_w[plug.live_slots]
            if extra.any():
                heat = heat + extra * self._plug_sup
            q_plug = np.bincount(plug.plates, weights=heat, minlength=self._n_plates)
            t_new[: self._n_net] += self._tn_m_plates @ q_plug
        self._z_state[...] = t_new
        if lazy:
            self._die_fresh = False
            rebase_in = self._rebase_in - 1
            self._rebase_in = rebase_in
            if rebase_in <= 0:
                self._rebase_dies()
        # ... then the panels' εσT⁴ emission (operator splitting): radiation_step_inplace_k
        # operation for operation on Python floats (cheaper than six numpy calls for a few
        # panels), the drops summed per panel
        rp = self._rp_temp
        drop_sum = self._rad_drop_sum
        out = []
        i = 0
        for t_k, r_k in zip(rp.tolist(), self._rp_r_list, strict=True):
            d = t_k / (r_k / (t_k * t_k * t_k) + 4.0)
            out.append(t_k - d)
            drop_sum[i] += d
            i += 1
        rp[...] = out
        # thermal shutdown: each new die temperature lies between its old one and
        # T_plate + P·R, so max(old bound, max plate + max P·R) bounds the new maximum; the
        # dies are computed and scanned only when that bound reaches the shutdown floor
        bound = self._plate_max + self._pr_max
        if bound < self._die_max_bound:
            bound = self._die_max_bound
        floor = self._s_shutdown_floor_k
        if bound > floor:
            die = self._s_temp
            bound = float(np.maximum.reduce(die)) if len(die) else -math.inf
            if bound > floor:
                self._check_thermal_shutdown()
        self._die_max_bound = bound
        self._plate_max = max(self._cp_temp.tolist())
        if self._boards:
            die = self._s_temp
            for i, board in self._boards.items():
                board.set_die_temp_k(float(die[i]))

    def _check_thermal_shutdown(self) -> None:
        trip = (self._s_temp > self._s_shutdown_k) & self._s_enabled & ~self._s_tshut
        if trip.any():
            self._s_tshut |= trip
            self._slots_dirty = True

    def _panel_absorbed_w(self) -> np.ndarray:
        """Environment heat absorbed by each panel in the last step (truth)."""
        sun = self._absorbed_sun
        if not self._rp_env or sun < 0.0:
            return np.zeros(len(self._panel_ids))
        albedo = float(self._z[self._iz_albedo])
        return self._k_albedo * albedo + (self._k_sun * sun + self._k_ir)

    # upsets ------------------------------------------------------------------------------

    def _step_seu(self, dt_s: float) -> None:
        key = (self._orbit.in_saa, self._seu_version)
        if key != self._seu_cache_key:
            self._seu_cache_key = key
            rate = seu_rate_per_s(
                self._s_seu_base * self._s_seu_mult, self._orbit.in_saa, self._saa_factor
            )
            self._seu_cum = np.cumsum(rate)
            self._seu_total_per_s = float(self._seu_cum[-1]) if len(rate) else 0.0
        # one Poisson process for all boards, thinned to unpowered boards (no state to upset)
        self._seu_hazard += self._seu_total_per_s * dt_s
        while self._seu_hazard >= self._seu_threshold:
            self._seu_hazard -= self._seu_threshold
            self._seu_threshold = float(self._seu_rng.exponential())
            x = self._seu_rng.random() * self._seu_total_per_s
            i = min(int(np.searchsorted(self._seu_cum, x, side="right")), len(self._seu_cum) - 1)
            plug = self._plug.by_slot.get(i) if self._plug is not None else None
            if plug is not None:
                self._plugin_upset(i, plug)
                continue
            if self._s_power[i] <= 0.0:
                continue
            self._s_seu[i] += 1
            if self._seu_rng.random() < self._s_unc_frac[i]:
                self._s_unc[i] += 1

    def _plugin_upset(self, i: int, slot: PluginSlot) -> None:
        """Deliver one radiation hit to a plug-in board (the mix: plugin_upset_kind)."""
        board = slot.board
        if board is None or board.state is PowerState.OFF:
            return
        busy = board.health().active_job_id is not None
        kind = plugin_upset_kind(
            float(self._seu_rng.random()),
            busy,
            float(self._s_unc_frac[i]),
            float(self._s_hang_frac[i]),
            float(self._s_flip_frac[i]),
        )
        self.deliver_upset(i, kind)

    def deliver_upset(self, i: int, kind: str) -> None:
        """Apply an upset of ``kind`` (a UpsetKind value) to slot index ``i`` and count it.

        A plug-in board gets ``inject_upset``; a simple slot models only latch_up, memory_ce
        and memory_ue (FaultError for the others is raised by the fault catalogue)."""
        plug = self._plug.by_slot.get(i) if self._plug is not None else None
        if plug is not None:
            if plug.board is None or plug.board.state is PowerState.OFF:
                return
            plug.board.inject_upset(UpsetKind(kind))
            self._slots_dirty = True
        elif kind == "latch_up":
            if self._s_enabled[i] and self._bus.on[self._bus.slot_sw0 + i]:
                self._s_latched[i] = True
                self._slots_dirty = True
            return
        elif self._s_power[i] <= 0.0:
            return
        self._s_seu[i] += 1
        if kind == "memory_ue":
            self._s_unc[i] += 1

    # slow fault processes ----------------------------------------------------------------

    def _step_slow_faults(self, dt_s: float) -> None:
        if self._loops.step_slow(dt_s):
            self._coeff_dirty = True
        self._flows_dirty = True

    # ------------------------------------------------------------------------------ faults

    def inject_fault(
        self,
        fault_id: str,
        target: str,
        params: dict[str, Any] | None = None,
        at_time_s: float | None = None,
    ) -> ActiveFault:
        """Inject a catalogue fault now, or schedule it for mission time ``at_time_s``."""
        fault = resolve_fault(self, fault_id, target, params, at_time_s)
        if at_time_s is None or at_time_s <= self.time_s:
            activate_fault(self, fault, self.time_s)
            self._faults.append(fault)
        else:
            self._pending.append(fault)
            self._pending.sort(key=lambda f: f.at_time_s or 0.0)
            self._next_pending_s = self._pending[0].at_time_s or 0.0
        return fault

    def _activate_due(self, t: float) -> None:
        while self._pending and (self._pending[0].at_time_s or 0.0) <= t:
            f = self._pending.pop(0)
            activate_fault(self, f, t)
            self._faults.append(f)
        self._next_pending_s = self._pending[0].at_time_s or 0.0 if self._pending else math.inf

    def clear_fault(self, fault_id: str, target: str) -> None:
        """Remove an active or scheduled fault (permanent damage stays: see the catalogue)."""
        for lst in (self._pending, self._faults):
            for f in list(lst):
                if f.fault_id == fault_id and f.target == target:
                    lst.remove(f)
                    if lst is self._faults:
                        deactivate_fault(self, f)
                    self._next_pending_s = (
                        self._pending[0].at_time_s or 0.0 if self._pending else math.inf
                    )
                    return
        raise FaultError(f"no active or scheduled fault {fault_id!r} on {target!r}")

    def fault_targets(self, kind: str) -> dict[str, int]:
        """Fault targets of a catalogue target kind: full target id -> index in its owner."""
        if kind == "pump":
            return dict(self._loops.pump_index)
        if kind == "radiator":
            return {f"radiator.{p}": i for i, p in enumerate(self._panel_ids)}
        if kind == "radsensor":
            return dict(self._rs_index)
        if kind == "wing":
            return {d: i for i, d in enumerate(self._wings.device_ids())}
        if kind == "battery":
            return {"battery": 0}
        if kind == "switch":
            return {f"pdu.{n}": i for i, n in enumerate(self._bus.switch_names)}
        if kind == "slot":
            return {f"slot.{s}": i for i, s in enumerate(self._slot_ids)}
        raise ValueError(f"unknown fault target kind {kind!r}")

    def dispatch_fault(
        self, kind: str, fault_id: str, i: int, params: dict[str, Any], time_s: float
    ) -> None:
        """Hand a resolved catalogue fault to the subsystem owning target ``i`` of ``kind``
        (``hwsim.faults.activate_fault`` calls this), then let the others see its effect."""
        if kind == "wing":
            self._wings.apply_fault(fault_id, i, params, time_s)
        elif kind == "pump":
            self._loops.apply_fault(fault_id, i, params, time_s)
            self._apply_fault_here(fault_id, i, params, time_s)
        elif kind in ("battery", "switch"):
            self._bus.apply_fault(fault_id, i, params, time_s)
            if kind == "switch":
                self._apply_fault_here(fault_id, i, params, time_s)
        else:
            self._apply_fault_here(fault_id, i, params, time_s)
        self._invalidate()

    def dispatch_fault_clear(
        self, kind: str, fault_id: str, i: int, params: dict[str, Any]
    ) -> None:
        """Undo what is reversible of a fault, in the subsystem owning its target."""
        if kind == "wing":
            self._wings.clear_fault(fault_id, i, params)
        elif kind == "pump":
            self._loops.clear_fault(fault_id, i, params)
        elif kind in ("battery", "switch"):
            self._bus.clear_fault(fault_id, i, params)
        else:
            self._clear_fault_here(fault_id, i, params)
        self._invalidate()

    def _apply_fault_here(self, fid: str, i: int, p: dict[str, Any], time_s: float) -> None:
        if fid == "pump_seizure":
            self._invalidate()
            self._update_flows(0.0)
        elif fid == "radiator_puncture":
            li = int(self._rp_loop[i])
            self._rp_punctured[i] = True
            self._loops.add_leak(li, float(p["leak_rate_kg_s"]))
        elif fid.startswith("sensor_"):
            self._rs_t0[i] = time_s
            if fid == "sensor_stuck":
                v = p["value_k"]
                self._rs_stuck_k[i] = (
                    float(self._rp_temp[self._rs_panel[i]]) if v is None else float(v)
                )
                self._rs_mode[i] = 1
            elif fid == "sensor_drift":
                self._rs_drift_k_s[i] = float(p["rate_k_per_hour"]) / 3600.0
                self._rs_mode[i] = 2
            elif fid == "sensor_noisy":
                self._rs_noise_extra[i] = float(p["noise_std_k"])
                self._rs_mode[i] = 3
            else:
                self._rs_mode[i] = 4
        elif fid == "switch_trip":
            self._switch_opened(i)
        elif fid == "board_overtemp":
            plug = self._plug.by_slot.get(i) if self._plug is not None else None
            if plug is not None:
                if plug.board is not None and self._plug is not None:
                    k = plug.live_index
                    r_board = float(self._plug.die_to_plate_k_per_w[k])
                    factor = float(p["resistance_factor"])
                    self._plug.extra_r_k_per_w[k] = max(0.0, factor - 1.0) * r_board
                    self._plug.extra_heat_w[k] = float(p["extra_heat_w"])
                    self._s_extra_w[i] = float(p["extra_heat_w"])
            else:
                self._s_r[i] = self._s_r_nom[i] * float(p["resistance_factor"])
                self._s_extra_w[i] = float(p["extra_heat_w"])
            self._invalidate()
        elif fid == "board_upset":
            self.deliver_upset(i, str(p["kind"]))
        elif fid == "board_latchup":
            plug = self._plug.by_slot.get(i) if self._plug is not None else None
            if plug is not None:
                if plug.board is not None:
                    plug.board.inject_upset(UpsetKind.LATCH_UP)
            elif self._s_enabled[i] and self._bus.on[self._bus.slot_sw0 + i]:
                self._s_latched[i] = True
                self._s_latch_w[i] = float(p["extra_power_w"])
                self._slots_dirty = True
        elif fid == "seu_burst":
            self._s_seu_mult[i] = float(p["rate_multiplier"])
            self._seu_version += 1

    def _clear_fault_here(self, fid: str, i: int, params: dict[str, Any]) -> None:
        if fid == "radiator_puncture":
            li = int(self._rp_loop[i])
            self._loops.remove_leak(li, float(params["leak_rate_kg_s"]))
            self._rp_punctured[i] = False
        elif fid.startswith("sensor_"):
            self._rs_mode[i] = 0
            self._rs_noise_extra[i] = 0.0
            self._rs_drift_k_s[i] = 0.0
        elif fid == "board_overtemp":
            self._s_r[i] = self._s_r_nom[i]
            self._s_extra_w[i] = 0.0
            plug = self._plug.by_slot.get(i) if self._plug is not None else None
            if plug is not None and plug.board is not None and self._plug is not None:
                self._plug.extra_r_k_per_w[plug.live_index] = 0.0
                self._plug.extra_heat_w[plug.live_index] = 0.0
            self._invalidate()
        elif fid == "seu_burst":
            self._s_seu_mult[i] = 1.0
            self._seu_version += 1

    def active_faults(self) -> list[ActiveFault]:
        """Active faults, then scheduled ones (``active`` False)."""
        return [*self._faults, *self._pending]

    # ------------------------------------------------------------------------------ devices

    @property
    def plugin_slots(self) -> PluginSlots | None:
        """The plug-in boards and their slots (None if the configuration names none); the
        serve process attaches its job executor to them."""
        return self._plug

    def device_ids(self) -> list[str]:
        ids: list[str] = []
        ids.extend(self._loops.device_ids())
        ids.extend(self._rs_ids)
        ids.extend(self._wings.device_ids())
        ids.append("battery")
        ids.append("pdu")
        ids.extend(f"slot.{s}" for s in self._slot_ids)
        ids.append("backplane")
        return ids

    def _kind(self, device_id: str) -> tuple[str, int]:
        head, _, rest = device_id.partition(".")
        try:
            if head == "pump":
                return "pump", self._loops.pump_index[device_id]
            if head == "loop":
                return "loop", self._loop_index[rest]
            if head == "radsensor":
                return "radsensor", self._rs_index[device_id]
            if head == "wing":
                return "wing", self._wings.index[rest]
            if head == "slot":
                return "slot", self._slot_index[rest]
            if device_id == "battery":
                return "battery", 0
            if device_id == "pdu":
                return "pdu", 0
            if device_id == "backplane":
                return "backplane", 0
        except KeyError:
            pass
        raise DeviceError(
            "unknown_device",
            f"no device {device_id!r}; kinds: pump.L<n>.<A|B>, loop.L<n>, radsensor.P<nn>.S<n>, "
            "wing.W<n>, battery, pdu, slot.<nnn>, backplane (see device_ids())",
        )

    def _device_kind(self, kind: str, i: int) -> DeviceKind:
        """The ICD kind of a device (a slot is a board slot or a built-in one)."""
        if kind == "slot":
            return (
                BOARD_SLOT if self._plug is not None and i in self._plug.by_slot else BUILTIN_SLOT
            )
        return icd_devices.DEVICE_KINDS[kind]

    def describe(self, device_id: str) -> DeviceDescription:
        """Generated from the ICD models (``icd.devices``)."""
        kind, i = self._kind(device_id)
        members: list[str] = []
        if kind == "pdu":
            members = self._bus.switch_names
        elif kind == "backplane":
            members = self._plugin_slot_ids()
        return self._device_kind(kind, i).describe(device_id, members)

    def read(self, device_id: str) -> dict[str, float | int | bool | str]:
        """The device's registers as they go on the wire (see :meth:`read_model`)."""
        if device_id == "backplane":  # the same map, without building the aggregate model
            return BackplaneRegisters.wire_of(self._plugin_slot_registers())
        return self.read_model(device_id).wire()

    def read_model(self, device_id: str) -> DeviceRegisters:
        """The device's registers as its ICD model: built here, so hwsim cannot send what the
        ICD does not describe."""
        kind, i = self._kind(device_id)
        return getattr(self, f"_read_{kind}")(i)

    def _read_pump(self, i: int) -> PumpRegisters:
        bus = self._bus
        return self._loops.read_pump(i, bool(bus.on[bus.pump_sw0 + i]), bus.voltage_v)

    def _read_loop(self, li: int) -> LoopRegisters:
        return self._loops.read_loop(
            li, self._l_supply[li], self._l_return[li], self._loop_heat_w()[li]
        )

    def _read_radsensor(self, i: int) -> SensorRegisters:
        true_k = self._rp_temp[self._rs_panel[i : i + 1]]
        mode = int(self._rs_mode[i])
        if mode == 4:
            return SensorRegisters(temp_k=0.0)
        if mode == 1:
            return SensorRegisters(temp_k=float(self._rs_stuck_k[i]))
        bias = self._rs_bias[i : i + 1]
        if mode == 2:
            bias = bias + self._rs_drift_k_s[i] * (self.time_s - self._rs_t0[i])
        noise = self._rs_noise[i : i + 1] + self._rs_noise_extra[i : i + 1]
        value = sensor_reading_k(true_k, bias, noise, self._rs_quant[i : i + 1], self._sensor_rng)
        # a noisy sensor near 0 K is not physical; the ICD bounds it at 0 (= open circuit)
        return SensorRegisters(temp_k=max(float(value[0]), 0.0))

    def _read_wing(self, i: int) -> WingRegisters:
        orbit = self._orbit
        return self._wings.read(i, orbit.phase_rad, orbit.illumination_at(self.time_s))

    def _read_battery(self, _: int) -> BatteryRegisters:
        return self._bus.read_battery()

    def _read_pdu(self, _: int) -> PduRegisters:
        return self._bus.read_pdu(
            self._loops.pump_power_w, self._s_power, self.mission_time_origin_s
        )

    @property
    def _sw_names(self) -> list[str]:
        """PDU switch names (the power bus's ``switch_names``; kept for old callers)."""
        return self._bus.switch_names

    def _slot_state(self, i: int) -> str:
        if not self._bus.on[self._bus.slot_sw0 + i]:
            return "unpowered"
        if self._s_tshut[i]:
            return "thermal_shutdown"
        if not self._s_enabled[i]:
            return "off"
        if not self._bus.served[self._bus.slot_sw0 + i]:
            return "shed"
        if self._s_latched[i]:
            return "latched"
        return "on"

    def _plugin_slot_ids(self) -> list[str]:
        if self._plug is None:
            return []
        return [self._slot_ids[i] for i in sorted(self._plug.by_slot)]

    def _slot_supply(self, i: int) -> str:
        k = self._bus.slot_sw0 + i
        if not self._bus.on[k]:
            return "unpowered"
        return "on" if self._bus.served[k] else "shed"

    def _read_plugin_slot(self, i: int, slot: PluginSlot) -> BoardSlotRegisters:
        from hwsim.boards.slots import board_registers

        supply = self._slot_supply(i)
        power_w = 0.0
        if supply == "on" and slot.board is not None:
            power_w = float(slot.board.power_draw_w() + self._s_extra_w[i])
        return board_registers(
            slot,
            supply=supply,
            power_w=power_w,
            plate_temp_k=float(self._cp_temp[self._s_plate[i]]),
            inlet_temp_k=float(self._l_supply[self._s_loop[i]]),
            bus_voltage_v=float(self._bus.voltage_v),
            seu_count=int(self._s_seu[i]),
        )

    def _plugin_slot_registers(self) -> dict[str, BoardSlotRegisters]:
        if self._plug is None:
            return {}
        return {
            self._slot_ids[i]: self._read_plugin_slot(i, self._plug.by_slot[i])
            for i in sorted(self._plug.by_slot)
        }

    def _read_backplane(self, _: int) -> BackplaneRegisters:
        slots = self._plugin_slot_registers()
        return BackplaneRegisters(slots={sid: BackplaneSlot.of(r) for sid, r in slots.items()})

    def _read_slot(self, i: int) -> BoardSlotRegisters | BuiltinSlotRegisters:
        plug = self._plug.by_slot.get(i) if self._plug is not None else None
        if plug is not None:
            return self._read_plugin_slot(i, plug)
        pw = float(self._s_power[i])
        return BuiltinSlotRegisters(
            kind=self._slot_cfg[i].kind,
            power_state=self._slot_state(i),
            powered=pw > 0.0,
            utilisation=float(self._s_util[i]),
            power_w=pw,
            current_a=pw / max(self._bus.voltage_v, 1.0),
            die_temp_k=float(self._s_temp[i]),
            plate_temp_k=float(self._cp_temp[self._s_plate[i]]),
            inlet_temp_k=float(self._l_supply[self._s_loop[i]]),
            max_die_temp_k=float(self._s_max[i]),
            overtemp=bool(self._s_temp[i] > self._s_max[i]),
            latchup=bool(self._s_latched[i]),
            seu_count=int(self._s_seu[i]),
            uncorrectable_errors=int(self._s_unc[i]),
        )

    # commands ----------------------------------------------------------------------------

    def command(self, device_id: str, command: str, args: dict[str, Any]) -> dict[str, Any]:
        """Execute a device command; returns the device's registers after it (a board slot:
        the command's result). Arguments are checked against the ICD command model first."""
        kind, i = self._kind(device_id)
        device_kind = self._device_kind(kind, i)
        if command not in device_kind.commands:
            raise DeviceError(
                "unknown_command",
                f"{device_id} has no command {command!r}; "
                f"valid: {sorted(device_kind.commands) or 'none'}",
            )
        try:
            parsed = device_kind.parse_args(device_id, command, args or {})
        except CommandArgsInvalid as exc:
            raise DeviceError("bad_argument", str(exc)) from None
        if device_kind is BOARD_SLOT:
            assert self._plug is not None
            return self._cmd_plugin_slot(i, self._plug.by_slot[i], command, parsed)
        getattr(self, f"_cmd_{kind}")(i, command, parsed)
        return self.read(device_id)

    def _cmd_backplane(self, i: int, command: str, args: object) -> None:
        raise DeviceError(
            "unknown_command",
            f"backplane.{command} is a long poll served by a running hwsim's device port, "
            "not by the model alone",
        )

    # commands that need the board to have supply; the others work on an unpowered slot
    _SUPPLIED_COMMANDS = frozenset(
        {"power_on", "power_cycle", "reset", "self_test", "submit_job", "set_throttle"}
    )

    def _cmd_plugin_slot(
        self, i: int, slot: PluginSlot, command: str, args: CommandArgs
    ) -> dict[str, Any]:
        """A slot command on a plug-in board: returns the command's result (not registers)."""
        from hwsim.boards.slots import board_command

        sid = f"slot.{self._slot_ids[i]}"
        if command in self._SUPPLIED_COMMANDS and slot.board is not None:
            supply = self._slot_supply(i)
            if supply == "unpowered":
                raise DeviceError("device_off", f"{sid}.{command}: PDU switch is off")
            if supply == "shed":
                raise DeviceError("device_off", f"{sid}.{command}: slot shed by the bus")
        result = board_command(slot, command, args)
        self._slots_dirty = True
        return result

    def _cmd_pump(self, i: int, command: str, args: CommandArgs) -> None:
        bus = self._bus
        restart = self._loops.command_pump(i, command, args, bool(bus.on[bus.pump_sw0 + i]))
        self._invalidate()
        if restart:
            self._update_flows(0.0)

    def _cmd_wing(self, i: int, command: str, args: CommandArgs) -> None:
        self._wings.command(i, command, args)

    def _cmd_slot(self, i: int, command: str, args: CommandArgs) -> None:
        sid = f"slot.{self._slot_ids[i]}"
        if isinstance(args, SetUtilisation):
            if not self._bus.on[self._bus.slot_sw0 + i]:
                raise DeviceError("device_off", f"{sid}: PDU switch is off")
            if self._s_latched[i]:
                raise DeviceError("device_fault", f"{sid} is latched up; power-cycle it")
            self._s_util[i] = args.value
        elif command == "power_on":
            if not self._bus.on[self._bus.slot_sw0 + i]:
                raise DeviceError("device_off", f"{sid}: PDU switch is off")
            self._s_enabled[i] = True
        else:
            self._s_enabled[i] = False
            self._power_cycle_slot(i)
        self._invalidate()

    def _power_cycle_slot(self, i: int) -> None:
        """Removing power clears a latch-up and a thermal shutdown (and powers a plug-in
        board off)."""
        self._s_latched[i] = False
        self._s_tshut[i] = False
        plug = self._plug.by_slot.get(i) if self._plug is not None else None
        if plug is not None and plug.board is not None:
            plug.board.power_off()
        self._invalidate()

    def _cmd_pdu(self, _: int, command: str, args: CommandArgs) -> None:
        k = self._bus.command_pdu(command, args)
        bus = self._bus
        if command == "switch_off" and k >= bus.slot_sw0:
            self._power_cycle_slot(k - bus.slot_sw0)
        self._invalidate()
        if bus.pump_sw0 <= k < bus.slot_sw0:
            self._update_flows(0.0)

    # ------------------------------------------------------------------------------ truth

    def _thermal_energy_j(self) -> float:
        boards_j = self._plug.stored_energy_j() if self._plug is not None else 0.0
        return (
            float((self._s_c * self._s_temp * self._s_vec).sum() + (self._tn_c * self._tn).sum())
            + boards_j
        )

    def _loop_heat_w(self) -> np.ndarray:
        """Heat the coolant picks up from its plates (at their present temperatures) and pumps."""
        q = self._cp_g * (self._cp_temp - self._l_supply[self._cp_loop])
        return np.bincount(self._cp_loop, weights=q, minlength=len(self._loop_ids)) + (
            self._loops.pump_heat_w
        )

    def _energy_snapshot(self) -> dict[str, float]:
        drop = self._rad_drop_sum
        if any(drop):
            self._energy["radiated_j"] += float(np.dot(self._rp_c, drop))
            self._rad_drop_sum = [0.0] * len(drop)
        return {k: float(v) for k, v in self._energy.items()}

    def truth(self) -> dict[str, Any]:
        """Ground-truth snapshot for tests and what-if output (not a device)."""
        orbit = self._orbit
        sun = orbit.sun_vector_body()
        lat, lon = orbit.lat_lon_deg()
        return {
            "time_s": float(self.time_s),
            "orbit_phase_rad": float(orbit.phase_rad),
            "orbit_phase_deg": float(math.degrees(orbit.phase_rad)),
            "beta_deg": float(math.degrees(orbit.beta_rad)),
            "raan_deg": float(math.degrees(orbit.raan_rad)),
            "illumination": float(orbit.illumination),
            "eclipse": bool(orbit.illumination <= 0.0),
            "sun_vector_body": [float(c) for c in sun],
            "latitude_deg": float(lat),
            "longitude_deg": float(lon),
            "in_saa": bool(orbit.in_saa),
            "array_power_w": float(self._bus.array_used_w),
            "array_available_w": float(self._wings.available_total_w),
            "load_power_w": float(self._bus.load_w),
            "demand_power_w": float(self._bus.demand_w),
            "compute_power_w": float(self._s_power.sum()),
            "pump_power_w": float(sum(self._loops.pump_power_w)),
            "battery_soc": float(self._bus.soc),
            "battery_power_w": float(self._bus.power_w),
            "shed_loads": self._bus.shed_names(),
            "wing_temp_k": [float(x) for x in self._wings.temp_k],
            "board_die_temp_k": self._die_temps_k(),
            "cold_plate_temp_k": self._cp_temp.tolist(),
            "loop_supply_temp_k": self._l_supply.tolist(),
            "loop_return_temp_k": self._l_return.tolist(),
            "loop_flow_kg_s": self._loops.flow_kg_s.tolist(),
            "loop_inventory_kg": self._loops.inventory_kg.tolist(),
            "radiator_temp_k": self._rp_temp.tolist(),
            "radiator_absorbed_w": self._panel_absorbed_w().tolist(),
            "battery_temp_k": float(self._bus.temp_k),
            "energy_j": self._energy_snapshot(),
            "thermal_energy_change_j": float(self._thermal_energy_j() - self._thermal_energy_0_j),
            "seu_total": int(self._s_seu.sum()),
            "uncorrectable_total": int(self._s_unc.sum()),
            "plugin_slots": len(self._plug.by_slot) if self._plug is not None else 0,
            "refused_plugins": list(self._plug.refused) if self._plug is not None else [],
            "empty_slots": {
                f"slot.{self._slot_ids[i]}": reason
                for i, reason in (self._plug.empty.items() if self._plug is not None else ())
            },
        }

    def _die_temps_k(self) -> list[float]:
        temps = self._s_temp.tolist()
        if self._plug is not None:
            for i, slot in self._plug.by_slot.items():
                temps[i] = (
                    float(slot.board.health().die_temp_k)
                    if slot.board is not None
                    else float(self._cp_temp[self._s_plate[i]])
                )
        return temps

    # ------------------------------------------------------------------------------ helpers

    def _slot_idx(self, slot_id: str) -> int:
        sid = slot_id.removeprefix("slot.")
        if sid not in self._slot_index:
            raise KeyError(f"unknown slot {slot_id!r}")
        return self._slot_index[sid]
