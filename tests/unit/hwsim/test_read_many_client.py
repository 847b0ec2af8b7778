"""The read_many client (runtime.ports.DevicePort.read_models) against a scripted device port:
a device whose registers are off the ICD is invalid alone, a silent port is one timeout for
the whole batch, and a port that does not know read_many says so with its error code."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgpack
import pytest
import zmq
import zmq.asyncio

from icd.devices import BatteryRegisters, SensorRegisters
from runtime.clock import SteppedClock
from runtime.ports import DevicePort, DevicePortError, DeviceReplyInvalid, DeviceTimeout

BATTERY = {
    "soc": 0.8,
    "voltage_v": 120.0,
    "current_a": -3.0,
    "power_w": -360.0,
    "temp_k": 293.0,
    "cell_faults": 0,
    "capacity_wh": 100_000.0,
}


@contextlib.asynccontextmanager
async def _hardware(
    answer: Callable[[dict[str, Any]], dict[str, Any] | None],
) -> AsyncIterator[tuple[DevicePort, SteppedClock]]:
    """A ROUTER answering each request with ``answer(request)`` (None: no reply at all)."""
    clock = SteppedClock(start_ns=0)
    context = zmq.asyncio.Context()
    router = context.socket(zmq.ROUTER)
    router.linger = 0
    router.bind("inproc://read-many")

    async def serve() -> None:
        while True:
            peer, frame = await router.recv_multipart()
            request = msgpack.unpackb(frame)
            reply = answer(request)
            if reply is not None:
                envelope = {"v": 1, "id": request["id"], "ok": True, "time_ns": 0} | reply
                await router.send_multipart([peer, msgpack.packb(envelope)])

    task = asyncio.create_task(serve())
    try:
        async with DevicePort(context, "inproc://read-many", clock, timeout_s=2.0) as port:
            yield port, clock
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        router.close()
        context.destroy(linger=0)


async def test_a_device_off_the_icd_is_invalid_alone():
    asked: list[list[str]] = []

    def answer(request: dict[str, Any]) -> dict[str, Any]:
        assert request["op"] == "read_many", request
        asked.append(request["args"]["devices"])
        registers = {"battery": BATTERY, "radsensor.P01.S1": {"temp_k": "hot"}}
        errors = {"pump.L1.A": {"code": "device_fault", "message": "seized"}}
        return {"result": {"registers": registers, "errors": errors}}

    async with _hardware(answer) as (port, _):
        results = await port.read_models(["battery", "radsensor.P01.S1", "pump.L1.A", "loop.L9"])
    assert asked == [["battery", "radsensor.P01.S1", "pump.L1.A", "loop.L9"]], "one round trip"
    assert isinstance(results["battery"], BatteryRegisters), results["battery"]
    assert results["battery"].soc == 0.8
    sensor = results["radsensor.P01.S1"]
    assert isinstance(sensor, DeviceReplyInvalid) and sensor.fields == ["temp_k"], sensor
    pump = results["pump.L1.A"]
    assert isinstance(pump, DevicePortError) and pump.code == "device_fault", pump
    assert "seized" in str(pump)
    missing = results["loop.L9"]
    assert isinstance(missing, DeviceReplyInvalid) and "missing from the read_many" in str(missing)
    assert not isinstance(results["battery"], SensorRegisters)


async def test_a_silent_port_is_one_timeout_for_the_batch():
    async with _hardware(lambda request: None) as (port, clock):
        started = clock.now_s()
        with pytest.raises(DeviceTimeout) as err:
            await port.read_models(["battery", "pdu"])
    assert clock.now_s() - started == pytest.approx(2.0), "one timeout, not one per device"
    assert "no reply in 2.0 mission s" in str(err.value), err.value


async def test_a_port_without_read_many_says_unknown_op():
    def answer(request: dict[str, Any]) -> dict[str, Any]:
        error = {"code": "unknown_op", "message": f"unknown op {request['op']!r}"}
        return {"ok": False, "error": error}

    async with _hardware(answer) as (port, _):
        with pytest.raises(DevicePortError) as err:
            await port.read_models(["battery"])
    assert err.value.code == "unknown_op", err.value


async def test_a_reply_that_came_in_time_is_taken_though_the_reader_was_late():
    """The hardware answers at once, but flight software's event loop is blocked past the
    timeout (a busy loop, or a host that did not schedule it): the reply waiting in the
    socket is the answer, not a silent port. (The block, 1 s, is far longer than the reply
    takes and the timeout, 10 ms: the outcome does not depend on how fast the host is.)"""
    import threading
    import time

    from runtime.clock import WallClock

    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    router.linger = 0
    port_no = router.bind_to_random_port("tcp://127.0.0.1")

    def hardware() -> None:
        peer, frame = router.recv_multipart()
        request = msgpack.unpackb(frame)
        reply = {"v": 1, "id": request["id"], "ok": True, "time_ns": 0, "result": BATTERY}
        router.send_multipart([peer, msgpack.packb(reply)])

    thread = threading.Thread(target=hardware, daemon=True)
    thread.start()
    actx = zmq.asyncio.Context()
    try:
        async with DevicePort(actx, f"tcp://127.0.0.1:{port_no}", WallClock(), 0.01) as port:
            # Blocks the loop as soon as the request is out and its wait has begun.
            asyncio.get_running_loop().call_soon(time.sleep, 1.0)
            registers = await port.read_model("battery")
        assert isinstance(registers, BatteryRegisters) and registers.soc == 0.8
        # Taken either within the wait the clock extends past a stall of this process
        # (WallClock.wait_for) or, that spent too, from the socket after the timeout.
        assert port.late_replies in (0, 1), port.late_replies
    finally:
        thread.join(5)
        router.close()
        context.term()
        actx.destroy(linger=0)
