"""Power control (PUS 132, APID 1): sun tracking, MPPT supervision, battery charge management,
load shedding by priority, tripped switches, and the compute budget ahead of every eclipse.

Reads (the parameter pool, fed by the devices service; an invalid value is never acted on):
``battery.soc`` (0..1), ``battery.capacity_wh`` (Wh), ``battery.cell_faults``,
``wing.W<n>.{available_power_w, power_w, voltage_v (V), incidence_cos, sun_illumination (0..1),
sun_angle_deg, drive_angle_deg, target_angle_deg (deg), tracking, mppt_enabled, temp_k (K)}``,
``pump.*.power_w`` (W), ``pdu.<switch>_{on, tripped, trip_time_s (mission s)}``; bus
``ModeChanged`` (the mode in force) and ``TcDispatch`` for service 132.
Predicts (no sensor needed): eclipse entry and exit from the onboard orbit model
(:mod:`flightsw.orbit`, elements in :class:`Config`), re-anchored at eclipse edges the wings' sun
sensors see (illumination crossing 0.5: the cylindrical edge, penumbra or not).
Commands (device port): ``wing.W<n>`` ``set_tracking`` / ``mppt_enable``; ``pdu``
``switch_on`` / ``switch_off``.
Publishes, every ``period_s`` mission seconds: ``EclipseForecast``, ``ComputeLimit(source=
"power", scope="all")`` (W), ``power.*`` parameters (HK SID 6); ``ModeRequest`` (ECLIPSE at the
predicted entry, NOMINAL once the arrays deliver after the exit, SURVIVAL below the survival
floor); events 55-69 (icd.power.PowerEvent); ``TcProgress``.

The compute budget (W the boards may draw, all slots together):

- in sunlight: the array power available now (Σ ``available_power_w``: a stuck wing or a failed
  MPPT shows there) less the housekeeping loads switched on, the pumps, the charge power the
  battery needs to reach ``max_soc`` by ``charge_guard_s`` before the lead of the next predicted
  entry (energy / time, within its charge limit and efficiency), and ``budget_margin_w``;
- from ``shed_lead_s`` before the predicted entry until the arrays deliver again after the
  predicted exit: what the battery can carry through the rest of the eclipse plus
  ``eclipse_guard_s`` — its energy above the depth-of-discharge floor times the discharge
  efficiency over that time, within ``max_discharge_power_w`` — less housekeeping, pumps and
  the margin (0 when telemetry is invalid: the prediction alone says an eclipse is coming);
- 0 while the state of charge is below ``survival_soc``.

Budgets are rounded down to ``budget_step_w`` so the payload manager is not asked to re-plan for
every watt. The depth-of-discharge floor is ``min_soc`` (132,5 sets it), raised by
``floor_per_failed_cell`` for each failed cell and by the capacity lost (BATTERY_DEGRADED).

Loads: housekeeping loads are shed by priority (highest number first; priority 0, avionics,
never) when the battery is below its floor, or cannot carry them through the eclipse, and
restored in reverse order once the battery is ``restore_hysteresis`` above the floor in
sunlight. A tripped PDU switch is re-closed once; if it trips again (a new trip time, or the
re-close is refused) it stays open.

Telecommands: 132,1 shed / 132,2 restore a load; 132,3 sun tracking and 132,4 MPPT of a wing;
132,5 the minimum state of charge; 132,6 re-close a tripped switch once. A refusal is a 1,8
with an ``icd.errors.ErrorCode`` (POWER_*) and a POWER_COMMAND_REFUSED event saying why
(never the event of the action it did not do).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from flightsw.context import ServiceContext
from flightsw.messages import (
    ComputeLimit,
    EclipseForecast,
    ModeChanged,
    ModeRequest,
    TcDispatch,
)
from flightsw.orbit import (
    EclipseWindow,
    OrbitElements,
    corrected_at_edge,
    eclipse_window,
    orbital_period_s,
)
from flightsw.pool import ParameterPool, follow
from icd import power as icd_power
from icd.dictionary import Mode
from icd.errors import ErrorCode
from icd.power import BatteryLimit, PowerEvent, SwitchRequest, WingRequest
from runtime.clock import DEFAULT_START_NS, NS_PER_S
from runtime.ports import DevicePortError

__all__ = ["Config", "LoadDef", "PowerController", "run"]

T = TypeVar("T")
_NS = NS_PER_S


class LoadDef(BaseModel):
    """A housekeeping load behind a PDU switch (the onboard database's copy of its rating)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="PDU switch name.", pattern=r"^\w+$")
    power_w: float = Field(ge=0, description="Power drawn when on, W.")
    priority: int = Field(
        ge=0, le=9, description="Shedding priority: 9 shed first, 0 never (avionics)."
    )


class Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    period_s: float = Field(1.0, gt=0, description="Control cycle, mission seconds.")
    orbit: OrbitElements = Field(
        default_factory=lambda: OrbitElements(epoch_ns=DEFAULT_START_NS),
        description="Onboard ephemeris (the launcher fills it from the spacecraft config).",
    )
    wings: tuple[str, ...] = Field(("W1", "W2"), description="Wing ids ('W1').")
    loads: tuple[LoadDef, ...] = Field(
        (
            LoadDef(name="avionics", power_w=1500.0, priority=0),
            LoadDef(name="laser_terminals", power_w=1000.0, priority=2),
        ),
        description="Housekeeping loads behind PDU switches, with shedding priorities.",
    )
    battery_capacity_wh: float = Field(
        30_000.0, gt=0, description="Usable capacity when the battery's register is invalid, Wh."
    )
    max_charge_power_w: float = Field(30_000.0, gt=0, description="Battery charge limit, W.")
    max_discharge_power_w: float = Field(60_000.0, gt=0, description="Discharge limit, W.")
    charge_efficiency: float = Field(0.95, gt=0, le=1, description="Stored / charged energy.")
    discharge_efficiency: float = Field(0.97, gt=0, le=1, description="Delivered / drawn.")
    min_soc: float = Field(
        0.30, ge=0.05, le=0.9, description="Depth-of-discharge floor (132,5 changes it)."
    )
    max_soc: float = Field(0.95, gt=0, le=1, description="State of charge wanted at entry.")
    survival_soc: float = Field(
        0.25, ge=0, le=0.9, description="Below it: compute 0 and SURVIVAL requested."
    )
    floor_per_failed_cell: float = Field(
        0.02, ge=0, le=0.2, description="Floor raised per failed cell (fraction of charge)."
    )
    restore_hysteresis: float = Field(
        0.05, ge=0, le=0.5, description="SoC above the floor before shed loads come back."
    )
    shed_lead_s: float = Field(
        120.0, ge=0, description="Eclipse budget in force this long before predicted entry, s."
    )
    eclipse_guard_s: float = Field(
        120.0, ge=0, description="The battery budget carries this long past predicted exit, s."
    )
    charge_guard_s: float = Field(
        300.0, ge=0, description="Charging should be done this long before the shed lead, s."
    )
    budget_margin_w: float = Field(1_000.0, ge=0, description="Power kept back, W.")
    budget_step_w: float = Field(500.0, gt=0, description="Budgets are rounded down to it, W.")
    sunlit_illumination: float = Field(
        0.5, gt=0, lt=1, description="Sun-sensor fraction that counts as lit (edge threshold)."
    )
    edge_correction_min_s: float = Field(
        2.0, ge=0, description="Orbit-model corrections smaller than this are not applied, s."
    )
    stuck_tolerance_deg: float = Field(5.0, gt=0, description="Drive error that is suspect.")
    stuck_motion_deg: float = Field(0.5, gt=0, description="Motion that proves a drive moves.")
    stuck_persist_s: float = Field(30.0, gt=0, description="Suspect this long = stuck, s.")
    mpp_voltage_v: float = Field(300.0, gt=0, description="Array voltage at the MPP, V.")
    mpp_voltage_tolerance_v: float = Field(20.0, gt=0, description="Off the MPP beyond it, V.")
    mppt_ratio: float = Field(
        0.85, gt=0, lt=1, description="A wing below this share of its sister's power/cos is off."
    )
    mppt_cos_ratio: float = Field(
        0.8,
        gt=0,
        le=1,
        description="Wings are compared only when the smaller incidence cosine is at least this "
        "share of the larger: a wing far off the Sun (a stuck drive) is no reference.",
    )
    cell_temp_coeff_per_k: float = Field(
        -0.0035, le=0, description="Cell efficiency change per K (data sheet; hwsim WingConfig)."
    )
    cell_reference_temp_k: float = Field(
        301.15, gt=0, description="Temperature of the data-sheet efficiency, K."
    )
    mppt_persist_s: float = Field(10.0, gt=0, description="Off the MPP this long = suspect, s.")
    mppt_settle_s: float = Field(20.0, gt=0, description="After a restart, wait this long, s.")
    retry_s: float = Field(60.0, gt=0, description="Re-enable tracking / MPPT at most this often.")
    load_step_s: float = Field(30.0, gt=0, description="One load shed or restored per this, s.")
    reclose_delay_s: float = Field(
        5.0, ge=0, description="A trip is re-closed this long after it is seen (others act first)."
    )

    @model_validator(mode="after")
    def _floors(self) -> Config:
        if not self.survival_soc < self.min_soc < self.max_soc:
            raise ValueError("need survival_soc < min_soc < max_soc")
        return self


@dataclass
class _Wing:
    name: str
    want_tracking: bool = True
    want_mppt: bool = True
    stuck: bool = False
    stuck_angle_deg: float = 0.0
    suspect_since_ns: int | None = None
    suspect_angle_deg: float = 0.0
    mppt_off_since_ns: int | None = None
    mppt_restarted_ns: int | None = None
    mppt_failed: bool = False
    last_retry_ns: int = -(2**62)


@dataclass
class _Trip:
    trip_time_s: float
    seen_ns: int = 0
    reclosed: bool = False
    kept_open: bool = False


@dataclass
class PowerController:
    """The controller's state and its decisions (one instance per service run)."""

    ctx: ServiceContext
    config: Config
    pool: ParameterPool
    elements: OrbitElements
    min_soc: float
    wings: dict[str, _Wing] = field(default_factory=dict)
    mode: Mode | None = None
    shed: bool = False
    eclipse_requested: bool = False
    survival: bool = False
    budget_w: float | None = None
    charge_w: float = 0.0
    housekeeping_w: float = 0.0
    array_w: float = 0.0
    correction_s: float = 0.0
    inputs_invalid: bool = True  # until the first acquisition: no event for the start
    cell_faults: int = 0
    capacity_seen_wh: float | None = None
    degraded_floor: float = 0.0
    loads_shed: list[str] = field(default_factory=list)  # autonomy, in shedding order
    ground_shed: set[str] = field(default_factory=set)
    last_load_step_ns: int = -(2**62)
    trips: dict[str, _Trip] = field(default_factory=dict)
    pending_trips: dict[str, _Trip] = field(default_factory=dict)  # seen, re-close due later
    last_lit: tuple[bool, int] | None = None
    announced_shed: bool = False
    _switches: list[str] = field(default_factory=list)
    _pump_powers: list[str] = field(default_factory=list)
    _trip_names: dict[str, tuple[str, str]] = field(default_factory=dict)
    _names_ns: int = 0

    def __post_init__(self) -> None:
        self.wings = {w: _Wing(w) for w in self.config.wings}

    # ------------------------------------------------------------------ helpers

    def now(self) -> int:
        return self.ctx.clock.now_ns()

    def floor(self) -> float:
        return min(0.9, self.min_soc + self.degraded_floor)

    async def _answered(self, request: Awaitable[T]) -> T:
        return await self.ctx.clock.wait_for(request, self.ctx.devices.timeout_s)

    async def device(self, device: str, command: str, args: dict[str, Any]) -> str | None:
        """Command a device; None when done, else why not (refused or silent)."""
        try:
            await self._answered(self.ctx.devices.command(device, command, args))
        except DevicePortError as exc:
            return str(exc)
        except TimeoutError:
            return f"{device}: no answer within {self.ctx.devices.timeout_s:g} s"
        return None

    def _wing_value(self, wing: str, register: str) -> float | None:
        return self.pool.get(f"wing.{wing}.{register}")

    def _load(self, name: str) -> LoadDef | None:
        return next((ld for ld in self.config.loads if ld.name == name), None)

    def switches(self) -> list[str]:
        """PDU switch names the acquisition has reported (the configuration's: a name stays
        known while its device is silent). Listed again once a minute, and while none is
        known: the pool holds a thousand PDU parameters and the list only grows."""
        now = self.now()
        if not (self._switches and self._pump_powers) or now - self._names_ns > 60 * _NS:
            self._names_ns = now
            for n in self.pool.names("pdu."):
                if n.endswith("_tripped") and n[4:-8] not in self._switches:
                    self._switches.append(n[4:-8])
            for n in self.pool.names("pump."):
                if n.endswith(".power_w") and n not in self._pump_powers:
                    self._pump_powers.append(n)
        return self._switches

    # ------------------------------------------------------------------ one cycle

    async def cycle(self) -> None:
        now = self.now()
        self.observe_edges()
        window = eclipse_window(self.elements, now)
        self.ctx.publish(
            EclipseForecast(
                in_eclipse=window.in_eclipse,
                next_entry_ns=window.next_entry_ns,
                next_exit_ns=window.next_exit_ns,
                eclipse_duration_s=window.duration_s,
            )
        )
        self.battery_health()
        await self.tracking(now)
        await self.mppt(now)
        await self.tripped_switches(now)
        self.budget(now, window)
        await self.loads(now, window)
        self.publish_parameters(now, window)

    # ------------------------------------------------------------------ orbit model

    def observe_edges(self) -> None:
        """Re-anchor the orbit model at an eclipse edge the sun sensors saw (midpoint between
        the last sample on one side and the first on the other)."""
        readings = [
            (v, self.pool.sampled_ns(f"wing.{w}.sun_illumination"))
            for w in self.config.wings
            if (v := self._wing_value(w, "sun_illumination")) is not None
        ]
        if not readings:
            self.last_lit = None
            return
        lit = max(v for v, _ in readings) >= self.config.sunlit_illumination
        t_ns = max(t for _, t in readings if t is not None)
        previous, self.last_lit = self.last_lit, (lit, t_ns)
        if previous is None or previous[0] == lit or t_ns <= previous[1]:
            return
        if t_ns - previous[1] > 3 * self.config.period_s * _NS:
            return  # a gap in the telemetry: the edge is not pinned down
        observed = (previous[1] + t_ns) // 2
        edge = "exit" if lit else "entry"
        elements, correction_s = corrected_at_edge(self.elements, observed, edge)
        if abs(correction_s) < self.config.edge_correction_min_s:
            return
        self.elements = elements
        self.correction_s = correction_s
        self.ctx.event(
            PowerEvent.ORBIT_MODEL_CORRECTED,
            f"sun sensors saw the eclipse {edge} {correction_s:+.1f} s from the orbit "
            f"model's prediction; phase re-anchored",
        )

    # ------------------------------------------------------------------ battery

    def battery_health(self) -> None:
        cells = self.pool.get("battery.cell_faults")
        capacity = self.pool.get("battery.capacity_wh")
        if cells is None or capacity is None:
            return
        if self.capacity_seen_wh is None:
            self.capacity_seen_wh = capacity
        lost = max(0.0, 1.0 - capacity / max(self.config.battery_capacity_wh, 1.0))
        if int(cells) > self.cell_faults:
            self.cell_faults = int(cells)
            self.degraded_floor = self.cell_faults * self.config.floor_per_failed_cell + lost
            self.ctx.event(
                PowerEvent.BATTERY_DEGRADED,
                f"battery: {self.cell_faults} failed cell(s), capacity {capacity:.0f} Wh "
                f"({lost:.0%} lost): minimum SoC raised to {self.floor():.0%}",
            )

    # ------------------------------------------------------------------ wings

    async def tracking(self, now: int) -> None:
        cfg = self.config
        for w in self.wings.values():
            drive = self._wing_value(w.name, "drive_angle_deg")
            tracking = self._wing_value(w.name, "tracking")
            sun = self._wing_value(w.name, "sun_angle_deg")
            target = self._wing_value(w.name, "target_angle_deg")
            if drive is None or tracking is None or sun is None or target is None:
                w.suspect_since_ns = None
                continue
            if w.stuck:
                if abs(_wrap(drive - w.stuck_angle_deg)) > 4 * cfg.stuck_motion_deg:
                    w.stuck = False  # it moves again (the fault cleared)
                    self.ctx.event(
                        PowerEvent.SUN_TRACKING_SET,
                        f"wing {w.name}: array drive moves again ({drive:.1f} deg)",
                    )
                continue
            aim = sun if tracking >= 0.5 else target
            error = abs(_wrap(aim - drive))
            if error <= cfg.stuck_tolerance_deg:
                w.suspect_since_ns = None
            elif (
                w.suspect_since_ns is None
                or abs(_wrap(drive - w.suspect_angle_deg)) >= cfg.stuck_motion_deg
            ):
                w.suspect_since_ns, w.suspect_angle_deg = now, drive  # slewing: not stuck
            elif now - w.suspect_since_ns >= cfg.stuck_persist_s * _NS:
                self._drive_stuck(w, drive, f"{error:.1f} deg off its aim and not moving")
                continue
            wanted = w.want_tracking and self.mode in (None, Mode.NOMINAL, Mode.ECLIPSE)
            if wanted and tracking < 0.5 and now - w.last_retry_ns >= cfg.retry_s * _NS:
                w.last_retry_ns = now
                refused = await self.device(f"wing.{w.name}", "set_tracking", {"enabled": True})
                if refused is None:
                    self.ctx.event(
                        PowerEvent.SUN_TRACKING_SET, f"wing {w.name}: sun tracking re-enabled"
                    )
                elif "stuck" in refused:
                    self._drive_stuck(w, drive, f"set_tracking refused: {refused}")

    def _drive_stuck(self, w: _Wing, drive: float, why: str) -> None:
        w.stuck, w.stuck_angle_deg, w.suspect_since_ns = True, drive, None
        self.ctx.event(
            PowerEvent.ARRAY_DRIVE_STUCK,
            f"wing {w.name}: array drive stuck at {drive:.1f} deg ({why}); budget "
            f"re-balanced on the remaining array power",
        )

    def _off_mpp(self, w: _Wing, norms: dict[str, float], cosines: dict[str, float]) -> str | None:
        """Why wing ``w`` seems off its maximum power point, or None. ``norms``: each lit
        wing's power per unit incidence at the reference cell temperature, W; ``cosines``:
        their incidence cosines."""
        cfg = self.config
        enabled = self._wing_value(w.name, "mppt_enabled")
        voltage = self._wing_value(w.name, "voltage_v")
        if enabled is None or enabled < 0.5 or w.name not in norms:
            return None
        if voltage is not None and abs(voltage - cfg.mpp_voltage_v) > cfg.mpp_voltage_tolerance_v:
            return f"array at {voltage:.0f} V, MPP {cfg.mpp_voltage_v:.0f} V"
        # Only sisters with a comparable incidence: at a grazing angle the share of Earth
        # albedo and the colder cells make power/cos no measure of the MPP (a stuck W1 made
        # W2 look 15 % short and raised a false MPPT_FAILED).
        mine, cos_w = norms[w.name], cosines[w.name]
        peers = [
            n
            for name, n in norms.items()
            if min(cos_w, cosines[name]) >= cfg.mppt_cos_ratio * max(cos_w, cosines[name])
        ]
        best = max(peers)
        if len(peers) > 1 and mine < cfg.mppt_ratio * best:
            return f"power/cos {mine:.0f} W, {mine / best:.0%} of the best wing"
        return None

    async def mppt(self, now: int) -> None:
        cfg = self.config
        norms: dict[str, float] = {}
        cosines: dict[str, float] = {}
        for w in self.wings.values():
            avail = self._wing_value(w.name, "available_power_w")
            cos_i = self._wing_value(w.name, "incidence_cos")
            lit = self._wing_value(w.name, "sun_illumination")
            if avail is None or cos_i is None or lit is None:
                continue
            if lit >= cfg.sunlit_illumination and cos_i > 0.2 and avail > 1000.0:
                # Cells work better cold: a wing off the Sun runs colder, and its power/cos
                # would beat a sister's on its MPP. Normalise to the reference temperature.
                temp = self._wing_value(w.name, "temp_k")
                eta = 1.0
                if temp is not None:
                    eta = 1.0 + cfg.cell_temp_coeff_per_k * (temp - cfg.cell_reference_temp_k)
                norms[w.name] = avail / (cos_i * max(eta, 0.1))
                cosines[w.name] = cos_i
        for w in self.wings.values():
            enabled = self._wing_value(w.name, "mppt_enabled")
            if (
                w.want_mppt
                and enabled is not None
                and enabled < 0.5
                and now - w.last_retry_ns >= cfg.retry_s * _NS
            ):
                w.last_retry_ns = now
                await self.device(f"wing.{w.name}", "mppt_enable", {"enabled": True})
                continue
            if w.mppt_failed:
                continue
            why = self._off_mpp(w, norms, cosines)
            if why is None:
                if w.name in norms:
                    w.mppt_off_since_ns = None
                    restarted = w.mppt_restarted_ns
                    if restarted is not None and now - restarted >= cfg.mppt_settle_s * _NS:
                        w.mppt_restarted_ns = None  # the restart cured it: a later fault gets one
                        self.ctx.event(
                            PowerEvent.MPPT_RESTARTED,
                            f"wing {w.name}: back on its maximum power point after the restart",
                        )
                continue
            if w.mppt_off_since_ns is None:
                w.mppt_off_since_ns = now
                continue
            if now - w.mppt_off_since_ns < cfg.mppt_persist_s * _NS:
                continue
            if w.mppt_restarted_ns is None:
                w.mppt_restarted_ns, w.mppt_off_since_ns = now, None
                await self.device(f"wing.{w.name}", "mppt_enable", {"enabled": False})
                await self.device(f"wing.{w.name}", "mppt_enable", {"enabled": True})
                self.ctx.event(
                    PowerEvent.MPPT_RESTARTED,
                    f"wing {w.name}: off its maximum power point ({why}); MPPT restarted",
                )
            elif now - w.mppt_restarted_ns >= cfg.mppt_settle_s * _NS:
                w.mppt_failed = True
                self.ctx.event(
                    PowerEvent.MPPT_FAILED,
                    f"wing {w.name}: still off its maximum power point after a restart ({why}); "
                    "budget made on the reduced array power",
                )

    # ------------------------------------------------------------------ switches

    async def tripped_switches(self, now: int) -> None:
        names = self._trip_names
        get = self.pool.get
        for sw in self.switches():
            # ~170 switches every period: the names made once, the trip time read only for
            # a tripped switch (what is acted on is the same).
            pair = names.get(sw)
            if pair is None:
                pair = names[sw] = (f"pdu.{sw}_tripped", f"pdu.{sw}_trip_time_s")
            tripped = get(pair[0])
            if tripped is None or tripped < 0.5:
                continue
            trip_time = get(pair[1])
            if trip_time is None:
                continue
            known = self.trips.get(sw)
            if known is not None and (known.kept_open or known.trip_time_s == trip_time):
                continue  # handled (or the sample predates the re-close)
            if known is not None and known.reclosed:
                known.kept_open = True
                self.ctx.event(
                    PowerEvent.SWITCH_TRIPPED,
                    f"switch {sw} tripped again at {trip_time:.1f} s after its re-close: kept open",
                )
                continue
            pending = self.pending_trips.get(sw)
            if pending is None or pending.trip_time_s != trip_time:
                self.pending_trips[sw] = _Trip(trip_time, seen_ns=now)
                self.ctx.event(
                    PowerEvent.SWITCH_TRIPPED,
                    f"switch {sw} tripped (overcurrent) at {trip_time:.1f} s: re-closing it once "
                    f"in {self.config.reclose_delay_s:g} s",
                )
                continue
            if now - pending.seen_ns < self.config.reclose_delay_s * _NS:
                continue
            del self.pending_trips[sw]
            self.trips[sw] = _Trip(trip_time)
            await self.reclose(sw, "autonomy")

    async def reclose(self, sw: str, by: str) -> str | None:
        """Re-close ``sw`` once for its present trip; None when done, else why not."""
        self.pending_trips.pop(sw, None)
        trip = self.trips.setdefault(sw, _Trip(self.pool.get(f"pdu.{sw}_trip_time_s") or -1.0))
        trip.reclosed = True
        refused = await self.device("pdu", "switch_on", {"switch": sw})
        if refused is None:
            self.ctx.event(PowerEvent.SWITCH_RECLOSED, f"switch {sw} re-closed once ({by})")
            return None
        trip.kept_open = True
        self.ctx.event(
            PowerEvent.SWITCH_TRIPPED, f"switch {sw}: re-close refused ({refused}): kept open"
        )
        return refused

    # ------------------------------------------------------------------ the budget

    def _housekeeping_w(self) -> float:
        hk = 0.0
        for ld in self.config.loads:
            on = self.pool.get(f"pdu.{ld.name}_on")
            hk += ld.power_w if on is None or on >= 0.5 else 0.0  # unknown: count it
        self.switches()  # refreshes the name lists
        pumps = [v for n in self._pump_powers if (v := self.pool.get(n)) is not None]
        return hk + sum(pumps)

    def budget(self, now: int, window: EclipseWindow) -> None:
        cfg = self.config
        soc = self.pool.get("battery.soc")
        capacity = self.pool.get("battery.capacity_wh") or cfg.battery_capacity_wh
        avail = [self._wing_value(w, "available_power_w") for w in cfg.wings]
        lit = [self._wing_value(w, "sun_illumination") for w in cfg.wings]
        invalid = soc is None or any(v is None for v in avail)
        if invalid != self.inputs_invalid:
            self.inputs_invalid = invalid
            if invalid:
                self.ctx.event(
                    PowerEvent.POWER_INPUTS_INVALID,
                    "battery or array telemetry invalid: budget held (0 in eclipse)",
                )
        self.housekeeping_w = hk = self._housekeeping_w()
        self.array_w = array = sum(v for v in avail if v is not None)
        entry, exit_ = window.next_entry_ns, window.next_exit_ns
        to_entry_s = math.inf if entry is None else (entry - now) / _NS
        in_shadow_phase = entry is not None and (window.in_eclipse or to_entry_s <= cfg.shed_lead_s)
        delivering = any(v is not None and v >= cfg.sunlit_illumination for v in lit) and array > hk
        # shed from the lead before the entry; restored after the exit once the arrays deliver
        if not self.shed and in_shadow_phase:
            self.shed = True
        elif self.shed and not in_shadow_phase and delivering:
            self.shed = False
            self.eclipse_requested = False
        margin = cfg.budget_margin_w
        if invalid or soc is None:
            budget = 0.0 if self.shed else self.budget_w
            reason = "telemetry invalid: budget held"
        elif soc < cfg.survival_soc:
            budget, reason = 0.0, f"battery at {soc:.0%}, below survival floor"
        elif self.shed:
            # the rest of this eclipse (the exit after the next entry, or this one's)
            carry_s = (exit_ - now) / _NS if exit_ is not None else 0.0
            carry_s = max(carry_s, 0.0) + cfg.eclipse_guard_s
            usable_j = max(0.0, soc - self.floor()) * capacity * 3600.0 * cfg.discharge_efficiency
            battery_w = min(cfg.max_discharge_power_w - margin, usable_j / carry_s)
            budget = battery_w - hk - margin
            reason = f"eclipse: battery {soc:.0%} carries {carry_s:.0f} s above {self.floor():.0%}"
            self.charge_w = 0.0
        else:
            budget = self._sunlit_budget(now, soc, capacity, to_entry_s, array, hk)
            reason = f"sunlight: array {array / 1000:.1f} kW, charge {self.charge_w / 1000:.1f} kW"
        if budget is not None:
            budget = math.floor(max(0.0, budget) / cfg.budget_step_w) * cfg.budget_step_w
        self._transitions(now, window, budget, soc)
        self.budget_w = budget
        if budget is not None:
            self.ctx.publish(
                ComputeLimit(source="power", scope="all", power_limit_w=budget, reason=reason)
            )

    def _sunlit_budget(
        self, now: int, soc: float, capacity: float, to_entry_s: float, array: float, hk: float
    ) -> float:
        cfg = self.config
        target = max(cfg.max_soc, self.floor() + 0.05)
        need_j = max(0.0, target - soc) * capacity * 3600.0 / cfg.charge_efficiency
        if math.isinf(to_entry_s):
            window_s = orbital_period_s(self.elements.altitude_km)
        else:
            window_s = to_entry_s - cfg.shed_lead_s - cfg.charge_guard_s
        charge = cfg.max_charge_power_w if window_s <= 60.0 else need_j / window_s
        if soc < self.floor():
            charge = cfg.max_charge_power_w
        self.charge_w = min(cfg.max_charge_power_w, charge) if need_j > 0 else 0.0
        return array - hk - self.charge_w - cfg.budget_margin_w

    def _transitions(
        self, now: int, window: EclipseWindow, budget: float | None, soc: float | None
    ) -> None:
        cfg = self.config
        if self.shed and not self.announced_shed:
            self.announced_shed = True
            entry = window.next_entry_ns if not window.in_eclipse else now
            self.ctx.event(
                PowerEvent.COMPUTE_SHED_FOR_ECLIPSE,
                f"eclipse predicted at {entry / _NS:.1f} s (in {(entry - now) / _NS:.0f} s) for "
                f"{window.duration_s:.0f} s: compute budget {budget or 0.0:.0f} W",
            )
        elif not self.shed and self.announced_shed:
            self.announced_shed = False
            self.ctx.event(
                PowerEvent.COMPUTE_RESTORED,
                f"arrays deliver after the eclipse: compute budget {budget or 0.0:.0f} W",
            )
            if self.mode in (None, Mode.ECLIPSE):
                self._request(Mode.NOMINAL, "eclipse over, arrays deliver")
        if window.in_eclipse and self.shed and not self.eclipse_requested:
            self.eclipse_requested = True
            if self.mode in (None, Mode.NOMINAL):
                self._request(
                    Mode.ECLIPSE, f"orbit model: in the shadow for {window.duration_s:.0f} s"
                )
        if soc is not None:
            if soc < cfg.survival_soc and not self.survival:
                self.survival = True
                self.ctx.event(
                    PowerEvent.BATTERY_LOW,
                    f"battery at {soc:.1%}, below the survival floor {cfg.survival_soc:.0%}: "
                    "compute 0, SURVIVAL requested",
                )
                self._request(Mode.SURVIVAL, f"battery at {soc:.1%}, below survival floor")
            elif soc > cfg.survival_soc + cfg.restore_hysteresis:
                self.survival = False

    def _request(self, mode: Mode, reason: str) -> None:
        self.ctx.publish(ModeRequest(mode=mode, source="power", reason=reason[:150]))

    # ------------------------------------------------------------------ loads

    async def loads(self, now: int, window: EclipseWindow) -> None:
        cfg = self.config
        soc = self.pool.get("battery.soc")
        capacity = self.pool.get("battery.capacity_wh") or cfg.battery_capacity_wh
        if soc is None or now - self.last_load_step_ns < cfg.load_step_s * _NS:
            return
        floor = self.floor()
        short = soc < floor
        if self.shed and not short and window.next_exit_ns is not None:
            carry_s = max(0.0, (window.next_exit_ns - now) / _NS) + cfg.eclipse_guard_s
            usable_j = max(0.0, soc - floor) * capacity * 3600.0 * cfg.discharge_efficiency
            short = usable_j < self.housekeeping_w * carry_s
        if short:
            candidates = [
                ld
                for ld in sorted(cfg.loads, key=lambda ld: -ld.priority)
                if ld.priority > 0
                and ld.name not in self.loads_shed
                and ld.name not in self.ground_shed
                and (self.pool.get(f"pdu.{ld.name}_on") or 0.0) >= 0.5
            ]
            if candidates:
                ld = candidates[0]
                self.last_load_step_ns = now
                refused = await self.device("pdu", "switch_off", {"switch": ld.name})
                if refused is None:
                    self.loads_shed.append(ld.name)
                    self.ctx.event(
                        PowerEvent.LOAD_SHED,
                        f"load {ld.name} ({ld.power_w:.0f} W, priority {ld.priority}) shed: "
                        f"battery {soc:.0%}, floor {floor:.0%}",
                    )
            return
        if (
            self.loads_shed
            and not self.shed
            and soc > floor + cfg.restore_hysteresis
            and self.array_w - self.housekeeping_w > 0.0
        ):
            name = self.loads_shed[-1]
            self.last_load_step_ns = now
            if await self.device("pdu", "switch_on", {"switch": name}) is None:
                self.loads_shed.pop()
                self.ctx.event(
                    PowerEvent.LOAD_RESTORED, f"load {name} restored: battery {soc:.0%} in sunlight"
                )

    # ------------------------------------------------------------------ telemetry

    def publish_parameters(self, now: int, window: EclipseWindow) -> None:
        def until(t: int | None) -> float:
            return -1.0 if t is None else (t - now) / _NS

        values = {
            "power.array_available_w": self.array_w,
            "power.housekeeping_w": self.housekeeping_w,
            "power.charge_w": self.charge_w,
            "power.min_soc": self.floor(),
            "power.eclipse_predicted": float(window.in_eclipse),
            "power.eclipse_budget": float(self.shed),
            "power.next_entry_in_s": until(window.next_entry_ns),
            "power.next_exit_in_s": until(window.next_exit_ns),
            "power.eclipse_duration_s": window.duration_s,
            "power.orbit_correction_s": self.correction_s,
            "power.loads_shed": float(len(self.loads_shed) + len(self.ground_shed)),
            "power.wings_stuck": float(sum(w.stuck for w in self.wings.values())),
            "power.mppt_failed": float(sum(w.mppt_failed for w in self.wings.values())),
            "power.switches_open": float(sum(t.kept_open for t in self.trips.values())),
        }
        if self.budget_w is not None:
            values["power.compute_limit_w"] = self.budget_w
        self.ctx.parameters(**values)

    # ------------------------------------------------------------------ telecommands

    async def telecommand(self, tc: TcDispatch) -> None:
        self.ctx.progress(tc.request_id, tc.apid, "started")
        code, why = await self._execute(tc)
        if code is None:
            self.ctx.progress(tc.request_id, tc.apid, "completed")
            return
        self.ctx.event(PowerEvent.POWER_COMMAND_REFUSED, f"132,{tc.subservice} refused: {why}")
        self.ctx.progress(tc.request_id, tc.apid, "failed", code)

    async def _execute(self, tc: TcDispatch) -> tuple[ErrorCode | None, str]:
        sub = tc.subservice
        try:
            if sub in (1, 2, 6):
                return await self._switch_tc(sub, SwitchRequest.unpack(tc.app_data).switch)
            if sub in (3, 4):
                return await self._wing_tc(sub, WingRequest.unpack(tc.app_data))
            if sub == 5:
                return self._limit_tc(BatteryLimit.unpack(tc.app_data))
        except ValueError as exc:  # checked at acceptance; a forged dispatch is still refused
            return ErrorCode.INVALID_APP_DATA, str(exc)
        return ErrorCode.ILLEGAL_SUBSERVICE, f"no subservice {sub}"

    async def _switch_tc(self, sub: int, sw: str) -> tuple[ErrorCode | None, str]:
        if sw not in self.switches():
            return ErrorCode.POWER_UNKNOWN_TARGET, f"no PDU switch {sw!r}"
        load = self._load(sw)
        if sub == 1:
            if (load is not None and load.priority == 0) or sw.startswith("pump_"):
                return ErrorCode.POWER_LOAD_PROTECTED, f"{sw} is a priority-0 load: never shed"
            refused = await self.device("pdu", "switch_off", {"switch": sw})
            if refused is not None:
                return ErrorCode.DEVICE_ERROR, refused
            self.ground_shed.add(sw)
            if sw in self.loads_shed:
                self.loads_shed.remove(sw)
            self.ctx.event(PowerEvent.LOAD_SHED, f"load {sw} shed by telecommand")
            return None, ""
        if sub == 2:
            refused = await self.device("pdu", "switch_on", {"switch": sw})
            if refused is not None:
                return ErrorCode.DEVICE_ERROR, refused
            self.ground_shed.discard(sw)
            if sw in self.loads_shed:
                self.loads_shed.remove(sw)
            self.trips.pop(sw, None)  # an operator's decision: a fresh start for its trips
            self.ctx.event(PowerEvent.LOAD_RESTORED, f"load {sw} restored by telecommand")
            return None, ""
        tripped = self.pool.get(f"pdu.{sw}_tripped")
        trip = self.trips.get(sw)
        if tripped is None or tripped < 0.5:
            return ErrorCode.POWER_SWITCH_NOT_RECLOSABLE, f"{sw} is not tripped"
        if trip is not None and (trip.kept_open or trip.reclosed):
            return (
                ErrorCode.POWER_SWITCH_NOT_RECLOSABLE,
                f"{sw} was already re-closed once for this trip; kept open (132,2 overrides)",
            )
        refused = await self.reclose(sw, "telecommand")
        if refused is not None:
            return ErrorCode.DEVICE_ERROR, refused
        return None, ""

    async def _wing_tc(self, sub: int, request: WingRequest) -> tuple[ErrorCode | None, str]:
        w = self.wings.get(request.wing)
        if w is None:
            return ErrorCode.POWER_UNKNOWN_TARGET, f"no wing {request.wing!r}"
        if sub == 3:
            w.want_tracking = request.enabled
            command, args = "set_tracking", {"enabled": request.enabled}
        else:
            w.want_mppt = request.enabled
            command, args = "mppt_enable", {"enabled": request.enabled}
            if request.enabled:
                w.mppt_failed, w.mppt_restarted_ns, w.mppt_off_since_ns = False, None, None
        refused = await self.device(f"wing.{w.name}", command, args)
        if refused is not None:
            return ErrorCode.DEVICE_ERROR, refused
        if sub == 3:
            state = "on" if request.enabled else "off"
            self.ctx.event(PowerEvent.SUN_TRACKING_SET, f"wing {w.name}: sun tracking {state} (TC)")
        return None, ""

    def _limit_tc(self, request: BatteryLimit) -> tuple[ErrorCode | None, str]:
        value = request.min_soc_percent / 100.0
        cfg = self.config
        if value <= cfg.survival_soc:
            return (
                ErrorCode.POWER_LIMIT_REFUSED,
                f"minimum SoC {value:.0%} at or below the survival floor {cfg.survival_soc:.0%}",
            )
        if value + 0.05 > cfg.max_soc:
            return (
                ErrorCode.POWER_LIMIT_REFUSED,
                f"minimum SoC {value:.0%} leaves no room below the charge target {cfg.max_soc:.0%}",
            )
        self.min_soc = value
        self.ctx.event(
            PowerEvent.BATTERY_LIMIT_SET,
            f"minimum SoC set to {value:.0%} (floor in force {self.floor():.0%})",
        )
        return None, ""


def _wrap(angle_deg: float) -> float:
    """An angle difference in (-180, 180]."""
    return (angle_deg + 180.0) % 360.0 - 180.0


async def run(ctx: ServiceContext, config: Config) -> None:
    pool = ParameterPool()
    controller = PowerController(ctx, config, pool, config.orbit, config.min_soc)

    async def modes() -> None:
        async with ctx.subscribe(ModeChanged) as changes:
            async for message in changes:
                if isinstance(message, ModeChanged):
                    controller.mode = message.mode

    async def control() -> None:
        while True:
            await controller.cycle()
            await ctx.clock.sleep(config.period_s)

    async with (
        ctx.subscribe((TcDispatch, icd_power.SERVICE)) as requests,
        asyncio.TaskGroup() as tasks,
    ):
        tasks.create_task(follow(ctx, pool))
        tasks.create_task(modes())
        ctx.ready()
        tasks.create_task(control())
        async for message in requests:
            if isinstance(message, TcDispatch) and message.service == icd_power.SERVICE:
                await controller.telecommand(message)
