"""Compute jobs end to end: ground → RF link → payload manager → plug-in board → TM → ground.

hwsim and flightsw run as separate processes (x20) on a small spacecraft with six plug-in
boards (tests/_payload_sat.py: four ref-gpu, a ref-cpu and the third-party acme-photon7)
and no random upsets; radiation effects come from simulation-control fault injection. Every
wait is in mission seconds.

One satellite serves the whole module (starting one costs seconds). Each test starts with every
board up, identified and idle, and checks the counters it moves by how much they moved.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from _inprocess import until_nominal
from _payload_sat import BOARDS, write_payload_config

from computesat.launcher import Satellite, launch_satellite
from ground.simctl import SimControl
from ground.station import CommandFailed, Ground, Telemetry
from icd import dictionary as dic
from icd.dictionary import BoardState, EventId, JobState
from icd.errors import ErrorCode
from icd.thermal import LoopRef

SPEED = 20.0
# Bound for a reply or a report that comes within a mission second or two: generous (1.5 s of
# wall time at x20) so that a loaded host is slow, not failing. Only a failure waits it out.
WAIT_S = 30.0
# matmul 1024 is 2.1e9 FLOP; 1e6 iterations keep a board busy for 18 s (ACME, 120 TFLOP/s) to
# 48 s (ref-gpu) of mission time: long enough to be hit by an upset while it runs, and within
# every board's iteration limit (the ref-cpu's 1 571 606 is the least).
LONG = {"kernel": "matmul", "size": 1024, "seed": 99, "iterations": 1_000_000}

# The module's tests share one event loop, the one the shared satellite's processes are
# watched from.
pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def satellite(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Satellite]:
    config = write_payload_config(tmp_path_factory.mktemp("payload_sat"))
    sat = await launch_satellite(
        ["--clock", "accelerated", "--speed", str(SPEED), "--config", str(config)],
        ["--port", "0"],
        device_endpoint="tcp://127.0.0.1:0",
        simctl_endpoint="tcp://127.0.0.1:0",
    )
    async with sat:
        yield sat


@pytest_asyncio.fixture(loop_scope="module")
async def ground(satellite: Satellite) -> AsyncIterator[Ground]:
    async with Ground(satellite.udp_host, satellite.udp_port, speed=SPEED) as station:
        # Generous mission-time bounds: on a loaded 2-core host the x20 clock runs on while
        # the processes wait for CPU.
        await station.ping(timeout=30)
        await station.ping(apid=dic.Apid.PAYLOAD, timeout=30)
        # The boot holds SAFE for a while (no job admitted: MODE_FORBIDS_JOBS), and a test may
        # leave a mode change behind: every test submits in NOMINAL/ECLIPSE only. (`until_nominal`
        # reads platform HK through the ground: the same for this process-launched satellite.)
        await until_nominal(station, timeout_s=300.0)
        await _boards_up(station)
        yield station


async def _boards_up(ground: Ground, timeout_s: float = 600.0) -> list[dic.BoardEntry]:
    """Wait (HK-paced, mission time) until every board is up, identified and idle.

    Identity is read once a board answers; on a loaded host that read may time out and be
    retried a cycle later, so a board can be idle before its vendor is known.
    """
    deadline = ground.clock.now_s() + timeout_s
    boards: list[dic.BoardEntry] = []
    for _ in range(round(timeout_s)):  # bounded by count as well as by mission time
        boards = await ground.list_boards(timeout=30)
        if len(boards) == len(BOARDS) and all(
            b.state == BoardState.IDLE and b.vendor for b in boards
        ):
            return boards
        if ground.clock.now_s() > deadline:
            break
        await ground.wait_for(lambda tm: tm.sid == 3, timeout=WAIT_S)
    raise AssertionError(f"boards not up, identified and idle within {timeout_s} s: {boards}")


async def _payload_hk(ground: Ground) -> dict[str, float | int]:
    """The payload counters now (a one-shot report, not a periodic one from before)."""
    return await ground.request_hk(3, timeout=WAIT_S)


def _report_tm(ground: Ground, job_id: int) -> Telemetry:
    return next(
        tm for tm in ground.archive if tm.job_report is not None and tm.job_report.job_id == job_id
    )


async def _running_slots(ground: Ground, job_id: int, count: int = 1) -> tuple[int, ...]:
    for _ in range(30):
        entry = next(e for e in await ground.list_jobs(timeout=WAIT_S) if e.job_id == job_id)
        if entry.state == JobState.RUNNING and len(entry.slots) == count:
            return entry.slots
        await ground.wait_for(lambda tm: tm.sid == 3, timeout=WAIT_S)
    raise AssertionError(f"job {job_id} never ran on {count} boards")


async def test_matmul_job_runs_on_the_acme_board_and_the_ground_verifies_its_digest(
    ground: Ground,
):
    boards = {b.slot: b for b in await ground.list_boards(timeout=WAIT_S)}
    assert {slot: b.board for slot, b in boards.items()} == BOARDS
    assert boards[6].vendor == "ACME Photonics"
    # The ground clock never runs ahead of the satellite's: the job cannot start before this.
    submitted_s = ground.clock.now_s()
    job_id = await ground.submit_job("matmul", 256, seed=2027, timeout=WAIT_S)
    report = await ground.wait_job(job_id, timeout=60)
    assert report.state == JobState.COMPLETED
    assert report.slots == (6,)  # the fastest matmul board aboard
    assert ground.verify(report)  # recomputed on the ground with computesat_sdk.kernels
    assert report.summary["trace"] != 0 and report.end_s >= report.start_s > 0
    # The board's times are mission time (the CUC epoch of every TM), not model time: between
    # the submission and the report's own time stamp, whatever the load.
    reported_s = _report_tm(ground, job_id).time_s
    assert submitted_s - 1 <= report.start_s <= report.end_s <= reported_s + 1, (
        f"job ran {report.start_s}..{report.end_s}, submitted {submitted_s}, reported {reported_s}"
    )
    listed = {e.job_id: e for e in await ground.list_jobs(timeout=WAIT_S)}
    assert listed[job_id].state == JobState.COMPLETED
    hk = await ground.wait_for(
        lambda tm: tm.sid == 3 and tm.parameters["payload.jobs_completed"] >= 1, timeout=10
    )
    assert hk.parameters["payload.boards_powered"] == len(BOARDS)
    assert any(tm.event_id == EventId.JOB_COMPLETED for tm in ground.archive)


async def test_jobs_queue_run_and_cancel_and_hk_shows_their_states(ground: Ground):
    cancelled_before = (await _payload_hk(ground))["payload.jobs_cancelled"]
    first = await ground.submit_job(**LONG, timeout=WAIT_S)
    second = await ground.submit_job(**LONG, priority=5, timeout=WAIT_S)
    await _running_slots(ground, first)
    await _running_slots(ground, second)
    hk = await ground.wait_for(
        lambda tm: tm.sid == 3 and tm.parameters["payload.jobs_running"] == 2, timeout=10
    )
    assert hk.parameters["payload.boards_busy"] == 2
    assert (await ground.cancel_job(first, timeout=WAIT_S)).ok
    report = await ground.wait_job(first, timeout=WAIT_S)
    assert report.state == JobState.CANCELLED and report.digest == ""
    again = await ground.cancel_job(first, timeout=WAIT_S)
    assert again.stages == [1, 3, 8] and again.error_code == ErrorCode.NOT_FOUND
    await ground.wait_for(
        lambda tm: (
            tm.sid == 3
            and tm.parameters["payload.jobs_cancelled"] == cancelled_before + 1
            and tm.parameters["payload.jobs_running"] == 1
        ),
        timeout=WAIT_S,
    )
    assert (await ground.cancel_job(second, timeout=WAIT_S)).ok
    # Leave the shared satellite idle for the next test.
    assert (await ground.wait_job(second, timeout=30)).state == JobState.CANCELLED


async def test_redundant_job_with_a_flipped_result_is_caught_and_retried(
    ground: Ground, simctl: SimControl
):
    before = await _payload_hk(ground)
    job_id = await ground.submit_job(**LONG, redundancy=2, timeout=WAIT_S)
    slots = await _running_slots(ground, job_id, count=2)
    await simctl.inject("board_upset", f"slot.{slots[0]:03d}", {"kind": "bit_flip_result"})
    report = await ground.wait_job(job_id, timeout=300)
    assert report.state == JobState.COMPLETED
    assert report.retries >= 1 and not set(report.slots) & {slots[0]}
    assert ground.verify(report)
    mismatch = [tm for tm in ground.archive if tm.event_id == EventId.RESULT_MISMATCH]
    assert mismatch and str(job_id) in (mismatch[0].message or "")
    hk = await _payload_hk(ground)
    assert hk["payload.mismatches"] == before["payload.mismatches"] + 1
    assert hk["payload.retries"] >= before["payload.retries"] + 1


async def test_hung_board_is_power_cycled_by_the_watchdog_and_the_job_completes(
    ground: Ground, simctl: SimControl
):
    cycles_before = (await _payload_hk(ground))["payload.watchdog_cycles"]
    job_id = await ground.submit_job(**LONG, timeout=WAIT_S)
    (slot,) = await _running_slots(ground, job_id)
    await simctl.inject("board_upset", f"slot.{slot:03d}", {"kind": "hang"})
    hung = await ground.wait_for(lambda tm: tm.event_id == EventId.BOARD_HUNG, timeout=60)
    assert f"slot.{slot:03d}" in (hung.message or "")
    report = await ground.wait_job(job_id, timeout=300)
    assert report.state == JobState.COMPLETED and report.retries == 1
    assert slot not in report.slots and ground.verify(report)
    assert any(tm.event_id == EventId.BOARD_POWER_CYCLED for tm in ground.archive)
    assert (await _payload_hk(ground))["payload.watchdog_cycles"] == cycles_before + 1


async def test_latch_up_is_power_cycled_and_the_board_returns_to_service(
    ground: Ground, simctl: SimControl
):
    recoveries_before = (await _payload_hk(ground))["payload.latchup_recoveries"]
    job_id = await ground.submit_job(**LONG, timeout=WAIT_S)
    (slot,) = await _running_slots(ground, job_id)
    await simctl.inject("board_upset", f"slot.{slot:03d}", {"kind": "latch_up"})
    latch = await ground.wait_for(lambda tm: tm.event_id == EventId.BOARD_LATCHUP, timeout=30)
    assert f"slot.{slot:03d}" in (latch.message or "")
    report = await ground.wait_job(job_id, timeout=300)
    assert report.state == JobState.COMPLETED and ground.verify(report)
    recoveries = (await _payload_hk(ground))["payload.latchup_recoveries"]
    assert recoveries == recoveries_before + 1
    await _boards_up(ground)  # the latched board rebooted and is idle again


async def test_loss_of_coolant_flow_sheds_the_loops_boards_and_recovery_restores_them(
    ground: Ground,
):
    # Thermal control switches a seized pump to its standby within seconds (its own tests:
    # tests/unit/flightsw/test_thermal_hil.py), so the flow is lost here by isolating the loop
    # (131,6: both pumps stopped) and comes back with 131,7 (pump A started again). Thermal
    # control then limits the loop's compute to 0 W and the payload manager powers its boards
    # off; the restore lifts the limit.
    limited = ground.expect(
        lambda tm: (
            tm.event_id == EventId.COMPUTE_LIMITED and "thermal limits L1 to 0 W" in tm.message
        )
    )
    isolate = await ground.command(131, 6, LoopRef("L1").pack(), timeout=WAIT_S)
    assert isolate.ok, isolate.describe()
    try:
        await ground.clock.wait_for(limited, 30)
        off = await ground.wait_for(
            lambda tm: tm.sid == 3 and tm.parameters["payload.boards_off_by_limit"] >= 1, 30
        )
        # No new work on boards that are off: the job waits in the queue or runs on L2.
        job_id = await ground.submit_job("matmul", 32, seed=1, timeout=WAIT_S)
        assert off.parameters["payload.power_limit_w"] is not None, off.parameters
    finally:
        restore = await ground.command(131, 7, LoopRef("L1").pack(), timeout=WAIT_S)
    assert restore.ok, restore.describe()
    await ground.wait_for(
        lambda tm: tm.sid == 3 and tm.parameters["payload.boards_off_by_limit"] == 0, timeout=60
    )
    report = await ground.wait_job(job_id, timeout=120)
    assert report.state == JobState.COMPLETED and ground.verify(report)


async def test_bad_jobs_are_refused_with_documented_codes(ground: Ground):
    unknown = dic.SubmitJob(7, "warp_drive", 8, 1).pack()
    refused = await ground.command(140, 1, unknown, apid=dic.Apid.PAYLOAD, timeout=WAIT_S)
    assert refused.stages == [2] and refused.error_code == ErrorCode.INVALID_APP_DATA
    too_big = dic.SubmitJob(8, "matmul", 5000, 1).pack()
    refused = await ground.command(140, 1, too_big, apid=dic.Apid.PAYLOAD, timeout=WAIT_S)
    assert refused.error_code == ErrorCode.INVALID_APP_DATA
    job_id = await ground.submit_job("matmul", 8, seed=3, timeout=WAIT_S)
    with pytest.raises(CommandFailed) as duplicate:
        await ground.submit_job("matmul", 8, seed=3, job_id=job_id, timeout=WAIT_S)
    assert duplicate.value.result.stages == [1, 4]
    assert duplicate.value.result.error_code == ErrorCode.INVALID_APP_DATA
    assert (await ground.wait_job(job_id, timeout=60)).state == JobState.COMPLETED
    on_platform = await ground.command(140, 3, timeout=WAIT_S)  # on APID 2 only
    assert on_platform.error_code == ErrorCode.ILLEGAL_SERVICE


async def test_the_third_party_board_survives_an_upset_with_a_correct_final_answer(
    ground: Ground, simctl: SimControl
):
    """The example vendor board is one of the two redundant runs (it is the fastest matmul
    board); its result is flipped by an upset, and the answer that comes down is still right."""
    job_id = await ground.submit_job(**LONG, redundancy=2, timeout=WAIT_S)
    slots = await _running_slots(ground, job_id, count=2)
    acme = next(slot for slot, name in BOARDS.items() if name == "acme-photon7")
    assert acme in slots
    await simctl.inject("board_upset", f"slot.{acme:03d}", {"kind": "bit_flip_result"})
    report = await ground.wait_job(job_id, timeout=300)
    assert report.state == JobState.COMPLETED
    assert ground.verify(report)
    assert any(tm.event_id == EventId.RESULT_MISMATCH for tm in ground.archive)
