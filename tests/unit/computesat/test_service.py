"""The supervisor: ordered start on readiness, restart of crashed services, reverse stop."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import BaseModel

from runtime.clock import SteppedClock
from runtime.service import ServiceSpec, Supervisor

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
