"""Thermal control, hardware-in-the-loop style on the in-process satellite (stepped clock):
faults injected through hwsim's simulation-control port, everything else seen through the
RF link (events, HK SID 5 and the hardware's own HK) and done through device ports.

The AI1 with 150 simple 1 kW slots (``ai1-simple.toml``) runs at full utilisation (set through
the device port, as a payload would): ~75 kW per loop, the load the loops are sized for.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from _inprocess import InProcessSatellite, in_process_satellite, until_nominal

import hwsim
from flightsw.app import FlightSettings, services
from flightsw.context import ServiceContext
from flightsw.messages import ComputeLimit
from flightsw.services import devices, thermal
from ground.station import Ground, Telemetry
from icd import thermal as ith
from icd.device import DeviceErrorCode, SimOp
from icd.errors import ErrorCode
from runtime.ports import DevicePort, DevicePortError
from runtime.service import ServiceSpec

pytestmark = pytest.mark.timeout(120)

SIMPLE = Path(hwsim.__file__).parent / "configs" / "ai1-simple.toml"
POLLED = (
    "pump.L1.A",
    "pump.L1.B",
    "pump.L2.A",
    "pump.L2.B",
    "loop.L1",
    "loop.L2",
    *(f"radsensor.P{p:02d}.S{s}" for p in range(1, 9) for s in (1, 2, 3)),
    "pdu",
)
DIE_LIMIT_K = 368.0  # max_die_temp_k of the simple slots (ai1-simple.toml)
SUPPLY_LIMIT_K = thermal.Config().supply_limit_k


class _Limits:
    """Stands where the payload manager listens: every ComputeLimit on the bus, in order."""

    def __init__(self) -> None:
        self.seen: list[ComputeLimit] = []

    async def run(self, ctx: ServiceContext, config: object) -> None:
        async with ctx.subscribe(ComputeLimit) as limits:
            ctx.ready()
            async for message in limits:
                if isinstance(message, ComputeLimit):
                    self.seen.append(message)

    def of(self, scope: str) -> list[float | None]:
        return [m.power_limit_w for m in self.seen if m.source == "thermal" and m.scope == scope]


LIMITS = _Limits()


def _specs(config: thermal.Config | None = None, run=thermal.run) -> list[ServiceSpec]:
    """The flight software without the payload manager (the test drives the slots itself,
    and ``LIMITS`` hears the compute limits), every thermal device polled."""
    wanted = {"events", "housekeeping", "time", "ping", "link"}
    specs = [s for s in services(FlightSettings(port=0)) if s.name in wanted]
    specs.insert(3, ServiceSpec("devices", devices.run, devices.Config(polled=POLLED)))
    specs.insert(4, ServiceSpec("limits", LIMITS.run, FlightSettings()))
    specs.insert(5, ServiceSpec("thermal", run, config or thermal.Config()))
    LIMITS.seen.clear()
    return specs


@contextlib.asynccontextmanager
async def _satellite(
    config: thermal.Config | None = None, run=thermal.run
) -> AsyncIterator[tuple[InProcessSatellite, Ground, DevicePort, DevicePort]]:
    async with (
        in_process_satellite(_specs(config, run), hwsim_config=SIMPLE) as sat,
        Ground("127.0.0.1", sat.udp_port, clock=sat.clock) as ground,
        DevicePort(sat.context, sat.simctl_endpoint, sat.clock, timeout_s=30) as simctl,
        DevicePort(sat.context, sat.device_endpoint, sat.clock, timeout_s=30) as port,
    ):
        await ground.ping()
        yield sat, ground, simctl, port


async def _full_load(port: DevicePort) -> None:
    for slot in range(1, 151):
        await port.command(f"slot.{slot:03d}", "set_utilisation", {"value": 1.0})


async def _inject(simctl: DevicePort, fault: str, target: str, **params: object) -> None:
    await simctl.request(
        SimOp.INJECT_FAULT, args={"fault_id": fault, "target": target, "params": params}
    )


async def _truth(simctl: DevicePort) -> dict:
    return dict(await simctl.request(SimOp.TRUTH))


def _event(tm: Telemetry, name: str) -> bool:
    return tm.event_name == name


def _die_max_k(truth: dict) -> float:
    dies = truth["board_die_temp_k"]
    return max(dies.values()) if isinstance(dies, dict) else max(dies)


async def _never_over_limits(sat: InProcessSatellite, simctl: DevicePort, window_s: float) -> None:
    """A mission-time "never" window: every mission second, no board die over its limit and
    no loop supply temperature over the controller's limit (hwsim's truth: the test's eye)."""
    end = sat.clock.now_s() + window_s
    while sat.clock.now_s() < end:
        truth = await _truth(simctl)
        die = _die_max_k(truth)
        assert die < DIE_LIMIT_K, f"t={truth['time_s']:.0f}: a die at {die:.1f} K >= {DIE_LIMIT_K}"
        supply = max(truth["loop_supply_temp_k"])
        assert supply < SUPPLY_LIMIT_K, f"t={truth['time_s']:.0f}: supply {supply:.1f} K"
        await sat.clock.sleep(1.0)


