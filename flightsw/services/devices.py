"""Device drivers: acquisition of device telemetry and execution of device commands.

Reads: device ports (``read`` of every polled device each ``period_s`` mission seconds,
validated into its ICD register model: a reply with a missing or ill-typed register is a
device error naming the register, and none of that device's values is published);
bus ``TcDispatch`` for service 8 subservice 1 (perform a device function).
Publishes: ``ParameterUpdate`` with 'device.register' names (numbers; booleans as 0/1),
``devices.timeouts`` / ``devices.errors`` counters, ``DEVICE_TIMEOUT`` / ``DEVICE_ERROR``
events when a device changes from answering to not, ``TcProgress``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from flightsw.context import ServiceContext
from flightsw.messages import TcDispatch
from icd import dictionary as dic
from icd.devices import DeviceRegisters
from icd.dictionary import EventId
from icd.errors import ErrorCode
from runtime.ports import DevicePortError, DeviceTimeout

__all__ = ["Config", "registers_to_parameters", "run"]


class Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    polled: tuple[str, ...] = Field(
        (
            "pump.L1.A",
            "pump.L1.B",
            "pump.L2.A",
            "pump.L2.B",
            "loop.L1",
            "loop.L2",
            "radsensor.P01.S1",
            "radsensor.P01.S2",
            "battery",
            "pdu",
            "wing.W1",
            "wing.W2",
        ),
        description="Device ids read every period.",
    )
    period_s: float = Field(1.0, gt=0, description="Acquisition period, mission seconds.")


def registers_to_parameters(
    device: str, registers: DeviceRegisters | Mapping[str, object]
) -> dict[str, float]:
    """'device.register' -> value of every numeric or flag register (text and enums are not
    parameters); a model goes by its wire register names."""
    flat = registers.wire() if isinstance(registers, DeviceRegisters) else registers
    values: dict[str, float] = {}
    for name, value in flat.items():
        if isinstance(value, bool | int | float):
            values[f"{device}.{name}"] = float(value)
    return values


async def run(ctx: ServiceContext, config: Config) -> None:
    counters = {"devices.timeouts": 0.0, "devices.errors": 0.0}
    failing: set[str] = set()

    def report_failure(device: str, exc: Exception) -> None:
        timed_out = isinstance(exc, DeviceTimeout)
        counters["devices.timeouts" if timed_out else "devices.errors"] += 1
        if device not in failing:
            failing.add(device)
            ctx.event(EventId.DEVICE_TIMEOUT if timed_out else EventId.DEVICE_ERROR, str(exc))

    async def acquire() -> None:
        while True:
            values: dict[str, float] = {}
            for device in config.polled:
                try:
                    values.update(
                        registers_to_parameters(device, await ctx.devices.read_model(device))
                    )
                    failing.discard(device)
                except (DeviceTimeout, DevicePortError) as exc:
                    report_failure(device, exc)
            values.update(counters)
            ctx.parameter_map(values)
            await ctx.clock.sleep(config.period_s)

    async def perform(tc: TcDispatch) -> None:
        device, command, args = dic.unpack_device_function(tc.app_data)
        ctx.progress(tc.request_id, tc.apid, "started")
        try:
            await ctx.devices.command(device, command, args)
        except (DeviceTimeout, DevicePortError) as exc:
            report_failure(device, exc)
            ctx.progress(tc.request_id, tc.apid, "failed", ErrorCode.DEVICE_ERROR)
            return
        ctx.progress(tc.request_id, tc.apid, "completed")

    async def commands() -> None:
        async with ctx.subscribe((TcDispatch, 8)) as requests:
            ctx.ready()
            async for tc in requests:
                if isinstance(tc, TcDispatch) and tc.service == 8:
                    await perform(tc)

    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(acquire())
        tasks.create_task(commands())
