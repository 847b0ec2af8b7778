"""The device API: ids, describe/read consistency, commands and errors."""

from __future__ import annotations

import pytest

from hwsim.model import DeviceError
from hwsim.spacecraft import Spacecraft


@pytest.fixture()
def sc(ai1) -> Spacecraft:
    s = Spacecraft(ai1, seed=0)
    s.run(10.0, 1.0)
    return s


def test_device_ids(sc: Spacecraft) -> None:
    ids = sc.device_ids()
    assert len(ids) == len(set(ids))
    for d in (
        "pump.L1.A",
        "pump.L1.B",
        "pump.L2.B",
        "loop.L1",
        "radsensor.P01.S1",
        "radsensor.P08.S3",
        "wing.W1",
        "wing.W2",
        "battery",
        "pdu",
        "slot.001",
        "slot.150",
    ):
        assert d in ids
    assert not any(i.startswith(("radiator.", "orbit")) for i in ids)


def test_every_read_register_is_described_with_a_unit(sc: Spacecraft) -> None:
    for d in sc.device_ids():
        desc = sc.describe(d)
        values = sc.registers(d)
        assert set(values) == set(desc.registers), d
        for name, v in values.items():
            assert isinstance(v, float | int | bool | str), (d, name)
            assert isinstance(desc.registers[name].unit, str)
            assert desc.registers[name].description
        assert desc.device_id == d


def test_unknown_device_and_command(sc: Spacecraft) -> None:
    with pytest.raises(DeviceError) as e:
        sc.read("radiator.P01")
    assert e.value.code == "unknown_device"
    with pytest.raises(DeviceError) as e:
        sc.describe("slot.999")
    assert e.value.code == "unknown_device"
    with pytest.raises(DeviceError) as e:
        sc.command("pump.L1.A", "explode", {})
    assert e.value.code == "unknown_command"
    with pytest.raises(DeviceError) as e:
        sc.command("battery", "anything", {})
    assert e.value.code == "unknown_command"


@pytest.mark.parametrize(
    ("device", "command", "args"),
    [
        ("slot.001", "set_utilisation", {"value": 1.5}),
        ("slot.001", "set_utilisation", {"value": "high"}),
        ("slot.001", "set_utilisation", {}),
        ("slot.001", "set_utilisation", {"value": 0.5, "extra": 1}),
        ("pump.L1.A", "set_speed_rpm", {"speed_rpm": 1e6}),
        ("pump.L1.A", "set_speed_rpm", {"speed_rpm": True}),
        ("wing.W1", "set_tracking", {"enabled": 1}),
        ("pdu", "switch_off", {"switch": "nope"}),
    ],
)
def test_bad_arguments(sc: Spacecraft, device: str, command: str, args: dict) -> None:
    with pytest.raises(DeviceError) as e:
        sc.command(device, command, args)
    assert e.value.code == "bad_argument"


def test_switch_off_makes_devices_off(sc: Spacecraft) -> None:
    sc.command("pdu", "switch_off", {"switch": "pump_L1_B"})
    assert sc.registers("pdu")["pump_L1_B_on"] is False
    with pytest.raises(DeviceError) as e:
        sc.command("pump.L1.B", "start", {})
    assert e.value.code == "device_off"
    assert sc.read("pump.L1.B")["state"] == "unpowered"
    sc.command("pdu", "switch_off", {"switch": "slot_005"})
    with pytest.raises(DeviceError) as e:
        sc.command("slot.005", "power_on", {})
    assert e.value.code == "device_off"
    sc.step(1.0)
    assert sc.read("slot.005")["power_w"] == 0.0
    sc.command("pdu", "switch_on", {"switch": "slot_005"})
    sc.step(1.0)
    assert sc.read("slot.005")["power_w"] > 0.0


def test_slot_commands_change_power(sc: Spacecraft) -> None:
    r = sc.command("slot.010", "set_utilisation", {"value": 1.0})
    assert r["utilisation"] == 1.0
    sc.step(1.0)
    assert sc.read("slot.010")["power_w"] == pytest.approx(1000.0)
    sc.command("slot.010", "power_off", {})
    sc.step(1.0)
    s = sc.read("slot.010")
    assert s["power_w"] == 0.0 and s["power_state"] == "off" and not s["powered"]


def test_wing_commands(sc: Spacecraft) -> None:
    sc.command("wing.W2", "set_angle_deg", {"angle_deg": 90.0})
    sc.run(400.0, 1.0)
    w = sc.read("wing.W2")
    assert not w["tracking"] and w["drive_angle_deg"] == pytest.approx(90.0)
    assert w["incidence_cos"] < 0.2
    sc.command("wing.W2", "mppt_enable", {"enabled": False})
    sc.step(1.0)
    assert sc.read("wing.W2")["mppt_state"] == "off"
