"""A run starts on the thermal network's periodic orbit (``thermal.settle_at_start``), and a
dry plate stays stable at any step (the dies' exchange with their plate implicit in it).

Through the Spacecraft: the first orbit's temperatures at a phase equal the second orbit's
at that phase; nothing but the thermal state differs from an unsettled build; the ledgers
start at zero; a plate of 15 simple slots with its loop dry, stepped at 60 s, goes
monotonically to the closed-form equilibrium of its parasitic paths.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from hwsim.config import SpacecraftConfig, ThermalConfig, default_config
from hwsim.model.thermal import parasitic_equilibrium_temp_k
from hwsim.spacecraft import Spacecraft

Variant = Callable[..., SpacecraftConfig]

TOL_K = 0.1  # the brief's tolerance; the settle itself stops at settle_tolerance_k (0.05 K)


def _unsettled(cfg: SpacecraftConfig) -> SpacecraftConfig:
    return cfg.model_copy(update={"thermal": ThermalConfig(settle_at_start=False)})


def _period_s(sc: Spacecraft) -> float:
    return 2.0 * math.pi / sc._orbit.n_rad_s


def _temps(tr: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(network nodes: supply and return legs, plates, panels; every board die), K."""
    nodes = np.concatenate(
        [
            tr["loop_supply_temp_k"],
            tr["loop_return_temp_k"],
            tr["cold_plate_temp_k"],
            tr["radiator_temp_k"],
        ]
    )
    return nodes, np.asarray(tr["board_die_temp_k"], dtype=float)


