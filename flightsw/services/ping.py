"""Test service (PUS 17): answers are-you-alive on every APID the satellite owns.

Reads: bus ``TcDispatch`` for service 17. Publishes: ``TcProgress`` started/completed and
``TmRequest`` (17,2) on the TC's APID.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from flightsw.context import ServiceContext
from flightsw.messages import TcDispatch

__all__ = ["Config", "run"]


class Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


async def run(ctx: ServiceContext, config: Config) -> None:
    async with ctx.subscribe((TcDispatch, 17)) as requests:
        ctx.ready()
        async for tc in requests:
            assert isinstance(tc, TcDispatch)
            if tc.service != 17 or tc.subservice != 1:
                continue
            ctx.progress(tc.request_id, tc.apid, "started")
            ctx.tm(tc.apid, 17, 2, reply_to=tc.request_id)
            ctx.progress(tc.request_id, tc.apid, "completed")
