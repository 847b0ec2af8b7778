"""The typed device interface (icd.devices): validation names what is wrong, the grouped
kinds (PDU switches, backplane slots) round-trip to their column wire map, and the dictionary
carries the tables."""

from __future__ import annotations

import json

import pytest

from icd import dictionary as dic
from icd.devices import (
    DEVICE_KINDS,
    BatteryRegisters,
    BoardFault,
    CommandArgsInvalid,
    PduRegisters,
    RegistersInvalid,
    UnknownDeviceKind,
    kind_of,
    parse_registers,
)

BATTERY = {
    "soc": 0.8,
    "voltage_v": 120.0,
    "current_a": -3.0,
    "power_w": -360.0,
    "temp_k": 293.0,
    "cell_faults": 0,
    "capacity_wh": 100_000.0,
}


def test_a_valid_reply_becomes_the_model_and_back():
    regs = parse_registers("battery", BATTERY)
    assert isinstance(regs, BatteryRegisters) and regs.soc == 0.8
    assert regs.wire() == BATTERY


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"soc": None}, "soc: missing"),
        ({"soc": "0.8"}, "soc: Input should be a valid number (got '0.8')"),
        ({"soc": 1.5}, "soc: Input should be less than or equal to 1"),
        ({"cell_faults": True}, "cell_faults: Input should be a valid integer (got True)"),
        ({"cell_faults": 1.0}, "cell_faults: Input should be a valid integer"),
        ({"spare": 1}, "spare: not in the ICD"),
    ],
)
def test_a_bad_reply_names_the_register(change: dict, expected: str):
    raw = {k: v for k, v in {**BATTERY, **change}.items() if v is not None}
    with pytest.raises(RegistersInvalid) as err:
        parse_registers("battery", raw)
    assert expected in str(err.value), f"expected {expected!r} in {err.value}"
    assert err.value.fields == [next(iter(change))], err.value.fields


def test_a_reply_that_is_not_a_map_is_invalid():
    with pytest.raises(RegistersInvalid, match="expected a register map, got list"):
        parse_registers("battery", [1, 2])


def test_pdu_switches_are_columns_on_the_wire_and_models_in_python():
    raw = {"bus_voltage_v": 120.0, "array_power_w": 1.0, "load_power_w": 1.0}
    raw |= {"demand_power_w": 1.0, "switch": ["slot_001", "hk"], "on": [True, False]}
    raw |= {"tripped": [False, False], "shed": [False, False], "current_a": [2.5, 0.0]}
    raw |= {"trip_reason": ["none", "none"], "trip_time_s": [-1.0, -1.0]}
    regs = parse_registers("pdu", raw)
    assert isinstance(regs, PduRegisters)
    assert regs.switches["slot_001"].current_a == 2.5 and regs.switches["slot_001"].trip is None
    assert regs.switches["slot_001"].trip_reason == "none"
    assert not regs.switches["hk"].on
    assert regs.wire() == raw
    assert regs.flat()["slot_001_current_a"] == 2.5 and regs.flat()["hk_trip_reason"] == "none"
    assert len(regs.flat()) == 4 + 2 * 6, regs.flat()
    del raw["shed"]
    with pytest.raises(RegistersInvalid) as err:
        parse_registers("pdu", raw)
    assert err.value.fields == ["shed"], err.value.fields
    raw["shed"] = [False, 1]
    with pytest.raises(RegistersInvalid) as err:
        parse_registers("pdu", raw)
    assert err.value.fields == ["hk_shed"], err.value.fields
    raw["shed"] = [False]
    with pytest.raises(RegistersInvalid, match="column 'shed' has 1 values for 2 members"):
        parse_registers("pdu", raw)


