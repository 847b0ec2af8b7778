"""Honest telemetry on board: the devices service and the housekeeping pool, stepped clock.

The two services run on an in-memory bus against a fake device port whose silence is
simulated in mission time, so every timing below (period 1 s, device timeout 2 s, HK 2 every
2 s) is exact and the tests are deterministic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import pytest
from _inprocess import in_process_satellite

from flightsw.app import FlightSettings, services
from flightsw.context import ServiceContext
from flightsw.messages import Event, HardwareDown, ParameterUpdate, TmRequest
from flightsw.services import devices, housekeeping
from ground.station import Ground
from icd import dictionary as dic
from icd.dictionary import EventId
from runtime.bus import BusMessage, Topic
from runtime.clock import SteppedClock
from runtime.ports import DevicePort, DevicePortError, DeviceTimeout
from runtime.service import ServiceSpec

PERIOD_S = 1.0
TIMEOUT_S = 2.0
# The platform devices the fake port lists (and the devices service polls by default).
LISTED = (
    "pump.L1.A",
    "pump.L1.B",
    "pump.L2.A",
    "pump.L2.B",
    "loop.L1",
    "loop.L2",
    "radsensor.P01.S1",
    "radsensor.P01.S2",
    "battery",
    "pdu",
    "wing.W1",
    "wing.W2",
)
VALUE = 7.0  # every register reads this (fits every HK format, u8 included)


class _Subscription:
    def __init__(self, bus: _MemoryBus, topics: tuple[Topic, ...]) -> None:
        self.bus = bus
        self.types = tuple(t[0] if isinstance(t, tuple) else t for t in topics)
        self.queue: asyncio.Queue[BusMessage] = asyncio.Queue()

    async def __aenter__(self) -> _Subscription:
        self.bus.subscriptions.append(self)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.bus.subscriptions.remove(self)

    def __aiter__(self) -> _Subscription:
        return self

    async def __anext__(self) -> BusMessage:
        return await self.queue.get()


class _MemoryBus:
    """Just enough of runtime.bus.Bus: in-order delivery by message type, and a record."""

    def __init__(self) -> None:
        self.published: list[BusMessage] = []
        self.subscriptions: list[_Subscription] = []

    def publish(self, message: BusMessage) -> None:
        self.published.append(message)
        for subscription in self.subscriptions:
            if isinstance(message, subscription.types):
                subscription.queue.put_nowait(message)

    def subscribe(self, *topics: Topic) -> _Subscription:
        return _Subscription(self, topics)


class _FakePort:
    """A device port answering every HK register of a device with VALUE; ``silent`` makes
    every request wait the timeout (mission time) then fail, as a dead hwsim does."""

    def __init__(self, clock: SteppedClock, read_s: float = 0.0) -> None:
        self.clock = clock
        self.read_s = read_s
        self.timeout_s = TIMEOUT_S
        self.endpoint = "tcp://fake"
        self.lock = asyncio.Lock()
        self.silent = False
        self.broken: set[str] = set()
        self.requests: list[tuple[float, str]] = []
        self.undecodable_replies = 0
        self.last_undecodable = ""

    timeout_error = DevicePort.timeout_error

    async def _answer(self, what: str, device: str | None, within_s: float | None = None) -> None:
        # One request in flight, as on the real port: others queue behind it; ``within_s``
        # bounds the wait for the port and the reply together (DevicePort.request).
        asked_s = self.clock.now_s()
        timeout_s = self.timeout_s if within_s is None else within_s
        try:
            await self.clock.wait_for(self.lock.acquire(), timeout_s)
        except TimeoutError:
            raise DeviceTimeout("tcp://fake", device, timeout_s) from None
        try:
            self.requests.append((self.clock.now_s(), what))
            if self.silent:
                await self.clock.sleep(timeout_s - (self.clock.now_s() - asked_s))
                raise DeviceTimeout("tcp://fake", device, timeout_s)
            if self.read_s:
                await self.clock.sleep(self.read_s)
        finally:
            self.lock.release()

    async def read_model(self, device: str, within_s: float | None = None) -> dict[str, float]:
        # The port's timing is what is faked here, not hardware behaviour: the values are a
        # flat map (registers_to_parameters takes one as it takes a validated model).
        await self._answer(f"read {device}", device, within_s)
        if device in self.broken:
            raise DevicePortError(device, "device_fault", "simulated")
        return self._values(device)

    async def read_models(
        self, devices: list[str], within_s: float | None = None
    ) -> dict[str, Any]:
        # One round trip for the whole poll cycle, per device its values or its error.
        await self._answer(f"read_many {len(devices)}", None, within_s)
        out: dict[str, Any] = {}
        for device in devices:
            if device in self.broken:
                out[device] = DevicePortError(device, "device_fault", "simulated")
            else:
                out[device] = self._values(device)
        return out

    def _values(self, device: str) -> dict[str, float]:
        prefix = f"{device}."
        return {
            p.name.removeprefix(prefix): VALUE
            for s in dic.HK_STRUCTURES.values()
            for p in s.parameters
            if p.name.startswith(prefix)
        }

    async def list(self, within_s: float | None = None) -> list[str]:
        await self._answer("list", None, within_s)
        return ["timeref", *LISTED, "slot.001", "backplane"]


@contextlib.asynccontextmanager
async def _flight(
    port: _FakePort, bus: _MemoryBus, clock: SteppedClock, config: devices.Config
) -> AsyncIterator[None]:
    def ctx(name: str) -> ServiceContext:
        return ServiceContext(name, clock, bus, port, logging.getLogger(name))  # type: ignore[arg-type]

    tasks = [
        asyncio.create_task(housekeeping.run(ctx("housekeeping"), housekeeping.Config())),
        asyncio.create_task(devices.run(ctx("devices"), config)),
    ]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if not isinstance(result, asyncio.CancelledError):
                raise AssertionError(f"a service ended on its own: {result!r}")


@contextlib.asynccontextmanager
async def _also(work: Coroutine[Any, Any, None] | None) -> AsyncIterator[None]:
    task = asyncio.create_task(work) if work is not None else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _reports(bus: _MemoryBus, sid: int) -> list[tuple[float, dict[str, float | int | None]]]:
    out = []
    for message in bus.published:
        if isinstance(message, TmRequest) and (message.service, message.subservice) == (3, 25):
            got_sid, values = dic.unpack_hk_report(message.source_data)
            if got_sid == sid:
                out.append((message.time_ns / 1e9, values))
    return out


def _events(bus: _MemoryBus, event_id: int) -> list[Event]:
    return [m for m in bus.published if isinstance(m, Event) and m.event_id == event_id]


async def test_never_acquired_parameters_are_invalid_not_zero():
    clock = SteppedClock(start_ns=0)
    bus, port = _MemoryBus(), _FakePort(clock)
    polled = tuple(d for d in LISTED if d != "pump.L1.B")
    async with _flight(port, bus, clock, devices.Config(polled=polled, period_s=PERIOD_S)):
        await clock.sleep(6)
    reports = _reports(bus, 2)
    assert len(reports) >= 3, f"expected HK 2 every 2 s over 6 s, got {len(reports)}"
    for time_s, values in reports[1:]:
        assert values["pump.L1.B.speed_rpm"] is None, f"t={time_s}: never read, yet {values}"
        assert values["pump.L1.B.flow_kg_s"] is None
        assert values["pump.L1.A.speed_rpm"] == VALUE, f"t={time_s}: pump A read, got {values}"
    platform = _reports(bus, 1)[-1][1]
    assert platform["devices.timeouts"] == 0 and platform["devices.errors"] == 0, platform
    assert platform["supervisor.restarts"] is None, "nobody published it here: invalid"


async def test_one_round_trip_per_poll_cycle_and_every_listed_platform_device_polled():
    clock = SteppedClock(start_ns=0)
    bus, port = _MemoryBus(), _FakePort(clock, read_s=0.25)
    async with _flight(port, bus, clock, devices.Config(period_s=PERIOD_S)):
        await clock.sleep(5.1)
    first_seen: dict[str, float] = {}
    for message in bus.published:
        if isinstance(message, ParameterUpdate):
            for name in message.values:
                first_seen.setdefault(name, message.time_ns / 1e9)
    # The listing (0.25 s), then the first cycle's one round trip (0.25 s): all at 0.5 s.
    assert first_seen["pump.L1.A.speed_rpm"] == 0.5, first_seen
    assert first_seen["wing.W2.power_w"] == 0.5, first_seen
    requests = [what for _, what in port.requests]
    assert requests[0] == "list", requests
    cycles = [w for w in requests[1:] if w == f"read_many {len(LISTED)}"]
    assert cycles == requests[1:], f"expected one read_many of {len(LISTED)} a cycle: {requests}"
    assert len(cycles) == 4, f"a cycle every 1.25 s (period + read) over 5.1 s: {requests}"
    assert not any(k.startswith(("slot.", "backplane.", "timeref.")) for k in first_seen)


async def _other_service(port: _FakePort) -> None:
    """Another user of the shared port (as the payload manager is), asking non-stop."""
    while True:
        with contextlib.suppress(DeviceTimeout):
            await port.read_model("backplane")
        await port.clock.sleep(0.1)


@pytest.mark.parametrize("shared", [False, True], ids=["alone", "port_shared"])
async def test_silent_device_port_turns_its_parameters_invalid_then_valid_with_an_event(
    shared: bool,
):
    clock = SteppedClock(start_ns=0)
    bus, port = _MemoryBus(), _FakePort(clock)
    config = devices.Config(period_s=PERIOD_S)
    async with _flight(port, bus, clock, config), _also(_other_service(port) if shared else None):
        await clock.sleep(10.5)
        silent_at = clock.now_s()
        port.silent = True
        await clock.sleep(30)
        back_at = clock.now_s()
        port.silent = False
        await clock.sleep(10)
    thermal = _reports(bus, 2)
    power = _reports(bus, 4)
    before = [v for t, v in thermal if PERIOD_S < t < silent_at]
    assert before and all(x == VALUE for v in before for x in v.values()), before[-1:]
    # Stale within one period plus one device timeout, and stale for the whole silence.
    stale_from = silent_at + PERIOD_S + TIMEOUT_S
    for time_s, values in thermal + power:
        if stale_from <= time_s <= back_at:
            valid = {k: x for k, x in values.items() if x is not None}
            assert not valid, f"t={time_s} (silent since {silent_at}): still valid {valid}"
    silent_reports = [t for t, _ in thermal if stale_from <= t <= back_at]
    assert len(silent_reports) >= 10, f"HK kept coming during the silence: {silent_reports}"
    # Counters stay valid and count the timeouts: one probe per period + timeout, not one
    # timeout per device per pass.
    platform = [v for t, v in _reports(bus, 1) if stale_from <= t <= back_at]
    assert platform[-1]["devices.timeouts"] is not None
    assert 5 <= platform[-1]["devices.timeouts"] <= 30 / (PERIOD_S + TIMEOUT_S) + 1, platform[-1]
    silent_requests = [what for t, what in port.requests if silent_at <= t < back_at]
    reads = [w for w in silent_requests if w.startswith("read") and "backplane" not in w]
    assert len(reads) <= 1, f"a silent port is probed, not read over and over: {reads}"
    # Valid again within one period + one timeout + one HK interval once it answers.
    valid_again = next(t for t, v in thermal if t > back_at and all(x == VALUE for x in v.values()))
    assert valid_again <= back_at + PERIOD_S + TIMEOUT_S + 2.0, (back_at, valid_again)
    assert all(all(x == VALUE for x in v.values()) for t, v in power if t > valid_again + 0.1)
    timeouts = _events(bus, EventId.DEVICE_TIMEOUT)
    assert len(timeouts) == 1 and "device port silent" in timeouts[0].message, timeouts
    recovered = _events(bus, EventId.DEVICES_RECOVERED)
    assert len(recovered) == 1, f"expected one DEVICES_RECOVERED, got {recovered}"
    message = recovered[0].message
    assert "12 of 12 devices valid" in message, message
    silent_s = float(message.split("after ")[1].split(" mission s silent")[0])
    assert 29 <= silent_s <= 30 + PERIOD_S + TIMEOUT_S, message


async def test_a_device_answering_with_errors_goes_invalid_alone():
    clock = SteppedClock(start_ns=0)
    bus, port = _MemoryBus(), _FakePort(clock)
    async with _flight(port, bus, clock, devices.Config(period_s=PERIOD_S)):
        await clock.sleep(4.5)
        port.broken.add("pump.L1.A")
        broken_at = clock.now_s()
        await clock.sleep(6)
        port.broken.clear()
        fixed_at = clock.now_s()
        await clock.sleep(4)
    for time_s, values in _reports(bus, 2):
        if broken_at + PERIOD_S <= time_s <= fixed_at:
            assert values["pump.L1.A.speed_rpm"] is None, f"t={time_s}: {values}"
            assert values["pump.L1.A.power_w"] is None
            others = {k: x for k, x in values.items() if not k.startswith("pump.L1.A.")}
            assert all(x == VALUE for x in others.values()), f"t={time_s}: {others}"
        if time_s >= fixed_at + PERIOD_S:
            assert values["pump.L1.A.speed_rpm"] == VALUE, f"t={time_s}: {values}"
    errors = _events(bus, EventId.DEVICE_ERROR)
    assert len(errors) == 1 and "pump.L1.A" in errors[0].message, errors
    assert not _events(bus, EventId.DEVICES_RECOVERED), "the port itself never went silent"


async def test_ground_gets_none_for_a_device_never_read_through_the_real_link():
    """The whole chain: hwsim, flight software and a ground station over UDP (in-process)."""
    polled = tuple(d for d in LISTED if d != "wing.W2")
    specs = [
        ServiceSpec("devices", devices.run, devices.Config(polled=polled))
        if spec.name == "devices"
        else spec
        for spec in services(FlightSettings(port=0))
    ]
    async with (
        in_process_satellite(specs) as sat,
        Ground("127.0.0.1", sat.udp_port, clock=sat.clock) as ground,
    ):
        await ground.ping()
        power = await ground.wait_for(
            lambda tm: tm.sid == 4 and tm.value("wing.W1.power_w") >= 0, timeout=20
        )
    assert power.parameters["wing.W2.power_w"] is None, power.parameters
    assert power.parameters["wing.W2.temp_k"] is None
    assert set(power.invalid) == {p for p in power.parameters if p.startswith("wing.W2.")}
    assert power.value("battery.soc") > 0


async def test_a_hardware_down_notice_invalidates_every_device_value_at_once():
    """A hwsim that dies and comes back faster than a device timeout must not leave its last
    readings valid: the supervisor's notice (HardwareDown) invalidates them at once."""
    clock = SteppedClock(start_ns=0)
    bus, port = _MemoryBus(), _FakePort(clock)
    # A long period: no read between the notice and the next HK report.
    async with _flight(port, bus, clock, devices.Config(period_s=30.0)):
        await clock.sleep(3)
        assert _reports(bus, 2)[-1][1]["pump.L1.A.speed_rpm"] == VALUE
        down_s = clock.now_s()
        bus.publish(HardwareDown(reason="was killed by SIGKILL"))
        await clock.sleep(4.5)
    after = [values for time_s, values in _reports(bus, 2) if time_s > down_s]
    assert after, "no HK 2 after the notice"
    for values in after:
        assert values["pump.L1.A.speed_rpm"] is None, f"still valid after the notice: {values}"
        assert values["radsensor.P01.S1.temp_k"] is None, values


