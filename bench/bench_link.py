"""Ground-to-satellite command latency: TC(17,1) → TM(1,7) vs a bare UDP echo round trip.

- satellite: the real thing as separate processes (``launch_satellite``: hwsim, then flight
  software on a free UDP port); the ground API sends TC(17,1) with all acknowledgements and
  ``Ground.command`` returns when TM(1,7) (completion) arrives. The path is: UDP → link
  service → bus → ping service → bus → link service → UDP, with TM(1,1), (1,3), (17,2)
  and (1,7) coming down.
- baseline: an asyncio datagram client sending the same TC bytes to a trivial blocking UDP
  echo server in another process, awaiting the echo.

Round trips run one at a time, timed with ``perf_counter_ns`` after a warm-up. Blocks of the
two alternate so both see the same machine noise; p50 and p99 are over all samples.

    python bench/bench_link.py [--quick]
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import socket
import time
from multiprocessing.connection import Connection

from _common import emit, note, parse_args, percentile

from computesat.launcher import launch_satellite
from ground.station import Ground

STOP = b"stop"


def _echo_server(conn: Connection) -> None:
    """Child process: echo every datagram back to its sender until told to stop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    conn.send(sock.getsockname()[1])
    try:
        while True:
            data, addr = sock.recvfrom(65536)
            if data == STOP:
                return
            sock.sendto(data, addr)
    finally:
        sock.close()


class _EchoClient(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.waiter: asyncio.Future[bytes] | None = None

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(data)


async def echo_block(
    transport: asyncio.DatagramTransport, client: _EchoClient, payload: bytes, n: int
) -> list[int]:
    loop = asyncio.get_running_loop()
    clock = time.perf_counter_ns
    samples = []
    for _ in range(n):
        client.waiter = loop.create_future()
        start = clock()
        transport.sendto(payload)
        # A lost datagram on loopback would be a broken machine; fail loudly, not hang.
        await asyncio.wait_for(client.waiter, 5.0)
        samples.append(clock() - start)
    return samples


async def command_block(ground: Ground, n: int) -> list[int]:
    clock = time.perf_counter_ns
    samples = []
    for _ in range(n):
        start = clock()
        result = await ground.command(17, 1)
        samples.append(clock() - start)
        if not result.ok:
            raise RuntimeError(f"TC(17,1) did not complete: {result.describe()}")
    return samples


async def run(n: int, blocks: int, warmup: int) -> tuple[list[int], list[int]]:
    spawn = mp.get_context("spawn")
    conn, child_conn = spawn.Pipe()
    echo = spawn.Process(target=_echo_server, args=(child_conn,), daemon=True)
    echo.start()
    loop = asyncio.get_running_loop()
    transport: asyncio.DatagramTransport | None = None
    try:
        echo_port = await asyncio.to_thread(conn.recv)
        transport, client = await loop.create_datagram_endpoint(
            _EchoClient, remote_addr=("127.0.0.1", echo_port)
        )
        note("launching the satellite (hwsim + flightsw)...")
        async with (
            await launch_satellite(
                [],
                ["--port", "0"],
                device_endpoint="tcp://127.0.0.1:0",
                simctl_endpoint="tcp://127.0.0.1:0",
            ) as satellite,
            Ground(satellite.udp_host, satellite.udp_port) as ground,
        ):
            # The echo payload is the very TC the satellite gets, so sizes match.
            payload = ground.telecommand(17, 1).pack()
            await echo_block(transport, client, payload, warmup)
            await command_block(ground, warmup)
            echo_ns: list[int] = []
            sat_ns: list[int] = []
            per_block = max(1, n // blocks)
            for block in range(blocks):
                echo_ns += await echo_block(transport, client, payload, per_block)
                sat_ns += await command_block(ground, per_block)
                note(
                    f"block {block + 1}/{blocks}: echo p50 {percentile(echo_ns, 50) / 1e3:.0f} us,"
                    f" TC→TM(1,7) p50 {percentile(sat_ns, 50) / 1e3:.0f} us"
                )
        return sat_ns, echo_ns
    finally:
        if transport is not None:
            transport.sendto(STOP)
            transport.close()
        await asyncio.to_thread(echo.join, 5)
        if echo.is_alive():
            echo.terminate()
            echo.join()


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    n, blocks, warmup = (100, 2, 20) if args.quick else (1000, 5, 100)
    sat_ns, echo_ns = asyncio.run(run(n, blocks, warmup))
    common = {
        "samples": len(sat_ns),
        "baseline_name": "asyncio UDP client ↔ blocking UDP echo server, two processes",
    }
    emit(
        "link_tc_to_tm1_7_p50",
        percentile(sat_ns, 50) / 1e3,
        "us",
        percentile(echo_ns, 50) / 1e3,
        target="<= 10",
        **common,
    )
    emit(
        "link_tc_to_tm1_7_p99",
        percentile(sat_ns, 99) / 1e3,
        "us",
        percentile(echo_ns, 99) / 1e3,
        **common,
    )


if __name__ == "__main__":
    main()
