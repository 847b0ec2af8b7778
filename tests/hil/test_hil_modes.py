"""The mode manager through the RF link: PUS 130 transitions with their verification reports,
denied and malformed requests, the mode in platform HK, and the autonomous drops to SAFE (a
service past its restart budget, FDIR escalations past their budget) and to SURVIVAL (a low
battery).

hwsim and flight software run in this test's event loop on a stepped clock
(tests/_inprocess.py); the ground station is ``ground.station.Ground`` over loopback UDP. Every
wait is a mission-time timeout.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from _inprocess import in_process_satellite

from flightsw.app import FlightSettings, services
from flightsw.context import ServiceContext
from flightsw.messages import FdirEscalation
from flightsw.services import modes
from ground.station import CommandResult, Ground, Telemetry
from hwsim.config import simple_config_path
from icd.dictionary import EventId, Mode
from icd.errors import ErrorCode
from icd.modes import ModeReport, RequestMode
from runtime.service import ServiceSpec

pytestmark = pytest.mark.timeout(90)

# Longer than the flight default (10 s) so that the "stays in SAFE past the hold" checks
# have room to look; everything else is the flight configuration.
SAFE_HOLD_S = 30.0

# Mission time also passes before the ground's first contact (the flight set boots, its
# services poll and tick meanwhile), and how much depends on the host's load. So a test does
# not assume the mode it meets at contact is still BOOT's SAFE: it reads the mode first, or
# checks what the rules promise (at least the hold, a SoC below the floor) rather than a
# moment.
_UP = (Mode.SAFE, Mode.NOMINAL, Mode.ECLIPSE)


def _soc_in(text: str) -> float:
    found = re.search(r"battery SoC (\d+\.\d+)", text)
    assert found is not None, f"no battery SoC in {text!r}"
    return float(found.group(1))


@asynccontextmanager
async def satellite_and_ground(
    extra: list[ServiceSpec] | None = None,
    hwsim_config: Path | None = None,
    autonomous_nominal: bool = True,
) -> AsyncIterator[Ground]:
    config = modes.Config(safe_hold_s=SAFE_HOLD_S, autonomous_nominal=autonomous_nominal)
    specs = [
        replace(s, config=config) if s.name == "modes" else s
        for s in services(FlightSettings(port=0))
    ]
    assert any(s.name == "modes" for s in specs), "the flight set has no mode manager"
    specs += extra or []
    async with (
        in_process_satellite(specs, hwsim_config=hwsim_config) as sat,
        Ground("127.0.0.1", sat.udp_port, clock=sat.clock) as ground,
    ):
        await ground.ping()  # contact: unsolicited TM (events, HK) goes to this ground now
        yield ground


async def request_mode(ground: Ground, mode: Mode, reason: str = "") -> CommandResult:
    return await ground.command(130, 1, RequestMode(mode, reason).pack(), timeout=30)


async def mode_report(ground: Ground) -> ModeReport:
    result = await ground.command(130, 2, reply=(130, 3), timeout=30)
    assert result.ok, result.describe()
    return ModeReport.unpack(result.replies[0].packet.source_data)


def mode_event(event_id: EventId, message: str) -> Callable[[Telemetry], bool]:
    return lambda tm: tm.event_id == event_id and tm.message == message


async def hk_mode(ground: Ground, mode: Mode, timeout: float = 30) -> Telemetry:
    return await ground.wait_for(
        lambda tm: tm.sid == 1 and tm.parameters["mode.current"] == mode, timeout=timeout
    )


async def up_with_battery_read(ground: Ground) -> None:
    """Past BOOT (BOOT -> SAFE comes with the first platform value; autonomy may have gone on
    to NOMINAL before contact) and the battery read, which NOMINAL needs."""
    await ground.wait_for(lambda tm: tm.sid == 1 and tm.parameters["mode.current"] in _UP, 30)
    await ground.wait_for(lambda tm: tm.sid == 4 and tm.parameters["battery.soc"] > 0.5, 30)


async def command_nominal(ground: Ground) -> None:
    """NOMINAL by the ground, from SAFE or from the NOMINAL autonomy already reached."""
    await up_with_battery_read(ground)
    result = await request_mode(ground, Mode.NOMINAL, "ops")
    assert result.stages == [1, 3, 7], result.describe()
    report = await mode_report(ground)
    assert report.mode == Mode.NOMINAL, report


async def test_transitions_by_telecommand_are_verified_reported_and_in_hk():
    async with satellite_and_ground() as ground:
        await up_with_battery_read(ground)
        # SAFE by the ground holds it there, so the NOMINAL below is the ground's, not
        # autonomy's after the hold. In SAFE already (BOOT's): no transition, a success; if
        # autonomy took NOMINAL before contact: one transition NOMINAL -> SAFE.
        before = await mode_report(ground)
        hold = await request_mode(ground, Mode.SAFE, "hold")
        assert hold.stages == [1, 3, 7], hold.describe()
        held = await mode_report(ground)
        assert held.mode == Mode.SAFE, held
        expected = before.transitions + (0 if before.mode == Mode.SAFE else 1)
        assert held.transitions == expected, (before, held)
        changed = ground.expect(mode_event(EventId.MODE_CHANGED, "SAFE -> NOMINAL: ground: go"))
        result = await request_mode(ground, Mode.NOMINAL, "go")
        assert result.stages == [1, 3, 7], result.describe()
        await ground.clock.wait_for(changed, 10)
        hk = await hk_mode(ground, Mode.NOMINAL)
        go = held.transitions + 1  # SAFE -> NOMINAL by the ground
        assert hk.parameters["mode.transitions"] == go, hk.parameters
        assert hk.parameters["mode.escalations"] == 0
        report = await mode_report(ground)
        assert (report.mode, report.previous, report.transitions) == (
            Mode.NOMINAL,
            Mode.SAFE,
            go,
        ), report
        assert report.reason == "ground: go"
        assert abs(report.since_s - changed.result().time_s) < 1.0, (report, changed.result())

        result = await request_mode(ground, Mode.SAFE)
        assert result.ok, result.describe()
        report = await mode_report(ground)
        assert (report.mode, report.reason) == (Mode.SAFE, "ground command"), report

        # The ground holds SAFE: autonomy does not take the satellite back to NOMINAL.
        commanded_s = report.since_s
        late = await ground.wait_for(
            lambda tm: tm.sid == 1 and tm.time_s > commanded_s + SAFE_HOLD_S + 10, timeout=120
        )
        assert late.parameters["mode.current"] == Mode.SAFE, (
            f"left a commanded SAFE on its own: mode {late.parameters['mode.current']}"
        )


async def test_boot_safe_then_nominal_on_its_own_after_the_hold():
    async with satellite_and_ground() as ground:
        hk = await hk_mode(ground, Mode.NOMINAL, timeout=SAFE_HOLD_S + 30)
        assert hk.parameters["mode.transitions"] == 2, hk.parameters  # BOOT->SAFE->NOMINAL
        report = await mode_report(ground)
        assert report.previous == Mode.SAFE, report
        # The rule fires at its first check with every guard holding: never before the hold.
        found = re.fullmatch(
            r"autonomy: (\d+) s in SAFE, battery SoC \d\.\d\d, no service FAILED, "
            r"0 escalations",
            report.reason,
        )
        assert found is not None, report.reason
        assert int(found.group(1)) >= SAFE_HOLD_S, report.reason


async def test_denied_and_malformed_requests_change_nothing():
    async with satellite_and_ground(autonomous_nominal=False) as ground:
        await hk_mode(ground, Mode.SAFE)
        before = await mode_report(ground)
        denied_event = ground.expect(
            mode_event(
                EventId.MODE_DENIED,
                "SAFE -> ECLIPSE denied (ground): not allowed from SAFE (allowed: NOMINAL, "
                "SURVIVAL)",
            )
        )
        denied = await request_mode(ground, Mode.ECLIPSE, "try")
        assert denied.stages == [1, 3, 8], denied.describe()
        assert denied.error_code == ErrorCode.MODE_DENIED, denied.describe()
        await ground.clock.wait_for(denied_event, 10)
        to_boot = await request_mode(ground, Mode.BOOT)
        assert to_boot.error_code == ErrorCode.MODE_DENIED, to_boot.describe()

        for data in (bytes([9, 0]), bytes([2]), bytes([2, 4]) + b"ok", bytes([2, 1, 0xFF])):
            bad = await ground.command(130, 1, data, timeout=30)
            assert bad.stages == [2], f"{data!r}: {bad.describe()}"
            assert bad.error_code == ErrorCode.INVALID_APP_DATA, f"{data!r}: {bad.describe()}"
        report_with_data = await ground.command(130, 2, b"\x01", timeout=30)
        assert report_with_data.error_code == ErrorCode.INVALID_APP_DATA

        after = await mode_report(ground)
        assert after == before, f"mode changed by refused requests: {before} -> {after}"
        transitions = [
            tm
            for tm in ground.archive
            if tm.event_id == EventId.MODE_CHANGED and tm.time_s > before.since_s
        ]
        assert transitions == [], [tm.summary() for tm in transitions]


class _CrashOnCue:
    """A service that crashes once per cue: past its restart budget it is FAILED."""

    def __init__(self) -> None:
        self.cues: asyncio.Queue[None] = asyncio.Queue()

    async def run(self, ctx: ServiceContext, config: object) -> None:
        ctx.ready()
        await self.cues.get()
        raise RuntimeError("simulated defect")


async def test_a_service_past_its_restart_budget_drops_to_safe_naming_it():
    crash = _CrashOnCue()
    flaky = ServiceSpec("flaky", crash.run, FlightSettings(), max_restarts=1, window_s=60)
    async with satellite_and_ground([flaky]) as ground:
        await command_nominal(ground)
        restarted = ground.expect(lambda tm: tm.event_id == EventId.SERVICE_RESTARTED)
        failed = ground.expect(lambda tm: tm.event_id == EventId.SERVICE_FAILED)
        safe = ground.expect(
            mode_event(EventId.MODE_CHANGED, "NOMINAL -> SAFE: service flaky FAILED")
        )
        crash.cues.put_nowait(None)
        restarted_tm = await ground.clock.wait_for(restarted, 30)
        assert "flaky restart 1" in (restarted_tm.message or ""), restarted_tm.summary()
        assert (await mode_report(ground)).mode == Mode.NOMINAL, "a restart alone is no SAFE"
        crash.cues.put_nowait(None)  # the crash past the budget (1 restart in 60 s)
        failed_tm = await ground.clock.wait_for(failed, 30)
        assert "flaky" in (failed_tm.message or ""), failed_tm.summary()
        safe_tm = await ground.clock.wait_for(safe, 30)
        assert safe_tm.time_s - failed_tm.time_s < 2.0, (failed_tm.summary(), safe_tm.summary())
        await hk_mode(ground, Mode.SAFE)
        # With a service FAILED, autonomy stays in SAFE past the hold.
        late = await ground.wait_for(
            lambda tm: tm.sid == 1 and tm.time_s > safe_tm.time_s + SAFE_HOLD_S + 10, timeout=120
        )
        assert late.parameters["mode.current"] == Mode.SAFE, late.parameters["mode.current"]
        assert late.parameters["supervisor.failed"] == 1


class _Escalator:
    """A stand-in for FDIR: publishes ``count`` escalations when told to."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.go = asyncio.Event()

    async def run(self, ctx: ServiceContext, config: object) -> None:
        ctx.ready()
        await self.go.wait()
        for i in range(self.count):
            ctx.publish(FdirEscalation(source="monitoring", reason=f"loop L1 flow low ({i + 1})"))
        await asyncio.Event().wait()


