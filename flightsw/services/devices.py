"""Device drivers: acquisition of device telemetry and execution of device commands.

Reads: device ports (every polled device each ``period_s`` mission seconds in ONE round trip,
``read_many``; by default every platform device the port lists: pumps, loops, radiator
sensors, radiator valves, wings, battery, pdu; not the compute slots, the backplane or the
time reference, which their own services read), each device validated into its ICD register
model: a reply with a missing or ill-typed register is a device error naming the register,
and none of that device's values is published, while the other devices of the cycle are;
bus ``TcDispatch`` for service 8 subservice 1 (perform a device function); bus
``HardwareDown`` (the process supervisor saw hwsim die: every device value invalid at once).
Publishes: ``ParameterUpdate`` with 'device.register' names (numbers; booleans as 0/1), one
per poll cycle right after its read (the values of every device that answered, the devices
that failed as invalid); ``devices.timeouts`` / ``devices.errors`` counters (always valid);
``DEVICE_TIMEOUT`` / ``DEVICE_ERROR`` events when a device changes from answering to not,
``DEVICES_RECOVERED`` when a silent device port answers again; ``TcProgress``.

Validity: a device whose read fails has its parameters declared invalid at once. A timeout
means the endpoint itself is silent (one port serves every device), so every polled device is
declared invalid together and the port is probed (one cheap ``list`` per period) instead of
spending a timeout per pass; when it answers, polling resumes and the pass that follows
raises ``DEVICES_RECOVERED``. A stale source is thus flagged within one period plus one
device timeout (mission seconds). A port that does not know ``read_many`` (an older hwsim) is
read device by device, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from enum import Enum

import msgpack
from pydantic import BaseModel, ConfigDict, Field

from flightsw.context import ServiceContext
from flightsw.messages import HardwareDown, ParameterUpdate, TcDispatch
from icd import dictionary as dic
from icd.device import DeviceErrorCode
from icd.devices import DeviceRegisters
from icd.dictionary import EventId
from icd.errors import ErrorCode
from runtime.ports import DevicePortError, DeviceTimeout

__all__ = ["PLATFORM_KINDS", "Config", "platform_devices", "registers_to_parameters", "run"]


PLATFORM_KINDS = ("pump.", "loop.", "radsensor.", "radvalve.", "wing.", "battery", "pdu")
"""Device ids (or their heads) polled by default. Not ``slot.*`` and ``backplane`` (the payload
manager reads the backplane) nor ``timeref`` (time synchronisation reads it)."""


def platform_devices(listing: list[str]) -> tuple[str, ...]:
    """The platform devices of a port's listing, in its order."""
    return tuple(
        d
        for d in listing
        if any(d == k or (k.endswith(".") and d.startswith(k)) for k in PLATFORM_KINDS)
    )


class Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    polled: tuple[str, ...] | None = Field(
        None,
        description="Device ids read every period; None: every platform device the port "
        "lists (PLATFORM_KINDS).",
    )
    period_s: float = Field(1.0, gt=0, description="Acquisition period, mission seconds.")


_PARAMETER_NAMES: dict[str, dict[str, str]] = {}
# (device, run's register names) -> its parameter names; a column run's names are one tuple
# object while the members stay the same, a scalar model's are equal tuples.
_RUN_KEYS: dict[tuple[str, Sequence[str]], tuple[str, ...]] = {}
_NUMBER_TYPES = frozenset((float, int, bool))


def registers_to_parameters(
    device: str, registers: DeviceRegisters | Mapping[str, object]
) -> dict[str, float]:
    """'device.register' -> value of every numeric or flag register (text and enums are not
    parameters); a model goes by its register names (``flat``: the PDU's ``<switch>_on``)."""
    if isinstance(registers, DeviceRegisters):
        return _model_parameters(device, registers)
    return _flat_parameters(device, registers)


def _flat_parameters(device: str, flat: Mapping[str, object]) -> dict[str, float]:
    """The parameters of a flat register map (``DeviceRegisters.flat``'s form)."""
    # The names are made once, the types compared exactly (a str enum is no number; bool
    # before int, it is one).
    names = _PARAMETER_NAMES.setdefault(device, {})
    values: dict[str, float] = {}
    for name, value in flat.items():
        kind = type(value)
        if kind is float or kind is int or kind is bool:
            key = names.get(name)
            if key is None:
                key = names[name] = f"{device}.{name}"
            values[key] = float(value)  # type: ignore[arg-type]
        elif isinstance(value, bool | int | float) and not isinstance(value, str):
            values[f"{device}.{name}"] = float(value)
    return values