async def test_seized_pump_a_is_replaced_by_pump_b_within_the_switchover_time():
    config = thermal.Config()
    async with _satellite(config) as (sat, ground, simctl, port):
        await _full_load(port)
        await ground.wait_for(
            lambda tm: tm.sid == 5 and tm.parameters["thermal.L1.active_pump"] == ith.PumpCode.A,
            timeout=30,
        )
        await sat.clock.sleep(30)  # 75 kW on each loop, pump A at the law's speed
        switched = ground.expect(lambda tm: _event(tm, "PUMP_SWITCHOVER"))
        injected_s = sat.clock.now_s()
        await _inject(simctl, "pump_seizure", "pump.L1.A")
        running = await ground.wait_for(
            lambda tm: tm.sid == 2 and tm.parameters["pump.L1.B.speed_rpm"] > 1000,
            timeout=config.switchover_time_s + 5,
        )
        event = await sat.clock.wait_for(switched, 1)
        assert event.time_s - injected_s <= config.switchover_time_s, (
            f"switchover {event.time_s - injected_s:.1f} mission s after the seizure, "
            f"allowed {config.switchover_time_s}"
        )
        assert "pump A -> B" in event.message and "seized" in event.message, event.message
        assert running.parameters["pump.L1.A.speed_rpm"] == 0, running.parameters
        await _never_over_limits(sat, simctl, 60)
        hk = await ground.hk(5, timeout=10)
        assert hk["thermal.L1.active_pump"] == ith.PumpCode.B, hk
        assert hk["thermal.L1.no_flow"] == 0, hk
        a = await ground.hk(2, timeout=10)
        assert a["pump.L1.A.power_w"] == 0, f"the seized pump still draws {a['pump.L1.A.power_w']}"
        # the seizure left no flow for a moment: that loop's compute was shed, then lifted
        assert LIMITS.of("L1")[-2:] == [0.0, None], f"L1 limits: {LIMITS.of('L1')}"
        assert 0.0 not in LIMITS.of("L2"), f"L2 limits: {LIMITS.of('L2')}"
        names = [tm.event_name for tm in ground.archive if tm.event_id]
        assert names.index("LOOP_NO_FLOW") < names.index("LOOP_FLOW_RESTORED"), names
        # ground cannot switch back to the seized pump: 1,8 with the thermal code and a reason
        back = await ground.command(131, 1, ith.SwitchPump("L1", "A").pack(), timeout=20)
        assert back.stages == [1, 3, 8], back.describe()
        assert back.error_code == ErrorCode.THERMAL_PUMP_UNAVAILABLE, back.describe()


async def test_stuck_sensor_is_voted_out_within_its_sample_count():
    config = thermal.Config()
    async with _satellite(config) as (sat, ground, simctl, _port):
        await ground.wait_for(
            lambda tm: tm.sid == 5 and tm.parameters["thermal.P03.sensors_in_vote"] == 3,
            timeout=30,
        )
        voted_out = ground.expect(lambda tm: _event(tm, "SENSOR_VOTED_OUT"))
        injected_s = sat.clock.now_s()
        await _inject(simctl, "sensor_stuck", "radsensor.P03.S2", value_k=333.0)
        event = await sat.clock.wait_for(voted_out, config.votes.stuck_samples + 10)
        assert "radsensor.P03.S2" in event.message and "stuck" in event.message, event.message
        samples = (event.time_s - injected_s) / config.period_s
        assert samples <= config.votes.stuck_samples + 3, f"voted out after {samples} samples"
        hk = await ground.wait_for(lambda tm: tm.sid == 5 and tm.time_s > event.time_s, 10)
        assert hk.parameters["thermal.P03.sensors_in_vote"] == 2, hk.parameters
        assert hk.parameters["thermal.sensors_voted_out"] == 1, hk.parameters
        voted = hk.parameters["thermal.P03.voted_temp_k"]
        assert voted is not None and 250 < voted < 400, voted
        assert not [tm for tm in ground.archive if _event(tm, "SENSOR_VOTE_LOST")]


async def test_degraded_pump_is_boosted_then_switched():
    config = thermal.Config()
    async with _satellite(config) as (sat, ground, simctl, port):
        await _full_load(port)
        learnt = await ground.wait_for(
            lambda tm: tm.sid == 5 and tm.parameters["thermal.L1.flow_per_krpm"] > 0, timeout=30
        )
        assert learnt.parameters["thermal.L1.active_pump"] == ith.PumpCode.A
        # 3 % of head a second: the flow falls visibly within seconds (catalogue default 5 %/h)
        await _inject(
            simctl, "pump_degradation", "pump.L1.A", head_loss_per_hour=108.0, min_head_fraction=0.1
        )
        degraded = await ground.wait_for(lambda tm: _event(tm, "PUMP_DEGRADED"), timeout=120)
        assert "L1 pump A" in degraded.message, degraded.message
        switched = await ground.wait_for(lambda tm: _event(tm, "PUMP_SWITCHOVER"), timeout=120)
        assert "degraded" in switched.message and "pump A -> B" in switched.message, switched
        hk = await ground.wait_for(
            lambda tm: tm.sid == 2 and tm.parameters["pump.L1.B.flow_kg_s"] > 1.0, timeout=20
        )
        assert hk.parameters["pump.L1.A.speed_rpm"] == 0, hk.parameters
        await _never_over_limits(sat, simctl, 20)


