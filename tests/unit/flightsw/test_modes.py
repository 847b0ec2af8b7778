"""The mode manager: its transition table and guards (the state machine alone, fed a parameter
pool), the PUS 130 codec, and the service on a real software bus (stepped clock) publishing
what each mode means: ModeChanged, the mode's ComputeLimit, events and mode.* parameters."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import zmq.asyncio
from pydantic import ValidationError

from flightsw.context import ServiceContext
from flightsw.messages import (
    ComputeLimit,
    EclipseForecast,
    Event,
    FdirEscalation,
    ModeChanged,
    ModeRequest,
    ParameterUpdate,
)
from flightsw.pool import ParameterPool
from flightsw.services import modes
from flightsw.services.modes import (
    COMPUTE_POWER_LIMIT_W,
    TRANSITIONS,
    Cause,
    Change,
    Config,
    Denial,
    ModeManager,
)
from icd import dictionary as dic
from icd.dictionary import EventId, Mode, ServiceState
from icd.errors import DecodeError, ErrorCode
from icd.modes import ModeReport, RequestMode
from runtime.bus import Broker, Bus
from runtime.clock import SteppedClock

pytestmark = pytest.mark.timeout(60)

S = 1_000_000_000
T0 = 1_000 * S


class Harness:
    """A ModeManager and the pool it reads, on a hand-driven mission time."""

    def __init__(self, **config: Any) -> None:
        self.pool = ParameterPool()
        self.now_ns = T0
        self.manager = ModeManager(Config(**config), self.pool, self.now_ns)

    def values(self, **values: float) -> None:
        self.pool.update(ParameterUpdate(values=values, time_ns=self.now_ns))

    def invalid(self, *names: str) -> None:
        self.pool.update(ParameterUpdate(values={}, invalid=names, time_ns=self.now_ns))

    def advance(self, seconds: float) -> list[Change]:
        self.now_ns += round(seconds * S)
        return self.manager.evaluate(self.now_ns)

    def request(self, mode: Mode, cause: Cause = Cause.GROUND, reason: str = "test") -> Any:
        return self.manager.request(mode, cause, reason, self.now_ns)

    def healthy(self, soc: float = 0.9) -> None:
        self.values(**{"battery.soc": soc, "supervisor.failed": 0, "supervisor.state.ping": 1})

    def to_nominal(self) -> None:
        self.healthy()
        self.advance(0)
        outcome = self.request(Mode.NOMINAL)
        assert isinstance(outcome, Change), f"expected SAFE -> NOMINAL, got {outcome}"


def test_the_table_covers_every_mode_and_never_returns_to_boot():
    sources = {t.source for t in TRANSITIONS}
    targets = {t.target for t in TRANSITIONS}
    assert sources == set(Mode), f"modes without a way out: {set(Mode) - sources}"
    assert targets == set(Mode) - {Mode.BOOT}, f"targets {sorted(targets)}"
    keys = [(t.source, t.target, c) for t in TRANSITIONS for c in t.causes]
    assert len(keys) == len(set(keys)), "a (source, target, cause) listed twice"
    assert {m for m, w in COMPUTE_POWER_LIMIT_W.items() if w == 0} == {
        Mode.BOOT,
        Mode.SAFE,
        Mode.SURVIVAL,
    }
    assert COMPUTE_POWER_LIMIT_W[Mode.NOMINAL] is None
    assert COMPUTE_POWER_LIMIT_W[Mode.ECLIPSE] is None


def test_boot_waits_for_a_valid_platform_value_then_safe():
    h = Harness()
    assert h.advance(5) == [] and h.manager.mode == Mode.BOOT
    denied = h.request(Mode.SAFE)
    assert isinstance(denied, Denial) and "platform not up" in denied.reason, denied
    h.values(**{"link.tc_received": 0.0})  # a software counter is not the hardware
    assert h.advance(1) == []
    h.values(**{"pdu.bus_voltage_v": 120.0})
    changes = h.advance(1)
    assert [c.message for c in changes] == ["BOOT -> SAFE: platform up (pdu.bus_voltage_v valid)"]
    assert h.manager.transitions == 1


def test_denied_transitions_change_nothing_and_say_why():
    h = Harness()
    h.healthy()
    h.advance(0)
    for target, why in (
        (Mode.ECLIPSE, "not allowed from SAFE (allowed: NOMINAL, SURVIVAL)"),
        (Mode.BOOT, "not allowed from SAFE"),
    ):
        denied = h.request(target)
        assert isinstance(denied, Denial), f"SAFE -> {target.name} was allowed"
        assert why in denied.message, denied.message
        assert (h.manager.mode, h.manager.transitions) == (Mode.SAFE, 1)
    h.values(**{"battery.soc": 0.3})
    denied = h.request(Mode.NOMINAL)
    assert isinstance(denied, Denial), denied
    assert denied.message == "SAFE -> NOMINAL denied (ground): battery SoC 0.30 below 0.35"
    h.invalid("battery.soc")
    denied = h.request(Mode.NOMINAL)
    assert isinstance(denied, Denial) and "battery SoC invalid" in denied.reason, denied
    assert h.manager.mode == Mode.SAFE


def test_autonomous_return_to_nominal_after_the_hold_only_when_healthy():
    h = Harness(safe_hold_s=60)
    h.healthy(soc=0.45)  # above survival exit, below the nominal minimum 0.5
    h.advance(0)
    assert h.advance(120) == [], "autonomy returned with the battery below nominal_min_soc"
    h.values(**{"battery.soc": 0.8, "supervisor.failed": 1, "supervisor.state.ping": 3})
    assert h.advance(10) == [], "autonomy returned with a service FAILED"
    h.values(**{"supervisor.failed": 0, "supervisor.state.ping": 1})
    (change,) = h.advance(1)
    assert change.message.startswith("SAFE -> NOMINAL: autonomy: "), change.message
    assert h.manager.mode == Mode.NOMINAL


def test_no_autonomous_return_before_the_hold_or_when_disabled_or_ground_held():
    h = Harness(safe_hold_s=60)
    h.healthy()
    h.advance(0)
    assert h.advance(59) == [] and h.manager.mode == Mode.SAFE
    assert [c.mode for c in h.advance(1)] == [Mode.NOMINAL]
    # The ground commands SAFE: it holds, whatever autonomy thinks.
    assert isinstance(h.request(Mode.SAFE), Change)
    assert h.advance(600) == [] and h.manager.mode == Mode.SAFE
    off = Harness(safe_hold_s=0, autonomous_nominal=False)
    off.healthy()
    assert [c.mode for c in off.advance(3600)] == [Mode.SAFE]


def test_an_onboard_request_does_not_leave_a_safe_the_ground_holds():
    h = Harness(safe_hold_s=60)
    h.healthy()
    h.advance(0)
    # In BOOT's SAFE (autonomy's to leave), power's request for NOMINAL is granted.
    assert isinstance(h.request(Mode.NOMINAL, Cause.REQUEST, "power: eclipse over"), Change)
    assert isinstance(h.request(Mode.SAFE), Change)  # the ground takes SAFE over
    denied = h.request(Mode.NOMINAL, Cause.REQUEST, "power: eclipse over")
    assert isinstance(denied, Denial), denied
    assert denied.message == "SAFE -> NOMINAL denied (request): SAFE commanded by ground", (
        denied.message
    )
    assert h.manager.mode == Mode.SAFE and h.manager.transitions == 3
    # The ground's own NOMINAL still goes.
    assert isinstance(h.request(Mode.NOMINAL), Change)


def test_a_service_failed_drops_nominal_to_safe_naming_it_and_blocks_the_return():
    h = Harness(safe_hold_s=10)
    h.to_nominal()
    h.values(**{"supervisor.failed": 1, "supervisor.state.thermal": ServiceState.FAILED})
    (change,) = h.advance(0)
    assert change.message == "NOMINAL -> SAFE: service thermal FAILED", change.message
    assert h.advance(3600) == [], "autonomy went back to NOMINAL with thermal FAILED"
    # The ground may still decide to fly on without it; the same failure does not drop it
    # again, a new one does.
    assert isinstance(h.request(Mode.NOMINAL), Change)
    assert h.advance(1) == []
    h.values(**{"supervisor.failed": 2, "supervisor.state.power": ServiceState.FAILED})
    (change,) = h.advance(1)
    assert change.message == "NOMINAL -> SAFE: service power FAILED", change.message


def test_escalations_past_the_budget_within_the_window_drop_to_safe():
    h = Harness(escalation_budget=3, escalation_window_s=600, safe_hold_s=10)
    h.to_nominal()
    for i in range(3):
        assert h.manager.escalate("monitoring", f"monitor {i} recurs", h.now_ns) is None
        h.advance(100)
    assert h.manager.mode == Mode.NOMINAL, "three escalations are within a budget of 3"
    h.advance(350)  # the first is 650 s old now: out of the window
    assert h.manager.escalate("thermal", "pump B did not start", h.now_ns) is None
    assert h.manager.escalations(h.now_ns) == 3
    change = h.manager.escalate("thermal", "pump B did not start", h.now_ns)
    assert isinstance(change, Change), "the 4th escalation within 600 s did not drop to SAFE"
    assert change.message == (
        "NOMINAL -> SAFE: 4 FDIR escalations in 600 s (budget 3), last thermal: pump B did "
        "not start"
    ), change.message
    # No autonomous return until the count is back under the budget (< 3 in the window),
    # and has stayed there for cause_clear_s (60 s by default).
    # Escalations at +0, +100, +200, +650, +650 s; now +650 s.
    assert h.advance(50) == []  # +700 s: +200 and the two at +650 in the window: 3
    (staying,) = h.manager.notices
    assert staying.message == (
        "SAFE -> NOMINAL denied (rule): stays in SAFE: 3 FDIR escalations in 600 s (budget 3)"
    ), staying.message
    h.manager.notices.clear()
    assert h.advance(101) == []  # +801 s: only the two at +650 are left, for 1 s
    (staying,) = h.manager.notices
    assert staying.reason == "stays in SAFE: escalations: under budget for 1 s, 60 s needed"
    assert h.advance(58) == []  # +859 s
    (back,) = h.advance(1)  # +860 s: under the budget since +800 s
    assert back.mode == Mode.NOMINAL, back
    assert back.reason.endswith("2 escalations, cause cleared"), back.reason


def test_an_event_action_safe_stays_while_its_monitor_is_violated():
    """Event-action's stored 130,1 SAFE (coolant leak) is not left after safe_hold_s while
    the inventory is still under its monitor's floor; the return waits for it to be back in
    limits for cause_clear_s, and an event-worthy notice says why SAFE stays."""
    h = Harness(safe_hold_s=10, cause_clear_s=60)
    h.to_nominal()
    h.values(**{"loop.L1.inventory_kg": 120.0})
    change = h.request(Mode.SAFE, Cause.REQUEST, "event-action: coolant leak on loop L1")
    assert isinstance(change, Change), change
    assert h.advance(3600) == [], "SAFE left with the leak's monitor still violated"
    (staying,) = h.manager.notices  # said once, not every second
    assert staying.reason == (
        "stays in SAFE: coolant leak on loop L1: loop.L1.inventory_kg value outside >= 140 "
        "(now 120)"
    ), staying.reason
    h.invalid("loop.L1.inventory_kg")
    assert h.advance(600) == [], "SAFE left on an invalid inventory"
    h.values(**{"loop.L1.inventory_kg": 145.0})
    assert h.advance(1) == [] and h.advance(59) == []
    (back,) = h.advance(1)
    assert back.mode == Mode.NOMINAL and back.reason.endswith("cause cleared"), back


def test_an_seu_burst_safe_waits_for_the_mismatches_to_stop_rising():
    h = Harness(safe_hold_s=10, cause_clear_s=60)
    h.to_nominal()
    mismatches = 100.0
    h.values(**{"payload.mismatches": mismatches})
    h.request(Mode.SAFE, Cause.REQUEST, "event-action: SEU burst on the compute payload")
    for _ in range(120):  # still 10 a second: the burst goes on
        mismatches += 10
        h.values(**{"payload.mismatches": mismatches})
        assert h.advance(1) == [], "SAFE left during the SEU burst"
    assert "payload.mismatches change per sample not seen within <= 3" in (
        h.manager.notices[-1].reason
    )
    for _ in range(60):  # one a second is within the monitor's 3 per sample
        mismatches += 1
        h.values(**{"payload.mismatches": mismatches})
        assert h.advance(1) == []
    h.values(**{"payload.mismatches": mismatches + 1})
    (back,) = h.advance(1)
    assert back.mode == Mode.NOMINAL, back


def test_a_second_stored_safe_while_in_safe_is_one_more_cause_to_wait_for():
    h = Harness(safe_hold_s=10, cause_clear_s=60)
    h.to_nominal()
    h.values(**{"loop.L2.inventory_kg": 120.0, "payload.mismatches": 5.0})
    h.request(Mode.SAFE, Cause.REQUEST, "event-action: SEU burst on the compute payload")
    h.advance(30)
    assert h.request(Mode.SAFE, Cause.REQUEST, "event-action: coolant leak on loop L2") is None
    for _ in range(600):  # the burst is over (no new mismatch), the leak is not
        h.values(**{"payload.mismatches": 5.0})
        assert h.advance(1) == [], "the leak's SAFE forgotten behind the SEU burst's"
    assert "coolant leak on loop L2" in h.manager.notices[-1].reason
    h.values(**{"loop.L2.inventory_kg": 141.0})
    assert h.advance(1) == [] and h.advance(59) == []
    assert [c.mode for c in h.advance(1)] == [Mode.NOMINAL]


def test_an_onboard_safe_of_unknown_cause_waits_for_the_ground():
    h = Harness(safe_hold_s=10)
    h.to_nominal()
    h.request(Mode.SAFE, Cause.REQUEST, "event-action: operator-loaded entry 4711")
    assert h.advance(3600) == []
    (staying,) = h.manager.notices
    assert staying.reason == (
        "stays in SAFE: cause not known onboard (operator-loaded entry 4711): SAFE until "
        "ground commands"
    )
    denied = h.request(Mode.NOMINAL, Cause.REQUEST, "power: eclipse over")
    assert isinstance(denied, Denial), denied
    assert isinstance(h.request(Mode.NOMINAL), Change)  # the ground decides


def test_eclipse_is_commanded_only_in_shadow_or_with_the_entry_near():
    h = Harness(eclipse_command_lead_s=300)
    h.to_nominal()
    denied = h.request(Mode.ECLIPSE)
    assert isinstance(denied, Denial) and denied.reason == (
        "no eclipse forecast (the orbit model not heard)"
    ), denied
    h.manager.forecast(False, h.now_ns, next_entry_ns=h.now_ns + 2000 * S)
    denied = h.request(Mode.ECLIPSE)
    assert isinstance(denied, Denial), "ECLIPSE commanded in sunlight, entry 2000 s away"
    assert denied.message == (
        "NOMINAL -> ECLIPSE denied (ground): not in eclipse / no eclipse forecast within "
        "300 s (next entry in 2000 s)"
    ), denied.message
    assert h.manager.mode == Mode.NOMINAL
    h.now_ns += 1700 * S
    h.manager.forecast(False, h.now_ns, next_entry_ns=h.now_ns + 300 * S)
    assert isinstance(h.request(Mode.ECLIPSE), Change)  # the entry 300 s ahead: granted


def test_survival_on_low_battery_and_back_to_safe_when_it_recovers():
    h = Harness(safe_hold_s=30)
    h.to_nominal()
    h.values(**{"battery.soc": 0.2})
    (change,) = h.advance(1)
    assert change.message == "NOMINAL -> SURVIVAL: battery SoC 0.20 below 0.25"
    for target in (Mode.NOMINAL, Mode.ECLIPSE):
        denied = h.request(target)
        assert isinstance(denied, Denial) and "not allowed from SURVIVAL" in denied.reason
    denied = h.request(Mode.SAFE)
    assert isinstance(denied, Denial) and denied.reason == "battery SoC 0.20 below 0.35"
    h.values(**{"battery.soc": 0.34})
    assert h.advance(60) == [], "left SURVIVAL below the exit threshold (hysteresis)"
    h.values(**{"battery.soc": 0.36})
    changes = h.advance(1)
    assert [c.message for c in changes] == [
        "SURVIVAL -> SAFE: battery SoC 0.36 recovered above 0.35"
    ]
    h.values(**{"battery.soc": 0.6})
    assert [c.mode for c in h.advance(30)] == [Mode.NOMINAL]


def test_eclipse_follows_the_forecast_edges_and_requests():
    h = Harness(safe_hold_s=10)
    h.to_nominal()
    change = h.manager.forecast(True, h.now_ns)
    assert (
        change is not None
        and change.message == "NOMINAL -> ECLIPSE: eclipse entry (orbit forecast)"
    )
    assert h.manager.forecast(True, h.now_ns) is None
    change = h.manager.forecast(False, h.now_ns)
    assert change is not None and change.mode == Mode.NOMINAL
    # Power may ask for ECLIPSE ahead of the shadow (the forecast's entry within the lead):
    # it holds until the forecast's exit edge.
    h.manager.forecast(False, h.now_ns, next_entry_ns=h.now_ns + 300 * S)
    change = h.request(Mode.ECLIPSE, Cause.REQUEST, "power: eclipse in 300 s")
    assert isinstance(change, Change) and change.reason == "power: eclipse in 300 s"
    assert h.advance(60) == [] and h.manager.mode == Mode.ECLIPSE
    assert h.manager.forecast(True, h.now_ns) is None
    assert h.manager.forecast(False, h.now_ns).mode == Mode.NOMINAL
    # Autonomy returning from SAFE in the shadow goes on to ECLIPSE at once.
    h.manager.forecast(True, h.now_ns)
    assert h.manager.mode == Mode.ECLIPSE
    h.manager.escalate("thermal", "loop L1 isolated", h.now_ns)  # a SAFE whose cause clears
    for _ in range(3):
        h.manager.escalate("thermal", "loop L1 isolated", h.now_ns)
    assert h.manager.mode == Mode.SAFE
    changes = h.advance(600 + 60)  # out of the window, and under the budget for 60 s
    assert [c.mode for c in changes] == [Mode.NOMINAL, Mode.ECLIPSE], changes
    # The ground commanding NOMINAL in the shadow is obeyed (compute through the eclipse).
    assert isinstance(h.request(Mode.NOMINAL), Change)
    assert h.advance(10) == [] and h.manager.mode == Mode.NOMINAL


def test_same_mode_request_is_no_transition():
    h = Harness()
    h.healthy()
    h.advance(0)
    assert h.request(Mode.SAFE, Cause.REQUEST) is None
    assert h.manager.transitions == 1


def test_config_refuses_unordered_thresholds():
    with pytest.raises(ValidationError, match="survival_soc < survival_exit_soc"):
        Config(survival_soc=0.4, survival_exit_soc=0.3)
    with pytest.raises(ValidationError):
        Config(escalation_budget=0)


# --- the PUS 130 codec and acceptance -------------------------------------------------------


def test_codec_round_trips_and_rejects_bad_data_at_acceptance():
    request = RequestMode(Mode.SURVIVAL, "battery low")
    assert RequestMode.unpack(request.pack()) == request
    assert RequestMode.unpack(bytes([2, 0])) == RequestMode(Mode.NOMINAL, "")
    report = ModeReport(Mode.ECLIPSE, Mode.NOMINAL, 848534603.25, 7, "eclipse entry")
    assert ModeReport.unpack(report.pack()) == report
    for bad, what in (
        (b"", "request_mode.mode"),
        (bytes([5, 0]), "request_mode.mode"),
        (bytes([1]), "request_mode.reason_length"),
        (bytes([1, 3]) + b"ab", "request_mode.reason"),
        (bytes([1, 2]) + b"\xc3\xa9", "request_mode.reason"),
        (bytes([1, 1]) + b"\n", "request_mode.reason"),
        (bytes([1, 0, 0]), "request_mode"),
    ):
        with pytest.raises(DecodeError) as caught:
            dic.check_app_data(130, 1, bad)
        assert caught.value.reason == what, f"{bad!r}: {caught.value}"
    with pytest.raises(DecodeError):
        dic.check_app_data(130, 2, b"\x00")
    assert dic.tc_subservices(dic.service_def(130)) == [1, 2]
    assert ErrorCode.MODE_DENIED == 0x0020
    names = [p.name for p in dic.HK_STRUCTURES[1].parameters]
    assert {"mode.current", "mode.transitions", "mode.escalations"} <= set(names)


# --- the service on a software bus ----------------------------------------------------------


@contextlib.asynccontextmanager
async def bus_with_modes(config: Config) -> AsyncIterator[tuple[Bus, SteppedClock]]:
    """The modes service alone on a real bus (inproc broker) and a stepped clock."""
    clock = SteppedClock()
    context = zmq.asyncio.Context()
    name = f"modes-{id(clock)}"
    try:
        async with Broker(context, f"inproc://{name}-pub", f"inproc://{name}-sub") as broker:
            bus = Bus(context, broker.pub_endpoint, broker.sub_endpoint)
            ready: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            ctx = ServiceContext(
                "modes",
                clock,
                bus,
                None,  # type: ignore[arg-type]  # the mode manager commands no device
                logging.getLogger("test.modes"),
                lambda info: ready.done() or ready.set_result(info),
            )
            task = asyncio.create_task(modes.run(ctx, config))
            try:
                await asyncio.wait_for(asyncio.shield(ready), 30)  # hang bound (wall)
                yield bus, clock
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                bus.close()
    finally:
        context.destroy(linger=0)


async def _next(messages: Any, clock: SteppedClock, predicate: Any, timeout_s: float) -> Any:
    async def find() -> Any:
        while True:
            message = await messages.recv()
            if predicate(message):
                return message

    return await clock.wait_for(find(), timeout_s)


async def test_service_drops_to_survival_on_low_soc_and_publishes_the_mode_policy():
    config = Config(safe_hold_s=5, announce_period_s=10)
    async with bus_with_modes(config) as (bus, clock):
        async with bus.subscribe(Event, ModeChanged, ComputeLimit, ParameterUpdate) as seen:
            bus.publish(
                ParameterUpdate(
                    values={"battery.soc": 0.9, "supervisor.failed": 0},
                    time_ns=clock.now_ns(),
                )
            )
            nominal = await _next(
                seen, clock, lambda m: isinstance(m, ModeChanged) and m.mode == Mode.NOMINAL, 30
            )
            assert nominal.previous == Mode.SAFE, nominal
            lifted = await _next(seen, clock, lambda m: isinstance(m, ComputeLimit), 5)
            assert (lifted.source, lifted.scope, lifted.power_limit_w) == ("mode", "all", None)
            bus.publish(ParameterUpdate(values={"battery.soc": 0.18}, time_ns=clock.now_ns()))
            event = await _next(
                seen,
                clock,
                lambda m: isinstance(m, Event) and m.event_id == EventId.MODE_CHANGED,
                5,
            )
            assert event.message == "NOMINAL -> SURVIVAL: battery SoC 0.18 below 0.25", event
            limit = await _next(seen, clock, lambda m: isinstance(m, ComputeLimit), 5)
            assert limit.power_limit_w == 0 and limit.reason == "mode SURVIVAL", limit
            hk = await _next(
                seen,
                clock,
                lambda m: isinstance(m, ParameterUpdate) and "mode.current" in m.values,
                5,
            )
            assert hk.values["mode.current"] == Mode.SURVIVAL
            assert hk.values["mode.transitions"] == 3, hk.values  # BOOT->SAFE->NOMINAL->SURVIVAL
            # Re-announced every period, so a restarted service learns the mode.
            t0 = clock.now_ns()
            again = await _next(seen, clock, lambda m: isinstance(m, ModeChanged), 15)
            assert again.mode == again.previous == Mode.SURVIVAL, again
            assert clock.now_ns() - t0 <= 10 * S + S
            repeat_limit = await _next(seen, clock, lambda m: isinstance(m, ComputeLimit), 1)
            assert repeat_limit.power_limit_w == 0


async def test_service_counts_escalations_and_denies_requests_with_an_event():
    config = Config(safe_hold_s=0, escalation_budget=1, escalation_window_s=300)
    async with bus_with_modes(config) as (bus, clock):
        async with bus.subscribe(Event, ModeChanged, ParameterUpdate) as seen:
            bus.publish(
                ParameterUpdate(
                    values={"battery.soc": 0.9, "supervisor.failed": 0}, time_ns=clock.now_ns()
                )
            )
            await _next(
                seen, clock, lambda m: isinstance(m, ModeChanged) and m.mode == Mode.NOMINAL, 30
            )
            bus.publish(ModeRequest(mode=Mode.BOOT, source="power", reason="confused"))
            denied = await _next(
                seen, clock, lambda m: isinstance(m, Event) and m.event_id == EventId.MODE_DENIED, 5
            )
            assert denied.message.startswith("NOMINAL -> BOOT denied (request): not allowed"), (
                denied.message
            )
            for i in range(2):
                bus.publish(FdirEscalation(source="monitoring", reason=f"monitor {i} recurs"))
            event = await _next(
                seen,
                clock,
                lambda m: isinstance(m, Event) and m.event_id == EventId.MODE_CHANGED,
                5,
            )
            assert event.message == (
                "NOMINAL -> SAFE: 2 FDIR escalations in 300 s (budget 1), last monitoring: "
                "monitor 1 recurs"
            ), event.message
            hk = await _next(
                seen,
                clock,
                lambda m: isinstance(m, ParameterUpdate) and "mode.escalations" in m.values,
                5,
            )
            assert hk.values["mode.escalations"] == 2 and hk.values["mode.current"] == Mode.SAFE
            bus.publish(
                EclipseForecast(
                    in_eclipse=True, next_entry_ns=None, next_exit_ns=None, eclipse_duration_s=0.0
                )
            )
            staying = await _next(
                seen, clock, lambda m: isinstance(m, Event) and m.event_id == EventId.MODE_DENIED, 5
            )
            assert staying.message == (
                "SAFE -> NOMINAL denied (rule): stays in SAFE: 2 FDIR escalations in 300 s "
                "(budget 1)"
            ), staying.message
            # In SAFE the forecast changes nothing; once the window empties (and stays empty
            # for cause_clear_s) autonomy returns to NOMINAL and, in the shadow, goes on to
            # ECLIPSE.
            eclipse = await _next(
                seen, clock, lambda m: isinstance(m, ModeChanged) and m.mode == Mode.ECLIPSE, 400
            )
            assert eclipse.previous == Mode.NOMINAL, eclipse
