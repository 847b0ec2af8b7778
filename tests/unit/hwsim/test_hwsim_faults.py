"""Every catalogue fault, injected, is visible through read() of its target device(s)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from hwsim.faults import CATALOGUE, FaultError, catalogue_as_json, catalogue_as_table
from hwsim.model import DeviceError
from hwsim.spacecraft import Spacecraft

Check = Callable[[Spacecraft, dict[str, Any]], None]


def _seized(sc: Spacecraft, before: dict[str, Any]) -> None:
    p = sc.read("pump.L1.A")
    assert p["state"] == "seized" and p["speed_rpm"] == 0.0 and p["flow_kg_s"] == 0.0
    assert p["motor_current_a"] > before["pump.L1.A"]["motor_current_a"]
    assert sc.read("loop.L1")["flow_kg_s"] == 0.0
    with pytest.raises(DeviceError) as e:
        sc.command("pump.L1.A", "start", {})
    assert e.value.code == "device_fault"


def _degraded(sc: Spacecraft, before: dict[str, Any]) -> None:
    assert sc.read("loop.L1")["flow_kg_s"] < 0.9 * before["loop.L1"]["flow_kg_s"]
    assert sc.read("pump.L1.A")["speed_rpm"] == before["pump.L1.A"]["speed_rpm"]


def _punctured(sc: Spacecraft, before: dict[str, Any]) -> None:
    lp = sc.read("loop.L1")
    assert lp["inventory_kg"] < before["loop.L1"]["inventory_kg"] - 50.0
    # the bellows accumulator: pressure in proportion to inventory (zero when empty)
    b = before["loop.L1"]
    assert lp["pressure_kpa"] == pytest.approx(
        b["pressure_kpa"] * lp["inventory_kg"] / b["inventory_kg"], rel=1e-9
    )
    assert lp["flow_kg_s"] == 0.0  # inventory below the cavitation limit
    assert sc.read("loop.L2")["inventory_kg"] == before["loop.L2"]["inventory_kg"]


def _stuck(sc: Spacecraft, before: dict[str, Any]) -> None:
    vals = {sc.read("radsensor.P01.S1")["temp_k"] for _ in range(5)}
    assert vals == {250.0}


def _drift(sc: Spacecraft, before: dict[str, Any]) -> None:
    s1 = sc.read("radsensor.P01.S1")["temp_k"]
    s2 = sc.read("radsensor.P01.S2")["temp_k"]
    assert s1 - s2 > 10.0  # 20 K/h for 3600 s


def _noisy(sc: Spacecraft, before: dict[str, Any]) -> None:
    import statistics

    # a sample per ADC period (1 s): read once a step, against the panel's other sensors
    a, b = [], []
    for _ in range(200):
        s1, s2, s3 = (sc.read(f"radsensor.P01.S{k}")["temp_k"] for k in (1, 2, 3))
        a.append(s1 - s3)
        b.append(s2 - s3)
        sc.step(1.0)
    assert statistics.stdev(a) > 3.0
    assert statistics.stdev(b) < 1.0


def _dead(sc: Spacecraft, before: dict[str, Any]) -> None:
    assert sc.read("radsensor.P01.S1")["temp_k"] == 0.0


def _drive_stuck(sc: Spacecraft, before: dict[str, Any]) -> None:
    w = sc.read("wing.W1")
    assert w["drive_state"] == "stuck"
    assert w["drive_angle_deg"] == pytest.approx(before["wing.W1"]["drive_angle_deg"])
    assert w["incidence_cos"] < 0.9 * before["wing.W1"]["incidence_cos"]
    with pytest.raises(DeviceError) as e:
        sc.command("wing.W1", "set_angle_deg", {"angle_deg": 90.0})
    assert e.value.code == "device_fault"


def _mppt(sc: Spacecraft, before: dict[str, Any]) -> None:
    w1, w2 = sc.read("wing.W1"), sc.read("wing.W2")
    assert w1["mppt_state"] == "failed"
    assert w1["available_power_w"] == pytest.approx(0.7 * w2["available_power_w"], rel=1e-6)
    assert w1["voltage_v"] != before["wing.W1"]["voltage_v"]


def _cell(sc: Spacecraft, before: dict[str, Any]) -> None:
    b = sc.read("battery")
    assert b["cell_faults"] == 2
    assert b["capacity_wh"] == pytest.approx(0.9 * before["battery"]["capacity_wh"])
    assert b["voltage_v"] < before["battery"]["voltage_v"] - 5.0


def _trip(sc: Spacecraft, before: dict[str, Any]) -> None:
    pdu = sc.registers("pdu")
    assert pdu["slot_001_tripped"] and not pdu["slot_001_on"]
    assert pdu["slot_001_current_a"] == 0.0
    assert sc.read("slot.001")["power_state"] == "unpowered"
    assert sc.read("slot.001")["power_w"] == 0.0
    with pytest.raises(DeviceError) as e:
        sc.command("pdu", "switch_on", {"switch": "slot_001"})
    assert e.value.code == "device_fault"


def _overtemp(sc: Spacecraft, before: dict[str, Any]) -> None:
    s = sc.read("slot.001")
    ref = sc.read("slot.002")
    assert s["die_temp_k"] - s["plate_temp_k"] > 2.5 * (ref["die_temp_k"] - ref["plate_temp_k"])


def _latchup(sc: Spacecraft, before: dict[str, Any]) -> None:
    s = sc.read("slot.001")
    assert s["latchup"] and s["power_state"] == "latched"
    assert s["power_w"] == pytest.approx(before["slot.001"]["power_w"] + 400.0)
    with pytest.raises(DeviceError) as e:
        sc.command("slot.001", "set_utilisation", {"value": 0.5})
    assert e.value.code == "device_fault"
    sc.command("slot.001", "power_off", {})
    sc.command("slot.001", "power_on", {})
    sc.step(1.0)
    s = sc.read("slot.001")
    assert not s["latchup"] and s["power_state"] == "on"


def _seu(sc: Spacecraft, before: dict[str, Any]) -> None:
    s = sc.read("slot.001")
    assert s["seu_count"] > 5 and s["uncorrectable_errors"] >= 1
    assert s["uncorrectable_errors"] <= s["seu_count"]


def _upset(sc: Spacecraft, before: dict[str, Any]) -> None:
    # a simple slot models memory errors only; plug-in boards: test_hwsim_boards_faults.py
    s = sc.read("slot.001")
    assert s["uncorrectable_errors"] == before["slot.001"]["uncorrectable_errors"] + 1


CASES: dict[str, tuple[str, dict[str, Any], float, Check]] = {
    "pump_seizure": ("pump.L1.A", {}, 10.0, _seized),
    "pump_degradation": ("pump.L1.A", {"head_loss_per_hour": 0.5}, 1800.0, _degraded),
    "radiator_puncture": ("radiator.P01", {"leak_rate_kg_s": 0.05}, 1500.0, _punctured),
    "sensor_stuck": ("radsensor.P01.S1", {"value_k": 250.0}, 10.0, _stuck),
    "sensor_drift": ("radsensor.P01.S1", {"rate_k_per_hour": 20.0}, 3600.0, _drift),
    "sensor_noisy": ("radsensor.P01.S1", {"noise_std_k": 5.0}, 1.0, _noisy),
    "sensor_dead": ("radsensor.P01.S1", {}, 1.0, _dead),
    "array_drive_stuck": ("wing.W1", {}, 900.0, _drive_stuck),
    "mppt_failure": ("wing.W1", {}, 1.0, _mppt),
    "battery_cell_failure": ("battery", {"cells": 2, "capacity_loss_fraction": 0.1}, 1.0, _cell),
    "switch_trip": ("pdu.slot_001", {"persistent": True}, 5.0, _trip),
    "board_overtemp": ("slot.001", {"resistance_factor": 4.0}, 300.0, _overtemp),
    "board_latchup": ("slot.001", {}, 1.0, _latchup),
    "seu_burst": ("slot.001", {"rate_multiplier": 2e5}, 3600.0, _seu),
    "board_upset": ("slot.001", {"kind": "memory_ue"}, 1.0, _upset),
}


def test_every_catalogue_fault_has_a_case() -> None:
    assert sorted(CASES) == sorted(f.id for f in CATALOGUE)


@pytest.mark.parametrize("fault_id", sorted(CASES))
def test_fault_is_seen_on_read(ai1, fault_id: str) -> None:
    target, params, wait_s, check = CASES[fault_id]
    sc = Spacecraft(ai1, seed=7)
    sc.run(300.0, 1.0)
    before = {d: sc.read(d) for d in sc.device_ids()}
    sc.inject_fault(fault_id, target, params)
    assert [(f.fault_id, f.target, f.active) for f in sc.active_faults()] == [
        (fault_id, target, True)
    ]
    sc.run(wait_s, 1.0 if wait_s < 600 else 10.0)
    check(sc, before)


def test_unknown_fault_and_target_name_the_options(ai1) -> None:
    sc = Spacecraft(ai1, seed=0)
    with pytest.raises(FaultError, match="pump_seizure"):
        sc.inject_fault("pump_explodes", "pump.L1.A")
    with pytest.raises(FaultError, match=r"pump\.L1\.A"):
        sc.inject_fault("pump_seizure", "pump.L9.A")
    with pytest.raises(FaultError, match=r"radiator\.P01"):
        sc.inject_fault("radiator_puncture", "loop.L1")
    with pytest.raises(FaultError, match="leak_rate_kg_s"):
        sc.inject_fault("radiator_puncture", "radiator.P01", {"rate": 1.0})


def test_scheduled_fault_activates_at_its_time_and_clears(ai1) -> None:
    sc = Spacecraft(ai1, seed=0)
    sc.inject_fault("sensor_dead", "radsensor.P02.S3", at_time_s=100.0)
    assert [f.active for f in sc.active_faults()] == [False]
    sc.run(99.0, 1.0)
    assert sc.read("radsensor.P02.S3")["temp_k"] > 200.0
    sc.run(2.0, 1.0)
    assert sc.read("radsensor.P02.S3")["temp_k"] == 0.0
    f = sc.active_faults()[0]
    assert f.active and f.activated_at_s == 100.0
    sc.clear_fault("sensor_dead", "radsensor.P02.S3")
    assert sc.active_faults() == []
    assert sc.read("radsensor.P02.S3")["temp_k"] > 200.0
    with pytest.raises(FaultError):
        sc.clear_fault("sensor_dead", "radsensor.P02.S3")


def test_catalogue_formats() -> None:
    data = json.loads(catalogue_as_json())
    assert [d["id"] for d in data] == [f.id for f in CATALOGUE]
    assert all(d["fdir_response"] and d["observable"] for d in data)
    table = catalogue_as_table()
    assert all(f.id in table for f in CATALOGUE)
