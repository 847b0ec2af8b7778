"""The payload manager's fast paths against the straightforward logic they stand in for.

- `_quiet` (a board with nothing to supervise this cycle) against `_supervise` itself, on
  many random board states: a board judged quiet must be one `_supervise` leaves alone (no
  event, no command, the same board state), and a board not judged quiet must end as
  `_supervise` alone leaves it.
- The whole control cycle against a straightforward manager (`_Reference`: the cycle,
  limits, scheduling and housekeeping as they were written before the fast paths, kept here)
  on the real reference boards behind hwsim's port handler (the rig of test_payload_manager),
  over a scenario with jobs, changing compute limits (a creeping power budget, an eclipse
  shed, a thermal request on one loop), SoC and coolant throttling, mode changes, board
  telecommands and board faults: the same commands to the hardware in the same order, the
  same events, TM and HK parameters, cycle by cycle.
"""

from __future__ import annotations

import copy
import random
from dataclasses import fields
from typing import Any, get_type_hints

from computesat_sdk import kernels
from computesat_sdk.contract import JobLimits, SelfTestResult, UpsetKind
from computesat_sdk.registry import discover_boards
from test_payload_manager import Rig, _long

from flightsw.messages import BoardJobLimits, ComputeLimit, ModeChanged, PayloadLimits, TcDispatch
from flightsw.services import payload
from flightsw.services.payload import (
    _NS,
    _UP,
    Config,
    LimitBoard,
    LimitPlan,
    PayloadManager,
    _Board,
    _Job,
    _Registers,
    _Run,
    plan_limits,
)
from hwsim.model.devices import DeviceError
from icd import dictionary as dic
from icd.devices import BackplaneSlot, BoardFault, PowerState
from icd.dictionary import JobState, Mode, SubmitJob

# --- _quiet against _supervise ----------------------------------------------------------------


class _Clock:
    def __init__(self, ns: int) -> None:
        self.ns = ns

    def now_ns(self) -> int:
        return self.ns


