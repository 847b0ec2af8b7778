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
