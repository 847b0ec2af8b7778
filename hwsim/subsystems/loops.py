"""Pump loops: the coolant loops, their redundant pumps, the flow, the inventory and leaks.

Owns, per loop (``loop.L<n>``, ICD kind ``loop``): coolant properties (c_p J/(kg·K),
density kg/m³), inventory (kg) and its leak rate (kg/s), the system curve, the operating flow
(kg/s), the pressure rise (kPa) and the static pressure (kPa). Per pump (``pump.L<n>.<X>``,
kind ``pump``): running flag, speed and target (rpm), head fraction (wear), seizure, its
electrical power (W) and flow (kg/s). Faults of its kinds: ``pump_seizure``,
``pump_degradation``; the leak of a ``radiator_puncture`` arrives through :meth:`add_leak`
(the radiators own the fault, the loop loses the coolant; not while the panel's valve is
closed: then only the panel's trapped coolant leaks, see the radiators): a hole (orifice to
vacuum) whose flow follows the loop's pressure, P = P_fill·(m/m_fill)^n of the bellows accumulator
(``hwsim.model.fluid``), so pressure and inventory reach zero together. A seized pump's
stall power is heat into its loop (``pump_heat_w``) until its channel trips.

The loops' coolant *temperatures* are nodes of the thermal network
(:mod:`hwsim.spacecraft`'s network); the loop reads them as inputs when read.

Inputs: ``update_flows(dt_s, switch_on)``, the closed state of each pump's PDU switch (in pump
order), ``served`` (public, per pump: the bus served its switch) and ``blocked`` (public, per
loop: every radiator panel of the loop isolated, so no flow). ``step_slow(dt_s)``
integrates leaks and wear.

Outputs (public): ``flow_kg_s`` (per loop, ndarray), ``inventory_kg`` (ndarray),
``pump_power_w`` (per pump, list), ``pump_power_total_w``, ``pump_heat_w`` (per loop: the
pumps' power, which ends up in the coolant, ndarray), ``pump_heat_total_w``, ``leak_kg_s``
(per loop, the leak flow at the last step) and :meth:`pressure_kpa`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from hwsim.config import LoopConfig
from hwsim.model.devices import DeviceError
from hwsim.model.fluid import (
    inventory_flow_factor,
    leak_inventory_step_kg,
    leak_rate_constant,
    loop_pressure_pa,
    operating_flow_kg_s,
    orifice_area_for_flow_m2,
    pump_electrical_power_w,
)
from icd.devices import CommandArgs, LoopRegisters, PumpRegisters
from icd.devices.pump import PumpSetSpeed

__all__ = ["Loops"]


class Loops:
    """Every coolant loop and its pumps (see the module doc)."""

    FAULTS = ("pump_seizure", "pump_degradation")

    def __init__(self, loops: Sequence[LoopConfig]) -> None:
        self.config = list(loops)
        self.loop_ids = [lp.loop_id for lp in loops]
        self.loop_index = {lp: i for i, lp in enumerate(self.loop_ids)}
        nl = len(loops)
        self.cp_j_per_kg_k = np.array([lp.cp_j_per_kg_k for lp in loops])
        self._rho = [lp.rho_kg_m3 for lp in loops]
        self.inventory_nominal_kg = [lp.inventory_kg for lp in loops]
        self.inventory_kg = np.array(self.inventory_nominal_kg, dtype=float)
        # leaks: holes (orifices to vacuum) of total area leak_area_m2; the flow follows the
        # loop pressure of the bellows accumulator, P = P_fill·(m/m_fill)^n
        self._cd = [lp.leak_discharge_coefficient for lp in loops]
        self._acc_n = [lp.accumulator_exponent for lp in loops]
        self._p_fill_pa = [lp.nominal_pressure_kpa * 1e3 for lp in loops]
        self.leak_area_m2 = [0.0] * nl
        self._leak_c = [0.0] * nl
        self.leak_kg_s = [0.0] * nl
        self._k = [lp.pressure_drop_at_design_flow_kpa / lp.design_flow_kg_s**2 for lp in loops]
        self.flow_kg_s = np.zeros(nl)
        self.dp_kpa = [0.0] * nl
        self.static_kpa = [lp.nominal_pressure_kpa for lp in loops]
        self.pump_heat_w = np.zeros(nl)
        self.pump_heat_total_w = 0.0
        self.pump_power_total_w = 0.0
        # pumps, flattened in loop order
        self.pump_ids: list[str] = []
        self.pump_loop: list[int] = []
        self._p_cfg = []
        for li, lp in enumerate(loops):
            for p in lp.pumps:
                self.pump_ids.append(f"pump.{lp.loop_id}.{p.pump_id}")
                self.pump_loop.append(li)
                self._p_cfg.append(p)
        self.pump_index = {pid: i for i, pid in enumerate(self.pump_ids)}
        npump = len(self.pump_ids)
        self.running = [p.running_at_start for p in self._p_cfg]
        self.speed_rpm = [p.nominal_speed_rpm if p.running_at_start else 0.0 for p in self._p_cfg]
        self.target_rpm = [p.nominal_speed_rpm for p in self._p_cfg]
        self.seized = [False] * npump
        self.head_fraction = [1.0] * npump
        self._wear_per_s = [0.0] * npump
        self._min_head = [0.1] * npump
        self.pump_power_w = [0.0] * npump
        self.pump_flow_kg_s = [0.0] * npump
        self.served = [True] * npump
        # a loop whose radiator panels are all isolated (valves closed) is blocked: no flow
        # (set by the spacecraft from the radiators' valves)
        self.blocked = [False] * nl

    @property
    def has_slow_faults(self) -> bool:
        """A leak or pump wear is under way (``step_slow`` has work every step)."""
        leaking = any(
            c > 0.0 and m > 0.0 for c, m in zip(self._leak_c, self.inventory_kg, strict=True)
        )
        return leaking or any(x > 0.0 for x in self._wear_per_s)

    def pressure_kpa(self, li: int) -> float:
        """Static pressure of loop ``li`` from its inventory (loop_pressure_pa), kPa: zero
        exactly when the loop is empty."""
        return (
            loop_pressure_pa(
                float(self.inventory_kg[li]),
                self.inventory_nominal_kg[li],
                self._p_fill_pa[li],
                self._acc_n[li],
            )
            / 1e3
        )

    # ------------------------------------------------------------------------------ step

    def update_flows(self, dt_s: float, switch_on: Sequence[bool]) -> tuple[bool, bool]:
        """Pump speeds ramp toward their targets; the loops' operating flow, pressures and the
        pumps' power follow. Returns (flows changed, every pump at its target speed)."""
        nl = len(self.loop_ids)
        n_run = [0] * nl
        s_sum = [0.0] * nl
        h_sum = [0.0] * nl
        steady = True
        for i, p in enumerate(self._p_cfg):
            li = self.pump_loop[i]
            energised = self.running[i] and self.served[i] and switch_on[i]
            if self.seized[i]:
                self.speed_rpm[i] = 0.0
                continue
            target = self.target_rpm[i] if energised else 0.0
            sp = self.speed_rpm[i]
            ramp = p.spin_rate_rpm_s * dt_s
            sp = min(target, sp + ramp) if sp < target else max(target, sp - ramp)
            self.speed_rpm[i] = sp
            steady = steady and sp == target
            if sp > 0.0:
                n_run[li] += 1
                s_sum[li] += sp / p.max_speed_rpm
                h_sum[li] += self.head_fraction[i]
        flows_before = self.flow_kg_s.tolist()
        for li in range(nl):
            cfg = self.config[li]
            inv_frac = self.inventory_kg[li] / self.inventory_nominal_kg[li]
            self.static_kpa[li] = self.pressure_kpa(li)
            if n_run[li] and self.blocked[li]:
                # every panel isolated: the pumps dead-head at their shut-off head
                pc = cfg.pumps[0]
                s_avg = s_sum[li] / n_run[li]
                self.flow_kg_s[li] = 0.0
                self.dp_kpa[li] = float(pc.max_pressure_kpa * h_sum[li] / n_run[li] * s_avg**2)
                continue
            if n_run[li]:
                pc = cfg.pumps[0]
                hf = h_sum[li] / n_run[li]
                flow = operating_flow_kg_s(
                    s_sum[li] / n_run[li],
                    n_run[li],
                    pc.max_pressure_kpa * hf,
                    pc.max_flow_kg_s * hf,
                    self._k[li],
                ) * inventory_flow_factor(inv_frac, cfg.min_inventory_fraction)
            else:
                flow = 0.0
            self.flow_kg_s[li] = flow
            self.dp_kpa[li] = float(self._k[li] * flow * flow)
        pump_heat = [0.0] * nl
        for i, p in enumerate(self._p_cfg):
            li = self.pump_loop[i]
            energised = self.running[i] and switch_on[i]
            if self.seized[i]:
                # a seized, energised motor draws stall power until it is stopped (or its
                # channel trips); the windings dissipate it all, into the coolant that cools
                # the motor (the hot leg, like a running pump's power)
                self.pump_power_w[i] = p.max_power_w if energised else 0.0
                self.pump_flow_kg_s[i] = 0.0
                pump_heat[li] += self.pump_power_w[i]
            elif self.speed_rpm[i] > 0.0:
                f = float(self.flow_kg_s[li]) / n_run[li]
                self.pump_flow_kg_s[i] = f
                pw = pump_electrical_power_w(
                    f, self.dp_kpa[li], self._rho[li], p.efficiency, p.idle_power_w, p.max_power_w
                )
                self.pump_power_w[i] = pw if energised else 0.0
                pump_heat[li] += self.pump_power_w[i]
            else:
                self.pump_flow_kg_s[i] = 0.0
                self.pump_power_w[i] = p.idle_power_w if energised else 0.0
        self.pump_heat_w[:] = pump_heat
        self.pump_heat_total_w = sum(pump_heat)
        self.pump_power_total_w = sum(self.pump_power_w)
        return flows_before != self.flow_kg_s.tolist(), steady

    def step_slow(self, dt_s: float) -> bool:
        """Leaks drain inventory (leak_inventory_step_kg: the exact step of
        dm/dt = −c·m^(n/2), the orifice flow at the accumulator's pressure), worn pumps lose
        head; True when an inventory changed."""
        drained = False
        for li, c in enumerate(self._leak_c):
            if c > 0.0:
                m = float(self.inventory_kg[li])
                if m > 0.0:
                    m_new = leak_inventory_step_kg(m, dt_s, c, self._acc_n[li])
                    self.inventory_kg[li] = m_new
                    drained = True
                    m = m_new
                self.leak_kg_s[li] = c * m ** (0.5 * self._acc_n[li]) if m > 0.0 else 0.0
        for i, wear in enumerate(self._wear_per_s):
            if wear > 0.0:
                self.head_fraction[i] = max(self._min_head[i], self.head_fraction[i] - wear * dt_s)
        return drained

    # ------------------------------------------------------------------------------ devices

    def device_ids(self) -> list[str]:
        return [*self.pump_ids, *(f"loop.{lp}" for lp in self.loop_ids)]

    def read_pump(self, i: int, switch_on: bool, bus_voltage_v: float) -> PumpRegisters:
        li = self.pump_loop[i]
        if self.seized[i]:
            state = "seized"
        elif not switch_on:
            state = "unpowered"
        elif self.running[i]:
            state = "running"
        else:
            state = "off"
        rise = self.dp_kpa[li] if self.speed_rpm[i] > 0.0 else 0.0
        return PumpRegisters(
            state=state,
            speed_rpm=float(self.speed_rpm[i]),
            target_speed_rpm=float(self.target_rpm[i]),
            flow_kg_s=float(self.pump_flow_kg_s[i]),
            outlet_pressure_kpa=float(self.pressure_kpa(li) + rise),
            power_w=float(self.pump_power_w[i]),
            motor_current_a=float(self.pump_power_w[i] / max(bus_voltage_v, 1.0)),
        )

    def read_loop(
        self, li: int, supply_temp_k: float, return_temp_k: float, heat_load_w: float
    ) -> LoopRegisters:
        """Loop registers; the temperatures and heat load come from the thermal network."""
        return LoopRegisters(
            flow_kg_s=float(self.flow_kg_s[li]),
            pressure_kpa=float(self.pressure_kpa(li)),
            delta_p_kpa=float(self.dp_kpa[li]),
            supply_temp_k=float(supply_temp_k),
            return_temp_k=float(return_temp_k),
            inventory_kg=float(self.inventory_kg[li]),
            heat_load_w=float(heat_load_w),
        )

    def command_pump(self, i: int, command: str, args: CommandArgs, switch_on: bool) -> bool:
        """A pump command; True when the flow must be recomputed at once (start/stop)."""
        pid = self.pump_ids[i]
        if isinstance(args, PumpSetSpeed):
            cfg = self._p_cfg[i]
            if args.speed_rpm > cfg.max_speed_rpm:
                raise DeviceError(
                    "bad_argument",
                    f"{pid}.set_speed_rpm: speed_rpm={args.speed_rpm} outside "
                    f"(0, {cfg.max_speed_rpm}] (max_speed_rpm of this pump)",
                )
            if self.seized[i]:
                raise DeviceError("device_fault", f"{pid} is seized")
            self.target_rpm[i] = args.speed_rpm
            return False
        if command == "stop":
            self.running[i] = False
        elif command == "start":
            if not switch_on:
                raise DeviceError("device_off", f"{pid}: PDU switch is off")
            if self.seized[i]:
                raise DeviceError("device_fault", f"{pid} is seized and cannot start")
            self.running[i] = True
        return True

    # ------------------------------------------------------------------------------ faults

    def apply_fault(self, fault_id: str, i: int, params: dict[str, Any], time_s: float) -> None:
        if fault_id == "pump_seizure":
            self.seized[i] = True
        elif fault_id == "pump_degradation":
            self._wear_per_s[i] = float(params["head_loss_per_hour"]) / 3600.0
            self._min_head[i] = float(params["min_head_fraction"])
        else:
            raise ValueError(f"loops: no fault {fault_id!r} (valid: {', '.join(self.FAULTS)})")

    def clear_fault(self, fault_id: str, i: int, params: dict[str, Any]) -> None:
        if fault_id == "pump_degradation":
            self._wear_per_s[i] = 0.0

    def _hole_m2(self, li: int, rate_kg_s: float) -> float:
        """The hole that leaks ``rate_kg_s`` at the loop's fill pressure
        (orifice_area_for_flow_m2)."""
        return orifice_area_for_flow_m2(rate_kg_s, self._cd[li], self._rho[li], self._p_fill_pa[li])

    def _set_leak_area(self, li: int, area_m2: float) -> None:
        self.leak_area_m2[li] = area_m2
        self._leak_c[li] = leak_rate_constant(
            self._cd[li],
            area_m2,
            self._rho[li],
            self.inventory_nominal_kg[li],
            self._p_fill_pa[li],
            self._acc_n[li],
        )
        m = float(self.inventory_kg[li])
        self.leak_kg_s[li] = self._leak_c[li] * m ** (0.5 * self._acc_n[li]) if m > 0.0 else 0.0

    def accumulator_exponent(self, li: int) -> float:
        """n of loop ``li``'s accumulator law P = P_fill·(m/m_fill)^n."""
        return self._acc_n[li]

    def hole_leak_constant(
        self, li: int, rate_kg_s: float, volume_kg: float, pressure_pa: float
    ) -> float:
        """c of dm/dt = −c·m^(n/2) for the hole of a ``rate_kg_s`` puncture on loop ``li``
        (the hole that leaks it at the fill pressure) draining a volume of ``volume_kg`` of
        this loop's coolant held at ``pressure_pa`` (then P·(m/volume)^n): the coolant trapped
        in an isolated panel. 0 when any of them is 0."""
        if rate_kg_s <= 0.0 or volume_kg <= 0.0 or pressure_pa <= 0.0:
            return 0.0
        return leak_rate_constant(
            self._cd[li],
            self._hole_m2(li, rate_kg_s),
            self._rho[li],
            volume_kg,
            pressure_pa,
            self._acc_n[li],
        )

    def add_leak(self, li: int, rate_kg_s: float) -> None:
        """A hole opens on loop ``li`` (a punctured radiator panel): an orifice that leaks
        ``rate_kg_s`` at the fill pressure; the flow then follows the loop's pressure."""
        self._set_leak_area(li, self.leak_area_m2[li] + self._hole_m2(li, rate_kg_s))

    def remove_leak(self, li: int, rate_kg_s: float) -> None:
        """The hole of :meth:`add_leak` closes (the coolant lost stays lost)."""
        area = self.leak_area_m2[li] - self._hole_m2(li, rate_kg_s)
        self._set_leak_area(li, area if area > 1e-15 else 0.0)
