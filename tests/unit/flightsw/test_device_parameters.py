"""The devices service's parameters of a validated register model (the fast path, by
``DeviceRegisters.flat_runs``) are exactly those of its flat register map (the reference path,
entry by entry): same names, same values, same order, on every device of a real hwsim, healthy
and faulted, and on values the hardware rarely sends (NaN, infinities, int enums).

Also: ``flat_runs`` is ``flat`` (every kind), and a parameter pool fed one message object by
several pools (the shared entries) holds what it held entry by entry.
"""

from __future__ import annotations

import math
from enum import Enum, IntEnum
from typing import Any

import pytest

from flightsw.messages import ParameterUpdate
from flightsw.pool import ParameterPool
from flightsw.services.devices import registers_to_parameters
from hwsim.config import default_config, simple_config, with_boards
from hwsim.spacecraft import Spacecraft
from icd.devices import (
    BatteryRegisters,
    DeviceRegisters,
    PduRegisters,
    PduSwitch,
    TimeRefRegisters,
    TripReason,
    parse_registers,
)

BOARDS = {"ref-gpu": 1, "ref-cpu": 1, "no-such-board": 1}


def _same(a: dict[str, float], b: dict[str, float]) -> bool:
    """Equal entries in the same order (NaN equal to NaN)."""
    if list(a) != list(b):
        return False
    pairs = zip(a.values(), b.values(), strict=True)
    return all(x == y or (math.isnan(x) and math.isnan(y)) for x, y in pairs)


def _check_every_device(sc: Spacecraft) -> int:
    checked = 0
    for device in sc.device_ids():
        model = parse_registers(device, sc.read(device))
        fast = registers_to_parameters(device, model)
        reference = registers_to_parameters(device, model.flat())  # the flat-map path
        assert _same(fast, reference), device
        runs = [
            (n, v.value if isinstance(v, Enum) else v)
            for names, values in model.flat_runs()
            for n, v in zip(names, values, strict=True)
        ]
        assert runs == list(model.flat().items()), device
        checked += 1
    return checked


@pytest.fixture(scope="module")
def faulted() -> Spacecraft:
    sc = Spacecraft(with_boards(simple_config(), BOARDS), seed=3)
    sc.run(10.0, 1.0)
    return sc


def test_fast_parameters_equal_the_flat_map_on_every_device_of_a_real_hwsim(faulted: Spacecraft):
    kinds = {type(parse_registers(d, faulted.read(d))).__name__ for d in faulted.device_ids()}
    # every kind a read can give: scalars, both slot kinds, the two column kinds
    assert {"PduRegisters", "BackplaneRegisters", "BoardSlotRegisters", "PumpRegisters"} <= kinds
    assert {"BuiltinSlotRegisters", "WingRegisters", "SensorRegisters"} <= kinds
    assert _check_every_device(faulted) == len(faulted.device_ids())
    # ... and once faults change the enums and flags (a tripped switch: trip_reason
    # 'overcurrent' among 'none'; a board fault; a seized pump)
    switch = faulted.read("pdu")["switch"][2]
    faulted.inject_fault("switch_trip", f"pdu.{switch}")
    faulted.inject_fault("board_upset", "slot.001", {"kind": "hang"})
    faulted.inject_fault("pump_seizure", "pump.L1.A")
    faulted.run(3.0, 1.0)
    pdu = parse_registers("pdu", faulted.read("pdu"))
    assert pdu.switches[switch].trip_reason is TripReason.OVERCURRENT
    assert registers_to_parameters("pdu", pdu)[f"pdu.{switch}_tripped"] == 1.0
    assert _check_every_device(faulted) == len(faulted.device_ids())


def test_fast_parameters_equal_the_flat_map_on_the_ai1_pdu_of_160_switches():
    sc = Spacecraft(default_config(), seed=0)
    sc.run(2.0, 1.0)
    pdu = parse_registers("pdu", sc.read("pdu"))
    assert len(pdu.switches) >= 160
    fast = registers_to_parameters("pdu", pdu)
    assert _same(fast, registers_to_parameters("pdu", pdu.flat()))
    assert len(fast) == 4 + 5 * len(pdu.switches)  # trip_reason is an enum: no parameter


