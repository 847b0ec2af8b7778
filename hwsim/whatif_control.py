"""The what-if runs' controller: a stand-in for flight software, outside the hardware model.

Until flight software flies what-if runs, :class:`WhatIfController` keeps the spacecraft
productive and safe the way flight software would, and like flight software it sees and
drives the hardware ONLY through the device API (``Spacecraft.read_model`` and
``Spacecraft.command``); it never touches the model's state. The runner calls
:meth:`WhatIfController.act` before every physics step, so what it reads is one step old
(the latency of a device port).

The law:

- **Compute, built-in slots** (every step): on in sunlight (or while the battery is above
  95 %), off in eclipse. In sunlight every slot runs at one utilisation sized to the array
  power left after housekeeping, pumps, plug-in boards and battery charging (rounded down to
  a 1 % grid, so commands go out only when it moves); a slot within 3 K of its die limit
  gets 0. Latched slots are power-cycled, thermally shut-down ones once 10 K below their
  limit. Slot states and die temperatures are polled every ``scan_period_s``.
- **Compute, plug-in boards** (every ``plugin_period_s`` and at eclipse edges): powered off
  in eclipse and on in sunlight, kept busy by a long filler job (about 10 minutes within
  the board's job limits: `hwsim.boards.slots.filler_shape`), all throttled to the one
  level that fits the power left; latch-ups power-cycled, over-temperature trips reset once
  cool, hung boards (heartbeat frozen under a job) reset. Nobody collects the filler jobs'
  results: they are drained when a board's count of ended jobs moved (the what-if runner
  does not compute them: ``hwsim.boards.executor.ResultsNotComputed``). A throttle level is
  commanded only when it differs from the board's commanded one.
- **Pumps** (every step): pump A of each loop runs, else the first usable pump (not seized,
  switch closed); the others stop (a seized one too, so it stops drawing stall power). The
  running pump's speed follows the loop's return temperature (half speed at 330 K, full at
  350 K, at least 30 %, 50 rpm steps), the temperature polled every ``scan_period_s``.

Static knowledge (what flight software keeps in its database): the configuration's load
ratings, pump maximum speeds, battery charge limit and loop layout; the boards' thermal and
capability models come from each board's ``identity`` command.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from computesat_sdk.contract import (
    BoardCapabilities,
    JobLimits,
    PowerState,
    ThermalElectricalModel,
)

from hwsim.boards.slots import FillerShape, filler_shape
from hwsim.model.devices import DeviceError

if TYPE_CHECKING:
    from hwsim.spacecraft import Spacecraft

__all__ = ["WhatIfController", "uniform_throttle_level"]

_UTIL_GRID = 0.01
# what the controller knows of a plug-in board: from its identity, and its filler job
_Models = tuple[ThermalElectricalModel, BoardCapabilities, FillerShape | None]


def uniform_throttle_level(models: list[ThermalElectricalModel], budget_w: float) -> int:
    """Smallest throttle level at which every board, busy, fits in ``budget_w`` (a level
    beyond a board's deepest counts as its deepest); the deepest level if none fits."""
    deepest = max((m.max_throttle_level for m in models), default=0)
    for level in range(deepest + 1):
        total_w = 0.0
        for m in models:
            lv = m.throttle_levels[min(level, m.max_throttle_level)]
            total_w += m.idle_w + (m.peak_w - m.idle_w) * lv.power_fraction
        if total_w <= budget_w:
            return level
    return deepest


class WhatIfController:
    """Drives a :class:`~hwsim.model.Spacecraft` through its device API (see the module doc).

    Use: ``law = WhatIfController(sc)``, then ``law.act()`` before each ``sc.step(dt)``.
    """

    def __init__(
        self,
        sc: Spacecraft,
        scan_period_s: float = 30.0,
        plugin_period_s: float = 30.0,
        filler_s: float = 600.0,
    ) -> None:
        self.sc = sc
        self.scan_period_s = scan_period_s
        self.plugin_period_s = plugin_period_s
        self.filler_s = filler_s  # how long a plug-in board's filler job lasts at full speed
        cfg = sc.config
        self._wings = [f"wing.{w.wing_id}" for w in cfg.wings]
        self._loops = [
            (
                f"loop.{lp.loop_id}",
                [f"pump.{lp.loop_id}.{p.pump_id}" for p in lp.pumps],
                {f"pump.{lp.loop_id}.{p.pump_id}": p.max_speed_rpm for p in lp.pumps},
            )
            for lp in cfg.loops
        ]
        self._hk_w = float(sum(ld.power_w for ld in cfg.power_bus.loads))
        self._max_charge_w = cfg.battery.max_charge_power_w
        slots = cfg.compute.expanded_slots()
        self._simple = [(f"slot.{s.slot_id}", s.idle_w, s.peak_w) for s in slots if not s.is_plugin]
        self._plugins = [f"slot.{s.slot_id}" for s in slots if s.is_plugin]
        # what the last poll saw: simple slot -> (power_state, die K, max die K, power W)
        self._slot_seen: dict[str, tuple[str, float, float, float]] = {}
        self._util_sent: dict[str, float] = {}
        self._return_k: dict[str, float] = {}
        self._simple_fresh = False  # a poll since the last sizing
        self._simple_on = False
        self._idle_w = self._dyn_w = 0.0
        self._u_sent = -1.0
        self._scan_t = -math.inf
        self._plug_t = -math.inf
        self._plug_on = True
        self._plug_w = 0.0
        self._beats: dict[str, int] = {}
        self._ended: dict[str, int] = {}  # jobs completed + failed when last drained
        # per board: its thermal model, capabilities and filler job (see filler_job)
        self._models: dict[str, _Models | None] = {}
        self._job_id = 0
        self.commands_sent = 0

    # ------------------------------------------------------------------------------ device API

    def _read(self, device_id: str) -> Any:
        return self.sc.read_model(device_id)

    def _cmd(self, device_id: str, command: str, **args: Any) -> dict[str, Any] | None:
        """A command; a refusal (device off, faulted...) is the law's to live with."""
        self.commands_sent += 1
        try:
            return self.sc.command(device_id, command, args)
        except DeviceError:
            return None

    # ------------------------------------------------------------------------------ the law

    def act(self) -> None:
        """One pass of the law (call before each physics step)."""
        t = self.sc.time_s
        soc = self._read("battery").soc
        wings = [self._read(w) for w in self._wings]
        sunlit = any(w.sun_illumination > 0.0 for w in wings)
        avail_w = sum(w.available_power_w for w in wings)
        want_on = sunlit or soc > 0.95
        edge = want_on != self._plug_on
        if t - self._scan_t >= self.scan_period_s or edge:
            self._scan(t)
        pump_w = self._pumps()
        charge_w = self._max_charge_w if soc < 0.95 else 0.0
        if self._simple:
            self._simple_slots(
                want_on, sunlit, avail_w - self._hk_w - pump_w - self._plug_w - charge_w
            )
        if self._plugins and (t - self._plug_t >= self.plugin_period_s or edge):
            self._plug_t = t
            simple_w = sum(seen[3] for seen in self._slot_seen.values())
            budget_w = avail_w - self._hk_w - pump_w - simple_w - charge_w
            self._plugin_boards(want_on, sunlit, budget_w)
        self._plug_on = want_on

    def _scan(self, t: float) -> None:
        """Poll the built-in slots and the loops' return temperatures."""
        self._scan_t = t
        for sid, _, _ in self._simple:
            r = self._read(sid)
            self._slot_seen[sid] = (str(r.power_state), r.die_temp_k, r.max_die_temp_k, r.power_w)
        self._simple_fresh = True
        for loop_id, _, _ in self._loops:
            self._return_k[loop_id] = self._read(loop_id).return_temp_k

    def _pumps(self) -> float:
        """Primary pump per loop, speed by return temperature; returns the pumps' power, W."""
        total_w = 0.0
        for loop_id, pumps, max_rpm in self._loops:
            regs = {pid: self._read(pid) for pid in pumps}
            total_w += sum(r.power_w for r in regs.values())
            usable = [p for p in pumps if str(regs[p].state) not in ("seized", "unpowered")]
            for pid in pumps:
                if str(regs[pid].state) == "seized" and regs[pid].power_w > 0.0:
                    self._cmd(pid, "stop")  # a seized motor draws stall power until stopped
            if not usable:
                continue
            primary = pumps[0] if pumps[0] in usable else usable[0]
            for pid in usable:
                running = str(regs[pid].state) == "running"
                if pid == primary and not running:
                    self._cmd(pid, "start")
                elif pid != primary and running:
                    self._cmd(pid, "stop")
            frac = 0.5 + 0.5 * (self._return_k.get(loop_id, 330.0) - 330.0) / 20.0
            target = round(max_rpm[primary] * max(0.3, min(1.0, frac)) / 50.0) * 50.0
            if target != regs[primary].target_speed_rpm:
                self._cmd(primary, "set_speed_rpm", speed_rpm=target)
        return total_w

    def _simple_slots(self, want_on: bool, sunlit: bool, left_w: float) -> None:
        seen = self._slot_seen
        if not want_on:
            if self._simple_fresh or self._simple_on:
                for sid, _, _ in self._simple:
                    if seen[sid][0] in ("on", "shed", "latched", "thermal_shutdown"):
                        self._cmd(sid, "power_off")
                        seen[sid] = ("off", *seen[sid][1:3], 0.0)
                self._simple_on = False
                self._simple_fresh = False
            return
        if self._simple_fresh or not self._simple_on:
            # after a poll or an eclipse: recover slots, then size the load anew
            for sid, _, _ in self._simple:
                state, die_k, max_k, power_w = seen[sid]
                if (
                    state == "off"
                    or state == "latched"
                    or (state == "thermal_shutdown" and die_k < max_k - 10.0)
                ):
                    if state != "off":
                        self._cmd(sid, "power_off")  # a power cycle clears a latch or a trip
                    if self._cmd(sid, "power_on") is not None:
                        seen[sid] = ("on", die_k, max_k, power_w)
                        self._util_sent.pop(sid, None)
            idle_w = dyn_w = 0.0
            for sid, idle, peak in self._simple:
                if seen[sid][0] in ("on", "shed", "latched"):
                    idle_w += idle
                    dyn_w += peak - idle
            self._idle_w, self._dyn_w = idle_w, dyn_w
            self._simple_on = True
            self._simple_fresh = False
            self._u_sent = -1.0
        dyn_w = self._dyn_w
        u = 0.0 if dyn_w <= 0 or not sunlit else (left_w - self._idle_w) / dyn_w
        u = math.floor(max(0.0, min(1.0, u)) / _UTIL_GRID + 1e-9) * _UTIL_GRID
        if u == self._u_sent:
            return
        self._u_sent = u
        for sid, _, _ in self._simple:
            state, die_k, max_k, _ = seen[sid]
            if state not in ("on", "shed", "off"):
                continue  # unpowered, latched or shut down: set_utilisation is refused
            target = 0.0 if die_k > max_k - 3.0 else u
            if self._util_sent.get(sid) != target:
                if self._cmd(sid, "set_utilisation", value=target) is not None:
                    self._util_sent[sid] = target

    def _board_models(self, sid: str) -> _Models | None:
        if sid not in self._models:
            ident = self._cmd(sid, "identity")
            if ident is None:
                self._models[sid] = None
            else:
                caps = BoardCapabilities.model_validate(ident["capabilities"])
                limits = JobLimits.model_validate(ident["limits"])
                self._models[sid] = (
                    ThermalElectricalModel.model_validate(ident["thermal"]),
                    caps,
                    filler_shape(caps, limits, self.filler_s),
                )
        return self._models[sid]

    def _plugin_boards(self, want_on: bool, sunlit: bool, budget_w: float) -> None:
        regs = {sid: self._read(sid) for sid in self._plugins}
        present = [sid for sid in self._plugins if regs[sid].present]
        self._plug_w = sum(regs[sid].power_w for sid in present)
        models = {sid: self._board_models(sid) for sid in present}
        thermal = [m[0] for m in models.values() if m is not None]
        level = uniform_throttle_level(thermal, budget_w) if sunlit else 0
        for sid in present:
            r = regs[sid]
            model = models[sid]
            ended = r.jobs_completed + r.jobs_failed
            if self._ended.get(sid) != ended:
                self._cmd(sid, "take_results")  # nobody collects the filler jobs' results
                self._ended[sid] = ended
            state = PowerState(r.power_state)
            if not want_on or str(r.supply) != "on":
                if state is not PowerState.OFF:
                    self._cmd(sid, "power_off")
                continue
            if state is PowerState.OFF:
                self._cmd(sid, "power_on")
                continue
            if state is PowerState.FAULT:
                if str(r.fault_reason) == "latch_up":
                    self._cmd(sid, "power_cycle")
                elif model is not None and r.die_temp_k < model[0].throttle_temp_k:
                    self._cmd(sid, "reset")
                continue
            if state is PowerState.BOOTING or model is None:
                continue
            if r.active_job_id >= 0 and self._beats.get(sid) == r.heartbeat:
                self._cmd(sid, "reset")  # hung: heartbeat frozen since the last pass
                continue
            self._beats[sid] = r.heartbeat
            want = min(level, model[0].max_throttle_level)
            if r.commanded_throttle_level != want:
                self._cmd(sid, "set_throttle", level=want)
            if sunlit and model[2] is not None and r.active_job_id < 0 and r.jobs_queued == 0:
                self._submit_filler(sid, model[2])

    def _submit_filler(self, sid: str, filler: FillerShape) -> None:
        """Queue the board's filler job (see `hwsim.boards.slots.filler_shape`)."""
        kernel, size, iterations, _ = filler
        self._job_id += 1
        self._cmd(
            sid,
            "submit_job",
            job_id=self._job_id,
            kernel=kernel,
            size=size,
            seed=1,
            iterations=iterations,
        )
