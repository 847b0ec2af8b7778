"""The ground decodes every TM the satellite sends into a typed, readable record.

The TM kinds are enumerated from the dictionary (its "TM ..." subservices): a TM added there
without a ground decoder, or without a sample here, fails. The flight software's own TM
calls are read from its source, so a TM it sends that the dictionary lacks fails too.
"""

from __future__ import annotations

import ast
import importlib
import json
from collections import deque
from pathlib import Path

import pytest

from ground.console import render
from ground.station import TM_DECODERS, Ground, Telemetry, decode_tm
from icd import dictionary as dic
from icd import event_action as ea
from icd import monitoring as mon
from icd.cuc import CucTime
from icd.dictionary import Mode
from icd.errors import DecodeError
from icd.modes import ModeReport
from icd.pus import PusTc, PusTm
from runtime.clock import DEFAULT_START_NS

ROOT = Path(__file__).resolve().parents[3]


def _tm_kinds() -> set[tuple[int, int]]:
    return {
        (s.service, sub)
        for s in dic.SERVICES
        for sub, text in s.subservices.items()
        if text.startswith("TM")
    }


PMON = mon.MonitoringDefinition(
    pmon_id=109,
    parameter="radsensor.P04.S1.temp_k",
    check_type=mon.CheckType.LIMIT,
    check=mon.LimitCheck(100.0, 420.0, 82, 82),
    repetition=2,
    validity=mon.Validity("pdu.radsensors_on", 1, 1),
)
EXPECTED = mon.MonitoringDefinition(
    pmon_id=30,
    parameter="battery.cell_faults",
    check_type=mon.CheckType.EXPECTED,
    check=mon.ExpectedCheck(0xFF, 0, 86),
)
TRANSITION = mon.CheckTransition(
    109,
    "radsensor.P04.S1.temp_k",
    mon.CheckType.LIMIT,
    0.0,
    100.0,
    mon.CheckStatus.WITHIN,
    mon.CheckStatus.BELOW_LOW,
    848534603.0,
)
STORED_TC = PusTc(apid=1, service=131, subservice=4, app_data=b"\x10radsensor.P04.S1").pack()
EA = ea.EventActionDefinition(ea_id=7, event_id=82, tc=STORED_TC, match="radsensor.P04.S1")
MODE = ModeReport(Mode.SAFE, Mode.NOMINAL, 848534600.5, 4, "service thermal FAILED")

# One packed source field per TM kind (verification: a request id, + an error code on failure).
SAMPLES: dict[tuple[int, int], bytes] = {
    **{(1, sub): b"\x18\x01\xc0\x05" for sub in (1, 3, 7)},
    **{(1, sub): b"\x18\x01\xc0\x05\x00\x02" for sub in (2, 4, 8)},
    (3, 25): dic.pack_hk_report(
        dic.HK_STRUCTURES[1], {p.name: 1.0 for p in dic.HK_STRUCTURES[1].parameters}
    ),
    **{(5, sub): dic.pack_event(dic.EventId.BOOT, "boot 1") for sub in (1, 2, 3, 4)},
    (12, 9): mon.DefinitionReport.pack_all(
        True,
        [
            mon.DefinitionReport(PMON, True, mon.CheckStatus.BELOW_LOW),
            mon.DefinitionReport(EXPECTED, False, mon.CheckStatus.UNCHECKED),
        ],
    ),
    (12, 12): mon.CheckTransition.pack_all([TRANSITION]),
    (17, 2): b"",
    (19, 11): ea.EventActionReport.pack_all(False, [ea.EventActionReport(EA, True, 3)]),
    (130, 3): MODE.pack(),
    (140, 4): dic.pack_job_list([dic.JobListEntry(5, dic.JobState.RUNNING, "matmul", 64)]),
    (140, 5): dic.JobReport(5, dic.JobState.COMPLETED, "matmul", "ab" * 32).pack(),
    (140, 7): dic.pack_board_report(
        [dic.BoardEntry(1, "ref-gpu", "computesat", dic.BoardState.IDLE, 330.0)]
    ),
}


