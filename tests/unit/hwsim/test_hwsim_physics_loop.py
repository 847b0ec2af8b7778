"""hwsim's physics loop catching up after a stall: the ports are served between bursts."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from hwsim.app import STEPS_PER_TURN, physics_loop
from runtime.clock import NS_PER_S, Clock, ClockMode


class _ManualClock(Clock):
    """Accelerated-looking mission time that moves only when the test moves it (a stall of
    the host, made deterministic)."""

    def __init__(self) -> None:
        self._now_ns = 0
        self._moved = asyncio.Event()

    @property
    def mode(self) -> ClockMode:
        return "accelerated"

    @property
    def speed(self) -> float:
        return 300.0

    def now_ns(self) -> int:
        return self._now_ns

    def jump_to(self, mission_ns: int) -> None:
        self._now_ns = mission_ns
        self._moved.set()

    async def sleep_until_ns(self, mission_ns: int) -> None:
        while self._now_ns < mission_ns:
            self._moved.clear()
            await self._moved.wait()


class _StepRecorder:
    def __init__(self) -> None:
        self.time_ns = 0
        self.steps: list[float] = []

    def step(self, dt_s: float) -> None:
        self.steps.append(dt_s)
        self.time_ns += round(dt_s * NS_PER_S)


async def _seen_by_a_port(model: _StepRecorder, until_steps: int) -> list[int]:
    """How many steps the model had each time another task (a port server) got the loop."""
    seen: list[int] = []
    while len(model.steps) < until_steps:
        await asyncio.sleep(0)
        seen.append(len(model.steps))
    return seen


@pytest.mark.parametrize("behind", [1, STEPS_PER_TURN, 10, 25])
async def test_a_catch_up_is_taken_in_bursts_with_the_ports_served_between(behind: int) -> None:
    clock = _ManualClock()
    model = _StepRecorder()
    physics = asyncio.create_task(physics_loop(model, clock, 1.0, 1000, 0))
    try:
        await asyncio.sleep(0)  # the loop waits for its first step
        clock.jump_to(behind * NS_PER_S)  # hwsim was not run for `behind` steps
        seen = await _seen_by_a_port(model, behind)
    finally:
        physics.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await physics
    # Every step taken, whole (the catch-up is spread out, never shortened) ...
    assert model.steps == [1.0] * behind
    # ... and never more than a burst between two turns of the event loop.
    bursts = [b - a for a, b in zip([0, *seen], seen, strict=False)]
    assert max(bursts) <= STEPS_PER_TURN, f"steps between turns: {bursts}"


async def test_a_burst_of_no_steps_is_refused() -> None:
    with pytest.raises(ValueError, match="steps_per_turn"):
        await physics_loop(_StepRecorder(), _ManualClock(), 1.0, 1000, 0, steps_per_turn=0)
