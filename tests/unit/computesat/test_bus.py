"""The software bus: typed topics, validation where data enters, no slow-joiner loss."""

from __future__ import annotations

from typing import Any

import msgpack
import pytest
import zmq.asyncio

from runtime.bus import Broker, Bus, BusMessage, Subscription
from runtime.clock import WallClock

# Each test is a few loopback round trips: a hang shows within half a minute, loaded or not.
pytestmark = pytest.mark.timeout(30)

# The bus has no clock of its own; a real-time mission clock bounds every receive so that a
# lost message fails with a message saying so instead of hanging the test. Generous: a
# loopback message under load takes milliseconds, this is only a bound, never a window.
_CLOCK = WallClock()
_RECV_TIMEOUT_S = 20.0


async def _recv(subscription: Subscription) -> Any:
    try:
        return await _CLOCK.wait_for(subscription.recv(), _RECV_TIMEOUT_S)
    except TimeoutError:
        raise AssertionError(f"no message within {_RECV_TIMEOUT_S} s on the bus") from None


class Reading(BusMessage):
    TOPIC = "reading"
    sensor: str
    temp_k: float


class ReadingSummary(BusMessage):
    TOPIC = "reading.summary"  # a prefix of another topic must not leak into it
    count: int


async def _with_bus(body) -> None:
    context = zmq.asyncio.Context()
    try:
        async with Broker(context, "tcp://127.0.0.1:0", "tcp://127.0.0.1:0") as broker:
            bus = Bus(context, broker.pub_endpoint, broker.sub_endpoint)
            try:
                await body(bus)
            finally:
                bus.close()
    finally:
        context.term()


async def test_messages_published_after_subscribing_all_arrive_typed_and_in_order():
    async def body(bus: Bus) -> None:
        async with bus.subscribe(Reading) as readings:
            for i in range(1000):
                bus.publish(Reading(sensor=f"S{i}", temp_k=300 + i))
            bus.publish(ReadingSummary(count=1000))
            received = [await _recv(readings) for _ in range(1000)]
        assert all(isinstance(r, Reading) for r in received)
        assert [r.sensor for r in received] == [f"S{i}" for i in range(1000)]

    await _with_bus(body)


async def test_invalid_payloads_are_counted_and_dropped_not_delivered():
    async def body(bus: Bus) -> None:
        rejected: list[str] = []
        bus.on_rejected.append(rejected.append)
        async with bus.subscribe(Reading) as readings:
            bus.publish_raw("reading", b"\xc1")  # not msgpack
            bus.publish_raw("reading", msgpack.packb({"sensor": "S1"}))  # missing field
            bus.publish_raw("reading", msgpack.packb({"sensor": "S1", "temp_k": "hot"}))
            bus.publish_raw("reading", msgpack.packb([1, 2]))
            # Raw frames take the broker path, in order: the good one comes after the bad.
            bus.publish_raw("reading", msgpack.packb({"sensor": "ok", "temp_k": 1.0}))
            good = await _recv(readings)
        assert good == Reading(sensor="ok", temp_k=1.0)
        assert bus.stats.rejected == 4
        assert len(rejected) == 4 and all(r.startswith("reading") for r in rejected)

    await _with_bus(body)


async def test_one_subscription_many_types():
    async def body(bus: Bus) -> None:
        async with bus.subscribe(Reading, ReadingSummary) as both:
            bus.publish(ReadingSummary(count=1))
            bus.publish(Reading(sensor="a", temp_k=2))
            first, second = await _recv(both), await _recv(both)
        assert isinstance(first, ReadingSummary) and isinstance(second, Reading)

    await _with_bus(body)


class Command(BusMessage):
    TOPIC = "command"
    TOPIC_KEY = "service"
    service: int
    body: str


async def test_keyed_topics_reach_only_their_key_and_unkeyed_subscribers_get_all():
    async def body(bus: Bus) -> None:
        async with bus.subscribe((Command, 17)) as only_17, bus.subscribe(Command) as every:
            bus.publish(Command(service=3, body="hk"))
            bus.publish(Command(service=17, body="ping"))
            bus.publish(Command(service=170, body="not 17"))
            assert (await _recv(only_17)).body == "ping"
            assert [(await _recv(every)).body for _ in range(3)] == ["hk", "ping", "not 17"]
            bus.publish(Command(service=17, body="again"))
            assert (await _recv(only_17)).body == "again"  # 3 and 170 never queued here

    await _with_bus(body)


async def test_in_process_messages_arrive_once_and_other_processes_see_them():
    async def body(bus: Bus) -> None:
        other_process = Bus(bus._context, bus.pub_endpoint, bus.sub_endpoint)  # another origin
        try:
            async with (
                bus.subscribe(Reading) as local,
                other_process.subscribe(Reading, remote=True) as remote,
            ):
                # A publisher learns of a remote subscriber asynchronously (PUB/SUB's slow
                # joiner): publish until the first message gets through, bounded.
                for attempt in range(1000):
                    bus.publish(Reading(sensor=f"warm-up {attempt}", temp_k=0))
                    assert (await _recv(local)).sensor == f"warm-up {attempt}"
                    if remote.drain_nowait():
                        break
                else:
                    raise AssertionError("the remote subscription never heard the bus")
                bus.publish(Reading(sensor="a", temp_k=1))
                bus.publish(Reading(sensor="b", temp_k=2))
                assert [(await _recv(local)).sensor for _ in range(2)] == ["a", "b"]
                heard: list[str] = []
                # Bounded by count: every warm-up may still arrive late, then "a" and "b".
                for _ in range(attempt + 1 + 2):
                    sensor = (await _recv(remote)).sensor
                    if not sensor.startswith("warm-up"):  # late warm-ups may still arrive
                        heard.append(sensor)
                    if "b" in heard:
                        break
                assert heard == ["a", "b"], f"expected the remote to hear a then b, got {heard}"
                bus.publish_raw("reading", msgpack.packb({"sensor": "end", "temp_k": 0.0}))
                assert (await _recv(local)).sensor == "end"  # no duplicate "a"/"b" before it
        finally:
            other_process.close()

    await _with_bus(body)


async def test_messages_nobody_remote_wants_are_not_sent_to_the_broker():
    async def body(bus: Bus) -> None:
        async with bus.subscribe(Reading) as local:
            for i in range(100):
                bus.publish(Reading(sensor=str(i), temp_k=1))
            assert [(await _recv(local)).sensor for _ in range(100)] == [str(i) for i in range(100)]
        assert bus._remote_prefixes == set()  # local subscriptions never ask the broker
        assert not any(bus._remote_wanted.values())

    await _with_bus(body)
