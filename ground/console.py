"""Live housekeeping console: pings the satellite, then shows HK and events until Ctrl-C.

A parameter the satellite flags invalid (not acquired yet, or its device stopped answering)
shows as ``-- stale`` in place of a value (dimmed on a terminal), never as a number."""

from __future__ import annotations

import asyncio
import shutil
import sys
from collections import deque
from datetime import timedelta
from typing import TextIO

from ground.station import Ground, Telemetry
from icd import dictionary as dic
from runtime.clock import MISSION_EPOCH

__all__ = ["render", "run_console"]


def _mission_utc(time_s: float) -> str:
    return (MISSION_EPOCH + timedelta(seconds=time_s)).strftime("%Y-%m-%d %H:%M:%S")


_CELL_WIDTH = 54  # "name value unit" of one parameter, padded
STALE = "-- stale"  # in place of an invalid value
_DIM, _UNDIM = "\x1b[2m", "\x1b[22m"


def _cell(name: str, value: float | int | None, unit: str, dim: bool = False) -> str:
    if value is None:
        cell = f"{name[:32]:32s} {STALE:>12s} {'':6s}"
        return f"{_DIM}{cell}{_UNDIM}" if dim else cell
    shown = f"{value:12.3f}" if isinstance(value, float) else f"{value:12d}"
    return f"{name[:32]:32s} {shown} {unit[:6]:6s}"


def _notice(tm: Telemetry) -> str:
    """An event, or another report the satellite sends unasked (monitoring check
    transitions, a mode report), as one readable line."""
    if tm.event_id is not None:
        return f"{tm.event_name}: {tm.message}"
    head = f"TM({tm.service},{tm.subservice}) apid {tm.apid} t={tm.time_s:.3f} "
    return tm.summary().removeprefix(head)


def _is_notice(tm: Telemetry) -> bool:
    return tm.event_id is not None or tm.transitions is not None or tm.mode_report is not None


def render(
    ground: Ground, events: deque[Telemetry], status: str, width: int = 110, dim: bool = False
) -> str:
    """The console screen as text (pure, so it is testable): header, recent events (and
    monitoring check transitions, decoded), then
    every housekeeping structure laid out in as many columns as ``width`` allows. Invalid
    values show as ``STALE`` (dimmed with ANSI codes if ``dim``)."""
    lines = [f"computesat ground — {ground.target[0]}:{ground.target[1]} — {status}"]
    latest = max((tm.time_s for tm in ground.latest_hk.values()), default=None)
    if latest is not None:
        lines.append(
            f"mission time {_mission_utc(latest)} (CUC {latest:.3f} s), "
            f"TM received {len(ground.archive)}, undecodable {ground.bad_tm}"
        )
    lines.append(f"\n[events] last {events.maxlen}")
    lines.extend(f"  {_mission_utc(tm.time_s)} {_notice(tm)}" for tm in events)
    columns = max(1, width // (_CELL_WIDTH + 2))
    for sid, tm in sorted(ground.latest_hk.items()):
        structure = dic.HK_STRUCTURES[sid]
        stale = f", {len(tm.invalid)} stale" if tm.invalid else ""
        lines.append(f"\n[HK {sid} {structure.name}] at {_mission_utc(tm.time_s)}{stale}")
        cells = [
            _cell(p.name, tm.parameters.get(p.name), p.unit, dim) for p in structure.parameters
        ]
        rows = -(-len(cells) // columns)
        for row in range(rows):
            lines.append("  " + "  ".join(cells[row::rows]).rstrip())
    return "\n".join(lines)


async def run_console(
    host: str, port: int, refresh_s: float = 1.0, count: int | None = None, out: TextIO = sys.stdout
) -> int:
    """Ping, then redraw HK every ``refresh_s`` wall seconds (``count`` redraws, or forever)."""
    events: deque[Telemetry] = deque(maxlen=8)

    def on_tm(tm: Telemetry) -> None:
        if _is_notice(tm):
            events.append(tm)

    interactive = out.isatty()
    async with Ground(host, port, on_telemetry=on_tm) as ground:
        try:
            result = await ground.ping(timeout=10)
            status = f"ping ok (stages {result.stages})"
        except (TimeoutError, RuntimeError) as exc:
            status = f"ping failed: {exc}"
        drawn = 0
        while count is None or drawn < count:
            await asyncio.sleep(refresh_s)  # a screen refresh is wall time by nature
            columns = shutil.get_terminal_size().columns
            screen = render(ground, events, status, columns, dim=interactive)
            out.write(("\x1b[2J\x1b[H" + screen + "\n") if interactive else screen + "\n\n")
            out.flush()
            drawn += 1
    return 0
