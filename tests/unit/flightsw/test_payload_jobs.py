"""Jobs and the payload manager: results reach it when a job ends (not once per control
period), and a job beyond every board's limits is refused at acceptance, naming the limit.

The first tests run the real model, ports handler, job executor and payload manager in one
event loop on a stepped clock (no sockets: deterministic, mission time only); the last one
drives an in-process satellite through the RF link from a ground station.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from computesat_sdk import kernels
from computesat_sdk.contract import JobLimits

from flightsw.services.payload import Config, PayloadManager
from hwsim.app import physics_loop
from hwsim.boards.executor import ResultWatch, SlotExecutor
from hwsim.config import load_config
from hwsim.ports import PortServer, device_handler
from hwsim.spacecraft import Spacecraft
from icd import dictionary as dic
from icd.device import DeviceReply, DeviceRequest
from icd.dictionary import EventId, JobState, SubmitJob
from icd.errors import ErrorCode
from runtime.clock import SteppedClock
from runtime.ports import DevicePort, DevicePortError
from tests._inprocess import in_process_satellite
from tests._payload_sat import write_payload_config

_NS = 1_000_000_000
START_NS = 1_000 * _NS


class DirectPort(DevicePort):
    """The real DevicePort client with its transport replaced by hwsim's port server, in the
    same loop (long polls included)."""

    def __init__(self, handler: Any, clock: SteppedClock) -> None:
        super().__init__(None, "inproc://payload-jobs-test", clock, timeout_s=60.0)  # type: ignore[arg-type]
        self._server = PortServer(None, self.endpoint, clock, handler, "test")  # type: ignore[arg-type]

    async def _exchange(self, request: DeviceRequest) -> DeviceReply:
        answer = self._server.answer(request.pack())
        if not isinstance(answer, DeviceReply):
            answer = await self._server.settle(answer)
        return DeviceReply.unpack(answer.pack())


class Outputs:
    def __init__(self, clock: SteppedClock, devices: DirectPort) -> None:
        self.clock = clock
        self.devices = devices
        self.events: list[tuple[int, str]] = []
        self.reports: list[tuple[int, dic.JobReport]] = []  # (mission ns sent, report)

    def event(self, event_id: int, message: str) -> None:
        self.events.append((int(event_id), message))

    def parameter_map(self, values: dict[str, float]) -> None:
        pass

    def tm(self, apid, service, subservice, data=b"", reply_to=None) -> None:
        if (service, subservice) == (140, 5):
            self.reports.append((self.clock.now_ns(), dic.JobReport.unpack(data)))

    def progress(self, request_id, apid, stage, error_code=0) -> None:
        pass


async def _job_delay_s(tmp_path: Path, long_poll: bool) -> tuple[float, dic.JobReport]:
    """Submit one job to a booted payload; mission seconds from the board's end of the job
    to the manager's TM(140,5), with a 10 s control period."""
    clock = SteppedClock(start_ns=START_NS)
    model = Spacecraft(
        load_config(write_payload_config(tmp_path)), seed=3, mission_time_origin_s=START_NS / _NS
    )
    plugins = model.plugin_slots
    assert plugins is not None
    executor = SlotExecutor(workers=1, processes=False, wait_at_end=True)
    watch = ResultWatch(clock, plugins.gather, model.read)
    plugins.attach_executor(executor, watch.notify)
    port = DirectPort(device_handler(model, clock, watch.wait), clock)
    out = Outputs(clock, port)
    period_s = 10.0
    manager = PayloadManager(
        out,
        Config(period_s=period_s, stagger_s=0.0, results_poll_s=30.0 if long_poll else 0.0),
    )

    async def control() -> None:
        while True:
            await manager.cycle()
            await clock.sleep(period_s)

    try:
        async with asyncio.TaskGroup() as tasks:
            running = [
                tasks.create_task(physics_loop(model, clock, 1.0, 1000, START_NS)),
                tasks.create_task(control()),
            ]
            if long_poll:
                running.append(tasks.create_task(manager.watch_results(port)))
            for _ in range(100):  # boot and self-test: a few control periods
                boards = manager.boards.values()
                if len(boards) == 6 and all(
                    b.state == "idle" and b.tested_boot >= 0 and b.identified for b in boards
                ):
                    break
                await clock.sleep(period_s)
            else:
                raise AssertionError(
                    "boards not up in 1000 mission s: "
                    + str([(b.state, b.tested_boot, b.identified) for b in boards])
                    + str(out.events[-5:])
                )
            # Land the submission mid-period, as a TC would.
            await clock.sleep(3.0)
            request = SubmitJob(41, "matmul", 96, 5, 1, 1, 0)
            assert manager.submit(request) is None
            await manager.cycle()  # what the TC's wake-up does
            for _ in range(400):
                if out.reports:
                    break
                await clock.sleep(0.1)
            for task in running:
                task.cancel()
    except* asyncio.CancelledError:
        pass
    finally:
        executor.close()
    ((sent_ns, report),) = out.reports
    assert report.state == JobState.COMPLETED, report
    assert kernels.verify(request.spec(), report.digest), "digest of the delivered result"
    return sent_ns / _NS - report.end_s, report