@pytest.mark.timeout(600)
async def test_a_pump_wearing_5_percent_an_hour_is_reported_within_the_hour_and_sped_up():
    """The catalogue's default wear (5 % of head an hour): the flow per rpm of a fixed loop
    is exact, so a 2 % shortfall against the learnt healthy curve is wear: PUMP_DEGRADED
    with the shortfall and speed (no switchover yet: the pump still carries the loop)."""
    config = thermal.Config()
    async with _satellite(config) as (sat, ground, simctl, port):
        await _full_load(port)
        await ground.wait_for(
            lambda tm: tm.sid == 5 and tm.parameters["thermal.L1.flow_per_krpm"] > 0, timeout=30
        )
        await sat.clock.sleep(60)
        before = (await _truth(simctl))["time_s"]
        await _inject(simctl, "pump_degradation", "pump.L1.A", head_loss_per_hour=0.05)
        degraded = await ground.wait_for(lambda tm: _event(tm, "PUMP_DEGRADED"), timeout=3600)
        assert "L1 pump A" in degraded.message and "below the healthy curve" in degraded.message
        after = (await _truth(simctl))["time_s"]
        assert after - before <= 3600, after - before
        # (at full load the pump already runs at its maximum: no speed to add here; the
        # what-if at part load shows the raise)
        assert not [tm for tm in ground.archive if _event(tm, "PUMP_SWITCHOVER")]


class _StuckValves:
    """Every radiator panel valve (``radvalve.P<nn>``) fails its command with a device fault,
    in front of the thermal service's device port (hwsim has no stuck-valve fault): the case
    of a valve that does not move."""

    def __init__(self) -> None:
        self.commands: list[str] = []

    def wrap(self, run):
        stuck = self

        async def with_stuck_valves(ctx, config):
            inner = ctx.devices

            class Port:
                def __getattr__(self, name):
                    return getattr(inner, name)

                async def command(self, device, command, args=None):
                    if device.startswith("radvalve."):
                        stuck.commands.append(f"{device}.{command}")
                        raise DevicePortError(
                            device, DeviceErrorCode.DEVICE_FAULT, "valve did not move"
                        )
                    return await inner.command(device, command, args)

            ctx.devices = Port()
            await run(ctx, config)

        return with_stuck_valves


async def test_leak_with_a_valve_that_does_not_move_isolates_the_loop_and_limits_its_compute():
    config = thermal.Config()
    valves = _StuckValves()
    async with _satellite(config, valves.wrap(thermal.run)) as (_sat, ground, simctl, port):
        await ground.wait_for(
            lambda tm: tm.sid == 5 and tm.parameters["thermal.L1.leak_state"] == 0, timeout=30
        )
        await _inject(simctl, "radiator_puncture", "radiator.P03", leak_rate_kg_s=0.05)
        leak = await ground.wait_for(lambda tm: _event(tm, "LEAK_DETECTED"), timeout=150)
        assert leak.message.startswith("L1:"), leak.message
        isolated = await ground.wait_for(lambda tm: _event(tm, "LOOP_ISOLATED"), timeout=60)
        # the first valve does not move, so the whole loop goes
        assert "L1 isolated" in isolated.message and "radvalve.P01" in isolated.message, isolated
        assert valves.commands == ["radvalve.P01.close"], valves.commands
        hk = await ground.wait_for(
            lambda tm: tm.sid == 5 and tm.time_s > isolated.time_s, timeout=10
        )
        assert hk.parameters["thermal.L1.isolated"] == 1, hk.parameters
        assert hk.parameters["thermal.L1.leak_state"] == ith.LeakState.LOOP_ISOLATED
        assert hk.parameters["thermal.L1.compute_limit_w"] == 0, hk.parameters
        assert hk.parameters["thermal.P01.isolated"] == 0, "a valve that did not move is open"
        assert hk.parameters["thermal.L2.isolated"] == 0 and hk.parameters[
            "thermal.L2.compute_limit_w"] is None, "the other loop is untouched"  # fmt: skip
        pumps = await ground.wait_for(
            lambda tm: tm.sid == 2 and tm.parameters["pump.L1.A.speed_rpm"] == 0, timeout=20
        )
        assert pumps.parameters["pump.L1.B.speed_rpm"] == 0, pumps.parameters
        assert pumps.parameters["pump.L2.A.speed_rpm"] > 0, pumps.parameters
        assert LIMITS.of("L1")[-1] == 0.0, f"L1 limits: {LIMITS.of('L1')}"
        # the ground cannot isolate a panel behind a stuck valve either, and is told why
        panel = await ground.command(131, 2, ith.PanelRef("P05").pack(), timeout=20)
        assert panel.stages == [1, 3, 8], panel.describe()
        assert panel.error_code == ErrorCode.THERMAL_VALVE_UNAVAILABLE, panel.describe()
        assert (await port.read("radvalve.P05"))["open"] is True, "the real valve never moved"


