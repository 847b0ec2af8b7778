"""Event reporting (PUS 5): onboard events down as TM(5, severity).

Reads: bus ``Event`` and ``TcDispatch`` for service 5 (5 enable, 6 disable event ids).
Publishes: ``TmRequest`` (5,1..4), ``TcProgress``, ``events.generated`` parameter.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from flightsw.context import ServiceContext
from flightsw.messages import Event, TcDispatch
from icd import dictionary as dic
from icd.dictionary import Apid, Severity
from icd.errors import ErrorCode

__all__ = ["Config", "run"]


class Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


async def run(ctx: ServiceContext, config: Config) -> None:
    disabled: set[int] = set()
    generated = 0
    async with ctx.subscribe(Event, (TcDispatch, 5)) as messages:
        ctx.ready()
        async for message in messages:
            if isinstance(message, Event):
                generated += 1
                ctx.parameters(**{"events.generated": generated})
                definition = dic.EVENTS.get(message.event_id)
                severity = definition.severity if definition else Severity.MEDIUM
                ctx.log.log(
                    10 + 10 * severity,
                    "event %s from %s: %s",
                    definition.name if definition else message.event_id,
                    message.source,
                    message.message,
                )
                if message.event_id in disabled:
                    continue
                ctx.publish_tm_at(
                    Apid.PLATFORM,
                    5,
                    int(severity),
                    dic.pack_event(message.event_id, message.message),
                    message.time_ns,
                )
            elif isinstance(message, TcDispatch) and message.service == 5:
                ids = dic.unpack_id_list(message.app_data)
                unknown = [i for i in ids if i not in dic.EVENTS]
                if unknown:
                    ctx.progress(
                        message.request_id, message.apid, "start_failed", ErrorCode.NOT_FOUND
                    )
                    continue
                ctx.progress(message.request_id, message.apid, "started")
                if message.subservice == 5:
                    disabled.difference_update(ids)
                else:
                    disabled.update(ids)
                ctx.progress(message.request_id, message.apid, "completed")
