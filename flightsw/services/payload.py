"""Compute payload manager (PUS 140, APID 2): schedules ground jobs on the compute boards.

Reads:     the ``backplane`` device every ``period_s`` mission seconds (per-slot
           ``slot.NNN.<register>``: board, power_state, die_temp_k, power_w, throttle_level,
           heartbeat, jobs_queued, jobs_running, results_pending, boot_count, fault_reason
           ...), validated into ``icd.devices.BackplaneRegisters`` (a reply off the ICD is a
           device error), ``identity`` of each board once (capabilities, thermal/electrical
           envelope, job limits), ``battery`` (soc) and ``loop.L<n>`` (supply_temp_k,
           flow_kg_s) for the budgets, ``take_results`` of boards whose job is over; bus
           ``TcDispatch`` for service 140 (1 submit, 2 cancel, 3 list jobs, 6 list boards,
           8 power-cycle / 9 reset / 10 off / 11 on a board by slot), ``ComputeLimit`` (W per
           source and scope 'all' or loop id, matched to the backplane's ``loop_id``) and
           ``ModeChanged`` (no new job in SAFE / SURVIVAL).
           Job ends are event-driven: a long poll ``backplane.await_results`` (on a socket of
           its own, its answer validated into ``icd.devices.AwaitResultsResult``) is answered
           by hwsim as soon as a board has results ready, with that slot's registers, so a
           result is collected and the board given its next job at once, not at the next
           period. One round trip per batch of job ends (~70 µs, REFERENCE.md) against a 1 s
           period's worth of delay per job; while no job runs the poll just waits (a timeout
           every ``results_poll_s``).
Commands:  ``power_on`` (staggered at start), ``self_test`` after each boot, ``submit_job``,
           ``cancel_job``, ``set_throttle`` (on change and after every reboot), ``power_cycle``
           (watchdog, latch-up, faults), ``reset`` (over-temperature once cool), ``power_off``
           (compute limits, over its rated die temperature, 140,10).
Publishes: TM 140,5 (job result, unsolicited), 140,4 / 140,7 (replies), ``TcProgress``,
           ``PayloadLimits`` (the boards' job limits, for acceptance checks in the link),
           ``payload.*`` parameters (HK SID 3: counts, W, K, level; the board-derived ones
           declared invalid while the backplane cannot be read), events JOB_COMPLETED,
           JOB_FAILED, RESULT_MISMATCH, BOARD_HUNG, BOARD_POWER_CYCLED, BOARD_LATCHUP,
           BOARD_FAULT, THROTTLE_CHANGED, JOB_REFUSED, DEVICE_ERROR / DEVICE_TIMEOUT,
           COMPUTE_LIMITED / COMPUTE_LIMIT_LIFTED, BOARD_OVERTEMP, SEU_BURST, BOARD_UPSET,
           BOARD_COMMANDED / BOARD_COMMAND_REFUSED, JOBS_SUSPENDED; HK ``payload.power_limit_w``
           (W) and ``payload.boards_off_by_limit``.

Compute limits: per scope the minimum over sources; met on the boards' worst-case draw
(``ThermalElectricalModel``) by throttle levels first, then by powering boards off (faulted,
idle, then lowest job priority), released one per ``stagger_s`` when lifted (`plan_limits`).
The SoC / coolant throttle steps stay as a backstop: the deepest level of the two wins. The
SoC steps stand aside while the power service's budget (a ``ComputeLimit`` from source
``power_source``, republished every power cycle) is fresh, younger than ``power_budget_fresh_s``:
that budget already holds back the charge the battery needs and what it can carry through an
eclipse, and throttling on the SoC as well left ~20 kW of array unused after every eclipse.
If the power service falls silent (crashed, restarting) the SoC steps apply again.

A job of redundancy r needs r completed executions on r different boards; an execution lost
to a hang, a latch-up, a failed result or a digest mismatch is run again (preferring boards
that were not involved) up to ``max_retries`` times. Device errors never stop the manager:
they are counted, evented once per streak, and the cycle goes on.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, TypeVar

from computesat_sdk import kernels
from computesat_sdk.contract import (
    BoardCapabilities,
    JobLimits,
    SelfTestResult,
    ThermalElectricalModel,
)
from pydantic import BaseModel, ConfigDict, Field

from flightsw.context import ServiceContext
from flightsw.messages import (
    BoardJobLimits,
    ComputeLimit,
    ModeChanged,
    PayloadLimits,
    PayloadLimitsWanted,
    TcDispatch,
)
from icd import dictionary as dic
from icd.devices import (
    AwaitResultsResult,
    BackplaneRegisters,
    BatteryRegisters,
    BoardFault,
    BoardSlotRegisters,
    DeviceRegisters,
    IdentityResult,
    LoopRegisters,
    PowerState,
    SubmitResult,
)
from icd.dictionary import Apid, BoardState, EventId, JobState, Mode, SubmitJob
from icd.errors import DecodeError, ErrorCode
from runtime.clock import Clock
from runtime.ports import DevicePort, DevicePortError, DeviceTimeout

__all__ = ["Config", "LimitBoard", "LimitPlan", "PayloadManager", "plan_limits", "run"]

_NS = 1_000_000_000
_UP = frozenset({PowerState.IDLE, PowerState.BUSY, PowerState.THROTTLED})
_FITS_KEPT = 256  # job shapes a board keeps can_run's answer for (then it starts again)
_DOWN = (PowerState.OFF, PowerState.BOOTING)
_FREE_STATES = (PowerState.IDLE, PowerState.THROTTLED)  # states a board takes a job in
_EXECUTIONS_PER_JOB = 1000
# A limit that moves by at most this fraction of the value last announced is applied without
# a new COMPUTE_LIMITED event.
ANNOUNCE_STEP = 0.1
_NO_JOBS_MODES = frozenset({Mode.SAFE, Mode.SURVIVAL})  # no new job admitted in these


class Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    period_s: float = Field(1.0, gt=0, description="Control cycle, mission seconds.")
    backplane: str = Field("backplane", description="Aggregate device with every slot.")
    battery: str = Field("battery", description="Battery device (soc) for the power budget.")
    loops: tuple[str, ...] = Field(
        ("loop.L1", "loop.L2"), description="Coolant loops (supply_temp_k, flow_kg_s)."
    )
    power_on_at_start: bool = Field(True, description="Power boards on that are off.")
    stagger_s: float = Field(
        1.0, ge=0, description="Mission seconds between two power-ons (inrush, bus transients)."
    )
    self_test: bool = Field(True, description="Self-test each board after every boot.")
    setup_per_cycle: int = Field(
        8, ge=1, description="Identities read and self-tests run per cycle, at most."
    )
    watchdog_s: float = Field(
        10.0, gt=0, description="Heartbeat frozen this long while a job runs = hung, mission s."
    )
    recovery_holdoff_s: float = Field(
        5.0, ge=0, description="Mission seconds after a power cycle before a board is judged."
    )
    latch_up_factor: float = Field(
        1.1, gt=1, description="Power above peak_w × this is a latch-up (current detection)."
    )
    max_retries: int = Field(
        3, ge=0, le=100, description="Executions a job may restart before failing."
    )
    max_queue: int = Field(256, ge=1, description="Jobs waiting before submissions get BUSY.")
    history: int = Field(64, ge=0, description="Finished jobs kept for the job list.")
    soc_throttle_steps: tuple[float, ...] = Field(
        (0.6, 0.5, 0.4, 0.3),
        description="Battery SoC thresholds; below each, one more throttle level.",
    )
    soc_hysteresis: float = Field(0.02, ge=0, description="SoC margin before easing off, 0..1.")
    power_source: str = Field(
        "power", description="ComputeLimit source whose budget owns the battery (the SoC)."
    )
    power_budget_fresh_s: float = Field(
        5.0,
        ge=0,
        description="The SoC steps stand aside while that source's budget is younger, mission s.",
    )
    soc_stop_new_jobs: float = Field(0.25, ge=0, le=1, description="No new job below this SoC.")
    supply_throttle_steps_k: tuple[float, ...] = Field(
        (320.0, 325.0, 330.0, 335.0),
        description="Coolant supply temperatures; above each, one more throttle level, K.",
    )
    temp_hysteresis_k: float = Field(1.0, ge=0, description="Margin before easing off, K.")
    min_flow_kg_s: float = Field(
        0.3, ge=0, description="A loop below this flow has lost cooling: deepest throttle, kg/s."
    )
    max_level: int = Field(5, ge=0, description="Deepest throttle level the manager commands.")
    fouling_dwell_s: float = Field(
        60.0,
        gt=0,
        description="A board throttling itself this long whose die is hotter than its power "
        "explains (fouling_margin_k) has lost cooling (hwsim board_overtemp), mission s.",
    )
    fouling_margin_k: float = Field(
        8.0,
        gt=0,
        description="Die temperature less power x the board's die-to-plate resistance (its "
        "plate, as the die implies it) above its slot neighbours' on its loop: cooling "
        "degraded, K.",
    )
    payload_power_limit_w: float = Field(
        160_000.0, gt=0, description="Payload power with a full battery, W."
    )
    seu_burst_errors: int = Field(
        2,
        ge=1,
        description="Memory errors (correctable + uncorrectable) on one board within "
        "seu_window_s that make a burst (SEU_BURST), count.",
    )
    seu_window_s: float = Field(600.0, gt=0, description="Window of the burst count, mission s.")
    seu_quarantine_s: float = Field(
        600.0, ge=0, description="A board in a burst takes no new job this long, mission s."
    )
    spot_check_every: int = Field(
        0,
        ge=0,
        description="Run every Nth job of redundancy 1 on two boards and compare (a result "
        "corrupted by an upset is otherwise seen only by the ground's check); 0: never.",
    )
    results_poll_s: float = Field(
        10.0,
        ge=0,
        description=(
            "Longest a backplane.await_results long poll waits for a job end, mission s "
            "(0: no long poll, results are collected once per period)."
        ),
    )


@dataclass
class _Run:
    """One execution of a job on one board."""

    slot: int
    execution_id: str
    started_ns: int
    job_id: int = field(init=False)  # the job the execution id encodes

    def __post_init__(self) -> None:
        self.job_id = int(self.execution_id) // _EXECUTIONS_PER_JOB


@dataclass
class _Job:
    request: SubmitJob
    seq: int
    reply_state: JobState = JobState.QUEUED
    retries: int = 0
    executions: int = 0
    runs: dict[int, _Run] = field(default_factory=dict)
    done: dict[int, kernels.JobResult] = field(default_factory=dict)
    started_ns: dict[int, int] = field(default_factory=dict)  # slot → flight time of submit
    avoid: set[int] = field(default_factory=set)
    final: dic.JobReport | None = None
    copies: int = 0  # executions compared: its redundancy, or 2 for a spot check (0: unset)

    def __post_init__(self) -> None:
        self.copies = self.copies or self.request.redundancy

    @property
    def job_id(self) -> int:
        return self.request.job_id

    @property
    def needed(self) -> int:
        return self.copies - len(self.done) - len(self.runs)

    @property
    def state(self) -> JobState:
        if self.final is not None:
            return self.final.state
        if self.done and self.copies > 1:
            return JobState.VERIFYING
        if self.runs or self.done:
            return JobState.RUNNING
        return JobState.QUEUED

    def slots(self) -> tuple[int, ...]:
        if self.final is not None:
            return self.final.slots
        return tuple(sorted({*self.done, *self.runs}))


class _Registers(NamedTuple):
    """A board's latest backplane entry: the registers of ``icd.devices.BackplaneSlot`` the
    manager reads (a test keeps them the same names and types), taken from the backplane's
    columns, which the port validated already (each value has the register's type and
    bounds). A tuple rather than a BackplaneSlot per board: building 160 pydantic objects
    each cycle cost more than the whole cycle's decisions."""

    board: str
    power_state: PowerState
    die_temp_k: float
    power_w: float
    utilisation: float
    throttle_level: int
    heartbeat: int
    jobs_queued: int
    jobs_running: int
    results_pending: int
    correctable_errors: int
    uncorrectable_errors: int
    boot_count: int
    fault_reason: BoardFault
    loop_id: str

    @classmethod
    def of(cls, registers: BoardSlotRegisters) -> _Registers:
        """The entry from a slot's own (validated) registers."""
        values = registers.__dict__
        return cls._make([values[name] for name in cls._fields])


