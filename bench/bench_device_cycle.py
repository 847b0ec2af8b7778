"""One poll cycle of the devices, both sides of the port, without the transport.

Every platform device (pumps, loops, 24 radiator sensors, wings, battery, pdu) and the
backplane (160 plug-in boards, default AI1 configuration) of a stepped model: hwsim's device
handler builds the reply, the envelope is packed and unpacked (msgpack), and flight software
validates each device into its ICD model: what the devices service and the payload manager
pay each mission second, but the ZeroMQ hop. Batched (``read_many``: one request) where the
tree has it, one request per device otherwise, so the same script gives the figure of an older
tree (the baseline below is this script on df6ab19, before batching and the column layout).

- ``device_cycle_platform_and_backplane``: CPU µs per cycle (process time: the shared host
  preempts), median of many (the issue-9 target:
  under 500 µs; ``meets_target`` is the ratio to the baseline, ``meets_limit`` the target);
- ``device_cycle_<part>``: hwsim (handler), envelope (pack + unpack), flightsw (validation);
- ``device_cycle_backplane_read``: hwsim's backplane read alone (``Spacecraft.read``), on
  cycles of its own after a step (the first read of a new state, as in flight): the boards'
  columns from their arrays, a board asked (``health()``) only when its own Python ran; the
  baseline is the per-board read it replaced (``backplane_wire_per_board``, this script).

    python bench/bench_device_cycle.py [--quick]
"""

from __future__ import annotations

import time
from typing import Any

from _common import emit, median, note, parse_args

from hwsim.config import default_config
from hwsim.ports import device_handler
from hwsim.spacecraft import Spacecraft
from icd.device import DeviceOp, DeviceReply, DeviceRequest
from icd.devices import parse_registers
from runtime.clock import SteppedClock

# This script on df6ab19 (per-device requests, flat pdu/backplane maps), same host, CPU µs
# (mean of three runs at load ~9; this tree measured 3.0-5.0 ms beside them).
BASELINE_US = {"total": 12_050.0, "hwsim": 6_580.0, "envelope": 2_760.0, "flightsw": 2_700.0}
LIMIT_US = 500.0
# The backplane read served per board as on 15c9074 (each board's health(); kept as
# ComputeSlots.backplane_wire_per_board, patched in for the measurement), this script, same
# host, CPU µs (median of three runs at load ~7: 2245-2390; the columns from the arrays
# measured 23-24 µs beside them, and the whole cycle 3150-3350 -> 620-680 µs).
BACKPLANE_BASELINE_US = 2_350.0
PLATFORM = ("pump.", "loop.", "radsensor.", "wing.", "battery", "pdu")


def _platform(ids: list[str]) -> list[str]:
    return [
        d for d in ids if any(d == k or (k.endswith(".") and d.startswith(k)) for k in PLATFORM)
    ]


def one_cycle(handle: Any, devices: list[str], batched: bool) -> dict[str, float]:
    """µs of each part of one cycle."""
    parts = {"hwsim": 0.0, "envelope": 0.0, "flightsw": 0.0}
    if batched:
        requests = [
            DeviceRequest(id=1, op=DeviceOp.READ_MANY, args={"devices": devices}),
        ]
    else:
        requests = [DeviceRequest(id=1, op=DeviceOp.READ, device=d) for d in devices]
    for request in requests:
        t0 = time.process_time()
        result = handle(request)
        t1 = time.process_time()
        reply = DeviceReply.unpack(DeviceReply(id=1, ok=True, time_ns=0, result=result).pack())
        t2 = time.process_time()
        if batched:
            assert isinstance(reply.result, dict)
            for device, raw in reply.result["registers"].items():
                parse_registers(device, raw)
        else:
            assert request.device is not None
            parse_registers(request.device, reply.result)
        t3 = time.process_time()
        parts["hwsim"] += (t1 - t0) * 1e6
        parts["envelope"] += (t2 - t1) * 1e6
        parts["flightsw"] += (t3 - t2) * 1e6
    return parts


def main() -> None:
    args = parse_args(__doc__.split("\n\n")[0])
    sc = Spacecraft(default_config(), seed=1)
    sc.run(60.0, 1.0)
    handle = device_handler(sc, SteppedClock())
    devices = [*_platform(sc.device_ids()), "backplane"]
    batched = hasattr(DeviceOp, "READ_MANY")
    note(f"{len(devices)} devices a cycle, {'one read_many' if batched else 'one read each'}")
    cycles: list[dict[str, float]] = []
    backplane_us: list[float] = []
    for k in range(2 * (10 if args.quick else 60)):
        sc.step(1.0)  # a fresh model state each cycle, as in flight
        if k % 2:
            t0 = time.process_time()
            sc.read("backplane")
            backplane_us.append((time.process_time() - t0) * 1e6)
        else:
            cycles.append(one_cycle(handle, devices, batched))
    total = median([sum(c.values()) for c in cycles])
    emit(
        "device_cycle_platform_and_backplane",
        total,
        "us",
        BASELINE_US["total"],
        target="<= 1",
        limit_us=LIMIT_US,
        meets_limit=total < LIMIT_US,
        devices=len(devices),
        batched=batched,
    )
    for part in ("hwsim", "envelope", "flightsw"):
        emit(f"device_cycle_{part}", median([c[part] for c in cycles]), "us", BASELINE_US[part])
    emit(
        "device_cycle_backplane_read",
        median(backplane_us),
        "us",
        BACKPLANE_BASELINE_US,
        boards=len(sc.read("backplane")["slot"]),
    )


if __name__ == "__main__":
    main()
