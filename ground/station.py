"""The ground station's script API.

    async with Ground("127.0.0.1", 7301) as g:
        await g.ping()
        result = await g.command(3, 27, pack_id_list([1]))
        hk = await g.wait_for(lambda tm: tm.sid == 1, timeout=10)

Every TM received is decoded with the dictionary and kept in ``g.archive`` (and appended to
an archive file when one is given). Every TM kind the satellite sends (the dictionary's "TM"
subservices, :data:`TM_DECODERS`) becomes a typed record on :class:`Telemetry`: verification
(``request_id``, ``error_code``), housekeeping (``sid``, ``parameters``), events
(``event_name``, ``message``), 12,9 ``monitoring`` (:class:`MonitoringReport`), 12,12
``transitions`` (``icd.monitoring.CheckTransition``), 17,2 ``alive``, 19,11
``event_actions`` (:class:`EventActionList`), 130,3 ``mode_report``
(``icd.modes.ModeReport``), 140,4 ``jobs``, 140,5 ``job_report``, 140,7 ``boards``;
``summary()`` is one readable line and ``as_json()`` the archive's record. The requests that
answer with one: :meth:`Ground.report_mode`, :meth:`Ground.monitoring_definitions`,
:meth:`Ground.event_actions`, ``list_jobs``, ``list_boards``, ``request_hk``, ``ping``.

Validity: a housekeeping parameter the satellite flags invalid (never acquired, or its device
stopped answering) is ``None`` in ``tm.parameters`` and in ``hk()``, never 0; ``tm.invalid``
names them and ``tm.value(name)`` raises :class:`InvalidParameter` for one. A ``wait_for``
predicate that cannot judge a report because a value it reads is invalid (``None > 0``
raises TypeError) does not match it, and the wait goes on: an invalid value satisfies no
condition. If the wait then times out, its error names the invalid parameters it met. Any
other exception from a predicate fails the wait with that exception. Beware ``!=``:
``None != 0`` is true without raising, so write ``tm.value("x") != 0`` when an invalid value
must not count as different.

Timeouts are in mission seconds: the station keeps a clock anchored to the CUC time of the
telemetry it receives, running at the satellite's clock speed (reported in platform
housekeeping), so a test is the same at x1 and at x100.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from computesat_sdk import kernels

from icd import dictionary as dic
from icd import event_action as ea
from icd import monitoring as mon
from icd.dictionary import BoardEntry, JobListEntry, JobReport, SubmitJob
from icd.errors import DecodeError, ErrorCode
from icd.modes import ModeReport
from icd.pus import AckFlags, PusTc, PusTm
from runtime.clock import Clock, WallClock

__all__ = [
    "REPLIES",
    "TM_DECODERS",
    "CommandFailed",
    "CommandResult",
    "EventActionList",
    "Ground",
    "InvalidParameter",
    "JobReport",
    "ModeReport",
    "MonitoringReport",
    "Telemetry",
    "decode_tm",
]

Predicate = Callable[["Telemetry"], bool]


class InvalidParameter(ValueError):
    """A housekeeping value that the satellite flagged invalid was asked for."""

    def __init__(self, name: str, tm: Telemetry) -> None:
        super().__init__(
            f"{name} is invalid in HK {tm.sid} at t={tm.time_s:.3f} "
            "(not acquired yet, or its device stopped answering)"
        )
        self.name = name


@dataclass(frozen=True)
class Telemetry:
    """One decoded TM packet."""

    packet: PusTm
    received_wall_s: float
    request_id: bytes | None = None
    error_code: int | None = None
    sid: int | None = None
    # Housekeeping values by name; None = flagged invalid by the satellite.
    parameters: dict[str, float | int | None] = field(default_factory=dict)
    event_id: int | None = None
    event_name: str | None = None
    message: str | None = None
    job_report: JobReport | None = None
    jobs: list[JobListEntry] | None = None
    boards: list[BoardEntry] | None = None
    mode_report: ModeReport | None = None  # 130,3
    monitoring: MonitoringReport | None = None  # 12,9
    transitions: list[mon.CheckTransition] | None = None  # 12,12
    event_actions: EventActionList | None = None  # 19,11
    alive: bool = False  # 17,2

    @property
    def apid(self) -> int:
        return self.packet.apid

    @property
    def service(self) -> int:
        return self.packet.service

    @property
    def subservice(self) -> int:
        return self.packet.subservice

    @property
    def kind(self) -> tuple[int, int]:
        return (self.packet.service, self.packet.subservice)

    @property
    def time_s(self) -> float:
        """Mission time of the packet (CUC), seconds since the mission epoch."""
        return self.packet.time.to_s()

    @property
    def invalid(self) -> tuple[str, ...]:
        """Housekeeping parameters flagged invalid in this report (empty for other TM)."""
        return tuple(name for name, value in self.parameters.items() if value is None)

    def value(self, name: str) -> float | int:
        """A housekeeping value; raises :class:`InvalidParameter` if it is flagged invalid
        (and KeyError if this report has no such parameter)."""
        value = self.parameters[name]
        if value is None:
            raise InvalidParameter(name, self)
        return value

    def summary(self) -> str:
        head = f"TM({self.service},{self.subservice}) apid {self.apid} t={self.time_s:.3f}"
        if self.request_id is not None:
            code = "" if self.error_code is None else f" error {_error_name(self.error_code)}"
            return f"{head} request {self.request_id.hex()}{code}"
        if self.sid is not None:
            invalid = f", {len(self.invalid)} invalid" if self.invalid else ""
            return f"{head} HK sid {self.sid}: {len(self.parameters)} parameters{invalid}"
        if self.event_id is not None:
            return f"{head} event {self.event_name}: {self.message}"
        if self.job_report is not None:
            r = self.job_report
            return (
                f"{head} job {r.job_id} {r.state.name.lower()} slots {list(r.slots)} "
                f"digest {r.digest[:16] or '-'} retries {r.retries}"
            )
        if self.jobs is not None:
            return f"{head} job list: {len(self.jobs)} jobs"
        if self.boards is not None:
            return f"{head} board report: {len(self.boards)} boards"
        if self.mode_report is not None:
            m = self.mode_report
            return (
                f"{head} mode {m.mode.name} (from {m.previous.name} since t={m.since_s:.3f}, "
                f"{m.transitions} transitions): {m.reason or '-'}"
            )
        if self.monitoring is not None:
            return f"{head} monitoring {self.monitoring.describe()}"
        if self.transitions is not None:
            return f"{head} check transitions: {_describe_transitions(self.transitions)}"
        if self.event_actions is not None:
            return f"{head} event-action {self.event_actions.describe()}"
        if self.alive:
            return f"{head} are-you-alive report"
        return head

    def as_json(self) -> dict[str, Any]:
        return {
            "apid": self.apid,
            "service": self.service,
            "subservice": self.subservice,
            "time_s": self.time_s,
            "seq": self.packet.seq_count,
            "request_id": self.request_id.hex() if self.request_id else None,
            "error_code": self.error_code,
            "sid": self.sid,
            "parameters": self.parameters,
            "event_id": self.event_id,
            "event_name": self.event_name,
            "message": self.message,
            "job_report": _plain(self.job_report),
            "jobs": None if self.jobs is None else [_plain(e) for e in self.jobs],
            "boards": None if self.boards is None else [_plain(e) for e in self.boards],
            "mode_report": _mode_json(self.mode_report),
            "monitoring": None if self.monitoring is None else self.monitoring.as_json(),
            "transitions": (
                None
                if self.transitions is None
                else [_transition_json(t) for t in self.transitions]
            ),
            "event_actions": None if self.event_actions is None else self.event_actions.as_json(),
            "alive": self.alive,
        }


@dataclass(frozen=True)
class MonitoringReport:
    """TM 12,9: the monitoring function's state and the definitions asked for (12,8)."""

    function_enabled: bool
    definitions: tuple[mon.DefinitionReport, ...]

    def violated(self) -> list[mon.DefinitionReport]:
        return [d for d in self.definitions if d.status.violated]

    def describe(self) -> str:
        state = "enabled" if self.function_enabled else "DISABLED"
        off = sum(not d.enabled for d in self.definitions)
        violated = self.violated()
        shown = ", ".join(
            f"PMON {d.definition.pmon_id} {d.definition.parameter} {d.status.name.lower()}"
            for d in violated[:3]
        )
        more = f" and {len(violated) - 3} more" if len(violated) > 3 else ""
        return (
            f"function {state}, {len(self.definitions)} definitions ({off} disabled, "
            f"{len(violated)} violated{': ' + shown + more if violated else ''})"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "function_enabled": self.function_enabled,
            "definitions": [_pmon_json(d) for d in self.definitions],
        }