async def test_a_port_answering_undecodable_replies_is_reported_as_such_not_as_silent():
    """The real device-port client against an endpoint whose every reply fails at the
    envelope (a bad time_ns): the timeout event says how many undecodable replies came and
    why, instead of only "no reply"."""
    import msgpack
    import zmq
    import zmq.asyncio

    clock = SteppedClock(start_ns=0)
    context = zmq.asyncio.Context()
    router = context.socket(zmq.ROUTER)
    router.linger = 0
    router.bind("inproc://undecodable-hardware")

    async def broken_hardware() -> None:
        while True:
            peer, frame = await router.recv_multipart()
            request = msgpack.unpackb(frame)
            bad = {"v": 1, "id": request["id"], "ok": True, "time_ns": "soon", "result": {}}
            await router.send_multipart([peer, msgpack.packb(bad)])

    bus = _MemoryBus()
    try:
        async with (
            DevicePort(context, "inproc://undecodable-hardware", clock, TIMEOUT_S) as port,
            _also(broken_hardware()),
            _flight(port, bus, clock, devices.Config(polled=("battery",), period_s=PERIOD_S)),
        ):
            await clock.sleep(3 * TIMEOUT_S)
    finally:
        router.close()
        context.destroy(linger=0)
    timeouts = _events(bus, EventId.DEVICE_TIMEOUT)
    assert timeouts, "no DEVICE_TIMEOUT event"
    message = timeouts[0].message
    assert "1 undecodable replies meanwhile: field time_ns" in message, message
    assert "'soon'" in message, message
    assert port.undecodable_replies >= 1 and "time_ns" in port.last_undecodable, (
        port.undecodable_replies,
        port.last_undecodable,
    )


