"""Time service: keeps onboard mission time on the spacecraft's time reference.

Reads: the ``timeref`` device (mission time and clock speed of the hardware). Publishes:
``time.clock_speed`` and ``time.synced`` parameters; a ``TIME_SYNCED`` event when the
correction exceeds ``report_step_s``. Boot calls :func:`synchronise` once before any other
service starts, so every TM carries hardware-consistent time.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from flightsw.context import ServiceContext
from icd.devices import TimeRefRegisters
from icd.dictionary import EventId
from runtime.clock import WallClock
from runtime.ports import DevicePort, DevicePortError, DeviceTimeout

__all__ = ["Config", "run", "synchronise"]


class Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    period_s: float = Field(60.0, gt=0, description="Mission seconds between re-syncs.")
    report_step_s: float = Field(
        0.5, ge=0, description="Corrections larger than this raise a TIME_SYNCED event."
    )


async def synchronise(clock: WallClock, devices: DevicePort) -> float:
    """Anchor ``clock`` to the hardware time reference; returns the correction in seconds."""
    before_ns = clock.now_ns()
    reference = await devices.read_model("timeref", TimeRefRegisters)
    clock.anchor(reference.mission_time_ns, reference.clock_speed)
    return (reference.mission_time_ns - before_ns) / 1e9


async def run(ctx: ServiceContext, config: Config) -> None:
    clock = ctx.clock
    ctx.ready()
    if not isinstance(clock, WallClock):
        ctx.log.info("time: %s clock is its own reference; nothing to synchronise", clock.mode)
        ctx.parameters(**{"time.clock_speed": 0.0, "time.synced": 1})
        return
    synced = 0
    while True:
        try:
            correction_s = await synchronise(clock, ctx.devices)
            synced = 1
            if abs(correction_s) > config.report_step_s:
                ctx.event(EventId.TIME_SYNCED, f"onboard time corrected by {correction_s:+.3f} s")
        except (DeviceTimeout, DevicePortError) as exc:
            synced = 0
            ctx.log.warning("time: reference unavailable: %s", exc)
        ctx.parameters(**{"time.clock_speed": clock.speed, "time.synced": synced})
        await clock.sleep(config.period_s)
