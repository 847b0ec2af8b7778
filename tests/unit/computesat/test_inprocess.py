"""The whole satellite in one process: the in-process device transport answers as the ZeroMQ
port does, the local bus routes and validates as the bus does, the io-free stepped clock
never moves while work is ready, and the bound on compute matches its closed forms."""

from __future__ import annotations

import asyncio
import math

import msgpack
import pytest
import zmq.asyncio

from computesat.bound import (
    STEFAN_BOLTZMANN,
    boards_limited_j,
    compute_bound,
    energy_limited_j,
    rejection_limited_j,
)
from computesat.inprocess import LocalDevicePort, roundtrip_reply, whole_satellite
from flightsw.messages import Event, ParameterUpdate, TcDispatch
from hwsim.config import simple_config
from hwsim.faults import fault_catalogue
from hwsim.ports import PortServer, device_handler, simctl_handler
from hwsim.spacecraft import Spacecraft
from icd.device import DeviceRequest, SimOp
from icd.devices import PumpRegisters
from runtime.clock import SteppedClock
from runtime.localbus import LocalBus
from runtime.ports import DevicePort

# (op, device, command, args): reads and descriptions of every kind, and refusals
REQUESTS = [
    ("list", None, None, {}),
    ("read", "timeref", None, {}),
    ("read", "pump.L1.A", None, {}),
    ("read", "loop.L2", None, {}),
    ("read", "radsensor.P03.S2", None, {}),
    ("read", "battery", None, {}),
    ("read", "pdu", None, {}),
    ("read", "wing.W1", None, {}),
    ("read", "slot.001", None, {}),
    ("read", "backplane", None, {}),
    ("describe", "pump.L1.B", None, {}),
    ("describe", "timeref", None, {}),
    ("read", "pump.L9.Z", None, {}),  # unknown device
    ("command", "pump.L1.A", "set_speed_rpm", {"speed_rpm": "fast"}),  # bad argument
    ("command", "pump.L1.A", "warp", {}),  # unknown command
    ("command", "timeref", "set", {}),  # read-only
    ("frobnicate", "pump.L1.A", None, {}),  # unknown op
    ("read", None, None, {}),  # no device
]


async def test_in_process_transport_answers_as_the_zeromq_port() -> None:
    model = Spacecraft(simple_config(), seed=2)
    # time stands still while nothing sleeps on it: both replies carry the same time
    clock = SteppedClock(quiet_hops=100_000)
    context = zmq.asyncio.Context()
    server = PortServer(context, "inproc://equivalence", clock, device_handler(model, clock), "d")
    try:
        async with server, DevicePort(context, server.endpoint, clock, timeout_s=60) as zport:
            serving = asyncio.ensure_future(server.serve())
            try:
                local = LocalDevicePort(server, clock, timeout_s=60)
                for k, (op, device, command, args) in enumerate(REQUESTS, start=1):
                    request = DeviceRequest(id=k, op=op, device=device, command=command, args=args)
                    over_socket = await zport._exchange(request)
                    in_process = roundtrip_reply(await local._exchange(request))
                    assert in_process == over_socket, (
                        f"{op} {device} {command}: in process {in_process!r:.300} vs ZeroMQ "
                        f"{over_socket!r:.300}"
                    )
                # above the seam: the same validated model
                a = await local.read_model("pump.L1.A", PumpRegisters)
                b = await zport.read_model("pump.L1.A", PumpRegisters)
                assert a == b, f"{a} vs {b}"
            finally:
                serving.cancel()
                await asyncio.gather(serving, return_exceptions=True)
    finally:
        context.destroy(linger=0)


async def test_simulation_control_in_process_refuses_bad_faults() -> None:
    model = Spacecraft(simple_config(), seed=2)
    clock = SteppedClock()
    server = PortServer(
        None,  # type: ignore[arg-type]
        "local://simctl",
        clock,
        simctl_handler(model, clock, fault_catalogue),
        "simctl",
    )
    bad = server.answer_request(
        DeviceRequest(id=1, op=SimOp.INJECT_FAULT, args={"fault_id": "melt", "target": "x"})
    )
    assert not bad.ok and bad.error is not None and "melt" in bad.error.message, bad
    good = server.answer_request(
        DeviceRequest(
            id=2, op=SimOp.INJECT_FAULT, args={"fault_id": "pump_seizure", "target": "pump.L1.A"}
        )
    )
    assert good.ok, good
    assert [f.fault_id for f in model.active_faults()] == ["pump_seizure"]


async def test_local_bus_routes_by_topic_and_validates_raw_frames() -> None:
    bus = LocalBus("t")
    rejected: list[str] = []
    bus.on_rejected.append(rejected.append)
    dispatch = dict(request_id=b"\0\0\0\1", apid=2, subservice=1, source_id=1, app_data=b"")
    async with (
        bus.subscribe((TcDispatch, 140)) as payload,
        bus.subscribe(TcDispatch) as every_tc,
        bus.subscribe(Event) as events,
    ):
        bus.publish(TcDispatch(service=140, **dispatch))
        bus.publish(TcDispatch(service=17, **dispatch))
        bus.publish(ParameterUpdate(values={"x": 1.0}, time_ns=0))  # nobody's topic
        assert [m.service for m in payload.drain_nowait()] == [140]
        assert [m.service for m in every_tc.drain_nowait()] == [140, 17]
        # bytes from outside are validated where they enter
        bus.publish_raw("event", msgpack.packb({"event_id": 1, "source": "x"}))
        bus.publish_raw(
            "event", msgpack.packb({"event_id": 1, "source": "x", "message": "m", "time_ns": 5})
        )
        got = await asyncio.wait_for(events.recv(), 5)
        assert isinstance(got, Event) and got.time_ns == 5, got
        assert events.drain_nowait() == [], "the invalid frame must not reach the service"
        assert bus.stats.rejected == 1 and "event" in rejected[0], rejected
    with pytest.raises(TypeError):
        bus.publish({"not": "a message"})  # type: ignore[arg-type]


