"""RF link endpoint: telecommand ingest with PUS 1 verification, and telemetry output.

Reads:    UDP datagrams on ``host:port`` (one CCSDS space packet each);
          bus ``TcProgress`` (service verification stages), ``TmRequest`` (telemetry to send).
Publishes: bus ``TcDispatch`` (accepted TCs), ``Event`` (bad datagrams, rejections,
          failures), ``ParameterUpdate`` ``link.*`` and ``tc.*`` counters (every second).
Sends:    TM packets to the sender of the TC they answer, unsolicited TM (housekeeping,
          events) to recent TC senders, and everything to ``push`` if configured.

The uplink is a pipeline of stages over a datagram: decode (codec, CRC, header rules) →
authenticate (SDLS slot; pass-through today) → sequence control (COP-1 slot; pass-through)
→ route (APID, service, subservice, application data) → accept. A stage rejects by raising
``TcDecodeError`` with the PUS error code to report.
"""

from __future__ import annotations

import asyncio
import socket
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from flightsw.context import ServiceContext
from flightsw.messages import (
    AcceptanceState,
    AcceptanceStateWanted,
    PayloadLimits,
    PayloadLimitsWanted,
    TcDispatch,
    TcProgress,
    TmRequest,
)
from icd import dictionary as dic
from icd.cuc import CucTime
from icd.dictionary import APIDS, EventId
from icd.errors import DecodeError, ErrorCode, RefusedError
from icd.pus import AckFlags, PusTc, PusTm, TcDecodeError
from runtime.bus import Subscription

__all__ = ["Config", "run"]

Address = tuple[str, int]


class Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = Field("127.0.0.1", description="Address the uplink socket binds.")
    port: int = Field(7301, ge=0, le=65535, description="UDP port of the uplink (0 = any).")
    push: str | None = Field(None, description="host:port that gets a copy of every TM.")
    start_timeout_s: float = Field(
        5.0,
        gt=0,
        description=(
            "Mission seconds an accepted TC may wait for its service to start it before it "
            "fails with SERVICE_UNAVAILABLE."
        ),
    )
    ground_memory: int = Field(4, ge=1, description="Recent TC senders that get unsolicited TM.")
    max_events_per_s: int = Field(
        20,
        ge=1,
        description="Bad-datagram events per mission second before the rest are only counted.",
    )


# The platform HK counters this service owns (published from boot, as valid zeros).
_OWN_COUNTERS = tuple(
    p.name
    for structure in dic.HK_STRUCTURES.values()
    for p in structure.parameters
    if p.name.startswith(("link.", "tc."))
)

# Counters named as in the platform HK structure.
_REASON_COUNTER = {
    "truncated_header": "link.bad_truncated",
    "truncated_secondary_header": "link.bad_length",
    "oversized": "link.bad_length",
    "length_mismatch": "link.bad_length",
    "crc": "link.bad_crc",
    "packet_version": "link.bad_header",
    "packet_type": "link.bad_header",
    "no_secondary_header": "link.bad_header",
    "segmented": "link.bad_header",
    "pus_version": "link.bad_header",
    "apid": "link.bad_apid",
    "service": "link.bad_service",
    "subservice": "link.bad_service",
    "app_data": "link.bad_app_data",
}


_ROUTING_REASONS = frozenset({"apid", "service", "subservice", "app_data"})


@dataclass
class _Pending:
    apid: int
    ack: AckFlags
    sender: Address
    deadline_ns: int
    started: bool = False


@dataclass
class _Downlink:
    """Sequence counts per APID and message counters per (APID, service)."""

    seq: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    counters: dict[tuple[int, int], int] = field(default_factory=lambda: defaultdict(int))

    def packet(
        self, apid: int, service: int, subservice: int, data: bytes, time_ns: int, dest_id: int = 0
    ) -> bytes:
        seq = self.seq[apid]
        self.seq[apid] = (seq + 1) & 0x3FFF
        counter = self.counters[apid, service]
        self.counters[apid, service] = (counter + 1) & 0xFFFF
        return PusTm(
            apid=apid,
            service=service,
            subservice=subservice,
            time=CucTime.from_ns(time_ns),
            source_data=data,
            seq_count=seq,
            msg_counter=counter,
            dest_id=dest_id,
        ).pack()


