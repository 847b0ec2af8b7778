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

3. :meth:`protect` (model time s at the step start, step s, per-pump power W): the
   overcurrent protection of every channel with a rating (today the pumps'
   ``channel_rating_a``). Each keeps the IEC 60255-8 thermal image θ of
   :mod:`hwsim.model.protection` (θ' = x² + (θ − x²)·e^(−dt/τ), x = I/I_rated, I = the load's
   power over the bus voltage while its switch is closed and served, 0 otherwise) and trips at
   θ ≥ k² (``power_bus.protection``): the switch opens, ``tripped`` with reason
   ``overcurrent`` and the trip time show on the PDU's registers, and :meth:`protect` returns
   the tripped switches (the spacecraft stops their loads). ``switch_on`` re-closes a tripped
   switch; the image keeps its memory (it cooled while the switch was open), so a load that is
   still faulty trips again, sooner than from cold. Cost: the image follows
   θ(t) = x² + (θ₀ − x²)·e^(−(t − t₀)/τ) exactly while the current is held, so it is advanced
   only when a channel's current changes (a pump's power, a switch, shedding), every 60 s
   (the bus voltage drifts) and every step while a channel is above its pickup (it may trip
   within the step). A trip therefore lands on the first step end at or after the closed-form
   trip time.

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
from hwsim.model.protection import overcurrent_image_step, overcurrent_tripped
from icd.devices import BatteryRegisters, CommandArgs, PduRegisters
from icd.devices.power import PduSwitchCommand, TripReason

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
        pump_ratings_a: Sequence[float | None] = (),
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
        # overcurrent protection (see the module doc): the rated channels, their thermal
        # images θ (valid at _prot_t_s) and the x² held since
        ratings = list(pump_ratings_a) + [None] * (len(pump_ids) - len(pump_ratings_a))
        self.rating_a: list[float | None] = [None] * nsw
        for j, r in enumerate(ratings):
            self.rating_a[self.pump_sw0 + j] = r
        # plain strings (TripReason values): snapshots hold hwsim and numpy classes only
        self.trip_reason = [TripReason.NONE.value] * nsw
        self.trip_time_s = [-1.0] * nsw
        prot = bus.protection
        self.protection_tau_s = prot.time_constant_s
        self.protection_pickup = prot.pickup_factor
        self._prot_k = [k for k, r in enumerate(self.rating_a) if r is not None]
        self._prot_rating = [float(self.rating_a[k] or 0.0) for k in self._prot_k]
        self.image = [0.0] * len(self._prot_k)
        self.channel_current_a = [0.0] * len(self._prot_k)  # held since _prot_t_s
        self._prot_t_s = 0.0
        self._prot_pump_w: list[float] = []
        self._prot_next_s = -math.inf  # re-sample the currents at the latest then
        self._prot_hot = False  # a channel is above its pickup: step the images every step
        self._prot_dirty = True  # a switch or the shedding changed

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
                self._prot_dirty = True
                return True
            return False
        served_w, changed = self._shed(
            array_w, b_max, cap_j, dt_s, pump_power_w, slot_demand_w, demand_version
        )
        self.served_w = served_w
        if changed:
            self._prot_dirty = True
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

    def step_battery(self, dt_s: float, array_w: float, extra_load_w: float = 0.0) -> None:
        """The battery carries the difference between the served loads and the array;
        ``extra_load_w``: what the served loads drew over the step beyond their power at its
        start (mean, W; a plug-in board whose job ended inside the step draws less)."""
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
        served_w = self.served_w + extra_load_w if extra_load_w else self.served_w
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

    def protect(self, t_s: float, dt_s: float, pump_power_w: list[float]) -> list[int]:
        """Overcurrent protection over the step [t_s, t_s + dt_s] with the loads' power of
        this step; returns the switches that tripped (opened) at its end (see module doc)."""
        if not (
            self._prot_hot
            or self._prot_dirty
            or t_s >= self._prot_next_s
            or pump_power_w != self._prot_pump_w
        ):
            return []
        if not self._prot_k:
            self._prot_next_s = math.inf
            return []
        # the images up to t_s under the currents held since the last update ...
        self._advance_images(t_s)
        # ... the currents of this step ...
        v = self.voltage_v if self.voltage_v > 1.0 else 1.0
        k2 = self.protection_pickup * self.protection_pickup
        p0 = self.pump_sw0
        on, served = self.on, self.served
        hot = False
        for j, k in enumerate(self._prot_k):
            current = pump_power_w[k - p0] / v if on[k] and served[k] else 0.0
            self.channel_current_a[j] = current
            x = current / self._prot_rating[j]
            hot = hot or x * x > k2 or self.image[j] >= k2
        self._prot_pump_w = list(pump_power_w)
        self._prot_dirty = False
        self._prot_next_s = t_s + 60.0
        self._prot_hot = hot
        if not hot:
            return []
        # ... and, above the pickup, the step itself: a trip at its end
        self._advance_images(t_s + dt_s)
        tripped = []
        for j, k in enumerate(self._prot_k):
            if on[k] and overcurrent_tripped(self.image[j], self.protection_pickup):
                self.on[k] = False
                self.tripped[k] = True
                self.trip_reason[k] = TripReason.OVERCURRENT.value
                self.trip_time_s[k] = t_s + dt_s
                self.channel_current_a[j] = 0.0
                tripped.append(k)
        if tripped:
            self._prot_dirty = True
        return tripped

    def _advance_images(self, t_s: float) -> None:
        """Every image from _prot_t_s to ``t_s`` under its held current (the exact step)."""
        dt = t_s - self._prot_t_s
        if dt > 0.0:
            tau = self.protection_tau_s
            img = self.image
            ratings = self._prot_rating
            for j, current in enumerate(self.channel_current_a):
                img[j] = float(overcurrent_image_step(img[j], current, ratings[j], dt, tau))
        self._prot_t_s = t_s

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

    def pdu_wire(
        self,
        pump_power_w: Sequence[float],
        slot_power_w: np.ndarray,
        time_origin_s: float = 0.0,
    ) -> dict[str, Any]:
        """The PDU registers as they go on the wire (``icd.devices.PduRegisters``: one column
        per switch register), built from the arrays; the pumps' and slots' power come from
        their subsystems, the trip times are mission time (model time + ``time_origin_s``)."""
        v = max(self.voltage_v, 1.0)
        sw_power = self.switch_power_w(pump_power_w, slot_power_w)
        on = self.on.tolist()
        tripped = self.tripped.tolist()
        served = self.served.tolist()
        n = len(tripped)
        if any(tripped):
            trip_time = [float(t) + time_origin_s for t in self.trip_time_s]
            trip_reason = [
                str(r) if t else "none" for r, t in zip(self.trip_reason, tripped, strict=True)
            ]
            trip_time_s = [x if t else -1.0 for x, t in zip(trip_time, tripped, strict=True)]
        else:  # the usual read: no switch tripped, nothing per switch to look up
            trip_reason, trip_time_s = ["none"] * n, [-1.0] * n
        return {
            "bus_voltage_v": float(self.voltage_v),
            "array_power_w": float(self.array_used_w),
            "load_power_w": float(self.load_w),
            "demand_power_w": float(self.demand_w),
            "switch": list(self.switch_names),
            "on": on,
            "tripped": tripped,
            "shed": [o and not s for o, s in zip(on, served, strict=True)],
            "current_a": (sw_power / v).tolist(),
            "trip_reason": trip_reason,
            "trip_time_s": trip_time_s,
        }

    def read_pdu(
        self,
        pump_power_w: Sequence[float],
        slot_power_w: np.ndarray,
        time_origin_s: float = 0.0,
    ) -> PduRegisters:
        """PDU registers as the ICD model (see :meth:`pdu_wire`)."""
        return PduRegisters.model_validate(self.pdu_wire(pump_power_w, slot_power_w, time_origin_s))

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
        self._prot_dirty = True
        if command == "switch_off":
            self.on[k] = False
        else:
            if self.trip_persistent[k]:
                self.on[k] = False
                raise DeviceError("device_fault", f"switch {name} trips again (load fault)")
            self.tripped[k] = False
            self.trip_reason[k] = TripReason.NONE.value
            self.trip_time_s[k] = -1.0
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
            self.trip_reason[i] = TripReason.OVERCURRENT.value
            self.trip_time_s[i] = time_s
            self.trip_persistent[i] = bool(params["persistent"])
            self._prot_dirty = True
        else:
            raise ValueError(f"power bus: no fault {fault_id!r}")

    def clear_fault(self, fault_id: str, i: int, params: dict[str, Any]) -> None:
        if fault_id == "switch_trip":
            self.trip_persistent[i] = False
