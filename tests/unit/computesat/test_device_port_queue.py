"""DevicePort: a request queued behind others (``within_s``) on a busy port and a silent one."""

from __future__ import annotations

import asyncio
from typing import Any

import msgpack
import pytest
import zmq

from icd.device import DeviceOp, DeviceReply
from runtime.clock import NS_PER_S, SteppedClock
from runtime.ports import DevicePort, DeviceTimeout

pytestmark = pytest.mark.timeout(30)

TIMEOUT_S = 2.0


class _Hardware:
    """A DEALER socket stand-in: each device answers after its delay in mission seconds
    (None: never)."""

    def __init__(self, clock: SteppedClock, delays: dict[str, float | None]) -> None:
        self._clock = clock
        self._delays = delays
        self._replies: asyncio.Queue[bytes] = asyncio.Queue()
        self._pending: set[asyncio.Task[None]] = set()

    async def send(self, frame: bytes) -> None:
        request = msgpack.unpackb(frame)
        delay_s = self._delays[request["device"]]
        if delay_s is not None:
            task = asyncio.create_task(self._answer(request["id"], delay_s))
            self._pending.add(task)
            task.add_done_callback(self._pending.discard)

    async def _answer(self, request_id: int, delay_s: float) -> None:
        await self._clock.sleep(delay_s)
        reply = DeviceReply(id=request_id, ok=True, time_ns=self._clock.now_ns(), result={})
        self._replies.put_nowait(reply.pack())

    def recv(self, flags: int = 0) -> Any:
        if flags & zmq.NOBLOCK:
            if self._replies.empty():
                raise zmq.Again()
            return _done(self._replies.get_nowait())
        return asyncio.ensure_future(self._replies.get())

    def close(self) -> None:
        for task in self._pending:
            task.cancel()


async def _done(frame: bytes) -> bytes:
    return frame


async def _queued_behind(delays: dict[str, float | None]) -> tuple[str, float]:
    """Request ``ahead`` (the reply alone timed), then ``behind`` with ``within_s`` queued
    behind it; what came of ``behind`` and when (mission s from the start)."""
    clock = SteppedClock(start_ns=0)
    hardware = _Hardware(clock, delays)
    port = DevicePort(None, "fake://hardware", clock, timeout_s=TIMEOUT_S)  # type: ignore[arg-type]
    port._socket = hardware  # type: ignore[assignment]  # the transport, without ZeroMQ
    ahead = asyncio.create_task(port.request(DeviceOp.READ, "ahead"))
    await asyncio.sleep(0)  # ``ahead`` holds the port
    try:
        await port.request(DeviceOp.READ, "behind", within_s=TIMEOUT_S)
        outcome = "answered"
    except DeviceTimeout:
        outcome = "timeout"
    finally:
        await asyncio.gather(ahead, return_exceptions=True)
        hardware.close()
    return outcome, clock.now_ns() / NS_PER_S


async def test_behind_an_answered_request_the_reply_has_its_whole_timeout() -> None:
    # The port answers, only busily: 1.5 s for the request ahead, 1.0 s for this one. Counted
    # from the ask (2.5 s) it was declared silent though nothing was.
    outcome, at_s = await _queued_behind({"ahead": 1.5, "behind": 1.0})
    assert outcome == "answered"
    assert at_s == pytest.approx(2.5)


async def test_behind_a_request_that_timed_out_the_wait_counts_a_silent_port_flagged_in_time() -> (
    None
):
    outcome, at_s = await _queued_behind({"ahead": None, "behind": None})
    assert outcome == "timeout"
    assert at_s == pytest.approx(TIMEOUT_S), "a silent port: declared one timeout after asking"


async def test_a_silent_device_behind_an_answered_request_still_times_out() -> None:
    outcome, at_s = await _queued_behind({"ahead": 1.5, "behind": None})
    assert outcome == "timeout"
    assert at_s == pytest.approx(1.5 + TIMEOUT_S)
