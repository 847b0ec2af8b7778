"""PUS 12 / 19 codecs (icd.monitoring, icd.event_action): round trips, decode errors that name
the field, and the meaning checks made at acceptance with their documented codes."""

from __future__ import annotations

import pytest

from icd import dictionary as dic
from icd import event_action as ea
from icd import monitoring as mon
from icd.dictionary import EventId
from icd.errors import DecodeError, ErrorCode, RefusedError
from icd.monitoring import CheckType, ExpectedCheck, LimitCheck, MonitoringDefinition, Validity
from icd.pus import PusTc


def _limit(
    pmon_id: int = 7, parameter: str = "loop.L1.supply_temp_k", **kw
) -> MonitoringDefinition:
    check = LimitCheck(
        kw.pop("low", 200.0),
        kw.pop("high", 300.0),
        EventId.PARAMETER_BELOW_LOW,
        EventId.PARAMETER_ABOVE_HIGH,
    )
    return MonitoringDefinition(pmon_id, parameter, CheckType.LIMIT, check, **kw)


def _stored(service: int = 8, subservice: int = 1, data: bytes | None = None) -> bytes:
    if data is None:
        data = dic.pack_device_function("pump.L1.B", "start")
    return PusTc(apid=1, service=service, subservice=subservice, app_data=data).pack()


def test_definitions_of_every_check_type_round_trip():
    definitions = [
        _limit(1, validity=Validity("pdu.pump_L1_A_on", 0x1, 1), repetition=4),
        MonitoringDefinition(
            2, "battery.cell_faults", CheckType.EXPECTED, ExpectedCheck(0xFF, 0, 86)
        ),
        MonitoringDefinition(
            3, "radsensor.P03.S2.temp_k", CheckType.DELTA, LimitCheck(-4.0, 4.0, 83, 83), 2
        ),
    ]
    assert mon.unpack_definitions(mon.pack_definitions(definitions)) == definitions
    entries = [mon.DefinitionReport(d, True, mon.CheckStatus.WITHIN) for d in definitions]
    assert mon.DefinitionReport.unpack_all(mon.DefinitionReport.pack_all(False, entries)) == (
        False,
        entries,
    )
    stored = ea.EventActionDefinition(5, EventId.PARAMETER_ABOVE_HIGH, _stored(), "PMON 7 ")
    assert ea.unpack_definitions(ea.pack_definitions([stored])) == [stored]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b"", "pmon.count"),
        (b"\x00", "pmon.count"),
        (mon.pack_definitions([_limit()])[:-1], "pmon.high_event"),
        (mon.pack_definitions([_limit()]) + b"\x00", "pmon"),
        (b"\x01\x00\x00", "pmon.pmon_id"),
        (
            mon.pack_definitions([_limit()]).replace(b"\x00\x01\x01@i", b"\x00\x01\x09@i", 1),
            "pmon.check_type",
        ),
    ],
)
def test_a_definition_that_does_not_decode_names_its_field(data: bytes, field: str):
    with pytest.raises(DecodeError) as refused:
        dic.check_app_data(12, 5, data)
    assert refused.value.reason == field, (refused.value.reason, field, str(refused.value))


@pytest.mark.parametrize(
    ("definition", "code"),
    [
        (_limit(parameter="loop.L9.nonsense_k"), ErrorCode.FDIR_UNKNOWN_PARAMETER),
        (_limit(parameter="pump.L1.A.state"), ErrorCode.FDIR_UNKNOWN_PARAMETER),  # enum
        (_limit(validity=Validity("no.such", 1, 1)), ErrorCode.FDIR_UNKNOWN_PARAMETER),
        (_limit(low=300.0, high=300.0), ErrorCode.FDIR_BAD_DEFINITION),
        (_limit(low=310.0, high=300.0), ErrorCode.FDIR_BAD_DEFINITION),
        (_limit(repetition=0), ErrorCode.FDIR_BAD_DEFINITION),
        (
            MonitoringDefinition(1, "battery.soc", CheckType.LIMIT, LimitCheck(0.1, 0.9, 4321, 0)),
            ErrorCode.FDIR_UNKNOWN_EVENT,
        ),
    ],
)
def test_an_impossible_definition_is_refused_with_its_code(definition, code):
    with pytest.raises(RefusedError) as refused:
        dic.check_app_data(12, 5, mon.pack_definitions([definition]))
    assert refused.value.code == code, (refused.value.code, code, str(refused.value))


