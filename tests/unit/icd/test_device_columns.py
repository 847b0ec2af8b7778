"""The column codecs of the PDU and the backplane (device tables 2.0) against the per-member
pydantic models they replace: the same values for a good reply, the same register named with
the same reason for a bad one, for every register and every kind of bad value."""

from __future__ import annotations

import math
from typing import Any

import pytest
from pydantic import ValidationError

from icd.devices import (
    BackplaneRegisters,
    BackplaneSlot,
    PduRegisters,
    PduSwitch,
    RegistersInvalid,
    parse_registers,
)

SWITCHES: dict[str, dict[str, Any]] = {
    "hk": {
        "on": True,
        "tripped": False,
        "shed": False,
        "current_a": 1.5,
        "trip_reason": "none",
        "trip_time_s": -1.0,
    },
    "pump_L1_A": {
        "on": True,
        "tripped": True,
        "shed": False,
        "current_a": 0.0,
        "trip_reason": "overcurrent",
        "trip_time_s": 12.5,
    },
    "slot_001": {
        "on": True,
        "tripped": False,
        "shed": True,
        "current_a": 0,  # an int is a number (strict float takes it)
        "trip_reason": "none",
        "trip_time_s": -1.0,
    },
}
BUS = {"bus_voltage_v": 120.0, "array_power_w": 10.0, "load_power_w": 9.0, "demand_power_w": 9.5}
SLOTS: dict[str, dict[str, Any]] = {
    sid: {
        "board": "ref-gpu",
        "power_state": state,
        "die_temp_k": 300.0 + k,
        "power_w": 100.0 * k,
        "utilisation": 0.5,
        "throttle_level": k,
        "heartbeat": 10 + k,
        "jobs_queued": 1,
        "jobs_running": 1 if state == "busy" else 0,
        "results_pending": 0,
        "correctable_errors": 2,
        "uncorrectable_errors": 0,
        "boot_count": 1,
        "fault_reason": "latch_up" if state == "fault" else "",
        "loop_id": "L1" if k < 2 else "L2",
    }
    for k, (sid, state) in enumerate((("001", "busy"), ("002", "idle"), ("003", "fault")))
}


def _columns(ids_key: str, members: dict[str, dict[str, Any]]) -> dict[str, Any]:
    names = next(iter(members.values()))
    return {ids_key: list(members)} | {n: [m[n] for m in members.values()] for n in names}


def _pdu_raw(switches: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return BUS | _columns("switch", switches)


def test_good_replies_equal_the_per_member_models():
    pdu = parse_registers("pdu", _pdu_raw(SWITCHES))
    assert isinstance(pdu, PduRegisters)
    expected = {n: PduSwitch.model_validate(v) for n, v in SWITCHES.items()}
    assert pdu.switches == expected, (pdu.switches, expected)
    for name, switch in expected.items():  # the same types too (an int current is a float)
        got = pdu.switches[name].__dict__
        assert all(type(got[k]) is type(v) for k, v in switch.__dict__.items()), (got, switch)
    assert pdu.switches["pump_L1_A"].trip is not None and pdu.switches["slot_001"].shed
    assert pdu == PduRegisters(**BUS, switches=expected), "built from members: the same model"
    backplane = parse_registers("backplane", _columns("slot", SLOTS))
    assert isinstance(backplane, BackplaneRegisters)
    expected_slots = {sid: BackplaneSlot.model_validate(v) for sid, v in SLOTS.items()}
    assert backplane.slots == expected_slots
    assert backplane == BackplaneRegisters(slots=expected_slots)
    assert BackplaneRegisters(slots=expected_slots).wire() == _columns("slot", SLOTS)


def _bad_values(value: Any) -> list[Any]:
    """Values of the wrong type or out of range for a register holding ``value``."""
    if isinstance(value, bool):
        return [1, "true", None]
    if isinstance(value, int):
        return [True, 1.5, "1", -1, None]
    if isinstance(value, float):
        return [True, "1.0", -1e9, math.nan, None]
    return [1, None, "no such value"]


def _cases(members: dict[str, dict[str, Any]]) -> list[tuple[str, str, Any]]:
    member = next(iter(members))
    return [(member, reg, bad) for reg, v in members[member].items() for bad in _bad_values(v)]


@pytest.mark.parametrize(("switch", "register", "bad"), _cases(SWITCHES))
def test_a_bad_switch_register_is_refused_as_the_member_model_refuses_it(
    switch: str, register: str, bad: Any
):
    entry = SWITCHES[switch] | {register: bad}
    try:
        PduSwitch.model_validate(entry)
    except ValidationError as exc:
        old = exc.errors()[0]["msg"]
    else:
        old = None
    raw = _pdu_raw(SWITCHES | {switch: entry})
    if old is None:
        got = parse_registers("pdu", raw).switches[switch].__dict__[register]
        assert got == bad or (got != got and bad != bad), (got, bad)  # NaN: accepted as NaN
        return
    with pytest.raises(RegistersInvalid) as err:
        parse_registers("pdu", raw)
    assert err.value.fields == [f"{switch}_{register}"], (err.value.fields, old)
    assert old in str(err.value), f"expected the member model's reason {old!r}: {err.value}"


@pytest.mark.parametrize(("sid", "register", "bad"), _cases(SLOTS))
def test_a_bad_slot_register_is_refused_as_the_member_model_refuses_it(
    sid: str, register: str, bad: Any
):
    entry = SLOTS[sid] | {register: bad}
    try:
        BackplaneSlot.model_validate(entry)
    except ValidationError as exc:
        old = exc.errors()[0]["msg"]
    else:
        old = None
    raw = _columns("slot", SLOTS | {sid: entry})
    if old is None:
        got = parse_registers("backplane", raw).slots[sid].__dict__[register]
        assert got == bad or (got != got and bad != bad), (got, bad)  # NaN: accepted as NaN
        return
    with pytest.raises(RegistersInvalid) as err:
        parse_registers("backplane", raw)
    assert err.value.fields == [f"slot.{sid}.{register}"], (err.value.fields, old)
    assert old in str(err.value), f"expected the member model's reason {old!r}: {err.value}"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"on": [True, True]}, "column 'on' has 2 values for 3 members"),
        ({"switch": ["hk", "hk", "x"]}, "duplicate member ids"),
        ({"on": None}, "on: missing"),
        ({"spare": [1, 2, 3]}, "spare: not in the ICD"),
        ({"on": True}, "on: Input should be a valid list"),
    ],
)
def test_a_malformed_column_layout_is_refused_with_a_reason(change: dict[str, Any], reason: str):
    raw = {k: v for k, v in (_pdu_raw(SWITCHES) | change).items() if v is not None}
    with pytest.raises(RegistersInvalid, match=reason):
        parse_registers("pdu", raw)
