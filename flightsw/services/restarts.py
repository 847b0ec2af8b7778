"""Process restarts, as the process supervisor (``computesat.supervisor``) reports them.

Reads: its config (this boot's number and why the previous flight software stopped, from
``--boot-count`` / ``--restart-reason``); bus ``TcDispatch`` of any service (a ground made
contact); with ``notices_from_stdin``, JSON lines on stdin from the supervisor:
``{"notice": "hwsim_down" | "hwsim_up", "reason": ..., "restart": n, "gap_s": s,
"restore": ...}``.
Publishes: the ``flightsw.boot_count`` parameter (count); a FLIGHTSW_RESTARTED event after a
restart, once a ground can hear it (the new process has forgotten every ground address, so it
waits for the first accepted telecommand, or sends at once when ``announce_at_once``);
HARDWARE_GAP events when hwsim dies and when it is back ("back after 0.6 s of wall time": the
supervisor's measure; with the snapshot restored, file and mission time, or why it started
fresh).

Why stdin: it is the one channel the supervisor already owns for each child, it needs no port,
and it closes by itself when the supervisor dies. Anything on it that is not a notice is
logged and ignored, never fatal.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys

from pydantic import BaseModel, ConfigDict, Field

from flightsw.context import ServiceContext
from flightsw.messages import HardwareDown, TcDispatch
from icd.dictionary import EventId

__all__ = ["Config", "hardware_gap_message", "run"]

_MAX_NOTICE_BYTES = 4096


class Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    boot_count: int = Field(1, ge=1, description="This boot's number since launch (1 = first).")
    restart_reason: str = Field(
        "", description="How the previous flight-software process ended (set on a restart)."
    )
    announce_at_once: bool = Field(
        False, description="Raise FLIGHTSW_RESTARTED at boot (a push address hears it)."
    )
    notices_from_stdin: bool = Field(
        False, description="Read the supervisor's notices (JSON lines) from stdin."
    )


def restarted_message(config: Config) -> str:
    reason = config.restart_reason or "stopped"
    return f"flight software restarted after it {reason}; boot {config.boot_count}"


def hardware_gap_message(notice: dict[str, object]) -> str | None:
    """The HARDWARE_GAP text for a supervisor notice, None if it is not one."""
    kind = notice.get("notice")
    reason = str(notice.get("reason", "died"))
    restart = notice.get("restart", "?")
    if kind == "hwsim_down":
        return f"hardware simulator {reason}; restarting it (restart {restart}); devices silent"
    if kind == "hwsim_up":
        # The supervisor measures the gap in wall time (it supervises processes, not the
        # mission); DEVICES_RECOVERED gives the silence in mission seconds.
        gap = notice.get("gap_s")
        gap_text = f"{float(gap):.1f} s of wall time" if isinstance(gap, int | float) else "a gap"
        return (
            f"hardware simulator back after {gap_text} (it {reason}; restart {restart}; "
            f"{notice.get('restore', 'restore unknown')})"
        )
    return None


async def _notices(ctx: ServiceContext) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=_MAX_NOTICE_BYTES)
    # A duplicate of stdin: the transport closes what it reads, and a restart of this
    # service must be able to read again.
    pipe = os.fdopen(os.dup(sys.stdin.fileno()), "rb", buffering=0)
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    try:
        while True:
            try:
                line = await reader.readline()
            except ValueError:  # longer than the limit: not a notice
                ctx.log.warning("restarts: oversized line on stdin ignored")
                continue
            if not line:
                ctx.log.info("restarts: supervisor channel closed")
                return
            try:
                notice = json.loads(line)
                message = hardware_gap_message(notice) if isinstance(notice, dict) else None
            except (ValueError, TypeError):
                message = None
            if message is None:
                ctx.log.warning("restarts: not a supervisor notice: %r", line[:100])
                continue
            ctx.event(EventId.HARDWARE_GAP, message)
            if notice.get("notice") == "hwsim_down":
                ctx.publish(HardwareDown(reason=str(notice.get("reason", "died"))))
    finally:
        transport.close()


async def run(ctx: ServiceContext, config: Config) -> None:
    ctx.parameters(**{"flightsw.boot_count": config.boot_count})
    async with contextlib.AsyncExitStack() as stack:
        contact = None
        if config.boot_count > 1 and not config.announce_at_once:
            contact = await stack.enter_async_context(ctx.subscribe(TcDispatch))
        ctx.ready()
        if config.boot_count > 1 and config.announce_at_once:
            ctx.event(EventId.FLIGHTSW_RESTARTED, restarted_message(config))
        async with asyncio.TaskGroup() as tasks:
            if config.notices_from_stdin:
                tasks.create_task(_notices(ctx))
            if contact is not None:
                await contact.recv()
                ctx.event(EventId.FLIGHTSW_RESTARTED, restarted_message(config))
                await stack.aclose()
