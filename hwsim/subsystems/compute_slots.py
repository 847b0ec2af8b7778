"""Compute slots: the built-in boards, the plug-in boards in their slots, the backplane and
the radiation upsets delivered to them.

Owns, per slot (``slot.<nnn>``; ICD kind ``builtin_slot`` for a board modelled by hwsim's
arrays, ``slot`` for a plug-in board), the slot's electrical state: enabled, utilisation
(0…1), latch-up and its extra draw (W), thermal shutdown, extra heat of a fouled plate (W),
the power it asks for (``demand_w``, W) and is served (``power_w``, W); the die parameters the
thermal network steps (``die_r_k_per_w``, ``die_c_j_per_k``; the die *temperatures* are the
network's state); upset counters and the single Poisson upset process (with its generator);
the plug-in boards (:class:`hwsim.boards.slots.PluginSlots`, used only through its interface:
``poll_draw_w``, ``step``, ``draw_w``, ``boards``, ``live_slots``, ``plates``, ``by_slot``,
``backplane_columns``) and
the ``backplane`` device (every plug-in slot in one read). Faults of its kind (``slot``):
``board_overtemp``, ``board_latchup``, ``seu_burst``, ``board_upset``.

Inputs: :meth:`connect_supply` (views of the power bus's switch-closed and served flags for
the slots, in slot order); per step ``poll``/``refresh_demand`` (nothing: it reads its boards),
``set_served`` (after the bus balance), ``step_plugins(dt_s, plate_temp_k)``,
``step_upsets(dt_s, in_saa)``; the die temperatures (K, from the thermal network) for the
thermal-shutdown test and the reads.

Outputs (public): ``demand_w``/``demand_total_w``/``demand_version`` (to the bus),
``power_w``/``power_total_w`` (served; to the network and the ledger), ``die_r_k_per_w``,
``die_c_j_per_k``, ``die_vec`` (1: die stepped by the network, 0: a plug-in board steps its
own), ``die_plate``, ``dirty`` (the demand must be recomputed), ``shutdown_floor_k``.

Supply of a plug-in board: a board whose slot is switched on and served draws from the bus
what it draws (``off_w`` of its management controller when it is off); one whose switch is
open or that the bus sheds has no supply (``BaseBoard.set_supply(False)``): it is powered off,
draws nothing and its die cools to its plate. The supply is re-evaluated only when the bus's
switches or shedding may have changed (``set_served``), not every step. A board that cannot be
told (not a ``BaseBoard``) keeps drawing its ``off_w`` unpowered: that heat is booked in
``compute_unbilled_standby_j`` (and ``compute_heat_j``) so that the balance closes.

``plugin_extra_energy_j``: the electrical energy the boards drew over the last step beyond
their draw at its start × dt (a boot or job ending inside the step); the spacecraft bills it
on the bus and books it as compute heat.

It books ``compute_heat_j`` and ``compute_unbilled_standby_j`` of unpowered plug-in boards
that cannot be told in the spacecraft's energy ledger (the served compute power is booked by
the spacecraft).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from computesat_sdk.base import BaseBoard
from computesat_sdk.contract import PowerState, UpsetKind

from hwsim.config import SlotConfig
from hwsim.model.compute import BoardModel, board_power_w, plugin_upset_kind, seu_rate_per_s
from hwsim.model.devices import DeviceError
from icd.devices import (
    BackplaneRegisters,
    BackplaneSlot,
    BoardSlotRegisters,
    BuiltinSlotRegisters,
    CommandArgs,
)
from icd.devices.compute import SetUtilisation

if TYPE_CHECKING:
    from computesat_sdk.registry import BoardRegistry

    from hwsim.boards.slots import PluginSlot, PluginSlots

__all__ = ["ComputeSlots"]


class ComputeSlots:
    """Every compute slot (see the module doc)."""

    FAULTS = ("board_overtemp", "board_latchup", "seu_burst", "board_upset")

    # commands that need a plug-in board to have supply; the others work on an unpowered slot
    SUPPLIED_COMMANDS = frozenset(
        {"power_on", "power_cycle", "reset", "self_test", "submit_job", "set_throttle"}
    )

    def __init__(
        self,
        slots: list[SlotConfig],
        plate_index: dict[str, int],
        plate_loop: np.ndarray,
        plate_temp_k: np.ndarray,
        shutdown_margin_k: float,
        saa_upset_factor: float,
        seu_rng: np.random.Generator,
        ledger: dict[str, float],
        registry: BoardRegistry | None,
        mission_time_origin_s: float,
        loop_ids: Sequence[str] = (),
    ) -> None:
        self._ledger = ledger
        self._seu_rng = seu_rng
        self._slot_cfg = slots
        self._shutdown_margin_k = shutdown_margin_k
        self.slot_ids = [s.slot_id for s in slots]
        self.slot_index = {s: i for i, s in enumerate(self.slot_ids)}
        n = len(slots)
        self.die_plate = np.array([plate_index[s.cold_plate_id] for s in slots])
        self._s_loop = plate_loop[self.die_plate]
        # The loop id of each slot's plate, for its registers (the scope of a compute limit).
        self._s_loop_id = [loop_ids[k] if k < len(loop_ids) else "" for k in self._s_loop.tolist()]
        self._s_idle = np.array([s.idle_w for s in slots])
        self._s_peak = np.array([s.peak_w for s in slots])
        self.die_c_j_per_k = np.array([s.thermal_mass_j_per_k for s in slots])
        self._s_r_nom = np.array([s.die_to_plate_k_per_w for s in slots])
        self.die_r_k_per_w = self._s_r_nom.copy()
        self._s_max = np.array([s.max_die_temp_k for s in slots])
        self._s_shutdown_k = self._s_max + shutdown_margin_k
        self.shutdown_floor_k = float(self._s_shutdown_k.min())
        self.priority = np.array([s.priority for s in slots])
        self._s_enabled = np.array([s.power_on_at_start for s in slots])
        self._s_util = np.array([s.initial_utilisation for s in slots])
        self._s_latched = np.zeros(n, dtype=bool)
        self._s_latch_w = np.zeros(n)
        self._s_extra_w = np.zeros(n)
        self._s_tshut = np.zeros(n, dtype=bool)
        self.initial_die_temp_k = plate_temp_k[self.die_plate]
        self._s_seu_base = np.array([s.seu_rate_per_year for s in slots])
        self._s_seu_mult = np.ones(n)
        self._s_unc_frac = np.array([s.uncorrectable_fraction for s in slots])
        self._s_seu = np.zeros(n, dtype=np.int64)
        self._s_unc = np.zeros(n, dtype=np.int64)
        self.power_w = np.zeros(n)  # served power this step
        self._s_hang_frac = np.array([s.hang_fraction for s in slots])
        self._s_flip_frac = np.array([s.bit_flip_fraction for s in slots])
        self._init_plugins(slots, plate_temp_k, registry, mission_time_origin_s)
        self._saa_factor = saa_upset_factor
        self._seu_hazard = 0.0
        self._seu_threshold = float(self._seu_rng.exponential())
        self._seu_cache_key: tuple[bool, int] | None = None
        self._seu_version = 0
        self._seu_cum = np.zeros(n)
        self._seu_total_per_s = 0.0
        self.dirty = True
        self.demand_w = np.zeros(n)
        self.demand_total_w = 0.0
        self.power_total_w = 0.0
        self.demand_version = 0
        self.board_models: dict[int, BoardModel] = {}
        self._sw_on = np.ones(n, dtype=bool)
        self._served = np.ones(n, dtype=bool)
        # the plug-ins' supply is re-evaluated when the switches or the shedding may have
        # changed (set_served), not every step
        self._supply_dirty = True
        self._unbilled_w = 0.0  # off_w of unsupplied boards that cannot be told, W
        self._plug_extra = False  # a board_overtemp writes extra heat into a plug-in slot

    def _init_plugins(
        self,
        slots: list[SlotConfig],
        plate_temp_k: np.ndarray,
        registry: BoardRegistry | None,
        mission_time_origin_s: float,
    ) -> None:
        """Plug-in boards own their die: their entries in the slot vectors are neutralised
        (no power, no heat capacity, no shutdown) and ``die_vec`` masks them out of the
        vectorised die step."""
        n = len(slots)
        self.die_vec = np.ones(n)
        self.plug: PluginSlots | None = None
        self._plug_sup = np.zeros(0, dtype=bool)
        wanted = [(i, s.slot_id, s.board) for i, s in enumerate(slots) if s.is_plugin]
        if not wanted:
            return
        from hwsim.boards.slots import PluginSlots, default_registry

        registry = registry if registry is not None else default_registry()
        on = [slots[i].power_on_at_start for i, _, _ in wanted]
        plug = PluginSlots(
            wanted, self.die_plate, plate_temp_k, registry, on, mission_time_origin_s
        )
        for i, _, _ in wanted:
            self.die_vec[i] = 0.0
            self._s_idle[i] = self._s_peak[i] = self._s_util[i] = 0.0
            self._s_enabled[i] = True
            self.die_c_j_per_k[i] = self._s_r_nom[i] = self.die_r_k_per_w[i] = 1.0
            self._s_shutdown_k[i] = math.inf
            thermal = plug.by_slot[i].thermal
            self._s_max[i] = thermal.max_die_temp_k if thermal is not None else 0.0
        self.shutdown_floor_k = float(self._s_shutdown_k.min())
        plug.poll_draw_w()
        self.plug = plug
        self._plug_sup = np.ones(len(plug.boards), dtype=bool)

    def connect_supply(self, switch_on: np.ndarray, served: np.ndarray) -> None:
        """Views of the power bus's flags for the slots' switches (closed, served)."""
        self._sw_on = switch_on
        self._served = served

    def install_board(self, i: int, board: BoardModel) -> None:
        """Replace slot ``i``'s parameter model by a :class:`BoardModel`."""
        self.board_models[i] = board
        self.die_c_j_per_k[i] = board.thermal_mass_j_per_k
        self._s_r_nom[i] = board.die_to_plate_k_per_w
        self.die_r_k_per_w[i] = board.die_to_plate_k_per_w
        self._s_max[i] = board.max_die_temp_k
        self._s_shutdown_k[i] = board.max_die_temp_k + self._shutdown_margin_k
        self.shutdown_floor_k = float(self._s_shutdown_k.min())
        self.dirty = True

    # ------------------------------------------------------------------------------ step

    def refresh_demand(self) -> None:
        """Requested power of each slot (before bus shedding)."""
        on = self._s_enabled & ~self._s_tshut & self._sw_on
        p = board_power_w(on, self._s_util, self._s_idle, self._s_peak)
        p += np.where(on, self._s_extra_w + self._s_latch_w * self._s_latched, 0.0)
        for i, board in self.board_models.items():
            p[i] = board.power_draw_w() + self._s_extra_w[i] if on[i] else 0.0
            if on[i] and self._s_latched[i]:
                p[i] += self._s_latch_w[i]
        plug = self.plug
        if plug is not None and len(plug.boards):
            idx = plug.live_slots
            # a board without supply draws nothing; served, it gets it back and draws off_w
            draw = np.where(self._plug_sup, plug.draw_w, plug.off_w)
            p[idx] = np.where(on[idx], draw + self._s_extra_w[idx], 0.0)
        self.demand_w = p
        self.demand_total_w = float(p.sum())
        self.demand_version += 1
        self.dirty = bool(self.board_models)  # BoardModel boards may change every step

    def set_served(self) -> None:
        """The bus served (or shed) the slots: served power follows."""
        self.power_w = self.demand_w * self._served
        self.power_total_w = float(self.power_w.sum())
        self._supply_dirty = True  # the switches or the shedding may have changed

    def plugin_supply(self, dt_s: float) -> None:
        """Plug-in boards follow their slot's supply (switch closed and served): a board
        that lost it is powered off and draws nothing, one that got it back draws its off_w
        (see the module doc). Work only after ``set_served``."""
        plug = self.plug
        assert plug is not None
        if self._supply_dirty:
            self._supply_dirty = False
            supplied = (self._sw_on & self._served)[plug.live_slots]
            changed = np.flatnonzero(supplied != self._plug_sup).tolist()
            if changed:
                self._plug_sup = supplied
                for k in changed:
                    self._set_supply(plug.boards[k], bool(supplied[k]))
                self.dirty = True
            # boards that cannot be told keep drawing off_w unpowered (their draw may have
            # changed too: set_served follows every change of demand)
            self._unbilled_w = 0.0
            if not supplied.all():
                for k in np.flatnonzero(~supplied).tolist():
                    board = plug.boards[k]
                    if not isinstance(board, BaseBoard):
                        self._unbilled_w += float(board.power_draw_w())
        if self._unbilled_w:
            self._ledger["compute_heat_j"] += self._unbilled_w * dt_s
            self._ledger["compute_unbilled_standby_j"] += self._unbilled_w * dt_s

    @staticmethod
    def _set_supply(board: Any, supplied: bool) -> None:
        if isinstance(board, BaseBoard):
            board.set_supply(supplied)
        elif not supplied and board.state is not PowerState.OFF:
            board.power_off()

    @property
    def plugin_extra_energy_j(self) -> float:
        """Electrical energy the plug-in boards drew over the last step beyond their draw at
        its start × dt, J (see the module doc)."""
        return self.plug.step_extra_energy_j if self.plug is not None else 0.0

    def step_plugins(self, dt_s: float, plate_temp_k: np.ndarray) -> np.ndarray | None:
        """Each plug-in board steps its own die against its plate (held over the step, as the
        network's dies are); returns the heat delivered into each plate, W (None: no board)."""
        plug = self.plug
        if plug is None or not len(plug.boards):
            return None
        heat = plug.step(dt_s, plate_temp_k)
        if self._plug_extra:
            heat = heat + self._s_extra_w[plug.live_slots] * self._plug_sup
        return np.bincount(plug.plates, weights=heat, minlength=len(plate_temp_k))

    def check_thermal_shutdown(self, die_temp_k: np.ndarray) -> None:
        trip = (die_temp_k > self._s_shutdown_k) & self._s_enabled & ~self._s_tshut
        if trip.any():
            self._s_tshut |= trip
            self.dirty = True

    def update_boards(self, die_temp_k: np.ndarray) -> None:
        """BoardModel boards learn their die temperature."""
        for i, board in self.board_models.items():
            board.set_die_temp_k(float(die_temp_k[i]))

    def step_upsets(self, dt_s: float, in_saa: bool) -> None:
        """The upset process; the full draw only when one is due or the rates change (SAA
        entry/exit, seu_burst)."""
        tot = self._seu_total_per_s
        key = self._seu_cache_key
        if key is None or key[0] != in_saa or key[1] != self._seu_version:
            self._step_seu(dt_s, in_saa)
        elif tot > 0.0:
            if self._seu_hazard + tot * dt_s < self._seu_threshold:
                self._seu_hazard += tot * dt_s
            else:
                self._step_seu(dt_s, in_saa)

    def _step_seu(self, dt_s: float, in_saa: bool) -> None:
        key = (in_saa, self._seu_version)
        if key != self._seu_cache_key:
            self._seu_cache_key = key
            rate = seu_rate_per_s(self._s_seu_base * self._s_seu_mult, in_saa, self._saa_factor)
            self._seu_cum = np.cumsum(rate)
            self._seu_total_per_s = float(self._seu_cum[-1]) if len(rate) else 0.0
        # one Poisson process for all boards, thinned to unpowered boards (no state to upset)
        self._seu_hazard += self._seu_total_per_s * dt_s
        while self._seu_hazard >= self._seu_threshold:
            self._seu_hazard -= self._seu_threshold
            self._seu_threshold = float(self._seu_rng.exponential())
            x = self._seu_rng.random() * self._seu_total_per_s
            i = min(int(np.searchsorted(self._seu_cum, x, side="right")), len(self._seu_cum) - 1)
            plug = self.plug.by_slot.get(i) if self.plug is not None else None
            if plug is not None:
                self._plugin_upset(i, plug)
                continue
            if self.power_w[i] <= 0.0:
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
        """Apply an upset of ``kind`` (a UpsetKind value) to slot ``i`` and count it."""
        plug = self.plug.by_slot.get(i) if self.plug is not None else None
        if plug is not None:
            if plug.board is None or plug.board.state is PowerState.OFF:
                return
            plug.board.inject_upset(UpsetKind(kind))
            self.dirty = True
        elif kind == "latch_up":
            if self._s_enabled[i] and self._sw_on[i]:
                self._s_latched[i] = True
                self.dirty = True
            return
        elif self.power_w[i] <= 0.0:
            return
        self._s_seu[i] += 1
        if kind == "memory_ue":
            self._s_unc[i] += 1

    # ------------------------------------------------------------------------------ devices

    def is_plugin(self, i: int) -> bool:
        return self.plug is not None and i in self.plug.by_slot

    def device_ids(self) -> list[str]:
        return [f"slot.{s}" for s in self.slot_ids]

    def plugin_slot_ids(self) -> list[str]:
        if self.plug is None:
            return []
        return [self.slot_ids[i] for i in sorted(self.plug.by_slot)]

    def supply(self, i: int) -> str:
        if not self._sw_on[i]:
            return "unpowered"
        return "on" if self._served[i] else "shed"

    def state(self, i: int) -> str:
        if not self._sw_on[i]:
            return "unpowered"
        if self._s_tshut[i]:
            return "thermal_shutdown"
        if not self._s_enabled[i]:
            return "off"
        if not self._served[i]:
            return "shed"
        if self._s_latched[i]:
            return "latched"
        return "on"

    def _plugin_values(
        self,
        i: int,
        slot: PluginSlot,
        plate_temp_k: np.ndarray,
        loop_supply_k: np.ndarray,
        bus_voltage_v: float,
    ) -> dict[str, Any]:
        """Registers of plug-in slot ``i`` as the wire map (no model built)."""
        from hwsim.boards.slots import board_register_values

        return board_register_values(
            slot,
            supply=self.supply(i),
            power_w=None,  # the board's draw as its health reports it
            extra_w=float(self._s_extra_w[i]),
            plate_temp_k=float(plate_temp_k[self.die_plate[i]]),
            inlet_temp_k=float(loop_supply_k[self._s_loop[i]]),
            bus_voltage_v=float(bus_voltage_v),
            seu_count=int(self._s_seu[i]),
            loop_id=self._s_loop_id[i],
        )

    def _read_plugin(
        self,
        i: int,
        slot: PluginSlot,
        plate_temp_k: np.ndarray,
        loop_supply_k: np.ndarray,
        bus_voltage_v: float,
    ) -> BoardSlotRegisters:
        return BoardSlotRegisters(
            **self._plugin_values(i, slot, plate_temp_k, loop_supply_k, bus_voltage_v)
        )

    def plugin_registers(
        self, plate_temp_k: np.ndarray, loop_supply_k: np.ndarray, bus_voltage_v: float
    ) -> dict[str, BoardSlotRegisters]:
        if self.plug is None:
            return {}
        return {
            self.slot_ids[i]: self._read_plugin(
                i, self.plug.by_slot[i], plate_temp_k, loop_supply_k, bus_voltage_v
            )
            for i in sorted(self.plug.by_slot)
        }

    def backplane_wire(
        self, plate_temp_k: np.ndarray, loop_supply_k: np.ndarray, bus_voltage_v: float
    ) -> dict[str, Any]:
        """The backplane registers as they go on the wire (``icd.devices.BackplaneRegisters``:
        the slot ids, then one column per entry register): the boards' columns from their
        arrays, a slot's entry (`backplane_entry_values`) only where the arrays cannot say
        (:meth:`PluginSlots.backplane_columns`); equal to :meth:`backplane_wire_per_board`."""
        if self.plug is None:
            return self.backplane_wire_per_board(plate_temp_k, loop_supply_k, bus_voltage_v)
        return self.plug.backplane_columns(
            self._sw_on & self._served,
            self._s_extra_w,
            lambda i: self._backplane_entry(i, plate_temp_k, loop_supply_k, bus_voltage_v),
        )

    def backplane_wire_per_board(
        self, plate_temp_k: np.ndarray, loop_supply_k: np.ndarray, bus_voltage_v: float
    ) -> dict[str, Any]:
        """:meth:`backplane_wire` from every slot's entry (each board's ``health()``): the
        reference the fast read is tested against."""
        names = list(BackplaneSlot.model_fields)
        ids: list[str] = []
        rows: list[dict[str, Any]] = []
        if self.plug is not None:
            for i in sorted(self.plug.by_slot):
                ids.append(self.slot_ids[i])
                rows.append(self._backplane_entry(i, plate_temp_k, loop_supply_k, bus_voltage_v))
        out: dict[str, Any] = {"slot": ids}
        for name in names:
            out[name] = [row[name] for row in rows]
        return out

    def _backplane_entry(
        self, i: int, plate_temp_k: np.ndarray, loop_supply_k: np.ndarray, bus_voltage_v: float
    ) -> dict[str, Any]:
        """Plug-in slot ``i``'s backplane entry (`backplane_entry_values`)."""
        from hwsim.boards.slots import backplane_entry_values

        assert self.plug is not None
        return backplane_entry_values(
            self.plug.by_slot[i],
            supply=self.supply(i),
            extra_w=float(self._s_extra_w[i]),
            plate_temp_k=float(plate_temp_k[self.die_plate[i]]),
            inlet_temp_k=float(loop_supply_k[self._s_loop[i]]),
            bus_voltage_v=float(bus_voltage_v),
            seu_count=int(self._s_seu[i]),
            loop_id=self._s_loop_id[i],
        )

    def read_backplane(
        self, plate_temp_k: np.ndarray, loop_supply_k: np.ndarray, bus_voltage_v: float
    ) -> BackplaneRegisters:
        return BackplaneRegisters.model_validate(
            self.backplane_wire(plate_temp_k, loop_supply_k, bus_voltage_v)
        )

    def read(
        self,
        i: int,
        die_temp_k: np.ndarray,
        plate_temp_k: np.ndarray,
        loop_supply_k: np.ndarray,
        bus_voltage_v: float,
    ) -> BoardSlotRegisters | BuiltinSlotRegisters:
        """Registers of slot ``i``; temperatures from the thermal network, K."""
        plug = self.plug.by_slot.get(i) if self.plug is not None else None
        if plug is not None:
            return self._read_plugin(i, plug, plate_temp_k, loop_supply_k, bus_voltage_v)
        pw = float(self.power_w[i])
        return BuiltinSlotRegisters(
            kind=self._slot_cfg[i].kind,
            power_state=self.state(i),
            powered=pw > 0.0,
            utilisation=float(self._s_util[i]),
            power_w=pw,
            current_a=pw / max(bus_voltage_v, 1.0),
            die_temp_k=float(die_temp_k[i]),
            plate_temp_k=float(plate_temp_k[self.die_plate[i]]),
            inlet_temp_k=float(loop_supply_k[self._s_loop[i]]),
            max_die_temp_k=float(self._s_max[i]),
            overtemp=bool(die_temp_k[i] > self._s_max[i]),
            latchup=bool(self._s_latched[i]),
            seu_count=int(self._s_seu[i]),
            uncorrectable_errors=int(self._s_unc[i]),
        )

    def command_plugin(self, i: int, command: str, args: CommandArgs) -> dict[str, Any]:
        """A slot command on a plug-in board: returns the command's result (not registers)."""
        from hwsim.boards.slots import board_command

        assert self.plug is not None
        slot = self.plug.by_slot[i]
        sid = f"slot.{self.slot_ids[i]}"
        if command in self.SUPPLIED_COMMANDS and slot.board is not None:
            supply = self.supply(i)
            if supply == "unpowered":
                raise DeviceError("device_off", f"{sid}.{command}: PDU switch is off")
            if supply == "shed":
                raise DeviceError("device_off", f"{sid}.{command}: slot shed by the bus")
            k = slot.live_index
            if not self._plug_sup[k]:
                # switched on since the last step: the board has its supply from now (the
                # next step bills it; plugin_supply would give it back before that step)
                self._plug_sup = self._plug_sup.copy()
                self._plug_sup[k] = True
                self._set_supply(slot.board, True)
        result = board_command(slot, command, args)
        self.dirty = True
        return result

    def command(self, i: int, command: str, args: CommandArgs) -> None:
        """A command to a built-in slot."""
        sid = f"slot.{self.slot_ids[i]}"
        if isinstance(args, SetUtilisation):
            if not self._sw_on[i]:
                raise DeviceError("device_off", f"{sid}: PDU switch is off")
            if self._s_latched[i]:
                raise DeviceError("device_fault", f"{sid} is latched up; power-cycle it")
            self._s_util[i] = args.value
        elif command == "power_on":
            if not self._sw_on[i]:
                raise DeviceError("device_off", f"{sid}: PDU switch is off")
            self._s_enabled[i] = True
        else:
            self._s_enabled[i] = False
            self.power_cycle(i)
        self.dirty = True

    def power_cycle(self, i: int) -> None:
        """Removing power clears a latch-up and a thermal shutdown (and powers a plug-in
        board off)."""
        self._s_latched[i] = False
        self._s_tshut[i] = False
        plug = self.plug.by_slot.get(i) if self.plug is not None else None
        if plug is not None and plug.board is not None:
            plug.board.power_off()
        self.dirty = True

    # ------------------------------------------------------------------------------ faults

    def apply_fault(self, fault_id: str, i: int, params: dict[str, Any], time_s: float) -> None:
        p = params
        plug = self.plug.by_slot.get(i) if self.plug is not None else None
        if fault_id == "board_overtemp":
            if plug is not None:
                if plug.board is not None and self.plug is not None:
                    k = plug.live_index
                    r_board = float(self.plug.die_to_plate_k_per_w[k])
                    factor = float(p["resistance_factor"])
                    self.plug.set_overtemp(
                        k, max(0.0, factor - 1.0) * r_board, float(p["extra_heat_w"])
                    )
                    self._s_extra_w[i] = float(p["extra_heat_w"])
                    self._plug_extra = bool(self._s_extra_w[self.plug.live_slots].any())
            else:
                self.die_r_k_per_w[i] = self._s_r_nom[i] * float(p["resistance_factor"])
                self._s_extra_w[i] = float(p["extra_heat_w"])
        elif fault_id == "board_upset":
            self.deliver_upset(i, str(p["kind"]))
        elif fault_id == "board_latchup":
            if plug is not None:
                if plug.board is not None:
                    plug.board.inject_upset(UpsetKind.LATCH_UP)
            elif self._s_enabled[i] and self._sw_on[i]:
                self._s_latched[i] = True
                self._s_latch_w[i] = float(p["extra_power_w"])
        elif fault_id == "seu_burst":
            self._s_seu_mult[i] = float(p["rate_multiplier"])
            self._seu_version += 1
        else:
            raise ValueError(f"compute slots: no fault {fault_id!r}")
        self.dirty = True

    def clear_fault(self, fault_id: str, i: int, params: dict[str, Any]) -> None:
        if fault_id == "board_overtemp":
            self.die_r_k_per_w[i] = self._s_r_nom[i]
            self._s_extra_w[i] = 0.0
            plug = self.plug.by_slot.get(i) if self.plug is not None else None
            if plug is not None and plug.board is not None and self.plug is not None:
                self.plug.set_overtemp(plug.live_index, 0.0, 0.0)
                self._plug_extra = bool(self._s_extra_w[self.plug.live_slots].any())
        elif fault_id == "seu_burst":
            self._s_seu_mult[i] = 1.0
            self._seu_version += 1
        self.dirty = True

    # ------------------------------------------------------------------------------ truth

    def die_temps_k(self, die_temp_k: np.ndarray, plate_temp_k: np.ndarray) -> list[float]:
        """Die temperature of every slot: the network's, or a plug-in board's own."""
        temps = die_temp_k.tolist()
        plug = self.plug
        if plug is not None:
            boards_k = plug.die_temp_k().tolist()
            for i, slot in plug.by_slot.items():
                temps[i] = (
                    boards_k[slot.live_index]
                    if slot.board is not None
                    else float(plate_temp_k[self.die_plate[i]])
                )
        return temps

    def seu_total(self) -> int:
        return int(self._s_seu.sum())

    def uncorrectable_total(self) -> int:
        return int(self._s_unc.sum())
