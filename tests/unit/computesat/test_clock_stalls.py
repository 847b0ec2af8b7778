"""WallClock.wait_for on an accelerated clock: a stall of the waiting process does not count.

The event loop here runs on virtual time (its selector moves the loop's clock by the timeout
it is asked to wait instead of waiting), so a "stall" — a callback that holds the process, as
a descheduled process or a GC pause would — is a jump of that clock: deterministic, no wall
time waited.
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from runtime.clock import STALL_MIN_S, WallClock

pytestmark = pytest.mark.timeout(30)

SPEED = 300.0
TIMEOUT_S = 2.0  # mission s: the device timeout
WALL_S = TIMEOUT_S / SPEED  # 6.7 ms


class _VirtualSelector(selectors.SelectSelector):
    def __init__(self) -> None:
        super().__init__()
        self.now_s = 0.0

    def select(self, timeout: float | None = None) -> list[Any]:
        assert timeout is not None, "nothing scheduled: the test would wait forever"
        self.now_s += max(0.0, timeout)  # the wait, without waiting
        return super().select(0)


class _VirtualLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        self.virtual = _VirtualSelector()
        super().__init__(self.virtual)

    def time(self) -> float:
        return self.virtual.now_s

    def stall(self, wall_s: float) -> None:
        """The process does not run for ``wall_s`` (called from a callback)."""
        self.virtual.now_s += wall_s


def _run(main: Callable[[_VirtualLoop], Coroutine[Any, Any, Any]]) -> Any:
    loop = _VirtualLoop()
    try:
        return loop.run_until_complete(main(loop))
    finally:
        loop.close()


async def _request(
    loop: _VirtualLoop, reply_at_s: float | None, stalls: list[tuple[float, float]]
) -> tuple[str, float]:
    """A request whose reply is handed over ``reply_at_s`` after it is sent (None: never),
    with the process stalled at each ``(at_s, for_s)``; what came of it, and when."""
    clock = WallClock(speed=SPEED)
    start = loop.time()
    reply: asyncio.Future[str] = loop.create_future()
    if reply_at_s is not None:
        loop.call_at(start + reply_at_s, reply.set_result, "reply")
    for at_s, for_s in stalls:
        loop.call_at(start + at_s, loop.stall, for_s)
    try:
        outcome = await clock.wait_for(reply, TIMEOUT_S)
    except TimeoutError:
        outcome = "timeout"
    return outcome, loop.time() - start


def test_a_reply_in_time_is_taken() -> None:
    outcome, _ = _run(lambda loop: _request(loop, 0.5 * WALL_S, []))
    assert outcome == "reply"


def test_a_silent_peer_times_out_on_time_when_nothing_stalls() -> None:
    outcome, after_s = _run(lambda loop: _request(loop, None, []))
    assert outcome == "timeout"
    assert after_s == pytest.approx(WALL_S, abs=STALL_MIN_S)


def test_a_reply_after_a_stall_of_the_requester_over_its_deadline_is_taken() -> None:
    # The process stops running half-way through the wait and resumes past the deadline; the
    # reply (received by the process's own I/O thread, stalled too) is handed over soon after.
    # Only the wait's own running time is counted: it is within the timeout.
    stall = (0.5 * WALL_S, 2.0 * WALL_S)
    outcome, _ = _run(lambda loop: _request(loop, 2.8 * WALL_S, [stall]))
    assert outcome == "reply"


def test_a_silent_peer_still_times_out_after_a_stall_within_the_timeout_plus_the_stall() -> None:
    stall = (0.5 * WALL_S, 2.0 * WALL_S)
    outcome, after_s = _run(lambda loop: _request(loop, None, [stall]))
    assert outcome == "timeout"
    # (in timeouts) due at 1.0, ran at 2.5: 1.5 late, of which the at most 1.0 that stalls
    # may add is waited on; declared at 3.5
    assert after_s == pytest.approx(3.5 * WALL_S, abs=STALL_MIN_S)


def test_stalls_add_at_most_the_timeout_again() -> None:
    # A process that keeps stalling (every wait falls due late): the silent peer is declared
    # once the stalls have added a whole timeout, never later.
    stalls = [(0.9 * WALL_S, 3.0 * WALL_S), (4.5 * WALL_S, 3.0 * WALL_S)]
    outcome, after_s = _run(lambda loop: _request(loop, None, stalls))
    assert outcome == "timeout"
    # (in timeouts) due at 1.0, ran at 3.9: 2.9 late, 1.0 granted (all there is), due again
    # at 4.9; the stall from 4.5 runs to 7.5, and with nothing left to grant it expires then.
    assert after_s == pytest.approx(7.5 * WALL_S, abs=STALL_MIN_S)


def test_jitter_under_the_stall_threshold_is_on_time() -> None:
    stall = (WALL_S - 0.1 * STALL_MIN_S, 0.5 * STALL_MIN_S)
    outcome, after_s = _run(lambda loop: _request(loop, 2 * WALL_S, [stall]))
    assert outcome == "timeout"
    assert after_s < WALL_S + STALL_MIN_S