def test_the_same_id_twice_in_one_request_is_refused():
    with pytest.raises(RefusedError) as refused:
        dic.check_app_data(12, 5, mon.pack_definitions([_limit(3), _limit(3)]))
    assert refused.value.code == ErrorCode.FDIR_ID_IN_USE


def test_parameters_known_to_the_pool_are_accepted():
    for name in (
        "loop.L1.supply_temp_k",
        "pump.L2.B.motor_current_a",
        "radsensor.P08.S3.temp_k",
        "pdu.pump_L1_A_tripped",
        "pdu.slot_017_on",
        "slot.042.die_temp_k",
        "wing.W2.mppt_enabled",
        "payload.mismatches",
        "supervisor.restarts",
    ):
        assert dic.known_parameter(name), name
    for name in ("pump.L1.C.speed_rpm", "pdu.pump_L1_A_trip_reason", "radsensor.P1.S1.temp_k"):
        assert not dic.known_parameter(name), name


@pytest.mark.parametrize(
    ("stored", "event", "code"),
    [
        (_stored(), 4321, ErrorCode.FDIR_UNKNOWN_EVENT),
        (b"\x18\x01\xc0\x00\x00", EventId.BOOT, ErrorCode.FDIR_BAD_STORED_TC),  # truncated
        (_stored()[:-1] + b"\x00", EventId.BOOT, ErrorCode.FDIR_BAD_STORED_TC),  # CRC
        (_stored(service=200), EventId.BOOT, ErrorCode.FDIR_BAD_STORED_TC),  # no such service
        (_stored(data=b"\x05pump"), EventId.BOOT, ErrorCode.FDIR_BAD_STORED_TC),  # bad 8,1 data
        (_stored(17, 2, b""), EventId.BOOT, ErrorCode.FDIR_BAD_STORED_TC),  # a TM subservice
    ],
)
def test_an_event_action_that_cannot_fly_is_refused_with_its_code(stored, event, code):
    data = ea.pack_definitions([ea.EventActionDefinition(1, event, stored)])
    with pytest.raises(RefusedError) as refused:
        dic.check_app_data(19, 1, data)
    assert refused.value.code == code, (refused.value.code, code, str(refused.value))


def test_ids_are_checked_against_the_tables_in_force():
    in_force = frozenset({1, 2})
    mon.check_ids_in_use(5, mon.pack_definitions([_limit(3)]), in_force)
    mon.check_ids_in_use(1, mon.pack_ids([1, 2]), in_force)
    mon.check_ids_in_use(8, mon.pack_ids([]), in_force)
    for sub, data, code in (
        (5, mon.pack_definitions([_limit(2)]), ErrorCode.FDIR_ID_IN_USE),
        (7, mon.pack_definitions([_limit(3)]), ErrorCode.FDIR_UNKNOWN_ID),
        (6, mon.pack_ids([1, 9]), ErrorCode.FDIR_UNKNOWN_ID),
        (2, mon.pack_ids([9]), ErrorCode.FDIR_UNKNOWN_ID),
    ):
        with pytest.raises(RefusedError) as refused:
            mon.check_ids_in_use(sub, data, in_force)
        assert refused.value.code == code, (sub, refused.value.code, code)
    definition = ea.EventActionDefinition(2, EventId.BOOT, _stored())
    with pytest.raises(RefusedError) as refused:
        ea.check_ids_in_use(1, ea.pack_definitions([definition]), in_force)
    assert refused.value.code == ErrorCode.FDIR_ID_IN_USE
    with pytest.raises(RefusedError) as refused:
        ea.check_ids_in_use(4, ea.pack_ids([7]), in_force)
    assert refused.value.code == ErrorCode.FDIR_UNKNOWN_ID


def test_services_12_and_19_are_in_the_exported_dictionary():
    services = {s.service: s for s in dic.SERVICES}
    assert {1, 2, 5, 6, 7, 8, 15, 16} <= set(dic.tc_subservices(services[12]))
    assert {1, 2, 4, 5, 8, 9, 10} <= set(dic.tc_subservices(services[19]))
    assert 7 in dic.HK_STRUCTURES and dic.HK_STRUCTURES[7].name == "fdir"
    assert all(
        70 <= e <= 89
        for e in dic.EVENTS
        if dic.EVENTS[e].name.startswith(("PARAMETER_", "FDIR_", "EVENT_ACTION"))
    )
    assert '"FDIR_BAD_STORED_TC"' in dic.export_json()
