"""The what-if controller: drives the spacecraft only through the device API."""

from __future__ import annotations

from typing import Any

import pytest

from hwsim.boards.slots import filler_shape
from hwsim.config import SpacecraftConfig
from hwsim.spacecraft import Spacecraft
from hwsim.whatif_control import WhatIfController


class DeviceApiOnly:
    """What flight software has of the spacecraft: reads, commands, its configuration and the
    time. Anything else the controller reached for would raise AttributeError."""

    def __init__(self, sc: Spacecraft) -> None:
        self._sc = sc
        self.config = sc.config
        self.reads = 0
        self.commands: list[tuple[str, str]] = []

    @property
    def time_s(self) -> float:
        return self._sc.time_s

    def read_model(self, device_id: str) -> Any:
        self.reads += 1
        return self._sc.read_model(device_id)

    def command(self, device_id: str, command: str, args: dict[str, Any]) -> dict[str, Any]:
        self.commands.append((device_id, command))
        return self._sc.command(device_id, command, args)


def _run(sc: Spacecraft, law: WhatIfController, seconds: int) -> None:
    for _ in range(seconds):
        law.act()
        sc.step(1.0)


def test_pump_seizure_switches_to_the_standby_pump(ai1: SpacecraftConfig) -> None:
    sc = Spacecraft(ai1, seed=0)
    api = DeviceApiOnly(sc)
    law = WhatIfController(api)  # type: ignore[arg-type]
    _run(sc, law, 60)
    assert sc.read("pump.L1.A")["state"] == "running", "pump A is the primary"
    sc.inject_fault("pump_seizure", "pump.L1.A")
    _run(sc, law, 30)
    a, b = sc.read("pump.L1.A"), sc.read("pump.L1.B")
    assert (a["state"], a["power_w"]) == ("seized", 0.0), f"seized pump A not stopped: {a}"
    assert b["state"] == "running" and b["flow_kg_s"] > 0.5, f"standby pump B not running: {b}"
    assert ("pump.L1.B", "start") in api.commands and ("pump.L1.A", "stop") in api.commands
    assert sc.read("loop.L1")["flow_kg_s"] > 0.5, "loop L1 flow not restored by pump B"


def test_compute_follows_the_sun_through_the_devices(ai1: SpacecraftConfig) -> None:
    """In sunlight the slots run at a utilisation that fits the array (no shedding, battery
    not discharged); in eclipse they are powered off, unless the battery is nearly full."""
    sc = Spacecraft(ai1, seed=0)
    api = DeviceApiOnly(sc)
    law = WhatIfController(api)  # type: ignore[arg-type]
    _run(sc, law, 900)  # wings on the Sun, loads sized
    tr = sc.truth()
    assert not tr["eclipse"] and tr["compute_power_w"] > 100e3, tr["compute_power_w"]
    assert tr["shed_loads"] == [], f"the law overdrew the bus: {tr['shed_loads']}"
    assert tr["battery_power_w"] <= 0.0, f"battery discharging in sunlight: {tr['battery_power_w']}"
    util = {sc.read(f"slot.{s:03d}")["utilisation"] for s in range(1, 151)}
    assert len(util) <= 2 and max(util) > 0.5, f"one utilisation for all (0 near limit): {util}"
    while not sc.truth()["eclipse"]:
        _run(sc, law, 10)
    _run(sc, law, 120)
    tr = sc.truth()
    if tr["battery_soc"] <= 0.95:
        states = {sc.read(f"slot.{s:03d}")["power_state"] for s in range(1, 151)}
        assert states == {"off"}, f"slots not off in eclipse: {states}"
        assert tr["compute_power_w"] == 0.0
    else:
        assert tr["compute_power_w"] <= 22.5e3 + 1.0, "compute above idle in eclipse"
    assert api.reads > 0 and ("slot.001", "set_utilisation") in api.commands


def test_plugin_boards_kept_busy_and_powered_off_in_eclipse(variant) -> None:
    from hwsim.config import default_config

    sc = Spacecraft(default_config(), seed=0)
    api = DeviceApiOnly(sc)
    law = WhatIfController(api)  # type: ignore[arg-type]
    _run(sc, law, 100)  # boot, then the next pass submits a filler job to every board
    states = [sc.read_model(f"slot.{s:03d}") for s in (1, 50, 150)]
    assert all(r.active_job_id >= 0 for r in states), [str(r.power_state) for r in states]
    assert any(c == "submit_job" for _, c in api.commands)
    # starting in eclipse (orbit midnight), battery below 95 %: every board is powered off
    dark = Spacecraft(variant(default_config(), **{"orbit.initial_phase_deg": 180.0}), seed=0)
    law = WhatIfController(DeviceApiOnly(dark))  # type: ignore[arg-type]
    _run(dark, law, 5)
    assert dark.truth()["eclipse"] and dark.truth()["battery_soc"] < 0.95
    states = {str(dark.read_model(f"slot.{s:03d}").power_state) for s in range(1, 151)}
    assert states == {"off"}, f"boards not powered off in eclipse: {states}"


def test_filler_jobs_are_within_each_boards_limits() -> None:
    """A filler lasts the 600 s wanted at full speed, within the board's job limits: the
    NPU's longest mlp_inference lasts ~150 s, so its filler is a matmul; where no kernel's
    job lasts that long within the limits, the filler is the longest one that does."""
    from acme_board.photon7 import Photon7Board

    from hwsim.boards.reference import RefCpuBoard, RefGpuBoard, RefNpuBoard

    kernels = {}
    for cls in (RefGpuBoard, RefCpuBoard, RefNpuBoard, Photon7Board):
        board = cls("b", initial_temp_k=300.0)
        caps, limits = board.capabilities(), board.job_limits()
        shape = filler_shape(caps, limits, 600.0)
        assert shape is not None, f"{cls.__name__}: no filler job"
        why = limits.violation(shape.kernel, shape.size, shape.iterations)
        assert why is None, f"{cls.__name__}: filler {shape} beyond its limits: {why}"
        assert shape.duration_s == pytest.approx(600.0, rel=1e-3), f"{cls.__name__}: {shape}"
        kernels[cls.__name__] = shape.kernel
    assert kernels["RefNpuBoard"] == "matmul" and kernels["RefGpuBoard"] == "mlp_inference", kernels
    npu = RefNpuBoard("npu", initial_temp_k=300.0)
    short = npu.job_limits().model_copy(update={"max_iterations": 1000})
    shape = filler_shape(npu.capabilities(), short, 600.0)
    assert shape is not None and (shape.size, shape.iterations) == (3344, 1000), shape
    assert shape.kernel == "matmul" and shape.duration_s < 600.0, shape