def _route(tc: PusTc) -> PusTc:
    """Acceptance checks against the dictionary: APID, service, subservice, app data."""
    request_id = tc.request_id

    def reject(reason: str, code: ErrorCode, expected: object, got: object) -> None:
        raise TcDecodeError(
            reason, code, request_id=request_id, apid=tc.apid, expected=expected, got=got
        )

    if tc.apid not in APIDS:
        reject("apid", ErrorCode.ILLEGAL_APID, sorted(APIDS), tc.apid)
    service = dic.service_def(tc.service)
    if service is None or tc.apid not in service.apids:
        reject(
            "service",
            ErrorCode.ILLEGAL_SERVICE,
            [s.service for s in dic.SERVICES if tc.apid in s.apids],
            tc.service,
        )
    assert service is not None
    if tc.subservice not in dic.tc_subservices(service):
        reject(
            "subservice", ErrorCode.ILLEGAL_SUBSERVICE, dic.tc_subservices(service), tc.subservice
        )
    try:
        dic.check_app_data(tc.service, tc.subservice, tc.app_data)
    except RefusedError as exc:
        # Decodes, but its meaning is refused: the owner's documented code, naming the field.
        reject("app_data", exc.code, f"{exc.reason}: {exc.expected}", exc.got)
    except DecodeError as exc:
        reject("app_data", ErrorCode.INVALID_APP_DATA, exc.expected, exc.got)
    return tc


def _check_ids(tc: PusTc, ids_in_use: dict[int, frozenset[int]]) -> None:
    """Refuse a request that adds an id its service holds already or names one it does not
    (icd.dictionary.ID_CHECKS), against the ids the service last announced."""
    check = dic.ID_CHECKS.get(tc.service)
    ids = ids_in_use.get(tc.service)
    if check is None or ids is None:
        return  # not announced yet: the service itself refuses at start (1,4)
    try:
        check(tc.subservice, tc.app_data, ids)
    except RefusedError as exc:
        raise TcDecodeError(
            "app_data",
            exc.code,
            request_id=tc.request_id,
            apid=tc.apid,
            expected=f"{exc.reason}: {exc.expected}",
            got=exc.got,
        ) from None


def _check_job_limits(tc: PusTc, limits: PayloadLimits, ctx: ServiceContext) -> None:
    """Refuse a 140,1 that no board (or too few for its redundancy) would run, naming the
    limit in a JOB_REFUSED event; the caller reports 1,2 INVALID_APP_DATA."""
    request = dic.SubmitJob.unpack(tc.app_data)  # already checked by _route
    reason = limits.refusal(request.kernel, request.size, request.iterations, request.redundancy)
    if reason is None:
        return
    ctx.event(EventId.JOB_REFUSED, f"job {request.job_id} refused: {reason}"[:200])
    raise TcDecodeError(
        "app_data",
        ErrorCode.INVALID_APP_DATA,
        request_id=tc.request_id,
        apid=tc.apid,
        expected="a job within the boards' limits",
        got=reason,
    )


def _authenticate(tc: PusTc) -> PusTc:
    # SDLS-style authentication slots in here; until then every decoded TC is authentic.
    return tc


def _sequence_control(tc: PusTc) -> PusTc:
    # COP-1-style frame acceptance and retransmission slot in here.
    return tc


UPLINK_STAGES: tuple[Callable[[PusTc], PusTc], ...] = (_authenticate, _sequence_control, _route)


class _UplinkProtocol(asyncio.DatagramProtocol):
    """Hands each datagram to the uplink pipeline as it arrives.

    The pipeline is synchronous and short (decode, route, publish), so running it in the
    protocol callback saves a task wake-up per telecommand; the kernel's socket buffer is
    the queue.
    """

    def __init__(self, on_datagram: Callable[[bytes, Address], None]) -> None:
        self.on_datagram = on_datagram

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.on_datagram(data, (addr[0], addr[1]))

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP port unreachable from a ground that went away: nothing to do