def _switch(**changes: Any) -> PduSwitch:
    base: dict[str, Any] = {
        "on": True,
        "tripped": False,
        "shed": False,
        "current_a": 1.5,
        "trip_reason": TripReason.NONE,
        "trip_time_s": -1.0,
    }
    return PduSwitch(**(base | changes))


def test_fast_parameters_equal_the_flat_map_on_rare_values():
    pdu = PduRegisters(
        bus_voltage_v=math.inf,
        array_power_w=0,  # an int on the wire: a float once validated
        load_power_w=1.0,
        demand_power_w=2.0,
        switches={
            "a": _switch(current_a=math.inf, trip_time_s=math.nan),
            "b": _switch(on=False, tripped=True, trip_reason=TripReason.OVERCURRENT),
        },
    )
    battery = BatteryRegisters(
        soc=0.5,
        voltage_v=400.0,
        current_a=-math.inf,
        power_w=math.nan,
        temp_k=290.0,
        cell_faults=2,
        capacity_wh=1e5,
    )
    timeref = TimeRefRegisters(mission_time_ns=10**18, clock_speed=math.inf, clock_mode="stepped")
    for device, model in (("pdu", pdu), ("battery", battery), ("timeref", timeref)):
        assert _same(
            registers_to_parameters(device, model), registers_to_parameters(device, model.flat())
        )
    assert registers_to_parameters("battery", battery)["battery.cell_faults"] == 2.0

    class Level(IntEnum):
        LOW = 1

    class Odd(DeviceRegisters):
        """Values no kind has today: an int enum (a number on the wire), text, a flag."""

        level: Level
        name: str
        ok: bool

    odd = Odd(level=Level.LOW, name="x", ok=True)
    assert registers_to_parameters("odd", odd) == {"odd.level": 1.0, "odd.ok": 1.0}
    assert _same(registers_to_parameters("odd", odd), registers_to_parameters("odd", odd.flat()))
    # a column that is not plain numbers nor text (int enums): taken value by value
    columns = dict(pdu.__dict__) | {"current_a": [Level.LOW, Level.LOW]}
    odd_pdu = PduRegisters.model_construct(**columns)
    assert registers_to_parameters("pdu", odd_pdu)["pdu.b_current_a"] == 1.0
    assert _same(
        registers_to_parameters("pdu", odd_pdu), registers_to_parameters("pdu", odd_pdu.flat())
    )


def _reference_pool(messages: list[ParameterUpdate]) -> dict[str, tuple[float, int]]:
    """The pool as it was kept entry by entry."""
    values: dict[str, tuple[float, int]] = {}
    for message in messages:
        for name in message.invalid:
            values.pop(name, None)
        for name, value in message.values.items():
            values[name] = (value, message.time_ns)
    return values


def _state(pool: ParameterPool) -> dict[str, tuple[float | None, int | None]]:
    return {n: (pool.get(n), pool.sampled_ns(n)) for n in pool.names()}


def test_pools_sharing_one_message_object_hold_what_each_made_alone():
    big = {f"pdu.s{i:03d}_on": float(i % 2) for i in range(200)}  # shared entries (>= 64)
    messages = [
        ParameterUpdate(values=big, time_ns=1),
        ParameterUpdate(values={"battery.soc": 0.5}, time_ns=2),
        ParameterUpdate(values=big | {"pdu.s000_on": 7.0}, invalid=("pdu.s001_on",), time_ns=3),
        ParameterUpdate(values={}, invalid=("pdu.s002_on", "battery.soc"), time_ns=4),
        ParameterUpdate(values=big | {"pdu.s002_on": 9.0}, time_ns=5),
    ]
    pools = [ParameterPool() for _ in range(3)]
    taken = [0, 0, 0]
    # the pools take the same objects in order, each at its own pace (one behind the others)
    for turn in (0, 0, 1, 2, 0, 1, 1, 2, 0, 2, 0, 1, 2, 1, 2):
        pool = pools[turn]
        pool.update(messages[taken[turn]])
        taken[turn] += 1
        assert _state(pool) == _reference_pool(messages[: taken[turn]]), (turn, taken[turn])
    assert taken == [5, 5, 5]
    assert pools[0].get("pdu.s000_on") == 0.0 and pools[0].sampled_ns("pdu.s000_on") == 5
    assert pools[0].get("pdu.s002_on") == 9.0 and not pools[0].valid("battery.soc")
