"""Board jobs off hwsim's event loop: the executor seam in BaseBoard, the slot layer's worker
pool, and the serving process answering ports while a heavy job computes."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from concurrent.futures import Future
from pathlib import Path

import pytest
import zmq.asyncio
from computesat_sdk import kernels
from computesat_sdk.base import BaseBoard, ComputedJob
from computesat_sdk.contract import JobSpec, JobStatus, PowerState

from hwsim.app import HwsimSettings, serve
from hwsim.boards import RefGpuBoard
from hwsim.boards.executor import (
    BlasThreadTuner,
    SlotExecutor,
    _compute_in_worker,
    blas_threads_here,
)
from runtime.clock import WallClock
from runtime.ports import DevicePort, DevicePortError
from tests._payload_sat import write_payload_config

PLATE_K = 300.0


class HeldExecutor:
    """A JobExecutor whose futures the test completes by hand: deterministic "late" workers."""

    wait_at_end = False

    def __init__(self) -> None:
        self.calls: list[tuple[JobSpec, bool, Future[ComputedJob]]] = []

    def submit(self, board: BaseBoard, job: JobSpec, corrupt: bool) -> Future[ComputedJob]:
        future: Future[ComputedJob] = Future()
        self.calls.append((job, corrupt, future))
        return future

    def finish(self, index: int, board: BaseBoard) -> None:
        job, corrupt, future = self.calls[index]
        future.set_result(board.compute(job, corrupt))


def _up(board: BaseBoard) -> BaseBoard:
    board.power_on()
    board.step(board.thermal_model().boot_time_s + 1.0, PLATE_K)
    assert board.state is PowerState.IDLE, board.state
    return board


def _job(job_id: str, size: int = 32, seed: int = 3) -> JobSpec:
    return JobSpec(job_id=job_id, kernel="matmul", size=size, seed=seed)


def test_a_late_worker_delivers_after_the_modelled_end_in_order() -> None:
    board = _up(RefGpuBoard("slot.001"))
    executor = HeldExecutor()
    notified: list[int] = []
    board.attach_executor(executor, lambda: notified.append(1))
    board.submit(_job("1", seed=1))
    board.submit(_job("2", seed=2))
    assert [c[0].job_id for c in executor.calls] == ["1"], "work is handed out when a job starts"
    board.step(1.0, PLATE_K)  # both jobs are microseconds of board time
    health = board.health()
    assert health.power_state is PowerState.IDLE and health.results_pending == 2, health
    assert board.take_results() == [], "no result before its worker is done"
    executor.finish(1, board)
    assert board.take_results() == [], "job 2 is ready but waits behind job 1 (oldest first)"
    executor.finish(0, board)
    assert notified, "the board tells the host when a worker is done"
    results = board.take_results()
    assert [(r.job_id, r.status) for r in results] == [
        ("1", JobStatus.COMPLETED),
        ("2", JobStatus.COMPLETED),
    ], results
    for result in results:
        assert kernels.verify(_job(result.job_id, seed=int(result.job_id)), result.digest or "")
        assert result.end_mission_time_s < board.health().mission_time_s, (
            "the end is the modelled one, not the delivery time"
        )
    assert board.health().results_pending == 0 and board.health().jobs_completed == 2


def test_a_bit_flip_after_the_work_was_handed_out_is_computed_again_corrupted() -> None:
    from computesat_sdk.contract import UpsetKind

    board = _up(RefGpuBoard("slot.001"))
    executor = HeldExecutor()
    board.attach_executor(executor)
    # matmul 128 x 15 625 000: ~1.5 s on the GPU, long enough to be hit, ends in the step
    job = _job("1", size=128).model_copy(update={"iterations": 15_625_000})
    board.submit(job)
    board.inject_upset(UpsetKind.BIT_FLIP_RESULT)
    board.step(10.0, PLATE_K)
    assert [corrupt for _, corrupt, _ in executor.calls] == [False, True], executor.calls
    executor.finish(1, board)
    (result,) = board.take_results()
    assert result.status is JobStatus.COMPLETED and not kernels.verify(job, result.digest or "")


@pytest.mark.parametrize("processes", [False, True], ids=["threads", "processes"])
def test_waiting_executor_gives_exactly_the_synchronous_results(processes: bool) -> None:
    def run(executor: SlotExecutor | None) -> list[tuple[str, str | None, float]]:
        board = _up(RefGpuBoard("slot.001"))
        board.attach_executor(executor)
        for i in range(3):
            board.submit(_job(str(i), size=48, seed=i))
        out = []
        for _ in range(5):
            board.step(0.5, PLATE_K)
            out += [(r.job_id, r.digest, r.end_mission_time_s) for r in board.take_results()]
        return out

    executor = SlotExecutor(workers=2, processes=processes, wait_at_end=True)
    try:
        assert run(executor) == run(None)
        assert executor.submitted == 3, executor.submitted
    finally:
        executor.close()


# ------------------------------------------------------------------ the serving process


@contextlib.asynccontextmanager
async def _hwsim(tmp_path: Path, speed: float) -> AsyncIterator[tuple[str, str]]:
    stop = asyncio.Event()
    ready: asyncio.Future[tuple[str, str, int]] = asyncio.get_running_loop().create_future()
    settings = HwsimSettings(
        config=write_payload_config(tmp_path),
        device_endpoint="tcp://127.0.0.1:0",
        simctl_endpoint="tcp://127.0.0.1:0",
        clock="accelerated",
        speed=speed,
        job_workers=1,
    )
    task = asyncio.create_task(serve(settings, stop, ready))
    try:
        done, _ = await asyncio.wait((ready, task), return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
        device_endpoint, simctl_endpoint, _ = ready.result()
        yield device_endpoint, simctl_endpoint
    finally:
        stop.set()
        await task


async def _until_up(port: DevicePort, clock: WallClock, device: str) -> None:
    for _ in range(600):
        if (await port.read(device))["power_state"] == "idle":
            return
        await clock.sleep(1.0)
    raise AssertionError(f"{device} did not boot in 600 mission s")


async def test_a_heavy_job_does_not_hold_up_device_or_simctl_replies(tmp_path: Path) -> None:
    speed = 50.0
    clock = WallClock(speed)
    context = zmq.asyncio.Context()
    try:
        async with (
            _hwsim(tmp_path, speed) as (device_endpoint, simctl_endpoint),
            DevicePort(context, device_endpoint, clock, timeout_s=60.0) as devices,
            DevicePort(context, simctl_endpoint, clock, timeout_s=60.0) as simctl,
            devices.sibling(timeout_s=600.0) as poller,
        ):
            await _until_up(devices, clock, "slot.001")
            # ~17 GFLOP for the host (about a second here); 0.4 ms of the GPU's model.
            args = {"job_id": 7, "kernel": "matmul", "size": 2048, "seed": 5, "iterations": 3}
            assert (await devices.command("slot.001", "submit_job", args))["accepted"]
            registers = await devices.read("slot.001")
            while registers["results_pending"] == 0:
                assert registers["jobs_running"] == 1, registers
                registers = await devices.read("slot.001")
            # The job is over in mission time and its result is still being computed: the
            # ports answer meanwhile (inline, these replies would wait for the result).
            for _ in range(3):
                reply = await simctl.request("time")
                assert reply["mission_time_ns"] > 0, reply
                assert (await devices.read("battery"))["soc"] > 0
            still = await devices.read("slot.001")
            assert still["results_pending"] == 1, (
                f"replies were expected before the job's result; slot registers now {still}"
            )
            for _ in range(100):  # each poll waits at most 60 mission s
                answer = await poller.command("backplane", "await_results", {"timeout_s": 60.0})
                if answer["slots"]:
                    break
            assert list(answer["slots"]) == ["slot.001"], answer
            assert answer["slots"]["slot.001"]["results_pending"] == 0, answer
            (result,) = (await devices.command("slot.001", "take_results"))["results"]
            assert result["status"] == "completed" and result["job_id"] == "7", result
            assert (
                result["digest"]
                == kernels.run_reference(
                    JobSpec(job_id="7", kernel="matmul", size=2048, seed=5)
                ).digest
            )
    finally:
        context.destroy(linger=0)


async def test_await_results_times_out_empty_and_refuses_bad_arguments(tmp_path: Path) -> None:
    speed = 50.0
    clock = WallClock(speed)
    context = zmq.asyncio.Context()
    try:
        async with (
            _hwsim(tmp_path, speed) as (device_endpoint, _),
            DevicePort(context, device_endpoint, clock, timeout_s=60.0) as devices,
        ):
            assert await devices.command("backplane", "await_results", {"timeout_s": 2.0}) == {
                "slots": {}
            }
            with pytest.raises(DevicePortError) as info:
                await devices.command("backplane", "await_results", {"timeout_s": "soon"})
            assert info.value.code == "bad_argument" and "timeout_s" in str(info.value)
            with pytest.raises(DevicePortError) as info:
                await devices.command("backplane", "await_results", {"wait": 1})
            assert info.value.code == "bad_argument" and "wait" in str(info.value)
            assert (await devices.read("battery"))["soc"] > 0, "the port keeps serving"
    finally:
        context.destroy(linger=0)


def test_a_dead_worker_fails_at_most_its_job_and_the_next_jobs_run() -> None:
    executor = SlotExecutor(workers=1, processes=True, wait_at_end=True)
    try:
        executor.warm()
        board = _up(RefGpuBoard("slot.001"))
        board.attach_executor(executor)
        for process in list(executor._process_pool()._processes.values()):
            process.kill()  # as the OOM killer would
            process.join()
        board.submit(_job("1", seed=1))
        board.step(1.0, PLATE_K)  # waits for the worker: a dead pool fails the future
        board.submit(_job("2", seed=2))
        board.step(1.0, PLATE_K)
        first, second = board.take_results()
        assert first.status is JobStatus.COMPLETED or "BrokenProcessPool" in (first.error or ""), (
            first
        )
        assert second.status is JobStatus.COMPLETED, second
        assert kernels.verify(_job("2", seed=2), second.digest or "")
        assert board.state is PowerState.IDLE, "the board itself is unharmed"
    finally:
        executor.close()


async def test_hwsim_started_from_a_snapshot_has_its_pool_and_announces_the_saved_result(
    tmp_path: Path,
) -> None:
    """``hwsim serve --restore`` of a snapshot taken while a worker process computed a job's
    result: the saved result is announced to ``backplane.await_results`` and verifies, and
    the restored board runs the next job and announces it too (the long poll and the job
    listeners are wired to the restored model, not to the one built before it)."""
    from hwsim.boards.slots import default_registry
    from hwsim.config import load_config
    from hwsim.snapshot import write_snapshot
    from hwsim.spacecraft import Spacecraft

    config_path = write_payload_config(tmp_path, {1: "ref-gpu"})
    model = Spacecraft(load_config(config_path), seed=2, registry=default_registry())
    assert model.plugin_slots is not None
    executor = SlotExecutor(workers=1, processes=True)
    try:
        model.plugin_slots.attach_executor(executor)
        model.run(70.0, 1.0)
        # ~1.1 GFLOP for the host; 0.2 s of the GPU's model: over before the snapshot.
        iterations = int(45e12 * 0.2 / (2 * 800**3))
        args = {"job_id": 5, "kernel": "matmul", "size": 800, "seed": 8, "iterations": iterations}
        assert model.command("slot.001", "submit_job", args) == {"accepted": True}
        model.run(3.0, 1.0)
        registers = model.read("slot.001")
        assert registers["jobs_running"] == 0 and registers["jobs_queued"] == 0, registers
        write_snapshot(model, tmp_path / "saved.snap", config_name=config_path.name)
    finally:
        executor.close()

    speed = 50.0
    clock = WallClock(speed)
    context = zmq.asyncio.Context()
    stop = asyncio.Event()
    ready: asyncio.Future[tuple[str, str, int]] = asyncio.get_running_loop().create_future()
    settings = HwsimSettings(
        config=config_path,
        device_endpoint="tcp://127.0.0.1:0",
        simctl_endpoint="tcp://127.0.0.1:0",
        clock="accelerated",
        speed=speed,
        job_workers=1,
        restore=str(tmp_path / "saved.snap"),
    )
    task = asyncio.create_task(serve(settings, stop, ready))
    try:
        done, _ = await asyncio.wait((ready, task), return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
        device_endpoint, _, _ = ready.result()
        async with DevicePort(context, device_endpoint, clock, timeout_s=60.0) as devices:
            answer = await devices.command("backplane", "await_results", {"timeout_s": 30.0})
            assert list(answer["slots"]) == ["slot.001"], f"the saved result unannounced: {answer}"
            (result,) = (await devices.command("slot.001", "take_results"))["results"]
            spec = JobSpec(job_id="5", kernel="matmul", size=800, seed=8, iterations=iterations)
            assert result["status"] == "completed" and kernels.verify(spec, result["digest"]), (
                result
            )
            # The restored boards compute new jobs in the serving process's pool.
            args["job_id"] = 6
            assert (await devices.command("slot.001", "submit_job", args))["accepted"]
            for _ in range(10):
                answer = await devices.command("backplane", "await_results", {"timeout_s": 30.0})
                if answer["slots"]:
                    break
            (result,) = (await devices.command("slot.001", "take_results"))["results"]
            assert result["job_id"] == "6" and result["status"] == "completed", result
    finally:
        stop.set()
        await task
        context.destroy(linger=0)


def test_worker_processes_share_out_the_cores_as_blas_threads() -> None:
    # Two workers with a BLAS pool of a thread per core each oversubscribe the host (their
    # spinning threads slowed a 768 matmul ~8x on 2 cores): each gets its share instead.
    cores = os.cpu_count() or 1
    assert SlotExecutor(workers=1).blas_threads == cores, "one worker: every core"
    shared = SlotExecutor(workers=2 * cores).blas_threads
    assert shared == 1, f"more workers than cores: one thread each, got {shared}"
    executor = SlotExecutor(workers=1, processes=True, wait_at_end=True, blas_threads=1)
    try:
        threads = executor._process_pool().submit(blas_threads_here).result()
        assert threads == 1, f"worker BLAS threads: expected 1, got {threads}"
        # And the limit does not cost results: the job computes what the SDK computes.
        board = _up(RefGpuBoard("slot.001"))
        board.attach_executor(executor)
        job = _job("1", size=64, seed=5)
        board.submit(job)
        board.step(1.0, PLATE_K)  # stepped: waits for the worker at the modelled end
        (result,) = board.take_results()
        assert result.status is JobStatus.COMPLETED, result
        assert kernels.verify(job, result.digest or ""), "worker digest differs from the SDK's"
    finally:
        executor.close()


def test_jobs_side_by_side_share_the_cores_and_a_job_alone_runs_at_what_was_faster() -> None:
    # One thread a worker made a sequential job run at half numpy's direct speed on an idle
    # 2-core host; a thread per core in each of two workers oversubscribed it.
    cores = 4
    executor = SlotExecutor(workers=2)
    executor.cores = cores
    executor.tuner = BlasThreadTuner(cores, explore_every=4)
    big = 1e10
    # Nothing measured yet: each option is tried once. Every core measures 3x faster than
    # one thread here.
    measured = {1: [1e9], 4: [3e9]}
    tried = []
    for _ in range(2):
        threads, measure = executor.blas_threads_for_next_job(big)
        tried.append((threads, measure))
        executor.tuner.record(threads, measured[threads].pop())
    assert tried == [(4, True), (1, True)], tried
    assert executor.blas_threads_for_next_job(1e6) == (4, False), "a small job: cores, unmeasured"
    running: Future[ComputedJob] = Future()
    executor._track(running)
    assert executor.blas_threads_for_next_job(big) == (2, False), "beside one job: half each"
    running.set_result(None)  # type: ignore[arg-type]
    # Every core is chosen, and one thread re-tried now and then (every 4th choice).
    picks = [executor.blas_threads_for_next_job(big)[0] for _ in range(8)]
    assert picks.count(4) == 6 and picks.count(1) == 2, f"mostly every core: {picks}"
    # The host got busy: every core now measures slower than one thread; the tuner follows.
    for _ in range(5):
        executor.tuner.record(4, 0.5e9)
    assert executor.tuner.best() == 1, f"rates {dict(executor.tuner.rates)}"
    fixed = SlotExecutor(workers=2, blas_threads=1)
    assert fixed.blas_threads_for_next_job(big) == (0, False), "an explicit limit stays"


def test_the_worker_runs_the_job_at_the_threads_it_was_given() -> None:
    executor = SlotExecutor(workers=1, processes=True, wait_at_end=True, blas_threads=1)
    try:
        pool = executor._process_pool()
        board_class = type(_up(RefGpuBoard("slot.001")))
        pool.submit(_compute_in_worker, board_class, _job("1", size=8, seed=1), False, 2).result()
        threads = pool.submit(blas_threads_here).result()
        assert threads == 2, f"worker BLAS threads after a job given 2: got {threads}"
    finally:
        executor.close()


class _StepRecorder:
    """A model that only records the steps it is given (mission seconds)."""

    def __init__(self) -> None:
        self.time_ns = 0
        self.steps: list[float] = []

    def step(self, dt_s: float) -> None:
        self.steps.append(dt_s)
        self.time_ns += round(dt_s * 1e9)


async def test_a_worker_finishing_between_steps_has_the_physics_stepped_to_the_present() -> None:
    # At x1 a job's modelled end was seen only at the next whole step: up to a second of wall
    # time added to every job. A wake (a worker finished) steps the model to now.
    from hwsim.app import physics_loop
    from runtime.clock import SteppedClock

    clock = SteppedClock(start_ns=0)
    model = _StepRecorder()
    wake = asyncio.Event()
    loop = asyncio.create_task(physics_loop(model, clock, 1.0, 1000, 0, None, wake))
    try:
        await clock.sleep(0.25)
        wake.set()  # a worker finished a quarter of a step after the last step
        await clock.sleep(1e-4)
        wake.set()  # 0.1 ms later: not worth a step of its own (under a thousandth of one)
        await clock.sleep(2.0)
    finally:
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
    assert model.steps[0] == pytest.approx(0.25), f"expected a 0.25 s step first: {model.steps}"
    assert model.steps[1:] == [1.0, 1.0], f"then whole steps from there: {model.steps}"