async def run(ctx: ServiceContext, config: Config) -> None:
    loop = asyncio.get_running_loop()
    # Every counter this service owns starts at a valid 0: housekeeping flags a parameter
    # never published as invalid, and "nothing counted yet" is a measurement.
    counters: dict[str, float] = defaultdict(float, dict.fromkeys(_OWN_COUNTERS, 0.0))

    push: Address | None = None
    if config.push:
        host, _, port = config.push.rpartition(":")
        push = (host, int(port))
    downlink = _Downlink()
    pending: dict[bytes, _Pending] = {}
    grounds: deque[Address] = deque(maxlen=config.ground_memory)
    event_budget = {"second": -1, "used": 0}
    # The boards' job limits, once the payload manager has read them: a 140,1 beyond every
    # board is refused here, at acceptance (1,2), not after it was accepted.
    job_limits: list[PayloadLimits] = []
    # The ids each table-holding service (12, 19) has in force, as it last announced them.
    ids_in_use: dict[int, frozenset[int]] = {}

    transport: asyncio.DatagramTransport

    def send(packet: bytes, to: Address | None) -> None:
        targets = [to] if to else list(grounds)
        if push and push not in targets:
            targets.append(push)
        for target in targets:
            transport.sendto(packet, target)
            counters["link.tm_sent"] += 1

    def verification(
        apid: int, subservice: int, request_id: bytes, to: Address, code: int | None = None
    ) -> None:
        data = request_id if code is None else request_id + code.to_bytes(2, "big")
        send(downlink.packet(apid, 1, subservice, data, ctx.clock.now_ns()), to)

    def limited_event(event_id: EventId, message: str) -> None:
        second = ctx.clock.now_ns() // 1_000_000_000
        if event_budget["second"] != second:
            event_budget.update(second=second, used=0)
        event_budget["used"] += 1
        if event_budget["used"] <= config.max_events_per_s:
            ctx.event(event_id, message)
        else:
            counters["link.events_suppressed"] += 1

    def uplink(data: bytes, sender: Address) -> bool:
        """Decode, check and hand over one datagram; returns whether it was accepted."""
        counters["link.tc_received"] += 1
        try:
            tc = PusTc.unpack(data)
            for stage in UPLINK_STAGES:
                tc = stage(tc)
            if (tc.service, tc.subservice) == (140, 1) and job_limits:
                _check_job_limits(tc, job_limits[-1], ctx)
            _check_ids(tc, ids_in_use)
        except TcDecodeError as exc:
            counters[_REASON_COUNTER.get(exc.reason, "link.bad_header")] += 1
            counters["link.tc_rejected"] += 1
            # A well-formed TC refused by routing is a rejection; anything else is noise on
            # the link. One event either way, within the rate limit.
            rejected = exc.reason in _ROUTING_REASONS
            limited_event(
                EventId.TC_REJECTED if rejected else EventId.BAD_DATAGRAM,
                f"{len(data)} B from {sender[0]}:{sender[1]}: {exc}"
                + (f" (request {exc.request_id.hex()}, {exc.code.name})" if exc.request_id else ""),
            )
            if exc.request_id is not None:
                if sender not in grounds:
                    grounds.append(sender)
                apid = exc.apid if exc.apid in APIDS else dic.Apid.PLATFORM
                verification(apid, 2, exc.request_id, sender, exc.code)
            return False
        if sender not in grounds:
            grounds.append(sender)
        request_id = tc.request_id
        counters["link.tc_accepted"] += 1
        pending[request_id] = _Pending(
            tc.apid, tc.ack_flags, sender, ctx.clock.now_ns() + int(config.start_timeout_s * 1e9)
        )
        # Hand over first: the owner starts while TM(1,1) goes out (it still precedes
        # TM(1,3), which needs a bus round trip).
        ctx.publish(
            TcDispatch(
                request_id=request_id,
                apid=tc.apid,
                service=tc.service,
                subservice=tc.subservice,
                source_id=tc.source_id,
                app_data=tc.app_data,
            )
        )
        if tc.ack_flags & AckFlags.ACCEPTANCE:
            verification(tc.apid, 1, request_id, sender)
        return True

    def on_progress(report: TcProgress) -> None:
        request = pending.get(report.request_id)
        if request is None:
            return  # already timed out and failed; the late report changes nothing
        sender = request.sender
        match report.stage:
            case "started":
                request.started = True
                if request.ack & AckFlags.START:
                    verification(request.apid, 3, report.request_id, sender)
            case "start_failed":
                finish_with_failure(report, request, 4, "start failed")
            case "completed":
                del pending[report.request_id]
                counters["tc.completed"] += 1
                if request.ack & AckFlags.COMPLETION:
                    verification(request.apid, 7, report.request_id, sender)
            case "failed":
                finish_with_failure(report, request, 8, "failed")

    def finish_with_failure(
        report: TcProgress, request: _Pending, subservice: int, what: str
    ) -> None:
        del pending[report.request_id]
        counters["tc.failed"] += 1
        verification(request.apid, subservice, report.request_id, request.sender, report.error_code)
        ctx.event(EventId.TC_FAILED, f"{report.request_id.hex()} {what} {report.error_code:#06x}")

    def on_tm(request: TmRequest) -> None:
        to = None
        if request.reply_to is not None and request.reply_to in pending:
            to = pending[request.reply_to].sender
        send(
            downlink.packet(
                request.apid,
                request.service,
                request.subservice,
                request.source_data,
                request.time_ns,
            ),
            to,
        )

    def expire_pending() -> None:
        now_ns = ctx.clock.now_ns()
        for request_id, request in list(pending.items()):
            if not request.started and now_ns > request.deadline_ns:
                del pending[request_id]
                counters["tc.failed"] += 1
                verification(
                    request.apid, 4, request_id, request.sender, ErrorCode.SERVICE_UNAVAILABLE
                )
                ctx.event(
                    EventId.TC_FAILED,
                    f"{request_id.hex()} not started in {config.start_timeout_s} s",
                )

    def on_datagram(data: bytes, sender: Address) -> None:
        if not uplink(data, sender):
            # A rejection is published at once, so a housekeeping report requested after it
            # already counts it (one publisher keeps bus order); accepted TCs are counted in
            # the once-a-second update, off the command's critical path.
            ctx.parameter_map(dict(counters))

    async def downlink_loop(messages: Subscription) -> None:
        async for message in messages:
            if isinstance(message, TcProgress):
                on_progress(message)
            elif isinstance(message, TmRequest):
                on_tm(message)
            elif isinstance(message, PayloadLimits):
                job_limits[:] = [message]
            elif isinstance(message, AcceptanceState):
                ids_in_use[message.service] = frozenset(message.ids)

    async def housekeeping_loop() -> None:
        while True:
            expire_pending()
            ctx.parameter_map(dict(counters))
            await ctx.clock.sleep(1.0)

    # Listen for verification reports before accepting anything they would answer.
    async with ctx.subscribe(TcProgress, TmRequest, PayloadLimits, AcceptanceState) as messages:
        ctx.publish(PayloadLimitsWanted())  # the limits known so far, before any TC comes
        ctx.publish(AcceptanceStateWanted())  # and the ids the tables hold
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _UplinkProtocol(on_datagram), local_addr=(config.host, config.port)
            )
        except OSError as exc:
            # Name the port: "[Errno 98] Address already in use" alone does not say which.
            raise OSError(
                exc.errno, f"cannot bind udp {config.host}:{config.port}: {exc.strerror}"
            ) from None
        try:
            # A deep receive buffer rides out command bursts (the kernel caps it at rmem_max).
            transport.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20
            )
            bound_port = transport.get_extra_info("sockname")[1]
            ctx.log.info("link: uplink on udp %s:%s", config.host, bound_port)
            ctx.ready(bound_port)
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(downlink_loop(messages))
                tasks.create_task(housekeeping_loop())
        finally:
            # Going down: send what services already handed over (the SHUTDOWN event).
            for message in messages.drain_nowait():
                if isinstance(message, TmRequest):
                    on_tm(message)
            transport.close()
