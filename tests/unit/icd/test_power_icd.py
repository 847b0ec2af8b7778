"""PUS 132 codecs (icd.power) and their registration in the dictionary."""

from __future__ import annotations

import json

import pytest

from icd import dictionary as dic
from icd.errors import ERROR_CODE_DESCRIPTIONS, DecodeError, ErrorCode
from icd.power import BatteryLimit, PowerEvent, SwitchRequest, WingRequest


def test_round_trips():
    assert SwitchRequest.unpack(SwitchRequest("slot_017").pack()) == SwitchRequest("slot_017")
    assert SwitchRequest("pump_L1_B").pack() == b"\x09pump_L1_B"
    assert WingRequest.unpack(WingRequest("W2", False).pack()) == WingRequest("W2", False)
    assert WingRequest("W1", True).pack() == b"\x02W1\x01"
    assert BatteryLimit.unpack(b"\x1e") == BatteryLimit(30)


@pytest.mark.parametrize(
    ("sub", "data"),
    [
        (1, b""),
        (1, b"\x00"),
        (1, b"\x05ab"),  # shorter than its length
        (1, b"\x02ab!"),  # trailing byte
        (1, b"\x02a b"[:3] + b"\xff"),  # not ASCII
        (2, b"\x03a;b"),  # not a name
        (3, b"\x02W1"),  # no enabled byte
        (3, b"\x02W1\x02"),  # enabled not 0/1
        (4, b"\x02W1\x01\x00"),
        (5, b""),
        (5, b"\x04"),
        (5, b"\x5b"),
        (5, b"\x1e\x00"),
        (6, b"\x41" + b"a" * 65),  # longer than 64
    ],
)
def test_bad_application_data_is_refused_at_acceptance(sub, data):
    with pytest.raises(DecodeError):
        dic.check_app_data(132, sub, data)


def test_service_events_hk_and_codes_are_in_the_dictionary():
    service = dic.service_def(132)
    assert service is not None and dic.tc_subservices(service) == [1, 2, 3, 4, 5, 6]
    assert all(55 <= int(e) <= 69 for e in PowerEvent if e != PowerEvent.POWER_COMMAND_REFUSED)
    assert PowerEvent.POWER_COMMAND_REFUSED == 32
    for event in PowerEvent:
        assert dic.EVENTS[int(event)].name == event.name
    assert dic.hk_structure(6) is not None
    assert all(p.name.startswith("power.") for p in dic.HK_STRUCTURES[6].parameters)
    codes = [c for c in ErrorCode if c.name.startswith("POWER_")]
    assert [int(c) for c in codes] == [0x30, 0x31, 0x32, 0x33]
    assert all(c in ERROR_CODE_DESCRIPTIONS for c in codes)
    exported = json.loads(dic.export_json())
    assert any(s["service"] == 132 for s in exported["services"])
    assert any(h["sid"] == 6 for h in exported["housekeeping"])