class _OldPort(_FakePort):
    """A port of an older hwsim: no read_many (it answers unknown_op)."""

    async def read_models(
        self, devices: list[str], within_s: float | None = None
    ) -> dict[str, Any]:
        await self._answer("read_many", None, within_s)
        raise DevicePortError(None, "unknown_op", "unknown op 'read_many'")


async def test_a_port_without_read_many_is_read_device_by_device():
    clock = SteppedClock(start_ns=0)
    bus, port = _MemoryBus(), _OldPort(clock)
    async with _flight(port, bus, clock, devices.Config(polled=LISTED, period_s=PERIOD_S)):
        await clock.sleep(4.5)
    asked = [what for _, what in port.requests]
    assert asked.count("read_many") == 1, f"asked for read_many once only: {asked}"
    assert asked.count("read pump.L1.A") >= 4, f"then device by device every period: {asked}"
    values = _reports(bus, 2)[-1][1]
    assert all(x == VALUE for x in values.values()), values
    errors = _events(bus, EventId.DEVICE_ERROR)
    assert len(errors) == 1 and "reading device by device" in errors[0].message, errors


class _RefusingPort(_FakePort):
    """A port that refuses the batch itself (the request, not a device)."""

    refuse = True

    async def read_models(
        self, devices: list[str], within_s: float | None = None
    ) -> dict[str, Any]:
        await self._answer("read_many", None, within_s)
        if self.refuse:
            raise DevicePortError(None, "bad_argument", "simulated refusal")
        return await super().read_models(devices, within_s)


async def test_a_refused_batch_invalidates_every_device_with_one_event():
    clock = SteppedClock(start_ns=0)
    bus, port = _MemoryBus(), _RefusingPort(clock)
    async with _flight(port, bus, clock, devices.Config(polled=LISTED, period_s=PERIOD_S)):
        await clock.sleep(4.5)
        refused = _reports(bus, 2)[-1][1]
        port.refuse = False
        await clock.sleep(4)
    assert all(x is None for x in refused.values()), f"valid despite the refusal: {refused}"
    errors = _events(bus, EventId.DEVICE_ERROR)
    assert len(errors) == 1, f"one event for the refused batch, not one per device: {errors}"
    assert "simulated refusal" in errors[0].message and "all 12 polled" in errors[0].message
    values = _reports(bus, 2)[-1][1]
    assert all(x == VALUE for x in values.values()), f"valid again once it answers: {values}"
    platform = _reports(bus, 1)[-1][1]
    assert platform["devices.errors"] is not None and platform["devices.errors"] >= 4, platform
