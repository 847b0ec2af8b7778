"""The TC/TM dictionary: layouts pack and unpack, errors name what was expected."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from icd import dictionary as dic
from icd.errors import DecodeError, ErrorCode


def test_hk_report_round_trip_in_declared_units():
    structure = dic.HK_STRUCTURES[2]
    pool = {p.name: 1.5 * i for i, p in enumerate(structure.parameters)}
    sid, values = dic.unpack_hk_report(dic.pack_hk_report(structure, pool))
    assert sid == 2
    assert values == pytest.approx(pool)


def test_hk_report_flags_absent_and_stale_parameters_invalid_in_its_bitmap():
    structure = dic.HK_STRUCTURES[1]  # 20 parameters: a 3-byte bitmap, 4 bits unused
    names = [p.name for p in structure.parameters]
    pool: dict[str, float | None] = {names[0]: 20.0, names[1]: 1, names[9]: None, names[19]: 5}
    report = dic.pack_hk_report(structure, pool)
    assert structure.validity_bytes == -(-len(names) // 8) >= 3
    assert report[2:5] == bytes([0b1100_0000, 0b0000_0000, 0b0001_0000]), report[2:5].hex()
    assert not any(report[5 : 2 + structure.validity_bytes]), "later bits: none set"
    sid, values = dic.unpack_hk_report(report)
    assert sid == 1
    assert values[names[0]] == 20.0 and values[names[1]] == 1 and values[names[19]] == 5
    invalid = [name for name, value in values.items() if value is None]
    assert invalid == [n for i, n in enumerate(names) if i not in (0, 1, 19)], invalid
    # An invalid parameter goes down as 0, never as a stale value.
    assert report[5 + 4 + 1 + 4 * 7 : 5 + 4 + 1 + 4 * 8] == bytes(4)


def test_export_documents_each_structures_validity_layout():
    exported = {h["sid"]: h for h in json.loads(dic.export_json())["housekeeping"]}
    for sid, structure in dic.HK_STRUCTURES.items():
        assert exported[sid]["validity_bytes"] == -(-len(structure.parameters) // 8)
        assert "validity bitmap" in exported[sid]["layout"], exported[sid]["layout"]
    major = int(dic.DICTIONARY_VERSION.split(".")[0])
    assert major >= 3, "the HK validity bitmap (3.0) was a major bump"


def test_hk_report_errors():
    with pytest.raises(DecodeError, match="hk_sid"):
        dic.unpack_hk_report(b"\x03\xe7")
    report = dic.pack_hk_report(dic.HK_STRUCTURES[1], {})
    with pytest.raises(DecodeError, match="hk_report_length"):
        dic.unpack_hk_report(report[:-1])


@given(st.lists(st.integers(0, 0xFFFF), max_size=255))
def test_id_list_round_trip(ids):
    assert dic.unpack_id_list(dic.pack_id_list(ids)) == ids


@given(
    st.dictionaries(
        st.integers(0, 0xFFFF), st.integers(0, 10**6).map(lambda ms: ms / 1000), max_size=20
    )
)
def test_interval_round_trip(intervals):
    assert dic.unpack_intervals(dic.pack_intervals(intervals)) == intervals


@pytest.mark.parametrize("data", [b"", b"\x02\x00\x01", b"\x01\x00\x01\x00"])
def test_id_list_rejects_bad_layouts(data):
    with pytest.raises(DecodeError):
        dic.unpack_id_list(data)


def test_device_function_round_trip_and_errors():
    packed = dic.pack_device_function("pump.L1.B", "set_speed_rpm", {"speed_rpm": 4000})
    assert dic.unpack_device_function(packed) == ("pump.L1.B", "set_speed_rpm", {"speed_rpm": 4000})
    assert dic.unpack_device_function(dic.pack_device_function("pdu", "reset")) == (
        "pdu",
        "reset",
        {},
    )
    for bad in (b"", b"\x05ab", b"\x01a\x00", b"\x01a\x01b[1]", b"\x01a\x01b{"):
        with pytest.raises(DecodeError):
            dic.unpack_device_function(bad)


def test_app_data_checks_cover_every_tc_with_data():
    dic.check_app_data(17, 1, b"")
    with pytest.raises(DecodeError):
        dic.check_app_data(17, 1, b"\x00")
    with pytest.raises(DecodeError):
        dic.check_app_data(3, 31, b"\x01\x00")


def test_event_round_trip():
    assert dic.unpack_event(dic.pack_event(4, "bad datagram")) == (4, "bad datagram")


def test_export_is_versioned_json_with_everything_a_ground_tool_needs():
    exported = json.loads(dic.export_json())
    assert exported["version"] == dic.DICTIONARY_VERSION
    assert exported["link"]["default_udp_port"] == 7301
    assert {s["service"] for s in exported["services"]} >= {1, 3, 5, 17}
    assert {e["code"] for e in exported["error_codes"]} == {int(c) for c in ErrorCode}
    assert all(e["description"] for e in exported["error_codes"])
    assert {h["sid"] for h in exported["housekeeping"]} == set(dic.HK_STRUCTURES)
    for structure in exported["housekeeping"]:
        assert all(p["unit"] for p in structure["parameters"])


# --- service 140: compute jobs --------------------------------------------------------------

_ascii_names = st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=40)
_u32 = st.integers(0, 0xFFFF_FFFF)
_finite = st.floats(allow_nan=False, allow_infinity=False)


@given(
    job_id=st.integers(1, 0xFFFF_FFFF),
    kernel_size=st.sampled_from([("matmul", 64), ("fft", 1024), ("mlp_inference", 7)]),
    seed=_u32,
    iterations=st.integers(1, 0xFFFF_FFFF),
    redundancy=st.sampled_from([1, 2]),
    priority=st.integers(0, 255),
)
def test_submit_job_round_trip(job_id, kernel_size, seed, iterations, redundancy, priority):
    kernel, size = kernel_size
    job = dic.SubmitJob(job_id, kernel, size, seed, iterations, redundancy, priority)
    assert dic.SubmitJob.unpack(job.pack()) == job
    dic.check_app_data(140, 1, job.pack())
    assert job.spec().job_id == str(job_id) and job.spec("7.1.0").size == size


@pytest.mark.parametrize(
    ("job", "field"),
    [
        (dic.SubmitJob(0, "matmul", 8, 1), "job_id"),
        (dic.SubmitJob(1, "matmul", 8, 1, redundancy=3), "redundancy"),
        (dic.SubmitJob(1, "matmul", 8, 1, iterations=0), "iterations"),
        (dic.SubmitJob(1, "warp_drive", 8, 1), "kernel"),
        (dic.SubmitJob(1, "matmul", 100_000, 1), "size"),
        (dic.SubmitJob(1, "fft", 1000, 1), "size"),
    ],
)
def test_submit_job_refuses_out_of_range_values_naming_the_field(job, field):
    with pytest.raises(DecodeError, match=rf"submit_job\.{field}"):
        dic.check_app_data(140, 1, job.pack())


def test_submit_job_refuses_bad_layouts():
    good = dic.SubmitJob(1, "matmul", 8, 1).pack()
    for bad in (b"", good[:-1], good + b"\x00", good[:6] + b"\xff" + good[7:]):
        with pytest.raises(DecodeError):
            dic.SubmitJob.unpack(bad)


def test_job_id_and_no_data_layouts():
    assert dic.unpack_job_id(dic.pack_job_id(0xDEADBEEF)) == 0xDEADBEEF
    dic.check_app_data(140, 2, dic.pack_job_id(3))
    dic.check_app_data(140, 3, b"")
    dic.check_app_data(140, 6, b"")
    for service, subservice, data in ((140, 2, b"\x00"), (140, 3, b"\x01"), (140, 6, b"\x01")):
        with pytest.raises(DecodeError):
            dic.check_app_data(service, subservice, data)


_job_entries = st.builds(
    dic.JobListEntry,
    job_id=_u32,
    state=st.sampled_from(list(dic.JobState)),
    kernel=_ascii_names,
    size=_u32,
    redundancy=st.integers(1, 2),
    priority=st.integers(0, 255),
    retries=st.integers(0, 255),
    slots=st.lists(st.integers(0, 0xFFFF), max_size=4).map(tuple),
)


@given(st.lists(_job_entries, max_size=20))
def test_job_list_round_trip(entries):
    assert dic.unpack_job_list(dic.pack_job_list(entries)) == entries


@given(
    st.builds(
        dic.JobReport,
        job_id=_u32,
        state=st.sampled_from(list(dic.JobState)),
        kernel=_ascii_names,
        digest=st.one_of(st.just(""), st.binary(min_size=32, max_size=32).map(bytes.hex)),
        start_s=_finite,
        end_s=_finite,
        redundancy=st.integers(1, 2),
        retries=st.integers(0, 255),
        slots=st.lists(st.integers(0, 0xFFFF), max_size=4).map(tuple),
        summary=st.dictionaries(_ascii_names, _finite, max_size=5),
        reason=st.text(max_size=60).filter(lambda t: len(t.encode()) <= 255),
    )
)
def test_job_report_round_trip(report):
    if report.digest == "00" * 32:
        return  # all zeros means "no digest" on the wire
    assert dic.JobReport.unpack(report.pack()) == report


def test_job_report_errors_name_the_field():
    packed = dic.JobReport(9, dic.JobState.COMPLETED, "matmul", "ab" * 32).pack()
    with pytest.raises(DecodeError, match=r"job_report\.digest"):
        dic.JobReport.unpack(packed[:20])
    with pytest.raises(DecodeError, match=r"job_report\.state"):
        dic.JobReport.unpack(packed[:4] + b"\x09" + packed[5:])
    with pytest.raises(DecodeError, match="job_report"):
        dic.JobReport.unpack(packed + b"\x00")


@given(
    st.lists(
        st.builds(
            dic.BoardEntry,
            slot=st.integers(0, 0xFFFF),
            board=_ascii_names,
            vendor=st.text(max_size=30).filter(lambda t: len(t.encode()) <= 255),
            state=st.sampled_from(list(dic.BoardState)),
            die_temp_k=st.floats(0, 1000, width=32),
            throttle_level=st.integers(0, 255),
            power_w=st.floats(0, 1e5, width=32),
            job_id=_u32,
        ),
        max_size=20,
    )
)
def test_board_report_round_trip(entries):
    assert dic.unpack_board_report(dic.pack_board_report(entries)) == entries


def test_board_report_refuses_unknown_states_and_truncation():
    packed = dic.pack_board_report([dic.BoardEntry(1, "ref-gpu", "x", dic.BoardState.IDLE)])
    with pytest.raises(DecodeError, match="board_report"):
        dic.unpack_board_report(packed[:-1])
    state_at = 2 + 2 + 8 + 2
    with pytest.raises(DecodeError, match=r"board_report\.state"):
        dic.unpack_board_report(packed[:state_at] + b"\x07" + packed[state_at + 1 :])


def test_service_140_lives_on_the_payload_apid_with_sid_3_and_job_events():
    service = dic.service_def(140)
    assert service is not None and service.apids == (dic.Apid.PAYLOAD,)
    assert dic.tc_subservices(service) == [1, 2, 3, 6, 8, 9, 10, 11]
    assert dic.HK_STRUCTURES[3].name == "payload"
    names = {e.name for e in dic.EVENTS.values()}
    assert {"JOB_COMPLETED", "JOB_FAILED", "RESULT_MISMATCH", "BOARD_HUNG"} <= names
    assert {"BOARD_POWER_CYCLED", "BOARD_LATCHUP", "THROTTLE_CHANGED"} <= names
    assert dic.EVENTS[dic.EventId.JOB_COMPLETED].severity == dic.Severity.INFO
    exported = json.loads(dic.export_json())
    assert exported["job_states"]["verifying"] == 2
    assert dic.BoardState.from_name("throttled") == dic.BoardState.THROTTLED
    assert dic.BoardState.from_name("weird") == dic.BoardState.UNKNOWN


def test_board_commands_140_8_to_11_take_a_u16_slot_and_name_their_events():
    for sub in (8, 9, 10, 11):
        dic.check_app_data(140, sub, dic.pack_slot(513))
        assert dic.unpack_slot(dic.pack_slot(513)) == 513
        for bad in (b"", b"\x01", b"\x00\x01\x02"):
            with pytest.raises(DecodeError, match="slot"):
                dic.check_app_data(140, sub, bad)
    names = {e.id: e.name for e in dic.EVENTS.values()}
    mine = {90, 91, 92, 93, 94, 95, 96, 97}
    assert {names[i] for i in mine} == {
        "COMPUTE_LIMITED",
        "COMPUTE_LIMIT_LIFTED",
        "BOARD_OVERTEMP",
        "SEU_BURST",
        "BOARD_UPSET",
        "BOARD_COMMANDED",
        "BOARD_COMMAND_REFUSED",
        "JOBS_SUSPENDED",
    }, names
    hk = [p.name for p in dic.HK_STRUCTURES[3].parameters]
    assert hk[-2:] == ["payload.power_limit_w", "payload.boards_off_by_limit"], hk