def _model_parameters(device: str, registers: DeviceRegisters) -> dict[str, float]:
    """:func:`_flat_parameters` of ``registers.flat()``, the same entries in the same order,
    without building the flat map: every second ~1000 registers, 800 of them the PDU's columns
    of 160 switches, which go whole (one C-level pass) when they hold plain numbers only.
    tests/unit/flightsw/test_device_parameters.py holds the two equal on every device kind."""
    if type(registers).flat_runs is _ONE_RUN:
        return _scalar_parameters(device, registers)
    values: dict[str, float] = {}
    for names, run in registers.flat_runs():
        keys = _RUN_KEYS.get((device, names))
        if keys is None:
            keys = _RUN_KEYS[device, names] = tuple(f"{device}.{name}" for name in names)
        kinds = set(map(type, run))
        if kinds <= _NUMBER_TYPES:
            values.update(zip(keys, map(float, run), strict=True))
        elif all(issubclass(kind, str) for kind in kinds):
            continue  # text and str enums (flat has their str values): no parameters
        else:
            for key, value in zip(keys, run, strict=True):
                kind = type(value)
                if kind is float or kind is int or kind is bool:
                    values[key] = float(value)
                    continue
                if isinstance(value, Enum):
                    value = value.value  # as flat has it (the wire's JSON form)
                if isinstance(value, bool | int | float) and not isinstance(value, str):
                    values[key] = float(value)
    return values


_ONE_RUN = DeviceRegisters.flat_runs