@dataclass(frozen=True)
class EventActionList:
    """TM 19,11: the event-action function's state and the definitions asked for (19,10)."""

    function_enabled: bool
    definitions: tuple[ea.EventActionReport, ...]

    def describe(self) -> str:
        state = "enabled" if self.function_enabled else "DISABLED"
        off = sum(not d.enabled for d in self.definitions)
        fired = sum(d.firings > 0 for d in self.definitions)
        return (
            f"function {state}, {len(self.definitions)} definitions ({off} disabled, {fired} fired)"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "function_enabled": self.function_enabled,
            "definitions": [_ea_json(d) for d in self.definitions],
        }


def _name(value: Any) -> str:
    return str(value.name).lower()


def _event_name(event_id: int) -> str | None:
    if event_id == 0:
        return None  # 0: no event for that side of a check
    definition = dic.EVENTS.get(event_id)
    return definition.name if definition else str(event_id)


def _mode_json(report: ModeReport | None) -> dict[str, Any] | None:
    if report is None:
        return None
    return {
        "mode": report.mode.name,
        "previous": report.previous.name,
        "since_s": report.since_s,
        "transitions": report.transitions,
        "reason": report.reason,
    }


def _pmon_json(entry: mon.DefinitionReport) -> dict[str, Any]:
    d = entry.definition
    check: dict[str, Any]
    if isinstance(d.check, mon.ExpectedCheck):
        check = {
            "mask": d.check.mask,
            "expected": d.check.expected,
            "event": _event_name(d.check.event),
        }
    else:
        check = {
            "low": d.check.low,
            "low_event": _event_name(d.check.low_event),
            "high": d.check.high,
            "high_event": _event_name(d.check.high_event),
        }
    validity = None
    if d.validity is not None:
        validity = {
            "parameter": d.validity.parameter,
            "mask": d.validity.mask,
            "expected": d.validity.expected,
        }
    return {
        "pmon_id": d.pmon_id,
        "parameter": d.parameter,
        "check_type": _name(d.check_type),
        "check": check,
        "repetition": d.repetition,
        "validity": validity,
        "enabled": entry.enabled,
        "status": _name(entry.status),
    }


