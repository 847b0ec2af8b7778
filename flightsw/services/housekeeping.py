"""Housekeeping (PUS 3): a parameter pool and periodic reports of its structures.

Reads: bus ``ParameterUpdate`` (any service's parameters, 'device.register' names, and the
names it declares invalid) and ``TcDispatch`` for service 3 (5 enable, 6 disable, 27 one-shot,
31 set interval).
Publishes: ``TmRequest`` (3,25) per enabled structure at its interval (mission seconds),
``TcProgress``, and an ``HK_CHANGED`` event when generation changes.

Validity: a parameter never published, or declared invalid since its last value, is flagged
invalid in the report's validity bitmap (and packed as 0), so the ground never takes a
placeholder for a measurement.
"""

from __future__ import annotations

import asyncio

from pydantic import BaseModel, ConfigDict, Field

from flightsw.context import ServiceContext
from flightsw.messages import ParameterUpdate, TcDispatch
from icd import dictionary as dic
from icd.dictionary import Apid, EventId
from icd.errors import ErrorCode

__all__ = ["Config", "run"]


class Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: tuple[int, ...] | None = Field(
        None, description="SIDs generating at boot (default: the dictionary's enabled_at_boot)."
    )
    min_interval_s: float = Field(0.1, gt=0, description="Shortest interval a TC may set, s.")


async def run(ctx: ServiceContext, config: Config) -> None:
    # Absent = never acquired, None = its source stopped answering: both go down invalid.
    pool: dict[str, float | None] = {}
    structures = dic.HK_STRUCTURES
    enabled = set(
        config.enabled
        if config.enabled is not None
        else (sid for sid, s in structures.items() if s.enabled_at_boot)
    )
    interval_s = {sid: s.default_interval_s for sid, s in structures.items()}
    next_due_ns = {sid: ctx.clock.now_ns() for sid in structures}
    wake = asyncio.Event()

    def report(sid: int, reply_to: bytes | None = None) -> None:
        ctx.tm(Apid.PLATFORM, 3, 25, dic.pack_hk_report(structures[sid], pool), reply_to)

    def handle(tc: TcDispatch) -> None:
        # Layouts were checked at acceptance; what remains is meaning (known SIDs, ranges).
        if tc.subservice == 31:
            requested = dic.unpack_intervals(tc.app_data)
        else:
            requested = dict.fromkeys(dic.unpack_id_list(tc.app_data), 0.0)
        unknown = [sid for sid in requested if sid not in structures]
        if unknown:
            ctx.progress(tc.request_id, tc.apid, "start_failed", ErrorCode.NOT_FOUND)
            return
        if tc.subservice == 31 and any(s < config.min_interval_s for s in requested.values()):
            ctx.progress(tc.request_id, tc.apid, "start_failed", ErrorCode.INVALID_APP_DATA)
            return
        ctx.progress(tc.request_id, tc.apid, "started")
        match tc.subservice:
            case 5:
                enabled.update(requested)
                for sid in requested:
                    next_due_ns[sid] = ctx.clock.now_ns()
            case 6:
                enabled.difference_update(requested)
            case 27:
                for sid in requested:
                    report(sid, tc.request_id)
            case 31:
                interval_s.update(requested)
        if tc.subservice != 27:
            ctx.event(
                EventId.HK_CHANGED,
                f"enabled {sorted(enabled)} intervals "
                + ", ".join(f"{sid}:{interval_s[sid]:g}s" for sid in sorted(interval_s)),
            )
            wake.set()
        ctx.progress(tc.request_id, tc.apid, "completed")

    async def inputs() -> None:
        async with ctx.subscribe(ParameterUpdate, (TcDispatch, 3)) as messages:
            ctx.ready()
            async for message in messages:
                if isinstance(message, ParameterUpdate):
                    pool.update(message.values)
                    pool.update(dict.fromkeys(message.invalid))
                elif isinstance(message, TcDispatch) and message.service == 3:
                    handle(message)

    async def generate() -> None:
        while True:
            now_ns = ctx.clock.now_ns()
            for sid in sorted(enabled):
                step_ns = int(interval_s[sid] * 1e9)
                if next_due_ns[sid] - now_ns > step_ns:
                    # Onboard time was corrected backwards (TIME_SYNCED after the hardware
                    # came back from an older state): a slot more than one interval ahead
                    # would silence this SID for as long as the correction.
                    next_due_ns[sid] = now_ns
                if now_ns >= next_due_ns[sid]:
                    report(sid)
                    # Skip missed slots rather than bursting after a stall.
                    next_due_ns[sid] += max(1, (now_ns - next_due_ns[sid]) // step_ns + 1) * step_ns
            wake.clear()
            due = min((next_due_ns[sid] for sid in enabled), default=None)
            await ctx.clock.sleep_until_ns_or(due, wake)

    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(inputs())
        tasks.create_task(generate())
