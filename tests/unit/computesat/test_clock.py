"""The mission clock: modes, mission-time sleeping, stepped determinism."""

from __future__ import annotations

import asyncio

import pytest

from runtime import clock as clock_module
from runtime.clock import NS_PER_S, SteppedClock, WallClock, make_clock

# Stepped-clock tests finish in milliseconds; a clock that stops advancing would hang them.
pytestmark = pytest.mark.timeout(30)


async def test_stepped_clock_jumps_to_each_wake_in_order():
    clock = SteppedClock(start_ns=0)
    woke: list[tuple[str, int]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now_ns()))

    await asyncio.gather(sleeper("c", 3600), sleeper("a", 1), sleeper("b", 86_400 * 365))
    assert woke == [("a", NS_PER_S), ("c", 3600 * NS_PER_S), ("b", 86_400 * 365 * NS_PER_S)]


async def test_stepped_clock_is_deterministic_for_interleaved_periodic_tasks():
    async def run_once() -> list[tuple[str, int]]:
        clock = SteppedClock(start_ns=0)
        trace: list[tuple[str, int]] = []

        async def periodic(name: str, period_s: float, count: int) -> None:
            for _ in range(count):
                await clock.sleep(period_s)
                trace.append((name, clock.now_ns()))

        await asyncio.gather(periodic("fast", 0.3, 20), periodic("slow", 1.1, 5))
        return trace

    first, second = await run_once(), await run_once()
    assert first == second
    assert [t for _, t in first] == sorted(t for _, t in first)


async def test_stepped_wait_for_times_out_in_mission_time_without_waiting():
    clock = SteppedClock(start_ns=0)
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    with pytest.raises(TimeoutError):
        await clock.wait_for(never, 86_400)
    assert clock.now_ns() == 86_400 * NS_PER_S
    assert never.cancelled()


async def test_wait_for_returns_result_before_timeout():
    clock = SteppedClock(start_ns=0)

    async def answer() -> int:
        await clock.sleep(2)
        return 42

    assert await clock.wait_for(answer(), 5) == 42
    assert clock.now_ns() == 2 * NS_PER_S


async def test_cancelled_sleeper_does_not_hold_time_back():
    clock = SteppedClock(start_ns=0)
    long_sleep = asyncio.ensure_future(clock.sleep(1000))
    await asyncio.sleep(0)
    long_sleep.cancel()
    await clock.sleep(1)
    assert clock.now_ns() == NS_PER_S


async def test_accelerated_clock_runs_faster_than_the_wall(monkeypatch: pytest.MonkeyPatch):
    # What the clock asks the event loop for, not how long the host took to give it: a
    # wall-time window would fail whenever the cores are busy.
    requested_wall_s: list[float] = []
    real_sleep = asyncio.sleep

    async def recording_sleep(delay: float, *args: object) -> None:
        requested_wall_s.append(delay)
        await real_sleep(delay, *args)

    clock = WallClock(speed=1000, start_ns=0)
    monkeypatch.setattr(clock_module.asyncio, "sleep", recording_sleep)
    await clock.sleep(5)  # 5 mission seconds = 5 ms of wall time
    assert clock.now_ns() >= 5 * NS_PER_S, f"woke at {clock.now_ns()} ns, before 5 s"
    assert requested_wall_s, "the accelerated clock never slept on the loop"
    assert requested_wall_s[0] <= 0.005, f"asked for {requested_wall_s[0]} s of wall time, not 5 ms"
    assert clock.wall_s_for(5) == pytest.approx(0.005)


def test_anchor_sets_time_and_speed():
    clock = WallClock(speed=1, start_ns=0)
    clock.anchor(10 * NS_PER_S, speed=50)
    assert clock.speed == 50 and clock.mode == "accelerated"
    assert 10 * NS_PER_S <= clock.now_ns() < 20 * NS_PER_S


@pytest.mark.parametrize("speed", [0, -1, float("inf"), float("nan")])
def test_bad_speed_is_refused(speed):
    with pytest.raises(ValueError, match="speed"):
        WallClock(speed=speed)


def test_make_clock_modes():
    assert make_clock("stepped").mode == "stepped"
    assert make_clock("realtime").speed == 1.0
    assert make_clock("accelerated", speed=20).speed == 20


async def test_sleep_until_or_ends_at_the_time_or_on_the_event():
    clock = SteppedClock(start_ns=0)
    wake = asyncio.Event()
    assert await clock.sleep_until_ns_or(5 * NS_PER_S, wake) is False
    assert clock.now_ns() == 5 * NS_PER_S

    async def hurry() -> None:
        await clock.sleep(1)
        wake.set()

    hurrying = asyncio.ensure_future(hurry())
    assert await clock.sleep_until_ns_or(100 * NS_PER_S, wake) is True
    assert clock.now_ns() == 6 * NS_PER_S
    await hurrying


@pytest.mark.parametrize("make", [WallClock, SteppedClock], ids=["wall", "stepped"])
async def test_wait_for_keeps_a_cancellation_that_arrives_with_the_result(make):
    """A device request cancelled just as its reply lands must end cancelled: the service
    being stopped must not carry on (Python 3.11's asyncio.wait_for returned the result)."""
    clock = make()
    reply: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    request = asyncio.ensure_future(clock.wait_for(reply, 60))
    for _ in range(3):  # let the request reach its wait
        await asyncio.sleep(0)
    reply.set_result("late reply")
    request.cancel()
    outcome = (await asyncio.gather(request, return_exceptions=True))[0]
    assert request.cancelled(), f"expected the request cancelled, it returned {outcome!r}"
