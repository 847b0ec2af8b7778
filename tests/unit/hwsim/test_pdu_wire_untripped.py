"""The PDU's wire map (``PowerBus.pdu_wire``, which skips the per-switch trip columns when no
switch is tripped) is the map made switch by switch, with no switch tripped and with some."""

from __future__ import annotations

from typing import Any

from hwsim.config import default_config
from hwsim.spacecraft import Spacecraft
from hwsim.subsystems.power_bus import PowerBus


def _reference(bus: PowerBus, pump_power_w: Any, slot_power_w: Any, origin_s: float) -> dict:
    """pdu_wire as it was: every trip column switch by switch."""
    v = max(bus.voltage_v, 1.0)
    sw_power = bus.switch_power_w(pump_power_w, slot_power_w)
    on, tripped, served = bus.on.tolist(), bus.tripped.tolist(), bus.served.tolist()
    trip_time = [float(t) + origin_s for t in bus.trip_time_s]
    return {
        "bus_voltage_v": float(bus.voltage_v),
        "array_power_w": float(bus.array_used_w),
        "load_power_w": float(bus.load_w),
        "demand_power_w": float(bus.demand_w),
        "switch": list(bus.switch_names),
        "on": on,
        "tripped": tripped,
        "shed": [o and not s for o, s in zip(on, served, strict=True)],
        "current_a": (sw_power / v).tolist(),
        "trip_reason": [
            str(r) if t else "none" for r, t in zip(bus.trip_reason, tripped, strict=True)
        ],
        "trip_time_s": [x if t else -1.0 for x, t in zip(trip_time, tripped, strict=True)],
    }


def _same(a: dict, b: dict) -> bool:
    return list(a) == list(b) and all(repr(a[k]) == repr(b[k]) for k in a)


def test_the_pdu_wire_map_is_the_switch_by_switch_map_tripped_or_not():
    sc = Spacecraft(default_config(), seed=1)
    bus, loops, slots = sc._bus, sc._loops, sc._slots
    switches = sc.fault_targets("switch")
    seen_tripped = seen_clear = 0
    for step in range(40):
        if step in (10, 25):
            sc.inject_fault("switch_trip", list(switches)[step], {})
        sc.step(1.0)
        for origin in (0.0, 848534400.0):
            fast = bus.pdu_wire(loops.pump_power_w, slots.power_w, origin)
            assert _same(fast, _reference(bus, loops.pump_power_w, slots.power_w, origin))
        if any(bus.tripped):
            seen_tripped += 1
        else:
            seen_clear += 1
    assert seen_tripped and seen_clear  # both paths compared
