"""Event-action (PUS 19, ECSS-E-ST-70-41C subset; layouts in icd.event_action).

Reads: bus ``Event`` (every onboard event), ``TcDispatch`` for service 19,
``AcceptanceStateWanted``.
When an event matches an enabled definition (same event id; the message contains the
definition's ``match``, if any) and the event-action function is enabled, the stored
telecommand is dispatched as an onboard TC: a ``TcDispatch`` exactly as the link publishes an
accepted TC, with source id ``source_id`` (default 0x0013 = 19, "event-action") and a sequence
count of its own counted down from 0x3FFF (ground stations count up from 0, so the request
ids of onboard and ground TCs do not meet in practice). Several definitions on one event fire
in ``ea_id`` order (a sequence). Events this service raises itself never fire definitions (no
loops).
Also reads ``TcProgress`` of the TCs it sent: a stored TC whose owner reports a failure, or
that no owner starts within ``start_timeout_s``, is an EVENT_ACTION_FAILED.
Publishes: ``TcDispatch`` (stored TCs), events EVENT_ACTION_TRIGGERED (which event fired
which definition and TC), EVENT_ACTION_FAILED, EVENT_ACTION_CHANGED, FDIR_ESCALATED,
FDIR_REQUEST_REFUSED, FDIR_TABLE_ENTRY_SKIPPED; ``FdirEscalation`` when a definition fires
more than ``max_firings`` times within ``window_s`` mission seconds (its response does not
clear its fault) and when a stored TC fails; TM(19,11) definition reports;
``AcceptanceState`` (ids in force); ``TcProgress``; ``event_action.*`` and ``fdir.skipped``
parameters (HK SID 7).
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from flightsw import fdir_tables
from flightsw.context import ServiceContext
from flightsw.messages import (
    AcceptanceState,
    AcceptanceStateWanted,
    Event,
    FdirEscalation,
    TcDispatch,
    TcProgress,
)
from icd import dictionary as dic
from icd import event_action as ea
from icd.dictionary import Apid, EventId
from icd.errors import DecodeError, ErrorCode, RefusedError
from icd.event_action import ONBOARD_SOURCE_ID, EventActionDefinition
from icd.pus import MAX_SEQ_COUNT, PusTc

__all__ = ["Config", "run"]

SERVICE = 19


class Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_firings: int = Field(
        3, ge=1, description="Firings of one definition allowed within window_s before escalation."
    )
    window_s: float = Field(600.0, gt=0, description="Escalation window, mission seconds.")
    source_id: int = Field(
        ONBOARD_SOURCE_ID,
        ge=0,
        le=0xFFFF,
        description="PUS source id of the onboard TCs dispatched.",
    )
    max_definitions: int = Field(2048, ge=1, description="Room in the event-action table.")
    default_tables: bool = Field(
        True, description="Load flightsw.fdir_tables' default definitions (enabled) at start."
    )
    enabled_at_boot: bool = Field(True, description="Event-action function enabled at start.")
    start_timeout_s: float = Field(
        5.0,
        gt=0,
        description="Mission seconds a stored TC's owner has to start it before the firing "
        "counts as failed (EVENT_ACTION_FAILED).",
    )


@dataclass
class _Sent:
    """A stored TC dispatched and not yet finished by its owner."""

    ea_id: int
    what: str
    deadline_ns: int
    started: bool = False


@dataclass
class _Action:
    definition: EventActionDefinition
    tc: PusTc
    enabled: bool
    firings: int = 0
    recent_ns: deque[int] = field(default_factory=deque)


async def run(ctx: ServiceContext, config: Config) -> None:
    actions: dict[int, _Action] = {}
    state = {"enabled": config.enabled_at_boot, "firings": 0, "escalations": 0, "skipped": 0}
    sequence = [MAX_SEQ_COUNT]
    sent: dict[bytes, _Sent] = {}

    def counters() -> None:
        ctx.parameters(
            **{
                "event_action.enabled": float(state["enabled"]),
                "event_action.definitions": float(len(actions)),
                "event_action.definitions_enabled": float(sum(a.enabled for a in actions.values())),
                "event_action.firings": float(state["firings"]),
                "event_action.escalations": float(state["escalations"]),
                "fdir.skipped": float(state["skipped"]),
            }
        )

    def announce() -> None:
        ctx.publish(AcceptanceState(service=SERVICE, ids=sorted(actions)))

    if config.default_tables:
        definitions, skipped = fdir_tables.default_event_actions()
        for definition in definitions[: config.max_definitions]:
            actions[definition.ea_id] = _Action(definition, definition.telecommand(), True)
        state["skipped"] = len(skipped) + len(fdir_tables.default_monitoring()[1])
        for name, reason in skipped:
            ctx.log.info("event_action: default definition %s not loaded: %s", name, reason)
        if skipped:
            summary = fdir_tables.skipped_summary("event-action", skipped)
            ctx.event(EventId.FDIR_TABLE_ENTRY_SKIPPED, summary)

    def fire(action: _Action, event: Event) -> None:
        tc = action.tc
        seq = sequence[0]
        sequence[0] = seq - 1 if seq > 0 else MAX_SEQ_COUNT
        onboard = PusTc(
            apid=tc.apid,
            service=tc.service,
            subservice=tc.subservice,
            app_data=tc.app_data,
            seq_count=seq,
            source_id=config.source_id,
            ack_flags=tc.ack_flags,
        )
        ctx.publish(
            TcDispatch(
                request_id=onboard.request_id,
                apid=onboard.apid,
                service=onboard.service,
                subservice=onboard.subservice,
                source_id=onboard.source_id,
                app_data=onboard.app_data,
            )
        )
        action.firings += 1
        state["firings"] += 1
        name = dic.EVENTS[event.event_id].name if event.event_id in dic.EVENTS else event.event_id
        sent[onboard.request_id] = _Sent(
            action.definition.ea_id,
            f"TC({tc.service},{tc.subservice}) {_describe(tc)}".strip(),
            ctx.clock.now_ns() + int(config.start_timeout_s * 1e9),
        )
        ctx.event(
            EventId.EVENT_ACTION_TRIGGERED,
            f"EA {action.definition.ea_id}: {name} from {event.source} fired "
            f"TC({tc.service},{tc.subservice}) apid {tc.apid} {_describe(tc)}; "
            f"seen: {event.message}",
        )
        now_ns = ctx.clock.now_ns()
        recent = action.recent_ns
        recent.append(now_ns)
        while recent and recent[0] < now_ns - int(config.window_s * 1e9):
            recent.popleft()
        if len(recent) > config.max_firings:
            recent.clear()
            state["escalations"] += 1
            reason = (
                f"EA {action.definition.ea_id} ({name}) fired {config.max_firings + 1} times "
                f"in {config.window_s:g} s: its TC({tc.service},{tc.subservice}) does not clear it"
            )
            ctx.publish(
                FdirEscalation(source=f"event_action.{action.definition.ea_id}", reason=reason)
            )
            ctx.event(EventId.FDIR_ESCALATED, reason)

    def failed(request: _Sent, why: str) -> None:
        reason = f"EA {request.ea_id}: {request.what} {why}"[:150]
        state["escalations"] += 1
        ctx.event(EventId.EVENT_ACTION_FAILED, reason)
        ctx.publish(FdirEscalation(source=f"event_action.{request.ea_id}", reason=reason))
        counters()

    def on_progress(report: TcProgress) -> None:
        request = sent.get(report.request_id)
        if request is None:
            return  # not ours (a ground TC)
        if report.stage == "started":
            request.started = True
        elif report.stage == "completed":
            del sent[report.request_id]
        else:
            del sent[report.request_id]
            code = _code_name(report.error_code)
            failed(request, f"{report.stage.replace('_', ' ')}: {code}")

    async def expiry() -> None:
        while True:
            now_ns = ctx.clock.now_ns()
            for request_id, request in list(sent.items()):
                if not request.started and now_ns > request.deadline_ns:
                    del sent[request_id]
                    failed(request, f"not started in {config.start_timeout_s:g} s (no owner)")
            await ctx.clock.sleep(1.0)

    def on_event(event: Event) -> None:
        if not state["enabled"] or event.source == ctx.name:
            return
        fired = False
        for ea_id in sorted(actions):
            action = actions[ea_id]
            d = action.definition
            if action.enabled and d.event_id == event.event_id and d.match in event.message:
                fire(action, event)
                fired = True
        if fired:
            counters()

    def known(ids: list[int]) -> list[int]:
        unknown = [i for i in ids if i not in actions]
        if unknown:
            raise RefusedError(
                "ea.ea_id", ErrorCode.FDIR_UNKNOWN_ID, expected="ids in force", got=unknown
            )
        return ids

    def apply(tc: TcDispatch) -> str:
        sub, data = tc.subservice, tc.app_data
        if sub == 1:
            definitions = dic.APP_DATA_CHECKS[SERVICE, 1](data)  # decode + meaning again
            assert isinstance(definitions, list)
            ids = [d.ea_id for d in definitions]
            clash = [i for i in ids if i in actions]
            if clash:
                raise RefusedError(
                    "ea.ea_id", ErrorCode.FDIR_ID_IN_USE, expected="new ids", got=clash
                )
            if len(actions) + len(ids) > config.max_definitions:
                raise RefusedError(
                    "ea_list.count",
                    ErrorCode.FDIR_TABLE_FULL,
                    expected=f"<= {config.max_definitions - len(actions)} more",
                    got=len(ids),
                )
            for d in definitions:
                actions[d.ea_id] = _Action(d, d.telecommand(), enabled=False)  # PUS-C: disabled
            return f"added EA {ids} (disabled)"
        if sub in (2, 4, 5):
            ids = known(ea.unpack_ids(data, what="ea_ids"))
            for ea_id in ids:
                if sub == 2:
                    del actions[ea_id]
                else:
                    actions[ea_id].enabled = sub == 4
                    actions[ea_id].recent_ns.clear()
            return f"{ {2: 'deleted', 4: 'enabled', 5: 'disabled'}[sub] } EA {ids}"
        if sub in (8, 9):
            state["enabled"] = sub == 8
            return f"event-action function {'enabled' if sub == 8 else 'disabled'}"
        if sub == 10:
            ids = known(ea.unpack_ids(data, allow_empty=True, what="ea_ids")) or sorted(actions)
            entries = [
                ea.EventActionReport(actions[i].definition, actions[i].enabled, actions[i].firings)
                for i in ids
            ]
            ctx.tm(
                Apid.PLATFORM,
                SERVICE,
                11,
                ea.EventActionReport.pack_all(bool(state["enabled"]), entries),
                reply_to=tc.request_id,
            )
            return ""
        raise RefusedError(
            "subservice", ErrorCode.ILLEGAL_SUBSERVICE, expected=sorted(ea.TC_LAYOUTS), got=sub
        )

    def handle(tc: TcDispatch) -> None:
        try:
            change = apply(tc)
        except (RefusedError, DecodeError) as exc:
            code = exc.code if isinstance(exc, RefusedError) else ErrorCode.INVALID_APP_DATA
            ctx.progress(tc.request_id, tc.apid, "start_failed", code)
            ctx.event(EventId.FDIR_REQUEST_REFUSED, f"TC(19,{tc.subservice}) refused: {exc}")
            return
        ctx.progress(tc.request_id, tc.apid, "started")
        if change:
            ctx.event(EventId.EVENT_ACTION_CHANGED, change)
            announce()
        counters()
        ctx.progress(tc.request_id, tc.apid, "completed")

    async def serve() -> None:
        async for message in messages:
            if isinstance(message, Event):
                on_event(message)
            elif isinstance(message, TcProgress):
                on_progress(message)
            elif isinstance(message, TcDispatch):
                handle(message)
            elif isinstance(message, AcceptanceStateWanted):
                announce()

    async with ctx.subscribe(
        Event, TcProgress, (TcDispatch, SERVICE), AcceptanceStateWanted
    ) as messages:
        announce()
        counters()
        ctx.ready()
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(serve())
            tasks.create_task(expiry())


def _code_name(code: int) -> str:
    try:
        return ErrorCode(code).name
    except ValueError:
        return f"{code:#06x}"


def _describe(tc: PusTc) -> str:
    """A short reading of a stored TC's application data, for the operator's event."""
    if (tc.service, tc.subservice) == (8, 1):
        try:
            device, command, args = dic.unpack_device_function(tc.app_data)
        except DecodeError:
            return ""
        return f"{device} {command} {args or ''}".strip()
    printable = bytes(b if 32 <= b < 127 else 0x20 for b in tc.app_data).decode().split()
    return " ".join(printable)[:60]