def _packet(kind: tuple[int, int], data: bytes) -> bytes:
    apid = dic.Apid.PAYLOAD if kind[0] == 140 else dic.Apid.PLATFORM
    return PusTm(
        apid=apid,
        service=kind[0],
        subservice=kind[1],
        time=CucTime.from_ns(DEFAULT_START_NS),
        source_data=data,
    ).pack()


def test_every_tm_kind_of_the_dictionary_has_a_ground_decoder_and_a_sample() -> None:
    kinds = _tm_kinds()
    assert kinds - set(TM_DECODERS) == set(), "TM kinds the ground leaves raw"
    assert set(TM_DECODERS) - kinds == set(), "decoders of kinds the dictionary does not have"
    assert set(SAMPLES) == kinds, "give every TM kind a sample here"


def _tm_calls() -> list[tuple[str, int, ast.Call]]:
    """Every call that makes a TM in the flight software: ctx.tm(apid, service, subservice,
    ...), publish_tm_at(...) and the link's downlink.packet(...)."""
    out = []
    for path in sorted((ROOT / "flightsw").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("tm", "publish_tm_at", "packet")
                and len(node.args) >= 3
            ):
                out.append((str(path.relative_to(ROOT)), node.lineno, node))
    return out


# Calls whose kind is computed, read and checked by hand (file, "service, subservice" as
# written): events (5, severity 1..4), verification (1, stage) and the link's downlink of
# every service's TmRequest (the calls that make those are scanned themselves).
DYNAMIC = {
    ("flightsw/services/events.py", "5, int(severity)"): {(5, s) for s in (1, 2, 3, 4)},
    ("flightsw/services/link.py", "1, subservice"): {(1, s) for s in (1, 2, 3, 4, 7, 8)},
    ("flightsw/services/link.py", "request.service, request.subservice"): set(),
}


def test_the_flight_software_sends_only_tm_the_dictionary_has() -> None:
    kinds = _tm_kinds()
    seen: set[tuple[int, int]] = set()
    calls = _tm_calls()
    assert len(calls) >= 10, "the scan finds the flight software's TM calls"
    for path, line, call in calls:
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))

        def value(node: ast.expr, module: object = module) -> int | None:
            if isinstance(node, ast.Constant) and isinstance(node.value, int):
                return node.value
            if isinstance(node, ast.Name) and isinstance(getattr(module, node.id, None), int):
                return int(getattr(module, node.id))
            return None

        service, subservice = value(call.args[1]), value(call.args[2])
        if service is not None and subservice is not None:
            assert (service, subservice) in kinds, f"{path}:{line} sends TM({service},{subservice})"
            seen.add((service, subservice))
        else:
            key = (path, f"{ast.unparse(call.args[1])}, {ast.unparse(call.args[2])}")
            assert key in DYNAMIC, f"{path}:{line}: a TM kind computed at run time; review it"
            seen |= DYNAMIC[key]
    assert kinds - seen == set(), "dictionary TM kinds no flight software call sends"


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_every_tm_kind_decodes_to_a_readable_record(kind: tuple[int, int]) -> None:
    tm = decode_tm(_packet(kind, SAMPLES[kind]), 0.0)
    head = f"TM({kind[0]},{kind[1]}) apid {tm.apid} t={tm.time_s:.3f}"
    assert tm.summary().startswith(head) and len(tm.summary()) > len(head) + 5, tm.summary()
    envelope = {"apid", "service", "subservice", "time_s", "seq", "parameters", "alive"}
    record = {k for k, v in tm.as_json().items() if v is not None and k not in envelope}
    assert record or tm.alive, f"only the packet's envelope: {tm.as_json()}"
    json.dumps(tm.as_json(), allow_nan=False)


def test_mode_report_is_a_typed_record() -> None:
    tm = decode_tm(_packet((130, 3), MODE.pack()), 0.0)
    assert tm.mode_report == MODE
    assert "mode SAFE (from NOMINAL" in tm.summary() and "service thermal FAILED" in tm.summary()
    assert tm.as_json()["mode_report"]["mode"] == "SAFE"