def _transition_json(t: mon.CheckTransition) -> dict[str, Any]:
    return {
        "pmon_id": t.pmon_id,
        "parameter": t.parameter,
        "check_type": _name(t.check_type),
        "value": t.value,
        "limit": t.limit,
        "previous": _name(t.previous),
        "current": _name(t.current),
        "time_s": t.time_s,
    }


def _describe_transitions(transitions: list[mon.CheckTransition]) -> str:
    def one(t: mon.CheckTransition) -> str:
        value = "-" if t.value is None else f"{t.value:g}"
        limit = "" if t.limit is None else f" limit {t.limit:g}"
        return (
            f"PMON {t.pmon_id} {t.parameter} {_name(t.previous)} -> {_name(t.current)} "
            f"(value {value}{limit})"
        )

    shown = "; ".join(one(t) for t in transitions[:3])
    more = f"; and {len(transitions) - 3} more" if len(transitions) > 3 else ""
    return f"{len(transitions)}: {shown}{more}" if transitions else "0"


def _stored_tc(tc_bytes: bytes) -> str:
    """An event-action's stored telecommand as 'TC(s,ss) apid N, n bytes of data'."""
    try:
        tc = PusTc.unpack(tc_bytes)
    except ValueError:  # stored as sent: the satellite refuses a bad one at 19,1 already
        return f"undecodable TC ({len(tc_bytes)} bytes)"
    return f"TC({tc.service},{tc.subservice}) apid {tc.apid}, {len(tc.app_data)} bytes of data"


def _ea_json(entry: ea.EventActionReport) -> dict[str, Any]:
    d = entry.definition
    return {
        "ea_id": d.ea_id,
        "event_id": d.event_id,
        "event": _event_name(d.event_id),
        "match": d.match,
        "tc": _stored_tc(d.tc),
        "tc_hex": d.tc.hex(),
        "enabled": entry.enabled,
        "firings": entry.firings,
    }


