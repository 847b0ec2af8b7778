"""The supervisor: ordered start on readiness, restarts within a budget, FAILED past it,
reverse stop that never restarts and reports every failure; signals."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

import pytest
from pydantic import BaseModel

from runtime.clock import SteppedClock
from runtime.service import (
    ServiceSpec,
    ServiceState,
    ServiceStopError,
    Supervisor,
    run_until_signalled,
)

# Stepped-clock tests finish in milliseconds; a clock that stops advancing would hang them.
pytestmark = pytest.mark.timeout(30)


class Empty(BaseModel):
    pass


class _Ctx:
    def __init__(self, name: str, ready: Any) -> None:
        self.name = name
        self.ready = ready


async def test_crashed_service_is_restarted_and_reported():
    clock = SteppedClock(start_ns=0)
    restarts: list[tuple[str, str, int]] = []
    attempts = 0

    async def flaky(ctx: _Ctx, config: Empty) -> None:
        nonlocal attempts
        attempts += 1
        ctx.ready()
        if attempts < 3:
            raise RuntimeError(f"boom {attempts}")
        await asyncio.Event().wait()

    async with Supervisor(clock, _Ctx, lambda *r: restarts.append(r)) as supervisor:
        await supervisor.start(ServiceSpec("flaky", flaky, Empty()))
        for _ in range(600):  # bounded in mission time: restarts come within seconds
            if attempts >= 3:
                break
            await clock.sleep(1)
        assert attempts == 3, f"expected 3 runs (2 restarts) within 600 mission s, got {attempts}"
        assert supervisor.restarts("flaky") == 2
    assert restarts == [("flaky", "RuntimeError: boom 1", 1), ("flaky", "RuntimeError: boom 2", 2)]


async def test_start_waits_for_ready_and_stop_runs_in_reverse_order():
    clock = SteppedClock(start_ns=0)
    log: list[str] = []

    def service(name: str):
        async def run(ctx: _Ctx, config: Empty) -> None:
            await clock.sleep(1)  # inputs take a while to open
            log.append(f"ready {name}")
            ctx.ready(name.upper())
            try:
                await asyncio.Event().wait()
            finally:
                log.append(f"stop {name}")

        return run

    async with Supervisor(clock, _Ctx) as supervisor:
        assert await supervisor.start(ServiceSpec("a", service("a"), Empty())) == "A"
        log.append("started a")
        await supervisor.start(ServiceSpec("b", service("b"), Empty()))
    assert log == ["ready a", "started a", "ready b", "stop b", "stop a"]


async def test_service_that_never_becomes_ready_fails_start():
    clock = SteppedClock(start_ns=0)

    async def mute(ctx: _Ctx, config: Empty) -> None:
        await asyncio.Event().wait()

    async with Supervisor(clock, _Ctx) as supervisor:
        with pytest.raises(RuntimeError, match="did not become ready"):
            await supervisor.start(ServiceSpec("mute", mute, Empty()), ready_timeout_s=0.05)


async def test_restarts_back_off_in_mission_time():
    clock = SteppedClock(start_ns=0)
    started_at_s: list[float] = []

    async def crashing(ctx: _Ctx, config: Empty) -> None:
        started_at_s.append(clock.now_s())
        ctx.ready()
        if len(started_at_s) <= 3:
            raise RuntimeError("boom")
        await asyncio.Event().wait()

    async with Supervisor(clock, _Ctx, backoff_s=(0.1, 0.5, 1.0)) as supervisor:
        await supervisor.start(ServiceSpec("crashing", crashing, Empty()))
        while len(started_at_s) < 4:
            await clock.sleep(0.05)
        assert supervisor.state("crashing") == ServiceState.RUNNING
    assert started_at_s == pytest.approx([0.0, 0.1, 0.6, 1.6]), (
        f"expected starts after back-offs 0.1, 0.5, 1.0 s, got {started_at_s}"
    )
    assert supervisor.state("crashing") == ServiceState.STOPPED


async def test_past_its_restart_budget_a_service_is_failed_and_stays_down():
    clock = SteppedClock(start_ns=0)
    restarts: list[tuple[str, str, int]] = []
    failed: list[tuple[str, str, int]] = []
    attempts = 0

    async def broken(ctx: _Ctx, config: Empty) -> None:
        nonlocal attempts
        attempts += 1
        ctx.ready()
        raise RuntimeError(f"boom {attempts}")

    async def healthy(ctx: _Ctx, config: Empty) -> None:
        ctx.ready()
        await asyncio.Event().wait()

    async with Supervisor(
        clock, _Ctx, lambda *r: restarts.append(r), lambda *f: failed.append(f)
    ) as supervisor:
        await supervisor.start(ServiceSpec("healthy", healthy, Empty()))
        await supervisor.start(ServiceSpec("broken", broken, Empty(), max_restarts=3, window_s=60))
        await clock.sleep(3600)  # an hour: no restart may happen past the budget
        assert attempts == 4, f"expected 1 start + 3 restarts, got {attempts} starts"
        assert [r[2] for r in restarts] == [1, 2, 3]
        assert failed == [("broken", "RuntimeError: boom 4", 3)], f"on_failed got {failed}"
        assert supervisor.state("broken") == ServiceState.FAILED
        assert supervisor.failed == ["broken"]
        assert supervisor.state("healthy") == ServiceState.RUNNING, "others keep running"
    assert supervisor.state("broken") == ServiceState.FAILED, "stopping does not hide FAILED"


async def test_the_budget_counts_only_restarts_within_the_window():
    clock = SteppedClock(start_ns=0)
    failed: list[tuple[str, str, int]] = []
    attempts = 0

    async def daily_crash(ctx: _Ctx, config: Empty) -> None:
        nonlocal attempts
        attempts += 1
        ctx.ready()
        await clock.sleep(100)  # crashes every 100 s: never two in a 60 s window
        raise RuntimeError("boom")

    spec = ServiceSpec("daily", daily_crash, Empty(), max_restarts=1, window_s=60)
    async with Supervisor(clock, _Ctx, on_failed=lambda *f: failed.append(f)) as supervisor:
        await supervisor.start(spec)
        while attempts < 6:
            await clock.sleep(10)
        assert failed == [], f"crashes 100 s apart must stay within 1 restart per 60 s: {failed}"
        assert supervisor.restarts("daily") == 5


async def test_a_service_that_is_not_restartable_fails_at_its_first_crash():
    clock = SteppedClock(start_ns=0)
    failed: list[tuple[str, str, int]] = []

    async def once(ctx: _Ctx, config: Empty) -> None:
        ctx.ready()
        raise ValueError("bad")

    async with Supervisor(clock, _Ctx, on_failed=lambda *f: failed.append(f)) as supervisor:
        await supervisor.start(ServiceSpec("once", once, Empty(), restart=False))
        await clock.sleep(10)
        assert failed == [("once", "ValueError: bad", 0)]
        assert supervisor.restarts("once") == 0


async def test_an_error_while_stopping_is_reported_not_restarted_and_the_rest_still_stop():
    clock = SteppedClock(start_ns=0)
    log: list[str] = []
    restarts: list[tuple[str, str, int]] = []
    starts: dict[str, int] = {}

    def service(name: str, fail_on_cancel: bool = False):
        async def run(ctx: _Ctx, config: Empty) -> None:
            starts[name] = starts.get(name, 0) + 1

            async def worker() -> None:
                try:
                    await asyncio.Event().wait()
                finally:
                    log.append(f"stop {name}")
                    if fail_on_cancel:
                        # What a cleanup that fails looks like through a TaskGroup: the
                        # cancellation comes back as an ExceptionGroup.
                        raise OSError(f"{name} cleanup failed")

            ctx.ready()
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(worker())

        return run

    supervisor = Supervisor(clock, _Ctx, lambda *r: restarts.append(r))
    with pytest.raises(ServiceStopError) as raised:
        async with supervisor:
            for name in ("a", "b", "c"):
                await supervisor.start(ServiceSpec(name, service(name, name == "b"), Empty()))
    assert log == ["stop c", "stop b", "stop a"], f"expected reverse order, got {log}"
    assert restarts == [] and starts == {"a": 1, "b": 1, "c": 1}, (
        f"nothing may restart while stopping: restarts {restarts}, starts {starts}"
    )
    failures = raised.value.exceptions
    assert [f.service for f in failures] == ["b"], f"expected b reported, got {failures}"
    assert "b cleanup failed" in str(failures[0]), str(failures[0])
    assert isinstance(failures[0].__cause__, ExceptionGroup)
    assert supervisor.states == {
        "a": ServiceState.STOPPED,
        "b": ServiceState.STOPPED,
        "c": ServiceState.STOPPED,
    }


async def test_a_service_that_ignores_cancellation_is_abandoned_and_the_rest_still_stop():
    clock = SteppedClock(start_ns=0)
    log: list[str] = []
    release = asyncio.Event()

    async def stubborn(ctx: _Ctx, config: Empty) -> None:
        ctx.ready()
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                log.append("stubborn swallowed a cancel")

    async def polite(ctx: _Ctx, config: Empty) -> None:
        ctx.ready()
        try:
            await asyncio.Event().wait()
        finally:
            log.append("stop polite")

    supervisor = Supervisor(clock, _Ctx)
    await supervisor.start(ServiceSpec("polite", polite, Empty()))
    await supervisor.start(ServiceSpec("stubborn", stubborn, Empty(), stop_grace_s=0.02))
    with pytest.raises(ServiceStopError) as raised:
        await supervisor.stop()
    assert log == ["stubborn swallowed a cancel", "stubborn swallowed a cancel", "stop polite"]
    (failure,) = raised.value.exceptions
    assert failure.service == "stubborn" and "abandoned" in str(failure), str(failure)
    assert supervisor.state("stubborn") == ServiceState.ABANDONED
    release.set()  # let the abandoned task end so the test leaves nothing behind
    await supervisor.wait()


async def test_a_service_that_swallows_one_cancellation_still_stops():
    clock = SteppedClock(start_ns=0)

    async def swallows_once(ctx: _Ctx, config: Empty) -> None:
        ctx.ready()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            pass  # what Python 3.11's asyncio.wait_for could do
        await asyncio.Event().wait()

    async with Supervisor(clock, _Ctx) as supervisor:
        await supervisor.start(ServiceSpec("swallows", swallows_once, Empty(), stop_grace_s=0.2))
    assert supervisor.state("swallows") == ServiceState.STOPPED


async def test_a_second_signal_during_shutdown_forces_the_exit():
    clock = SteppedClock(start_ns=0)
    forced: list[int] = []
    forced_event = asyncio.Event()

    def force(signum: int) -> None:
        forced.append(signum)
        forced_event.set()

    async def main(stop: asyncio.Event) -> None:
        assert signal.getsignal(signal.SIGINT) is not signal.default_int_handler, (
            "run_until_signalled did not install its handler"
        )
        os.kill(os.getpid(), signal.SIGINT)
        await clock.wait_for(stop.wait(), 10)
        assert forced == [], "the first signal only asks to stop"
        os.kill(os.getpid(), signal.SIGINT)  # shutdown is stuck: the operator insists
        await clock.wait_for(forced_event.wait(), 10)

    await run_until_signalled(main, force=force)
    assert forced == [signal.SIGINT]


# Real processes for what only a process can show: its exit. The waits are bounded guards
# against a hang (the failure being tested), each step waits for the child's own line.
_STUCK_SHUTDOWN = """
import asyncio
from runtime.service import run_process

