"""An in-process software bus with the :class:`runtime.bus.Bus` API, without ZeroMQ.

For a whole satellite in one process on the stepped clock (``computesat.inprocess``): every
publisher and subscriber lives in the same event loop, so a message is handed to the matching
subscriptions as the frozen model itself (validated when it was built, as ``Bus`` does for
its own process's subscribers) and there is no broker thread, no socket and no probe
round-trip. Topic matching is ZeroMQ's prefix rule, as on the real bus.

Validation where it matters: what comes in as bytes (:meth:`LocalBus.publish_raw`, the path of
another tool speaking the wire format) is decoded and validated into the subscription's type;
a frame that does not validate is counted (``stats.rejected``), reported to ``on_rejected`` and
dropped, exactly as a subscription of the real bus does. A published object that is no
``BusMessage`` is refused at once (TypeError): it could never have been packed.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgpack
from pydantic import ValidationError

from runtime.bus import BusMessage, BusStats, Topic

__all__ = ["LocalBus", "LocalSubscription"]

_TOPIC_END = b"\x00"


class LocalBus:
    """The software bus of one process, in memory (the :class:`runtime.bus.Bus` API)."""

    def __init__(self, name: str = "local") -> None:
        self.pub_endpoint = f"local://{name}-pub"
        self.sub_endpoint = f"local://{name}-sub"
        self.stats = BusStats()
        self.on_rejected: list[Callable[[str], Any]] = []
        self._local: list[LocalSubscription] = []
        # topic frame -> subscriptions that want it; cleared when a subscription comes or goes
        self._routes: dict[bytes, list[LocalSubscription]] = {}

    def publish(self, message: BusMessage) -> None:
        if not isinstance(message, BusMessage):
            raise TypeError(f"cannot put {type(message).__name__} on the bus")
        frame = message.frame()
        route = self._routes.get(frame)
        if route is None:
            route = self._routes[frame] = [s for s in self._local if s.wants(frame)]
        for subscription in route:
            subscription.deliver(message)
        self.stats.published += 1

    def publish_raw(self, topic: str, payload: bytes) -> None:
        """Bytes under a topic, validated where they enter each subscription (as on the real
        bus: a frame that fails is counted and dropped, never reaching the service)."""
        frame = topic.encode() + _TOPIC_END
        for subscription in [s for s in self._local if s.wants(frame)]:
            subscription.accept_raw(frame, payload)

    def subscribe(self, *topics: Topic, remote: bool = False) -> LocalSubscription:
        """Messages of the given types; ``(Type, key)`` takes one key of a keyed type
        (``remote`` is accepted for API compatibility: there is no other process)."""
        return LocalSubscription(self, topics)

    def close(self) -> None:
        self._local.clear()
        self._routes.clear()

    def _reject(self, reason: str) -> None:
        self.stats.rejected += 1
        for callback in self.on_rejected:
            callback(reason)

    def _attach(self, subscription: LocalSubscription) -> None:
        self._local.append(subscription)
        self._routes.clear()

    def _detach(self, subscription: LocalSubscription) -> None:
        if subscription in self._local:
            self._local.remove(subscription)
            self._routes.clear()


class LocalSubscription:
    """An async iterator of messages of the given types (the ``Subscription`` API)."""

    def __init__(self, bus: LocalBus, topics: tuple[Topic, ...]) -> None:
        self._bus = bus
        self._prefixes: list[bytes] = []
        self._types: dict[bytes, type[BusMessage]] = {}
        for topic in topics:
            message_type, key = topic if isinstance(topic, tuple) else (topic, None)
            self._prefixes.append(message_type.subscription_prefix(key))
            self._types[message_type.TOPIC.encode()] = message_type
        self._queue: deque[BusMessage] = deque()
        self._wakeup: asyncio.Future[None] | None = None
        self._open = False

    async def __aenter__(self) -> LocalSubscription:
        # Routed from the moment it is entered: nothing published after this can be lost.
        self._bus._attach(self)
        self._open = True
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._bus._detach(self)
        self._open = False
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.cancel()

    def wants(self, frame: bytes) -> bool:
        """ZeroMQ's prefix rule."""
        return any(frame.startswith(prefix) for prefix in self._prefixes)

    def deliver(self, message: BusMessage) -> None:
        self._bus.stats.received += 1
        self._queue.append(message)
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    def accept_raw(self, frame: bytes, payload: bytes) -> None:
        topic = frame.rstrip(_TOPIC_END)
        message_type = self._types.get(topic)
        if message_type is None and b"." in topic:
            message_type = self._types.get(topic.rsplit(b".", 1)[0])  # a keyed topic
        if message_type is None:
            return
        try:
            message = message_type.model_validate(msgpack.unpackb(payload))
        except (ValidationError, ValueError, msgpack.ExtraData, TypeError) as exc:
            self._bus._reject(f"{message_type.TOPIC}: {exc}")
            return
        self.deliver(message)

    async def recv(self) -> BusMessage:
        if not self._open:
            raise RuntimeError("subscription is not open: use 'async with bus.subscribe(...)'")
        while not self._queue:
            wakeup = asyncio.get_running_loop().create_future()
            self._wakeup = wakeup
            try:
                await wakeup
            finally:
                self._wakeup = None
        return self._queue.popleft()

    def drain_nowait(self) -> list[BusMessage]:
        drained = list(self._queue)
        self._queue.clear()
        return drained

    def __aiter__(self) -> AsyncIterator[BusMessage]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[BusMessage]:
        while True:
            yield await self.recv()
