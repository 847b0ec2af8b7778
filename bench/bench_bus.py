"""Software-bus throughput: HK-sized typed messages through the bus vs bare PUB/SUB + msgpack.

Both paths run publisher and subscriber in two processes (REFERENCE.md, "The bus ceiling"):

- baseline: a blocking PUB in this process → a blocking SUB in a child process, msgpack
  pack/unpack per message, the same two-frame (topic, payload) shape the bus sends;
- bus: this process runs the ``Broker`` (XSUB/XPUB proxy thread) and publishes with
  ``Bus.publish``; the child receives with ``Bus.subscribe(...)`` / ``await sub.recv()``,
  which validates every message into its pydantic model.

The rate is measured at the receiver, from the first to the last data message received, so
neither process start-up nor the handshakes are timed. Each run handshakes before sending
(the publisher repeats a hello until the subscriber reports one) so ZeroMQ's slow joiner
cannot eat data messages; messages dropped at a high-water mark are reported as ``loss``.
Repetitions alternate baseline and bus so both see the same machine noise; medians are
reported.

    python bench/bench_bus.py [--quick]
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import msgpack
import zmq
import zmq.asyncio
from _common import emit, median, note, parse_args

from runtime.bus import Broker, Bus, BusMessage

# The bus's own socket high-water marks (computesat/bus.py), used for the bare sockets too so
# both paths buffer alike.
HWM = 100_000
# Handshake: resend every HANDSHAKE_S for at most HANDSHAKE_TRIES (bounded, ~10 s in all).
HANDSHAKE_S = 0.02
HANDSHAKE_TRIES = 500
# A subscriber that hears nothing for this long gives up instead of hanging the benchmark.
RECV_TIMEOUT_MS = 15_000


class BenchHk(BusMessage):
    """A housekeeping-sized message: ~200 bytes packed, like REFERENCE.md's 198-byte one.

    msgpack stores every float as 9 bytes plus its key, so 13 floats with a name and a
    timestamp is what fits in ~200 bytes (20 floats would be ~280).
    """

    TOPIC = "bench.hk"
    name: str
    time_ns: int
    p00: float
    p01: float
    p02: float
    p03: float
    p04: float
    p05: float
    p06: float
    p07: float
    p08: float
    p09: float
    p10: float
    p11: float
    p12: float


class BenchHello(BusMessage):
    TOPIC = "bench.hello"


class BenchEnd(BusMessage):
    TOPIC = "bench.end"


def _sample() -> BenchHk:
    values = {f"p{i:02d}": 27.5 + i * 0.731 for i in range(13)}
    return BenchHk(name="eps.hk", time_ns=850_000_000_123_456_789, **values)


# The bare path uses the bus's topic frames so its frames are byte-for-byte the bus's.
DATA_TOPIC = BenchHk.topic_frame()
HELLO_TOPIC = BenchHello.topic_frame()
END_TOPIC = BenchEnd.topic_frame()


@dataclass
class RunResult:
    received: int
    sent: int
    elapsed_ns: int
    rejected: int = 0

    @property
    def rate(self) -> float:
        # n messages span n-1 inter-arrival gaps between the first and the last.
        return (self.received - 1) / (self.elapsed_ns / 1e9) if self.elapsed_ns else 0.0

    @property
    def lost(self) -> int:
        return self.sent - self.received


# --- subscriber process ------------------------------------------------------------------------


def _subscriber_main(conn: Connection) -> None:
    """Child process: runs one subscriber per command until told to stop."""
    while True:
        command = conn.recv()
        match command:
            case ("bare", str(endpoint)):
                conn.send(_bare_subscriber(conn, endpoint))
            case ("bus", str(pub_endpoint), str(sub_endpoint)):
                conn.send(asyncio.run(_bus_subscriber(conn, pub_endpoint, sub_endpoint)))
            case _:
                return


def _bare_subscriber(conn: Connection, endpoint: str) -> tuple[int, int, int]:
    context = zmq.Context()
    sock = context.socket(zmq.SUB)
    sock.linger = 0
    sock.rcvhwm = HWM
    sock.rcvtimeo = RECV_TIMEOUT_MS
    try:
        sock.connect(endpoint)
        for topic in (DATA_TOPIC, HELLO_TOPIC, END_TOPIC):
            sock.subscribe(topic)
        while sock.recv_multipart()[0] != HELLO_TOPIC:
            pass
        conn.send("joined")
        unpackb = msgpack.unpackb
        clock = time.perf_counter_ns
        received = first = last = 0
        while True:
            topic, payload = sock.recv_multipart()
            if topic == DATA_TOPIC:
                unpackb(payload)
                last = clock()
                if not received:
                    first = last
                received += 1
            elif topic == END_TOPIC:
                return received, last - first, 0
            # Anything else is a leftover hello from the handshake.
    finally:
        sock.close()
        context.term()


async def _bus_subscriber(
    conn: Connection, pub_endpoint: str, sub_endpoint: str
) -> tuple[int, int, int]:
    context = zmq.asyncio.Context()
    bus = Bus(context, pub_endpoint, sub_endpoint)
    try:
        async with bus.subscribe(BenchHk, BenchHello, BenchEnd, remote=True) as sub:
            async with asyncio.timeout(RECV_TIMEOUT_MS / 1000):
                while not isinstance(await sub.recv(), BenchHello):
                    pass
            conn.send("joined")
            clock = time.perf_counter_ns
            received = first = last = 0
            while True:
                message = await sub.recv()
                if type(message) is BenchHk:
                    last = clock()
                    if not received:
                        first = last
                    received += 1
                elif type(message) is BenchEnd:
                    return received, last - first, bus.stats.rejected
    finally:
        bus.close()
        context.term()


# --- publisher (this process) ------------------------------------------------------------------


def _handshake(send: Callable[[], None], conn: Connection) -> Any:
    """Send until the subscriber answers on the pipe (bounded: slow joiners, lost markers)."""
    for _ in range(HANDSHAKE_TRIES):
        send()
        if conn.poll(HANDSHAKE_S):
            return conn.recv()
    raise TimeoutError("subscriber process did not answer the handshake")


def run_bare(conn: Connection, n: int) -> RunResult:
    context = zmq.Context()
    pub = context.socket(zmq.PUB)
    pub.linger = 0
    pub.sndhwm = HWM
    try:
        pub.bind("tcp://127.0.0.1:0")
        conn.send(("bare", pub.last_endpoint.decode()))
        if _handshake(lambda: pub.send_multipart((HELLO_TOPIC, b"")), conn) != "joined":
            raise RuntimeError("bare subscriber: unexpected handshake reply")
        payload = _sample().model_dump()
        send, packb = pub.send_multipart, msgpack.packb
        for _ in range(n):
            send((DATA_TOPIC, packb(payload)))
        received, elapsed_ns, _ = _handshake(lambda: send((END_TOPIC, b"")), conn)
        return RunResult(received, n, elapsed_ns)
    finally:
        pub.close()
        context.term()


async def run_bus(conn: Connection, n: int) -> RunResult:
    context = zmq.asyncio.Context()
    try:
        async with Broker(context, "tcp://127.0.0.1:0", "tcp://127.0.0.1:0") as broker:
            bus = Bus(context, broker.pub_endpoint, broker.sub_endpoint)
            try:
                conn.send(("bus", broker.pub_endpoint, broker.sub_endpoint))
                # Blocking on the pipe here is fine: the broker runs in its own thread and
                # this event loop has nothing else to do.
                hello, end = BenchHello(), BenchEnd()
                if _handshake(lambda: bus.publish(hello), conn) != "joined":
                    raise RuntimeError("bus subscriber: unexpected handshake reply")
                message = _sample()
                publish = bus.publish
                for _ in range(n):
                    publish(message)
                received, elapsed_ns, rejected = _handshake(lambda: bus.publish(end), conn)
                return RunResult(received, n, elapsed_ns, rejected)
            finally:
                bus.close()
    finally:
        context.term()


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    n, reps = (20_000, 2) if args.quick else (200_000, 5)
    payload_bytes = len(msgpack.packb(_sample().model_dump()))

    spawn = mp.get_context("spawn")
    conn, child_conn = spawn.Pipe()
    child = spawn.Process(target=_subscriber_main, args=(child_conn,), daemon=True)
    child.start()
    bare: list[RunResult] = []
    bus: list[RunResult] = []
    try:
        # Untimed warm-up of both paths (imports, first validation, TCP set-up).
        run_bare(conn, n // 10)
        asyncio.run(run_bus(conn, n // 10))
        for rep in range(reps):
            bare.append(run_bare(conn, n))
            bus.append(asyncio.run(run_bus(conn, n)))
            note(
                f"rep {rep + 1}/{reps}: bare {bare[-1].rate:,.0f}/s (lost {bare[-1].lost}), "
                f"bus {bus[-1].rate:,.0f}/s (lost {bus[-1].lost})"
            )
        conn.send(("stop",))
        child.join(5)
    finally:
        if child.is_alive():
            child.terminate()
            child.join()

    bare_rate = median([r.rate for r in bare])
    bus_rate = median([r.rate for r in bus])
    emit(
        "bus_hk_throughput",
        bus_rate,
        "messages/s",
        bare_rate,
        target=">= 0.5",
        baseline_name="bare pyzmq PUB/SUB + msgpack, two processes",
        payload_bytes=payload_bytes,
        messages_per_rep=n,
        reps=reps,
        bus_samples=[round(r.rate) for r in bus],
        baseline_samples=[round(r.rate) for r in bare],
        bus_lost=[r.lost for r in bus],
        baseline_lost=[r.lost for r in bare],
        bus_rejected=sum(r.rejected for r in bus),
        # Each rep's bus/bare pair ran back to back, so their ratio cancels slow drifts in
        # machine load that the ratio of medians does not.
        paired_ratio_median=round(
            median([b.rate / a.rate for a, b in zip(bare, bus, strict=True)]), 4
        ),
    )


if __name__ == "__main__":
    main()
