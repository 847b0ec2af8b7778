"""The one mission clock.

Every service and model takes a :class:`Clock` and never reads the wall clock itself.
Mission time is integer nanoseconds since the mission epoch (:data:`MISSION_EPOCH`), which
is also the CUC epoch of every telemetry packet (see ``icd.cuc``).

Modes:
- ``realtime``: mission time advances with the wall clock.
- ``accelerated``: mission time advances ``speed`` times faster than the wall clock.
- ``stepped``: mission time advances only when every sleeper is waiting; it jumps straight
  to the next wake-up, so a run is as fast as the CPU allows and deterministic for a seed.

Separate processes share mission time by anchoring: hwsim owns the spacecraft's time
reference, flight software reads it through its time device port and anchors its own
clock to it (:meth:`WallClock.anchor`).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Literal, TypeVar

__all__ = [
    "MISSION_EPOCH",
    "NS_PER_S",
    "STALL_MIN_S",
    "Clock",
    "ClockMode",
    "SteppedClock",
    "WallClock",
    "make_clock",
]

# Agency-defined CUC epoch (P-field time code id 0b010). TAI and UTC are not distinguished:
# the emulator has no leap seconds.
MISSION_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
NS_PER_S = 1_000_000_000
# Where a fresh mission starts unless told otherwise: 2026-11-21T00:00:00 after the epoch.
DEFAULT_START_NS = (
    int((datetime(2026, 11, 21, tzinfo=UTC) - MISSION_EPOCH).total_seconds()) * NS_PER_S
)

T = TypeVar("T")
ClockMode = Literal["realtime", "accelerated", "stepped"]


class Clock(ABC):
    """Mission time source and mission-time sleeping."""

    @property
    @abstractmethod
    def mode(self) -> ClockMode: ...

    @property
    @abstractmethod
    def speed(self) -> float:
        """Mission seconds per wall second (``inf`` for stepped)."""

    @abstractmethod
    def now_ns(self) -> int:
        """Mission time in integer nanoseconds since :data:`MISSION_EPOCH`."""

    def now_s(self) -> float:
        return self.now_ns() / NS_PER_S

    @abstractmethod
    async def sleep_until_ns(self, mission_ns: int) -> None:
        """Suspend until mission time reaches ``mission_ns``."""

    async def sleep(self, mission_s: float) -> None:
        """Suspend for ``mission_s`` mission seconds (0 yields once)."""
        if mission_s <= 0:
            await asyncio.sleep(0)
            return
        await self.sleep_until_ns(self.now_ns() + round(mission_s * NS_PER_S))

    async def wait_for(self, awaitable: Awaitable[T], mission_s: float) -> T:
        """Await ``awaitable`` for at most ``mission_s`` mission seconds, else TimeoutError."""
        work = asyncio.ensure_future(awaitable)
        timer = asyncio.ensure_future(self.sleep(mission_s))
        try:
            await asyncio.wait((work, timer), return_when=asyncio.FIRST_COMPLETED)
            if work.done():
                return work.result()
            raise TimeoutError(f"no result within {mission_s} mission seconds")
        finally:
            for pending in (work, timer):
                pending.cancel()
            await asyncio.gather(work, timer, return_exceptions=True)

    async def sleep_until_ns_or(self, mission_ns: int | None, wake: asyncio.Event) -> bool:
        """Sleep until ``mission_ns`` (``None``: no limit) or until ``wake`` is set, whichever
        comes first; returns whether ``wake`` ended it. For periodic loops that a command can
        hurry along."""
        if mission_ns is None:
            await wake.wait()
            return True
        sleeper = asyncio.ensure_future(self.sleep_until_ns(mission_ns))
        waker = asyncio.ensure_future(wake.wait())
        try:
            await asyncio.wait((sleeper, waker), return_when=asyncio.FIRST_COMPLETED)
            return waker.done()
        finally:
            sleeper.cancel()
            waker.cancel()
            await asyncio.gather(sleeper, waker, return_exceptions=True)

    def wall_s_for(self, mission_s: float) -> float:
        """How long ``mission_s`` lasts on the wall clock (0 in stepped mode)."""
        return 0.0 if self.speed == float("inf") else mission_s / self.speed


# How late (wall seconds) a WallClock timeout may fall due and still count as on time: the
# selector's granularity (epoll waits in whole milliseconds) and ordinary loop jitter.
STALL_MIN_S = 0.001


class WallClock(Clock):
    """Real-time (speed 1) or accelerated (speed N) mission time driven by the host clock."""

    def __init__(
        self,
        speed: float = 1.0,
        start_ns: int = DEFAULT_START_NS,
        start_at_monotonic_ns: int | None = None,
    ) -> None:
        """``start_at_monotonic_ns``: the host's CLOCK_MONOTONIC instant (shared by every
        process of the host) at which mission time was ``start_ns``; default: now. A process
        restarted mid-mission continues a clock that ran on while it was starting."""
        if not speed > 0 or speed == float("inf"):
            raise ValueError(f"clock speed must be a finite number > 0, got {speed!r}")
        self._speed = float(speed)
        self.anchor(start_ns)
        if start_at_monotonic_ns is not None:
            self._anchor_wall_ns = int(start_at_monotonic_ns)

    @property
    def mode(self) -> ClockMode:
        return "realtime" if self._speed == 1.0 else "accelerated"

    @property
    def speed(self) -> float:
        return self._speed

    def anchor(self, mission_ns: int, speed: float | None = None) -> None:
        """Make ``now_ns()`` equal ``mission_ns`` at this instant (time synchronisation)."""
        if speed is not None:
            if not speed > 0 or speed == float("inf"):
                raise ValueError(f"clock speed must be a finite number > 0, got {speed!r}")
            self._speed = float(speed)
        self._anchor_wall_ns = time.monotonic_ns()
        self._anchor_mission_ns = int(mission_ns)

    def now_ns(self) -> int:
        elapsed_wall_ns = time.monotonic_ns() - self._anchor_wall_ns
        return self._anchor_mission_ns + int(elapsed_wall_ns * self._speed)

    async def wait_for(self, awaitable: Awaitable[T], mission_s: float) -> T:
        """As :meth:`Clock.wait_for`, except that time this process did not run does not
        count: when the timer falls due late (the host did not schedule the process, a GC
        pause, a long callback), the wait goes on for as long again as the timer was late,
        up to ``mission_s`` more in all. An accelerated clock makes a timeout a few
        milliseconds of wall time; a stall of the *waiting* process that long says nothing
        of the other end, whose reply (or the I/O thread that receives it) had no chance to
        run. Whoever else stalls, a silent peer still times out, at most ``mission_s`` plus
        the stalls later."""
        # One timer on the loop instead of a racing sleep task: this sits on every command's
        # round trip. A re-anchor to another speed during the wait is not followed.
        # asyncio.timeout, not asyncio.wait_for: on Python 3.11 wait_for swallows a
        # cancellation that arrives in the same loop iteration as the result (it returns the
        # result instead), so a service cancelled mid device request kept running and its
        # stop never finished.
        loop = asyncio.get_running_loop()
        wall_s = self.wall_s_for(mission_s)
        deadline = loop.time() + wall_s
        spare_s = wall_s  # what stalls of this process may still add to the wait
        timer: asyncio.TimerHandle | None = None

        def fall_due() -> None:
            nonlocal deadline, spare_s, timer
            late_s = loop.time() - deadline
            if late_s > STALL_MIN_S and spare_s > 0:
                extra_s = min(late_s, spare_s)
                spare_s -= extra_s
                deadline = loop.time() + extra_s
                timer = loop.call_at(deadline, fall_due)
                return
            timer = None
            scope.reschedule(loop.time())  # expire now: cancels the wait, TimeoutError

        try:
            async with asyncio.timeout(None) as scope:
                timer = loop.call_at(deadline, fall_due)
                try:
                    return await awaitable
                finally:
                    if timer is not None:
                        timer.cancel()
        except TimeoutError:
            raise TimeoutError(f"no result within {mission_s} mission seconds") from None

    async def sleep_until_ns(self, mission_ns: int) -> None:
        while True:
            remaining_ns = mission_ns - self.now_ns()
            if remaining_ns <= 0:
                return
            await asyncio.sleep(remaining_ns / NS_PER_S / self._speed)


class SteppedClock(Clock):
    """Virtual time that jumps to the next wake-up once the event loop has gone quiet.

    "Quiet" means no sleeper registered and no timer fired for ``quiet_hops`` consecutive
    event-loop iterations. Work that waits on real I/O (sockets) gets those iterations to
    complete; pure computation is never cut short because the loop cannot iterate while it runs.
    """

    def __init__(
        self, start_ns: int = DEFAULT_START_NS, quiet_hops: int = 16, io_free: bool = False
    ) -> None:
        """``io_free``: nothing on this loop waits on sockets, threads or processes (a whole
        satellite in one process with in-process transports, ``computesat.inprocess``): the
        loop is quiet as soon as no callback is ready, one iteration instead of
        ``quiet_hops`` (each of which polls the selector)."""
        self._now_ns = int(start_ns)
        self._io_free = io_free
        self._sleepers: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._quiet_hops = quiet_hops
        self._activity = 0
        self._watch_scheduled = False

    @property
    def mode(self) -> ClockMode:
        return "stepped"

    @property
    def speed(self) -> float:
        return float("inf")

    def now_ns(self) -> int:
        return self._now_ns

    async def sleep_until_ns(self, mission_ns: int) -> None:
        if mission_ns <= self._now_ns:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        wake: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._sleepers, (int(mission_ns), next(self._order), wake))
        self._activity += 1
        self._schedule_watch(loop)
        await wake

    def _schedule_watch(self, loop: asyncio.AbstractEventLoop) -> None:
        if not self._watch_scheduled:
            self._watch_scheduled = True
            loop.call_soon(self._watch, loop, self._activity, 0)

    def _watch(self, loop: asyncio.AbstractEventLoop, seen_activity: int, quiet: int) -> None:
        if seen_activity != self._activity:
            loop.call_soon(self._watch, loop, self._activity, 0)
            return
        # Without I/O, work pending is a ready callback (a resolved future's wake-up, a task
        # step): none ready behind this one means every task waits on the clock. (asyncio's
        # own loop keeps them in ``_ready``; another loop falls back to counting hops.)
        ready = getattr(loop, "_ready", None) if self._io_free else None
        if ready is not None:
            if ready:
                loop.call_soon(self._watch, loop, seen_activity, 0)
                return
        elif quiet < self._quiet_hops:
            loop.call_soon(self._watch, loop, seen_activity, quiet + 1)
            return
        self._watch_scheduled = False
        self._drop_cancelled()
        if self._sleepers:
            self._release_until(self._sleepers[0][0])
            if self._sleepers:
                self._schedule_watch(loop)

    def _drop_cancelled(self) -> None:
        while self._sleepers and self._sleepers[0][2].done():
            heapq.heappop(self._sleepers)

    def _release_until(self, mission_ns: int) -> None:
        self._now_ns = max(self._now_ns, mission_ns)
        while self._sleepers and self._sleepers[0][0] <= self._now_ns:
            _, _, wake = heapq.heappop(self._sleepers)
            if not wake.done():
                wake.set_result(None)
        self._activity += 1


def make_clock(mode: ClockMode, speed: float = 1.0, start_ns: int = DEFAULT_START_NS) -> Clock:
    """Build a clock from settings (``speed`` is ignored for realtime and stepped)."""
    if mode == "stepped":
        return SteppedClock(start_ns)
    if mode == "realtime":
        return WallClock(1.0, start_ns)
    return WallClock(speed, start_ns)