class _FakeValves:
    """The radiator panel valves (``radvalve.P<nn>``, commands close/open) faked in front of
    the thermal service's device port, so a test sees every valve command in order: closing
    the punctured panel's valve clears the puncture in hwsim (its leak stops), as the real
    valve does; any other valve changes nothing."""

    def __init__(self, punctured: str, rate_kg_s: float) -> None:
        self.punctured, self.rate_kg_s = punctured, rate_kg_s
        self.simctl: DevicePort | None = None
        self.commands: list[str] = []

    def wrap(self, run):
        fake = self

        async def with_valves(ctx, config):
            inner = ctx.devices

            class Port:
                def __getattr__(self, name):
                    return getattr(inner, name)

                async def command(self, device, command, args=None):
                    if device.startswith("radvalve."):
                        return await fake.valve(device, command)
                    return await inner.command(device, command, args)

            ctx.devices = Port()
            await run(ctx, config)

        return with_valves

    async def valve(self, device: str, command: str) -> dict:
        self.commands.append(f"{device}.{command}")
        assert self.simctl is not None, "the test sets simctl before any leak"
        if device == f"radvalve.{self.punctured}":
            target = f"radiator.{self.punctured}"
            if command == "close":
                await self.simctl.request(
                    SimOp.CLEAR_FAULT, args={"fault_id": "radiator_puncture", "target": target}
                )
            else:
                await _inject(
                    self.simctl, "radiator_puncture", target, leak_rate_kg_s=self.rate_kg_s
                )
        return {}


async def test_leak_is_localised_by_closing_one_panel_at_a_time_with_fake_valves():
    config = thermal.Config()
    valves = _FakeValves("P03", 0.05)
    async with _satellite(config, valves.wrap(thermal.run)) as (_sat, ground, simctl, _port):
        valves.simctl = simctl
        await ground.wait_for(
            lambda tm: tm.sid == 5 and tm.parameters["thermal.L1.leak_state"] == 0, timeout=30
        )
        await _inject(simctl, "radiator_puncture", "radiator.P03", leak_rate_kg_s=0.05)
        await ground.wait_for(lambda tm: _event(tm, "LEAK_DETECTED"), timeout=150)
        isolated = await ground.wait_for(lambda tm: _event(tm, "PANEL_ISOLATED"), timeout=300)
        assert isolated.message.startswith("P03 of L1 isolated"), isolated.message
        assert valves.commands == [
            "radvalve.P01.close",
            "radvalve.P01.open",
            "radvalve.P02.close",
            "radvalve.P02.open",
            "radvalve.P03.close",
        ], valves.commands
        hk = await ground.wait_for(
            lambda tm: tm.sid == 5 and tm.time_s > isolated.time_s, timeout=10
        )
        assert hk.parameters["thermal.P03.isolated"] == 1, hk.parameters
        assert hk.parameters["thermal.L1.leak_state"] == ith.LeakState.PANEL_ISOLATED
        assert hk.parameters["thermal.L1.isolated"] == 0, "the loop runs on its other panels"
        # three panels left: the capacity estimate says so
        four = thermal.radiator_capacity_w(
            [config.radiator_limit_k] * 4, config.panel_area_m2, config.panel_emissivity,
            config.sink_temp_k,
        )  # fmt: skip
        assert hk.parameters["thermal.L1.capacity_w"] == pytest.approx(0.75 * four, rel=1e-3)
        names = {tm.event_name for tm in ground.archive if tm.event_id}
        assert "LOOP_ISOLATED" not in names, names


async def test_leak_is_localised_with_real_panel_valves():
    async with _satellite() as (sat, ground, simctl, port):
        await ground.wait_for(lambda tm: tm.sid == 5, timeout=30)
        await _inject(simctl, "radiator_puncture", "radiator.P03", leak_rate_kg_s=0.05)
        await ground.wait_for(lambda tm: _event(tm, "LEAK_DETECTED"), timeout=150)
        isolated = await ground.wait_for(
            lambda tm: _event(tm, "PANEL_ISOLATED") or _event(tm, "LOOP_ISOLATED"), timeout=300
        )
        assert isolated.event_name == "PANEL_ISOLATED", isolated.message
        assert isolated.message.startswith("P03 of L1 isolated"), isolated.message
        # the real valves: P03 closed, the panels tried before it open again, the loop runs on
        for panel, want_open in (("P01", True), ("P02", True), ("P03", False), ("P04", True)):
            valve = await port.read(f"radvalve.{panel}")
            assert valve["open"] is want_open, f"radvalve.{panel}: {valve}"
        before = (await _truth(simctl))["loop_inventory_kg"][0]
        await sat.clock.sleep(60.0)
        after = (await _truth(simctl))["loop_inventory_kg"][0]
        assert after > before - 0.5, f"L1 still drains: {before:.2f} -> {after:.2f} kg in 60 s"
        hk = await ground.wait_for(lambda tm: tm.sid == 2, timeout=10)
        assert hk.parameters["pump.L1.A.speed_rpm"] > 0, "the loop is not isolated"