_REGISTERS = _Registers._fields


@dataclass
class _Board:
    slot: int
    device: str
    name: str
    registers: _Registers  # the latest backplane entry, validated (icd.devices)
    vendor: str = ""
    thermal: ThermalElectricalModel | None = None  # from identity, validated
    capabilities: BoardCapabilities | None = None  # from identity, validated
    identified: bool = False
    heartbeat: int = -1
    heartbeat_ns: int = 0
    run: _Run | None = None
    holdoff_until_ns: int = 0
    commanded_level: int | None = None
    tested_boot: int = -1
    test_failures: int = 0
    failed: bool = False
    unsupported: set[str] = field(default_factory=set)
    limits: JobLimits | None = None
    limits_key: str = ""  # limits as JSON, computed once: boards of a kind share it
    limit_level: int = 0  # throttle level the compute limits ask of it (0: none)
    limited_off: bool = False  # kept off by a compute limit
    ground_off: bool = False  # powered off by TC 140,10 (until 140,11)
    errors_seen: int = -1  # correctable + uncorrectable at the last read (-1: not yet)
    error_times: deque[tuple[int, int]] = field(default_factory=deque)  # (ns, new errors)
    quarantine_until_ns: int = 0  # SEU burst: no new job before this
    overtemp_evented: bool = False  # BOARD_OVERTEMP raised for the present episode
    self_throttled_ns: int | None = None  # since when it throttles deeper than commanded
    # The level its own heat needs (an over-temperature episode: we follow its own throttle
    # stepwise deeper, and ease a step at a time once it is cool), and when it last moved.
    heat_level: int = 0
    heat_changed_ns: int = 0
    cooling: bool = False  # powered off over its rated die temperature: on again once cool
    restore: bool = False  # a limit kept it off: power it on again once lifted
    # What `_limit_board` last built from, and what it built (see `_apply_limits`).
    limit_inputs: tuple[Any, ...] | None = None
    fits: dict[tuple[str, int, int], bool] = field(default_factory=dict)  # see can_run
    limit_board: LimitBoard | None = None

    @property
    def state(self) -> PowerState:
        return self.registers.power_state

    def flops(self, kernel: str) -> float:
        if self.capabilities is None:
            return 0.0
        # a kernel the board does not list is one it does not run
        return self.capabilities.kernel_flops_per_s.get(kernel, 0.0)

    def can_run(self, request: SubmitJob) -> bool:
        if self.failed or request.kernel in self.unsupported or self.flops(request.kernel) <= 0:
            return False
        # The shape check is asked for every waiting job on every free board every cycle,
        # and its answer only changes with the identity (limits, capabilities): kept.
        shape = (request.kernel, request.size, request.iterations)
        fits = self.fits.get(shape)
        if fits is None:
            if len(self.fits) >= _FITS_KEPT:
                self.fits.clear()
            fits = self.fits[shape] = self._fits(request)
        return fits

    def _fits(self, request: SubmitJob) -> bool:
        if self.limits is not None:
            return self.limits.violation(request.kernel, request.size, request.iterations) is None
        assert self.capabilities is not None  # flops > 0
        return kernels.job_memory_bytes(request.spec()) <= self.capabilities.memory_bytes

    def power_fraction(self, level: int) -> float:
        if self.thermal is None:
            return 1.0
        levels = self.thermal.throttle_levels
        return levels[min(level, len(levels) - 1)].power_fraction

    def max_level(self) -> int:
        return 0 if self.thermal is None else self.thermal.max_throttle_level


class _Devices(Protocol):
    async def read_model(self, device: str, expected: type[R]) -> R: ...

    async def command_model(
        self, device: str, command: str, args: dict[str, Any] | None, expected: type[M]
    ) -> M: ...

    async def command(
        self, device: str, command: str, args: dict[str, Any] | None = None
    ) -> dict[str, Any]: ...


class _Outputs(Protocol):
    """The part of ServiceContext the manager uses (a test can hand it a recorder)."""

    clock: Clock
    devices: _Devices

    def event(self, event_id: int, message: str) -> None: ...

    def parameter_map(self, values: dict[str, float]) -> None: ...

    def tm(
        self,
        apid: int,
        service: int,
        subservice: int,
        data: bytes = b"",
        reply_to: bytes | None = None,
    ) -> None: ...

    def progress(
        self, request_id: bytes, apid: int, stage: Any, error_code: ErrorCode | int = 0
    ) -> None: ...


R = TypeVar("R", bound=DeviceRegisters)
M = TypeVar("M", bound=BaseModel)


def _level_from_steps(value: float, steps: tuple[float, ...], rising: bool) -> int:
    """How many thresholds ``value`` is past (above when ``rising``, else below)."""
    return sum(1 for step in steps if (value > step if rising else value < step))


# --- compute limits: which boards stay on, at what throttle level ---------------------------

_W_MARGIN = 1e-6  # float slack when comparing a plan's draw to a limit, W


@dataclass(frozen=True)
class LimitBoard:
    """A board as the limit planner sees it."""

    slot: int
    loop_id: str  # coolant loop of its cold plate ('' unknown: only scope 'all' covers it)
    level_w: tuple[float, ...]  # worst-case draw (busy) at throttle level 0, 1, ..., W
    shed_rank: tuple[int, ...] = ()  # lower is powered off first
    base_level: int = 0  # the level the budgets (SoC, coolant) ask anyway
    off_w: float = 0.0  # draw when powered off (its management controller), W

    @property
    def deepest(self) -> int:
        return len(self.level_w) - 1


@dataclass(frozen=True)
class LimitPlan:
    """Per board the throttle level the limits ask, and the boards they keep off."""

    levels: dict[int, int]
    off: frozenset[int]

    def draw_w(self, boards: list[LimitBoard], scope: str = "all") -> float:
        """Worst-case draw of the boards of ``scope`` under this plan, W."""
        return sum(
            b.off_w if b.slot in self.off else b.level_w[self.levels[b.slot]]
            for b in boards
            if _in_scope(b, scope)
        )


def _in_scope(board: LimitBoard, scope: str) -> bool:
    return scope == "all" or board.loop_id == scope


def plan_limits(boards: list[LimitBoard], caps: dict[str, float]) -> LimitPlan:
    """Meet every cap (scope 'all' or a loop id -> most W its boards may draw, worst case:
    every board on busy at its level, every board off at its ``off_w``): throttle the scope's
    boards first (one common floor level, the shallowest that fits), and only when the
    deepest level is not enough power boards off in ``shed_rank`` order, then ease the floor
    back to the shallowest that fits the boards left on. Then boards are eased one level
    above that floor each, the last to be shed first, as long as the worst case still fits,
    so the cap is filled to within one board's level step rather than one level of every
    board. Loop scopes first, then 'all' on top (it never eases a loop's level). A cap below
    the off draw keeps every board of its scope off (0 W: all off)."""
    # Arithmetic as written plainly (a reference copy is in the tests): every draw is summed
    # afresh over the scope's boards in their order, so the result is the same to the last
    # bit; only the sums are of lists of floats (C) rather than generators, and shedding
    # changes one value of the list per board rather than summing every board again.
    levels = {b.slot: min(max(b.base_level, 0), b.deepest) for b in boards}
    off: set[int] = set()

    def at_level(rows: list[tuple[int, tuple[float, ...], float, int]], level: int) -> list[float]:
        # each board's draw with the common floor ``level`` (off: its off draw)
        return [
            off_w if slot in off else level_w[min(max(levels[slot], level), deepest)]
            for slot, level_w, off_w, deepest in rows
        ]

    def floor_at(
        rows: list[tuple[int, tuple[float, ...], float, int]], level: int
    ) -> dict[int, int]:
        return {
            slot: min(max(levels[slot], level), deepest)
            for slot, _, _, deepest in rows
            if slot not in off
        }

    def shallowest(
        rows: list[tuple[int, tuple[float, ...], float, int]], cap: float
    ) -> dict[int, int] | None:
        deepest = max((row[3] for row in rows if row[0] not in off), default=0)
        for level in range(deepest + 1):
            if sum(at_level(rows, level)) <= cap + _W_MARGIN:
                return floor_at(rows, level)
        return None

    def ease(
        members: list[LimitBoard],
        rows: list[tuple[int, tuple[float, ...], float, int]],
        trial: dict[int, int],
        cap: float,
    ) -> dict[int, int]:
        # The common floor leaves up to one level step of every board unused (160 boards one
        # level apart are ~30 kW): ease boards back one level at a time, the last to be shed
        # first, never past the level they had before this scope, while the worst case fits.
        total = sum(
            [
                off_w if slot in off else level_w[trial.get(slot, levels[slot])]
                for slot, level_w, off_w, _ in rows
            ]
        )
        order = sorted(
            (b for b in members if b.slot in trial), key=lambda b: (b.shed_rank, -b.slot)
        )
        order.reverse()
        steps = [(b.slot, b.level_w, levels[b.slot]) for b in order]
        eased = True
        while eased:
            eased = False
            for slot, level_w, before in steps:
                level = trial[slot]
                if level <= before:
                    continue
                more = level_w[level - 1] - level_w[level]
                if total + more <= cap + _W_MARGIN:
                    trial[slot] = level - 1
                    total += more
                    eased = True
        return trial

    scopes = sorted(s for s in caps if s != "all") + (["all"] if "all" in caps else [])
    for scope in scopes:
        cap = caps[scope]
        group = [b for b in boards if _in_scope(b, scope)]
        if not group:
            continue
        rows = [(b.slot, b.level_w, b.off_w, b.deepest) for b in group]
        chosen = shallowest(rows, cap)
        if chosen is None:
            # Throttling is not enough: at the deepest level, power off in shed order, then
            # ease back as far as the boards left on allow.
            draws = at_level(rows, max(b.deepest for b in group))
            where = {b.slot: i for i, b in enumerate(group)}
            for board in sorted(group, key=lambda b: (b.shed_rank, b.slot)):
                if sum(draws) <= cap + _W_MARGIN:
                    break
                off.add(board.slot)
                draws[where[board.slot]] = board.off_w
            chosen = shallowest(rows, cap) or {}
        levels.update(ease(group, rows, dict(chosen), cap) if chosen else chosen)
    return LimitPlan({k: v for k, v in levels.items() if k not in off}, frozenset(off))