async def test_io_free_clock_waits_while_any_callback_is_ready() -> None:
    clock = SteppedClock(io_free=True)
    start = clock.now_ns()
    seen: list[int] = []

    async def chain(hops: int) -> None:
        # a long chain of hand-offs through futures, none of them a sleep on the clock
        loop = asyncio.get_running_loop()
        for _ in range(hops):
            fut = loop.create_future()
            loop.call_soon(fut.set_result, None)
            await fut
        seen.append(clock.now_ns())

    sleeper = asyncio.ensure_future(clock.sleep(1.0))
    await asyncio.sleep(0)  # the sleeper registers: the clock watches for quiet
    await chain(500)
    assert seen == [start], f"time moved during ready work: {(seen[0] - start) / 1e9} s"
    await sleeper
    assert clock.now_ns() == start + 1_000_000_000


async def test_whole_satellite_flies_in_one_process() -> None:
    steps: list[float] = []
    async with whole_satellite(
        spacecraft_config=simple_config(), on_step=lambda m: steps.append(m.time_s)
    ) as sat:
        async with sat.bus.subscribe(ParameterUpdate) as params:
            await sat.clock.sleep(30.0)
            seen: set[str] = set()
            for message in params.drain_nowait():
                seen |= set(message.values)
    assert steps[:3] == [1.0, 2.0, 3.0] and len(steps) >= 30, steps[:5]
    # flight software polled the hardware through the in-process port and published it
    for name in ("pump.L1.A.speed_rpm", "battery.soc", "supervisor.restarts"):
        assert name in seen, f"{name} not published; got {sorted(seen)[:20]}"


# ---------------------------------------------------------------------------------- bound


def test_energy_bound_closed_forms() -> None:
    # all in sunlight, lossless: array minus housekeeping
    assert energy_limited_j(100.0, 30.0, 0.0, 1.0, 1.0) == 70.0
    # the eclipse share goes through the battery: 20 J delivered costs 20 / (0.8 x 0.5) = 50 J
    assert math.isclose(energy_limited_j(100.0, 30.0, 20.0, 0.8, 0.5), 20.0)
    # what the battery gave net adds, what it stored takes away; never below 0
    assert math.isclose(energy_limited_j(100.0, 30.0, 0.0, 1.0, 1.0, battery_drop_j=-10.0), 60.0)
    # a drop within the eclipse share saves charging it: 1 / 0.8 array J per stored J
    # (eclipse 20 J = 40 stored J = 50 array J; 8 J fewer stored to charge = 10 array J)
    assert math.isclose(energy_limited_j(100.0, 30.0, 20.0, 0.8, 0.5, battery_drop_j=8.0), 30.0)
    # ended fuller by 8 stored J: 10 array J more charged
    assert math.isclose(energy_limited_j(100.0, 30.0, 20.0, 0.8, 0.5, battery_drop_j=-8.0), 10.0)
    # a drop of 100 stored J: the eclipse's 40 from it, nothing charged (100 - 30 = 70 J), the
    # other 60 stored J delivered at 0.5 (30 J)
    assert math.isclose(energy_limited_j(100.0, 30.0, 20.0, 0.8, 0.5, battery_drop_j=100.0), 100.0)
    assert energy_limited_j(10.0, 30.0, 0.0, 1.0, 1.0) == 0.0
    with pytest.raises(ValueError, match="efficiencies"):
        energy_limited_j(1.0, 0.0, 0.0, 0.0, 1.0)


def test_rejection_and_boards_bounds_closed_forms() -> None:
    # one 2 m² panel, emissivity 0.5, at 300 K for 10 s: 0.5 x 2 x sigma x 300^4 x 10
    got = rejection_limited_j([(2.0, 0.5)], 300.0, 10.0)
    assert math.isclose(got, STEFAN_BOLTZMANN * 300.0**4 * 10.0), got
    assert math.isclose(rejection_limited_j([(1.0, 1.0), (1.0, 1.0)], 300.0, 10.0), 2 * got)
    assert boards_limited_j([100.0, 50.0], 3600.0) == 150.0 * 3600.0
    with pytest.raises(ValueError):
        rejection_limited_j([(1.0, 1.0)], 0.0, 1.0)


def test_compute_bound_is_the_least_per_day() -> None:
    half_day = 43200.0
    b = compute_bound(3.6e6, 7.2e6, 1.8e6, half_day)  # 1, 2 and 0.5 kWh over half a day
    assert b.limited_by == "boards" and math.isclose(b.bound_kwh_per_day, 1.0), b
    assert math.isclose(b.energy_kwh_per_day, 2.0) and math.isclose(b.rejection_kwh_per_day, 4.0)
    with pytest.raises(ValueError):
        compute_bound(1.0, 1.0, 1.0, 0.0)