async def test_thermal_telecommands_verify_and_refuse_with_reasons():
    async with _satellite() as (_sat, ground, _simctl, port):
        await ground.wait_for(
            lambda tm: tm.sid == 5 and tm.parameters["thermal.L1.active_pump"] == ith.PumpCode.A,
            timeout=30,
        )
        # acceptance: bad layouts and ids of the wrong form
        for sub, data in (
            (1, b"\x02L1"),  # the pump id is missing
            (1, ith.LoopRef("L1").pack() + b"\x03XYZ"),  # not a pump id
            (2, b"\x03P3"),  # truncated
            (4, ith.PanelRef("P03").pack()),  # not a sensor id
            (6, ith.LoopRef("L1").pack() + b"x"),  # trailing byte
        ):
            bad = await ground.command(131, sub, data, timeout=20)
            assert bad.stages == [2] and bad.error_code == ErrorCode.INVALID_APP_DATA, (
                f"131,{sub} {data!r}: {bad.describe()}"
            )
        unknown = await ground.command(131, 6, ith.LoopRef("L9").pack(), timeout=20)
        assert unknown.stages == [1, 4] and unknown.error_code == ErrorCode.NOT_FOUND, unknown
        # switch pump: B runs, A stops
        switch = await ground.command(131, 1, ith.SwitchPump("L1", "B").pack(), timeout=20)
        assert switch.ok and switch.stages == [1, 3, 7], switch.describe()
        hk = await ground.wait_for(
            lambda tm: (
                tm.sid == 2
                and tm.parameters["pump.L1.B.speed_rpm"] > 0
                and tm.parameters["pump.L1.A.speed_rpm"] == 0
            ),
            timeout=20,
        )
        assert hk.parameters["pump.L1.B.flow_kg_s"] > 0
        # vote a sensor out and in
        out = await ground.command(131, 4, ith.SensorRef("radsensor.P05.S1").pack(), timeout=20)
        assert out.ok, out.describe()
        hk = await ground.wait_for(
            lambda tm: tm.sid == 5 and tm.parameters["thermal.P05.sensors_in_vote"] == 2, 10
        )
        assert hk.parameters["thermal.sensors_voted_out"] == 1
        back = await ground.command(131, 5, ith.SensorRef("radsensor.P05.S1").pack(), timeout=20)
        assert back.ok, back.describe()
        await ground.wait_for(
            lambda tm: tm.sid == 5 and tm.parameters["thermal.P05.sensors_in_vote"] == 3, 10
        )
        # isolate and restore a panel: its real valve closes and opens (a valve that does not
        # move is refused with THERMAL_VALVE_UNAVAILABLE: the stuck-valve leak test)
        panel = await ground.command(131, 2, ith.PanelRef("P02").pack(), timeout=20)
        assert panel.ok and panel.stages == [1, 3, 7], panel.describe()
        valve = await port.read("radvalve.P02")
        assert valve["open"] is False and valve["commanded_open"] is False, valve
        hk = await ground.wait_for(
            lambda tm: tm.sid == 5 and tm.parameters["thermal.P02.isolated"] == 1, timeout=10
        )
        assert hk.parameters["thermal.L1.isolated"] == 0, "one panel closed, the loop runs on"
        reopen = await ground.command(131, 3, ith.PanelRef("P02").pack(), timeout=20)
        assert reopen.ok and reopen.stages == [1, 3, 7], reopen.describe()
        assert (await port.read("radvalve.P02"))["open"] is True, "the valve opened again"
        await ground.wait_for(
            lambda tm: tm.sid == 5 and tm.parameters["thermal.P02.isolated"] == 0, timeout=10
        )
        # isolate and restore a loop
        iso = await ground.command(131, 6, ith.LoopRef("L2").pack(), timeout=20)
        assert iso.ok, iso.describe()
        hk = await ground.wait_for(
            lambda tm: tm.sid == 5 and tm.parameters["thermal.L2.isolated"] == 1, timeout=10
        )
        assert hk.parameters["thermal.L2.compute_limit_w"] == 0, hk.parameters
        await ground.wait_for(
            lambda tm: tm.sid == 2 and tm.parameters["pump.L2.A.speed_rpm"] == 0, timeout=20
        )
        conflict = await ground.command(131, 1, ith.SwitchPump("L2", "B").pack(), timeout=20)
        assert conflict.error_code == ErrorCode.THERMAL_STATE_CONFLICT, conflict.describe()
        restore = await ground.command(131, 7, ith.LoopRef("L2").pack(), timeout=20)
        assert restore.ok, restore.describe()
        hk = await ground.wait_for(
            lambda tm: (
                tm.sid == 5
                and tm.parameters["thermal.L2.isolated"] == 0
                and tm.parameters["thermal.L2.compute_limit_w"] is None
            ),
            timeout=10,
        )
        await ground.wait_for(
            lambda tm: tm.sid == 2 and tm.parameters["pump.L2.A.speed_rpm"] > 0, timeout=20
        )
        names = [tm.event_name for tm in ground.archive if tm.event_id]
        for name in ("PUMP_SWITCHOVER", "SENSOR_VOTED_OUT", "SENSOR_VOTED_IN", "PANEL_ISOLATED",
                     "PANEL_RESTORED", "LOOP_ISOLATED", "LOOP_RESTORED",
                     "THERMAL_ACTION_FAILED"):  # fmt: skip
            assert name in names, f"{name} not among {names}"