def _scalar_parameters(device: str, registers: DeviceRegisters) -> dict[str, float]:
    """:func:`_model_parameters` of a kind whose one run is its fields (``flat_runs``'s
    default): ~40 small devices a second, entry by entry from the model's fields without
    making the run's tuples."""
    names = _PARAMETER_NAMES.setdefault(device, {})
    values: dict[str, float] = {}
    for name, value in registers.__dict__.items():
        kind = type(value)
        if kind is float or kind is int or kind is bool:
            key = names.get(name)
            if key is None:
                key = names[name] = f"{device}.{name}"
            values[key] = float(value)
            continue
        if isinstance(value, Enum):
            value = value.value  # as flat has it (the wire's JSON form)
        if isinstance(value, bool | int | float) and not isinstance(value, str):
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
    # The polled devices: the configured ones, or the port's platform devices once it has
    # listed them (None until then).
    polled: list[str] | None = None if config.polled is None else list(config.polled)
    # Every parameter name each device has fed (what to invalidate when it goes quiet).
    fed: dict[str, set[str]] = {}
    batched = True  # False once the port said it has no read_many (an older hwsim)

    def poll_these(devices: list[str]) -> None:
        nonlocal polled
        polled = devices
        for device in devices:
            fed.setdefault(device, _hk_names(device))

    if polled is not None:
        poll_these(polled)

    def report_failure(device: str, exc: Exception, detail: str = "") -> None:
        timed_out = isinstance(exc, DeviceTimeout)
        counters["devices.timeouts" if timed_out else "devices.errors"] += 1
        if device not in failing:
            failing.add(device)
            event = EventId.DEVICE_TIMEOUT if timed_out else EventId.DEVICE_ERROR
            ctx.event(event, f"{exc}{detail}")

    def invalid_names(devices: list[str]) -> tuple[str, ...]:
        return tuple(sorted(set().union(*(fed[device] for device in devices))))

    def invalidate(devices: list[str]) -> None:
        ctx.parameter_map(dict(counters), invalid=invalid_names(devices))

    def within_s() -> float:
        # The port is shared (one request in flight): waiting behind another service's request
        # to a silent port counts against the same timeout, so staleness is flagged within one
        # period plus one timeout, whoever else is asking.
        return ctx.devices.timeout_s

    def silent(devices: list[str], exc: DeviceTimeout) -> None:
        # One endpoint serves every device: it is the port that went quiet, not a device.
        counters["devices.timeouts"] += 1
        if not failing.issuperset(devices):
            ctx.event(
                EventId.DEVICE_TIMEOUT,
                f"{exc}; device port silent, all {len(devices)} polled devices invalid",
            )
        failing.update(devices)
        invalidate(devices)

    async def read_each(devices: list[str]) -> dict[str, DeviceRegisters | DevicePortError]:
        """The devices one request each (a port without read_many)."""
        out: dict[str, DeviceRegisters | DevicePortError] = {}
        for device in devices:
            try:
                out[device] = await ctx.devices.read_model(device, within_s=within_s())
            except DevicePortError as exc:
                out[device] = exc
        return out

    async def read(devices: list[str]) -> bool:
        """Read every polled device (one round trip) and publish their values; False if the
        port is silent."""
        nonlocal batched
        try:
            if batched:
                try:
                    results = await ctx.devices.read_models(devices, within_s=within_s())
                except DevicePortError as exc:
                    if exc.code != DeviceErrorCode.UNKNOWN_OP:
                        raise
                    batched = False
                    ctx.event(EventId.DEVICE_ERROR, f"{exc}; reading device by device")
                    results = await read_each(devices)
            else:
                results = await read_each(devices)
        except DeviceTimeout as exc:
            silent(devices, exc)
            return False
        except DevicePortError as exc:
            # The batch itself was refused (not one device): every device of it failed, told
            # once, not once per device.
            counters["devices.errors"] += 1
            if not failing.issuperset(devices):
                ctx.event(EventId.DEVICE_ERROR, f"{exc}; all {len(devices)} polled devices invalid")
            failing.update(devices)
            invalidate(devices)
            return True
        values: dict[str, float] = {}
        failed: list[str] = []
        for device, result in results.items():
            if isinstance(result, DevicePortError):
                report_failure(device, result)
                failed.append(device)
                continue
            device_values = registers_to_parameters(device, result)
            fed[device].update(device_values)
            failing.discard(device)
            values.update(device_values)
        # Built without validation (ctx.parameter_map validates ~1000 values every second):
        # str names and floats made above, a tuple of str names; nothing to check.
        ctx.publish(
            ParameterUpdate.model_construct(
                values=values,
                invalid=invalid_names(failed) if failed else (),
                time_ns=ctx.clock.now_ns(),
            )
        )
        return True

    async def probe() -> list[str] | None:
        """One cheap request to a silent port: its listing once it answers ([] for an answer
        that is an error: the port is back all the same), None while it is silent."""
        try:
            return await ctx.devices.list(within_s=within_s())
        except DeviceTimeout:
            counters["devices.timeouts"] += 1
            ctx.parameter_map(dict(counters))
            return None
        except DevicePortError:
            return []

    async def acquire() -> None:
        silent_since_ns: int | None = None
        recovered = False
        ctx.parameter_map(dict(counters))  # valid zeros from the start
        while True:
            if polled is None or silent_since_ns is not None:
                asked_ns = ctx.clock.now_ns()
                listing = await probe()
                if listing is None:
                    if polled is None and silent_since_ns is None:
                        silent_since_ns = asked_ns
                        ctx.event(
                            EventId.DEVICE_TIMEOUT,
                            "device port silent: no listing of its devices yet",
                        )
                    await ctx.clock.sleep(config.period_s)
                    continue
                if polled is None:
                    if not listing:
                        await ctx.clock.sleep(config.period_s)
                        continue
                    poll_these(list(platform_devices(listing)))
                if silent_since_ns is not None:
                    recovered = True
            assert polled is not None
            asked_ns = ctx.clock.now_ns()
            if not await read(polled):
                if silent_since_ns is None:
                    silent_since_ns = asked_ns  # silent since the request that timed out
                recovered = False
            else:
                if recovered and silent_since_ns is not None:
                    # Never negative, even when onboard time was corrected backwards meanwhile.
                    silent_s = max(0.0, (ctx.clock.now_ns() - silent_since_ns) / 1e9)
                    valid = sum(1 for d in polled if d not in failing)
                    ctx.event(
                        EventId.DEVICES_RECOVERED,
                        f"device port answered again after {silent_s:.1f} mission s silent; "
                        f"{valid} of {len(polled)} devices valid",
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
                    if polled:
                        failing.update(polled)
                        invalidate(polled)
                elif isinstance(message, TcDispatch) and message.service == 8:
                    await perform(message)

    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(acquire())
        tasks.create_task(commands())