async def main(stop):
    print("READY", flush=True)
    await stop.wait()
    print("STOPPING", flush=True)
    await asyncio.Event().wait()  # a shutdown that never ends

run_process(main)
"""

_TASK_IGNORING_CANCELLATION = """
import asyncio
from runtime.service import run_process

async def stubborn():
    while True:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            pass

async def main(stop):
    asyncio.get_running_loop().create_task(stubborn(), name="stubborn")
    print("READY", flush=True)
    await stop.wait()

run_process(main, exit_grace_s=0.1)
"""


async def _child(script: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _line(process: asyncio.subprocess.Process) -> str:
    assert process.stdout is not None
    return (await asyncio.wait_for(process.stdout.readline(), 30)).decode().strip()


async def _exit_code(process: asyncio.subprocess.Process) -> tuple[int, str]:
    try:
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError("the process did not exit") from None
    return process.returncode or 0, stderr.decode()


async def test_a_second_sigterm_gets_a_stuck_process_out():
    process = await _child(_STUCK_SHUTDOWN)
    assert await _line(process) == "READY"
    process.send_signal(signal.SIGTERM)
    assert await _line(process) == "STOPPING"
    process.send_signal(signal.SIGTERM)
    code, stderr = await _exit_code(process)
    assert code == 128 + signal.SIGTERM, f"expected exit {128 + signal.SIGTERM}, got {code}"
    assert "second SIGTERM during shutdown: forcing exit" in stderr, stderr


async def test_a_process_exits_even_when_a_task_ignores_cancellation():
    process = await _child(_TASK_IGNORING_CANCELLATION)
    assert await _line(process) == "READY"
    process.send_signal(signal.SIGTERM)
    code, stderr = await _exit_code(process)
    assert code == 1, f"expected exit 1 for an abandoned task, got {code}:\n{stderr}"
    assert "exiting without them" in stderr and "stubborn" in stderr, stderr


async def test_a_service_failed_before_it_is_ready_fails_its_start():
    clock = SteppedClock(start_ns=0)

    async def broken(ctx: _Ctx, config: Empty) -> None:
        raise RuntimeError("cannot open its inputs")

    async with Supervisor(clock, _Ctx) as supervisor:
        with pytest.raises(RuntimeError, match="FAILED before it became ready: RuntimeError: "):
            await supervisor.start(ServiceSpec("broken", broken, Empty(), max_restarts=2))
        assert supervisor.restarts("broken") == 2