async def test_a_result_reaches_the_manager_when_the_job_ends(tmp_path: Path) -> None:
    delay_s, _ = await _job_delay_s(tmp_path, long_poll=True)
    # The board's end is found at the next physics step (1 s); the long poll answers then.
    assert 0.0 <= delay_s <= 1.0 + 1e-6, (
        f"expected the TM(140,5) within one physics step of the job's end, came {delay_s} s later"
    )


async def test_without_the_long_poll_a_result_waits_for_the_next_period(tmp_path: Path) -> None:
    # The contrast that shows the test above measures something: the same job collected
    # only by the 10 s control cycle.
    delay_s, _ = await _job_delay_s(tmp_path, long_poll=False)
    assert delay_s >= 5.0, f"periodic collection came {delay_s} s after the job's end"


# ----------------------------------------------------------------- acceptance, through the link


def _npu_only_config(directory: Path) -> Path:
    return write_payload_config(directory, {1: "ref-npu", 2: "ref-npu"})


async def _both_boards_idle(ground: Any) -> None:
    """Wait (on HK, mission time) until the satellite's two boards are up and idle."""
    for _ in range(120):
        boards = await ground.list_boards(timeout=30)
        if len(boards) == 2 and all(b.state == dic.BoardState.IDLE for b in boards):
            return
        await ground.wait_for(lambda tm: tm.sid == 3, timeout=30)
    raise AssertionError(f"boards not up: {boards}")


async def test_a_job_beyond_every_board_is_refused_at_acceptance_naming_the_limit(
    tmp_path: Path,
) -> None:
    from ground.station import CommandFailed, Ground

    async with (
        in_process_satellite(hwsim_config=_npu_only_config(tmp_path)) as sat,
        Ground("127.0.0.1", sat.udp_port, clock=sat.clock) as ground,
    ):
        await _both_boards_idle(ground)
        # Both NPUs have 256 MiB: matmul stops at n = 3344 (3 n² float64), below the
        # protocol's 4096, and they run no fft at all.
        cases = [
            ("matmul", 4000, 1, "matmul n=4000 exceeds board limit 3344"),
            ("fft", 1024, 1, "kernel fft not supported"),
            ("matmul", 64, 2, None),  # within limits, redundancy 2 on two boards
        ]
        for kernel, size, redundancy, reason in cases:
            if reason is None:
                job_id = await ground.submit_job(kernel, size, 3, redundancy=redundancy)
                report = await ground.wait_job(job_id, timeout=120)
                assert report.state == JobState.COMPLETED and ground.verify(report), report
                continue
            # The event may come before the 1,2: expected before the TC goes.
            refused = ground.expect(
                lambda tm, why=reason: (
                    tm.event_id == EventId.JOB_REFUSED and why in (tm.message or "")
                )
            )
            with pytest.raises(CommandFailed) as info:
                await ground.submit_job(kernel, size, 3, redundancy=redundancy)
            result = info.value.result
            assert result.stages == [2], f"expected only 1,2 (acceptance), got {result.stages}"
            assert result.error_code == ErrorCode.INVALID_APP_DATA, result.describe()
            event = await ground.clock.wait_for(refused, 30)
            assert event.message, event
        # Refusals stop nothing: the satellite still answers and the boards are still up.
        await ground.ping(apid=dic.Apid.PAYLOAD, timeout=30)
        boards = await ground.list_boards(timeout=30)
        assert [b.state for b in boards] == [dic.BoardState.IDLE] * 2, boards