def _plain(value: Any) -> Any:
    """A service 140 record as JSON-ready data (enums by name)."""
    if value is None:
        return None
    out = dict(vars(value))
    for key, item in out.items():
        if isinstance(item, dic.JobState | dic.BoardState):
            out[key] = item.name.lower()
        elif isinstance(item, tuple):
            out[key] = list(item)
    return out


def _error_name(code: int) -> str:
    try:
        return f"{code:#06x} {ErrorCode(code).name}"
    except ValueError:
        return f"{code:#06x}"


Decoder = Callable[[PusTm, float], "Telemetry"]


def _verification(tm: PusTm, received: float) -> Telemetry:
    data = tm.source_data
    if len(data) < 4:
        raise DecodeError("verification", expected=">= 4 bytes", got=len(data))
    code = int.from_bytes(data[4:6], "big") if tm.subservice in (2, 4, 6, 8) else None
    return Telemetry(tm, received, request_id=data[:4], error_code=code)


def _hk(tm: PusTm, received: float) -> Telemetry:
    sid, parameters = dic.unpack_hk_report(tm.source_data)
    return Telemetry(tm, received, sid=sid, parameters=parameters)


def _event(tm: PusTm, received: float) -> Telemetry:
    event_id, message = dic.unpack_event(tm.source_data)
    definition = dic.EVENTS.get(event_id)
    return Telemetry(
        tm,
        received,
        event_id=event_id,
        message=message,
        event_name=definition.name if definition else str(event_id),
    )


def _alive(tm: PusTm, received: float) -> Telemetry:
    if tm.source_data:
        raise DecodeError("are-you-alive report", expected="no data", got=len(tm.source_data))
    return Telemetry(tm, received, alive=True)


def _pmon_report(tm: PusTm, received: float) -> Telemetry:
    enabled, entries = mon.DefinitionReport.unpack_all(tm.source_data)
    return Telemetry(tm, received, monitoring=MonitoringReport(enabled, tuple(entries)))


def _ea_report(tm: PusTm, received: float) -> Telemetry:
    enabled, entries = ea.EventActionReport.unpack_all(tm.source_data)
    return Telemetry(tm, received, event_actions=EventActionList(enabled, tuple(entries)))


# Every TM kind the satellite sends (the dictionary's TM subservices: a test holds them equal),
# each to its typed record.
TM_DECODERS: dict[tuple[int, int], Decoder] = {
    **{(1, sub): _verification for sub in (1, 2, 3, 4, 7, 8)},
    (3, 25): _hk,
    **{(5, sub): _event for sub in (1, 2, 3, 4)},
    (12, 9): _pmon_report,
    (12, 12): lambda tm, r: Telemetry(
        tm, r, transitions=mon.CheckTransition.unpack_all(tm.source_data)
    ),
    (17, 2): _alive,
    (19, 11): _ea_report,
    (130, 3): lambda tm, r: Telemetry(tm, r, mode_report=ModeReport.unpack(tm.source_data)),
    (140, 4): lambda tm, r: Telemetry(tm, r, jobs=dic.unpack_job_list(tm.source_data)),
    (140, 5): lambda tm, r: Telemetry(tm, r, job_report=JobReport.unpack(tm.source_data)),
    (140, 7): lambda tm, r: Telemetry(tm, r, boards=dic.unpack_board_report(tm.source_data)),
}

# The reply each report-requesting TC gets (for a console that sends any TC and shows it).
REPLIES: dict[tuple[int, int], tuple[int, int]] = {
    (3, 27): (3, 25),
    (12, 8): (12, 9),
    (17, 1): (17, 2),
    (19, 10): (19, 11),
    (130, 2): (130, 3),
    (140, 3): (140, 4),
    (140, 6): (140, 7),
}


def decode_tm(datagram: bytes, received_wall_s: float) -> Telemetry:
    """Decode a TM datagram with the dictionary into its typed record (raises DecodeError).
    A kind the dictionary does not know stays raw (only its packet)."""
    tm = PusTm.unpack(datagram)
    decoder = TM_DECODERS.get((tm.service, tm.subservice))
    if decoder is None:
        return Telemetry(tm, received_wall_s)
    try:
        return decoder(tm, received_wall_s)
    except DecodeError:
        raise
    except ValueError as exc:  # an enum value out of range (a checking status, a mode)
        raise DecodeError(
            f"TM({tm.service},{tm.subservice})", expected="a valid record", got=str(exc)
        ) from None


