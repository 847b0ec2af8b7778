"""The :class:`Spacecraft`: builds the subsystems, orders their steps, routes devices and
faults to their owners, and keeps the energy and heat ledgers.

The physics lives in the subsystems (``hwsim/subsystems/``, one module each; see
docs/hwsim.md, "Subsystems"): :class:`~hwsim.subsystems.orbit_env.OrbitEnv`,
:class:`~hwsim.subsystems.wings.Wings`, :class:`~hwsim.subsystems.power_bus.PowerBus`,
:class:`~hwsim.subsystems.loops.Loops`, :class:`~hwsim.subsystems.radiators.Radiators`,
:class:`~hwsim.subsystems.thermal_network.ThermalNetwork` and
:class:`~hwsim.subsystems.compute_slots.ComputeSlots`. They talk through the inputs and outputs
this class hands between them, never through each other's private state.

``step(dt_s)`` orders, in this order: scheduled faults, orbit and environment, solar wings,
pumps and loop flow (when something changed), the plug-in boards' draw, the power balance with
load shedding and the channels' protection, plug-in boards losing or regaining supply, the
plug-in boards' own die steps, the battery (carrying what the loads drew over the step, a
board's job ending inside it included), the thermal network (with the radiators' emission)
and the thermal-shutdown test, upsets, and the slow fault processes (leaks, pump wear).

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
from hwsim.model.compute import BoardModel
from hwsim.model.devices import DeviceDescription, DeviceError
from hwsim.subsystems.compute_slots import ComputeSlots
from hwsim.subsystems.loops import Loops
from hwsim.subsystems.orbit_env import OrbitEnv
from hwsim.subsystems.power_bus import PowerBus
from hwsim.subsystems.radiators import Radiators
from hwsim.subsystems.thermal_network import ThermalNetwork
from hwsim.subsystems.wings import Wings
from icd import devices as icd_devices
from icd.devices import (
    BackplaneRegisters,
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
    RadValveRegisters,
    SensorRegisters,
    WingRegisters,
)
from icd.devices.compute import BOARD_SLOT, BUILTIN_SLOT

if TYPE_CHECKING:
    from computesat_sdk.registry import BoardRegistry

    from hwsim.boards.slots import PluginSlots

__all__ = ["ActiveFault", "Spacecraft"]

_NS = 1_000_000_000

_ENERGY_LEDGER = (
    "array_j",
    "load_j",
    "battery_stored_change_j",
    "battery_loss_j",
    "compute_heat_j",
    "compute_unbilled_standby_j",
    "pump_heat_j",
    "radiated_j",
    "absorbed_env_j",
    "parasitic_j",
    "lost_coolant_j",
)


class Spacecraft:
    """Hardware model of the whole satellite, stepped by ``step(dt_s)``.

    ``seed`` fixes every random process (sensor noise, upsets); two spacecraft built from the
    same config and seed and driven by the same calls produce identical series.

    Slots that name a plug-in board (``board = "ref-gpu"``) get one from ``registry``
    (default: the installed ``computesat.boards`` plug-ins, discovered once per process).

    With ``thermal.settle_at_start`` (the default) the thermal network starts on its periodic
    orbit for the loads and flows at t = 0, settled at ``settle_step_s`` (default
    ``thermal.settle_step_s``, 1 s: pass the step the run will take); see docs/hwsim.md,
    "Settled thermal start and the dry plate".
    """

    def __init__(
        self,
        config: SpacecraftConfig,
        seed: int = 0,
        registry: BoardRegistry | None = None,
        mission_time_origin_s: float = 0.0,
        settle_step_s: float | None = None,
    ) -> None:
        self.config = config
        # Model time counts from 0; plug-in boards keep mission time (what their job results
        # carry), which is model time plus this origin (the mission time of model time 0).
        self.mission_time_origin_s = float(mission_time_origin_s)
        self.seed = int(seed)
        ss = np.random.SeedSequence(self.seed)
        s_sensor, s_seu = ss.spawn(2)
        self._time_ns = 0
        self._dt_cache = -1.0
        # the energy ledger: the subsystems book into it, truth() reports it
        self._energy = dict.fromkeys(_ENERGY_LEDGER, 0.0)
        self._orbit = OrbitEnv(config.orbit)
        self._wings = Wings(config.wings, config.orbit.altitude_km)
        o = self._orbit
        self._wings.settle(o.phase_rad, o.illumination, o.cos_beta, o.cos_phase)
        self._loops = Loops(config.loops)
        self._radiators = Radiators(
            config.radiators,
            self._loops.loop_index,
            self._orbit.altitude_km,
            self._orbit.sin_beta_abs,
            int(s_sensor.generate_state(1, np.uint64)[0]),
            self._loops.cp_j_per_kg_k.tolist(),
        )
        net = ThermalNetwork(
            config.cold_plates,
            self._loops,
            self._radiators,
            np.array([lp.initial_temp_k for lp in config.loops]),
            config.structure.temp_k,
        )
        self._network = net
        slots = ComputeSlots(
            config.compute.expanded_slots(),
            net.plate_index,
            net.plate_loop,
            net.plate_temp_k,
            config.compute.thermal_shutdown_margin_k,
            config.compute.saa_upset_factor,
            np.random.default_rng(s_seu),
            self._energy,
            registry,
            self.mission_time_origin_s,
            loop_ids=self._loops.loop_ids,
        )
        self._slots = slots
        net.bind_dies(slots.die_plate, slots.initial_die_temp_k)
        self._bus = PowerBus(
            config.battery,
            config.power_bus,
            self._loops.pump_ids,
            slots.slot_ids,
            [int(p) for p in slots.priority],
            self._energy,
            [p.channel_rating_a for lp in config.loops for p in lp.pumps],
        )
        bus = self._bus
        slots.connect_supply(bus.on[bus.slot_sw0 :], bus.served[bus.slot_sw0 :])
        # orchestration flags: what must be recomputed before the next step
        self._pump_heat_w = 0.0
        self._pump_power_w = 0.0
        self._flows_dirty = True
        self._flows_steady = False
        self._coeff_dirty = True
        self._slow_faults = False
        self._env = self._radiators.include_environment
        self._faults: list[ActiveFault] = []
        self._pending: list[ActiveFault] = []
        self._next_pending_s = math.inf
        self._invalidate()
        self._refresh_coeffs(1.0)
        self._update_flows(0.0)
        self._refresh_slot_demand()
        self._refresh_slot_power()
        self.settle_report: list[tuple[float, int, float]] = []
        if config.thermal.settle_at_start:
            step = config.thermal.settle_step_s if settle_step_s is None else settle_step_s
            if not step > 0.0:
                raise ValueError(f"settle_step_s must be > 0, got {step}")
            self._settle_thermal(registry, s_seu, step)
        self._thermal_energy_0_j = self._thermal_energy_j()

    def _settle_thermal(
        self, registry: BoardRegistry | None, s_seu: np.random.SeedSequence, step_s: float
    ) -> None:
        """Start on the thermal network's periodic orbit for the loads and flows at t = 0
        (``thermal.settle_at_start``; docs/hwsim.md, "Settled thermal start and the dry plate").

        Only the network steps (ThermalNetwork.settle_periodic), driven by the Sun and albedo
        of a separate orbit over whole periods; mission time, the orbit, wings, battery, bus,
        pumps and the boards' clocks are untouched. The plug-in boards' dies are settled with
        the network as if it stepped them (their own R and C, served power), then the
        compute slots are built afresh so that each board starts at the settled die
        temperature of its plate's main kind (a board takes its plate's temperature at
        creation; a board of another kind relaxes in ~30-90 s). The energy the panels
        radiated and the parasitic paths took while settling is drained, so the ledgers count
        from here."""
        slots = self._slots
        net = self._network
        rad = self._radiators
        plug = slots.plug
        die_r = slots.die_r_k_per_w.copy()
        die_c = slots.die_c_j_per_k.copy()
        die_vec = slots.die_vec.copy()
        live = plug.live_slots if plug is not None else np.zeros(0, dtype=np.int64)
        if plug is not None and len(live):
            die_r[live] = plug.die_to_plate_k_per_w
            die_c[live] = plug.thermal_mass_j_per_k
            die_vec[live] = 1.0
        orbit = OrbitEnv(self.config.orbit)

        def drive(times_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            illum = np.empty(len(times_s))
            cbcu = np.empty(len(times_s))
            for k, t in enumerate(times_s.tolist()):
                orbit.step(t)
                illum[k] = orbit.illumination
                cbcu[k] = orbit.cos_beta * orbit.cos_phase
            return illum, cbcu

        flux = (rad.sun_flux_w_m2, rad.albedo_flux_w_m2)
        self.settle_report = net.settle_periodic(
            drive,
            2.0 * math.pi / orbit.n_rad_s,
            die_r,
            die_c,
            die_vec,
            slots.power_w.copy(),
            self.config.thermal.settle_tolerance_k,
            step_s,
        )
        rad.sun_flux_w_m2, rad.albedo_flux_w_m2 = flux
        rad.radiated_j()
        net.take_parasitic_j()
        net.take_lost_coolant_j()
        if plug is not None and len(live):
            # a board takes one temperature per plate at creation: the C-weighted median of
            # the plate's settled dies (that of its most numerous kind by heat capacity, so
            # the odd boards out relax for a minute or two and the plate's heat is nearly
            # right; a C-weighted mean would pull every board by the odd ones' offset)
            board_t = net.plate_temp_k.copy()
            plates = slots.die_plate[live]
            settled = net.die_temp_k[live]
            c = die_c[live]
            for p in np.unique(plates).tolist():
                on = np.flatnonzero(plates == p)
                order = on[np.argsort(settled[on], kind="stable")]
                cum = np.cumsum(c[order])
                board_t[p] = settled[order[int(np.searchsorted(cum, 0.5 * cum[-1]))]]
            slots = ComputeSlots(
                self.config.compute.expanded_slots(),
                net.plate_index,
                net.plate_loop,
                board_t,
                self.config.compute.thermal_shutdown_margin_k,
                self.config.compute.saa_upset_factor,
                np.random.default_rng(s_seu),
                self._energy,
                registry,
                self.mission_time_origin_s,
                loop_ids=self._loops.loop_ids,
            )
            self._slots = slots
            bus = self._bus
            slots.connect_supply(bus.on[bus.slot_sw0 :], bus.served[bus.slot_sw0 :])
        self._invalidate()
        self._refresh_coeffs(1.0)
        self._refresh_slot_demand()
        self._refresh_slot_power()

    # ------------------------------------------------------------------------------ time

    @property
    def time_s(self) -> float:
        """Mission seconds since the configuration epoch."""
        return self._time_ns / _NS

    @property
    def time_ns(self) -> int:
        """Mission nanoseconds since the configuration epoch (exact: what snapshots and the
        serving loop keep)."""
        return self._time_ns

    # ------------------------------------------------------------------------------ plug-ins

    def install_board(self, slot_id: str, board: BoardModel) -> None:
        """Replace a slot's parameter model by a plug-in board (see :class:`BoardModel`)."""
        i = self._slot_idx(slot_id)
        if not isinstance(board, BoardModel):
            raise TypeError("board does not implement hwsim.model.compute.BoardModel")
        self._slots.install_board(i, board)
        self._invalidate()

    @property
    def plugin_slots(self) -> PluginSlots | None:
        """The plug-in boards and their slots (None if the configuration names none); the
        serve process attaches its job executor to them."""
        return self._slots.plug

    # ------------------------------------------------------------------------------ step

    def _invalidate(self) -> None:
        """Something a command or fault changed: recompute the cached quantities next step."""
        self._slots.dirty = True
        self._flows_dirty = True
        self._coeff_dirty = True
        self._slow_faults = self._loops.has_slow_faults or self._radiators.has_trapped_leak

    def step(self, dt_s: float) -> None:
        """Advance the hardware by ``dt_s`` seconds of mission time (order: module doc)."""
        if not dt_s > 0.0:
            raise ValueError("dt_s must be > 0")
        t = self._time_ns / _NS
        if t >= self._next_pending_s:
            self._activate_due(t)
        orbit = self._orbit
        if orbit.step(t):  # β moved (orbit beta_mode 'j2'): the radiators' sunlight follows
            self._radiators.set_sun_elevation(orbit.sin_beta_abs)
        self._wings.step(
            dt_s, t, orbit.phase_rad, orbit.illumination, orbit.cos_beta, orbit.cos_phase
        )
        if self._flows_dirty or not self._flows_steady:
            self._update_flows(dt_s)
        slots = self._slots
        plug = slots.plug
        if plug is not None and plug.poll_draw_w():
            slots.dirty = True
        array_w = self._step_power(dt_s)
        if plug is not None:
            slots.plugin_supply(dt_s)
        # the thermal network (the plug-in boards step their own dies against their plates
        # first, plates held), then the thermal-shutdown test
        net = self._network
        if self._coeff_dirty or dt_s != self._dt_cache or net.stale:
            self._refresh_coeffs(dt_s)
        heat = slots.step_plugins(dt_s, net.plate_temp_k) if plug is not None else None
        self._step_battery(dt_s, array_w, slots.plugin_extra_energy_j if plug is not None else 0.0)
        # the pumps' heat into the coolant over this step (what the network's step takes)
        self._energy["pump_heat_j"] += self._pump_heat_w * dt_s
        absorbed_w = net.step(orbit.illumination, orbit.cos_beta * orbit.cos_phase, heat)
        if self._env:
            self._energy["absorbed_env_j"] += absorbed_w * dt_s
        if net.dies_above(slots.shutdown_floor_k):
            slots.check_thermal_shutdown(net.die_temp_k)
        if slots.board_models:
            slots.update_boards(net.die_temp_k)
        slots.step_upsets(dt_s, orbit.in_saa)
        if self._slow_faults:
            self._step_slow_faults(dt_s)
        self._time_ns += round(dt_s * _NS)

    def run(self, duration_s: float, dt_s: float) -> None:
        """Step ``duration_s`` in steps of ``dt_s`` (last step shortened to land exactly)."""
        end_ns = self._time_ns + round(duration_s * _NS)
        step_ns = round(dt_s * _NS)
        while self._time_ns + step_ns <= end_ns:
            self.step(dt_s)
        rest = end_ns - self._time_ns
        if rest > 0:
            self.step(rest / _NS)

    def _update_flows(self, dt_s: float) -> None:
        """Pumps and loop flow (Loops); the thermal network follows a change of flow."""
        bus = self._bus
        changed, steady = self._loops.update_flows(dt_s, bus.on[bus.pump_sw0 : bus.slot_sw0])
        self._pump_heat_w = self._loops.pump_heat_total_w
        self._pump_power_w = self._loops.pump_power_total_w
        self._network.qconst_dirty = True  # the pump heat may have changed
        if changed:
            self._coeff_dirty = True
        self._flows_steady = steady and not self._slow_faults
        self._flows_dirty = False

    def _refresh_slot_demand(self) -> None:
        """Requested power of each slot (before bus shedding) and the housekeeping total."""
        self._slots.refresh_demand()
        self._bus.refresh_housekeeping()

    def _refresh_slot_power(self) -> None:
        """Served slot power, and the network's dies follow."""
        slots = self._slots
        slots.set_served()
        self._network.set_die_power(slots.power_w, slots.die_r_k_per_w, slots.die_vec)

    def _step_power(self, dt_s: float) -> float:
        """Bus balance with shedding and the channels' protection (PowerBus); the slots and
        pumps see what was served. Returns the array power available, W."""
        bus = self._bus
        slots = self._slots
        demand_changed = slots.dirty
        if demand_changed:
            self._refresh_slot_demand()
        array_w = sum(self._wings.available_w)
        demand_w = bus.hk_on_w + self._pump_power_w + slots.demand_total_w
        served_changed = bus.balance(
            dt_s, array_w, demand_w, self._loops.pump_power_w, slots.demand_w, slots.demand_version
        )
        if served_changed:
            new_p = [bool(x) for x in bus.served[bus.pump_sw0 : bus.slot_sw0]]
            if new_p != self._loops.served:
                self._loops.served = new_p
                self._flows_dirty = True
        if served_changed or demand_changed:
            self._refresh_slot_power()
        tripped = bus.protect(self._time_ns / _NS, dt_s, self._loops.pump_power_w)
        for k in tripped:  # overcurrent: the channel opened at the end of this step
            self._switch_opened(k)
        return array_w

    def _step_battery(self, dt_s: float, array_w: float, extra_j: float) -> None:
        """The battery carries what the loads drew over the step: the served power, plus what
        plug-in boards drew beyond their step-start draw (``extra_j``, J: a job or boot ended
        inside the step); the wings learn how much of their power was drawn."""
        bus = self._bus
        bus.step_battery(dt_s, array_w, extra_j / dt_s)
        self._wings.deliver(bus.array_fraction)
        self._energy["compute_heat_j"] += self._slots.power_total_w * dt_s + extra_j

    def _switch_opened(self, k: int) -> None:
        """PDU switch ``k`` opened by itself (a trip): its load loses power (a slot's board
        is power-cycled, a pump stops and its loop's flow follows)."""
        if k >= self._bus.slot_sw0:
            self._slots.power_cycle(k - self._bus.slot_sw0)
        self._invalidate()
        self._update_flows(0.0)

    def _refresh_coeffs(self, dt_s: float) -> None:
        """The thermal network's coefficients for a step of ``dt_s`` (see
        ThermalNetwork.refresh_coeffs)."""
        self._dt_cache = dt_s
        self._coeff_dirty = False
        slots = self._slots
        self._network.refresh_coeffs(
            dt_s, slots.die_r_k_per_w, slots.die_c_j_per_k, slots.die_vec, slots.power_w
        )

    def deliver_upset(self, i: int, kind: str) -> None:
        """Apply an upset of ``kind`` (a UpsetKind value) to slot index ``i`` and count it.

        A plug-in board gets ``inject_upset``; a simple slot models only latch_up, memory_ce
        and memory_ue (FaultError for the others is raised by the fault catalogue)."""
        self._slots.deliver_upset(i, kind)

    def _step_slow_faults(self, dt_s: float) -> None:
        if self._loops.step_slow(dt_s):
            self._coeff_dirty = True
        if self._radiators.step_slow(dt_s):  # coolant trapped in an isolated panel leaks
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

    def active_faults(self) -> list[ActiveFault]:
        """Active faults, then scheduled ones (``active`` False)."""
        return [*self._faults, *self._pending]

    def has_plugin_board(self, slot_index: int) -> bool:
        """Whether slot ``slot_index`` (0-based) holds a plug-in board (faults.FaultHost)."""
        plug = self._slots.plug
        return plug is not None and slot_index in plug.by_slot

    def fault_targets(self, kind: str) -> dict[str, int]:
        """Fault targets of a catalogue target kind: full target id -> index in its owner."""
        if kind == "pump":
            return dict(self._loops.pump_index)
        if kind in ("radiator", "radsensor"):
            return self._radiators.fault_targets(kind)
        if kind == "wing":
            return {d: i for i, d in enumerate(self._wings.device_ids())}
        if kind == "battery":
            return {"battery": 0}
        if kind == "switch":
            return {f"pdu.{n}": i for i, n in enumerate(self._bus.switch_names)}
        if kind == "slot":
            return {d: i for i, d in enumerate(self._slots.device_ids())}
        raise ValueError(f"unknown fault target kind {kind!r}")

    def dispatch_fault(
        self, kind: str, fault_id: str, i: int, params: dict[str, Any], time_s: float
    ) -> None:
        """Hand a resolved catalogue fault to the subsystem owning target ``i`` of ``kind``
        (``hwsim.faults.activate_fault`` calls this), then let the others see its effect."""
        bus = self._bus
        if kind == "wing":
            self._wings.apply_fault(fault_id, i, params, time_s)
        elif kind in ("radiator", "radsensor"):
            self._radiators.apply_fault(fault_id, i, params, time_s)
            if fault_id == "radiator_puncture":  # the loop of the panel loses its coolant
                leak = float(params["leak_rate_kg_s"])
                if self._radiators.valve_open[i]:
                    self._loops.add_leak(int(self._radiators.loop[i]), leak)
                else:  # isolated: only the coolant trapped in the panel
                    self._set_trapped_leak(i)
        elif kind == "pump":
            self._loops.apply_fault(fault_id, i, params, time_s)
            if fault_id == "pump_seizure":
                self._invalidate()
                self._update_flows(0.0)
        elif kind in ("battery", "switch"):
            bus.apply_fault(fault_id, i, params, time_s)
            if kind == "switch":  # the load behind the switch loses power
                self._switch_opened(i)
        elif kind == "slot":
            self._slots.apply_fault(fault_id, i, params, time_s)
        else:
            raise ValueError(f"unknown fault target kind {kind!r}")
        self._invalidate()

    def dispatch_fault_clear(
        self, kind: str, fault_id: str, i: int, params: dict[str, Any]
    ) -> None:
        """Undo what is reversible of a fault, in the subsystem owning its target."""
        if kind == "wing":
            self._wings.clear_fault(fault_id, i, params)
        elif kind in ("radiator", "radsensor"):
            self._radiators.clear_fault(fault_id, i, params)
            if fault_id == "radiator_puncture":
                leak = float(params["leak_rate_kg_s"])
                if self._radiators.valve_open[i]:
                    self._loops.remove_leak(int(self._radiators.loop[i]), leak)
                else:
                    self._set_trapped_leak(i)
        elif kind == "pump":
            self._loops.clear_fault(fault_id, i, params)
        elif kind in ("battery", "switch"):
            self._bus.clear_fault(fault_id, i, params)
        elif kind == "slot":
            self._slots.clear_fault(fault_id, i, params)
        self._invalidate()

    # ------------------------------------------------------------------------------ devices

    def device_ids(self) -> list[str]:
        ids: list[str] = []
        ids.extend(self._loops.device_ids())
        ids.extend(self._radiators.sensor_ids)
        ids.extend(f"radvalve.{p}" for p in self._radiators.panel_ids)
        ids.extend(self._wings.device_ids())
        ids.append("battery")
        ids.append("pdu")
        ids.extend(self._slots.device_ids())
        ids.append("backplane")
        return ids

    def _kind(self, device_id: str) -> tuple[str, int]:
        """The owner kind of a device id and its index there."""
        head, _, rest = device_id.partition(".")
        try:
            if head == "pump":
                return "pump", self._loops.pump_index[device_id]
            if head == "loop":
                return "loop", self._loops.loop_index[rest]
            if head == "radsensor":
                return "radsensor", self._radiators.sensor_index[device_id]
            if head == "radvalve":
                return "radvalve", self._radiators.panel_index[rest]
            if head == "wing":
                return "wing", self._wings.index[rest]
            if head == "slot":
                return "slot", self._slots.slot_index[rest]
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
            "radvalve.P<nn>, "
            "wing.W<n>, battery, pdu, slot.<nnn>, backplane (see device_ids())",
        )

    def _device_kind(self, kind: str, i: int) -> DeviceKind:
        """The ICD kind of a device (a slot is a board slot or a built-in one)."""
        if kind == "slot":
            return BOARD_SLOT if self._slots.is_plugin(i) else BUILTIN_SLOT
        return icd_devices.DEVICE_KINDS[kind]

    def describe(self, device_id: str) -> DeviceDescription:
        """Generated from the ICD models (``icd.devices``)."""
        kind, i = self._kind(device_id)
        members: list[str] = []
        if kind == "pdu":
            members = self._bus.switch_names
        elif kind == "backplane":
            members = self._slots.plugin_slot_ids()
        return self._device_kind(kind, i).describe(device_id, members)

    def read(self, device_id: str) -> dict[str, Any]:
        """The device's registers as they go on the wire (see :meth:`read_model`); the pdu and
        the backplane (register columns, the largest reads) straight from the arrays."""
        if device_id == "backplane":
            net = self._network
            return self._slots.backplane_wire(
                net.plate_temp_k, net.supply_temp_k, self._bus.voltage_v
            )
        if device_id == "pdu":
            return self._bus.pdu_wire(
                self._loops.pump_power_w, self._slots.power_w, self.mission_time_origin_s
            )
        if device_id.startswith("radsensor."):
            # read every cycle, 24 of them: the one register, no model (>= 0: the ADC clamps)
            i = self._kind(device_id)[1]
            return {"temp_k": self._radiators.reading_k(i, self._time_ns)}
        return self.read_model(device_id).wire()

    def registers(self, device_id: str) -> dict[str, Any]:
        """The device's registers by the names ``describe`` gives them (``<switch>_on``,
        ``slot.<nnn>.power_w``): the wire map but for the column kinds (tools and tests)."""
        return self.read_model(device_id).flat()

    def read_model(self, device_id: str) -> DeviceRegisters:
        """The device's registers as its ICD model: built here, so hwsim cannot send what the
        ICD does not describe."""
        kind, i = self._kind(device_id)
        return getattr(self, f"_read_{kind}")(i)

    # each reader hands the owning subsystem what it needs from the others

    def _read_pump(self, i: int) -> PumpRegisters:
        bus = self._bus
        return self._loops.read_pump(i, bool(bus.on[bus.pump_sw0 + i]), bus.voltage_v)

    def _read_loop(self, li: int) -> LoopRegisters:
        net = self._network
        return self._loops.read_loop(
            li, net.supply_temp_k[li], net.return_temp_k[li], net.loop_heat_w()[li]
        )

    def _read_radsensor(self, i: int) -> SensorRegisters:
        return self._radiators.read_sensor(i, self._time_ns)

    def _read_radvalve(self, i: int) -> RadValveRegisters:
        rad = self._radiators
        li = int(rad.loop[i])
        n_open = float(rad.open_per_loop(len(self._loops.loop_ids))[li])
        return rad.read_valve(i, float(self._loops.flow_kg_s[li]), n_open)

    def _read_wing(self, i: int) -> WingRegisters:
        orbit = self._orbit
        return self._wings.read(i, orbit.phase_rad, orbit.illumination_at(self.time_s))

    def _read_battery(self, _: int) -> BatteryRegisters:
        return self._bus.read_battery()

    def _read_pdu(self, _: int) -> PduRegisters:
        return self._bus.read_pdu(
            self._loops.pump_power_w, self._slots.power_w, self.mission_time_origin_s
        )

    def _read_slot(self, i: int) -> BoardSlotRegisters | BuiltinSlotRegisters:
        net = self._network
        return self._slots.read(
            i, net.die_temp_k, net.plate_temp_k, net.supply_temp_k, self._bus.voltage_v
        )

    def _read_backplane(self, _: int) -> BackplaneRegisters:
        net = self._network
        return self._slots.read_backplane(net.plate_temp_k, net.supply_temp_k, self._bus.voltage_v)

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
            return self._slots.command_plugin(i, command, parsed)
        getattr(self, f"_cmd_{kind}")(i, command, parsed)
        return self.read(device_id)

    def _cmd_backplane(self, i: int, command: str, args: object) -> None:
        raise DeviceError(
            "unknown_command",
            f"backplane.{command} is a long poll served by a running hwsim's device port, "
            "not by the model alone",
        )

    def _cmd_pump(self, i: int, command: str, args: CommandArgs) -> None:
        bus = self._bus
        restart = self._loops.command_pump(i, command, args, bool(bus.on[bus.pump_sw0 + i]))
        self._invalidate()
        if restart:
            self._update_flows(0.0)

    def _cmd_radvalve(self, i: int, command: str, args: CommandArgs) -> None:
        """Open or close a panel's valve: its puncture's leak follows (loop or trapped
        coolant), a loop with no open panel is blocked, the flows and the network follow."""
        rad, loops = self._radiators, self._loops
        if not rad.command_valve(i, command):
            return
        li = int(rad.loop[i])
        rate = rad.puncture_leak_kg_s[i]
        if rad.valve_open[i]:
            rad.set_trapped_leak(i, 0.0, loops.accumulator_exponent(li))
            if rate > 0.0:
                loops.add_leak(li, rate)
        else:
            rad.trap(i, loops.pressure_kpa(li) * 1e3)
            if rate > 0.0:
                loops.remove_leak(li, rate)
            self._set_trapped_leak(i)
        loops.blocked[li] = bool(rad.open_per_loop(len(loops.loop_ids))[li] == 0.0)
        self._invalidate()
        self._update_flows(0.0)

    def _set_trapped_leak(self, i: int) -> None:
        """The coolant trapped in closed panel ``i`` leaks through its punctures' hole."""
        rad, loops = self._radiators, self._loops
        li = int(rad.loop[i])
        c = loops.hole_leak_constant(
            li, rad.puncture_leak_kg_s[i], float(rad.trapped_kg[i]), rad.trapped_pressure_pa[i]
        )
        rad.set_trapped_leak(i, c, loops.accumulator_exponent(li))

    def _cmd_wing(self, i: int, command: str, args: CommandArgs) -> None:
        self._wings.command(i, command, args)

    def _cmd_slot(self, i: int, command: str, args: CommandArgs) -> None:
        self._slots.command(i, command, args)
        self._invalidate()

    def _cmd_pdu(self, _: int, command: str, args: CommandArgs) -> None:
        bus = self._bus
        k = bus.command_pdu(command, args)
        if command == "switch_off" and k >= bus.slot_sw0:
            self._slots.power_cycle(k - bus.slot_sw0)
        self._invalidate()
        if bus.pump_sw0 <= k < bus.slot_sw0:
            self._update_flows(0.0)

    # ------------------------------------------------------------------------------ ledgers

    def _thermal_energy_j(self) -> float:
        """Heat stored in the network, its dies and the plug-in boards, J (the heat ledger's
        stock)."""
        slots = self._slots
        plug = slots.plug
        boards_j = plug.stored_energy_j() if plug is not None else 0.0
        return self._network.stored_energy_j(slots.die_c_j_per_k, slots.die_vec) + boards_j

    def _energy_snapshot(self) -> dict[str, float]:
        radiated_j = self._radiators.radiated_j()
        if radiated_j:
            self._energy["radiated_j"] += radiated_j
        self._energy["parasitic_j"] += self._network.take_parasitic_j()
        self._energy["lost_coolant_j"] += self._network.take_lost_coolant_j()
        return {k: float(v) for k, v in self._energy.items()}

    def truth(self) -> dict[str, Any]:
        """Ground-truth snapshot for tests and what-if output (not a device)."""
        orbit = self._orbit
        net = self._network
        slots = self._slots
        plug = slots.plug
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
            "compute_power_w": float(slots.power_w.sum()),
            "pump_power_w": float(sum(self._loops.pump_power_w)),
            "battery_soc": float(self._bus.soc),
            "battery_power_w": float(self._bus.power_w),
            "shed_loads": self._bus.shed_names(),
            "wing_temp_k": [float(x) for x in self._wings.temp_k],
            "board_die_temp_k": slots.die_temps_k(net.die_temp_k, net.plate_temp_k),
            "cold_plate_temp_k": net.plate_temp_k.tolist(),
            "loop_supply_temp_k": net.supply_temp_k.tolist(),
            "loop_return_temp_k": net.return_temp_k.tolist(),
            "loop_flow_kg_s": self._loops.flow_kg_s.tolist(),
            "loop_inventory_kg": self._loops.inventory_kg.tolist(),
            "radiator_temp_k": self._radiators.temp_k.tolist(),
            "radiator_absorbed_w": self._radiators.absorbed_w().tolist(),
            "radiator_valve_open": list(self._radiators.valve_open),
            "radiator_coolant_kg": self._radiators.coolant_kg.tolist(),
            "battery_temp_k": float(self._bus.temp_k),
            "energy_j": self._energy_snapshot(),
            "thermal_energy_change_j": float(self._thermal_energy_j() - self._thermal_energy_0_j),
            "seu_total": slots.seu_total(),
            "uncorrectable_total": slots.uncorrectable_total(),
            "plugin_slots": len(plug.by_slot) if plug is not None else 0,
            "refused_plugins": list(plug.refused) if plug is not None else [],
            "empty_slots": {
                f"slot.{slots.slot_ids[i]}": reason
                for i, reason in (plug.empty.items() if plug is not None else ())
            },
        }

    # ------------------------------------------------------------------------------ helpers

    def _slot_idx(self, slot_id: str) -> int:
        sid = slot_id.removeprefix("slot.")
        if sid not in self._slots.slot_index:
            raise KeyError(f"unknown slot {slot_id!r}")
        return self._slots.slot_index[sid]

    # names older callers (tests, tools) reach for; the state is the subsystems'

    @property
    def _plug(self) -> PluginSlots | None:
        return self._slots.plug

    @property
    def _sw_names(self) -> list[str]:
        return self._bus.switch_names

    @property
    def _cp_temp(self) -> np.ndarray:
        return self._network.plate_temp_k

    @property
    def _z(self) -> np.ndarray:
        return self._network.z
