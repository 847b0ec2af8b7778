"""On-board parameter monitoring (PUS 12, ECSS-E-ST-70-41C subset; layouts in icd.monitoring).

Reads: bus ``ParameterUpdate`` (the parameter pool, flightsw.pool: 'device.register' and
service parameters in their units), ``TcDispatch`` for service 12, ``AcceptanceStateWanted``.
Every ``period_s`` mission seconds each enabled definition whose parameter has a NEW valid
sample is checked (limit, expected value, or delta = change since the previous sample); a
status must repeat ``repetition`` samples in a row before it is confirmed (persistence). A
parameter without a valid value is never checked: its definition is UNCHECKED; a definition
whose validity condition is false is INVALID.
Publishes: TM(12,12) check transition reports (every confirmed transition, batched per
cycle); on a transition into a violated status, the definition's event for that side (the
message names the PMON, parameter, value and limit: what an event-action matches on);
TM(12,9) definition reports; ``AcceptanceState`` (PMON ids in force) on every change;
``TcProgress``; events MONITORING_CHANGED, FDIR_REQUEST_REFUSED, FDIR_TABLE_ENTRY_SKIPPED;
``monitoring.*`` parameters (HK SID 7).

Requests refused at start (1,4 with the fdir code, event FDIR_REQUEST_REFUSED) are those the
link could not refuse at acceptance (ids changed since its last AcceptanceState); either way
the tables in force are unchanged: a request is applied whole or not at all.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from flightsw import fdir_tables
from flightsw.context import ServiceContext
from flightsw.messages import AcceptanceState, AcceptanceStateWanted, TcDispatch
from flightsw.pool import ParameterPool, follow
from icd import dictionary as dic
from icd import monitoring as mon
from icd.dictionary import Apid, EventId
from icd.errors import DecodeError, ErrorCode, RefusedError
from icd.monitoring import CheckStatus, CheckTransition, CheckType, MonitoringDefinition

__all__ = ["Config", "Monitor", "run"]

SERVICE = 12


class Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    period_s: float = Field(1.0, gt=0, description="Checking period, mission seconds.")
    max_definitions: int = Field(2048, ge=1, description="Room in the monitoring table.")
    default_tables: bool = Field(
        True, description="Load flightsw.fdir_tables' default definitions at start."
    )
    enabled_at_boot: bool = Field(True, description="Monitoring function enabled at start.")


# Checking statuses as plain ints on the hot path (enum members are slow to look up); the
# values are icd.monitoring.CheckStatus's.
_UNCHECKED, _INVALID, _WITHIN, _BELOW, _ABOVE, _UNEXPECTED = (int(s) for s in CheckStatus)
_LIMIT, _EXPECTED, _DELTA = int(CheckType.LIMIT), int(CheckType.EXPECTED), int(CheckType.DELTA)


class _Pmon:
    """One definition in force and its checking state (flattened for a cheap check)."""

    __slots__ = (
        "candidate",
        "check_kind",
        "definition",
        "enabled",
        "high",
        "last_checked",
        "low",
        "mask",
        "parameter",
        "previous",
        "repeats",
        "repetition",
        "sample_ns",
        "state",
        "target",
        "validity",
    )

    def __init__(self, definition: MonitoringDefinition, enabled: bool = True) -> None:
        self.enabled = enabled
        self.state = _UNCHECKED
        self.define(definition)

    def define(self, definition: MonitoringDefinition) -> None:
        """(Re)define: the checking state starts again (the caller reports the transition)."""
        self.definition = definition
        self.parameter = definition.parameter
        self.repetition = definition.repetition
        self.validity = definition.validity
        self.check_kind = int(definition.check_type)
        check = definition.check
        if isinstance(check, mon.ExpectedCheck):
            self.mask, self.target, self.low, self.high = check.mask, check.expected, 0.0, 0.0
        else:
            self.mask, self.target, self.low, self.high = 0, 0, check.low, check.high
        self.restart()

    def restart(self) -> None:
        self.candidate = _UNCHECKED
        self.repeats = 0
        self.sample_ns: int | None = None
        self.previous: float | None = None  # the previous valid sample (delta checks)
        self.last_checked: float | None = None  # the last value checked (delta: the change)

    @property
    def status(self) -> CheckStatus:
        return CheckStatus(self.state)


@dataclass
class Monitor:
    """The monitoring table and its checks (pure: no bus), one instance per service run."""

    definitions: dict[int, _Pmon] = field(default_factory=dict)
    function_enabled: bool = True
    transitions_total: int = 0
    checks_total: int = 0

    def ids(self) -> list[int]:
        return sorted(self.definitions)

    def check(
        self, pool: ParameterPool, now_s: float
    ) -> tuple[list[CheckTransition], list[tuple[int, str]]]:
        """One checking cycle: the confirmed transitions and the events (id, message).

        Runs every period over every definition, so it is written for speed: a definition
        whose parameter has no new sample is skipped, and so is one whose new sample equals
        the last one checked while its status is settled (the check would say the same)."""
        transitions: list[CheckTransition] = []
        events: list[tuple[int, str]] = []
        if not self.function_enabled:
            return transitions, events
        get, entry_of = pool.get, pool.entries()
        checks = 0
        for p in self.definitions.values():
            if not p.enabled:
                continue
            entry = entry_of(p.parameter)  # value and sample time in one lookup
            limit: float | None = None
            if entry is None:
                value = None
                p.previous = p.last_checked = p.sample_ns = None
                if p.state == _UNCHECKED and p.candidate == _UNCHECKED:
                    continue
                raw = _UNCHECKED  # an invalid value is never checked
            else:
                value, sample_ns = entry
                if sample_ns == p.sample_ns:
                    continue  # no new sample since the last check: nothing to count
                p.sample_ns = sample_ns
                kind = p.check_kind
                validity = p.validity
                if validity is not None:
                    condition = get(validity.parameter)
                    if condition is None or not validity.holds(condition):
                        if p.state == _INVALID:
                            continue
                        p.previous = p.last_checked = None
                        raw = _INVALID
                        value = None
                    else:
                        raw = -1
                elif p.candidate == p.state and (
                    value == p.last_checked
                    if kind != _DELTA
                    else value == p.previous and p.last_checked == 0.0
                ):
                    continue  # settled and the same value: the same result
                else:
                    raw = -1
                if raw < 0:
                    checks += 1
                    if kind == _EXPECTED:
                        p.last_checked = value
                        if (int(value) & p.mask) == p.target:
                            raw = _WITHIN
                        else:
                            raw, limit = _UNEXPECTED, float(p.target)
                    else:
                        if kind == _DELTA:
                            previous, p.previous = p.previous, value
                            if previous is None:
                                p.last_checked = None
                                raw = _UNCHECKED
                                value = None
                            else:
                                value = value - previous
                        if value is not None:
                            p.last_checked = value
                            if value < p.low:
                                raw, limit = _BELOW, p.low
                            elif value > p.high:
                                raw, limit = _ABOVE, p.high
                            else:
                                raw = _WITHIN
            if raw <= _INVALID:
                p.candidate, p.repeats = raw, p.repetition  # no persistence on these
            elif raw == p.candidate:
                p.repeats += 1
            else:
                p.candidate, p.repeats = raw, 1
            if p.candidate != p.state and p.repeats >= p.repetition:
                transitions.append(self._transition(p, raw, value, limit, now_s))
                event = self._event(p, value)
                if event is not None:
                    events.append(event)
        self.checks_total += checks
        return transitions, events

    def _transition(
        self,
        pmon: _Pmon,
        new: int,
        value: float | None,
        limit: float | None,
        now_s: float,
    ) -> CheckTransition:
        d = pmon.definition
        transition = CheckTransition(
            d.pmon_id,
            d.parameter,
            d.check_type,
            value,
            limit,
            CheckStatus(pmon.state),
            CheckStatus(new),
            now_s,
        )
        pmon.state = new
        self.transitions_total += 1
        return transition

    def _event(self, pmon: _Pmon, value: float | None) -> tuple[int, str] | None:
        d = pmon.definition
        status = pmon.status
        if not status.violated or value is None:
            return None
        check = d.check
        if isinstance(check, mon.ExpectedCheck):
            event_id, side = check.event, f"not {check.expected:#x} under mask {check.mask:#x}"
        elif status is CheckStatus.BELOW_LOW:
            event_id, side = check.low_event, f"below low {check.low:g}"
        else:
            event_id, side = check.high_event, f"above high {check.high:g}"
        if not event_id:
            return None
        what = "change per sample" if d.check_type is CheckType.DELTA else "value"
        message = (
            f"PMON {d.pmon_id} {d.parameter} {side}: {what} "
            f"{value:.6g} for {d.repetition} sample(s)"
        )
        return event_id, message

    def reset(self, pmon: _Pmon, now_s: float) -> CheckTransition | None:
        """Back to UNCHECKED (disabled, modified, function off): a transition if it was not."""
        pmon.restart()
        if pmon.state == _UNCHECKED:
            return None
        return self._transition(pmon, _UNCHECKED, None, None, now_s)

    def counters(self) -> dict[str, float]:
        return {
            "monitoring.enabled": float(self.function_enabled),
            "monitoring.definitions": float(len(self.definitions)),
            "monitoring.definitions_enabled": float(
                sum(p.enabled for p in self.definitions.values())
            ),
            "monitoring.violated": float(sum(p.state >= _BELOW for p in self.definitions.values())),
            "monitoring.transitions": float(self.transitions_total),
            "monitoring.checks": float(self.checks_total),
        }


def _refuse(code: ErrorCode, field_name: str, expected: object, got: object) -> RefusedError:
    return RefusedError(field_name, code, expected=expected, got=got)


async def run(ctx: ServiceContext, config: Config) -> None:
    pool = ParameterPool()
    monitor = Monitor(function_enabled=config.enabled_at_boot)
    wake = asyncio.Event()

    def now_s() -> float:
        return ctx.clock.now_ns() / 1e9

    def announce() -> None:
        ctx.publish(AcceptanceState(service=SERVICE, ids=monitor.ids()))

    def report_transitions(transitions: list[CheckTransition]) -> None:
        for start in range(0, len(transitions), mon.MAX_IDS):
            chunk = transitions[start : start + mon.MAX_IDS]
            ctx.tm(Apid.PLATFORM, SERVICE, 12, CheckTransition.pack_all(chunk))

    if config.default_tables:
        definitions, skipped = fdir_tables.default_monitoring()
        for definition in definitions[: config.max_definitions]:
            monitor.definitions[definition.pmon_id] = _Pmon(definition)
        for name, reason in skipped:
            ctx.log.info("monitoring: default definition %s not loaded: %s", name, reason)
        if skipped:
            summary = fdir_tables.skipped_summary("monitoring", skipped)
            ctx.event(EventId.FDIR_TABLE_ENTRY_SKIPPED, summary)

    def handle(tc: TcDispatch) -> None:
        """Apply one request whole, or refuse it with the tables unchanged."""
        sub = tc.subservice
        try:
            changes = apply(sub, tc)
        except (RefusedError, DecodeError) as exc:
            code = exc.code if isinstance(exc, RefusedError) else ErrorCode.INVALID_APP_DATA
            ctx.progress(tc.request_id, tc.apid, "start_failed", code)
            ctx.event(EventId.FDIR_REQUEST_REFUSED, f"TC(12,{sub}) refused: {exc}")
            return
        ctx.progress(tc.request_id, tc.apid, "started")
        if changes:
            ctx.event(EventId.MONITORING_CHANGED, changes)
            announce()
        ctx.parameters(**monitor.counters())
        ctx.progress(tc.request_id, tc.apid, "completed")

    def known(ids: list[int]) -> list[int]:
        unknown = [i for i in ids if i not in monitor.definitions]
        if unknown:
            raise _refuse(ErrorCode.FDIR_UNKNOWN_ID, "pmon.pmon_id", "PMON ids in force", unknown)
        return ids

    def apply(sub: int, tc: TcDispatch) -> str:
        data = tc.app_data
        if sub in (5, 7):
            definitions = dic.APP_DATA_CHECKS[SERVICE, sub](data)  # decode + meaning again
            assert isinstance(definitions, list)
            ids = [d.pmon_id for d in definitions]
            if sub == 5:
                clash = [i for i in ids if i in monitor.definitions]
                if clash:
                    raise _refuse(ErrorCode.FDIR_ID_IN_USE, "pmon.pmon_id", "new ids", clash)
                if len(monitor.definitions) + len(ids) > config.max_definitions:
                    raise _refuse(
                        ErrorCode.FDIR_TABLE_FULL,
                        "pmon_list.count",
                        f"<= {config.max_definitions - len(monitor.definitions)} more",
                        len(ids),
                    )
                for d in definitions:
                    # PUS-C: a definition added in flight starts enabled (its status unchecked)
                    monitor.definitions[d.pmon_id] = _Pmon(d)
                return f"added PMON {ids}"
            known(ids)
            transitions = []
            for d in definitions:
                pmon = monitor.definitions[d.pmon_id]
                transition = monitor.reset(pmon, now_s())
                if transition:
                    transitions.append(transition)
                pmon.define(d)
            report_transitions(transitions)
            return f"modified PMON {ids}"
        if sub in (1, 2, 6):
            ids = known(mon.unpack_ids(data))
            transitions = []
            for pmon_id in ids:
                pmon = monitor.definitions[pmon_id]
                if sub == 6:
                    del monitor.definitions[pmon_id]
                    continue
                pmon.enabled = sub == 1
                if sub == 2:
                    transition = monitor.reset(pmon, now_s())
                    if transition:
                        transitions.append(transition)
            report_transitions(transitions)
            return f"{ {1: 'enabled', 2: 'disabled', 6: 'deleted'}[sub] } PMON {ids}"
        if sub == 8:
            ids = known(mon.unpack_ids(data, allow_empty=True)) or monitor.ids()
            entries = [
                mon.DefinitionReport(
                    monitor.definitions[i].definition,
                    monitor.definitions[i].enabled,
                    monitor.definitions[i].status,
                )
                for i in ids
            ]
            ctx.tm(
                Apid.PLATFORM,
                SERVICE,
                9,
                mon.DefinitionReport.pack_all(monitor.function_enabled, entries),
                reply_to=tc.request_id,
            )
            return ""
        if sub in (15, 16):
            monitor.function_enabled = sub == 15
            if sub == 16:
                transitions = [
                    t
                    for p in monitor.definitions.values()
                    if (t := monitor.reset(p, now_s())) is not None
                ]
                report_transitions(transitions)
            return f"monitoring function {'enabled' if sub == 15 else 'disabled'}"
        raise _refuse(ErrorCode.ILLEGAL_SUBSERVICE, "subservice", sorted(mon.TC_LAYOUTS), sub)

    async def checking() -> None:
        while True:
            transitions, events = monitor.check(pool, now_s())
            report_transitions(transitions)
            for event_id, message in events:
                ctx.event(event_id, message)
            ctx.parameters(**monitor.counters())
            await ctx.clock.sleep(config.period_s)

    async def requests() -> None:
        async with ctx.subscribe((TcDispatch, SERVICE), AcceptanceStateWanted) as messages:
            announce()
            ready.set()
            async for message in messages:
                if isinstance(message, TcDispatch):
                    handle(message)
                elif isinstance(message, AcceptanceStateWanted):
                    announce()

    ready = wake
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(follow(ctx, pool))
        tasks.create_task(requests())
        await ready.wait()
        ctx.ready()
        tasks.create_task(checking())