class CommandFailed(RuntimeError):
    def __init__(self, result: CommandResult) -> None:
        super().__init__(result.describe())
        self.result = result


@dataclass
class CommandResult:
    """What the satellite said about one telecommand."""

    request_id: bytes
    reports: list[Telemetry] = field(default_factory=list)
    replies: list[Telemetry] = field(default_factory=list)

    @property
    def stages(self) -> list[int]:
        """Verification subservices received, in order (1, 3, 7 for a full success)."""
        return [r.subservice for r in self.reports]

    @property
    def failure(self) -> Telemetry | None:
        return next((r for r in self.reports if r.subservice in (2, 4, 6, 8)), None)

    @property
    def ok(self) -> bool:
        return self.failure is None and 7 in self.stages

    @property
    def error_code(self) -> int | None:
        failure = self.failure
        return failure.error_code if failure else None

    def describe(self) -> str:
        failure = self.failure
        if failure is not None:
            return (
                f"request {self.request_id.hex()} failed at TM(1,{failure.subservice}) "
                f"with {_error_name(failure.error_code or 0)}"
            )
        return f"request {self.request_id.hex()}: stages {self.stages}"


@dataclass
class _Waiter:
    """A pending ``expect``: its predicate, its future, and the invalid values that kept the
    predicate from judging a report (for the timeout message)."""

    predicate: Predicate
    future: asyncio.Future[Telemetry]
    unjudged: int = 0
    invalid_seen: dict[str, str] = field(default_factory=dict)  # name → last report summary

    def offer(self, tm: Telemetry) -> bool:
        """Whether this waiter is done with ``tm`` (matched or failed)."""
        try:
            matched = self.predicate(tm)
        except (TypeError, InvalidParameter) as exc:
            if not tm.invalid:
                self.future.set_exception(exc)
                return True
            # The predicate read a value the satellite flagged invalid (None): no match.
            self.unjudged += 1
            names = [exc.name] if isinstance(exc, InvalidParameter) else list(tm.invalid)
            for name in names:
                self.invalid_seen[name] = tm.summary()
            return False
        except Exception as exc:
            self.future.set_exception(exc)
            return True
        if matched:
            self.future.set_result(tm)
        return bool(matched)

    def timeout_message(self, timeout: float) -> str:
        message = f"no matching telemetry within {timeout} mission s"
        if self.unjudged:
            names = sorted(self.invalid_seen)
            shown = ", ".join(names[:8]) + (f" and {len(names) - 8} more" if len(names) > 8 else "")
            message += (
                f"; {self.unjudged} report(s) could not match because values were invalid "
                f"(None: not acquired or device silent): {shown}"
            )
        return message


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, station: Ground) -> None:
        self.station = station

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.station._received(data)

    def error_received(self, exc: Exception) -> None:
        self.station.link_errors += 1


