"""The software bus: a ZeroMQ XSUB/XPUB broker, one topic per message type, msgpack payloads.

Publishers connect a PUB socket to the broker's XSUB side, subscribers a SUB socket to its
XPUB side. Message types are pydantic models deriving from :class:`BusMessage` with a
``TOPIC``; the payload is validated where it enters a subscriber, and a message that fails
validation is counted and dropped rather than reaching the service.

Endpoints are plain ZeroMQ endpoints: ``inproc://`` for one process, ``tcp://127.0.0.1:PORT``
when other local processes (dashboards, taps) should see the bus.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import threading
from collections import deque
from collections.abc import AsyncIterator
from typing import Any, ClassVar

import msgpack
import zmq
import zmq.asyncio
from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = ["Broker", "Bus", "BusMessage", "BusStats", "Subscription"]

log = logging.getLogger(__name__)

# Topic frames end with a NUL so ZeroMQ's prefix matching never confuses "hk" with "hk.report".
_TOPIC_END = b"\x00"
_PROBE_PREFIX = b"_probe."
# After one awaited receive, take what is already queued without awaiting again: one await
# per message caps asyncio at a fraction of the socket's rate (REFERENCE.md, bus ceiling).
_DRAIN_BATCH = 256


class BusMessage(BaseModel):
    """Base of every bus message; subclasses set ``TOPIC``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    TOPIC: ClassVar[str]

    @classmethod
    def topic_frame(cls) -> bytes:
        return cls.TOPIC.encode() + _TOPIC_END


class BusStats:
    """Counters the housekeeping service reports."""

    def __init__(self) -> None:
        self.published = 0
        self.received = 0
        self.rejected = 0


class Broker:
    """XSUB/XPUB forwarder running in its own thread (libzmq's proxy releases the GIL)."""

    def __init__(self, context: zmq.Context[Any], pub_endpoint: str, sub_endpoint: str) -> None:
        self._context = context
        self.pub_endpoint = pub_endpoint
        self.sub_endpoint = sub_endpoint
        self._control_endpoint = f"inproc://bus-control-{os.getpid()}-{id(self)}"
        self._thread: threading.Thread | None = None
        self._bound = threading.Event()
        self._error: BaseException | None = None

    def _serve(self) -> None:
        frontend = self._context.socket(zmq.XSUB)
        backend = self._context.socket(zmq.XPUB)
        control = self._context.socket(zmq.PAIR)
        for sock in (frontend, backend, control):
            sock.linger = 0
        try:
            frontend.bind(self.pub_endpoint)
            backend.bind(self.sub_endpoint)
            # Resolve tcp://...:0 into the real port so clients can connect.
            self.pub_endpoint = frontend.last_endpoint.decode()
            self.sub_endpoint = backend.last_endpoint.decode()
            control.bind(self._control_endpoint)
        except zmq.ZMQError as exc:
            self._error = exc
            self._bound.set()
            for sock in (frontend, backend, control):
                sock.close()
            return
        self._bound.set()
        try:
            zmq.proxy_steerable(frontend, backend, None, control)
        except zmq.ContextTerminated:
            pass
        finally:
            for sock in (frontend, backend, control):
                sock.close()

    async def __aenter__(self) -> Broker:
        self._thread = threading.Thread(target=self._serve, name="bus-broker", daemon=True)
        self._thread.start()
        await asyncio.to_thread(self._bound.wait)
        if self._error is not None:
            raise self._error
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._thread is None or not self._thread.is_alive():
            return
        stopper = self._context.socket(zmq.PAIR)
        stopper.linger = 0
        try:
            stopper.connect(self._control_endpoint)
            stopper.send(b"TERMINATE")
            await asyncio.to_thread(self._thread.join, 5.0)
        finally:
            stopper.close()


class Bus:
    """A process's handle on the software bus: one PUB socket, any number of subscriptions."""

    def __init__(self, context: zmq.asyncio.Context, pub_endpoint: str, sub_endpoint: str) -> None:
        self._context = context
        self.pub_endpoint = pub_endpoint
        self.sub_endpoint = sub_endpoint
        self.stats = BusStats()
        # PUB never blocks (it drops at the high-water mark), so a plain socket on the same
        # libzmq context lets publish() stay synchronous and cheap.
        self._sync_context = zmq.Context.shadow(context.underlying)
        self._pub = self._sync_context.socket(zmq.PUB)
        self._pub.linger = 0
        self._pub.sndhwm = 100_000
        self._pub.connect(pub_endpoint)
        self._probe_ids = itertools.count()
        self.on_rejected: list[Any] = []

    def publish(self, message: BusMessage) -> None:
        self._pub.send_multipart((message.topic_frame(), msgpack.packb(message.model_dump())))
        self.stats.published += 1

    def publish_raw(self, topic: str, payload: bytes) -> None:
        """Send bytes under a topic without validation (tests of the validation path use it)."""
        self._pub.send_multipart((topic.encode() + _TOPIC_END, payload))

    def subscribe(self, *message_types: type[BusMessage]) -> Subscription:
        return Subscription(self, message_types)

    def close(self) -> None:
        self._pub.close()