def _two_orbits(sc: Spacecraft, n_phases: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Node and die temperatures at n_phases phases of the first and second orbit (1 s)."""
    period = _period_s(sc)
    nodes, dies = [], []
    for orbit in range(2):
        for k in range(n_phases):
            t = orbit * period + k * period / n_phases
            if t > sc.time_s:
                sc.run(t - sc.time_s, 1.0)
            n, d = _temps(sc.truth())
            nodes.append(n)
            dies.append(d)
    shape = (2, n_phases)
    return np.array(nodes).reshape(*shape, -1), np.array(dies).reshape(*shape, -1)


def _no_shedding(cfg: SpacecraftConfig, variant: Variant) -> SpacecraftConfig:
    # the simple AI1 at 120 kW sheds compute in eclipse (its battery cannot carry it), which
    # changes the heat from orbit to orbit; a battery that can keeps the loads of t = 0
    return variant(cfg, **{"battery.capacity_wh": 1.0e6, "battery.max_discharge_power_w": 1.0e6})


def test_the_simple_ai1_starts_on_its_periodic_orbit(ai1: SpacecraftConfig, variant) -> None:
    cfg = _no_shedding(ai1, variant)
    sc = Spacecraft(cfg)
    assert sc.settle_report, "settle_at_start is on by default"
    assert sc.settle_report[-1][2] <= cfg.thermal.settle_tolerance_k, sc.settle_report
    nodes, dies = _two_orbits(sc)
    assert float(sc.truth()["compute_power_w"]) == pytest.approx(124_500.0), "nothing shed"
    d_nodes = np.abs(nodes[1] - nodes[0])
    d_dies = np.abs(dies[1] - dies[0])
    assert d_nodes.max() < TOL_K, f"nodes: orbit 1 vs 2 differ by {d_nodes.max():.3f} K"
    assert d_dies.max() < TOL_K, f"dies: orbit 1 vs 2 differ by {d_dies.max():.3f} K"
    # and they are not trivially equal: the orbit swings the coolant by kelvins
    swing = float(np.ptp(nodes[0], axis=0).max())
    assert swing > 1.0, f"the nodes should swing over an orbit, got {swing:.2f} K at most"
    # unsettled, the first orbit is far from the second (the transient this removes)
    raw_nodes, _ = _two_orbits(Spacecraft(_unsettled(cfg)))
    assert float(np.abs(raw_nodes[1] - raw_nodes[0]).max()) > 10.0


def test_the_default_ai1_starts_on_its_periodic_orbit() -> None:
    """Plug-in boards: each starts at the settled die temperature of its plate's main kind
    (a board takes one temperature per plate at creation), so the board unlike its
    plate-mates (a ref-cpu or ref-npu among 15 ref-gpus) relaxes for its first minutes
    (τ = RC ≤ 84 s); its heat capacity is small, so the nodes are settled from the start
    and the dies from 30° of phase (8 min) on."""
    cfg = default_config()
    sc = Spacecraft(cfg)
    nodes, dies = _two_orbits(sc)
    d_nodes = np.abs(nodes[1] - nodes[0])
    assert d_nodes.max() < TOL_K, f"nodes: orbit 1 vs 2 differ by {d_nodes.max():.3f} K"
    d_dies = np.abs(dies[1, 2:] - dies[0, 2:])  # phases 30° ... 345°
    assert d_dies.max() < TOL_K, f"dies: orbit 1 vs 2 differ by {d_dies.max():.3f} K"
    # at t = 0: the ref-gpus (15 a plate) are settled; the odd board out on each plate (a
    # ref-cpu or ref-npu) starts at the ref-gpus' temperature, ~2.6 K off its own
    slots = cfg.compute.expanded_slots()
    gpu = [i for i, s in enumerate(slots) if s.board == "ref-gpu"]
    d0 = np.abs(dies[1, 0] - dies[0, 0])
    assert d0[gpu].max() < TOL_K, f"ref-gpu dies at t = 0: {d0[gpu].max():.3f} K from orbit 2"
    assert d0.max() < 3.0, f"every die at t = 0 within 3 K of orbit 2, got {d0.max():.2f} K"


def test_settling_changes_only_the_thermal_state_and_is_deterministic(
    ai1: SpacecraftConfig,
) -> None:
    settled, again, raw = (
        Spacecraft(ai1, seed=3),
        Spacecraft(ai1, seed=3),
        Spacecraft(_unsettled(ai1), seed=3),
    )
    a, b, r = settled.truth(), again.truth(), raw.truth()
    assert a == b, "same config and seed: the same settled state"
    thermal = {
        "board_die_temp_k",
        "cold_plate_temp_k",
        "loop_supply_temp_k",
        "loop_return_temp_k",
        "radiator_temp_k",
    }
    for key in r:
        if key not in thermal:
            assert a[key] == r[key], f"{key} changed by settling: {a[key]} vs {r[key]}"
    assert a["time_s"] == 0.0
    assert all(v == 0.0 for v in a["energy_j"].values()), a["energy_j"]
    assert a["thermal_energy_change_j"] == 0.0
    assert r["loop_supply_temp_k"] == [300.0, 300.0], "unsettled: the configured 300 K"
    assert min(a["loop_supply_temp_k"]) > 320.0, "settled at 120 kW: well above 300 K"
    # the sensors read the settled panels
    reading = settled.read("radsensor.P01.S1")["temp_k"]
    assert abs(reading - a["radiator_temp_k"][0]) < 1.0
    # after a day the ledger still closes (the settling's radiation and parasitic heat were
    # drained, not booked)
    settled.run(3600.0, 1.0)
    tr = settled.truth()
    e = tr["energy_j"]
    heat_in = e["compute_heat_j"] + e["pump_heat_j"] + e["absorbed_env_j"]
    heat_out = e["radiated_j"] + e["parasitic_j"] + e["lost_coolant_j"]
    residual = heat_in - heat_out - tr["thermal_energy_change_j"]
    assert abs(residual) < 1e-9 * heat_in, f"heat ledger off by {residual} J"


def test_a_dry_plate_of_15_simple_slots_is_stable_at_60_s_steps(
    ai1: SpacecraftConfig, variant: Variant
) -> None:
    """Both L1 pumps seized: CP01's 15 simple slots (30 kJ/K of dies on a 20 kJ/K plate, RC =
    16 s) at a standby 8 W each. With the dies' exchange explicit in the plate this diverged
    above ~26 s steps (b·(1 + ΣC_die/C_plate) > 2, b = 1 − e^(−dt/RC)); implicit it goes
    monotonically to the closed form of the plate's parasitic paths at any step."""
    cfg = variant(
        ai1,
        **{
            "compute.slot_groups.0.idle_w": 8.0,
            "compute.slot_groups.0.initial_utilisation": 0.0,
            "radiators.include_environment": False,
        },
    )
    sc = Spacecraft(cfg, seed=1)
    sc.inject_fault("pump_seizure", "pump.L1.A")
    sc.inject_fault("pump_seizure", "pump.L1.B")
    plate = cfg.cold_plates[0]
    slots = [s.slot_id for s in cfg.compute.expanded_slots() if s.cold_plate_id == "CP01"]
    assert len(slots) == 15
    start_k = sc.truth()["cold_plate_temp_k"][0]
    temps = []
    for _ in range(36 * 60):  # 36 h at 60 s (the plate and its dies: τ ≈ 1.8 h)
        sc.step(60.0)
        temps.append(sc._network.plate_temp_k[0])
    tr = sc.truth()
    assert tr["loop_flow_kg_s"][0] == 0.0, "L1 dry"
    q = sum(sc.read(f"slot.{s}")["power_w"] for s in slots)
    assert q == pytest.approx(15 * 8.0), "the 15 boards at standby"
    ts = cfg.structure.temp_k
    want = parasitic_equilibrium_temp_k(
        q, plate.structure_conductance_w_per_k, ts, plate.emissivity, plate.radiating_area_m2, ts
    )
    lo, hi = min(start_k, want) - 0.5, max(start_k, want) + 0.5
    assert lo <= min(temps) and max(temps) <= hi, (
        f"plate left [{lo:.1f}, {hi:.1f}] K: min {min(temps):.1f}, max {max(temps):.1f}"
    )
    steps = np.diff(temps)
    assert np.all(steps * np.sign(want - start_k) >= -1e-6), "the approach is monotone"
    assert tr["cold_plate_temp_k"][0] == pytest.approx(want, abs=0.02), (
        f"CP01 at {tr['cold_plate_temp_k'][0]} K, closed form {want} K"
    )
    die = sc.read(f"slot.{slots[0]}")["die_temp_k"]
    assert die == pytest.approx(want + 8.0 * 0.008, abs=0.05), "die at plate + P·R"
