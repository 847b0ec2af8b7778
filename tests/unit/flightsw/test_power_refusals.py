"""A refused power telecommand (132,x) is a 1,8 failure with a POWER_COMMAND_REFUSED event,
never an event named after the action it did not do (LOAD_SHED "... refused" read as a shed
load in an operator's event list). The controller alone, fed a pool, with a recording context:
every refusal it can make without a device."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from flightsw.messages import ParameterUpdate, TcDispatch
from flightsw.pool import ParameterPool
from flightsw.services.power import Config, PowerController
from icd.errors import ErrorCode
from icd.power import BatteryLimit, PowerEvent, SwitchRequest, WingRequest
from runtime.clock import SteppedClock

pytestmark = pytest.mark.timeout(30)


class _Devices:
    timeout_s = 5.0

    def __init__(self) -> None:
        self.commands: list[tuple[str, str, dict[str, Any]]] = []

    async def command(self, device: str, command: str, args: dict[str, Any]) -> None:
        self.commands.append((device, command, args))


class _Ctx:
    """What PowerController uses of a ServiceContext, recorded."""

    def __init__(self) -> None:
        self.clock = SteppedClock()
        self.devices = _Devices()
        self.log = logging.getLogger("test.power")
        self.events: list[tuple[int, str]] = []
        self.progress_reports: list[tuple[str, ErrorCode | None]] = []

    def event(self, event_id: int, message: str) -> None:
        self.events.append((int(event_id), message))

    def progress(
        self, request_id: bytes, apid: int, stage: str, code: ErrorCode | None = None
    ) -> None:
        self.progress_reports.append((stage, code))

    def publish(self, message: object) -> None:
        pass

    def parameters(self, **values: float) -> None:
        pass


def _controller() -> tuple[PowerController, _Ctx]:
    ctx = _Ctx()
    pool = ParameterPool()
    names = ("avionics", "laser_terminals", "pump_L1_A")
    pool.update(
        ParameterUpdate(
            values={f"pdu.{n}_{r}": v for n in names for r, v in (("tripped", 0.0), ("on", 1.0))},
            time_ns=ctx.clock.now_ns(),
        )
    )
    config = Config()
    return PowerController(ctx, config, pool, config.orbit, config.min_soc), ctx  # type: ignore[arg-type]


def _tc(sub: int, data: bytes) -> TcDispatch:
    return TcDispatch(
        request_id=bytes([0x18, 0x01, 0xC0, sub]),
        apid=1,
        service=132,
        subservice=sub,
        source_id=0x0100,
        app_data=data,
    )


@pytest.mark.parametrize(
    ("sub", "data", "code", "why"),
    [
        (1, SwitchRequest("avionics").pack(), ErrorCode.POWER_LOAD_PROTECTED, "priority-0"),
        (1, SwitchRequest("pump_L1_A").pack(), ErrorCode.POWER_LOAD_PROTECTED, "priority-0"),
        (2, SwitchRequest("heater_99").pack(), ErrorCode.POWER_UNKNOWN_TARGET, "no PDU switch"),
        (3, WingRequest("W9", True).pack(), ErrorCode.POWER_UNKNOWN_TARGET, "no wing"),
        (4, WingRequest("W9", False).pack(), ErrorCode.POWER_UNKNOWN_TARGET, "no wing"),
        (5, BatteryLimit(20).pack(), ErrorCode.POWER_LIMIT_REFUSED, "survival floor"),
        (6, SwitchRequest("laser_terminals").pack(), ErrorCode.POWER_SWITCH_NOT_RECLOSABLE, ""),
    ],
)
async def test_a_refused_132_is_a_1_8_with_a_refusal_event(
    sub: int, data: bytes, code: ErrorCode, why: str
):
    controller, ctx = _controller()
    await controller.telecommand(_tc(sub, data))
    assert ctx.progress_reports == [("started", None), ("failed", code)], ctx.progress_reports
    assert ctx.devices.commands == [], "a refused command reached a device"
    (event,) = ctx.events
    assert event[0] == PowerEvent.POWER_COMMAND_REFUSED, (
        f"132,{sub} refused under {PowerEvent(event[0]).name}: {event[1]}"
    )
    assert event[1].startswith(f"132,{sub} refused: ") and why in event[1], event[1]


async def test_a_done_132_keeps_its_action_event():
    controller, ctx = _controller()
    await controller.telecommand(_tc(1, SwitchRequest("laser_terminals").pack()))
    assert ctx.progress_reports == [("started", None), ("completed", None)]
    assert ctx.events == [(PowerEvent.LOAD_SHED, "load laser_terminals shed by telecommand")]