async def test_fdir_escalations_past_the_budget_drop_to_safe():
    escalator = _Escalator(4)  # the default budget is 3 within 600 s
    async with satellite_and_ground([ServiceSpec("fdir", escalator.run, FlightSettings())]) as g:
        await command_nominal(g)
        safe = g.expect(
            mode_event(
                EventId.MODE_CHANGED,
                "NOMINAL -> SAFE: 4 FDIR escalations in 600 s (budget 3), last monitoring: "
                "loop L1 flow low (4)",
            )
        )
        escalator.go.set()
        await g.clock.wait_for(safe, 30)
        hk = await hk_mode(g, Mode.SAFE)
        assert hk.parameters["mode.escalations"] == 4, hk.parameters["mode.escalations"]


def _low_battery_config(directory: Path, soc: float) -> Path:
    text = simple_config_path().read_text(encoding="utf-8")
    assert "initial_soc = 0.9\n" in text, "the simple configuration's battery changed"
    path = directory / "low_battery.toml"
    path.write_text(text.replace("initial_soc = 0.9\n", f"initial_soc = {soc}\n"), "utf-8")
    return path


async def test_low_battery_is_survival_which_refuses_what_it_cannot_support(tmp_path: Path):
    async with satellite_and_ground(hwsim_config=_low_battery_config(tmp_path, 0.15)) as ground:
        hk = await hk_mode(ground, Mode.SURVIVAL)
        assert hk.parameters["mode.transitions"] == 2, hk.parameters  # BOOT->SAFE->SURVIVAL
        report = await mode_report(ground)
        assert report.previous == Mode.SAFE, report
        # The battery charges a little (compute off) between hwsim's start at 0.15 and the
        # check; the rule names the SoC it saw, below the floor.
        assert report.reason.startswith("battery SoC "), report.reason
        assert report.reason.endswith("below 0.25"), report.reason
        assert _soc_in(report.reason) < 0.25, report.reason
        nominal = await request_mode(ground, Mode.NOMINAL)
        assert nominal.error_code == ErrorCode.MODE_DENIED, nominal.describe()
        denied_event = ground.expect(lambda tm: tm.event_id == EventId.MODE_DENIED)
        safe = await request_mode(ground, Mode.SAFE)
        assert safe.stages == [1, 3, 8] and safe.error_code == ErrorCode.MODE_DENIED
        message = (await ground.clock.wait_for(denied_event, 10)).message or ""
        assert message.startswith("SURVIVAL -> SAFE denied (ground): battery SoC "), message
        assert message.endswith("below 0.35"), message
        assert _soc_in(message) < 0.35, message
        assert (await mode_report(ground)).mode == Mode.SURVIVAL