class Ground:
    """A ground station on the RF link (an async context manager)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 7301,
        *,
        local_host: str = "127.0.0.1",
        local_port: int = 0,
        source_id: int = 0x0010,
        speed: float = 1.0,
        archive_path: Path | None = None,
        on_telemetry: Callable[[Telemetry], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.target = (host, port)
        self.local = (local_host, local_port)
        self.source_id = source_id
        # A given clock (an in-process test's stepped clock, shared with the satellite) is
        # already the satellite's time; a station of its own follows the telemetry.
        self.clock: Clock = WallClock(speed) if clock is None else clock
        self._clock_anchored = False
        self.archive: list[Telemetry] = []
        self.bad_tm = 0
        self.link_errors = 0
        self.latest_hk: dict[int, Telemetry] = {}
        self._archive_path = archive_path
        self._archive_file: Any = None
        self._on_telemetry = on_telemetry
        self._waiters: list[_Waiter] = []
        self._listeners: list[Callable[[Telemetry], None]] = []
        self._seq = itertools.count()
        # Job ids start at random so two stations (or two runs) rarely pick the same one.
        self._job_ids = itertools.count(secrets.randbelow(2**30) + 1)
        self.submitted: dict[int, SubmitJob] = {}
        self._transport: asyncio.DatagramTransport | None = None

    async def __aenter__(self) -> Ground:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: _Protocol(self), local_addr=self.local
        )
        if self._archive_path is not None:
            self._archive_file = self._archive_path.open("a", encoding="utf-8")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._transport is not None:
            self._transport.close()
            self._transport = None
        if self._archive_file is not None:
            self._archive_file.close()
        for waiter in self._waiters:
            waiter.future.cancel()
        self._waiters.clear()

    @property
    def local_address(self) -> tuple[str, int]:
        """Where this station receives telemetry (give it to the satellite's ``--push``)."""
        if self._transport is None:
            raise RuntimeError("ground station is not open: use 'async with Ground(...)'")
        host, port = self._transport.get_extra_info("sockname")[:2]
        return (host, port)

    # --- receiving ----------------------------------------------------------------------

    def _received(self, datagram: bytes) -> None:
        loop = asyncio.get_running_loop()
        try:
            tm = decode_tm(datagram, loop.time())
        except DecodeError:
            self.bad_tm += 1
            return
        self._track_time(tm)
        self.archive.append(tm)
        if tm.sid is not None:
            self.latest_hk[tm.sid] = tm
        if self._archive_file is not None:
            self._archive_file.write(json.dumps(tm.as_json()) + "\n")
        if self._on_telemetry is not None:
            self._on_telemetry(tm)
        for listener in list(self._listeners):
            listener(tm)
        self._waiters = [
            waiter for waiter in self._waiters if not waiter.future.done() and not waiter.offer(tm)
        ]

    def _track_time(self, tm: Telemetry) -> None:
        if not isinstance(self.clock, WallClock):
            return
        speed = tm.parameters.get("time.clock_speed") if tm.sid == 1 else None
        time_ns = tm.packet.time.to_ns()
        if speed and speed > 0 and speed != self.clock.speed:
            self.clock.anchor(time_ns, float(speed))
        elif not self._clock_anchored or time_ns > self.clock.now_ns():
            self.clock.anchor(time_ns)
        self._clock_anchored = True

    # --- waiting ------------------------------------------------------------------------

    def _expect(self, predicate: Predicate) -> _Waiter:
        future: asyncio.Future[Telemetry] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(predicate, future)
        self._waiters.append(waiter)
        return waiter

    def expect(self, predicate: Predicate) -> asyncio.Future[Telemetry]:
        """A future for the next TM matching ``predicate`` (register before sending).
        A report whose invalid values the predicate trips over does not match."""
        return self._expect(predicate).future

    async def wait_for(self, predicate: Predicate, timeout: float = 10.0) -> Telemetry:
        """The next TM matching ``predicate`` within ``timeout`` mission seconds.

        A report whose invalid (``None``) values make the predicate raise TypeError or
        :class:`InvalidParameter` does not match; on timeout the error names those values.
        """
        waiter = self._expect(predicate)
        try:
            return await self.clock.wait_for(waiter.future, timeout)
        except TimeoutError:
            raise TimeoutError(waiter.timeout_message(timeout)) from None

    async def expect_none(self, predicate: Predicate, within: float) -> None:
        """Assert that no TM matching ``predicate`` arrives within ``within`` mission seconds."""
        try:
            tm = await self.wait_for(predicate, within)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected telemetry: {tm.summary()}")

    async def hk(self, sid: int = 1, timeout: float = 10.0) -> dict[str, float | int | None]:
        """The parameters of the next housekeeping report of structure ``sid`` (``None`` for
        a parameter the satellite flags invalid)."""
        return (await self.wait_for(lambda tm: tm.sid == sid, timeout)).parameters

    # --- sending ------------------------------------------------------------------------

    def send_raw(self, datagram: bytes) -> None:
        """Send bytes as they are (bad-input tests, third-party packets)."""
        if self._transport is None:
            raise RuntimeError("ground station is not open: use 'async with Ground(...)'")
        if datagram:
            self._transport.sendto(datagram, self.target)
        else:
            # asyncio drops empty datagrams silently, yet a zero-length UDP datagram is legal
            # and is exactly what a bad-input test wants to send (it gets no reply anyway).
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as raw:
                raw.sendto(b"", self.target)

    def telecommand(
        self,
        service: int,
        subservice: int,
        data: bytes = b"",
        apid: int = dic.Apid.PLATFORM,
        ack: AckFlags = AckFlags.ALL,
    ) -> PusTc:
        return PusTc(
            apid=apid,
            service=service,
            subservice=subservice,
            app_data=data,
            seq_count=next(self._seq) & 0x3FFF,
            source_id=self.source_id,
            ack_flags=ack,
        )

    async def command(
        self,
        service: int,
        subservice: int,
        data: bytes = b"",
        *,
        apid: int = dic.Apid.PLATFORM,
        ack: AckFlags = AckFlags.ALL,
        timeout: float = 10.0,
        reply: tuple[int, int] | Predicate | None = None,
        check: bool = False,
    ) -> CommandResult:
        """Send a TC and wait for its verification (and its ``reply``, if given: a TM kind
        on the TC's APID, or a predicate for replies that share their kind with periodic
        telemetry, such as a one-shot housekeeping report).

        Returns when completion (1,7) or any failure arrives; with ``ack`` lacking the
        completion flag, when the last requested stage arrives. ``check`` raises
        :class:`CommandFailed` on failure.
        """
        tc = self.telecommand(service, subservice, data, apid, ack)
        result = CommandResult(tc.request_id)

        def is_reply(tm: Telemetry) -> bool:
            if callable(reply):
                return reply(tm)
            return tm.kind == reply and tm.apid == apid

        final_stage = next(
            (
                stage
                for flag, stage in (
                    (AckFlags.COMPLETION, 7),
                    (AckFlags.START, 3),
                    (AckFlags.ACCEPTANCE, 1),
                )
                if ack & flag
            ),
            None,
        )
        done = asyncio.get_running_loop().create_future()

        def verification(tm: Telemetry) -> bool:
            return tm.service == 1 and tm.request_id == tc.request_id

        def watch(tm: Telemetry) -> None:
            if verification(tm):
                result.reports.append(tm)
            elif reply is not None and is_reply(tm):
                result.replies.append(tm)
            else:
                return
            finished = result.failure is not None or (
                final_stage in result.stages and (reply is None or result.replies)
            )
            if finished and not done.done():
                done.set_result(None)

        if final_stage is None and reply is None:
            self.send_raw(tc.pack())
            return result
        self._listeners.append(watch)
        try:
            self.send_raw(tc.pack())
            await self.clock.wait_for(done, timeout)
        except TimeoutError:
            raise TimeoutError(
                f"{result.describe()}: incomplete after {timeout} mission s"
            ) from None
        finally:
            self._listeners.remove(watch)
        if check and not result.ok:
            raise CommandFailed(result)
        return result

    async def ping(self, apid: int = dic.Apid.PLATFORM, timeout: float = 10.0) -> CommandResult:
        """PUS 17,1; returns with the 17,2 reply and completion, or raises CommandFailed."""
        return await self.command(17, 1, apid=apid, timeout=timeout, reply=(17, 2), check=True)

    async def enable_hk(self, *sids: int, timeout: float = 10.0) -> CommandResult:
        return await self.command(3, 5, dic.pack_id_list(list(sids)), timeout=timeout)

    async def disable_hk(self, *sids: int, timeout: float = 10.0) -> CommandResult:
        return await self.command(3, 6, dic.pack_id_list(list(sids)), timeout=timeout)

    async def set_hk_interval(
        self, sid: int, interval_s: float, timeout: float = 10.0
    ) -> CommandResult:
        return await self.command(3, 31, dic.pack_intervals({sid: interval_s}), timeout=timeout)

    async def request_hk(self, sid: int, timeout: float = 10.0) -> dict[str, float | int | None]:
        """One-shot report (3,27) of ``sid``; returns its parameters (``None`` = invalid)."""
        result = await self.command(
            3,
            27,
            dic.pack_id_list([sid]),
            timeout=timeout,
            # Periodic reports of other structures share the kind: the reply is this SID's.
            reply=lambda tm: tm.kind == (3, 25) and tm.sid == sid,
            check=True,
        )
        return result.replies[0].parameters

    async def device_command(
        self, device: str, command: str, args: dict[str, Any] | None = None, timeout: float = 10.0
    ) -> CommandResult:
        """Perform a device function (8,1) through flight software."""
        return await self.command(
            8, 1, dic.pack_device_function(device, command, args), timeout=timeout
        )

    # --- compute jobs (service 140, APID 2) ---------------------------------------------

    async def submit_job(
        self,
        kernel: str,
        size: int,
        seed: int,
        iterations: int = 1,
        redundancy: int = 1,
        priority: int = 0,
        job_id: int | None = None,
        timeout: float = 10.0,
    ) -> int:
        """Submit a compute job (140,1); returns its id once queued, else CommandFailed."""
        job = SubmitJob(
            job_id if job_id is not None else next(self._job_ids),
            kernel,
            size,
            seed,
            iterations,
            redundancy,
            priority,
        )
        self.submitted[job.job_id] = job
        await self.command(140, 1, job.pack(), apid=dic.Apid.PAYLOAD, timeout=timeout, check=True)
        return job.job_id

    async def cancel_job(self, job_id: int, timeout: float = 10.0) -> CommandResult:
        """Cancel a job (140,2); a job that is unknown or over fails with NOT_FOUND."""
        return await self.command(
            140, 2, dic.pack_job_id(job_id), apid=dic.Apid.PAYLOAD, timeout=timeout
        )

    async def list_jobs(self, timeout: float = 10.0) -> list[JobListEntry]:
        """Live and recently finished jobs (140,3 → 140,4)."""
        result = await self.command(
            140, 3, apid=dic.Apid.PAYLOAD, timeout=timeout, reply=(140, 4), check=True
        )
        return list(result.replies[0].jobs or [])

    async def list_boards(self, timeout: float = 10.0) -> list[BoardEntry]:
        """Every slot with a board (140,6 → 140,7)."""
        result = await self.command(
            140, 6, apid=dic.Apid.PAYLOAD, timeout=timeout, reply=(140, 7), check=True
        )
        return list(result.replies[0].boards or [])

    # --- reports of the platform services (APID 1) --------------------------------------

    async def report_mode(self, timeout: float = 10.0) -> ModeReport:
        """The mode in force (130,2 → 130,3)."""
        result = await self.command(130, 2, timeout=timeout, reply=(130, 3), check=True)
        report = result.replies[0].mode_report
        assert report is not None
        return report

    async def monitoring_definitions(
        self, *pmon_ids: int, timeout: float = 10.0
    ) -> MonitoringReport:
        """The parameter monitoring definitions ``pmon_ids`` (none: all) with their checking
        status and the function's state (12,8 → 12,9)."""
        result = await self.command(
            12, 8, mon.pack_ids(list(pmon_ids)), timeout=timeout, reply=(12, 9), check=True
        )
        report = result.replies[0].monitoring
        assert report is not None
        return report

    async def event_actions(self, *ea_ids: int, timeout: float = 10.0) -> EventActionList:
        """The event-action definitions ``ea_ids`` (none: all) with their firings and the
        function's state (19,10 → 19,11)."""
        result = await self.command(
            19, 10, ea.pack_ids(list(ea_ids)), timeout=timeout, reply=(19, 11), check=True
        )
        report = result.replies[0].event_actions
        assert report is not None
        return report

    def job_report(self, job_id: int) -> JobReport | None:
        """The result of ``job_id`` if it has already arrived."""
        return next(
            (
                tm.job_report
                for tm in reversed(self.archive)
                if tm.job_report is not None and tm.job_report.job_id == job_id
            ),
            None,
        )

    async def wait_job(self, job_id: int, timeout: float = 60.0) -> JobReport:
        """The job's result (140,5), waiting up to ``timeout`` mission seconds for it."""
        report = self.job_report(job_id)
        if report is not None:
            return report
        tm = await self.wait_for(
            lambda tm: tm.job_report is not None and tm.job_report.job_id == job_id, timeout
        )
        assert tm.job_report is not None
        return tm.job_report

    def verify(self, report: JobReport, job: SubmitJob | None = None) -> bool:
        """Recompute the job on the ground and compare digests (``computesat_sdk.kernels.verify``).

        ``job`` defaults to what this station submitted under ``report.job_id``.
        """
        job = job or self.submitted.get(report.job_id)
        if job is None:
            raise KeyError(f"job {report.job_id} was not submitted from this station")
        return bool(report.digest) and kernels.verify(job.spec(), report.digest)
