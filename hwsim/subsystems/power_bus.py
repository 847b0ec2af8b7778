"""Power bus: the battery, the bus balance with load shedding, and the PDU's switched channels.

Owns the battery (``battery``: state of charge, pack voltage V, current A, power W, pack
temperature K, failed cells, capacity Wh) and the PDU (``pdu``: one switch per housekeeping
load, per pump and per compute slot, in that order; each on/tripped/shed). Faults of its
kinds: ``battery_cell_failure`` (battery), ``switch_trip`` (``pdu.<switch>``).

Switch layout: ``switch_names[k]``; housekeeping loads are ``k < pump_sw0``, pumps
``pump_sw0 <= k < slot_sw0`` (in pump order), slots ``k >= slot_sw0`` (in slot order).

Each step, in two calls from the spacecraft:

1. :meth:`balance` (inputs: step s, array power available W, total demand W, per-pump power W,
   per-slot demand W and a version number that changes when the slot demand does): serves the
   loads, shedding by priority when array + battery (above its floor) cannot carry them all.
   Outputs ``served`` (per switch), ``served_w``; returns True when ``served`` changed.
2. :meth:`step_battery` (step s, array power available W): the battery takes the difference
   (charging from the surplus within its limits), its SoC, voltage, current and temperature
   follow. Outputs ``array_used_w``, ``array_fraction`` (the share of the available array
   power the bus draws), ``load_w``, ``demand_w``, ``voltage_v``, ``soc``, ``power_w``.

It books ``array_j``, ``load_j``, ``battery_stored_change_j`` and ``battery_loss_j`` in the
spacecraft's energy ledger (the dict given at construction).

The battery step inlines :func:`hwsim.model.power.battery_soc_step`,
:func:`~hwsim.model.power.cell_ocv_v` and :func:`~hwsim.model.power.battery_terminal_voltage_v`
operation for operation; ``tests/unit/hwsim/test_subsystems_inline.py`` proves it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from hwsim.config import BatteryConfig, PowerBusConfig
from hwsim.model.devices import DeviceError
from hwsim.model.power import cell_ocv_v, serve_by_priority, served_count
from icd.devices import BatteryRegisters, CommandArgs, PduRegisters, PduSwitch
from icd.devices.power import PduSwitchCommand

__all__ = ["PowerBus"]


class PowerBus:
    """Battery, bus balance and PDU (see the module doc)."""

    FAULTS = ("battery_cell_failure", "switch_trip")

    def __init__(
        self,
        battery: BatteryConfig,
        bus: PowerBusConfig,
        pump_ids: Sequence[str],
        slot_ids: Sequence[str],
        slot_priorities: Sequence[int],
        ledger: dict[str, float],
    ) -> None:
        self.battery_config = battery
        self._ledger = ledger
        b = battery
        # battery
        self.soc = b.initial_soc
        self.capacity_wh = b.capacity_wh
        self.cells = b.cells_in_series
        self.failed_cells = 0
        self.temp_k = b.sink_temp_k
        self.power_w = 0.0
        self.current_a = 0.0
        self.voltage_v = self.ocv_v()
        # battery parameters (frozen config) and the knees of cell_ocv_v, for the hot path
        e, n, f = b.cell_voltage_empty_v, b.cell_voltage_nominal_v, b.cell_voltage_full_v
        self._b_const = (
            b.min_soc,
            b.max_discharge_power_w,
            b.discharge_efficiency,
            b.max_charge_power_w,
            b.charge_efficiency,
            b.internal_resistance_ohm,
            b.thermal_mass_j_per_k,
            b.conductance_to_sink_w_per_k,
            b.sink_temp_k,
        )
        self._ocv_const = (e, f, e + 0.6 * (n - e), n + 0.5 * (f - n))
        # PDU
        loads = bus.loads
        names = [ld.name for ld in loads]
        prio = [ld.priority for ld in loads]
        self.hk_power_w = np.array([ld.power_w for ld in loads])
        self.n_hk = len(loads)
        for pid in pump_ids:
            names.append("pump_" + pid.split(".", 1)[1].replace(".", "_"))
            prio.append(bus.pump_priority)
        for sid in slot_ids:
            names.append(f"slot_{sid}")
        prio.extend(int(p) for p in slot_priorities)
        self.switch_names = names
        self.switch_index = {n: i for i, n in enumerate(names)}
        nsw = len(names)
        self.priority = np.array(prio)
        self.on = np.ones(nsw, dtype=bool)
        self.tripped = np.zeros(nsw, dtype=bool)
        self.trip_persistent = np.zeros(nsw, dtype=bool)
        self.served = np.ones(nsw, dtype=bool)
        self._order = np.argsort(self.priority, kind="stable")
        self._critical = self.priority == 0
        self.pump_sw0 = self.n_hk
        self.slot_sw0 = self.n_hk + len(pump_ids)
        self._demand = np.zeros(nsw)
        self.array_used_w = 0.0
        self.array_fraction = 0.0
        self.load_w = 0.0
        self.served_w = 0.0
        self.demand_w = 0.0
        self.hk_on_w = 0.0
        self.all_served = True
        self._shed_key: tuple[int, tuple[float, ...]] | None = None
        self._shed_k = -1
        self._shed_crit_w = 0.0
        self._shed_cum = np.zeros(0)

    def ocv_v(self) -> float:
        """Pack open-circuit voltage at the present SoC (good cells only)."""
        b = self.battery_config
        good = self.cells - self.failed_cells
        return good * cell_ocv_v(
            self.soc, b.cell_voltage_empty_v, b.cell_voltage_nominal_v, b.cell_voltage_full_v
        )

    def refresh_housekeeping(self) -> None:
        """Housekeeping demand behind closed switches (after a switch changed)."""
        self.hk_on_w = float((self.hk_power_w * self.on[: self.n_hk]).sum())

    # ------------------------------------------------------------------------------ step

    def balance(
        self,
        dt_s: float,
        array_w: float,
        demand_w: float,
        pump_power_w: list[float],
        slot_demand_w: np.ndarray,
        demand_version: int,
    ) -> bool:
        """Serve the loads; True when the set of served switches changed (see module doc)."""
        min_soc = self._b_const[0]
        max_dis_w = self._b_const[1]
        dis_eff = self._b_const[2]
        soc = self.soc
        cap_j = self.capacity_wh * 3600.0
        # (min/max written as comparisons: same result, no builtin calls)
        e_avail_floor = (soc - min_soc) * cap_j
        if not e_avail_floor > 0.0:
            e_avail_floor = 0.0
        b_max = e_avail_floor * dis_eff / dt_s
        if not b_max < max_dis_w:
            b_max = max_dis_w
        self.demand_w = demand_w
        if demand_w <= array_w + b_max:
            self.served_w = demand_w
            if not self.all_served:
                self.served[:] = True
                self.all_served = True
                return True
            return False
        served_w, changed = self._shed(
            array_w, b_max, cap_j, dt_s, pump_power_w, slot_demand_w, demand_version
        )
        self.served_w = served_w
        return changed

    def _shed(
        self,
        array_w: float,
        b_max: float,
        cap_j: float,
        dt_s: float,
        pump_power_w: list[float],
        slot_demand_w: np.ndarray,
        demand_version: int,
    ) -> tuple[float, bool]:
        """Bus protection when demand exceeds array + battery: serve loads by priority.

        Priority-0 (critical) loads may draw the battery below its floor; the rest must fit in
        array + battery above the floor. The demand order is cached, so a step where the cut
        does not move costs one search.
        """
        b = self.battery_config
        key = (demand_version, tuple(pump_power_w))
        crit = self._critical
        if key != self._shed_key:
            d = self._demand
            d[: self.n_hk] = self.hk_power_w
            d[self.pump_sw0 : self.slot_sw0] = pump_power_w
            d[self.slot_sw0 :] = slot_demand_w
            d *= self.on
            self._shed_key = key
            self._shed_crit_w = float((d * crit).sum())
            self._shed_cum = np.cumsum(np.where(crit, 0.0, d)[self._order])
            self._shed_k = -1
        d = self._demand
        crit_w = self._shed_crit_w
        e_avail_zero = max(0.0, self.soc * cap_j)
        b_max0 = min(b.max_discharge_power_w, e_avail_zero * b.discharge_efficiency / dt_s)
        if crit_w <= array_w + b_max0:
            k = served_count(self._shed_cum, array_w + b_max - crit_w)
            served_w = crit_w + (float(self._shed_cum[k - 1]) if k > 0 else 0.0)
            if k == self._shed_k and not self.all_served:
                return served_w, False
            self._shed_k = k
            served = crit.copy()
            served[self._order[:k]] = True
        else:
            self._shed_k = -1
            served = serve_by_priority(d, self._order, array_w + b_max0)
            served_w = float((d * served).sum())
        served |= d == 0.0
        changed = self.all_served or not np.array_equal(served, self.served)
        self.served[:] = served
        self.all_served = False
        return served_w, changed

    def step_battery(self, dt_s: float, array_w: float) -> None:
        """The battery carries the difference between the served loads and the array."""
        (
            _,
            _,
            dis_eff,
            max_chg_w,
            chg_eff,
            r,
            b_mass,
            g_sink,
            sink_k,
        ) = self._b_const
        served_w = self.served_w
        soc = self.soc
        cap_j = self.capacity_wh * 3600.0
        if array_w >= served_w:
            headroom_j = (1.0 - soc) * cap_j
            if not headroom_j > 0.0:
                headroom_j = 0.0
            charge_w = max_chg_w
            x = array_w - served_w
            if x < charge_w:
                charge_w = x
            x = headroom_j / (chg_eff * dt_s)
            if x < charge_w:
                charge_w = x
            batt_w = -charge_w
            array_used = served_w + charge_w
        else:
            batt_w = served_w - array_w
            array_used = array_w
        # the arrays share the power drawn in proportion to what each can give
        self.array_fraction = array_used / array_w if array_w > 0.0 else 0.0
        self.array_used_w = array_used
        self.load_w = served_w
        # battery_soc_step
        if batt_w >= 0.0:
            d_stored = -batt_w / dis_eff * dt_s
        else:
            d_stored = -batt_w * chg_eff * dt_s
        loss = abs(abs(batt_w) * dt_s - abs(d_stored))
        soc = soc + d_stored / cap_j
        if not soc > 0.0:
            soc = 0.0
        if not soc < 1.0:
            soc = 1.0
        self.soc = soc
        self.power_w = batt_w
        # pack OCV: (cells - failed) · cell_ocv_v(soc)
        empty_v, full_v, k1, k2 = self._ocv_const
        if soc <= 0.0:
            cell_v = empty_v
        elif soc < 0.1:
            cell_v = empty_v + (k1 - empty_v) * soc / 0.1
        elif soc < 0.9:
            cell_v = k1 + (k2 - k1) * (soc - 0.1) / 0.8
        elif soc < 1.0:
            cell_v = k2 + (full_v - k2) * (soc - 0.9) / 0.1
        else:
            cell_v = full_v
        ocv = (self.cells - self.failed_cells) * cell_v
        # current from P = I·(OCV − I·R), the physical root
        if r > 0.0:
            disc = ocv * ocv - 4.0 * r * batt_w
            current = (ocv - math.sqrt(max(disc, 0.0))) / (2.0 * r)
        else:
            current = batt_w / ocv if ocv > 0 else 0.0
        self.current_a = current
        self.voltage_v = ocv - current * r
        # battery heat: conversion losses into a node tied to its sink
        c = b_mass / dt_s
        self.temp_k = (c * self.temp_k + loss / dt_s + g_sink * sink_k) / (c + g_sink)
        e = self._ledger
        e["array_j"] += array_used * dt_s
        e["load_j"] += served_w * dt_s
        e["battery_stored_change_j"] += d_stored
        e["battery_loss_j"] += loss

    # ------------------------------------------------------------------------------ devices

    def supplied(self, k: int) -> bool:
        """Switch ``k`` closed and its load served."""
        return bool(self.on[k] and self.served[k])

    def shed_names(self) -> list[str]:
        return [n for k, n in enumerate(self.switch_names) if self.on[k] and not self.served[k]]

    def read_battery(self) -> BatteryRegisters:
        return BatteryRegisters(
            soc=float(self.soc),
            voltage_v=float(self.voltage_v),
            current_a=float(self.current_a),
            power_w=float(self.power_w),
            temp_k=float(self.temp_k),
            cell_faults=int(self.failed_cells),
            capacity_wh=float(self.capacity_wh),
        )

    def switch_power_w(self, pump_power_w: Sequence[float], slot_power_w: np.ndarray) -> np.ndarray:
        """Power through every switch: the loads' power behind closed, served switches."""
        p = np.concatenate([self.hk_power_w, np.asarray(pump_power_w, dtype=float), slot_power_w])
        p[: self.slot_sw0] *= self.on[: self.slot_sw0] & self.served[: self.slot_sw0]
        return p

    def read_pdu(self, pump_power_w: Sequence[float], slot_power_w: np.ndarray) -> PduRegisters:
        """PDU registers; the pumps' and slots' power come from their subsystems."""
        v = max(self.voltage_v, 1.0)
        sw_power = self.switch_power_w(pump_power_w, slot_power_w)
        return PduRegisters(
            bus_voltage_v=float(self.voltage_v),
            array_power_w=float(self.array_used_w),
            load_power_w=float(self.load_w),
            demand_power_w=float(self.demand_w),
            switches={
                n: PduSwitch(
                    on=bool(self.on[k]),
                    tripped=bool(self.tripped[k]),
                    shed=bool(self.on[k] and not self.served[k]),
                    current_a=float(sw_power[k] / v),
                )
                for k, n in enumerate(self.switch_names)
            },
        )

    def command_pdu(self, command: str, args: CommandArgs) -> int:
        """``switch_on``/``switch_off``; returns the switch index (its load follows: the
        spacecraft powers a slot's board off, restarts the flow of a pump)."""
        assert isinstance(args, PduSwitchCommand)
        name = args.switch
        if name not in self.switch_index:
            raise DeviceError(
                "bad_argument",
                f"pdu.{command}: unknown switch {name!r}; valid: "
                f"{', '.join(self.switch_names[:8])}... ({len(self.switch_names)} switches, "
                "see describe('pdu'))",
            )
        k = self.switch_index[name]
        if command == "switch_off":
            self.on[k] = False
        else:
            if self.trip_persistent[k]:
                self.on[k] = False
                raise DeviceError("device_fault", f"switch {name} trips again (load fault)")
            self.tripped[k] = False
            self.on[k] = True
        return k

    # ------------------------------------------------------------------------------ faults

    def apply_fault(self, fault_id: str, i: int, params: dict[str, Any], time_s: float) -> None:
        if fault_id == "battery_cell_failure":
            cells = int(params["cells"])
            self.failed_cells = min(self.cells - 1, self.failed_cells + cells)
            self.capacity_wh *= max(0.0, 1.0 - float(params["capacity_loss_fraction"]))
            self.voltage_v = self.ocv_v()
        elif fault_id == "switch_trip":
            self.on[i] = False
            self.tripped[i] = True
            self.trip_persistent[i] = bool(params["persistent"])
        else:
            raise ValueError(f"power bus: no fault {fault_id!r}")

    def clear_fault(self, fault_id: str, i: int, params: dict[str, Any]) -> None:
        if fault_id == "switch_trip":
            self.trip_persistent[i] = False