async def test_rejection_short_of_the_load_limits_the_loops_compute_with_numbers():
    # Radiators allowed only up to 335 K: four panels then carry ~66 kW, short of the ~72 kW a
    # loop picks up at full compute, so a limit must come as the panels near that temperature.
    config = thermal.Config(radiator_limit_k=335.0)
    cap = thermal.radiator_capacity_w(
        [335.0] * 4, config.panel_area_m2, config.panel_emissivity, config.sink_temp_k
    )
    async with _satellite(config) as (_sat, ground, _simctl, port):
        await _full_load(port)
        limit = await ground.wait_for(lambda tm: _event(tm, "THERMAL_LIMIT"), timeout=300)
        assert "compute on L1 limited to" in limit.message or "on L2" in limit.message, limit
        assert "load" in limit.message and "kW" in limit.message, limit.message
        hk = await ground.wait_for(lambda tm: tm.sid == 5 and tm.time_s > limit.time_s, timeout=10)
        loop = "L1" if "L1" in limit.message.split(":")[0] else "L2"
        watts = hk.parameters[f"thermal.{loop}.compute_limit_w"]
        assert watts is not None and 0 < watts < cap * (1 - config.limit_margin), (
            f"limit {watts} W, capacity {cap:.0f} W"
        )
        assert LIMITS.of(loop)[-1] == pytest.approx(watts, rel=1e-6), LIMITS.of(loop)
        # the payload sheds its work: the loop cools below the limits less the hysteresis, and
        # the limit is relaxed and then lifted
        for slot in range(1, 151):
            await port.command(f"slot.{slot:03d}", "set_utilisation", {"value": 0.0})
        lifted = await ground.wait_for(
            lambda tm: (
                _event(tm, "THERMAL_LIMIT_LIFTED")
                and tm.message.startswith(f"{loop}:")
                and "lifted" in tm.message
            ),
            timeout=900,
        )
        assert LIMITS.of(loop)[-1] is None, f"{loop} limits: {LIMITS.of(loop)}"
        hk = await ground.wait_for(lambda tm: tm.sid == 5 and tm.time_s > lifted.time_s, 10)
        assert hk.parameters[f"thermal.{loop}.compute_limit_w"] is None, hk.parameters


async def test_a_pump_stopped_behind_its_back_is_replaced_but_ground_may_run_it_again():
    async with _satellite() as (_sat, ground, _simctl, _port):
        await ground.wait_for(
            lambda tm: tm.sid == 5 and tm.parameters["thermal.L2.active_pump"] == ith.PumpCode.A,
            timeout=30,
        )
        assert (await ground.device_command("pump.L2.A", "stop", timeout=20)).ok
        switched = await ground.wait_for(lambda tm: _event(tm, "PUMP_SWITCHOVER"), timeout=20)
        assert "L2: pump A -> B" in switched.message and "stopped" in switched.message, switched
        back = await ground.command(131, 1, ith.SwitchPump("L2", "A").pack(), timeout=20)
        assert back.ok, back.describe()
        hk = await ground.wait_for(
            lambda tm: (
                tm.sid == 2
                and tm.parameters["pump.L2.A.speed_rpm"] > 0
                and tm.parameters["pump.L2.B.speed_rpm"] == 0
            ),
            timeout=20,
        )
        assert hk.parameters["loop.L2.flow_kg_s"] > 0.1, hk.parameters


@pytest.mark.parametrize(
    ("fault", "params", "reason"),
    [
        ("sensor_dead", {}, "range (open circuit"),
        ("sensor_noisy", {"noise_std_k": 5.0}, "noisy"),
        ("sensor_drift", {"rate_k_per_hour": 600.0}, "drift"),
    ],
)
async def test_dead_noisy_and_drifting_sensors_are_voted_out_with_their_reason(
    fault: str, params: dict, reason: str
):
    async with _satellite() as (_sat, ground, simctl, _port):
        await ground.wait_for(
            lambda tm: tm.sid == 5 and tm.parameters["thermal.P06.sensors_in_vote"] == 3,
            timeout=30,
        )
        await _inject(simctl, fault, "radsensor.P06.S1", **params)
        event = await ground.wait_for(lambda tm: _event(tm, "SENSOR_VOTED_OUT"), timeout=120)
        assert event.message.startswith("radsensor.P06.S1 voted out: " + reason), event.message
        hk = await ground.wait_for(lambda tm: tm.sid == 5 and tm.time_s > event.time_s, 10)
        assert hk.parameters["thermal.P06.sensors_in_vote"] == 2, hk.parameters


class _CrashOnce:
    """Thermal control that crashes once when told to (the supervisor restarts it)."""

    def __init__(self) -> None:
        self.runs = 0
        self.crash = asyncio.Event()

    async def run(self, ctx: ServiceContext, config: thermal.Config) -> None:
        self.runs += 1
        task = asyncio.create_task(thermal.run(ctx, config))
        if self.runs > 1:
            await task
            return
        await self.crash.wait()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise RuntimeError("simulated defect")


async def test_an_isolated_loop_stays_isolated_across_a_restart_of_thermal_control():
    crashy = _CrashOnce()
    async with _satellite(run=crashy.run) as (_sat, ground, _simctl, _port):
        await ground.wait_for(
            lambda tm: tm.sid == 5 and tm.parameters["thermal.L2.active_pump"] == ith.PumpCode.A,
            timeout=30,
        )
        assert (await ground.command(131, 6, ith.LoopRef("L2").pack(), timeout=20)).ok
        await ground.wait_for(
            lambda tm: tm.sid == 2 and tm.parameters["pump.L2.A.speed_rpm"] == 0, timeout=20
        )
        crashy.crash.set()
        await ground.wait_for(lambda tm: tm.event_name == "SERVICE_RESTARTED", timeout=30)
        # never within 60 mission s: a pump of the isolated loop running again
        await ground.expect_none(
            lambda tm: (
                tm.sid == 2
                and (
                    tm.parameters["pump.L2.A.speed_rpm"] > 0
                    or tm.parameters["pump.L2.B.speed_rpm"] > 0
                )
            ),
            within=60,
        )
        assert crashy.runs == 2, f"thermal control ran {crashy.runs} times, expected a restart"
        assert LIMITS.of("L2")[-1] == 0.0, f"L2 limits after the restart: {LIMITS.of('L2')}"
        restore = await ground.command(131, 7, ith.LoopRef("L2").pack(), timeout=20)
        assert restore.ok, restore.describe()
        await ground.wait_for(
            lambda tm: tm.sid == 2 and tm.parameters["pump.L2.A.speed_rpm"] > 0, timeout=20
        )


