"""Device-port and simulation-control servers: the protocol, and bad input from clients."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import msgpack
import pytest
import zmq
import zmq.asyncio

from hwsim.config import SpacecraftConfig
from hwsim.faults import fault_catalogue
from hwsim.ports import PortServer, device_handler, simctl_handler
from hwsim.spacecraft import Spacecraft
from icd.device import DeviceReply
from runtime.clock import SteppedClock, WallClock
from runtime.ports import DevicePort, DevicePortError, DeviceTimeout


@dataclass
class Ports:
    context: zmq.asyncio.Context
    devices: DevicePort
    simctl: DevicePort
    device_endpoint: str


@pytest.fixture
async def ports(ai1: SpacecraftConfig) -> AsyncIterator[Ports]:
    model = Spacecraft(ai1, seed=1)
    clock = WallClock(speed=10)
    context = zmq.asyncio.Context()
    try:
        async with (
            PortServer(
                context, "tcp://127.0.0.1:0", clock, device_handler(model, clock), "devices"
            ) as device_server,
            PortServer(
                context,
                "tcp://127.0.0.1:0",
                clock,
                simctl_handler(model, clock, fault_catalogue, clock.now_ns()),
                "simctl",
            ) as simctl_server,
            # 600 mission s = 60 s of wall time at x10: a bound for a lost reply, not a window
            # a loaded host could miss (20 mission s were 2 wall s).
            DevicePort(context, device_server.endpoint, clock, timeout_s=600) as devices,
            DevicePort(context, simctl_server.endpoint, clock, timeout_s=600) as simctl,
        ):
            serving = [
                asyncio.ensure_future(device_server.serve()),
                asyncio.ensure_future(simctl_server.serve()),
            ]
            try:
                yield Ports(context, devices, simctl, device_server.endpoint)
            finally:
                for task in serving:
                    task.cancel()
                await asyncio.gather(*serving, return_exceptions=True)
    finally:
        context.destroy(linger=0)


async def test_list_describe_read_command(ports: Ports):
    ids = await ports.devices.list()
    assert ids[0] == "timeref" and "pump.L1.B" in ids and "battery" in ids
    description = await ports.devices.describe("pump.L1.B")
    assert description["registers"]["flow_kg_s"]["unit"] == "kg/s"
    assert "start" in description["commands"]
    assert (await ports.devices.read("pump.L1.B"))["speed_rpm"] == 0
    await ports.devices.command("pump.L1.B", "start")
    assert (await ports.devices.read("pump.L1.B"))["state"] != "off"
    timeref = await ports.devices.read("timeref")
    assert timeref["clock_speed"] == 10 and timeref["mission_time_ns"] > 0
    assert ports.devices.last_time_ns > 0  # every reply carries hardware time


@pytest.mark.parametrize(
    ("op", "device", "command", "code"),
    [
        ("read", "pump.L9.Z", None, "unknown_device"),
        ("command", "pump.L1.A", "fly", "unknown_command"),
        ("command", "pump.L1.A", None, "malformed"),
        ("read", None, None, "malformed"),
        ("teleport", "pump.L1.A", None, "unknown_op"),
        ("command", "timeref", "set", "unknown_command"),
    ],
)
async def test_protocol_errors_are_replies_not_crashes(ports: Ports, op, device, command, code):
    with pytest.raises(DevicePortError) as refused:
        await ports.devices.request(op, device, command)
    assert refused.value.code == code
    assert (await ports.devices.read("battery"))["soc"] > 0  # still serving


async def test_bad_arguments_are_refused_with_a_reason(ports: Ports):
    with pytest.raises(DevicePortError) as refused:
        await ports.devices.command("pump.L1.A", "set_speed_rpm", {"speed_rpm": "fast"})
    assert refused.value.code == "bad_argument"


async def test_garbage_frames_get_error_replies_and_the_server_keeps_serving(ports: Ports):
    raw = ports.context.socket(zmq.DEALER)
    raw.linger = 0
    raw.connect(ports.device_endpoint)
    try:
        for frame, code in (
            (b"\xc1not msgpack", "malformed"),
            (msgpack.packb([1, 2, 3]), "malformed"),
            (msgpack.packb({"v": 1, "id": 5}), "malformed"),  # no op
            (msgpack.packb({"v": 99, "id": 6, "op": "list"}), "unsupported_version"),
        ):
            await raw.send(frame)
            reply = DeviceReply.unpack(await asyncio.wait_for(raw.recv(), 60))  # a hang bound
            assert not reply.ok and reply.error is not None and reply.error.code == code
        await raw.send_multipart([b"two", b"frames"])  # not one request: ignored
    finally:
        raw.close()
    assert "battery" in await ports.devices.list()


async def test_simulation_control(ports: Ports):
    time = await ports.simctl.request("time")
    assert time["clock_speed"] == 10 and time["model_time_s"] >= 0
    assert len(await ports.simctl.request("fault_catalogue")) == len(fault_catalogue())
    await ports.simctl.request(
        "inject_fault", args={"fault_id": "sensor_dead", "target": "radsensor.P01.S1"}
    )
    assert [f["fault_id"] for f in await ports.simctl.request("active_faults")] == ["sensor_dead"]
    await ports.simctl.request(
        "clear_fault", args={"fault_id": "sensor_dead", "target": "radsensor.P01.S1"}
    )
    for args in ({"fault_id": "no_such_fault", "target": "pump.L1.A"}, {"target": "x"}):
        with pytest.raises(DevicePortError) as refused:
            await ports.simctl.request("inject_fault", args=args)
        assert refused.value.code == "bad_argument"
    truth = await ports.simctl.request("truth")
    assert 0 <= truth["battery_soc"] <= 1 and isinstance(truth["eclipse"], bool)


async def test_a_silent_endpoint_times_out_in_mission_time():
    context = zmq.asyncio.Context()
    try:
        # Nothing listens there; the stepped clock makes the 5 mission s pass at once.
        async with DevicePort(context, "tcp://127.0.0.1:9", SteppedClock(), timeout_s=5) as port:
            with pytest.raises(DeviceTimeout, match="no reply in 5"):
                await port.read("battery")
    finally:
        context.destroy(linger=0)


async def test_undecodable_replies_are_counted_and_named_by_the_timeout():
    """Replies that are no device reply (not msgpack; a bad time_ns) match no request: the
    request still times out, but its error says what came instead of calling it silence."""
    import msgpack

    context = zmq.asyncio.Context()
    router = context.socket(zmq.ROUTER)
    router.linger = 0
    router.bind("inproc://garbage-hardware")

    async def garbage() -> None:
        peer, frame = await router.recv_multipart()
        request = msgpack.unpackb(frame)
        await router.send_multipart([peer, b"\xc1 not msgpack"])
        bad = {"v": 1, "id": request["id"], "ok": True, "time_ns": -1.5}
        await router.send_multipart([peer, msgpack.packb(bad)])

    try:
        task = asyncio.create_task(garbage())
        async with DevicePort(context, "inproc://garbage-hardware", SteppedClock(), 5) as port:
            with pytest.raises(DeviceTimeout) as timed_out:
                await port.read("battery")
        await task
    finally:
        router.close()
        context.destroy(linger=0)
    text = str(timed_out.value)
    assert "no reply in 5 mission s; 2 undecodable replies meanwhile: field time_ns" in text, text
    assert timed_out.value.undecodable == 2 and port.undecodable_replies == 2, text