def test_backplane_slots_are_columns_and_name_the_slot_register():
    entry = {
        "board": "ref-gpu",
        "power_state": "fault",
        "die_temp_k": 350.0,
        "power_w": 900.0,
        "utilisation": 0.0,
        "throttle_level": 0,
        "heartbeat": 12,
        "jobs_queued": 0,
        "jobs_running": 0,
        "results_pending": 0,
        "correctable_errors": 0,
        "uncorrectable_errors": 0,
        "boot_count": 1,
        "fault_reason": "latch_up",
        "loop_id": "L1",
    }
    raw = {"slot": ["007"]} | {k: [v] for k, v in entry.items()}
    regs = parse_registers("backplane", raw)
    assert regs.slots["007"].fault_reason is BoardFault.LATCH_UP  # type: ignore[attr-defined]
    assert regs.wire() == raw
    assert regs.flat() == {f"slot.007.{k}": v for k, v in entry.items()}
    with pytest.raises(RegistersInvalid) as err:
        parse_registers("backplane", raw | {"fault_reason": ["latched somehow"]})
    assert err.value.fields == ["slot.007.fault_reason"] and "latch_up" in str(err.value)


def test_backplane_await_results_is_an_icd_command():
    from icd.devices import CommandArgsInvalid
    from icd.devices.compute import BACKPLANE

    spec = BACKPLANE.describe("backplane", ["001"]).commands["await_results"]
    assert spec.args["timeout_s"].unit == "s" and spec.args["timeout_s"].minimum == 0.0, spec
    assert BACKPLANE.parse_args("backplane", "await_results", {"timeout_s": 2}).timeout_s == 2.0
    for bad in ({"timeout_s": -1.0}, {"timeout_s": "soon"}, {"wait": 1}):
        with pytest.raises(CommandArgsInvalid) as err:
            BACKPLANE.parse_args("backplane", "await_results", bad)
        assert err.value.fields == [next(iter(bad))], (bad, err.value.fields)


def test_kinds_from_ids():
    assert kind_of("pump.L2.B").name == "pump"
    assert kind_of("radsensor.P03.S2").name == "radsensor"
    assert kind_of("slot.042").name == "slot"
    assert kind_of("slot.042", {"kind": "gpu", "power_state": "on"}).name == "builtin_slot"
    assert kind_of("timeref").name == "timeref"
    for bad in ("radiator.P01", "pump", "battery.1", ""):
        with pytest.raises(UnknownDeviceKind):
            kind_of(bad)


def test_command_arguments_are_checked_with_their_range():
    pump = DEVICE_KINDS["pump"]
    assert pump.parse_args("pump.L1.A", "set_speed_rpm", {"speed_rpm": 3000}).speed_rpm == 3000
    with pytest.raises(CommandArgsInvalid) as err:
        pump.parse_args("pump.L1.A", "set_speed_rpm", {"speed_rpm": float("nan")})
    assert err.value.fields == ["speed_rpm"] and "0.0 < speed_rpm <= 100000.0" in str(err.value)


def test_every_kind_is_described_with_units_types_and_faults():
    for name, kind in DEVICE_KINDS.items():
        specs = kind.registers.register_specs(kind.members)
        assert specs, name
        for reg, spec in specs.items():
            assert spec.description, (name, reg)
            if spec.type == "enum":
                assert spec.values, (name, reg)
        for command, model in kind.commands.items():
            assert model.spec().description, (name, command)
    assert {n for n, k in DEVICE_KINDS.items() if k.faults is not None} >= {
        "pump",
        "wing",
        "battery",
        "pdu",
        "slot",
        "builtin_slot",
        "radsensor",
    }


def test_the_dictionary_exports_the_device_tables():
    exported = json.loads(dic.export_json())
    assert exported["version"] == dic.DICTIONARY_VERSION
    kinds = exported["devices"]["kinds"]
    assert set(kinds) == set(DEVICE_KINDS)
    assert kinds["pump"]["registers"]["flow_kg_s"]["unit"] == "kg/s"
    speed = kinds["pump"]["commands"]["set_speed_rpm"]["args"]["speed_rpm"]
    assert (speed["exclusive_minimum"], speed["maximum"]) == (0.0, 100_000.0)
    assert kinds["slot"]["faults"]["values"]["latch_up"] == "latch_up"
    assert kinds["pdu"]["registers"]["<switch>_tripped"]["type"] == "bool"
    assert kinds["backplane"]["registers"]["slot.<nnn>.power_state"]["values"] == [
        "off",
        "booting",
        "idle",
        "busy",
        "throttled",
        "fault",
    ]
