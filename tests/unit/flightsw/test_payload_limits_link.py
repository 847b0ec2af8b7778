"""Compute limits, modes and board telecommands end to end: an in-process satellite (hwsim +
every flight-software service on one stepped clock) with six plug-in boards
(tests/_payload_sat.py: slots 1-3 on loop L1, 4-6 on L2), driven through the RF link from a
ground station; ComputeLimit / ModeChanged come over the software bus from a stand-in for
the power, thermal and mode services; the boards' power is measured on the backplane device
port, not taken from flight software. Every wait is in mission time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import BaseModel

from flightsw.app import FlightSettings, services
from flightsw.context import ServiceContext
from flightsw.messages import ComputeLimit, ModeChanged
from ground.station import CommandFailed, Ground
from icd import dictionary as dic
from icd.devices import BackplaneRegisters
from icd.dictionary import EventId, Mode
from icd.errors import ErrorCode
from runtime.bus import BusMessage
from runtime.ports import DevicePort
from runtime.service import ServiceSpec
from tests._inprocess import InProcessSatellite, in_process_satellite, until_nominal
from tests._payload_sat import write_payload_config

L1, L2 = ("001", "002", "003"), ("004", "005", "006")
OFF_W = {"ref-gpu": 8.0, "ref-cpu": 4.0, "acme-photon7": 5.0}


class _NoConfig(BaseModel):
    pass


def _stand_in(outbox: asyncio.Queue[BusMessage]) -> ServiceSpec:
    """A service that publishes what the test hands it (the autonomy services' messages)."""

    async def run(ctx: ServiceContext, config: _NoConfig) -> None:
        ctx.ready()
        while True:
            ctx.publish(await outbox.get())

    return ServiceSpec("autonomy_stand_in", run, _NoConfig())


@dataclass
class Rig:
    sat: InProcessSatellite
    ground: Ground
    port: DevicePort
    outbox: asyncio.Queue[BusMessage]

    async def backplane(self) -> BackplaneRegisters:
        return await self.port.read_model("backplane", BackplaneRegisters)

    async def power_w(self, slots: tuple[str, ...] = L1 + L2) -> float:
        backplane = await self.backplane()
        return sum(backplane.slots[s].power_w for s in slots)

    async def until(self, predicate, timeout_s: float, step_s: float = 0.5) -> float:
        """Mission seconds until the async ``predicate`` holds (AssertionError after)."""
        start = self.sat.clock.now_ns()
        while self.sat.clock.now_ns() - start <= timeout_s * 1e9:
            if await predicate():
                return (self.sat.clock.now_ns() - start) / 1e9
            await self.sat.clock.sleep(step_s)
        raise AssertionError(f"not within {timeout_s} mission s")

    async def event(self, event_id: int, text: str, timeout_s: float = 20.0) -> str:
        """The message of an event with ``text`` in it, arrived already or within the time."""

        def match(tm) -> bool:
            return tm.event_id == event_id and text in (tm.message or "")

        seen = next((tm for tm in self.ground.archive if match(tm)), None)
        if seen is None:
            seen = await self.ground.wait_for(match, timeout_s)
        return seen.message or ""

    async def board_tc(self, subservice: int, data: bytes):
        return await self.ground.command(140, subservice, data, apid=dic.Apid.PAYLOAD, timeout=30)


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    outbox: asyncio.Queue[BusMessage] = asyncio.Queue()
    # The stand-in is the only source of modes and limits here, so it stands in for the mode
    # manager, power and thermal control and those are left out: the mode manager's own SAFE at
    # boot (compute 0 W) would race the test's messages, and power re-publishes its own
    # ComputeLimit(source="power") every period (a sunlit budget of kW), which replaces the
    # stand-in's limit of the same source (limits are kept per source and scope); thermal
    # likewise owns source "thermal" per loop.
    stood_in = {"modes", "power", "thermal"}
    specs = [s for s in services(FlightSettings(port=0)) if s.name not in stood_in]
    at = next(i for i, s in enumerate(specs) if s.name == "payload")
    specs.insert(at, _stand_in(outbox))
    async with (
        in_process_satellite(specs, hwsim_config=write_payload_config(tmp_path)) as sat,
        Ground("127.0.0.1", sat.udp_port, clock=sat.clock) as ground,
    ):
        await ground.ping()
        port = DevicePort(sat.context, sat.device_endpoint, sat.clock, timeout_s=10.0)
        async with port:
            yield Rig(sat, ground, port, outbox)


async def _all_idle(rig: Rig) -> bool:
    boards = await rig.ground.list_boards(timeout=30)
    return len(boards) == 6 and all(b.state == dic.BoardState.IDLE for b in boards)


async def test_limits_on_the_bus_bring_measured_power_under_and_back(rig: Rig) -> None:
    await rig.until(lambda: _all_idle(rig), 300, step_s=5)
    for job_id in range(1, 7):  # matmul 1024 x 1e6: 48 s on a GPU, minutes on the others
        await rig.ground.submit_job("matmul", 1024, job_id, 1_000_000, job_id=job_id)

    async def busy() -> bool:
        return await rig.power_w() > 3500.0

    await rig.until(busy, 30)
    full_w = await rig.power_w()

    # scope all: under 1500 W within 5 mission s (a control period and a command each)
    limited = rig.ground.expect(lambda tm: tm.event_id == EventId.COMPUTE_LIMITED)
    rig.outbox.put_nowait(ComputeLimit(source="power", power_limit_w=1500.0, reason="eclipse"))

    async def under_1500() -> bool:
        return await rig.power_w() <= 1500.0

    took_s = await rig.until(under_1500, 5)
    message = (await rig.sat.clock.wait_for(limited, 10)).message or ""
    assert "power limits all to 1500 W (eclipse)" in message, message
    hk = await rig.ground.wait_for(
        lambda tm: tm.sid == 3 and tm.parameters["payload.power_limit_w"] == 1500.0, 10
    )
    assert hk.parameters["payload.boards_off_by_limit"] >= 1, hk.parameters
    assert full_w > 3500.0 and took_s <= 5.0

    # scope L1 at 0 W on top: L1 boards off (their off draw only), the total still <= 1500
    rig.outbox.put_nowait(
        ComputeLimit(source="thermal", scope="L1", power_limit_w=0.0, reason="leak L1")
    )

    async def l1_off() -> bool:
        backplane = await rig.backplane()
        return all(backplane.slots[s].power_state == "off" for s in L1)

    await rig.until(l1_off, 5)
    backplane = await rig.backplane()
    assert sum(backplane.slots[s].power_w for s in L1) <= sum(OFF_W.values()) + 8.0
    assert await rig.power_w() <= 1500.0
    await rig.event(EventId.COMPUTE_LIMITED, "thermal limits L1 to 0 W (leak L1)")
    # the executions lost on powered-off boards are re-queued, not failed
    jobs = await rig.ground.list_jobs(timeout=30)
    assert sum(j.retries for j in jobs) >= 3, jobs
    assert all(j.state != dic.JobState.FAILED for j in jobs), jobs
    # never a board of L1 on, never over 1500 W, for 30 mission s
    for _ in range(30):
        backplane = await rig.backplane()
        assert all(backplane.slots[s].power_state == "off" for s in L1), backplane
        assert await rig.power_w() <= 1500.0
        await rig.sat.clock.sleep(1.0)

    # a board TC on a board kept off by a limit: 1,8 BOARD_LIMITED_OUT with the reason
    result = await rig.board_tc(11, dic.pack_slot(1))
    assert result.stages == [1, 3, 8] and result.error_code == ErrorCode.BOARD_LIMITED_OUT
    await rig.event(EventId.BOARD_COMMAND_REFUSED, "thermal/L1 0 W")

    # lifted: back above the old limit, every board up again
    rig.outbox.put_nowait(ComputeLimit(source="thermal", scope="L1", power_limit_w=None, reason=""))
    rig.outbox.put_nowait(ComputeLimit(source="power", power_limit_w=None, reason="sunlight"))
    await rig.event(EventId.COMPUTE_LIMIT_LIFTED, "power lifts its limit on all (sunlight)")

    async def back() -> bool:
        backplane = await rig.backplane()
        up = all(backplane.slots[s].power_state in ("idle", "busy") for s in L1 + L2)
        return up and await rig.power_w() > 1500.0

    await rig.until(back, 180, step_s=2)
    await rig.ground.wait_for(
        lambda tm: tm.sid == 3 and tm.parameters["payload.boards_off_by_limit"] == 0, 10
    )


async def test_safe_mode_admits_no_job_and_board_telecommands_work(rig: Rig) -> None:
    await rig.until(lambda: _all_idle(rig), 300, step_s=5)
    suspended = rig.ground.expect(lambda tm: tm.event_id == EventId.JOBS_SUSPENDED)
    since = rig.sat.clock.now_ns()
    rig.outbox.put_nowait(
        ModeChanged(mode=Mode.SAFE, previous=Mode.NOMINAL, reason="test", since_ns=since)
    )
    assert "mode SAFE" in ((await rig.sat.clock.wait_for(suspended, 10)).message or "")
    with pytest.raises(CommandFailed) as info:
        await rig.ground.submit_job("matmul", 64, 1, job_id=50)
    result = info.value.result
    assert result.stages == [1, 3, 8], result.describe()
    assert result.error_code == ErrorCode.MODE_FORBIDS_JOBS, result.describe()
    rig.outbox.put_nowait(
        ModeChanged(mode=Mode.NOMINAL, previous=Mode.SAFE, reason="test", since_ns=since)
    )
    await rig.event(EventId.JOBS_SUSPENDED, "mode NOMINAL")
    job_id = await rig.ground.submit_job("matmul", 64, 1, job_id=51)
    report = await rig.ground.wait_job(job_id, timeout=60)
    assert report.state == dic.JobState.COMPLETED and rig.ground.verify(report), report

    # 140,10 off / 140,11 on / 140,8 power cycle / 140,9 reset, seen on the device port
    assert (await rig.board_tc(10, dic.pack_slot(5))).stages == [1, 3, 7]
    backplane = await rig.backplane()
    assert backplane.slots["005"].power_state == "off"
    await rig.sat.clock.sleep(10)
    assert (await rig.backplane()).slots["005"].power_state == "off", "stays off"
    assert (await rig.board_tc(11, dic.pack_slot(5))).stages == [1, 3, 7]
    assert (await rig.backplane()).slots["005"].power_state == "booting"
    boots = (await rig.port.read_model("slot.006", _boot_count())).boot_count
    assert (await rig.board_tc(8, dic.pack_slot(6))).stages == [1, 3, 7]
    assert (await rig.port.read_model("slot.006", _boot_count())).boot_count == boots + 1
    assert (await rig.board_tc(9, dic.pack_slot(4))).stages == [1, 3, 7]
    assert (await rig.backplane()).slots["004"].power_state == "booting"
    for name in ("power_off", "power_on", "power_cycle", "reset"):
        await rig.event(EventId.BOARD_COMMANDED, name)
    # refusals: an unknown slot (1,8), bad data (1,2 at acceptance)
    result = await rig.board_tc(8, dic.pack_slot(99))
    assert result.stages == [1, 3, 8] and result.error_code == ErrorCode.UNKNOWN_SLOT
    await rig.event(EventId.BOARD_COMMAND_REFUSED, "no board in slot 99")
    result = await rig.board_tc(9, b"\x00")
    assert result.stages == [2] and result.error_code == ErrorCode.INVALID_APP_DATA
    assert (await rig.ground.ping()).ok


def _boot_count():
    from icd.devices import BoardSlotRegisters

    return BoardSlotRegisters


@pytest.fixture
async def upset_rig(tmp_path: Path) -> AsyncIterator[tuple[Rig, DevicePort]]:
    """The six-board satellite with a radiation upset rate (1 a year per board: a burst's
    multiplier makes it seconds), and the simulation-control port to inject faults."""
    path = write_payload_config(tmp_path)
    path.write_text(
        path.read_text().replace("seu_rate_per_year = 0.0", "seu_rate_per_year = 1.0"), "utf-8"
    )
    async with (
        in_process_satellite(hwsim_config=path) as sat,
        Ground("127.0.0.1", sat.udp_port, clock=sat.clock) as ground,
    ):
        await ground.ping()
        port = DevicePort(sat.context, sat.device_endpoint, sat.clock, timeout_s=10.0)
        simctl = DevicePort(sat.context, sat.simctl_endpoint, sat.clock, timeout_s=10.0)
        async with port, simctl:
            yield Rig(sat, ground, port, asyncio.Queue()), simctl


async def _inject(simctl: DevicePort, fault: str, target: str, **params: object) -> None:
    from icd.device import SimOp

    args = {"fault_id": fault, "target": target, "params": params}
    await simctl.request(SimOp.INJECT_FAULT, args=args)


async def _clear(simctl: DevicePort, fault: str, target: str) -> None:
    from icd.device import SimOp

    await simctl.request(SimOp.CLEAR_FAULT, args={"fault_id": fault, "target": target})


async def test_each_board_fault_of_the_catalogue_raises_its_own_event_and_recovers(
    upset_rig: tuple[Rig, DevicePort],
) -> None:
    rig, simctl = upset_rig
    await until_nominal(rig.ground)
    await rig.until(lambda: _all_idle(rig), 300, step_s=5)
    for job_id in range(1, 7):  # every board busy
        await rig.ground.submit_job("matmul", 1024, job_id, 1_000_000, job_id=job_id)
    await rig.until(lambda: _busy(rig, L1 + L2), 30)

    # board_latchup -> BOARD_LATCHUP, power cycled, back up
    await _inject(simctl, "board_latchup", "slot.001")
    await rig.event(EventId.BOARD_LATCHUP, "slot.001", 10)
    await rig.event(EventId.BOARD_POWER_CYCLED, "slot.001 power cycled: latch-up", 10)
    # board_upset (hang) -> BOARD_HUNG after the 10 s watchdog; memory_ce -> BOARD_UPSET
    await _inject(simctl, "board_upset", "slot.002", kind="hang")
    await rig.event(EventId.BOARD_HUNG, "slot.002", 30)
    await _inject(simctl, "board_upset", "slot.005", kind="memory_ce")
    await rig.event(EventId.BOARD_UPSET, "slot.005: memory error", 10)
    # seu_burst -> SEU_BURST (memory errors past the burst threshold within the window)
    await _inject(simctl, "seu_burst", "slot.006", rate_multiplier=3e6)
    await rig.event(EventId.SEU_BURST, "slot.006", 300)
    await _clear(simctl, "seu_burst", "slot.006")

    # every job still completes (executions lost to the faults run again), boards back up
    for job_id in range(1, 7):
        report = await rig.ground.wait_job(job_id, timeout=3000)
        assert report.state == dic.JobState.COMPLETED and rig.ground.verify(report), report

    async def up() -> bool:
        backplane = await rig.backplane()
        return all(backplane.slots[s].power_state != "fault" for s in ("001", "002"))

    await rig.until(up, 120, step_s=2)

    # board_overtemp (a fouled plate) under a long job (matmul 2048: ~380 s on a GPU) ->
    # BOARD_OVERTEMP as it throttles itself; cleared, it cools, the job completes
    await rig.ground.submit_job("matmul", 2048, 7, 1_000_000, job_id=7)
    placed: list[int] = []

    async def running() -> bool:
        jobs = await rig.ground.list_jobs(timeout=30)
        placed[:] = next(j.slots for j in jobs if j.job_id == 7)
        return len(placed) == 1

    await rig.until(running, 10)
    slot = placed[0]
    await _inject(simctl, "board_overtemp", f"slot.{slot:03d}", resistance_factor=60.0)
    await rig.event(EventId.BOARD_OVERTEMP, f"slot.{slot:03d}", 300)
    await _clear(simctl, "board_overtemp", f"slot.{slot:03d}")
    report = await rig.ground.wait_job(7, timeout=3000)
    assert report.state == dic.JobState.COMPLETED and rig.ground.verify(report), report


async def _busy(rig: Rig, slots: tuple[str, ...]) -> bool:
    backplane = await rig.backplane()
    return all(backplane.slots[s].power_state == "busy" for s in slots)