def test_monitoring_definition_report_is_typed_and_names_checks_and_events() -> None:
    tm = decode_tm(_packet((12, 9), SAMPLES[(12, 9)]), 0.0)
    assert tm.monitoring is not None and tm.monitoring.function_enabled
    assert [d.definition for d in tm.monitoring.definitions] == [PMON, EXPECTED]
    assert [d.definition.pmon_id for d in tm.monitoring.violated()] == [109]
    assert "2 definitions (1 disabled, 1 violated: PMON 109" in tm.summary(), tm.summary()
    first, second = tm.as_json()["monitoring"]["definitions"]
    assert first["check"] == {
        "low": 100.0,
        "low_event": "SENSOR_OUT_OF_RANGE",
        "high": 420.0,
        "high_event": "SENSOR_OUT_OF_RANGE",
    }
    assert first["status"] == "below_low" and first["validity"]["parameter"] == "pdu.radsensors_on"
    assert second["check"]["event"] == "BATTERY_CELL_LOST" and not second["enabled"]


def test_check_transitions_are_typed_and_readable() -> None:
    none = TRANSITION.__class__(**{**vars(TRANSITION), "value": None, "limit": None})
    tm = decode_tm(_packet((12, 12), mon.CheckTransition.pack_all([TRANSITION, none])), 0.0)
    assert tm.transitions == [TRANSITION, none]
    assert (
        "PMON 109 radsensor.P04.S1.temp_k within -> below_low (value 0 limit 100)" in tm.summary()
    )
    rows = tm.as_json()["transitions"]
    assert rows[0]["current"] == "below_low" and rows[1]["value"] is None  # NaN: no value
    json.dumps(tm.as_json(), allow_nan=False)


def test_event_action_report_is_typed_and_shows_the_stored_telecommand() -> None:
    tm = decode_tm(_packet((19, 11), SAMPLES[(19, 11)]), 0.0)
    assert tm.event_actions is not None and not tm.event_actions.function_enabled
    (entry,) = tm.event_actions.definitions
    assert entry.definition == EA and entry.firings == 3
    assert "function DISABLED, 1 definitions (0 disabled, 1 fired)" in tm.summary()
    (row,) = tm.as_json()["event_actions"]["definitions"]
    assert row["event"] == "SENSOR_OUT_OF_RANGE" and row["match"] == "radsensor.P04.S1"
    assert row["tc"].startswith("TC(131,4) apid 1") and row["tc_hex"] == STORED_TC.hex()


def test_a_report_with_a_value_out_of_range_is_a_decode_error() -> None:
    bad = bytearray(SAMPLES[(12, 12)])
    status_at = 1 + 2 + 1 + len(TRANSITION.parameter) + 1 + 8 + 8  # previous status u8
    bad[status_at] = 99
    with pytest.raises(DecodeError):
        decode_tm(_packet((12, 12), bytes(bad)), 0.0)


def test_the_console_shows_check_transitions_decoded() -> None:
    ground = Ground("127.0.0.1", 9)
    events: deque[Telemetry] = deque(
        [decode_tm(_packet((12, 12), SAMPLES[(12, 12)]), 0.0)], maxlen=8
    )
    screen = render(ground, events, "ping ok")
    assert "check transitions: 1: PMON 109 radsensor.P04.S1.temp_k within -> below_low" in screen


@pytest.mark.timeout(60)
async def test_the_reports_of_a_live_satellite_come_back_typed(ground: Ground) -> None:
    mode = await ground.report_mode()
    assert isinstance(mode.mode, Mode) and mode.transitions >= 1, mode
    pmons = await ground.monitoring_definitions()
    assert pmons.function_enabled and len(pmons.definitions) > 10, pmons.describe()
    one = await ground.monitoring_definitions(pmons.definitions[0].definition.pmon_id)
    assert [d.definition for d in one.definitions] == [pmons.definitions[0].definition]
    actions = await ground.event_actions()
    assert actions.definitions, actions.describe()
    assert all(d.definition.telecommand().service for d in actions.definitions)
