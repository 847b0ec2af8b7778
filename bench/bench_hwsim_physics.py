"""Stepped hwsim physics speed: real-time factor at a 1 s step, and scaling with board count.

The cases, by name:

- ``hwsim_physics_default_plugin_boards_1s``: the configuration ``computesat hwsim run`` and
  ``computesat hwsim serve`` load by default (``hwsim/configs/ai1.toml``: 160 reference
  plug-in boards, 151.6 kW, stepped as arrays by ``computesat_sdk.arrays.BoardArrays``, their
  Python only on events); target 20 000x (a day in under 5 s, 50 us per step);
- ``hwsim_physics_default_plugin_boards_busy_1s``: the same, every board running a long job
  (twice the measured time at full speed, within its job limits:
  ``hwsim.boards.slots.filler_shape``) at its deepest throttle level; in eclipse the bus sheds
  boards when their demand exceeds what the battery may give, so every simulated minute
  (untimed) a board that is off on a live supply is powered on and a free board gets its job
  again (``upkeep``); jobs submitted after the same warm-up, only ``sc.step`` timed; target
  20 000x;
- ``hwsim_physics_simple_slots_1s``: AI1 with 150 simple (vectorised, 1 kW) slots instead
  (``hwsim/configs/ai1-simple.toml``): the physics alone, the figure the 100 000x target is for;
- ``hwsim_physics_{10,100,1000}_slots_1s``: the simple-slot AI1 with that many slots.

Run: ``python bench/bench_hwsim_physics.py [--quick]``. Prints one JSON object per line:
``{"name", "value", "unit", "baseline", "ratio"}``. The baseline is real time (1 simulated
second per wall second); for the ``*_rtf`` lines the ratio is value / target, the target being
100 000x (one day of mission time in under a second at a 1 s step, ~10 us per step) and
20 000x for the default plug-in configuration (~50 us per step); the ``*_vs_realtime`` lines
give the raw factor (ratio = value / 1.0); the ``*_step_time`` lines the wall time per step
against the target's (ratio > 1: slower than the target). Each figure is the median of the
repeats (the host is shared: the best run flatters, the median is what to expect).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from computesat_sdk.contract import BoardCapabilities, JobLimits, ThermalElectricalModel

from hwsim.boards.slots import filler_shape
from hwsim.config import SpacecraftConfig, default_config, parse_config, simple_config
from hwsim.spacecraft import Spacecraft

TARGET_RTF = 100_000.0
TARGET_PLUGIN_RTF = 20_000.0
"""Target for the default plug-in configuration (issue 8: a day in under 5 s)."""
STEP_S = 1.0
UPKEEP_STEPS = 60
"""Busy case: steps between (untimed) upkeep passes over the boards."""


def emit(name: str, value: float, unit: str, baseline: float, ratio: float) -> None:
    print(
        json.dumps(
            {
                "name": name,
                "value": round(value, 3),
                "unit": unit,
                "baseline": baseline,
                "ratio": round(ratio, 4),
            }
        ),
        flush=True,
    )


def with_slots(base: SpacecraftConfig, n_slots: int) -> SpacecraftConfig:
    """The simple-slot spacecraft with ``n_slots`` boards sharing the same 150 kW peak."""
    data = base.model_dump(mode="python")
    group = data["compute"]["slot_groups"][0]
    group["count"] = n_slots
    group["peak_w"] = 150_000.0 / n_slots
    group["idle_w"] = 22_500.0 / n_slots
    return parse_config(data)


class Busy:
    """Keeps every plug-in board at its deepest throttle level running a filler job lasting
    ``job_s`` at full speed (within its job limits), through the device commands."""

    def __init__(self, sc: Spacecraft, job_s: float) -> None:
        self.sc = sc
        self.slots = [d for d in sc.device_ids() if d.startswith("slot.")]
        self.shapes = {}
        self.levels = {}
        for sid in self.slots:
            ident = sc.command(sid, "identity", {})
            shape = filler_shape(
                BoardCapabilities.model_validate(ident["capabilities"]),
                JobLimits.model_validate(ident["limits"]),
                job_s,
            )
            if shape is None:
                raise SystemExit(f"{sid}: the board runs no filler kernel")
            self.shapes[sid] = shape
            thermal = ThermalElectricalModel.model_validate(ident["thermal"])
            self.levels[sid] = thermal.max_throttle_level
        self.job_id = 0
        self.busy_samples = 0
        self.samples = 0
        self.upkeep()

    def upkeep(self) -> None:
        """Power on boards that are off on a live supply; give a free board its job again."""
        sc = self.sc
        for sid in self.slots:
            r = sc.read(sid)
            self.samples += 1
            self.busy_samples += r["active_job_id"] >= 0
            if r["supply"] != "on":
                continue
            if r["power_state"] == "off":
                sc.command(sid, "power_on", {})
                continue
            if r["power_state"] in ("idle", "busy", "throttled"):
                if r["commanded_throttle_level"] != self.levels[sid]:
                    sc.command(sid, "set_throttle", {"level": self.levels[sid]})
                if r["active_job_id"] < 0 and r["jobs_queued"] == 0:
                    kernel, size, iterations, _ = self.shapes[sid]
                    self.job_id += 1
                    args = {"job_id": self.job_id, "kernel": kernel, "size": size}
                    sc.command(sid, "submit_job", args | {"seed": 1, "iterations": iterations})


def measure(
    config: SpacecraftConfig, sim_seconds: float, repeats: int, busy: bool = False
) -> float:
    """Median real-time factor over ``repeats`` runs of ``sim_seconds`` at a 1 s step (busy:
    every plug-in board running a long job, see `make_busy`)."""
    factors = []
    busy_fraction: list[float] = []
    for r in range(repeats):
        sc = Spacecraft(config, seed=r)
        sc.run(600.0, STEP_S)  # warm caches and leave the t=0 transient
        keeper = Busy(sc, 2 * sim_seconds) if busy else None
        steps = int(sim_seconds / STEP_S)
        step = sc.step
        wall = 0.0
        done = 0
        while done < steps:
            chunk = min(UPKEEP_STEPS, steps - done) if keeper else steps
            t0 = time.perf_counter()
            for _ in range(chunk):
                step(STEP_S)
            wall += time.perf_counter() - t0
            done += chunk
            if keeper:
                keeper.upkeep()  # untimed: the commands flight software would send
        factors.append(steps * STEP_S / wall)
        if keeper:
            busy_fraction.append(keeper.busy_samples / keeper.samples)
    if busy_fraction:
        emit(
            "hwsim_physics_default_plugin_boards_busy_fraction",
            min(busy_fraction),
            "",
            1.0,
            min(busy_fraction),
        )
    return statistics.median(factors)


def report(name: str, rtf: float, target: float = TARGET_RTF) -> None:
    emit(f"{name}_rtf", rtf, "sim_s/wall_s", 1.0, rtf / target)
    emit(f"{name}_vs_realtime", rtf, "x", 1.0, rtf / 1.0)
    # step time against the step time the target implies (ratio > 1: slower than target)
    us = 1e6 * STEP_S / rtf
    emit(f"{name}_step_time", us, "us/step", 1e6 * STEP_S / target, us / (1e6 / target))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one orbit per case, one repeat")
    args = parser.parse_args()
    # The simple (vectorised) 150-slot AI1: the physics alone. Until 2026-12 this line was
    # called hwsim_physics_default_1s, although `hwsim run` does not load it by default.
    base = simple_config()
    day = 86_400.0
    orbit = 5_801.0
    report(
        "hwsim_physics_simple_slots_1s",
        measure(base, orbit if args.quick else day, 1 if args.quick else 2),
    )
    # What `computesat hwsim run` loads by default (hwsim.app: default_config(), ai1.toml):
    # 160 reference plug-in boards, stepped as arrays (events only in Python).
    report(
        "hwsim_physics_default_plugin_boards_1s",
        measure(default_config(), orbit if args.quick else day, 1 if args.quick else 3),
        TARGET_PLUGIN_RTF,
    )
    # The same with every board running a long job (issue 8: >= 20 000x with the boards busy).
    report(
        "hwsim_physics_default_plugin_boards_busy_1s",
        measure(default_config(), orbit if args.quick else day, 1 if args.quick else 3, True),
        TARGET_PLUGIN_RTF,
    )
    for n in (10, 100, 1000):
        report(
            f"hwsim_physics_{n}_slots_1s",
            measure(with_slots(base, n), orbit, 1 if args.quick else 2),
        )


if __name__ == "__main__":
    main()
