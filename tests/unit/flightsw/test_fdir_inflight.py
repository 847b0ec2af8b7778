"""FDIR in flight, through the RF link (in-process satellite on the stepped clock): a
monitoring definition (12,5) and an event-action (19,1, 19,4) added from the ground fire on a
real parameter and send a stored 8,1 that the device port executes; every bad definition is
refused at acceptance (1,2) with its code and the tables unchanged; enable/disable;
transition reports; escalation."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from _inprocess import InProcessSatellite, in_process_satellite

from flightsw.app import FlightSettings, services
from flightsw.services import event_action, monitoring
from ground.station import Ground, Telemetry
from icd import dictionary as dic
from icd import event_action as ea
from icd import monitoring as mon
from icd.dictionary import EventId
from icd.errors import ErrorCode
from icd.monitoring import CheckStatus, CheckType, LimitCheck, MonitoringDefinition
from icd.pus import PusTc
from runtime.ports import DevicePort
from runtime.service import ServiceSpec

pytestmark = pytest.mark.timeout(120)

PERIOD_S = monitoring.Config().period_s
WAIT_S = 30.0
LOW, HIGH = EventId.PARAMETER_BELOW_LOW, EventId.PARAMETER_ABOVE_HIGH


def _specs(default_tables: bool, max_firings: int = 3) -> list[ServiceSpec]:
    out = []
    for spec in services(FlightSettings(port=0)):
        if spec.name == "monitoring":
            spec = ServiceSpec(
                "monitoring", monitoring.run, monitoring.Config(default_tables=default_tables)
            )
        elif spec.name == "event_action":
            spec = ServiceSpec(
                "event_action",
                event_action.run,
                event_action.Config(default_tables=default_tables, max_firings=max_firings),
            )
        out.append(spec)
    return out


@pytest.fixture
async def sat() -> AsyncIterator[InProcessSatellite]:
    async with in_process_satellite(_specs(default_tables=False)) as satellite:
        yield satellite


@pytest.fixture
async def ground(sat: InProcessSatellite) -> AsyncIterator[Ground]:
    async with Ground("127.0.0.1", sat.udp_port, clock=sat.clock) as station:
        await station.ping()
        yield station


def _supply_temp_monitor(pmon_id: int, high_k: float, repetition: int) -> MonitoringDefinition:
    return MonitoringDefinition(
        pmon_id,
        "loop.L1.supply_temp_k",
        CheckType.LIMIT,
        LimitCheck(100.0, high_k, LOW, HIGH),
        repetition,
    )


def _stored(service: int, subservice: int, data: bytes) -> bytes:
    return PusTc(apid=1, service=service, subservice=subservice, app_data=data).pack()


async def _pmon_report(ground: Ground) -> tuple[bool, list[mon.DefinitionReport]]:
    result = await ground.command(12, 8, mon.pack_ids([]), reply=(12, 9), timeout=WAIT_S)
    assert result.ok, result.describe()
    return mon.DefinitionReport.unpack_all(result.replies[0].packet.source_data)


async def _ea_report(ground: Ground) -> tuple[bool, list[ea.EventActionReport]]:
    result = await ground.command(19, 10, ea.pack_ids([]), reply=(19, 11), timeout=WAIT_S)
    assert result.ok, result.describe()
    return ea.EventActionReport.unpack_all(result.replies[0].packet.source_data)


def _transitions(tm: Telemetry) -> list[mon.CheckTransition]:
    return mon.CheckTransition.unpack_all(tm.packet.source_data) if tm.kind == (12, 12) else []


async def test_a_monitor_added_in_flight_fires_its_event_action_on_the_device_port(
    sat: InProcessSatellite, ground: Ground
):
    async with DevicePort(sat.context, sat.device_endpoint, sat.clock) as port:
        assert (await port.read("pump.L1.B"))["state"] == "off"
        start_b = _stored(8, 1, dic.pack_device_function("pump.L1.B", "start"))
        action = ea.EventActionDefinition(901, HIGH, start_b, match="PMON 900 ")
        added = await ground.command(19, 1, ea.pack_definitions([action]), timeout=WAIT_S)
        assert added.ok, added.describe()
        enabled = await ground.command(19, 4, ea.pack_ids([901]), timeout=WAIT_S)
        assert enabled.ok, enabled.describe()

        fired = ground.expect(lambda tm: tm.event_id == HIGH and "PMON 900 " in tm.message)
        triggered = ground.expect(
            lambda tm: tm.event_id == EventId.EVENT_ACTION_TRIGGERED and "EA 901" in tm.message
        )
        transition = ground.expect(lambda tm: any(t.pmon_id == 900 for t in _transitions(tm)))
        # The supply runs near 254 K: a 200 K ceiling trips, after 3 samples in a row.
        t0 = ground.clock.now_s()
        result = await ground.command(
            12, 5, mon.pack_definitions([_supply_temp_monitor(900, 200.0, 3)]), timeout=WAIT_S
        )
        assert result.ok, result.describe()
        report = await ground.clock.wait_for(transition, WAIT_S)
        (first,) = [t for t in _transitions(report) if t.pmon_id == 900]
        assert (first.previous, first.current) == (CheckStatus.UNCHECKED, CheckStatus.ABOVE_HIGH)
        assert first.value is not None and first.value > 200.0 and first.limit == 200.0, first
        event = await ground.clock.wait_for(fired, WAIT_S)
        assert event.time_s - t0 >= 2 * PERIOD_S, (
            f"event {event.time_s - t0:.2f} s after the definition: persistence 3 needs 3 "
            "samples one period apart"
        )
        assert "loop.L1.supply_temp_k above high 200" in event.message, event.message
        why = await ground.clock.wait_for(triggered, WAIT_S)
        assert "TC(8,1)" in why.message and "pump.L1.B start" in why.message, why.message
        deadline = ground.clock.now_s() + WAIT_S
        while (await port.read("pump.L1.B"))["state"] != "running":
            assert ground.clock.now_s() < deadline, "pump.L1.B not started by the event-action"
            await sat.clock.sleep(0.5)
    _, actions = await _ea_report(ground)
    assert [(a.definition.ea_id, a.enabled, a.firings) for a in actions] == [(901, True, 1)]
    hk = await ground.wait_for(lambda tm: tm.sid == 7, timeout=WAIT_S)
    assert hk.value("event_action.firings") == 1 and hk.value("monitoring.violated") == 1, (
        hk.parameters
    )


async def test_no_event_before_the_repetition_number_and_none_while_disabled(
    sat: InProcessSatellite, ground: Ground
):
    fired = ground.expect(lambda tm: tm.event_id == HIGH and "PMON 5 " in tm.message)
    t0 = ground.clock.now_s()
    result = await ground.command(
        12, 5, mon.pack_definitions([_supply_temp_monitor(5, 200.0, 6)]), timeout=WAIT_S
    )
    assert result.ok, result.describe()
    event = await ground.clock.wait_for(fired, WAIT_S)
    assert event.time_s - t0 >= 5 * PERIOD_S, f"fired after {event.time_s - t0:.2f} s"
    # Disable: back to UNCHECKED (a transition report), and nothing while disabled.
    unchecked = ground.expect(
        lambda tm: any(
            t.pmon_id == 5 and t.current is CheckStatus.UNCHECKED for t in _transitions(tm)
        )
    )
    disabled = await ground.command(12, 2, mon.pack_ids([5]), timeout=WAIT_S)
    assert disabled.ok, disabled.describe()
    await ground.clock.wait_for(unchecked, WAIT_S)
    await ground.expect_none(lambda tm: tm.event_id == HIGH, within=10 * PERIOD_S)
    _, entries = await _pmon_report(ground)
    assert [(e.definition.pmon_id, e.enabled, e.status) for e in entries] == [
        (5, False, CheckStatus.UNCHECKED)
    ]
    # Enabled again it fires again; with the function disabled it cannot.
    again = ground.expect(lambda tm: tm.event_id == HIGH and "PMON 5 " in tm.message)
    assert (await ground.command(12, 1, mon.pack_ids([5]), timeout=WAIT_S)).ok
    await ground.clock.wait_for(again, WAIT_S)
    assert (await ground.command(12, 16, timeout=WAIT_S)).ok
    assert (
        await ground.command(
            12, 7, mon.pack_definitions([_supply_temp_monitor(5, 201.0, 1)]), timeout=WAIT_S
        )
    ).ok
    await ground.expect_none(lambda tm: tm.event_id == HIGH, within=10 * PERIOD_S)
    function_enabled, entries = await _pmon_report(ground)
    assert not function_enabled and entries[0].definition.check == LimitCheck(
        100.0, 201.0, LOW, HIGH
    )


async def test_a_parameter_without_a_valid_value_is_never_checked(
    sat: InProcessSatellite, ground: Ground
):
    # A compute slot's register is real, but the devices service does not poll slots (the
    # payload manager reads the backplane): never in the pool. Limits any real temperature
    # would violate.
    parameter = "slot.001.die_temp_k"
    definition = MonitoringDefinition(
        11, parameter, CheckType.LIMIT, LimitCheck(0.0, 1.0, LOW, HIGH), 1
    )
    assert (await ground.command(12, 5, mon.pack_definitions([definition]), timeout=WAIT_S)).ok
    await ground.expect_none(
        lambda tm: (tm.event_id in (LOW, HIGH)) or any(t.pmon_id == 11 for t in _transitions(tm)),
        within=10 * PERIOD_S,
    )
    _, entries = await _pmon_report(ground)
    assert [(e.definition.pmon_id, e.status) for e in entries] == [(11, CheckStatus.UNCHECKED)]


async def test_every_bad_definition_is_refused_at_acceptance_and_the_tables_stay(
    sat: InProcessSatellite, ground: Ground
):
    good = _supply_temp_monitor(1, 400.0, 2)
    ping = _stored(17, 1, b"")
    assert (await ground.command(12, 5, mon.pack_definitions([good]), timeout=WAIT_S)).ok
    action = ea.EventActionDefinition(1, EventId.BOOT, ping)
    assert (await ground.command(19, 1, ea.pack_definitions([action]), timeout=WAIT_S)).ok
    # The link learns the ids in force from the services' announcements.
    await ground.clock.sleep(PERIOD_S)
    pmons_before, actions_before = await _pmon_report(ground), await _ea_report(ground)

    def limit(
        pmon_id: int = 2,
        parameter: str = "loop.L1.supply_temp_k",
        low=100.0,
        high=400.0,
        rep=1,
        events=(LOW, HIGH),
    ):
        return mon.pack_definitions(
            [
                MonitoringDefinition(
                    pmon_id, parameter, CheckType.LIMIT, LimitCheck(low, high, *events), rep
                )
            ]
        )

    def action_data(ea_id: int = 2, event: int = EventId.BOOT, stored: bytes = ping) -> bytes:
        return ea.pack_definitions([ea.EventActionDefinition(ea_id, event, stored)])

    cases = [
        (
            "unknown parameter",
            12,
            5,
            limit(parameter="loop.L7.flux_capacitor"),
            ErrorCode.FDIR_UNKNOWN_PARAMETER,
        ),
        ("low = high", 12, 5, limit(low=300.0, high=300.0), ErrorCode.FDIR_BAD_DEFINITION),
        ("low > high", 12, 5, limit(low=310.0, high=300.0), ErrorCode.FDIR_BAD_DEFINITION),
        ("repetition 0", 12, 5, limit(rep=0), ErrorCode.FDIR_BAD_DEFINITION),
        ("unknown event", 12, 5, limit(events=(LOW, 4321)), ErrorCode.FDIR_UNKNOWN_EVENT),
        ("duplicate PMON id", 12, 5, limit(pmon_id=1), ErrorCode.FDIR_ID_IN_USE),
        ("modify unknown PMON", 12, 7, limit(pmon_id=77), ErrorCode.FDIR_UNKNOWN_ID),
        ("delete unknown PMON", 12, 6, mon.pack_ids([1, 77]), ErrorCode.FDIR_UNKNOWN_ID),
        ("enable unknown PMON", 12, 1, mon.pack_ids([77]), ErrorCode.FDIR_UNKNOWN_ID),
        ("undecodable PMON", 12, 5, limit()[:-3], ErrorCode.INVALID_APP_DATA),
        ("EA unknown event", 19, 1, action_data(event=4321), ErrorCode.FDIR_UNKNOWN_EVENT),
        ("EA duplicate id", 19, 1, action_data(ea_id=1), ErrorCode.FDIR_ID_IN_USE),
        ("EA unknown id", 19, 4, ea.pack_ids([77]), ErrorCode.FDIR_UNKNOWN_ID),
        ("EA TC not a TC", 19, 1, action_data(stored=b"\x00" * 12), ErrorCode.FDIR_BAD_STORED_TC),
        (
            "EA TC unknown service",
            19,
            1,
            action_data(stored=_stored(200, 1, b"")),
            ErrorCode.FDIR_BAD_STORED_TC,
        ),
        (
            "EA TC bad app data",
            19,
            1,
            action_data(stored=_stored(8, 1, b"\x09pump")),
            ErrorCode.FDIR_BAD_STORED_TC,
        ),
    ]
    for what, service, subservice, data, code in cases:
        reason = ground.expect(
            lambda tm, code=code: tm.event_id == EventId.TC_REJECTED and code.name in tm.message
        )
        result = await ground.command(service, subservice, data, timeout=WAIT_S)
        assert result.failure is not None and result.failure.subservice == 2, (
            what,
            result.describe(),
        )
        assert result.error_code == code, f"{what}: {result.describe()}, expected {code.name}"
        event = await ground.clock.wait_for(reason, WAIT_S)
        assert "expected" in event.message and "got" in event.message, (what, event.message)
    pmons_after, actions_after = await _pmon_report(ground), await _ea_report(ground)
    assert [(e.definition, e.enabled) for e in pmons_after[1]] == [
        (e.definition, e.enabled) for e in pmons_before[1]
    ], "monitoring table changed"
    assert actions_after == actions_before, "event-action table changed"
    hk = await ground.hk(1, timeout=WAIT_S)
    assert hk["supervisor.restarts"] == 0, "a bad definition crashed a service"


async def test_a_definition_firing_past_its_budget_escalates():
    async with (
        in_process_satellite(_specs(default_tables=False, max_firings=2)) as sat,
        Ground("127.0.0.1", sat.udp_port, clock=sat.clock) as ground,
    ):
        await ground.ping()
        # Every refused TC raises TC_REJECTED: an event the ground can raise at will.
        action = ea.EventActionDefinition(3, EventId.TC_REJECTED, _stored(17, 1, b""))
        assert (await ground.command(19, 1, ea.pack_definitions([action]), timeout=WAIT_S)).ok
        assert (await ground.command(19, 4, ea.pack_ids([3]), timeout=WAIT_S)).ok
        escalated = ground.expect(lambda tm: tm.event_id == EventId.FDIR_ESCALATED)
        for _ in range(3):
            refused = await ground.command(12, 6, mon.pack_ids([99]), timeout=WAIT_S)
            assert refused.error_code in (ErrorCode.FDIR_UNKNOWN_ID,), refused.describe()
        event = await ground.clock.wait_for(escalated, WAIT_S)
        assert "EA 3" in event.message and "3 times" in event.message, event.message
        _, actions = await _ea_report(ground)
        assert actions[0].firings == 3, actions


async def test_a_stored_tc_that_fails_is_an_event_and_an_escalation(
    sat: InProcessSatellite, ground: Ground
):
    too_fast = dic.pack_device_function("pump.L1.B", "set_speed_rpm", {"speed_rpm": 50_000})
    action = ea.EventActionDefinition(4, EventId.TC_REJECTED, _stored(8, 1, too_fast))
    assert (await ground.command(19, 1, ea.pack_definitions([action]), timeout=WAIT_S)).ok
    assert (await ground.command(19, 4, ea.pack_ids([4]), timeout=WAIT_S)).ok
    failed = ground.expect(lambda tm: tm.event_id == EventId.EVENT_ACTION_FAILED)
    refused = await ground.command(12, 6, mon.pack_ids([99]), timeout=WAIT_S)
    assert refused.error_code == ErrorCode.FDIR_UNKNOWN_ID, refused.describe()
    event = await ground.clock.wait_for(failed, WAIT_S)
    assert "EA 4" in event.message and "DEVICE_ERROR" in event.message, event.message
    assert "pump.L1.B set_speed_rpm" in event.message, event.message
    hk = await ground.wait_for(lambda tm: tm.sid == 7, timeout=WAIT_S)
    assert hk.value("event_action.escalations") == 1, hk.parameters


async def test_two_adds_of_one_id_at_once_leave_exactly_one_definition(
    sat: InProcessSatellite, ground: Ground
):
    """The second add may pass the link before the service announced the first id: the
    service itself refuses it when it starts (1,4), with the same code; one is in force."""
    first = mon.pack_definitions([_supply_temp_monitor(8, 400.0, 1)])
    second = mon.pack_definitions([_supply_temp_monitor(8, 300.0, 2)])
    results = await asyncio.gather(
        ground.command(12, 5, first, timeout=WAIT_S),
        ground.command(12, 5, second, timeout=WAIT_S),
    )
    assert results[0].ok, results[0].describe()
    refused = results[1]
    assert refused.failure is not None and refused.failure.subservice in (2, 4), refused.describe()
    assert refused.error_code == ErrorCode.FDIR_ID_IN_USE, refused.describe()
    _, entries = await _pmon_report(ground)
    assert [(e.definition.pmon_id, e.definition.repetition) for e in entries] == [(8, 1)], entries
