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

__all__ = ["QUEUE_DEPTH", "Broker", "Bus", "BusMessage", "BusStats", "Subscription", "Topic"]

log = logging.getLogger(__name__)

# Topic frames end with a NUL so ZeroMQ's prefix matching never confuses "hk" with "hk.report".
_TOPIC_END = b"\x00"
_PROBE_PREFIX = b"_probe."
# Topic frames of messages a Bus publishes start with this byte on the broker, so a process's
# own subscriptions (served in-process) never subscribe to them.
_BUS_NAMESPACE = b"\x01"
# After one awaited receive, take what is already queued without awaiting again: one await
# per message caps asyncio at a fraction of the socket's rate (REFERENCE.md, bus ceiling).
_DRAIN_BATCH = 256
# Publishes between two looks at which topics remote subscribers want.
_SUBSCRIPTION_CHECK_EVERY = 16
# Messages a socket queues before dropping (PUB, broker, SUB alike).
QUEUE_DEPTH = 100_000


class BusMessage(BaseModel):
    """Base of every bus message; subclasses set ``TOPIC``.

    A type with a ``TOPIC_KEY`` (a field name) is published under ``TOPIC.<value>``, so a
    subscriber can take one key (``bus.subscribe((TcDispatch, 17))``) and leave the rest to
    ZeroMQ's filtering, or all keys (``bus.subscribe(TcDispatch)``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    TOPIC: ClassVar[str]
    TOPIC_KEY: ClassVar[str | None] = None

    @classmethod
    def topic_frame(cls) -> bytes:
        return cls.TOPIC.encode() + _TOPIC_END

    def frame(self) -> bytes:
        """The topic frame this message is published under."""
        if self.TOPIC_KEY is None:
            return _topic_frames.get(type(self)) or _topic_frames.setdefault(
                type(self), self.topic_frame()
            )
        return f"{self.TOPIC}.{getattr(self, self.TOPIC_KEY)}".encode() + _TOPIC_END

    @classmethod
    def subscription_prefix(cls, key: object = None) -> bytes:
        if cls.TOPIC_KEY is None:
            return cls.topic_frame()
        if key is None:
            return f"{cls.TOPIC}.".encode()
        return f"{cls.TOPIC}.{key}".encode() + _TOPIC_END


_topic_frames: dict[type[BusMessage], bytes] = {}


def _plain(value: object) -> object:
    """msgpack's fallback for what it cannot pack itself. Packing ``__dict__`` with this
    is several times cheaper than ``model_dump()`` on the publish path."""
    if isinstance(value, BaseModel):
        return value.model_dump()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot put {type(value).__name__} on the bus")


Topic = type[BusMessage] | tuple[type[BusMessage], object]


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
        # ZeroMQ's default of 1 000 queued messages drops bursts at the broker even when
        # the publishers and subscribers could hold them.
        frontend.rcvhwm = backend.sndhwm = QUEUE_DEPTH
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
    """A process's handle on the software bus: one PUB socket, any number of subscriptions.

    Messages between services of the same process are handed straight to the matching
    subscriptions (the frozen model itself: it was validated when it was built), which keeps a
    bus hop to a queue append and a wake-up. Every message also goes to the broker, in the
    bus namespace (topic frame prefixed with ``\x01``, origin in a third frame), for
    subscriptions in other processes that ask for it (``remote=True``: taps, dashboards,
    services split across processes). Frames in the plain namespace — another tool speaking
    the wire format — reach every subscription of the topic. Whatever arrives through the
    broker is validated on entry; a process never hears its own messages twice.
    """

    def __init__(self, context: zmq.asyncio.Context, pub_endpoint: str, sub_endpoint: str) -> None:
        self._context = context
        self.pub_endpoint = pub_endpoint
        self.sub_endpoint = sub_endpoint
        self.stats = BusStats()
        self.origin = os.urandom(8)
        # An XPUB never blocks (it drops at the high-water mark), so a plain socket on the
        # same libzmq context keeps publish() synchronous. XPUB rather than PUB because it
        # hears which topics remote subscribers want (forwarded by the broker): a message
        # nobody outside this process wants is neither serialised nor sent.
        self._sync_context = zmq.Context.shadow(context.underlying)
        self._pub = self._sync_context.socket(zmq.XPUB)
        self._pub.linger = 0
        self._pub.sndhwm = QUEUE_DEPTH
        self._pub.connect(pub_endpoint)
        self._remote_prefixes: set[bytes] = set()
        self._remote_wanted: dict[bytes, bool] = {}
        self._probe_ids = itertools.count()
        self._local: list[Subscription] = []
        self.on_rejected: list[Any] = []

    def publish(self, message: BusMessage) -> None:
        frame = message.frame()
        for subscription in self._local:
            if subscription.wants(frame):
                subscription.deliver(message)
        self.stats.published += 1
        # Asking the socket costs more than a publish; a new remote subscriber is noticed
        # within a few messages, which PUB/SUB's slow-joiner semantics allow anyway.
        if self.stats.published % _SUBSCRIPTION_CHECK_EVERY == 1 and (
            self._pub.getsockopt(zmq.EVENTS) & zmq.POLLIN
        ):
            self._update_remote_subscriptions()
        remote_frame = _BUS_NAMESPACE + frame
        wanted = self._remote_wanted.get(remote_frame)
        if wanted is None:
            wanted = any(remote_frame.startswith(p) for p in self._remote_prefixes)
            self._remote_wanted[remote_frame] = wanted
        if wanted:
            self._pub.send_multipart(
                (remote_frame, msgpack.packb(message.__dict__, default=_plain), self.origin)
            )

    def _update_remote_subscriptions(self) -> None:
        """Read the (un)subscriptions the broker forwarded: b"\x01"+prefix / b"\x00"+prefix."""
        while True:
            try:
                change = self._pub.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            prefix = change[1:]
            if not prefix.startswith(_BUS_NAMESPACE):
                continue  # a plain-namespace or probe subscription: not for bus messages
            if change[:1] == b"\x01":
                self._remote_prefixes.add(prefix)
            else:
                self._remote_prefixes.discard(prefix)
            self._remote_wanted.clear()

    def publish_raw(self, topic: str, payload: bytes) -> None:
        """Send bytes under a topic without validation (tests of the validation path use it)."""
        self._pub.send_multipart((topic.encode() + _TOPIC_END, payload))

    def subscribe(self, *topics: Topic, remote: bool = False) -> Subscription:
        """Messages of the given types; ``(Type, key)`` takes one key of a keyed type.

        ``remote`` adds what other processes' buses publish on the same broker.
        """
        return Subscription(self, topics, remote)

    def close(self) -> None:
        self._pub.close()


class Subscription:
    """An async iterator of validated messages of the given types.

    Entering it waits until the broker demonstrably routes to it (a probe round-trip), so
    nothing published after ``async with`` returns can be lost to ZeroMQ's slow joiner.
    """

    def __init__(self, bus: Bus, topics: tuple[Topic, ...], remote: bool = False) -> None:
        self._bus = bus
        self._remote = remote
        self._prefixes: list[bytes] = []
        self._types: dict[bytes, type[BusMessage]] = {}
        for topic in topics:
            message_type, key = topic if isinstance(topic, tuple) else (topic, None)
            self._prefixes.append(message_type.subscription_prefix(key))
            self._types[message_type.TOPIC.encode()] = message_type
        self._queue: deque[BusMessage] = deque()
        self._socket: zmq.asyncio.Socket | None = None
        self._drain_socket: zmq.Socket[bytes]
        self._wakeup: asyncio.Future[None] | None = None
        self._readable: asyncio.Future[Any] | None = None
        self._frame_types: dict[bytes, type[BusMessage]] = {}

    async def __aenter__(self) -> Subscription:
        sock = self._bus._context.socket(zmq.SUB)
        sock.linger = 0
        sock.rcvhwm = QUEUE_DEPTH
        sock.connect(self._bus.sub_endpoint)
        for prefix in self._prefixes:
            sock.subscribe(prefix)
            if self._remote:
                sock.subscribe(_BUS_NAMESPACE + prefix)
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
        self._bus._local.append(self)
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
        if self in self._bus._local:
            self._bus._local.remove(self)
        if self._readable is not None:
            self._readable.cancel()
            self._readable = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def wants(self, frame: bytes) -> bool:
        """ZeroMQ's prefix rule, for messages delivered in-process."""
        return any(frame.startswith(prefix) for prefix in self._prefixes)

    def deliver(self, message: BusMessage) -> None:
        """Take a message published by a service of this process."""
        self._bus.stats.received += 1
        self._queue.append(message)
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)

    def _accept(self, frames: list[bytes]) -> None:
        if len(frames) == 3 and frames[2] == self._bus.origin:
            return  # ours: already delivered in-process
        if len(frames) not in (2, 3):
            self._reject(f"expected 2 or 3 frames, got {len(frames)}")
            return
        message_type = self._frame_types.get(frames[0])
        if message_type is None:
            message_type = self._type_of(frames[0])
            if message_type is None:
                return  # a leftover probe
            self._frame_types[frames[0]] = message_type
        try:
            message = message_type.model_validate(msgpack.unpackb(frames[1]))
        except (ValidationError, ValueError, msgpack.ExtraData, TypeError) as exc:
            self._reject(f"{message_type.TOPIC}: {exc}")
            return
        self._bus.stats.received += 1
        self._queue.append(message)

    def _type_of(self, topic_frame: bytes) -> type[BusMessage] | None:
        topic = topic_frame.removeprefix(_BUS_NAMESPACE).rstrip(_TOPIC_END)
        found = self._types.get(topic)
        if found is None and b"." in topic:
            found = self._types.get(topic.rsplit(b".", 1)[0])  # a keyed topic
        return found

    def _reject(self, reason: str) -> None:
        self._bus.stats.rejected += 1
        log.warning("bus message rejected: %s", reason)
        for callback in self._bus.on_rejected:
            callback(reason)

    def _drain(self) -> int:
        """Accept up to a batch of frames already queued on the socket; returns how many."""
        drain = self._drain_socket
        for count in range(_DRAIN_BATCH):
            try:
                self._accept(drain.recv_multipart(flags=zmq.NOBLOCK))
            except zmq.Again:
                return count
        return _DRAIN_BATCH

    async def recv(self) -> BusMessage:
        sock = self._socket
        if sock is None:
            raise RuntimeError("subscription is not open: use 'async with bus.subscribe(...)'")
        while not self._queue:
            self._drain()
            if self._queue:
                break
            # Wait for whichever comes first: a frame from the broker or an in-process message.
            # The poll future outlives a wake-up by a local message and serves the next wait
            # too: re-arming it costs a selector registration on every hop.
            wakeup = asyncio.get_running_loop().create_future()
            self._wakeup = wakeup
            if self._readable is None:
                self._readable = sock.poll(flags=zmq.POLLIN)
            try:
                await asyncio.wait((self._readable, wakeup), return_when=asyncio.FIRST_COMPLETED)
            finally:
                self._wakeup = None
                if self._readable.done():
                    self._readable = None
        return self._queue.popleft()

    def drain_nowait(self) -> list[BusMessage]:
        """Everything already delivered to this subscription, without waiting (shutdown)."""
        if self._socket is not None:
            while self._drain() == _DRAIN_BATCH:
                pass
        drained = list(self._queue)
        self._queue.clear()
        return drained

    def __aiter__(self) -> AsyncIterator[BusMessage]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[BusMessage]:
        while True:
            yield await self.recv()
