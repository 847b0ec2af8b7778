"""On-board monitoring (PUS 12): what one checking cycle of the default tables costs.

Run: ``python bench/bench_fdir.py [--quick]``. A pool fed like the devices service feeds it
(every monitored parameter re-sampled each period: temperatures, flows and powers with noise,
the drive angle turning, switch flags constant), then per period:

- ``monitoring_cycle_default_tables``: ``Monitor.check`` over the 228 default definitions;
- baseline: reading each definition's parameter and sample time from the same pool (the least
  any checker must do), measured in the same run.

The extra key ``core_share_at_600x`` is the fraction of one core the checks take at 600×
real time with the default 1 s period (the whole-satellite speed target).
"""

from __future__ import annotations

import random
import time

from _common import emit, median, note, parse_args

from flightsw import fdir_tables
from flightsw.messages import ParameterUpdate
from flightsw.pool import ParameterPool
from flightsw.services.monitoring import Monitor, _Pmon


def _updates(periods: int) -> list[ParameterUpdate]:
    definitions, _ = fdir_tables.default_monitoring()
    names = {d.parameter for d in definitions} | {
        d.validity.parameter for d in definitions if d.validity
    }
    nominal = {
        "temp_k": 250.0,
        "flow_kg_s": 1.9,
        "inventory_kg": 150.0,
        "voltage_v": 300.0,
        "power_w": 680.0,
        "drive_angle_deg": 10.0,
        "tracking": 1.0,
        "mppt_enabled": 1.0,
    }
    rng = random.Random(1)
    out = []
    for i in range(periods):
        values = {}
        for name in names:
            register = name.rsplit(".", 1)[-1]
            value = nominal.get(register, 0.0)
            if register in ("temp_k", "flow_kg_s", "power_w"):
                value += rng.gauss(0.0, 0.2 if register == "temp_k" else 0.01)
            elif register == "drive_angle_deg":
                value += 0.0625 * i
            values[name] = value
        out.append(ParameterUpdate(values=values, time_ns=(i + 1) * 1_000_000_000))
    return out


def main() -> None:
    args = parse_args(__doc__.splitlines()[0])
    periods, repeats = (300, 3) if args.quick else (3_000, 5)
    definitions, _ = fdir_tables.default_monitoring()
    updates = _updates(periods)
    note(f"{len(definitions)} definitions, {periods} periods x {repeats} repeats")

    def cycles(check: bool) -> float:
        pool, monitor = ParameterPool(), Monitor()
        for d in definitions:
            monitor.definitions[d.pmon_id] = _Pmon(d)
        parameters = [d.parameter for d in definitions]
        spent = 0.0
        for update in updates:
            pool.update(update)
            t0 = time.perf_counter()
            if check:
                monitor.check(pool, 0.0)
            else:
                get, sampled = pool.get, pool.sampled_ns
                for name in parameters:
                    get(name)
                    sampled(name)
            spent += time.perf_counter() - t0
        if check:
            assert monitor.transitions_total >= len(definitions) - 30, "checks did not run"
        return spent / len(updates) * 1e6

    base, value = [], []
    for _ in range(repeats):  # interleaved: both see the same noise of a shared machine
        base.append(cycles(False))
        value.append(cycles(True))
    us = median(value)
    emit(
        "monitoring_cycle_default_tables",
        us,
        "us/cycle",
        median(base),
        definitions=len(definitions),
        core_share_at_600x=round(us * 600 / 1e6, 4),
    )


if __name__ == "__main__":
    main()
