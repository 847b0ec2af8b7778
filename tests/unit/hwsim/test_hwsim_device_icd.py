"""hwsim serves the ICD device models (icd.devices): every kind's registers round-trip through
the real device port into their model, describe() is the model-derived description, and bad
command arguments are refused naming the argument and its range."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import zmq
import zmq.asyncio

from hwsim.config import simple_config, with_boards
from hwsim.model import DeviceError
from hwsim.ports import PortServer, device_handler
from hwsim.spacecraft import Spacecraft
from icd.devices import (
    DEVICE_KINDS,
    BackplaneRegisters,
    BackplaneSlot,
    BoardFault,
    BoardSlotRegisters,
    BuiltinSlotRegisters,
    DeviceRegisters,
    PduRegisters,
    PowerState,
    PumpRegisters,
    TimeRefRegisters,
    kind_of,
    parse_registers,
)
from runtime.clock import WallClock
from runtime.ports import DevicePort, DevicePortError

# slot 001-002 hold reference boards, slot 003 an unknown plug-in (empty), 004.. built-in slots
BOARDS = {"ref-gpu": 1, "ref-cpu": 1, "no-such-board": 1}


@pytest.fixture(scope="module")
def model() -> Spacecraft:
    sc = Spacecraft(with_boards(simple_config(), BOARDS), seed=3)
    sc.run(20.0, 1.0)
    return sc


@pytest.fixture
async def port(model: Spacecraft) -> AsyncIterator[DevicePort]:
    clock = WallClock(speed=10)
    context = zmq.asyncio.Context()
    try:
        async with (
            PortServer(
                context, "tcp://127.0.0.1:0", clock, device_handler(model, clock), "devices"
            ) as server,
            DevicePort(context, server.endpoint, clock, timeout_s=20) as client,
        ):
            serving = asyncio.ensure_future(server.serve())
            try:
                yield client
            finally:
                serving.cancel()
                await asyncio.gather(serving, return_exceptions=True)
    finally:
        context.destroy(linger=0)


def _kind_name(device: str, raw: dict) -> str:
    return kind_of(device, raw).name


async def test_every_device_round_trips_through_the_port_into_its_model(port: DevicePort):
    seen: set[str] = set()
    for device in await port.list():
        raw = await port.read(device)
        registers = await port.read_model(device)
        kind = kind_of(device, raw)
        assert type(registers) is kind.registers, (device, type(registers).__name__)
        # the wire map is exactly the model's: nothing dropped, nothing added, same values
        # (a sensor with noise reads anew each time, so compare a second read's keys only)
        again = registers.wire()
        assert set(again) == set(raw), (device, set(again) ^ set(raw))
        seen.add(kind.name)
    assert seen == set(DEVICE_KINDS), f"kinds not served: {set(DEVICE_KINDS) - seen}"


async def test_typed_values_are_enums_and_numbers_not_strings(port: DevicePort):
    pump = await port.read_model("pump.L1.A", PumpRegisters)
    assert pump.state.value in ("running", "off") and isinstance(pump.speed_rpm, float)
    gpu = await port.read_model("slot.001", BoardSlotRegisters)
    assert gpu.power_state in (PowerState.IDLE, PowerState.BOOTING), gpu.power_state
    assert gpu.fault_reason is BoardFault.NONE and gpu.present
    empty = await port.read_model("slot.003", BoardSlotRegisters)
    assert empty.fault_reason is BoardFault.PLUGIN_UNKNOWN and not empty.present
    assert "no-such-board" in empty.fault_detail
    builtin = await port.read_model("slot.004", BuiltinSlotRegisters)
    assert builtin.kind and builtin.power_state.value == "on"
    backplane = await port.read_model("backplane", BackplaneRegisters)
    assert set(backplane.slots) == {"001", "002", "003"}
    assert backplane.slots["003"].fault_reason is BoardFault.PLUGIN_UNKNOWN
    pdu = await port.read_model("pdu", PduRegisters)
    assert "slot_001" in pdu.switches and pdu.switches["slot_001"].on is True
    timeref = await port.read_model("timeref", TimeRefRegisters)
    assert timeref.mission_time_ns > 0 and timeref.clock_speed == 10


async def test_a_model_of_another_kind_is_an_invalid_reply(port: DevicePort):
    with pytest.raises(DevicePortError) as err:
        await port.read_model("slot.004", BoardSlotRegisters)
    assert err.value.code == "invalid_reply"
    assert "BoardSlotRegisters" in str(err.value) and "BuiltinSlotRegisters" in str(err.value)


async def test_describe_is_the_model_derived_description(port: DevicePort, model: Spacecraft):
    members = {"pdu": model._sw_names, "backplane": ["001", "002", "003"]}
    for device in await port.list():
        raw = await port.read(device)
        kind = kind_of(device, raw)
        expected = kind.describe(device, members.get(device, ())).model_dump(mode="json")
        described = await port.describe(device)
        # the wire drops None fields (exclude_none); compare the same way
        assert described == _drop_none(expected), device
        assert described["kind"] == kind.name
        assert set(described["registers"]) == set(parse_registers(device, raw).flat()), device
    pump = await port.describe("pump.L1.A")
    speed = pump["commands"]["set_speed_rpm"]["args"]["speed_rpm"]
    assert (speed["unit"], speed["exclusive_minimum"], speed["type"]) == ("rpm", 0, "float")
    assert pump["registers"]["flow_kg_s"]["unit"] == "kg/s"
    assert pump["registers"]["state"]["values"] == ["running", "off", "seized", "unpowered"]


def _drop_none(value):
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    return value


@pytest.mark.parametrize(
    ("device", "command", "args", "names"),
    [
        ("pump.L1.A", "set_speed_rpm", {"speed_rpm": -5.0}, ("speed_rpm", "greater than 0")),
        ("pump.L1.A", "set_speed_rpm", {"speed_rpm": 1e9}, ("speed_rpm", "100000")),
        ("pump.L1.A", "set_speed_rpm", {"speed_rpm": 7000.0}, ("speed_rpm", "6000")),
        ("pump.L1.A", "set_speed_rpm", {"speed_rpm": "fast"}, ("speed_rpm", "valid number")),
        ("wing.W1", "set_angle_deg", {"angle_deg": 400.0}, ("angle_deg", "360")),
        ("wing.W1", "set_tracking", {"enabled": 1}, ("enabled", "boolean")),
        ("slot.004", "set_utilisation", {"value": 1.5}, ("value", "0.0 <= value <= 1.0")),
        ("slot.004", "set_utilisation", {}, ("value: missing",)),
        ("slot.001", "set_throttle", {"level": -1}, ("level", "greater than or equal to 0")),
        ("slot.001", "set_throttle", {"level": 99}, ("level",)),
        (
            "slot.001",
            "submit_job",
            {"job_id": 1, "kernel": "sort", "size": 8, "seed": 1},
            ("kernel", "matmul"),
        ),
        (
            "slot.001",
            "submit_job",
            {"job_id": 1, "kernel": "fft", "size": 0, "seed": 1},
            ("size", "1 <= size"),
        ),
        ("slot.001", "cancel_job", {"job_id": 1, "extra": 2}, ("extra", "not in the ICD")),
        ("pdu", "switch_off", {"switch": "nope"}, ("'nope'",)),
    ],
)
async def test_bad_command_arguments_are_refused_naming_the_argument_and_its_range(
    port: DevicePort, device: str, command: str, args: dict, names: tuple[str, ...]
):
    with pytest.raises(DevicePortError) as err:
        await port.command(device, command, args)
    assert err.value.code == "bad_argument", str(err.value)
    for name in names:
        assert name in str(err.value), f"expected {name!r} in: {err.value}"
    assert (await port.read("battery"))["soc"] > 0  # the port keeps serving


def test_hwsim_cannot_send_what_the_icd_does_not_describe(model: Spacecraft):
    """read() goes through the register model: a register the ICD lacks is a model error
    (an internal error on the port), never a silent extra value on the wire."""
    regs = model.read_model("pump.L1.A")
    assert isinstance(regs, DeviceRegisters)
    with pytest.raises(ValueError, match="not_a_register"):
        PumpRegisters(**regs.model_dump(), not_a_register=1.0)
    with pytest.raises(DeviceError) as err:
        model.command("battery", "charge", {})
    assert err.value.code == "unknown_command"


def test_the_backplane_fast_path_is_the_model_wire(model: Spacecraft):
    assert model.read("backplane") == model.read_model("backplane").wire()
    assert model.registers("backplane")["slot.003.fault_reason"] == "plugin_unknown"
    # ... and the backplane of the slots' own register models (the path it replaces)
    net = model._network
    slots = model._slots.plugin_registers(net.plate_temp_k, net.supply_temp_k, model._bus.voltage_v)
    legacy = BackplaneRegisters(slots={sid: BackplaneSlot.of(r) for sid, r in slots.items()})
    assert model.read("backplane") == legacy.wire()
    assert model.read_model("backplane").slots == legacy.slots


def test_the_pdu_fast_path_is_the_model_wire(model: Spacecraft):
    wire = model.read("pdu")
    assert wire == model.read_model("pdu").wire()
    assert parse_registers("pdu", wire) == model.read_model("pdu")
    assert set(wire["switch"]) == set(model._sw_names)


async def test_read_many_answers_every_device_or_its_error_in_one_round_trip(port: DevicePort):
    devices = ["pump.L1.A", "no.such.device", "pdu", "timeref", "backplane", "slot.003"]
    raw = await port.read_many(devices)
    assert set(raw.registers) == set(devices) - {"no.such.device"}, raw.registers.keys()
    assert set(raw.errors) == {"no.such.device"}, raw.errors
    assert raw.errors["no.such.device"].code == "unknown_device"
    results = await port.read_models(devices)
    assert list(results) == devices, "one result per device, in the order asked"
    assert isinstance(results["pump.L1.A"], PumpRegisters), results["pump.L1.A"]
    assert isinstance(results["pdu"], PduRegisters) and "slot_001" in results["pdu"].switches
    assert isinstance(results["timeref"], TimeRefRegisters)
    assert isinstance(results["backplane"], BackplaneRegisters)
    assert isinstance(results["slot.003"], BoardSlotRegisters)
    bad = results["no.such.device"]
    assert isinstance(bad, DevicePortError) and bad.code == "unknown_device", bad
    with pytest.raises(DevicePortError) as err:
        await port.request("read_many", args={"devices": "pdu"})
    assert err.value.code == "bad_argument" and "list of device ids" in str(err.value)