class Subscription:
    """An async iterator of validated messages of the given types.

    Entering it waits until the broker demonstrably routes to it (a probe round-trip), so
    nothing published after ``async with`` returns can be lost to ZeroMQ's slow joiner.
    """

    def __init__(self, bus: Bus, message_types: tuple[type[BusMessage], ...]) -> None:
        self._bus = bus
        self._types = {t.topic_frame(): t for t in message_types}
        self._queue: deque[BusMessage] = deque()
        self._socket: zmq.asyncio.Socket | None = None
        self._drain_socket: zmq.Socket[bytes]

    async def __aenter__(self) -> Subscription:
        sock = self._bus._context.socket(zmq.SUB)
        sock.linger = 0
        sock.rcvhwm = 100_000
        sock.connect(self._bus.sub_endpoint)
        for topic in self._types:
            sock.subscribe(topic)
        probe = _PROBE_PREFIX + f"{os.getpid()}.{id(self)}.{next(self._bus._probe_ids)}".encode()
        probe_topic = probe + _TOPIC_END
        sock.subscribe(probe_topic)
        self._socket = sock
        # A synchronous view of the same socket drains without creating a future per message.
        self._drain_socket = zmq.Socket.shadow(sock.underlying)
        try:
            await self._await_probe(sock, probe_topic)
        except BaseException:
            sock.close()
            raise
        sock.unsubscribe(probe_topic)
        return self

    async def _await_probe(self, sock: zmq.asyncio.Socket, probe_topic: bytes) -> None:
        while True:
            self._bus._pub.send_multipart((probe_topic, b""))
            if await sock.poll(timeout=20):
                while await sock.poll(timeout=0):
                    frames = await sock.recv_multipart()
                    if frames[0] == probe_topic:
                        # Drain the remaining probes so they never reach the service.
                        while await sock.poll(timeout=0):
                            more = await sock.recv_multipart()
                            if more[0] != probe_topic:
                                self._accept(more)
                        return
                    self._accept(frames)

    async def __aexit__(self, *exc_info: object) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def _accept(self, frames: list[bytes]) -> None:
        if len(frames) != 2:
            self._reject(f"expected 2 frames, got {len(frames)}")
            return
        message_type = self._types.get(frames[0])
        if message_type is None:
            return  # a leftover probe
        try:
            message = message_type.model_validate(msgpack.unpackb(frames[1]))
        except (ValidationError, ValueError, msgpack.ExtraData, TypeError) as exc:
            self._reject(f"{message_type.TOPIC}: {exc}")
            return
        self._bus.stats.received += 1
        self._queue.append(message)

    def _reject(self, reason: str) -> None:
        self._bus.stats.rejected += 1
        log.warning("bus message rejected: %s", reason)
        for callback in self._bus.on_rejected:
            callback(reason)

    async def recv(self) -> BusMessage:
        sock = self._socket
        if sock is None:
            raise RuntimeError("subscription is not open: use 'async with bus.subscribe(...)'")
        while not self._queue:
            self._accept(await sock.recv_multipart())
            drain = self._drain_socket
            for _ in range(_DRAIN_BATCH):
                try:
                    self._accept(drain.recv_multipart(flags=zmq.NOBLOCK))
                except zmq.Again:
                    break
        return self._queue.popleft()

    def drain_nowait(self) -> list[BusMessage]:
        """Everything already delivered to this subscription, without waiting (shutdown)."""
        if self._socket is not None:
            while True:
                try:
                    self._accept(self._drain_socket.recv_multipart(flags=zmq.NOBLOCK))
                except zmq.Again:
                    break
        drained = list(self._queue)
        self._queue.clear()
        return drained

    def __aiter__(self) -> AsyncIterator[BusMessage]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[BusMessage]:
        while True:
            yield await self.recv()