class PayloadManager:
    """The manager's state and one control cycle; ``run`` drives it from the bus."""

    def __init__(self, ctx: _Outputs, config: Config) -> None:
        self.ctx = ctx
        self.config = config
        self.boards: dict[int, _Board] = {}
        self.jobs: dict[int, _Job] = {}
        self.finished: deque[int] = deque()
        self.executions: dict[str, tuple[int, int]] = {}  # execution id → (job id, slot)
        self.seq = itertools.count()
        self.singles = 0  # jobs of redundancy 1 admitted (config spot_check_every)
        # The budgets' level (SoC, coolant supply temperature, the min-flow backstop) per
        # coolant loop (its boards': a hot or dry loop must not throttle the other one), and
        # the deepest of them (HK, and the level of a board whose loop is unknown).
        self.level = 0
        self.loop_levels = {lp.removeprefix("loop."): 0 for lp in config.loops or ("",)}
        self.dry_loops: frozenset[str] = frozenset()  # below min_flow_kg_s: no job on their boards
        self.budget_w = config.payload_power_limit_w
        self.admit = True
        self.soc: float | None = None
        self.power_budget_ns: int | None = None  # when the power service's budget last came
        self.next_power_on_ns = 0
        self.tests_left = config.setup_per_cycle
        self.lock = asyncio.Lock()
        self.published_limits: list[BoardJobLimits] = []
        self.slot_ids: list[str] = []  # the backplane's slot ids as last read
        self.slot_numbers: list[tuple[str, int, int]] = []  # (id, number, index) by id
        self.limit_kinds_inputs: list[str | None] | None = None  # see _publish_limits
        self.limit_kinds: list[BoardJobLimits] = []
        self.limits_due_ns = 0
        self.failing: set[str] = set()
        # Per loop, the up boards' slots and the plate temperatures their dies imply
        # (`_excess_k`), in slot order, and when.
        self.plates: dict[str, tuple[list[int], list[float]]] = {}
        self.plates_ns = -1
        self.timed_out = False  # a device request timed out during this cycle
        # Compute limits in force: (source, scope) -> (W, reason); news to announce.
        self.limits: dict[tuple[str, str], tuple[float, str]] = {}
        self.limit_news: list[ComputeLimit] = []
        # W last announced per (source, scope): a budget that follows the array moves by a few
        # hundred W a second; an event each time would drown the operator's event log.
        self.limit_announced: dict[tuple[str, str], float] = {}
        self.plan = LimitPlan({}, frozenset())
        self.power_limit_w = config.payload_power_limit_w
        # What the plan in force was made of (boards as planned, caps) and its HK limit: a
        # cycle with the same plans nothing again.
        self.plan_inputs: tuple[list[LimitBoard], dict[str, float]] | None = None
        self.plan_power_limit_w = self.power_limit_w
        self.mode: Mode | None = None  # None until the mode manager says (admit meanwhile)
        self.counters: dict[str, float] = dict.fromkeys(
            (
                "payload.jobs_completed",
                "payload.jobs_failed",
                "payload.jobs_cancelled",
                "payload.mismatches",
                "payload.retries",
                "payload.watchdog_cycles",
                "payload.latchup_recoveries",
                "payload.device_errors",
                "payload.device_timeouts",
            ),
            0.0,
        )

    # --- device access: every error is counted and evented once per streak ---------------

    async def _read(self, device: str, expected: type[R]) -> R | None:
        """The device's registers validated into ``expected``; None (counted, evented) if it
        did not answer or answered what the ICD does not describe."""
        return await self._call(device, None, expected=expected)

    async def _call(
        self,
        device: str,
        command: str | None,
        args: dict[str, Any] | None = None,
        expected: type[DeviceRegisters] = DeviceRegisters,
        result: type[BaseModel] | None = None,
    ) -> Any:
        """A read (validated into ``expected``) or a command (its result validated into
        ``result`` if given); None, counted and evented once per streak, on any error."""
        key = f"{device}:{command or 'read'}"
        try:
            if command is None:
                reply: Any = await self.ctx.devices.read_model(device, expected)
            elif result is not None:
                reply = await self.ctx.devices.command_model(device, command, args or {}, result)
            else:
                reply = await self.ctx.devices.command(device, command, args or {})
        except DeviceTimeout as exc:
            self.counters["payload.device_timeouts"] += 1
            if not self.timed_out:
                # The port is silent: flag what came from it now, not at the end of a cycle
                # that may spend a timeout on every call still to make.
                self.timed_out = True
                self.ctx.parameter_map({}, invalid=tuple(sorted(_FROM_HARDWARE)))
            if key not in self.failing:
                self.failing.add(key)
                self.ctx.event(EventId.DEVICE_TIMEOUT, f"payload: {exc}")
            return None
        except DevicePortError as exc:
            self.counters["payload.device_errors"] += 1
            if key not in self.failing:
                self.failing.add(key)
                self.ctx.event(EventId.DEVICE_ERROR, f"payload {command or 'read'}: {exc}")
            return None
        self.failing.discard(key)
        return reply

    # --- the control cycle ----------------------------------------------------------------

    async def cycle(self) -> None:
        # A cancel talks to boards too: one at a time keeps each cycle's view of a board
        # consistent with what was just commanded.
        async with self.lock:
            await self._cycle()

    async def _cycle(self) -> None:
        self.timed_out = False
        registers = await self._read(self.config.backplane, BackplaneRegisters)
        if registers is not None:
            await self._update_boards(registers)
            await self._update_budgets()
            await self._apply_limits()
            self.tests_left = self.config.setup_per_cycle
            now_ns = self.ctx.clock.now_ns()
            quiet = self._quiet
            for board in list(self.boards.values()):
                if not quiet(board, now_ns):
                    await self._supervise(board)
                    now_ns = self.ctx.clock.now_ns()
            await self._apply_throttle()
            await self._power_on_next()
            await self._schedule()
            self._publish_limits(again=True)
        # A timeout later in the cycle means the port went silent after the backplane read:
        # what that read said is no longer current.
        self._publish_parameters(hardware_read=registers is not None and not self.timed_out)

    async def _update_boards(self, registers: BackplaneRegisters) -> None:
        now_ns = self.ctx.clock.now_ns()
        identify_budget = self.config.setup_per_cycle
        ids = registers.slot
        if ids != self.slot_ids:
            # The slots in slot-id order, with their numbers: the same every read, normally.
            numbers: list[tuple[str, int, int]] = []
            for index, slot_id in sorted(enumerate(ids), key=lambda item: item[1]):
                try:
                    numbers.append((slot_id, int(slot_id), index))
                except ValueError:
                    continue
            self.slot_ids, self.slot_numbers = list(ids), numbers
        # the rows straight from the validated columns (not `registers.slots`: see _Registers)
        columns = [getattr(registers, name) for name in _REGISTERS]
        rows = list(map(_Registers._make, zip(*columns, strict=True)))
        for slot_id, slot, index in self.slot_numbers:
            values = rows[index]
            if not values.board:
                continue
            board = self.boards.get(slot)
            if board is None:
                board = _Board(slot, f"slot.{slot_id}", values.board, values, heartbeat_ns=now_ns)
                self.boards[slot] = board
            board.registers = values
            heartbeat = values.heartbeat
            if heartbeat != board.heartbeat:
                board.heartbeat, board.heartbeat_ns = heartbeat, now_ns
            if not board.identified and identify_budget > 0:
                # A few per cycle: 150 boards at boot must not monopolise the device port.
                identify_budget -= 1
                await self._identify(board)

    async def _identify(self, board: _Board) -> None:
        reply = await self._call(board.device, "identity", result=IdentityResult)
        if reply is None:
            return
        board.vendor = reply.identity.vendor
        board.capabilities = reply.capabilities
        board.thermal = reply.thermal
        board.limits = reply.limits
        board.limits_key = reply.limits.model_dump_json()
        board.fits.clear()
        board.identified = True
        self._publish_limits()

    def _publish_limits(self, again: bool = False, now: bool = False) -> None:
        """Tell the link the boards' limits (it refuses a 140,1 beyond them at acceptance):
        on a change, ``now`` when the link asks (`PayloadLimitsWanted`, as it starts), and
        with ``again`` once per ``period_s`` for a link whose request was lost."""
        now_ns = self.ctx.clock.now_ns()
        if again and not now and now_ns < self.limits_due_ns:
            return
        again = again or now
        # The kinds follow from which boards count and their limits: built again (pydantic
        # models) only when that changed, not every period.
        inputs = [
            board.limits_key
            if board.identified and not board.failed and board.limits is not None
            else None
            for board in self.boards.values()
        ]
        if inputs == self.limit_kinds_inputs:
            kinds = self.limit_kinds
        else:
            counts: dict[str, tuple[JobLimits, int]] = {}
            for board in self.boards.values():
                if board.identified and not board.failed and board.limits is not None:
                    key = board.limits_key
                    counts[key] = (board.limits, counts.get(key, (board.limits, 0))[1] + 1)
            kinds = [BoardJobLimits(limits=lim, boards=n) for lim, n in counts.values()]
            self.limit_kinds_inputs, self.limit_kinds = inputs, kinds
        if kinds != self.published_limits or (again and kinds):
            self.published_limits = kinds
            self.limits_due_ns = now_ns + round(self.config.period_s * _NS)
            publish = getattr(self.ctx, "publish", None)
            if publish is not None:
                publish(PayloadLimits(kinds=kinds))

    async def _update_budgets(self) -> None:
        config = self.config
        battery = await self._read(config.battery, BatteryRegisters)
        soc_level, relaxed_soc = 0, 0
        power_budget = self.power_budget_ns is not None and (
            self.ctx.clock.now_ns() - self.power_budget_ns <= config.power_budget_fresh_s * _NS
        )
        if battery is not None:
            self.soc = battery.soc
        if battery is not None and not power_budget:
            soc_level = _level_from_steps(battery.soc, config.soc_throttle_steps, rising=False)
            relaxed_soc = _level_from_steps(
                battery.soc - config.soc_hysteresis, config.soc_throttle_steps, rising=False
            )
        # Per loop: (level due now, level it may ease to) and which loops lost their flow. No
        # loop configured: one pseudo-loop '' (the SoC alone) for every board.
        wanted: dict[str, tuple[int, int]] = {}
        supply: dict[str, int] = {}
        dry: set[str] = set()
        for loop in config.loops or ("",):
            loop_id = loop.removeprefix("loop.")
            values = await self._read(loop, LoopRegisters) if loop else None
            if values is None:
                wanted[loop_id] = (soc_level, relaxed_soc)  # unread: the SoC alone, as before
                continue
            supply_k = values.supply_temp_k
            steps = config.supply_throttle_steps_k
            supply[loop_id] = _level_from_steps(supply_k, steps, rising=True)
            relaxed_supply = _level_from_steps(
                supply_k + config.temp_hysteresis_k, steps, rising=True
            )
            if values.flow_kg_s < config.min_flow_kg_s:
                # The backstop of a loop without flow: the deepest level and no new job on ITS
                # boards only (thermal sheds that loop too, scope = the loop).
                dry.add(loop_id)
                wanted[loop_id] = (config.max_level, config.max_level)
            else:
                wanted[loop_id] = (
                    max(soc_level, supply[loop_id]),
                    max(relaxed_soc, relaxed_supply),
                )
        levels: dict[str, int] = {}
        for loop_id, (target, relaxed) in wanted.items():
            # Deeper at once; shallower only once the budget clears the threshold by the margin.
            level = self.loop_levels.get(loop_id, 0)
            if target > level:
                level = target
            elif relaxed < level:
                level = relaxed
            levels[loop_id] = min(level, config.max_level)
        if levels != self.loop_levels or dry != self.dry_loops:
            why = f"soc {self.soc:.3f}" if self.soc is not None else "soc ?"
            old = ", ".join(f"{k or 'all'} {v}" for k, v in self.loop_levels.items())
            new = ", ".join(f"{k or 'all'} {v}" for k, v in levels.items())
            heat = ", ".join(f"{k} {v}" for k, v in supply.items()) or "?"
            lost = f", coolant flow lost on {', '.join(sorted(dry))}" if dry else ""
            self.ctx.event(
                EventId.THROTTLE_CHANGED,
                f"throttle {old} -> {new} ({why}, supply level {heat}{lost})"[:200],
            )
        self.loop_levels, self.dry_loops = levels, frozenset(dry)
        self.level = max(levels.values(), default=0)
        soc = 1.0 if self.soc is None else self.soc
        self.admit = soc >= config.soc_stop_new_jobs and not self.mode_blocks
        full, stop = (config.soc_throttle_steps or (1.0,))[0], config.soc_stop_new_jobs
        fraction = 1.0 if soc >= full else max(0.0, (soc - stop) / max(full - stop, 1e-9))
        if power_budget:
            fraction = 1.0  # the power service's limit, planned on the boards, governs
        self.budget_w = config.payload_power_limit_w * fraction

    async def _apply_throttle(self) -> None:
        loop_levels, level_all = self.loop_levels, self.level
        for board in self.boards.values():
            if board.registers.power_state not in _UP or board.failed:
                continue
            if board.limited_off or board.ground_off or board.cooling:
                continue  # powered off this cycle: its registers are from before
            thermal = board.thermal
            if thermal is None:
                # Not identified yet: its throttle range is unknown, and a level beyond it is
                # refused (again every cycle). It is throttled once its identity is read.
                continue
            # (`_level_of`, inline: this runs for every board every cycle)
            budget = max(loop_levels.get(board.registers.loop_id, level_all), board.heat_level)
            level = min(max(budget, board.limit_level), thermal.max_throttle_level)
            if board.commanded_level == level:
                continue
            reply = await self._call(board.device, "set_throttle", {"level": level})
            if reply is not None:
                board.commanded_level = level

    async def _power_on_next(self) -> None:
        now_ns = self.ctx.clock.now_ns()
        if now_ns < self.next_power_on_ns:
            return
        for board in self.boards.values():
            if (
                board.state is PowerState.OFF
                and not board.failed
                and not board.limited_off
                and not board.ground_off
                and (self.config.power_on_at_start or board.restore)
                and not self._still_hot(board)
                and now_ns >= board.holdoff_until_ns
            ):
                if await self._call(board.device, "power_on") is not None:
                    board.commanded_level = None
                    board.restore = board.cooling = False
                    board.holdoff_until_ns = now_ns + int(self.config.recovery_holdoff_s * _NS)
                self.next_power_on_ns = now_ns + int(self.config.stagger_s * _NS)
                return

    def _still_hot(self, board: _Board) -> bool:
        """Powered off over its rated die temperature and not yet below its throttle one."""
        if not board.cooling or board.thermal is None:
            return False
        return board.registers.die_temp_k >= board.thermal.throttle_temp_k

    def _level_of(self, board: _Board) -> int:
        """The level commanded to ``board``: the most restrictive of its loop's budgets' level
        (SoC, coolant: the backstop) and the compute limits' level, within its range."""
        level = max(self._budget_level(board), board.limit_level, board.heat_level)
        return min(level, board.max_level())

    def _budget_level(self, board: _Board) -> int:
        """The budgets' level of ``board``'s loop (of a board on no known loop: the deepest)."""
        return self.loop_levels.get(board.registers.loop_id, self.level)

    def _dry(self, board: _Board) -> bool:
        """On a loop without coolant flow (a board on no known loop: if any loop is dry)."""
        dry = self.dry_loops
        if not dry:
            return False
        loop_id = board.registers.loop_id
        return loop_id in dry or loop_id not in self.loop_levels

    # --- compute limits (ComputeLimit) and modes (ModeChanged) ---------------------------

    @property
    def mode_blocks(self) -> bool:
        return self.mode in _NO_JOBS_MODES

    def mode_changed(self, message: ModeChanged) -> bool:
        """Take the mode in force; True if admission changed (a cycle is due)."""
        was = self.mode_blocks
        self.mode = message.mode
        if was == self.mode_blocks:
            return False
        waiting = sum(1 for j in self.jobs.values() if j.final is None)
        if self.mode_blocks:
            text = f"mode {message.mode.name}: no new job admitted ({waiting} jobs kept)"
        else:
            text = f"mode {message.mode.name}: jobs admitted again ({waiting} jobs waiting)"
        self.ctx.event(EventId.JOBS_SUSPENDED, text[:200])
        return True

    def receive_limit(self, message: ComputeLimit) -> bool:
        """Keep the latest limit per (source, scope); True if it changed what is in force."""
        key = (message.source, message.scope)
        old = self.limits.get(key)
        if message.source == self.config.power_source:
            live = message.power_limit_w is not None
            self.power_budget_ns = self.ctx.clock.now_ns() if live else None
        if message.power_limit_w is None:
            if old is None:
                return False
            del self.limits[key]
        else:
            new = (float(message.power_limit_w), message.reason)
            self.limits[key] = new
            if old is not None and old[0] == new[0]:
                return False  # repeated: nothing new to do or announce
            announced = self.limit_announced.get(key)
            if announced is not None and (announced > 0.0) == (new[0] > 0.0):
                if abs(new[0] - announced) <= ANNOUNCE_STEP * announced:
                    return True  # applied, not announced: within a step of the last event
            self.limit_announced[key] = new[0]
        if message.power_limit_w is None:
            self.limit_announced.pop(key, None)
        self.limit_news.append(message)
        return True

    def caps(self) -> dict[str, float]:
        """Per scope, the most restrictive limit of all sources in force, W."""
        out: dict[str, float] = {}
        for (_, scope), (watts, _) in self.limits.items():
            out[scope] = min(watts, out.get(scope, watts))
        return out

    def _limit_board(self, board: _Board) -> LimitBoard:
        registers = board.registers
        thermal = board.thermal
        if thermal is None or registers.power_state is PowerState.FAULT:
            # Unknown envelope, or a fault (a latch-up draws what it draws): not throttleable.
            level_w: tuple[float, ...] = (registers.power_w,)
        else:
            deepest = min(board.max_level(), self.config.max_level)
            span = thermal.peak_w - thermal.idle_w
            level_w = tuple(
                thermal.idle_w + span * board.power_fraction(lv) for lv in range(deepest + 1)
            )
        if registers.power_state is PowerState.FAULT:
            rank: tuple[int, ...] = (0,)
        elif board.run is None:
            rank = (1,)  # idle, booting or already off: cheapest to keep off
        else:
            job = self.jobs.get(int(board.run.execution_id) // _EXECUTIONS_PER_JOB)
            rank = (2, job.request.priority if job is not None else 0)
        off_w = thermal.off_w if thermal is not None else 0.0
        floor = max(self._budget_level(board), board.heat_level)
        return LimitBoard(board.slot, registers.loop_id, level_w, rank, floor, off_w)

    async def _apply_limits(self) -> None:
        """Plan the limits in force on the boards now and carry the plan out: levels (applied
        with the throttle), boards powered off (their executions run again elsewhere), boards
        released (powered on again, staggered)."""
        caps = self.caps()
        loop_levels, level_all, jobs = self.loop_levels, self.level, self.jobs
        planned: list[LimitBoard] = []
        for board in self.boards.values():
            if board.failed or board.ground_off:
                continue
            # Its `_limit_board`, built again only when what that reads changed: envelope,
            # fault or not, the draw (read only for a fault or an unknown envelope), the run
            # and its job (the priority), the loop, the budgets' level. A cycle used to build
            # all 160 though only a few boards start or end a job from one cycle to the next.
            registers = board.registers
            thermal = board.thermal
            fault = registers.power_state is PowerState.FAULT
            run_ = board.run
            inputs = (
                thermal,
                fault,
                registers.power_w if fault or thermal is None else None,
                run_,
                None if run_ is None else jobs.get(run_.job_id),
                registers.loop_id,
                max(loop_levels.get(registers.loop_id, level_all), board.heat_level),  # floor
            )
            limit_board = board.limit_board
            if limit_board is None or inputs != board.limit_inputs:
                limit_board = board.limit_board = self._limit_board(board)
                board.limit_inputs = inputs
            planned.append(limit_board)
        # Same boards (the very objects, unless one changed) and same caps: same plan. Most
        # cycles are like that (a budget that moves is announced within a step, repeated
        # otherwise).
        key = (planned, caps)
        if key == self.plan_inputs:
            plan, self.power_limit_w = self.plan, self.plan_power_limit_w
        else:
            plan = plan_limits(planned, caps) if caps else LimitPlan({}, frozenset())
            self.power_limit_w = self._power_limit(planned, caps)
            self.plan_inputs, self.plan_power_limit_w = key, self.power_limit_w
        self.plan = plan
        for board in self.boards.values():
            board.limit_level = plan.levels.get(board.slot, 0)
            if board.slot in plan.off:
                board.limited_off = True
                if board.state is not PowerState.OFF:
                    await self._limit_power_off(board)
            elif board.limited_off:
                board.limited_off = False
        self._announce_limits(planned, caps, plan)

    async def _limit_power_off(self, board: _Board) -> None:
        """Power ``board`` off for a compute limit (on again when the limit allows). A board
        latched up meanwhile is said so: the power-off is its recovery (supervision leaves a
        board off on purpose alone, so nothing else would report the latch-up)."""
        latched = (
            board.state is PowerState.FAULT and board.registers.fault_reason is BoardFault.LATCH_UP
        )
        self._lose_run(board, "powered off by a compute limit")
        if await self._call(board.device, "power_off") is not None:
            board.commanded_level = None
            board.restore = True
            if latched:
                self.counters["payload.latchup_recoveries"] += 1
                self.ctx.event(
                    EventId.BOARD_LATCHUP,
                    f"{board.device} {board.name}: latch_up at "
                    f"{board.registers.power_w:.0f} W: powered off (compute limit), which "
                    "clears it; on again when the limit allows",
                )

    def _power_limit(self, planned: list[LimitBoard], caps: dict[str, float]) -> float:
        """Most W the boards may draw under the limits in force (HK payload.power_limit_w):
        the 'all' limit, the loop limits plus the full draw of uncapped loops, the budget."""
        loops = {b.loop_id for b in planned}
        per_loop = sum(
            caps.get(loop, sum(b.level_w[0] for b in planned if b.loop_id == loop))
            for loop in loops
        )
        limit = self.config.payload_power_limit_w
        if any(scope != "all" for scope in caps):
            limit = min(limit, per_loop)
        return min(limit, caps.get("all", limit))

    def _announce_limits(
        self, planned: list[LimitBoard], caps: dict[str, float], plan: LimitPlan
    ) -> None:
        for message in self.limit_news:
            scope = message.scope
            members = [b for b in planned if _in_scope(b, scope)]
            off = sorted(b.slot for b in members if b.slot in plan.off)
            levels = sorted({plan.levels[b.slot] for b in members if b.slot in plan.levels})
            cap = caps.get(scope)
            done = (
                f"{len(members) - len(off)} boards on at level {'/'.join(map(str, levels)) or '-'}"
                f", {len(off)} off {off}"
            )
            if message.power_limit_w is None:
                text = (
                    f"{message.source} lifts its limit on {scope} ({message.reason}): "
                    f"{scope} limit now {'none' if cap is None else f'{cap:.0f} W'}; {done}; "
                    "boards back on staggered"
                )
                self.ctx.event(EventId.COMPUTE_LIMIT_LIFTED, text[:200])
            else:
                # (the scope may have no limit in force by now: lifted again in this cycle)
                in_force = "none" if cap is None else f"{cap:.0f} W"
                text = (
                    f"{message.source} limits {scope} to {message.power_limit_w:.0f} W "
                    f"({message.reason}): in force {in_force}, worst case "
                    f"{plan.draw_w(members, scope):.0f} W; {done}"
                )
                self.ctx.event(EventId.COMPUTE_LIMITED, text[:200])
        self.limit_news.clear()

    # --- FDIR -----------------------------------------------------------------------------

    @staticmethod
    def _note_self_throttle(board: _Board, now_ns: int) -> bool:
        """Whether ``board`` throttles itself (deeper than we commanded; no judgement while
        what we commanded is unknown), keeping the episode's start in
        ``board.self_throttled_ns`` (shared by `_quiet` and `_watch_temperature`)."""
        commanded = board.commanded_level
        self_throttled = commanded is not None and board.registers.throttle_level > commanded
        if not self_throttled:
            board.self_throttled_ns = None
        elif board.self_throttled_ns is None:
            board.self_throttled_ns = now_ns
        return self_throttled

    async def _supervise(self, board: _Board) -> None:
        now_ns = self.ctx.clock.now_ns()
        state = board.state
        reason = board.registers.fault_reason
        power_w = board.registers.power_w
        peak_w = board.thermal.peak_w if board.thermal is not None else None
        down = state in _DOWN
        if down:
            board.commanded_level = None  # re-command after every reboot
            board.heat_level, board.self_throttled_ns = 0, None
        self._watch_upsets(board)
        if board.limited_off or board.ground_off:
            return  # off on purpose: a limit or the ground, not a fault
        if now_ns < board.holdoff_until_ns:
            return
        if await self._watch_temperature(board):
            return
        over_envelope = (
            peak_w is not None
            and not down
            and power_w > float(peak_w) * self.config.latch_up_factor
        )
        if (state is PowerState.FAULT and reason is BoardFault.LATCH_UP) or over_envelope:
            self.counters["payload.latchup_recoveries"] += 1
            self.ctx.event(
                EventId.BOARD_LATCHUP,
                f"{board.device} {board.name}: {reason.value or 'over current'} at {power_w:.0f} W",
            )
            await self._power_cycle(board, "latch-up")
            return
        if state is PowerState.FAULT:
            die_k = board.registers.die_temp_k
            if reason is BoardFault.OVER_TEMPERATURE:
                cool_k = board.thermal.throttle_temp_k if board.thermal is not None else None
                if not board.overtemp_evented:
                    board.overtemp_evented = True
                    self._lose_run(board, "over-temperature")
                    self.ctx.event(
                        EventId.BOARD_OVERTEMP,
                        f"{board.device} {board.name}: over-temperature trip at {die_k:.1f} K; "
                        f"job run elsewhere, reset once below {cool_k or 0:.0f} K",
                    )
                if cool_k is not None and die_k < cool_k:
                    self._lose_run(board, "over-temperature")
                    if await self._call(board.device, "reset") is not None:
                        self.ctx.event(
                            EventId.BOARD_POWER_CYCLED,
                            f"{board.device} reset after over-temperature ({die_k:.1f} K)",
                        )
                        self._hold(board)
                return
            self.ctx.event(
                EventId.BOARD_FAULT, f"{board.device} {board.name}: fault {reason.value}"
            )
            await self._power_cycle(board, f"fault {reason.value or '?'}")
            return
        if (
            board.run is not None
            and state in _UP
            and now_ns - board.heartbeat_ns >= self.config.watchdog_s * _NS
        ):
            self.counters["payload.watchdog_cycles"] += 1
            self.ctx.event(
                EventId.BOARD_HUNG,
                f"{board.device} heartbeat {board.heartbeat} frozen "
                f"{(now_ns - board.heartbeat_ns) / _NS:.1f} s running {board.run.execution_id}",
            )
            await self._power_cycle(board, "watchdog")
            return
        if state in _UP and self.config.self_test:
            await self._self_test(board)
        if board.run is not None and state in _UP and not self._young(board):
            registers = board.registers
            # A result the host is still computing is not lost: it comes with a later poll.
            # A run younger than a period is not judged either: a cycle at the instant of its
            # submission (woken by a submit or a limit) may read registers from before it.
            if (
                registers.jobs_running == 0
                and registers.jobs_queued == 0
                and registers.results_pending == 0
            ):
                await self._collect(board)

    def _quiet(self, board: _Board, now_ns: int) -> bool:
        """True if `_supervise` has nothing to do for ``board`` at ``now_ns`` but what this
        did: no event, no command, no run lost or collected (its few idempotent updates are
        made here); False: `_supervise` it. Most boards most cycles are running a job or idle
        with nothing new, and a coroutine per board per cycle cost more than the checks."""
        registers = board.registers
        if registers.correctable_errors + registers.uncorrectable_errors != board.errors_seen:
            return False  # news for _watch_upsets (or its first reading)
        state = registers.power_state
        if state in _DOWN:
            board.commanded_level = None
            board.heat_level, board.self_throttled_ns = 0, None
            if not (board.limited_off or board.ground_off or now_ns < board.holdoff_until_ns):
                board.overtemp_evented = False  # as _watch_temperature for a board down
            return True  # down: nothing is judged (no temperature, envelope, watchdog, job)
        if board.limited_off or board.ground_off or now_ns < board.holdoff_until_ns:
            return True
        if state not in _UP:
            return False  # FAULT (or a state the manager does not know): _supervise decides
        thermal = board.thermal
        run_ = board.run
        if thermal is None:
            board.overtemp_evented = False
        else:
            die_k = registers.die_temp_k
            if die_k > thermal.max_die_temp_k:
                return False
            # (`_watch_temperature`: the episode's start kept, and whether it acts)
            self_throttled = self._note_self_throttle(board, now_ns)
            if board.overtemp_evented:
                if self_throttled or board.heat_level > 0:
                    return False  # followed deeper, or eased once cool
                if die_k < thermal.throttle_temp_k:
                    board.overtemp_evented = False
            elif self_throttled and (
                die_k >= (thermal.throttle_temp_k + thermal.max_die_temp_k) / 2.0
                or now_ns - board.self_throttled_ns >= self.config.fouling_dwell_s * _NS
            ):
                return False
            if registers.power_w > float(thermal.peak_w) * self.config.latch_up_factor:
                return False
        if run_ is None:
            # _self_test: a boot not tested yet, while tests are left this cycle
            return not (
                self.config.self_test
                and board.tested_boot != registers.boot_count
                and self.tests_left > 0
            )
        if now_ns - board.heartbeat_ns >= self.config.watchdog_s * _NS:
            return False
        # _collect: a run that is not young on a board with nothing running, queued, pending
        return not (
            registers.jobs_running == 0
            and registers.jobs_queued == 0
            and registers.results_pending == 0
            and now_ns - run_.started_ns >= self.config.period_s * _NS
        )

    def _watch_upsets(self, board: _Board) -> None:
        """Memory error counters (hwsim faults board_upset, seu_burst): a single step is a
        BOARD_UPSET; more than ``seu_burst_errors`` within ``seu_window_s`` a SEU_BURST, and
        the board takes no new job for ``seu_quarantine_s``."""
        registers = board.registers
        errors = registers.correctable_errors + registers.uncorrectable_errors
        seen, board.errors_seen = board.errors_seen, errors
        if seen < 0 or errors <= seen:
            return  # first reading, or the counters did not move
        now_ns = self.ctx.clock.now_ns()
        config = self.config
        board.error_times.append((now_ns, errors - seen))
        while board.error_times and board.error_times[0][0] < now_ns - config.seu_window_s * _NS:
            board.error_times.popleft()
        recent = sum(n for _, n in board.error_times)
        if now_ns < board.quarantine_until_ns:
            return  # in a burst already: evented once
        if recent >= config.seu_burst_errors:
            board.quarantine_until_ns = now_ns + int(config.seu_quarantine_s * _NS)
            self.ctx.event(
                EventId.SEU_BURST,
                f"{board.device}: {recent} memory errors in {config.seu_window_s:.0f} s "
                f"(ce {registers.correctable_errors}, ue {registers.uncorrectable_errors}); "
                f"no new job for {config.seu_quarantine_s:.0f} s",
            )
            return
        self.ctx.event(
            EventId.BOARD_UPSET,
            f"{board.device}: memory error (ce {registers.correctable_errors}, ue "
            f"{registers.uncorrectable_errors}); a job it fails is run again",
        )

    async def _watch_temperature(self, board: _Board) -> bool:
        """A board that throttles itself for die temperature (hwsim board_overtemp) is
        evented once per episode; one over its rated die temperature is powered off before
        its shutdown trip and powered on again once below its throttle temperature. True if
        it was powered off now."""
        thermal = board.thermal
        registers = board.registers
        if thermal is None or board.state not in _UP:
            if board.state is not PowerState.FAULT:
                board.overtemp_evented = False
            return False
        die_k = registers.die_temp_k
        if die_k > thermal.max_die_temp_k:
            self._lose_run(board, "over its rated die temperature")
            if await self._call(board.device, "power_off") is not None:
                board.cooling = True
                board.commanded_level = None
                self.ctx.event(
                    EventId.BOARD_OVERTEMP,
                    f"{board.device} {board.name}: die {die_k:.1f} K over rated "
                    f"{thermal.max_die_temp_k:.0f} K: powered off, on again below "
                    f"{thermal.throttle_temp_k:.0f} K",
                )
            self._hold(board)
            return True
        # Throttled deeper than we commanded = throttling itself. While what we commanded is
        # unknown (a board not yet commanded since its boot or since this flight software
        # started: a level the previous run commanded stays in force) there is no judgement:
        # it is commanded in this very cycle (`_apply_throttle`) and judged from the next.
        now_ns = self.ctx.clock.now_ns()
        self_throttled = self._note_self_throttle(board, now_ns)
        if board.overtemp_evented:
            # The episode's response (hwsim board_overtemp: throttle stepwise, off before the
            # limit, above): follow its own throttle deeper; ease a step per dwell once its
            # die is clear of the throttle band; the episode ends back at our level, cool.
            if self_throttled:
                board.heat_level = min(registers.throttle_level, board.max_level())
                board.heat_changed_ns = now_ns
            elif board.heat_level > 0:
                cool_k = thermal.throttle_temp_k - 2.0 * thermal.throttle_hysteresis_k
                dwell_ns = self.config.fouling_dwell_s * _NS
                if die_k < cool_k and now_ns - board.heat_changed_ns >= dwell_ns:
                    board.heat_level -= 1
                    board.heat_changed_ns = now_ns
            elif die_k < thermal.throttle_temp_k:
                board.overtemp_evented = False
            return False
        if not self_throttled:
            return False
        # A board holding its throttle temperature is normal hot operation (REFERENCE: the
        # design runs close to its chips' limits): an event for that, per board and per orbit,
        # flooded the log. It is an over-temperature past half-way to the rated limit, or when
        # it has throttled itself for a while with a die hotter than its power explains on its
        # loop's plates (a fouled cold plate: hwsim board_overtemp, which otherwise holds the
        # board throttled at its throttle temperature, unseen, until its plate warms).
        alarming_k = (thermal.throttle_temp_k + thermal.max_die_temp_k) / 2.0
        if die_k >= alarming_k:
            why = "past half-way to its rated limit"
        elif (
            now_ns - board.self_throttled_ns >= self.config.fouling_dwell_s * _NS
            and registers.jobs_running > 0
        ):
            # Judged while it computes only: a board whose job just ended still has the die
            # of its busy power, and its idle power "explains" far less of it.
            excess_k = self._excess_k(board)
            if excess_k is None or excess_k < self.config.fouling_margin_k:
                return False
            why = f"{excess_k:.0f} K hotter than its power explains: cooling degraded"
        else:
            return False
        board.overtemp_evented = True
        board.heat_level = min(registers.throttle_level, board.max_level())
        board.heat_changed_ns = now_ns
        self.ctx.event(
            EventId.BOARD_OVERTEMP,
            f"{board.device} {board.name}: die {die_k:.1f} K, throttles itself to level "
            f"{registers.throttle_level} (commanded {board.commanded_level}), {why}; throttled "
            f"stepwise, powered off past {thermal.max_die_temp_k:.0f} K"[:200],
        )
        return False

    def _excess_k(self, board: _Board) -> float | None:
        """How much hotter ``board``'s die is than its power explains, K: the plate its die
        implies (die - power x its die-to-plate resistance, at steady state) less the hottest
        plate its nearest up neighbours on its loop imply (two each side in slot order:
        consecutive slots share a cold plate, and the plates warm along the loop, so its own
        plate is among theirs; None without a neighbour). Built once a cycle, and only when a
        board has throttled itself for a while."""
        now_ns = self.ctx.clock.now_ns()
        if self.plates_ns != now_ns:
            by_loop: dict[str, tuple[list[int], list[float]]] = {}
            for other in sorted(self.boards.values(), key=lambda b: b.slot):
                registers = other.registers
                if other.thermal is None or registers.power_state not in _UP:
                    continue
                implied = (
                    registers.die_temp_k - registers.power_w * other.thermal.die_to_plate_k_per_w
                )
                slots, plates = by_loop.setdefault(registers.loop_id, ([], []))
                slots.append(other.slot)
                plates.append(implied)
            self.plates, self.plates_ns = by_loop, now_ns
        registers = board.registers
        slots, plates = self.plates.get(registers.loop_id, ([], []))
        index = bisect.bisect_left(slots, board.slot)
        if board.thermal is None or index >= len(slots) or slots[index] != board.slot:
            return None
        around = plates[max(0, index - 2) : index] + plates[index + 1 : index + 3]
        if not around:
            return None
        return plates[index] - max(around)

    def _hold(self, board: _Board) -> None:
        now_ns = self.ctx.clock.now_ns()
        board.holdoff_until_ns = now_ns + int(self.config.recovery_holdoff_s * _NS)
        board.heartbeat_ns = now_ns
        board.commanded_level = None

    async def _power_cycle(self, board: _Board, why: str) -> None:
        self._lose_run(board, why)
        if await self._call(board.device, "power_cycle") is not None:
            self.ctx.event(EventId.BOARD_POWER_CYCLED, f"{board.device} power cycled: {why}")
        self._hold(board)

    async def _self_test(self, board: _Board) -> None:
        boot = board.registers.boot_count
        if board.tested_boot == boot or board.run is not None or self.tests_left <= 0:
            return
        self.tests_left -= 1
        result = await self._call(board.device, "self_test", result=SelfTestResult)
        if result is None:
            return
        board.tested_boot = boot
        if result.passed:
            board.test_failures = 0
            return
        board.test_failures += 1
        detail = result.detail[:80]
        self.ctx.event(EventId.BOARD_FAULT, f"{board.device} self-test failed: {detail}")
        if board.test_failures >= 2:
            board.failed = True  # a power cycle did not help: keep it out of the schedule
            await self._call(board.device, "power_off")
        else:
            await self._power_cycle(board, "self-test failed")

    # --- jobs -----------------------------------------------------------------------------

    def _lose_run(self, board: _Board, why: str) -> None:
        """The execution on ``board`` is gone: run it again elsewhere (or fail the job)."""
        run_ = board.run
        board.run = None
        if run_ is None:
            return
        self.executions.pop(run_.execution_id, None)
        job = self.jobs.get(int(run_.execution_id) // _EXECUTIONS_PER_JOB)
        if job is None or job.final is not None:
            return
        job.runs.pop(board.slot, None)
        job.avoid.add(board.slot)
        self._retry(job, f"{why} on slot {board.slot}")

    def _retry(self, job: _Job, why: str) -> None:
        job.retries += 1
        self.counters["payload.retries"] += 1
        if job.retries > self.config.max_retries:
            self._finish(job, JobState.FAILED, reason=f"retries exhausted: {why}")

    async def _collect(self, board: _Board, lost_if_missing: bool = True) -> bool:
        """Take the board's results into the jobs; False if the board did not answer."""
        reply = await self._call(board.device, "take_results")
        if reply is None:
            return False
        mine = board.run
        seen = False
        for raw in reply.get("results", []):
            try:
                result = kernels.JobResult.model_validate(raw)
            except ValueError:
                continue
            owner = self.executions.pop(result.job_id, None)
            if owner is None:
                continue  # an execution given up earlier (cancelled, power-cycled)
            job = self.jobs.get(owner[0])
            if mine is not None and result.job_id == mine.execution_id:
                seen = True
                board.run = None
            if job is None or job.final is not None:
                continue
            job.runs.pop(board.slot, None)
            if result.status == kernels.JobStatus.COMPLETED:
                job.done[board.slot] = result
                if mine is not None and result.job_id == mine.execution_id:
                    job.started_ns[board.slot] = mine.started_ns
                self._check(job)
            else:
                job.avoid.add(board.slot)
                self._retry(job, f"{result.status} on slot {board.slot}: {result.error}")
        if mine is not None and not seen and lost_if_missing:
            self._lose_run(board, "result lost")
        return True

    def _check(self, job: _Job) -> None:
        if len(job.done) < job.copies:
            return
        digests = {r.digest for r in job.done.values()}
        if len(digests) == 1:
            self._finish(job, JobState.COMPLETED)
            return
        self.counters["payload.mismatches"] += 1
        slots = sorted(job.done)
        # The boards by device id (slot.026): how every other board event names them.
        devices = [f"slot.{slot:03d}" for slot in slots]
        self.ctx.event(
            EventId.RESULT_MISMATCH,
            f"job {job.job_id} slots {slots} ({', '.join(devices)}): "
            + " vs ".join((r.digest or "-")[:12] for r in job.done.values()),
        )
        self.ctx.event(
            EventId.BOARD_UPSET,
            f"job {job.job_id}: a result corrupted on {' or '.join(devices)} "
            "(bit flip suspected); run again on other boards",
        )
        job.avoid.update(slots)
        job.done.clear()
        self._retry(job, "result mismatch")

    def _finish(self, job: _Job, state: JobState, reason: str = "") -> None:
        results = list(job.done.values())
        first = results[0] if results else None
        # The boards' own mission times (hardware time, the CUC epoch): when each run really
        # started and ended on its board.
        starts = [r.start_mission_time_s for r in results]
        ends = [r.end_mission_time_s for r in results]
        slots = tuple(sorted(job.done)) or tuple(sorted(job.runs))
        job.final = dic.JobReport(
            job_id=job.job_id,
            state=state,
            kernel=job.request.kernel,
            digest=(first.digest or "") if state == JobState.COMPLETED and first else "",
            start_s=min(starts, default=0.0),
            end_s=max(ends, default=0.0),
            redundancy=job.request.redundancy,
            retries=job.retries,
            slots=slots,
            summary=dict(first.summary) if first and state == JobState.COMPLETED else {},
            reason=reason[:200],
        )
        for slot, run_ in list(job.runs.items()):
            self.executions.pop(run_.execution_id, None)
            board = self.boards.get(slot)
            if board is not None and board.run is run_:
                board.run = None
        job.runs.clear()
        self.finished.append(job.job_id)
        while len(self.finished) > self.config.history:
            self.jobs.pop(self.finished.popleft(), None)
        name = {
            JobState.COMPLETED: "payload.jobs_completed",
            JobState.FAILED: "payload.jobs_failed",
            JobState.CANCELLED: "payload.jobs_cancelled",
        }[state]
        self.counters[name] += 1
        if state == JobState.COMPLETED:
            self.ctx.event(
                EventId.JOB_COMPLETED,
                f"job {job.job_id} {job.request.kernel} on slots {list(slots)} "
                f"digest {job.final.digest[:16]} retries {job.retries}",
            )
        elif state == JobState.FAILED:
            self.ctx.event(EventId.JOB_FAILED, f"job {job.job_id}: {reason}"[:200])
        self.ctx.tm(Apid.PAYLOAD, 140, 5, job.final.pack())

    async def _schedule(self) -> None:
        if not self.admit:
            return
        waiting = sorted(
            (j for j in self.jobs.values() if j.final is None and j.needed > 0),
            key=lambda j: (-j.request.priority, j.seq),
        )
        if not waiting:
            return
        # The boards that may take a job but for their hold-off: only `_start` changes that
        # while jobs are placed (a board it started is taken; one that refused or did not
        # answer is held off, and a job it fails may free its other boards: look again).
        # Most cycles none is free, and each waiting job scanned all 160 boards for nothing.
        # A board free but for its times is free once the clock passes them (in `_pick`).
        free = self._unassigned()
        if not free:
            return
        power_w = sum(b.registers.power_w for b in self.boards.values())
        for job in waiting:
            while job.needed > 0 and job.final is None:
                board = self._pick(job, power_w, free)
                if board is None:
                    break
                if await self._start(job, board):
                    power_w += self._increment_w(board)
                    free.remove(board)
                else:
                    free = self._unassigned()

    @staticmethod
    def _free_but_held(board: _Board) -> bool:
        """Free to take a job but for its hold-off and quarantine (times): up and idle, no
        job of ours, in service."""
        registers = board.registers
        return (
            registers.power_state in _FREE_STATES
            and board.run is None
            and not board.failed
            and board.identified
            and not board.limited_off
            and not board.ground_off
            and registers.jobs_running == 0
            and registers.jobs_queued == 0
        )

    def _unassigned(self) -> list[_Board]:
        """The boards `_free_but_held`, in the boards' order, but those on a dry loop."""
        free_but_held, dry = self._free_but_held, self._dry
        return [b for b in self.boards.values() if free_but_held(b) and not dry(b)]

    def _increment_w(self, board: _Board) -> float:
        if board.thermal is None:
            return 0.0
        idle_w, peak_w = board.thermal.idle_w, board.thermal.peak_w
        return max(0.0, peak_w - idle_w) * board.power_fraction(self._level_of(board))

    def _pick(self, job: _Job, power_w: float, unassigned: list[_Board]) -> _Board | None:
        """The board for one more execution of ``job`` among ``unassigned`` (`_unassigned`:
        no other board is free), or None."""
        taken = {*job.done, *job.runs}
        now_ns = self.ctx.clock.now_ns()
        candidates = [
            b
            for b in unassigned
            if b.slot not in taken
            and now_ns >= max(b.holdoff_until_ns, b.quarantine_until_ns)
            and b.can_run(job.request)
            and power_w + self._increment_w(b) <= self.budget_w
        ]
        if not candidates:
            return None
        # Boards not involved in an earlier failure first, then the fastest, then slot order.
        candidates.sort(key=lambda b: (b.slot in job.avoid, -b.flops(job.request.kernel), b.slot))
        return candidates[0]

    async def _start(self, job: _Job, board: _Board) -> bool:
        job.executions += 1
        # Boards take integer job ids: the execution id encodes the job, so a result is
        # traceable to its job even without the map.
        execution_id = str(job.job_id * _EXECUTIONS_PER_JOB + job.executions % _EXECUTIONS_PER_JOB)
        spec = job.request.spec(execution_id)
        reply = await self._call(
            board.device,
            "submit_job",
            {
                "job_id": int(spec.job_id),
                "kernel": spec.kernel,
                "size": spec.size,
                "seed": spec.seed,
                "iterations": spec.iterations,
            },
            result=SubmitResult,
        )
        if reply is None:
            board.holdoff_until_ns = self.ctx.clock.now_ns() + int(self.config.period_s * _NS)
            return False
        if not reply.accepted:
            code = reply.reject_code
            if code in (
                kernels.JobRejectCode.UNSUPPORTED_KERNEL,
                kernels.JobRejectCode.TOO_LARGE_FOR_MEMORY,
                kernels.JobRejectCode.WRONG_DTYPE,
            ):
                board.unsupported.add(job.request.kernel)
            else:
                board.holdoff_until_ns = self.ctx.clock.now_ns() + int(self.config.period_s * _NS)
            if not any(b.can_run(job.request) for b in self.boards.values()):
                why = f"code {code}: {reply.reason or ''}"
                self._finish(job, JobState.FAILED, reason=f"no board accepts it: {why}")
            return False
        run_ = _Run(board.slot, execution_id, self.ctx.clock.now_ns())
        board.run = run_
        board.heartbeat_ns = self.ctx.clock.now_ns()
        job.runs[board.slot] = run_
        self.executions[execution_id] = (job.job_id, board.slot)
        return True

    # --- job ends, event-driven ----------------------------------------------------------

    async def results_ready(self, reply: AwaitResultsResult) -> bool:
        """A ``backplane.await_results`` answer: collect the named slots' results now and
        give their boards the next jobs (their registers came with the answer). False if a
        board did not hand its results over (they stay ready in hwsim)."""
        if not reply.slots:
            return True
        taken = True
        async with self.lock:
            for device, registers in reply.slots.items():
                try:
                    board = self.boards.get(int(device.split(".")[1]))
                except (IndexError, ValueError):
                    continue
                if board is None:
                    continue
                board.registers = _Registers.of(registers)
                # Take them even without a run here: results of executions given up on
                # would otherwise keep the poll answering at once.
                lost_if_missing = self._idle(board) and not self._young(board)
                taken &= await self._collect(board, lost_if_missing=lost_if_missing)
            await self._schedule()
        return taken

    async def schedule_now(self) -> bool:
        """Place waiting jobs on free boards now, on the registers already known (the last
        cycle's, refreshed by every await_results answer): a new job starts without waiting
        for a full cycle's reads. True if nothing is left waiting."""
        async with self.lock:
            await self._schedule()
            return not any(j.final is None and j.needed > 0 for j in self.jobs.values())

    def _young(self, board: _Board) -> bool:
        """The board's run started less than a period ago: registers read at the instant of
        its submission (a cycle woken by a submit or a limit, an await_results answer formed
        before it) may predate it, so its result is not judged lost on them."""
        run_ = board.run
        return run_ is not None and self.ctx.clock.now_ns() - run_.started_ns < (
            self.config.period_s * _NS
        )

    @staticmethod
    def _idle(board: _Board) -> bool:
        registers = board.registers
        return (
            registers.jobs_running == 0
            and registers.jobs_queued == 0
            and registers.results_pending == 0
        )

    async def watch_results(self, port: _Devices) -> None:
        """Keep a ``backplane.await_results`` long poll open on ``port`` (a socket of its
        own); hand every answer to `results_ready`. A hardware without the long poll leaves
        the manager on its periodic collection."""
        wait_s = self.config.results_poll_s
        while True:
            try:
                reply = await port.command_model(
                    self.config.backplane,
                    "await_results",
                    {"timeout_s": wait_s},
                    AwaitResultsResult,
                )
            except DeviceTimeout:
                continue  # hwsim busy or restarting: ask again
            except DevicePortError as exc:
                if exc.code in ("unknown_command", "bad_argument"):
                    self.ctx.event(
                        EventId.DEVICE_ERROR,
                        f"payload: no backplane.await_results ({exc}); collecting per period",
                    )
                    return
                await self.ctx.clock.sleep(self.config.period_s)
                continue
            if not await self.results_ready(reply):
                # The results are still ready in hwsim, so the next poll would answer at
                # once: wait a period rather than spin on a failing take_results.
                await self.ctx.clock.sleep(self.config.period_s)

    # --- telecommands ---------------------------------------------------------------------

    def submit(self, request: SubmitJob) -> ErrorCode | None:
        """Queue a job; the error code to report if it cannot be queued."""
        if request.job_id in self.jobs:
            return ErrorCode.INVALID_APP_DATA
        if self.mode_blocks:
            assert self.mode is not None
            self.ctx.event(
                EventId.JOB_REFUSED,
                f"job {request.job_id} refused: mode {self.mode.name} admits no new job",
            )
            return ErrorCode.MODE_FORBIDS_JOBS
        live = sum(1 for j in self.jobs.values() if j.final is None)
        if live >= self.config.max_queue or not any(b.identified for b in self.boards.values()):
            return ErrorCode.BUSY
        able = [b for b in self.boards.values() if b.identified and b.can_run(request)]
        if len(able) < request.redundancy:
            # Normally the link refused it at acceptance already (PayloadLimits); this is
            # the same check against what the manager knows now.
            reason = PayloadLimits(kinds=self.published_limits).refusal(
                request.kernel, request.size, request.iterations, request.redundancy
            )
            self.ctx.event(
                EventId.JOB_REFUSED,
                f"job {request.job_id} refused: {reason or 'no board can run it'}"[:200],
            )
            return ErrorCode.INVALID_APP_DATA
        copies = request.redundancy
        every = self.config.spot_check_every
        if copies == 1 and every and len(able) >= 2:
            # A spot check: a corrupted result of a single run is invisible onboard.
            singles = self.singles = self.singles + 1
            if singles % every == 0:
                copies = 2
        self.jobs[request.job_id] = _Job(request, next(self.seq), copies=copies)
        return None

    async def cancel(self, job_id: int) -> bool:
        job = self.jobs.get(job_id)
        if job is None or job.final is not None:
            return False
        for slot, run_ in list(job.runs.items()):
            board = self.boards.get(slot)
            if board is not None:
                await self._call(board.device, "cancel_job", {"job_id": int(run_.execution_id)})
        self._finish(job, JobState.CANCELLED, reason="cancelled by ground")
        return True

    async def command_board(self, subservice: int, slot: int) -> tuple[ErrorCode, str] | None:
        """TC 140,8..11 on the board in ``slot``: None when done, else (code, why)."""
        board = self.boards.get(slot)
        if board is None:
            return ErrorCode.UNKNOWN_SLOT, f"no board in slot {slot}"
        command = dic.BOARD_COMMANDS[subservice]
        if board.limited_off and command != "power_off":
            scopes = sorted(
                f"{source}/{scope} {watts:.0f} W"
                for (source, scope), (watts, _) in self.limits.items()
                if scope in ("all", board.registers.loop_id)
            )
            return ErrorCode.BOARD_LIMITED_OUT, f"kept off by {', '.join(scopes)}"
        if command == "power_on" and board.state is not PowerState.OFF:
            board.ground_off = False
            self.ctx.event(EventId.BOARD_COMMANDED, f"{board.device} on: already {board.state}")
            return None
        if command in ("power_cycle", "reset", "power_off"):
            self._lose_run(board, f"{command} by ground")
        if await self._call(board.device, command) is None:
            return ErrorCode.DEVICE_ERROR, f"{board.device} did not take {command}"
        if command == "power_off":
            board.ground_off = True
        else:
            # The ground takes it back into service (also a board FDIR took out).
            board.ground_off = board.failed = board.cooling = False
            board.test_failures = 0
        self._hold(board)
        self.ctx.event(EventId.BOARD_COMMANDED, f"{board.device} {board.name}: {command} by ground")
        return None

    def job_list(self) -> list[dic.JobListEntry]:
        return [
            dic.JobListEntry(
                job_id=job.job_id,
                state=job.state,
                kernel=job.request.kernel,
                size=job.request.size,
                redundancy=job.request.redundancy,
                priority=job.request.priority,
                retries=job.retries,
                slots=job.slots(),
            )
            for job in sorted(self.jobs.values(), key=lambda j: j.seq)
        ]

    def board_list(self) -> list[dic.BoardEntry]:
        entries = []
        for board in sorted(self.boards.values(), key=lambda b: b.slot):
            run_ = board.run
            entries.append(
                dic.BoardEntry(
                    slot=board.slot,
                    board=board.name[:255],
                    vendor=board.vendor,
                    state=BoardState.FAULT if board.failed else BoardState.from_name(board.state),
                    die_temp_k=board.registers.die_temp_k,
                    throttle_level=board.registers.throttle_level,
                    power_w=board.registers.power_w,
                    job_id=int(run_.execution_id) // _EXECUTIONS_PER_JOB if run_ else 0,
                )
            )
        return entries

    async def handle(self, tc: TcDispatch) -> None:
        """One service 140 telecommand, with its verification reports."""
        ctx = self.ctx
        match tc.subservice:
            case 1:
                code = self.submit(SubmitJob.unpack(tc.app_data))
                if code is ErrorCode.MODE_FORBIDS_JOBS:
                    # A denied execution (the TC itself is fine): 1,3 then 1,8 with the code.
                    ctx.progress(tc.request_id, tc.apid, "started")
                    ctx.progress(tc.request_id, tc.apid, "failed", code)
                    return
                if code is not None:
                    ctx.progress(tc.request_id, tc.apid, "start_failed", code)
                    return
                ctx.progress(tc.request_id, tc.apid, "started")
            case 2:
                # Started at once (a cycle may hold the boards for a while); the cancel
                # itself waits for the cycle to finish.
                ctx.progress(tc.request_id, tc.apid, "started")
                async with self.lock:
                    cancelled = await self.cancel(dic.unpack_job_id(tc.app_data))
                if not cancelled:
                    ctx.progress(tc.request_id, tc.apid, "failed", ErrorCode.NOT_FOUND)
                    return
            case 3:
                ctx.progress(tc.request_id, tc.apid, "started")
                ctx.tm(Apid.PAYLOAD, 140, 4, dic.pack_job_list(self.job_list()), tc.request_id)
            case 6:
                ctx.progress(tc.request_id, tc.apid, "started")
                entries = self.board_list()
                ctx.tm(Apid.PAYLOAD, 140, 7, dic.pack_board_report(entries), tc.request_id)
            case 8 | 9 | 10 | 11:
                try:
                    slot = dic.unpack_slot(tc.app_data)
                except DecodeError:
                    ctx.progress(tc.request_id, tc.apid, "start_failed", ErrorCode.INVALID_APP_DATA)
                    return
                ctx.progress(tc.request_id, tc.apid, "started")
                async with self.lock:
                    refused = await self.command_board(tc.subservice, slot)
                if refused is not None:
                    code, why = refused
                    ctx.event(
                        EventId.BOARD_COMMAND_REFUSED,
                        f"140,{tc.subservice} {dic.BOARD_COMMANDS[tc.subservice]} slot {slot} "
                        f"refused: {why}"[:200],
                    )
                    ctx.progress(tc.request_id, tc.apid, "failed", code)
                    return
            case _:
                ctx.progress(tc.request_id, tc.apid, "start_failed", ErrorCode.ILLEGAL_SUBSERVICE)
                return
        ctx.progress(tc.request_id, tc.apid, "completed")

    # --- housekeeping ---------------------------------------------------------------------

    def _publish_parameters(self, hardware_read: bool = True) -> None:
        """Publish ``payload.*``; what comes from the backplane (boards by state, power, die
        temperature, budget) is declared invalid when this cycle could not read it, rather
        than repeated from an old reading. Job counts and the commanded level are our own."""
        # One pass over the jobs and one over the boards (these ran nine times a cycle).
        queued = running = 0
        for job in self.jobs.values():
            state = job.state
            if state == JobState.QUEUED:
                queued += 1
            elif state in (JobState.RUNNING, JobState.VERIFYING):
                running += 1
        powered = idle = busy = throttled = fault = off_by_limit = 0
        power_w: list[float] = []
        die_k: list[float] = []
        for board in self.boards.values():
            registers = board.registers
            state = registers.power_state
            up = state in _UP
            if up or state is PowerState.BOOTING:
                powered += 1
            if board.run is not None:
                busy += 1
            elif up:
                idle += 1
            if registers.throttle_level > 0:
                throttled += 1
            if board.failed or state is PowerState.FAULT:
                fault += 1
            if board.limited_off:
                off_by_limit += 1
            power_w.append(registers.power_w)
            die_k.append(registers.die_temp_k)
        values = dict(self.counters)
        values.update(
            {
                "payload.jobs_queued": queued,
                "payload.jobs_running": running,
                "payload.boards_powered": powered,
                "payload.boards_idle": idle,
                "payload.boards_busy": busy,
                "payload.boards_throttled": throttled,
                "payload.boards_fault": fault,
                "payload.power_w": sum(power_w),  # (summed in the boards' order, as always)
                "payload.power_budget_w": self.budget_w,
                "payload.max_die_temp_k": max(die_k, default=0.0),
                "payload.throttle_level": self.level,
                "payload.power_limit_w": self.power_limit_w,
                "payload.boards_off_by_limit": off_by_limit,
            }
        )
        if hardware_read:
            self.ctx.parameter_map(values)
            return
        stale = tuple(name for name in values if name in _FROM_HARDWARE)
        self.ctx.parameter_map(
            {k: v for k, v in values.items() if k not in _FROM_HARDWARE}, invalid=stale
        )


# payload.* parameters that are only as fresh as the last backplane read.
_FROM_HARDWARE = frozenset(
    {
        "payload.boards_powered",
        "payload.boards_idle",
        "payload.boards_throttled",
        "payload.boards_fault",
        "payload.power_w",
        "payload.power_budget_w",
        "payload.max_die_temp_k",
    }
)


async def run(ctx: ServiceContext, config: Config) -> None:
    manager = PayloadManager(ctx, config)
    wake = asyncio.Event()
    place = asyncio.Event()

    async def commands() -> None:
        async with ctx.subscribe((TcDispatch, 140)) as requests:
            ctx.ready()
            async for tc in requests:
                if isinstance(tc, TcDispatch) and tc.service == 140:
                    await manager.handle(tc)
                    if tc.subservice == 1:
                        place.set()  # start it now rather than at the next period

    async def autonomy() -> None:
        # Compute limits and the mode: a change is planned and applied by a cycle at once.
        async with ctx.subscribe(ComputeLimit, ModeChanged) as messages:
            async for message in messages:
                if isinstance(message, ComputeLimit):
                    changed = manager.receive_limit(message)
                elif isinstance(message, ModeChanged):
                    changed = manager.mode_changed(message)
                else:
                    continue
                if changed:
                    wake.set()

    async def limits_wanted() -> None:
        async with ctx.subscribe(PayloadLimitsWanted) as requests:
            async for _ in requests:
                manager._publish_limits(now=True)

    async def placer() -> None:
        # Apart from the command loop, so a burst of 140,1 is acknowledged at once while
        # the jobs are placed; a full cycle (fresh reads) only if no free board was known.
        while True:
            await place.wait()
            place.clear()
            if not await manager.schedule_now():
                wake.set()

    async def control() -> None:
        while True:
            wake.clear()
            await manager.cycle()
            next_cycle_ns = ctx.clock.now_ns() + round(config.period_s * 1e9)
            await ctx.clock.sleep_until_ns_or(next_cycle_ns, wake)

    async def results() -> None:
        devices = ctx.devices
        if config.results_poll_s <= 0 or not isinstance(devices, DevicePort):
            return
        # Its own socket: the poll waits up to results_poll_s, the shared port serves one
        # request at a time.
        async with devices.sibling(config.results_poll_s + devices.timeout_s) as port:
            await manager.watch_results(port)

    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(commands())
        tasks.create_task(control())
        tasks.create_task(placer())
        tasks.create_task(limits_wanted())
        tasks.create_task(autonomy())
        tasks.create_task(results())