def _limits(board: type) -> JobLimits:
    """A board class's job limits, as BaseBoard.job_limits gives them."""
    return board.LIMITS or JobLimits.from_capabilities(board.CAPABILITIES)


async def test_a_job_of_more_iterations_than_any_board_allows_is_refused_at_acceptance(
    tmp_path: Path,
) -> None:
    """The reference boards' iteration limit is reachable (below the TC's u32): a matmul 4096
    of 4 294 967 295 iterations (years of board time) is refused at acceptance, naming it."""
    from ground.station import CommandFailed, Ground
    from hwsim.boards.reference import RefCpuBoard, RefGpuBoard

    limit = max(_limits(RefGpuBoard).max_iterations, _limits(RefCpuBoard).max_iterations)
    assert limit < 2**32 - 1, f"the iteration limit {limit} is beyond the TC's u32"
    config = write_payload_config(tmp_path, {1: "ref-gpu", 2: "ref-cpu"})
    async with (
        in_process_satellite(hwsim_config=config) as sat,
        Ground("127.0.0.1", sat.udp_port, clock=sat.clock) as ground,
    ):
        await _both_boards_idle(ground)
        why = f"matmul iterations=4294967295 exceeds board limit {limit}"
        refused = ground.expect(
            lambda tm: tm.event_id == EventId.JOB_REFUSED and why in (tm.message or "")
        )
        with pytest.raises(CommandFailed) as info:
            await ground.submit_job("matmul", 4096, 3, iterations=2**32 - 1)
        result = info.value.result
        assert result.stages == [2], f"expected only 1,2 (acceptance), got {result.stages}"
        assert result.error_code == ErrorCode.INVALID_APP_DATA, result.describe()
        event = await ground.clock.wait_for(refused, 30)
        assert why in (event.message or ""), event.message


def test_the_reference_iteration_limit_is_a_day_of_the_costliest_job() -> None:
    from hwsim.boards.reference import RefCpuBoard, RefGpuBoard, RefNpuBoard

    for board in (RefGpuBoard, RefNpuBoard, RefCpuBoard):
        limits = _limits(board)
        rates = board.CAPABILITIES.kernel_flops_per_s
        longest_s = {
            k: kernels.KERNELS[k].flops(n) * limits.max_iterations / rates[k]
            for k, n in limits.max_size.items()
        }
        one_more_s = {
            k: s * (limits.max_iterations + 1) / limits.max_iterations for k, s in longest_s.items()
        }
        assert max(longest_s.values()) <= 86_400.0 < max(one_more_s.values()), (
            f"{board.__name__}: {limits.max_iterations} iterations at the largest sizes take "
            f"{longest_s} s; expected the costliest within a day and one more beyond it"
        )


def test_a_bad_size_names_the_rule_and_the_size_once() -> None:
    from icd.errors import DecodeError

    data = dic.SubmitJob(1, "matmul", 4097, 1).pack()
    with pytest.raises(DecodeError) as bad:
        dic.SubmitJob.unpack(data)
    text = str(bad.value)
    assert text.count("got") == 1 and "1..4096" in text and "4097" in text, text


async def test_without_the_long_poll_in_hwsim_the_manager_says_so_and_keeps_its_period() -> None:
    class OldHardware:
        calls = 0

        async def command_model(
            self, device: str, command: str, args: dict | None, expected: type
        ) -> Any:
            self.calls += 1
            raise DevicePortError(device, "unknown_command", f"{device} has no command {command}")

    clock = SteppedClock(start_ns=START_NS)
    hardware = OldHardware()
    out = Outputs(clock, hardware)  # type: ignore[arg-type]
    manager = PayloadManager(out, Config())
    await manager.watch_results(hardware)  # returns: no spin, no retry loop
    assert hardware.calls == 1, hardware.calls
    assert [e for e, _ in out.events] == [EventId.DEVICE_ERROR], out.events
    assert "collecting per period" in out.events[0][1], out.events
