"""Device drivers: acquisition of device telemetry and execution of device commands.

Reads: device ports (``read`` of every polled device each ``period_s`` mission seconds,
validated into its ICD register model: a reply with a missing or ill-typed register is a
device error naming the register, and none of that device's values is published);
bus ``TcDispatch`` for service 8 subservice 1 (perform a device function); bus
``HardwareDown`` (the process supervisor saw hwsim die: every device value invalid at once).
Publishes: ``ParameterUpdate`` with 'device.register' names (numbers; booleans as 0/1), one
per device right after its read; ``devices.timeouts`` / ``devices.errors`` counters (always
valid); ``DEVICE_TIMEOUT`` / ``DEVICE_ERROR`` events when a device changes from answering to
not, ``DEVICES_RECOVERED`` when a silent device port answers again; ``TcProgress``.

Validity: a device whose read fails has its parameters declared invalid at once. A timeout
means the endpoint itself is silent (one port serves every device), so every polled device is
declared invalid together and the port is probed (one cheap ``list`` per period) instead of
spending a timeout per device per pass; when it answers, polling resumes and the pass that
follows raises ``DEVICES_RECOVERED``. A stale source is thus flagged within one period plus
one device timeout (mission seconds).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from typing import TypeVar

import msgpack
from pydantic import BaseModel, ConfigDict, Field

from flightsw.context import ServiceContext
from flightsw.messages import HardwareDown, TcDispatch
from icd import dictionary as dic
from icd.devices import DeviceRegisters
from icd.dictionary import EventId
from icd.errors import ErrorCode
from runtime.ports import DevicePortError, DeviceTimeout

__all__ = ["Config", "registers_to_parameters", "run"]

T = TypeVar("T")


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


def _hk_names(device: str) -> set[str]:
    """Housekeeping parameters fed by ``device`` (so a service restarted before its first read
    can still invalidate what its predecessor published)."""
    prefix = f"{device}."
    return {
        p.name
        for structure in dic.HK_STRUCTURES.values()
        for p in structure.parameters
        if p.name.startswith(prefix)
    }


async def run(ctx: ServiceContext, config: Config) -> None:
    counters = {"devices.timeouts": 0.0, "devices.errors": 0.0}
    failing: set[str] = set()
    # Every parameter name each device has fed (what to invalidate when it goes quiet).
    fed: dict[str, set[str]] = {device: _hk_names(device) for device in config.polled}

    def report_failure(device: str, exc: Exception, detail: str = "") -> None:
        timed_out = isinstance(exc, DeviceTimeout)
        counters["devices.timeouts" if timed_out else "devices.errors"] += 1
        if device not in failing:
            failing.add(device)
            event = EventId.DEVICE_TIMEOUT if timed_out else EventId.DEVICE_ERROR
            ctx.event(event, f"{exc}{detail}")

    def invalidate(devices: list[str]) -> None:
        names = sorted(set().union(*(fed[device] for device in devices)))
        ctx.parameter_map(dict(counters), invalid=tuple(names))

    async def answered(request: Awaitable[T], device: str | None) -> T:
        # The port is shared (one request in flight): waiting behind another service's request
        # to a silent port counts against the same timeout, so staleness is flagged within one
        # period plus one timeout, whoever else is asking.
        timeout_s = ctx.devices.timeout_s
        since = ctx.devices.undecodable_replies
        try:
            return await ctx.clock.wait_for(request, timeout_s)
        except DeviceTimeout:
            raise
        except TimeoutError:
            # Names the replies that came but could not be decoded, if any: a broken port is
            # not a silent one.
            raise ctx.devices.timeout_error(device, timeout_s, since) from None

    async def read(device: str) -> bool:
        """Read one device and publish its values; False if the port is silent."""
        try:
            registers = await answered(ctx.devices.read_model(device), device)
        except DeviceTimeout as exc:
            # One endpoint serves every device: it is the port that went quiet, not this one.
            n = len(config.polled)
            report_failure(device, exc, f"; device port silent, all {n} polled devices invalid")
            failing.update(config.polled)
            invalidate(list(config.polled))
            return False
        except DevicePortError as exc:
            report_failure(device, exc)
            invalidate([device])
            return True
        values = registers_to_parameters(device, registers)
        fed[device].update(values)
        failing.discard(device)
        ctx.parameter_map(values)
        return True

    async def probe() -> bool:
        """One cheap request to a silent port: True once it answers (even with an error)."""
        try:
            await answered(ctx.devices.list(), None)
        except DeviceTimeout:
            counters["devices.timeouts"] += 1
            ctx.parameter_map(dict(counters))
            return False
        except DevicePortError:
            pass  # an answer, even an error, means the port is back
        return True

    async def acquire() -> None:
        silent_since_ns: int | None = None
        recovered = False
        ctx.parameter_map(dict(counters))  # valid zeros from the start
        while True:
            if silent_since_ns is not None:
                if not await probe():
                    await ctx.clock.sleep(config.period_s)
                    continue
                recovered = True
            for device in config.polled:
                asked_ns = ctx.clock.now_ns()
                if not await read(device):
                    if silent_since_ns is None:
                        silent_since_ns = asked_ns  # silent since the request that timed out
                    recovered = False
                    break
            else:
                if recovered and silent_since_ns is not None:
                    # Never negative, even when onboard time was corrected backwards meanwhile.
                    silent_s = max(0.0, (ctx.clock.now_ns() - silent_since_ns) / 1e9)
                    valid = sum(1 for d in config.polled if d not in failing)
                    ctx.event(
                        EventId.DEVICES_RECOVERED,
                        f"device port answered again after {silent_s:.1f} mission s silent; "
                        f"{valid} of {len(config.polled)} devices valid",
                    )
                silent_since_ns = None
                recovered = False
                ctx.parameter_map(dict(counters))
            await ctx.clock.sleep(config.period_s)

    async def perform(tc: TcDispatch) -> None:
        device, command, args = dic.unpack_device_function(tc.app_data)
        try:
            msgpack.packb(args)
        except (OverflowError, TypeError, ValueError) as exc:
            # Decodable on the link but not expressible on the device port (an integer beyond
            # 64 bits, say): refused before anything is sent, never a crash of this service.
            ctx.event(EventId.DEVICE_ERROR, f"8,1 {device}.{command}: arguments {exc}")
            ctx.progress(tc.request_id, tc.apid, "start_failed", ErrorCode.INVALID_APP_DATA)
            return
        ctx.progress(tc.request_id, tc.apid, "started")
        try:
            await ctx.devices.command(device, command, args)
        except (DeviceTimeout, DevicePortError) as exc:
            timed_out = isinstance(exc, DeviceTimeout)
            counters["devices.timeouts" if timed_out else "devices.errors"] += 1
            # Every failed command says why (the acquisition's once-per-outage rule would
            # swallow the reason of a second bad command to the same device).
            event = EventId.DEVICE_TIMEOUT if timed_out else EventId.DEVICE_ERROR
            ctx.event(event, f"8,1 {device}.{command}: {exc}")
            ctx.progress(tc.request_id, tc.apid, "failed", ErrorCode.DEVICE_ERROR)
            return
        ctx.progress(tc.request_id, tc.apid, "completed")

    async def commands() -> None:
        async with ctx.subscribe((TcDispatch, 8), HardwareDown) as requests:
            ctx.ready()
            async for message in requests:
                if isinstance(message, HardwareDown):
                    # Whatever the last pass read came from a process that is gone now.
                    failing.update(config.polled)
                    invalidate(list(config.polled))
                elif isinstance(message, TcDispatch) and message.service == 8:
                    await perform(message)

    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(acquire())
        tasks.create_task(commands())