async def test_a_fast_leak_isolates_the_loop_at_the_inventory_floor_during_localisation():
    config = thermal.Config()
    valves = _FakeValves("P04", 0.5)
    async with _satellite(config, valves.wrap(thermal.run)) as (_sat, ground, simctl, _port):
        valves.simctl = simctl
        first = await ground.wait_for(
            lambda tm: tm.sid == 2 and tm.parameters["loop.L1.inventory_kg"] > 0, timeout=30
        )
        full_kg = first.parameters["loop.L1.inventory_kg"]
        await _inject(simctl, "radiator_puncture", "radiator.P04", leak_rate_kg_s=0.5)
        await ground.wait_for(lambda tm: _event(tm, "LEAK_DETECTED"), timeout=150)
        isolated = await ground.wait_for(lambda tm: _event(tm, "LOOP_ISOLATED"), timeout=300)
        assert "below the floor" in isolated.message, isolated.message
        hk = await ground.wait_for(
            lambda tm: tm.sid == 2 and tm.time_s >= isolated.time_s, timeout=10
        )
        left = hk.parameters["loop.L1.inventory_kg"]
        assert left > 0.6 * full_kg, f"isolated at {left:.1f} kg of {full_kg:.1f}: pumps cavitate"
        assert "radvalve.P04.close" not in valves.commands, valves.commands
        assert valves.commands[-1].endswith(".close"), "the panel under test stays closed"
        assert LIMITS.of("L1")[-1] == 0.0, LIMITS.of("L1")


async def test_seized_pump_is_replaced_within_its_window_with_the_whole_flight_software():
    """The same seizure with every service of the flight software acting (modes, monitoring,
    FDIR event-actions, power, the payload manager obeying the compute limits): the
    switchover keeps its window and no die or supply goes over its limit."""
    config = thermal.Config()
    async with (
        in_process_satellite(services(FlightSettings(port=0)), hwsim_config=SIMPLE) as sat,
        Ground("127.0.0.1", sat.udp_port, clock=sat.clock) as ground,
        DevicePort(sat.context, sat.simctl_endpoint, sat.clock, timeout_s=30) as simctl,
        DevicePort(sat.context, sat.device_endpoint, sat.clock, timeout_s=30) as port,
    ):
        await ground.ping()
        await until_nominal(ground)
        await _full_load(port)
        await ground.wait_for(
            lambda tm: tm.sid == 5 and tm.parameters["thermal.L1.active_pump"] == ith.PumpCode.A,
            timeout=30,
        )
        await sat.clock.sleep(30)
        loaded = await ground.hk(2, timeout=10)
        assert loaded["loop.L1.heat_load_w"] > 60e3, f"L1 carries {loaded['loop.L1.heat_load_w']} W"
        switched = ground.expect(lambda tm: _event(tm, "PUMP_SWITCHOVER"))
        injected_s = sat.clock.now_s()
        await _inject(simctl, "pump_seizure", "pump.L1.A")
        await ground.wait_for(
            lambda tm: tm.sid == 2 and tm.parameters["pump.L1.B.speed_rpm"] > 1000,
            timeout=config.switchover_time_s + 5,
        )
        event = await sat.clock.wait_for(switched, 1)
        assert event.time_s - injected_s <= config.switchover_time_s, (
            f"switchover {event.time_s - injected_s:.1f} mission s after the seizure, "
            f"allowed {config.switchover_time_s}"
        )
        # FDIR's default event-actions (EA 101/102 on monitoring's PUMP_STALLED) are faster
        # than thermal's own seizure count: they switch through thermal's 131,1, so thermal
        # does the switchover "by event-action", once, and does not switch again itself
        assert event.message.startswith("L1: pump A -> B by event-action (131,1)"), event.message
        actions = [tm.message for tm in ground.archive if tm.event_name == "EVENT_ACTION_TRIGGERED"]
        assert any("TC(131,1) apid 1 L1 B" in m for m in actions), actions
        await _never_over_limits(sat, simctl, 60)
        hk = await ground.hk(5, timeout=10)
        assert hk["thermal.L1.active_pump"] == ith.PumpCode.B, hk
        assert hk["thermal.L1.no_flow"] == 0 and hk["thermal.L1.compute_limit_w"] is None, hk
        after = await ground.hk(2, timeout=10)
        # the window held with the load still on the loop, not because compute went away
        assert after["loop.L1.heat_load_w"] > 60e3, f"L1 carries {after['loop.L1.heat_load_w']} W"
        switchovers = [tm.message for tm in ground.archive if tm.event_name == "PUMP_SWITCHOVER"]
        assert len(switchovers) == 1, f"one switchover expected: {switchovers}"