class _Devices:
    """Every command taken, recorded; self-tests pass, no results ready."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def read_model(self, device: str, expected: type) -> Any:
        raise AssertionError("no read in _supervise")

    async def command_model(self, device: str, command: str, args: Any, expected: type) -> Any:
        self.calls.append((device, command))
        assert expected is SelfTestResult
        return SelfTestResult(board_id=device, passed=True, checks={}, mission_time_s=0.0)

    async def command(self, device: str, command: str, args: Any = None) -> dict[str, Any]:
        self.calls.append((device, command))
        return {"results": []}


class _Outputs:
    def __init__(self, now_ns: int) -> None:
        self.clock = _Clock(now_ns)
        self.devices = _Devices()
        self.events: list[tuple[int, str]] = []

    def event(self, event_id: int, message: str) -> None:
        self.events.append((int(event_id), message))

    def parameter_map(self, values: dict[str, float], invalid: tuple[str, ...] = ()) -> None:
        pass

    def tm(self, *args: Any, **kwargs: Any) -> None:
        pass

    def progress(self, *args: Any, **kwargs: Any) -> None:
        pass


_CACHES = {"limit_inputs", "limit_board", "fits"}


def _state(board: _Board) -> dict[str, Any]:
    out = {f.name: getattr(board, f.name) for f in fields(board) if f.name not in _CACHES}
    out["registers"] = {n: getattr(board.registers, n) for n in _Registers._fields}
    return out


def test_the_board_entry_has_the_backplane_registers_it_reads_with_their_types():
    registers = BackplaneSlot.model_fields
    assert set(_Registers._fields) <= set(registers)
    for name, annotation in get_type_hints(_Registers).items():
        assert annotation is registers[name].annotation, name


def _random_board(rng: random.Random, thermals: list[Any], now_ns: int) -> _Board:
    thermal = rng.choice([None, *thermals])
    hot_k = thermal.throttle_temp_k if thermal is not None else 350.0
    top_k = thermal.max_die_temp_k if thermal is not None else 370.0
    peak_w = thermal.peak_w if thermal is not None else 500.0
    errors = rng.choice([0, 0, 3])
    registers = _Registers.of(
        BackplaneSlot(
            board="ref-gpu",
            power_state=rng.choice(list(PowerState)),
            die_temp_k=rng.choice(
                [300.0, hot_k - 12.0, hot_k - 0.5, hot_k, (hot_k + top_k) / 2.0, top_k + 1.0]
            ),
            power_w=rng.choice([0.0, peak_w * 0.5, peak_w * 1.05, peak_w * 1.2]),
            utilisation=0.5,
            throttle_level=rng.choice([0, 0, 1, 2]),
            heartbeat=7,
            jobs_queued=rng.choice([0, 0, 1]),
            jobs_running=rng.choice([0, 1]),
            results_pending=rng.choice([0, 0, 1]),
            correctable_errors=errors,
            uncorrectable_errors=rng.choice([0, 0, 1]) if errors else 0,
            boot_count=rng.choice([1, 2]),
            fault_reason=rng.choice(list(BoardFault)),
            loop_id="L1",
        )
    )
    board = _Board(3, "slot.003", "ref-gpu", registers, thermal=thermal, identified=True)
    board.errors_seen = rng.choice([-1, errors, errors, errors, max(0, errors - 2)])
    board.heartbeat_ns = now_ns - rng.choice([0, 3, 10, 30]) * _NS
    board.holdoff_until_ns = now_ns + rng.choice([0, 0, -_NS, _NS])
    board.commanded_level = rng.choice([None, 0, 1, 2])
    board.tested_boot = rng.choice([-1, 1, 2])
    board.limited_off = rng.random() < 0.1
    board.ground_off = rng.random() < 0.1
    board.overtemp_evented = rng.random() < 0.3
    board.self_throttled_ns = rng.choice([None, now_ns, now_ns - 30 * _NS, now_ns - 90 * _NS])
    board.heat_level = rng.choice([0, 0, 1, 3]) if board.overtemp_evented else 0
    board.heat_changed_ns = now_ns - rng.choice([0, 90]) * _NS
    if rng.random() < 0.6:
        started_ns = now_ns - rng.choice([0, _NS // 2, _NS, 5 * _NS])
        board.run = _Run(3, "9001", started_ns)
    return board


async def test_a_quiet_board_is_one_supervise_leaves_alone_on_random_states():
    now_ns = 5_000 * _NS
    registry = discover_boards()
    thermals = [
        registry.create(name, "slot.003", initial_temp_k=300.0).thermal_model()
        for name in ("ref-gpu", "ref-cpu", "ref-npu")
    ]
    rng = random.Random(20261202)
    quiet_seen = {True: 0, False: 0}
    idle = BackplaneSlot(
        board="ref-gpu",
        power_state=PowerState.IDLE,
        die_temp_k=300.0,
        power_w=0.0,
        utilisation=0.0,
        throttle_level=0,
        heartbeat=7,
        jobs_queued=0,
        jobs_running=0,
        results_pending=0,
        correctable_errors=0,
        uncorrectable_errors=0,
        boot_count=1,
        fault_reason=BoardFault.NONE,
        loop_id="L1",
    )
    peers = {
        slot: _Board(slot, f"slot.{slot:03d}", "ref-gpu", _Registers.of(idle), thermal=thermals[0])
        for slot in (4, 5, 6)
    }
    for _ in range(4000):
        board = _random_board(rng, thermals, now_ns)
        tests_left = rng.choice([0, 1])
        fast_out, slow_out = _Outputs(now_ns), _Outputs(now_ns)
        fast, slow = PayloadManager(fast_out, Config()), PayloadManager(slow_out, Config())
        for manager in (fast, slow):
            manager.tests_left = tests_left
            job = _Job(SubmitJob(9, "matmul", 64, 1, redundancy=1), 0)
            manager.jobs[9] = job
        fast_board, slow_board = copy.deepcopy(board), copy.deepcopy(board)
        for manager, b in ((fast, fast_board), (slow, slow_board)):
            manager.boards[3] = b
            # idle peers on its loop: a board hotter than its power explains stands out
            for slot in (4, 5, 6):
                manager.boards[slot] = copy.deepcopy(peers[slot])
            if b.run is not None:
                manager.jobs[9].runs[3] = b.run
                manager.executions[b.run.execution_id] = (9, 3)
        quiet = fast._quiet(fast_board, now_ns)
        quiet_seen[quiet] += 1
        await slow._supervise(slow_board)
        if quiet:
            assert slow_out.events == [] and slow_out.devices.calls == [], (
                _state(board),
                slow_out.events,
                slow_out.devices.calls,
            )
        else:
            await fast._supervise(fast_board)
        assert fast_out.events == slow_out.events
        assert fast_out.devices.calls == slow_out.devices.calls
        assert _state(fast_board) == _state(slow_board), _state(board)
        assert fast.counters == slow.counters and fast.tests_left == slow.tests_left
    # both kinds were exercised, many times each
    assert min(quiet_seen.values()) > 500, quiet_seen


# --- plan_limits against its plain form -------------------------------------------------------


def _plan_limits_reference(boards: list[LimitBoard], caps: dict[str, float]) -> LimitPlan:
    """`plan_limits` as written plainly before its sums were made faster."""
    levels = {b.slot: min(max(b.base_level, 0), b.deepest) for b in boards}
    off: set[int] = set()

    def draw(members: list[LimitBoard], trial: dict[int, int]) -> float:
        return sum(
            b.off_w if b.slot in off else b.level_w[trial.get(b.slot, levels[b.slot])]
            for b in members
        )

    def floor_at(level: int, members: list[LimitBoard]) -> dict[int, int]:
        return {
            b.slot: min(max(levels[b.slot], level), b.deepest) for b in members if b.slot not in off
        }

    def shallowest(members: list[LimitBoard], cap: float) -> dict[int, int] | None:
        deepest = max((b.deepest for b in members if b.slot not in off), default=0)
        for level in range(deepest + 1):
            trial = floor_at(level, members)
            if draw(members, trial) <= cap + payload._W_MARGIN:
                return trial
        return None

    def ease(members: list[LimitBoard], trial: dict[int, int], cap: float) -> dict[int, int]:
        # The common floor leaves up to one level step of every board unused (160 boards one
        # level apart are ~30 kW): ease boards back one level at a time, the last to be shed
        # first, never past the level they had before this scope, while the worst case fits.
        total = draw(members, trial)
        order = sorted(
            (b for b in members if b.slot in trial), key=lambda b: (b.shed_rank, -b.slot)
        )
        order.reverse()
        eased = True
        while eased:
            eased = False
            for b in order:
                level = trial[b.slot]
                if level <= levels[b.slot]:
                    continue
                more = b.level_w[level - 1] - b.level_w[level]
                if total + more <= cap + payload._W_MARGIN:
                    trial[b.slot] = level - 1
                    total += more
                    eased = True
        return trial

    scopes = sorted(s for s in caps if s != "all") + (["all"] if "all" in caps else [])
    for scope in scopes:
        cap = caps[scope]
        group = [b for b in boards if payload._in_scope(b, scope)]
        if not group:
            continue
        chosen = shallowest(group, cap)
        if chosen is None:
            # Throttling is not enough: at the deepest level, power off in shed order, then
            # ease back as far as the boards left on allow.
            deepest = floor_at(max(b.deepest for b in group), group)
            for board in sorted(group, key=lambda b: (b.shed_rank, b.slot)):
                if draw(group, deepest) <= cap + payload._W_MARGIN:
                    break
                off.add(board.slot)
            chosen = shallowest(group, cap) or {}
        levels.update(ease(group, dict(chosen), cap) if chosen else chosen)
    return LimitPlan({k: v for k, v in levels.items() if k not in off}, frozenset(off))


def _random_limit_boards(rng: random.Random) -> list[LimitBoard]:
    boards = []
    for slot in rng.sample(range(1, 200), rng.randint(1, 40)):
        peak, idle = rng.choice([(1000.0, 180.0), (450.0, 90.0), (75.0, 20.0)])
        fractions = (1.0, 0.75, 0.55, 0.35, 0.18)[: rng.randint(1, 5)]
        level_w = tuple(idle + (peak - idle) * f for f in fractions)
        if rng.random() < 0.1:
            level_w = (rng.uniform(0.0, 1500.0),)  # a fault, or an unknown envelope
        rank = rng.choice([(0,), (1,), (2, rng.randint(0, 9))])
        boards.append(
            LimitBoard(
                slot,
                rng.choice(["L1", "L2", ""]),
                level_w,
                rank,
                rng.choice([0, 0, 0, 1, 3, 7]),
                rng.choice([0.0, 8.0, 5.5]),
            )
        )
    return boards


def test_plan_limits_plans_as_its_plain_form_on_random_boards_and_caps():
    rng = random.Random(9)
    shed = 0
    for _ in range(3000):
        boards = _random_limit_boards(rng)
        full_w = sum(b.level_w[0] for b in boards)
        caps: dict[str, float] = {}
        for scope in rng.sample(["all", "L1", "L2"], rng.randint(1, 3)):
            caps[scope] = rng.choice([0.0, rng.uniform(0.0, 1.2) * full_w, full_w * 0.5])
        if rng.random() < 0.2 and boards:
            # a cap exactly at a draw: the comparisons at the margin decide
            caps["all"] = sum(b.level_w[-1] for b in boards)
        plan = plan_limits(boards, caps)
        assert plan == _plan_limits_reference(boards, caps), (boards, caps)
        shed += bool(plan.off)
    assert 300 < shed < 2700, shed  # both throttling alone and shedding, many times


# --- the whole cycle against the straightforward manager ---------------------------------------


class _Reference(PayloadManager):
    """The manager with the cycle's straightforward logic (as written before the fast paths):
    every board supervised, every limit board and the plan built every cycle, every board
    scanned for every job placed, the boards' job limits and the HK counts built afresh, the
    backplane entries as pydantic models (``BackplaneRegisters.slots``)."""

    async def _cycle(self) -> None:
        self.timed_out = False
        registers = await self._read(self.config.backplane, payload.BackplaneRegisters)
        if registers is not None:
            await self._update_boards(registers)
            await self._update_budgets()
            await self._apply_limits()
            self.tests_left = self.config.setup_per_cycle
            for board in list(self.boards.values()):
                await self._supervise(board)
            await self._apply_throttle()
            await self._power_on_next()
            await self._schedule()
            self._publish_limits(again=True)
        self._publish_parameters(hardware_read=registers is not None and not self.timed_out)

    async def _update_boards(self, registers: Any) -> None:
        now_ns = self.ctx.clock.now_ns()
        identify_budget = self.config.setup_per_cycle
        for slot_id, values in sorted(registers.slots.items()):
            if not values.board:
                continue
            try:
                slot = int(slot_id)
            except ValueError:
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
                identify_budget -= 1
                await self._identify(board)

    async def _apply_limits(self) -> None:
        caps = self.caps()
        planned = [
            self._limit_board(b) for b in self.boards.values() if not b.failed and not b.ground_off
        ]
        plan = _plan_limits_reference(planned, caps) if caps else LimitPlan({}, frozenset())
        self.plan = plan
        self.power_limit_w = self._power_limit(planned, caps)
        for board in self.boards.values():
            board.limit_level = plan.levels.get(board.slot, 0)
            if board.slot in plan.off:
                board.limited_off = True
                if board.state is not PowerState.OFF:
                    await self._limit_power_off(board)  # shared: not a fast path
            elif board.limited_off:
                board.limited_off = False
        self._announce_limits(planned, caps, plan)

    async def _schedule(self) -> None:
        if not self.admit:
            return
        waiting = sorted(
            (j for j in self.jobs.values() if j.final is None and j.needed > 0),
            key=lambda j: (-j.request.priority, j.seq),
        )
        if not waiting:
            return
        power_w = sum(b.registers.power_w for b in self.boards.values())
        for job in waiting:
            while job.needed > 0 and job.final is None:
                board = self._pick_any(job, power_w)
                if board is None:
                    break
                if await self._start(job, board):
                    power_w += self._increment_w(board)

    def _free(self, board: _Board) -> bool:
        return (
            board.state in (PowerState.IDLE, PowerState.THROTTLED)
            and board.run is None
            and not board.failed
            and board.identified
            and not board.limited_off
            and not board.ground_off
            and board.registers.jobs_running == 0
            and board.registers.jobs_queued == 0
            and not self._dry(board)
            and self.ctx.clock.now_ns() >= max(board.holdoff_until_ns, board.quarantine_until_ns)
        )

    def _pick_any(self, job: _Job, power_w: float) -> _Board | None:
        taken = {*job.done, *job.runs}
        candidates = [
            b
            for b in self.boards.values()
            if b.slot not in taken
            and self._free(b)
            and _can_run_plain(b, job.request)
            and power_w + self._increment_w(b) <= self.budget_w
        ]
        if not candidates:
            return None
        candidates.sort(key=lambda b: (b.slot in job.avoid, -b.flops(job.request.kernel), b.slot))
        return candidates[0]

    def _publish_limits(self, again: bool = False, now: bool = False) -> None:
        """Tell the link the boards' limits (it refuses a 140,1 beyond them at acceptance):
        on a change, ``now`` when the link asks (`PayloadLimitsWanted`, as it starts), and
        with ``again`` once per ``period_s`` for a link whose request was lost."""
        now_ns = self.ctx.clock.now_ns()
        if again and not now and now_ns < self.limits_due_ns:
            return
        again = again or now
        counts: dict[str, tuple[JobLimits, int]] = {}
        for board in self.boards.values():
            if board.identified and not board.failed and board.limits is not None:
                key = board.limits_key
                counts[key] = (board.limits, counts.get(key, (board.limits, 0))[1] + 1)
        kinds = [BoardJobLimits(limits=lim, boards=n) for lim, n in counts.values()]
        if kinds != self.published_limits or (again and kinds):
            self.published_limits = kinds
            self.limits_due_ns = now_ns + round(self.config.period_s * _NS)
            publish = getattr(self.ctx, "publish", None)
            if publish is not None:
                publish(PayloadLimits(kinds=kinds))

    async def _apply_throttle(self) -> None:
        for board in self.boards.values():
            if board.state not in _UP or board.failed:
                continue
            if board.limited_off or board.ground_off or board.cooling:
                continue  # powered off this cycle: its registers are from before
            if board.thermal is None:
                # Not identified yet: its throttle range is unknown, and a level beyond it is
                # refused (again every cycle). It is throttled once its identity is read.
                continue
            level = self._level_of(board)
            if board.commanded_level == level:
                continue
            reply = await self._call(board.device, "set_throttle", {"level": level})
            if reply is not None:
                board.commanded_level = level

    def _publish_parameters(self, hardware_read: bool = True) -> None:
        """Publish ``payload.*``; what comes from the backplane (boards by state, power, die
        temperature, budget) is declared invalid when this cycle could not read it, rather
        than repeated from an old reading. Job counts and the commanded level are our own."""
        boards = list(self.boards.values())
        states = [b.state for b in boards]
        values = dict(self.counters)
        values.update(
            {
                "payload.jobs_queued": sum(
                    1 for j in self.jobs.values() if j.state == JobState.QUEUED
                ),
                "payload.jobs_running": sum(
                    1
                    for j in self.jobs.values()
                    if j.state in (JobState.RUNNING, JobState.VERIFYING)
                ),
                "payload.boards_powered": sum(
                    1 for s in states if s in _UP or s is PowerState.BOOTING
                ),
                "payload.boards_idle": sum(1 for b in boards if b.state in _UP and b.run is None),
                "payload.boards_busy": sum(1 for b in boards if b.run is not None),
                "payload.boards_throttled": sum(
                    1 for b in boards if b.registers.throttle_level > 0
                ),
                "payload.boards_fault": sum(
                    1 for b in boards if b.failed or b.state is PowerState.FAULT
                ),
                "payload.power_w": sum(b.registers.power_w for b in boards),
                "payload.power_budget_w": self.budget_w,
                "payload.max_die_temp_k": max(
                    (b.registers.die_temp_k for b in boards), default=0.0
                ),
                "payload.throttle_level": self.level,
                "payload.power_limit_w": self.power_limit_w,
                "payload.boards_off_by_limit": sum(1 for b in boards if b.limited_off),
            }
        )
        if hardware_read:
            self.ctx.parameter_map(values)
            return
        stale = tuple(name for name in values if name in payload._FROM_HARDWARE)
        self.ctx.parameter_map(
            {k: v for k, v in values.items() if k not in payload._FROM_HARDWARE}, invalid=stale
        )


_BOARDS = ["ref-gpu"] * 6 + ["ref-cpu"] * 3 + ["ref-npu"] * 3
_HOT_SLOT = "slot.004"


def _rig(reference: bool) -> Rig:
    rig = Rig(_BOARDS, stagger_s=1.0, recovery_holdoff_s=2.0, watchdog_s=6.0)
    if reference:
        rig.manager = _Reference(rig.out, rig.manager.config)
    rig.published = []  # type: ignore[attr-defined]  # what the manager publishes on the bus
    rig.out.publish = rig.published.append  # type: ignore[attr-defined]
    plain = rig.hw._slot_registers
    rig.hot = None  # type: ignore[attr-defined]  # (die K, throttle level) forced on _HOT_SLOT

    def registers(device: str) -> Any:
        update: dict[str, Any] = {"loop_id": "L1" if int(device[5:]) <= 6 else "L2"}
        if device == _HOT_SLOT and rig.hot is not None:  # type: ignore[attr-defined]
            update["die_temp_k"], update["throttle_level"] = rig.hot  # type: ignore[attr-defined]
        return plain(device).model_copy(update=update)

    rig.hw._slot_registers = registers  # type: ignore[method-assign]
    command = rig.hw.command

    def refusing(device: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
        # slot 6 does not answer a submission for a while: the job goes elsewhere
        if device == "slot.006" and name == "submit_job" and 58 <= rig.clock.ns // _NS - 1000 < 70:
            rig.hw.commands.append((device, name, args))
            raise DeviceError("device_fault", "refused on purpose")
        return command(device, name, args)

    rig.hw.command = refusing  # type: ignore[method-assign]
    read = rig.hw.read
    rig.loop1 = {}  # type: ignore[attr-defined]  # LoopRegisters forced on loop L1 only

    def loops_apart(device: str) -> dict[str, Any]:
        values = read(device)
        if device == "loop.L1":
            values = {**values, **rig.loop1}  # type: ignore[attr-defined]
        return values

    rig.hw.read = loops_apart  # type: ignore[method-assign]
    return rig


def _limit(source: str, watts: float | None, scope: str = "all") -> ComputeLimit:
    return ComputeLimit(source=source, scope=scope, power_limit_w=watts, reason=f"t {watts}")


async def _tc(rig: Rig, subservice: int, data: bytes) -> None:
    request_id = bytes([0, 1, subservice, len(rig.out.progress_reports) % 256])
    await rig.manager.handle(
        TcDispatch(
            request_id=request_id,
            apid=dic.Apid.PAYLOAD,
            service=140,
            subservice=subservice,
            source_id=1,
            app_data=data,
        )
    )


async def _second(rig: Rig, t: int) -> None:
    """What the ground, the other services and the hardware do at mission second ``t``."""
    manager, hw = rig.manager, rig.hw
    thermal = next(iter(manager.boards.values())).thermal if manager.boards else None
    if t in (25, 26, 27, 33, 41, 58, 77, 101, 133, 171, 205):
        # a burst of jobs: long and short, redundant, prioritised, more than the boards
        for k in range(4):
            job_id = t * 10 + k
            if k == 0:
                job = _long(job_id, redundancy=1 + (t % 2), priority=t % 5, seed=t)
            elif k == 1:
                job = SubmitJob(job_id, "matmul", 96, t, redundancy=2, priority=3)
            elif k == 2:
                job = SubmitJob(job_id, "fft", 1024, t, 50_000, priority=1)
            else:
                job = SubmitJob(job_id, "matmul", 256, t, 20_000)
            manager.submit(job)
        if t % 2:
            await manager.schedule_now()
    # compute limits: a power budget that creeps (applied, announced by steps), an eclipse
    # shed, a thermal request on loop L1, lifts
    if 20 <= t < 55:
        manager.receive_limit(_limit("power", 9000.0 + 150.0 * ((t * 7) % 5)))
    if t == 55:
        manager.receive_limit(_limit("power", 2500.0))
    if t == 70:
        manager.receive_limit(_limit("thermal", 1200.0, "L1"))
    if t == 90:
        manager.receive_limit(_limit("thermal", None, "L1"))
    if 100 <= t < 140:
        manager.receive_limit(_limit("power", 7000.0 + 800.0 * (t % 3)))
    if t == 140:
        manager.receive_limit(_limit("power", None))
    if t == 150:
        manager.receive_limit(_limit("mode", 0.0, "L2"))
    if t == 160:
        manager.receive_limit(_limit("mode", None, "L2"))
    # the budgets' backstop: SoC (once the power budget is stale) and coolant
    hw.soc = 0.55 if 145 <= t < 165 else 0.9
    hw.supply_k = 327.0 if 110 <= t < 118 else 300.0
    hw.flow_kg_s = 0.1 if 186 <= t < 189 else 2.0
    # one loop apart: L1 hot (its boards throttled, L2's not), then L1 without flow (its
    # boards idled and given no job, L2's run on)
    rig.loop1 = (  # type: ignore[attr-defined]
        {"supply_temp_k": 331.0} if 120 <= t < 126 else {"flow_kg_s": 0.0} if 206 <= t < 214 else {}
    )
    # faults on the boards
    upsets = {
        45: ("slot.001", UpsetKind.BIT_FLIP_RESULT),
        62: ("slot.002", UpsetKind.HANG),
        84: ("slot.005", UpsetKind.LATCH_UP),
        121: ("slot.008", UpsetKind.MEMORY_UE),
        176: ("slot.003", UpsetKind.HANG),
    }
    if t in upsets:
        device, kind = upsets[t]
        hw.boards[device].inject_upset(kind)
    if t in (100, 101, 103):
        hw.boards["slot.007"].inject_upset(UpsetKind.MEMORY_CE)
    if t in (130, 131):
        hw.extra_power_w["slot.009"] = 600.0
    else:
        hw.extra_power_w.pop("slot.009", None)
    # a board holding its throttle temperature, then over it, then over its rating, cooling
    if thermal is not None:
        alarming = (thermal.throttle_temp_k + thermal.max_die_temp_k) / 2.0
        episodes = (
            (150, 160, thermal.throttle_temp_k + 0.5, 2),  # holding its throttle temperature
            (160, 170, alarming + 1.0, 2),  # throttling itself past half-way: an event
            (170, 174, thermal.max_die_temp_k + 2.0, 3),  # over its rating: powered off
            (174, 180, thermal.throttle_temp_k + 1.0, 0),  # cooling (on again once below)
        )
        rig.hot = next(  # type: ignore[attr-defined]
            ((die_k, level) for start, end, die_k, level in episodes if start <= t < end), None
        )
    # the mode, board telecommands, a cancel, lists
    if t == 190:
        manager.mode_changed(
            ModeChanged(mode=Mode.SAFE, previous=Mode.NOMINAL, reason="t", since_ns=rig.clock.ns)
        )
    if t == 198:
        manager.mode_changed(
            ModeChanged(mode=Mode.NOMINAL, previous=Mode.SAFE, reason="t", since_ns=rig.clock.ns)
        )
    if t == 95:
        await _tc(rig, 10, dic.pack_slot(10))
    if t == 108:
        await _tc(rig, 11, dic.pack_slot(10))
    if t == 112:
        await _tc(rig, 8, dic.pack_slot(11))
    if t == 36:
        await _tc(rig, 2, dic.pack_job_id(330))
    if t in (50, 150):
        await _tc(rig, 3, b"")
        await _tc(rig, 6, b"")


def _can_run_plain(board: _Board, request: SubmitJob) -> bool:
    """`_Board.can_run` as written before its shape check was kept."""
    if board.failed or request.kernel in board.unsupported or board.flops(request.kernel) <= 0:
        return False
    if board.limits is not None:
        return board.limits.violation(request.kernel, request.size, request.iterations) is None
    assert board.capabilities is not None
    return kernels.job_memory_bytes(request.spec()) <= board.capabilities.memory_bytes


_SHAPES = [
    SubmitJob(1, "matmul", 96, 1),
    SubmitJob(2, "matmul", 4096, 1),
    SubmitJob(3, "fft", 1024, 1, 50_000),
    SubmitJob(4, "matmul", 1024, 1, 10_000_000),
]


def _boards(manager: PayloadManager) -> list[dict[str, Any]]:
    return [_state(b) for b in manager.boards.values()]


async def test_the_fast_cycle_decides_as_the_straightforward_one_over_a_busy_scenario():
    fast, slow = _rig(reference=False), _rig(reference=True)
    assert type(fast.manager) is PayloadManager and isinstance(slow.manager, _Reference)
    for t in range(230):
        for rig in (fast, slow):
            await _second(rig, t)
            await rig.run(1)
        assert fast.hw.commands == slow.hw.commands, t
        assert fast.out.events == slow.out.events, t
        assert fast.out.params == slow.out.params, t
        assert fast.out.tms == slow.out.tms, t
        assert fast.out.progress_reports == slow.out.progress_reports, t
        assert fast.published == slow.published, t  # type: ignore[attr-defined]
        assert _boards(fast.manager) == _boards(slow.manager), t
        assert fast.manager.plan == slow.manager.plan, t
        for board in fast.manager.boards.values():
            for request in _SHAPES:
                assert board.can_run(request) == _can_run_plain(board, request), (t, request)
    # the scenario did what it is for
    events = {e for e, _ in fast.out.events}
    for event in (
        dic.EventId.JOB_COMPLETED,
        dic.EventId.RESULT_MISMATCH,
        dic.EventId.BOARD_HUNG,
        dic.EventId.BOARD_LATCHUP,
        dic.EventId.SEU_BURST,
        dic.EventId.BOARD_OVERTEMP,
        dic.EventId.COMPUTE_LIMITED,
        dic.EventId.COMPUTE_LIMIT_LIFTED,
        dic.EventId.THROTTLE_CHANGED,
        dic.EventId.JOBS_SUSPENDED,
        dic.EventId.BOARD_COMMANDED,
    ):
        assert event in events, event.name
    throttles = [m for e, m in fast.out.events if e == dic.EventId.THROTTLE_CHANGED]
    assert any("L1 3, L2 0" in m for m in throttles), throttles  # L1 hot alone
    assert any("flow lost on L1)" in m for m in throttles), throttles  # L1 dry alone
    commands = {c for _, c, _ in fast.hw.commands}
    assert {"submit_job", "power_off", "power_on", "power_cycle", "set_throttle"} <= commands
    assert len(fast.published) > 200, "the boards' job limits, every period"  # type: ignore[attr-defined]
    reports = fast.out.reports()
    assert {JobState.COMPLETED, JobState.CANCELLED} <= {r.state for r in reports}, reports
