"""Faults on plug-in boards: radiation upset mix, over-temperature, shedding."""

from __future__ import annotations

import pytest

from hwsim.boards import BoardRegistry, discover_boards
from hwsim.config import simple_config, with_boards
from hwsim.faults import FaultError
from hwsim.model.compute import plugin_upset_kind
from hwsim.spacecraft import Spacecraft


@pytest.fixture(scope="module")
def registry() -> BoardRegistry:
    return discover_boards()


def test_upset_mix_cuts_the_unit_interval() -> None:
    kinds = [plugin_upset_kind(k / 1000 + 1e-9, True, 0.15, 0.01, 0.10) for k in range(1000)]
    assert kinds.count("hang") == 10 and kinds.count("memory_ue") == 150
    assert kinds.count("bit_flip_result") == 100 and kinds.count("memory_ce") == 740
    idle = [plugin_upset_kind(k / 1000 + 1e-9, False, 0.15, 0.01, 0.10) for k in range(1000)]
    assert "bit_flip_result" not in idle and idle.count("memory_ce") == 840


def test_seu_burst_delivers_a_seeded_mix_to_plug_in_boards(registry) -> None:
    cfg = with_boards(simple_config(), {"ref-cpu": 4})

    def run(seed: int) -> list[tuple[int, int, int]]:
        sc = Spacecraft(cfg, seed=seed, registry=registry)
        sc.run(31.0, 1.0)
        for k in range(1, 5):
            sc.inject_fault("seu_burst", f"slot.{k:03d}", {"rate_multiplier": 3e5})
        sc.run(3600.0, 5.0)
        regs = [sc.read(f"slot.{k:03d}") for k in range(1, 5)]
        return [(r["seu_count"], r["correctable_errors"], r["uncorrectable_errors"]) for r in regs]

    a = run(3)
    assert a == run(3)
    seu, ce, ue = (sum(x[i] for x in a) for i in range(3))
    # ai1-simple's slots: 75 % uncorrectable, 1 % hang, 10 % bit flips (boards idle: CE)
    assert seu > 20 and ce > 0 and 0.6 < ue / seu < 0.9
    assert ce + ue <= seu


def test_board_overtemp_makes_a_plug_in_board_throttle(registry) -> None:
    cfg = with_boards(simple_config(), {"ref-gpu": 2})
    sc = Spacecraft(cfg, seed=0, registry=registry)
    sc.run(61.0, 1.0)
    for k in (1, 2):  # matmul 1024 x 15 625 000 = 3.4e16 FLOP: ~750 s on a ref-gpu
        sc.command(
            f"slot.{k:03d}",
            "submit_job",
            {"job_id": k, "kernel": "matmul", "size": 1024, "seed": 1, "iterations": 15_625_000},
        )
    # factor 6: fully throttled (~330 W) the die would settle at plate + 330 W x 6 R_die,
    # above its trip (factor 3 settles throttled at ~372 K, plate 341 K)
    sc.inject_fault("board_overtemp", "slot.001", {"resistance_factor": 6.0})
    sc.run(150.0, 1.0)  # it trips within this, then cools on its 8 W
    hot, ref = sc.read("slot.001"), sc.read("slot.002")
    assert hot["die_temp_k"] > ref["die_temp_k"] + 10.0
    # it throttles all the way down, then trips on over-temperature
    assert hot["power_state"] == "fault" and hot["fault_reason"] == "over_temperature"
    assert ref["power_state"] != "fault"
    sc.clear_fault("board_overtemp", "slot.001")
    sc.run(300.0, 1.0)
    assert sc.read("slot.001")["die_temp_k"] < hot["die_temp_k"] - 5.0


def test_board_upset_kinds_and_simple_slot_limits(registry) -> None:
    cfg = with_boards(simple_config(), {"ref-npu": 1})
    sc = Spacecraft(cfg, seed=0, registry=registry)
    sc.run(11.0, 1.0)
    sc.inject_fault("board_upset", "slot.001", {"kind": "memory_ce"})
    sc.inject_fault("board_upset", "slot.001", {"kind": "memory_ue"})
    s = sc.read("slot.001")
    assert (s["correctable_errors"], s["uncorrectable_errors"], s["seu_count"]) == (1, 1, 2)
    assert not sc.command("slot.001", "self_test", {})["checks"]["memory"]
    with pytest.raises(FaultError, match="needs a plug-in board"):
        sc.inject_fault("board_upset", "slot.002", {"kind": "hang"})
    with pytest.raises(FaultError, match="must be one of"):
        sc.inject_fault("board_upset", "slot.001", {"kind": "melt"})


def test_bus_shedding_powers_plug_in_boards_off(registry) -> None:
    cfg = with_boards(simple_config(), {"ref-gpu": 150})
    sc = Spacecraft(cfg, seed=0, registry=registry)
    sc.run(61.0, 1.0)
    for k in range(1, 151):  # matmul 2048 x 25e6 = 4.3e17 FLOP: ~9 500 s on a ref-gpu
        sc.command(
            f"slot.{k:03d}",
            "submit_job",
            {"job_id": k, "kernel": "matmul", "size": 2048, "seed": 1, "iterations": 25_000_000},
        )
    # into the first eclipse with 150 kW of busy GPUs: the battery reaches its floor
    states: set[str] = set()
    for _ in range(int(5801 / 10)):
        sc.step(10.0)
        if sc.truth()["shed_loads"]:
            states = {sc.read(f"slot.{k:03d}")["supply"] for k in range(1, 151)}
            break
    assert "shed" in states
    shed = [k for k in range(1, 151) if sc.read(f"slot.{k:03d}")["supply"] == "shed"]
    assert all(sc.read(f"slot.{k:03d}")["power_state"] == "off" for k in shed)