async def test_a_seized_standby_pump_is_found_by_its_periodic_check_and_reported():
    """A seizure of the pump that is NOT running shows nothing in the polled registers (speed,
    power and flow are 0 either way): thermal control's standby check (set_speed_rpm to the
    stopped pump, refused by a seized one) reports it, and when the running pump then seizes
    too, the failed switchover says why and the loop's compute is shed; the other loop flies
    on."""
    config = thermal.Config(standby_check_s=60)
    async with _satellite(config) as (sat, ground, simctl, port):
        await _full_load(port)
        await ground.wait_for(
            lambda tm: tm.sid == 5 and tm.parameters["thermal.L1.active_pump"] == ith.PumpCode.A,
            timeout=30,
        )
        unavailable = ground.expect(lambda tm: _event(tm, "PUMP_STANDBY_UNAVAILABLE"))
        injected_s = sat.clock.now_s()
        await _inject(simctl, "pump_seizure", "pump.L1.B")
        event = await sat.clock.wait_for(unavailable, config.standby_check_s + 5)
        assert event.time_s - injected_s <= config.standby_check_s + 1, event
        assert event.message.startswith("L1: standby pump B refused set_speed_rpm"), event.message
        assert "seized" in event.message, event.message
        # ground cannot switch to it either
        to_b = await ground.command(131, 1, ith.SwitchPump("L1", "B").pack(), timeout=20)
        assert to_b.error_code == ErrorCode.THERMAL_PUMP_UNAVAILABLE, to_b.describe()
        failed = ground.expect(
            lambda tm: _event(tm, "THERMAL_ACTION_FAILED") and "no standby" in tm.message
        )
        no_flow = ground.expect(lambda tm: _event(tm, "LOOP_NO_FLOW"))
        await _inject(simctl, "pump_seizure", "pump.L1.A")
        event = await sat.clock.wait_for(failed, config.switchover_time_s)
        assert "B: failed its standby check" in event.message, event.message
        await sat.clock.wait_for(no_flow, 10)
        await sat.clock.sleep(3)
        assert LIMITS.of("L1")[-1] == 0.0, f"L1 limits: {LIMITS.of('L1')}"
        assert 0.0 not in LIMITS.of("L2"), f"L2 limits: {LIMITS.of('L2')}"
        names = [tm.event_name for tm in ground.archive if tm.event_id]
        assert names.count("PUMP_STANDBY_UNAVAILABLE") == 1, names


@pytest.mark.timeout(300)
async def test_a_worn_standby_is_found_by_its_test_run_and_the_loop_returns_to_its_pump():
    """Wear only shows while a pump runs: the periodic standby test run (pump rotation) runs
    B, its flow is judged against A's healthy curve (PUMP_DEGRADED naming B), and the loop
    goes back to A (PUMP_TEST_RUN with the result). A healthy A is never reported."""
    config = thermal.Config(standby_run_s=120, standby_check_s=0)
    async with _satellite(config) as (sat, ground, simctl, port):
        await _full_load(port)
        await ground.wait_for(
            lambda tm: tm.sid == 5 and tm.parameters["thermal.L1.active_pump"] == ith.PumpCode.A,
            timeout=30,
        )
        await _inject(
            simctl, "pump_degradation", "pump.L1.B", head_loss_per_hour=36.0, min_head_fraction=0.8
        )
        degraded = ground.expect(lambda tm: _event(tm, "PUMP_DEGRADED"))
        test_run = ground.expect(
            lambda tm: _event(tm, "PUMP_TEST_RUN") and tm.message.startswith("L1:")
        )
        event = await sat.clock.wait_for(degraded, config.standby_run_s + 60)
        assert event.message.startswith("L1 pump B:") and "below the healthy curve" in (
            event.message
        ), event.message
        event = await sat.clock.wait_for(test_run, config.standby_run_duration_s + 10)
        assert "pump B (degraded)" in event.message and "back on A" in event.message, event
        await sat.clock.sleep(5)
        hk = await ground.hk(5, timeout=10)
        assert hk["thermal.L1.active_pump"] == ith.PumpCode.A, hk
        names = [tm.message for tm in ground.archive if tm.event_name == "PUMP_DEGRADED"]
        assert all("pump B" in m for m in names), names
        assert not [tm for tm in ground.archive if _event(tm, "PUMP_SWITCHOVER")]


@pytest.mark.timeout(300)
async def test_a_seized_standby_is_found_by_its_test_run_without_the_set_speed_check():
    config = thermal.Config(standby_run_s=120, standby_check_s=0)
    async with _satellite(config) as (sat, ground, simctl, port):
        await _full_load(port)
        await ground.wait_for(
            lambda tm: tm.sid == 5 and tm.parameters["thermal.L1.active_pump"] == ith.PumpCode.A,
            timeout=30,
        )
        unavailable = ground.expect(
            lambda tm: _event(tm, "PUMP_STANDBY_UNAVAILABLE") and "pump B" in tm.message
        )
        await _inject(simctl, "pump_seizure", "pump.L1.B")
        event = await sat.clock.wait_for(unavailable, config.standby_run_s + 10)
        assert event.message.startswith("L1: standby pump B would not start"), event.message
        await sat.clock.sleep(5)
        hk = await ground.hk(5, timeout=10)
        assert hk["thermal.L1.active_pump"] == ith.PumpCode.A, hk
        assert hk["thermal.L1.no_flow"] == 0, hk
