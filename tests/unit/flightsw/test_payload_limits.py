"""Compute limits, modes and board telecommands of the payload manager.

The limit arithmetic (`plan_limits`) on its own, then the manager cycle by cycle against the
real reference boards behind hwsim's port handler (the rig of test_payload_manager), the
boards on loops L1 (slots 1, 2) and L2 (slots 3, 4) as the backplane's ``loop_id`` says.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from computesat_sdk.contract import UpsetKind
from test_payload_manager import Rig, _long

from flightsw.messages import ComputeLimit, ModeChanged, TcDispatch
from flightsw.services.payload import Config, LimitBoard, plan_limits
from icd import dictionary as dic
from icd.dictionary import EventId, JobState, Mode, SubmitJob
from icd.errors import ErrorCode

# ref-gpu (computesat_sdk reference): idle 180 W, peak 1000 W, off 8 W; power fractions of
# its throttle levels 1.0, 0.75, 0.55, 0.35, 0.18 -> worst case per level:
GPU_W = (1000.0, 795.0, 631.0, 467.0, 327.6)
GPU_OFF_W = 8.0


def _gpu(slot: int, loop: str, rank: tuple[int, ...] = (1,), base: int = 0) -> LimitBoard:
    return LimitBoard(slot, loop, GPU_W, rank, base, GPU_OFF_W)


FOUR = [_gpu(1, "L1"), _gpu(2, "L1", (2, 5)), _gpu(3, "L2"), _gpu(4, "L2", (2, 1))]


def test_no_limit_keeps_every_board_on_at_the_budget_level():
    plan = plan_limits([_gpu(1, "L1", base=2), _gpu(2, "L2")], {})
    assert plan.levels == {1: 2, 2: 0} and not plan.off, plan


def test_a_limit_throttling_can_meet_is_filled_from_the_shallowest_common_level_up():
    # 4 x 795 = 3180 > 3000 >= 4 x 631 = 2524: floor level 2, nobody off; then the busy
    # boards (last to be shed: slot 2 priority 5, slot 4 priority 1) eased to level 1
    # (2 x 631 + 2 x 795 = 2852), a third would not fit (3016 W)
    plan = plan_limits(FOUR, {"all": 3000.0})
    assert plan.levels == {1: 2, 2: 1, 3: 2, 4: 1} and not plan.off, plan
    assert plan.draw_w(FOUR) <= 3000.0


def test_easing_fills_a_cap_to_within_one_level_step_of_one_board():
    # 160 identical boards: the common floor alone leaves a whole level of each unused
    boards = [_gpu(s, "L1" if s <= 80 else "L2", (2, s % 7)) for s in range(1, 161)]
    for cap in (150_000.0, 120_000.0, 80_000.0, 60_000.0):
        plan = plan_limits(boards, {"all": cap})
        used = plan.draw_w(boards)
        assert used <= cap, f"worst case {used:.0f} W over the cap {cap:.0f} W"
        step = max(a - b for a, b in itertools.pairwise(GPU_W))
        assert cap - used < step, f"cap {cap:.0f} W, worst case only {used:.0f} W"
        assert max(plan.levels.values()) - min(plan.levels.values()) <= 1, plan.levels
    # a loop's own limit is never eased by 'all': L1 stays within its cap
    plan = plan_limits(boards, {"L1": 40_000.0, "all": 150_000.0})
    assert plan.draw_w(boards, "L1") <= 40_000.0
    assert plan.draw_w(boards) <= 150_000.0
    # the higher priority jobs are the ones eased
    plan = plan_limits(boards, {"all": 120_000.0})
    eased = [b for b in boards if plan.levels[b.slot] == min(plan.levels.values())]
    kept = [b for b in boards if plan.levels[b.slot] != min(plan.levels.values())]
    assert min(b.shed_rank for b in eased) >= max(b.shed_rank for b in kept), plan.levels


def test_a_limit_beyond_throttling_powers_off_idle_then_lowest_priority_boards():
    # deepest: 4 x 327.6 = 1310 > 1000; one off (idle slot 1: 3 x 327.6 + 8 = 991 W)
    plan = plan_limits(FOUR, {"all": 1000.0})
    assert plan.off == {1} and plan.levels == {2: 4, 3: 4, 4: 4}, plan
    assert plan.draw_w(FOUR) <= 1000.0
    # off in shed order: idle 1 then idle 3 (rank (1,)); the two left ease back as far as
    # they fit: level 3 (2 x 467 + 16 = 950) is too much for 700, level 4 is not
    plan = plan_limits(FOUR, {"all": 700.0})
    assert plan.off == {1, 3} and plan.levels == {2: 4, 4: 4}, plan
    # then busy 4 (priority 1) before busy 2 (priority 5)
    plan = plan_limits(FOUR, {"all": 400.0})
    assert plan.off == {1, 3, 4} and plan.levels == {2: 4}, plan
    assert plan.draw_w(FOUR) <= 400.0


def test_zero_watts_powers_every_board_of_the_scope_off_and_only_those():
    plan = plan_limits(FOUR, {"L1": 0.0})
    assert plan.off == {1, 2} and plan.levels == {3: 0, 4: 0}, plan
    plan = plan_limits(FOUR, {"all": 0.0})
    assert plan.off == {1, 2, 3, 4} and plan.levels == {}, plan


def test_a_loop_limit_and_an_all_limit_both_hold_and_all_never_eases_a_loop():
    # L1 <= 1300 W: level 2 (2 x 631 = 1262); all <= 2600 W: L2 needs level >= 1
    # (1262 + 2 x 795 = 2852 > 2600, 1262 + 2 x 631 = 2524 fits at floor 2)
    plan = plan_limits(FOUR, {"L1": 1300.0, "all": 2600.0})
    assert plan.levels == {1: 2, 2: 2, 3: 2, 4: 2} and not plan.off, plan
    assert plan.draw_w(FOUR, "L1") <= 1300.0 and plan.draw_w(FOUR) <= 2600.0
    # L1 held deep by its own limit while 'all' alone would allow level 0
    # (L1 <= 600 W: 2 x 327.6 too much, slot 1 off, slot 2 eased to level 3: 467 + 8 W)
    plan = plan_limits(FOUR, {"L1": 600.0, "all": 10_000.0})
    assert plan.levels == {2: 3, 3: 0, 4: 0} and plan.off == {1}, plan


def test_the_budget_level_is_never_eased_by_a_limit():
    boards = [_gpu(1, "L1", base=3), _gpu(2, "L1", base=3)]
    plan = plan_limits(boards, {"all": 5000.0})
    assert plan.levels == {1: 3, 2: 3}, plan


# --- the manager, cycle by cycle -------------------------------------------------------------

LOOPS = {"slot.001": "L1", "slot.002": "L1", "slot.003": "L2", "slot.004": "L2"}


async def _rig(**config: Any) -> Rig:
    rig = Rig(["ref-gpu"] * 4, **{"stagger_s": 1.0, **config})
    plain = rig.hw._slot_registers

    def with_loop(device: str):
        return plain(device).model_copy(update={"loop_id": LOOPS[device]})

    rig.hw._slot_registers = with_loop  # type: ignore[method-assign]
    await rig.boot()
    return rig


def _measured_w(rig: Rig, slots: tuple[int, ...] = (1, 2, 3, 4)) -> float:
    return sum(rig.hw.boards[f"slot.{s:03d}"].power_draw_w() for s in slots)


def _events(rig: Rig, event_id: int) -> list[str]:
    return [m for e, m in rig.out.events if e == event_id]


async def test_limit_all_then_l1_brings_measured_power_under_and_back_when_lifted():
    rig = await _rig()
    manager = rig.manager
    for job_id in (1, 2, 3, 4):  # the highest priority is placed first: job 4 on slot 1 ...
        assert rig.submit(_long(job_id, priority=job_id)) is None
    await rig.run(3)
    full_w = _measured_w(rig)
    assert full_w > 3900.0, f"expected 4 busy GPUs near 4000 W, got {full_w:.0f} W"
    assert {b.slot: b.run is not None for b in manager.boards.values()} == dict.fromkeys(
        (1, 2, 3, 4), True
    )

    # throttling is enough: level 3 everywhere (4 x 467 W), nobody off
    assert manager.receive_limit(ComputeLimit(source="power", power_limit_w=2000.0, reason="t"))
    await rig.run(2)
    assert _measured_w(rig) <= 2000.0, f"all <= 2000 W, measured {_measured_w(rig):.0f} W"
    assert not manager.plan.off and set(manager.plan.levels.values()) == {3}, manager.plan
    limited = _events(rig, EventId.COMPUTE_LIMITED)
    assert len(limited) == 1 and "power limits all to 2000 W" in limited[0], limited
    assert rig.out.params["payload.power_limit_w"] == 2000.0

    # tighter: the board of the lowest-priority job (1, slot 4) off, the rest at level 4
    assert manager.receive_limit(ComputeLimit(source="power", power_limit_w=1000.0, reason="t"))
    await rig.run(2)
    assert _measured_w(rig) <= 1000.0, f"all <= 1000 W, measured {_measured_w(rig):.0f} W"
    assert manager.plan.off == {4}, manager.plan
    assert rig.hw.boards["slot.004"].health().power_state == "off"
    assert rig.out.params["payload.boards_off_by_limit"] == 1
    job1 = next(j for j in manager.job_list() if j.job_id == 1)
    assert job1.state == JobState.QUEUED and job1.retries == 1, f"re-queued, got {job1}"

    # a second source on L1 only: L1 boards off (their 8 W off draw), L2 within 'all'
    thermal = ComputeLimit(source="thermal", scope="L1", power_limit_w=0.0, reason="leak L1")
    assert manager.receive_limit(thermal)
    await rig.run(2)
    assert manager.plan.off == {1, 2}, manager.plan
    assert _measured_w(rig, (1, 2)) <= 2 * 8.0 + 1e-6, "L1 boards off"
    assert _measured_w(rig) <= 1000.0
    with pytest.raises(AssertionError, match="not met"):  # never a job on an L1 board
        await rig.until(lambda: any(manager.boards[s].run for s in (1, 2)), 30)
    assert _measured_w(rig) <= 1000.0, f"all <= 1000 W, measured {_measured_w(rig):.0f} W"

    # lifted: boards back on one per stagger_s, throttle eased, every job completes
    mark = len(rig.hw.commands)
    manager.receive_limit(ComputeLimit(source="thermal", scope="L1", power_limit_w=None, reason=""))
    manager.receive_limit(ComputeLimit(source="power", power_limit_w=None, reason="sunlight"))
    await rig.run(1)
    assert len(_events(rig, EventId.COMPUTE_LIMIT_LIFTED)) == 2
    ons = [c for c in rig.hw.commands[mark:] if c[1] == "power_on"]
    assert len(ons) == 1, f"staggered power-on, got {ons}"
    await rig.until(lambda: len(rig.out.reports()) == 4)
    assert {r.state for r in rig.out.reports()} == {JobState.COMPLETED}, rig.out.reports()
    assert rig.out.params["payload.boards_off_by_limit"] == 0
    assert rig.out.params["payload.power_limit_w"] == manager.config.payload_power_limit_w


async def test_repeated_limit_is_not_announced_again_and_an_unknown_source_lift_is_ignored():
    rig = await _rig()
    manager = rig.manager
    limit = ComputeLimit(source="power", power_limit_w=3000.0, reason="eclipse ahead")
    assert manager.receive_limit(limit) and not manager.receive_limit(limit)
    assert not manager.receive_limit(ComputeLimit(source="fdir", power_limit_w=None, reason=""))
    manager.receive_limit(ComputeLimit(source="mode", power_limit_w=5000.0, reason="x"))
    assert manager.caps() == {"all": 3000.0}, "the most restrictive of the sources wins"


async def test_a_budget_that_creeps_is_applied_but_announced_only_when_it_moves_a_step():
    rig = await _rig()
    manager = rig.manager

    def budget(w: float | None) -> bool:
        return manager.receive_limit(ComputeLimit(source="power", power_limit_w=w, reason="sun"))

    announced = []
    for w in (100_000.0, 100_500.0, 104_000.0, 109_500.0, 111_000.0, 0.0, None):
        assert budget(w), f"{w} not applied"
        announced += [m.power_limit_w for m in manager.limit_news]
        manager.limit_news.clear()
        assert manager.caps().get("all") == w, (w, manager.caps())
    # 100.5 and 104 kW are within 10 % of the 100 kW announced; 111 kW is more than 10 % above
    # it; 0 W (all off) and the lift are always news
    assert announced == [100_000.0, 111_000.0, 0.0, None], announced


async def test_safe_mode_admits_no_new_job_and_nominal_admits_again():
    rig = await _rig()
    manager = rig.manager
    since = rig.clock.ns
    assert manager.mode_changed(
        ModeChanged(mode=Mode.SAFE, previous=Mode.NOMINAL, reason="t", since_ns=since)
    )
    assert rig.submit(SubmitJob(7, "matmul", 96, 1)) == ErrorCode.MODE_FORBIDS_JOBS
    tc = TcDispatch(
        request_id=b"\x00\x00\x00\x07",
        apid=dic.Apid.PAYLOAD,
        service=140,
        subservice=1,
        source_id=1,
        app_data=SubmitJob(8, "matmul", 96, 1).pack(),
    )
    await manager.handle(tc)
    stages = [(s, c) for r, s, c in rig.out.progress_reports if r == tc.request_id]
    assert stages == [("started", 0), ("failed", ErrorCode.MODE_FORBIDS_JOBS)], stages
    assert any("mode SAFE" in m for m in _events(rig, EventId.JOBS_SUSPENDED))
    assert any("mode SAFE" in m for m in _events(rig, EventId.JOB_REFUSED))
    manager.mode_changed(
        ModeChanged(mode=Mode.NOMINAL, previous=Mode.SAFE, reason="t", since_ns=since)
    )
    assert rig.submit(SubmitJob(9, "matmul", 96, 1)) is None
    await rig.until(lambda: rig.report(9) is not None)


async def _board_tc(rig: Rig, subservice: int, data: bytes) -> list[tuple[str, int]]:
    request_id = bytes([0, 0, subservice, len(rig.out.progress_reports) % 256])
    tc = TcDispatch(
        request_id=request_id,
        apid=dic.Apid.PAYLOAD,
        service=140,
        subservice=subservice,
        source_id=1,
        app_data=data,
    )
    await rig.manager.handle(tc)
    return [(s, c) for r, s, c in rig.out.progress_reports if r == request_id]


async def test_board_telecommands_off_on_cycle_reset_and_their_refusals():
    rig = await _rig()
    manager = rig.manager
    assert await _board_tc(rig, 10, dic.pack_slot(2)) == [("started", 0), ("completed", 0)]
    await rig.run(5)
    assert rig.hw.boards["slot.002"].health().power_state == "off", "140,10: stays off"
    assert await _board_tc(rig, 11, dic.pack_slot(2)) == [("started", 0), ("completed", 0)]
    await rig.until(lambda: manager.boards[2].state in ("idle", "throttled"))
    assert await _board_tc(rig, 8, dic.pack_slot(3)) == [("started", 0), ("completed", 0)]
    assert ("slot.003", "power_cycle", {}) in rig.hw.commands
    assert await _board_tc(rig, 9, dic.pack_slot(4)) == [("started", 0), ("completed", 0)]
    assert ("slot.004", "reset", {}) in rig.hw.commands
    assert len(_events(rig, EventId.BOARD_COMMANDED)) == 4
    # refusals: unknown slot, limited out (1,8 with the code and an event saying why)
    assert await _board_tc(rig, 8, dic.pack_slot(99)) == [
        ("started", 0),
        ("failed", ErrorCode.UNKNOWN_SLOT),
    ]
    manager.receive_limit(ComputeLimit(source="thermal", scope="L2", power_limit_w=0.0, reason="t"))
    await rig.run(2)
    for sub in (8, 9, 11):
        stages = await _board_tc(rig, sub, dic.pack_slot(3))
        assert stages == [("started", 0), ("failed", ErrorCode.BOARD_LIMITED_OUT)], (sub, stages)
    refused = _events(rig, EventId.BOARD_COMMAND_REFUSED)
    assert "no board in slot 99" in refused[0] and "thermal/L2 0 W" in refused[1], refused
    # bad data never reaches a board
    before = len(rig.hw.commands)
    assert await _board_tc(rig, 8, b"\x01") == [("start_failed", ErrorCode.INVALID_APP_DATA)]
    assert len(rig.hw.commands) == before


async def test_memory_upsets_single_then_burst_quarantine_the_board():
    rig = await _rig(seu_burst_errors=3, seu_window_s=600.0, seu_quarantine_s=60.0)
    board = rig.hw.boards["slot.001"]
    board.inject_upset(UpsetKind.MEMORY_CE)
    await rig.run(2)
    assert len(_events(rig, EventId.BOARD_UPSET)) == 1, rig.out.events
    board.inject_upset(UpsetKind.MEMORY_CE)
    board.inject_upset(UpsetKind.MEMORY_CE)
    await rig.run(2)
    bursts = _events(rig, EventId.SEU_BURST)
    assert len(bursts) == 1 and "slot.001" in bursts[0], rig.out.events
    # quarantined: a job goes to another board
    assert rig.submit(SubmitJob(5, "matmul", 96, 1)) is None
    await rig.until(lambda: rig.report(5) is not None)
    report = rig.report(5)
    assert report is not None and 1 not in report.slots, report


async def test_the_soc_steps_stand_aside_while_the_power_budget_is_fresh_and_back_when_stale():
    rig = Rig(["ref-cpu", "ref-cpu"])
    await rig.boot()
    full_w = Config().payload_power_limit_w
    rig.hw.soc = 0.45  # two SoC steps below 0.6 and 0.5: level 2 without a power budget
    for _ in range(3):  # the power service republishes its budget every cycle
        rig.manager.receive_limit(
            ComputeLimit(source="power", power_limit_w=100_000.0, reason="sunlight")
        )
        await rig.run(1)
    assert rig.manager.level == 0, f"power budget fresh: level 0 expected, {rig.manager.level}"
    assert rig.out.params["payload.power_budget_w"] == full_w, rig.out.params
    assert all(b.health().commanded_throttle_level == 0 for b in rig.hw.boards.values())
    # the power service falls silent: after power_budget_fresh_s the SoC steps apply again
    await rig.run(Config().power_budget_fresh_s + 2)
    assert rig.manager.level == 2, f"stale power budget: SoC level 2 expected, {rig.manager.level}"
    assert rig.out.params["payload.power_budget_w"] < full_w
    assert all(b.health().commanded_throttle_level == 2 for b in rig.hw.boards.values())
    # another source's limit does not stand in for the power service's
    rig.manager.receive_limit(ComputeLimit(source="thermal", power_limit_w=100_000.0, reason="t"))
    await rig.run(1)
    assert rig.manager.level == 2, rig.manager.level
