"""The off-nominal thermal, fluid and sensor physics wired into the subsystems, checked through
the Spacecraft against closed forms and the energy ledger:

- thermal_network: every node's parasitic path (a dry loop settles at the closed-form
  equilibrium of its paths);
- loops: the leak through an orifice at the accumulator's pressure (inventory on its closed
  form, pressure and inventory reaching zero together, the ledger closing with the lost
  coolant's enthalpy), a seized pump's stall power as heat;
- radiators: every sensor reading on its ADC grid, noise from the counter-based stream.

The pure functions themselves are tested in test_physics_*.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from hwsim.config import SpacecraftConfig
from hwsim.model.fluid import (
    leak_inventory_closed_form_kg,
    leak_rate_constant,
    orifice_area_for_flow_m2,
)
from hwsim.model.thermal import parasitic_equilibrium_temp_k
from hwsim.spacecraft import Spacecraft

Variant = Callable[..., SpacecraftConfig]

# --------------------------------------------------------------------------- parasitic paths


def _ledger_residual(sc: Spacecraft) -> tuple[float, dict[str, float]]:
    """in − out − Δstored of the heat ledger, J, and the ledger."""
    tr = sc.truth()
    e = tr["energy_j"]
    heat_in = e["compute_heat_j"] + e["pump_heat_j"] + e["absorbed_env_j"]
    heat_out = e["radiated_j"] + e["parasitic_j"] + e["lost_coolant_j"]
    return heat_in - heat_out - tr["thermal_energy_change_j"], e


@pytest.mark.parametrize("how", ["pumps_seized", "inventory_gone"])
def test_a_dry_loop_settles_at_the_closed_form_of_its_parasitic_paths(
    ai1: SpacecraftConfig, variant: Variant, how: str
) -> None:
    """Loop L1 loses its flow (both pumps seized, or its coolant leaked out) with one board
    per plate left on: each plate settles where its boards' heat leaves by conduction and
    radiation to the structure, each coolant leg where its pump heat does, each panel where
    its hinge conduction from the structure is radiated to space (no environment, so the
    equilibrium is steady). Before the parasitic paths an empty loop's return line reached
    670 K and its plates 400 K."""
    cfg = variant(ai1, **{"radiators.include_environment": False, "orbit.beta_deg": 80.0})
    sc = Spacecraft(cfg, seed=1)
    leg_start_k = {k: sc.truth()[k][0] for k in ("loop_return_temp_k", "loop_supply_temp_k")}
    l1_plates = [i for i, p in enumerate(cfg.cold_plates) if p.loop_id == "L1"]
    plate_ids = {cfg.cold_plates[i].plate_id for i in l1_plates}
    kept: set[str] = set()
    for s in cfg.compute.expanded_slots():
        if s.cold_plate_id in plate_ids:
            if s.cold_plate_id in kept:
                sc.command(f"slot.{s.slot_id}", "power_off", {})
            else:  # one board per plate at idle (150 W), its "standby"
                sc.command(f"slot.{s.slot_id}", "set_utilisation", {"value": 0.0})
            kept.add(s.cold_plate_id)
    if how == "pumps_seized":
        sc.inject_fault("pump_seizure", "pump.L1.A")
        sc.inject_fault("pump_seizure", "pump.L1.B")
    else:
        sc.inject_fault("radiator_puncture", "radiator.P01", {"leak_rate_kg_s": 0.2})
    # (5 s: the dies' exchange with their plate is explicit in the plate temperature, stable
    # with a dry plate while Σ C_die/dt·(1 − e^(−dt/RC)) stays below the plate's C/dt)
    sc.run(3 * 86400.0, 5.0)
    tr = sc.truth()
    assert tr["loop_flow_kg_s"][0] == 0.0
    ts = cfg.structure.temp_k
    # plates: their boards' heat (the slots' served power) through the plate's paths
    power_by_plate = dict.fromkeys(plate_ids, 0.0)
    for s in cfg.compute.expanded_slots():
        if s.cold_plate_id in plate_ids:
            power_by_plate[s.cold_plate_id] += sc.read(f"slot.{s.slot_id}")["power_w"]
    for i in l1_plates:
        p = cfg.cold_plates[i]
        q = power_by_plate[p.plate_id]
        assert q == pytest.approx(150.0), f"{p.plate_id} keeps one board on, idle"
        want = parasitic_equilibrium_temp_k(
            q, p.structure_conductance_w_per_k, ts, p.emissivity, p.radiating_area_m2, ts
        )
        got = tr["cold_plate_temp_k"][i]
        assert got == pytest.approx(want, abs=0.02), f"{p.plate_id}: {got} K, closed form {want} K"
    # coolant legs: the return (hot) leg holds the pumps' heat (a running pump's controller
    # in an empty loop; nothing once both are seized and their channels tripped)
    lp = cfg.loops[0]
    pump_w = sum(sc.read(f"pump.L1.{p.pump_id}")["power_w"] for p in lp.pumps)
    if how == "pumps_seized":
        assert pump_w == 0.0, "the seized pumps' channels tripped"
    else:
        assert pump_w == pytest.approx(lp.pumps[0].idle_power_w)
    leg = (lp.line_structure_conductance_w_per_k, ts, lp.line_emissivity)
    want_hot = parasitic_equilibrium_temp_k(pump_w, *leg, lp.line_radiating_area_m2, ts)
    want_cold = parasitic_equilibrium_temp_k(0.0, *leg, lp.line_radiating_area_m2, ts)
    if how == "inventory_gone":  # legs of 1 % inventory (the wall film): τ ≈ 15 min
        assert tr["loop_return_temp_k"][0] == pytest.approx(want_hot, abs=0.02)
        assert tr["loop_supply_temp_k"][0] == pytest.approx(want_cold, abs=0.02)
    else:  # full legs (272 kJ/K on ~3.3 W/K: τ ≈ 1 day) are still on their way, from above
        for leg in ("loop_return_temp_k", "loop_supply_temp_k"):
            excess = tr[leg][0] - want_cold
            assert 0.0 < excess < 0.1 * (leg_start_k[leg] - want_cold), (leg, excess)
    # panels of L1: hinge conduction from the structure out through εσT⁴ to deep space
    for k, panel in enumerate(cfg.radiators.panels):
        if panel.loop_id != "L1":
            continue
        want = parasitic_equilibrium_temp_k(
            0.0,
            panel.structure_conductance_w_per_k,
            ts,
            panel.emissivity,
            panel.area_per_face_m2 * panel.faces,
            0.0,
        )
        got = tr["radiator_temp_k"][k]
        assert got == pytest.approx(want, abs=0.05), f"{panel.panel_id}: {got} K vs {want} K"
    residual, e = _ledger_residual(sc)
    assert abs(residual) < 1e-6 * e["compute_heat_j"], f"ledger off by {residual} J"


def test_parasitic_heat_is_in_the_ledger_on_the_healthy_path(ai1: SpacecraftConfig) -> None:
    """An orbit of the healthy AI1: the structure takes a few kW (~2 % of the compute heat),
    and the ledger closes to rounding with it."""
    sc = Spacecraft(ai1, seed=0)
    sc.run(5801.0, 1.0)
    residual, e = _ledger_residual(sc)
    assert 0.005 < e["parasitic_j"] / e["compute_heat_j"] < 0.05, e
    assert abs(residual) < 1e-9 * e["compute_heat_j"], f"ledger off by {residual} J"


# --------------------------------------------------------------------------- leak


def test_a_day_with_a_leak_closes_the_ledger_and_follows_the_closed_form(
    ai1: SpacecraftConfig,
) -> None:
    """radiator.P01 punctured at 1 h (0.01 kg/s at the 200 kPa fill pressure, a 0.8 mm²
    hole) and pump L2.A seized at 2 h: the inventory follows m(t) = (√m₀ − k·t/2)², the
    pressure P_fill·m/m_fill, both zero together; over the day the heat ledger, with the
    enthalpy of the lost coolant and the stall heat of the seized pump, closes within 0.01 %
    (in fact to rounding)."""
    lp = ai1.loops[0]
    m0, p_fill = lp.inventory_kg, lp.nominal_pressure_kpa * 1e3
    rate = 0.01
    area = orifice_area_for_flow_m2(rate, lp.leak_discharge_coefficient, lp.rho_kg_m3, p_fill)
    k = leak_rate_constant(lp.leak_discharge_coefficient, area, lp.rho_kg_m3, m0, p_fill)
    assert k * math.sqrt(m0) == pytest.approx(rate, rel=1e-12)
    sc = Spacecraft(ai1, seed=3)
    t_fault = 3600.0
    sc.inject_fault("radiator_puncture", "radiator.P01", {"leak_rate_kg_s": rate}, t_fault)
    sc.inject_fault("pump_seizure", "pump.L2.A", at_time_s=2 * 3600.0)
    emptied = None
    dt = 2.0
    while sc.time_s < 86400.0:
        sc.run(600.0, dt)
        loop = sc.read("loop.L1")
        m = loop["inventory_kg"]
        want = leak_inventory_closed_form_kg(m0, max(0.0, sc.time_s - t_fault), k)
        assert m == pytest.approx(want, rel=1e-9, abs=1e-9), f"t={sc.time_s}: {m} kg vs {want}"
        assert loop["pressure_kpa"] == pytest.approx(p_fill / 1e3 * m / m0, rel=1e-12)
        if m == 0.0 and emptied is None:
            emptied = sc.time_s
            assert loop["pressure_kpa"] == 0.0, "an empty loop reads 0 kPa"
    t_empty = t_fault + 2.0 * math.sqrt(m0) / k
    assert emptied is not None and t_empty <= emptied < t_empty + 600.0 + dt
    residual, e = _ledger_residual(sc)
    through = e["compute_heat_j"] + e["pump_heat_j"] + e["absorbed_env_j"]
    assert abs(residual) < 1e-4 * through, f"ledger off by {residual / through:.2e}"
    assert abs(residual) < 1e-9 * through, f"ledger off by {residual / through:.2e}"
    # the lost enthalpy: the coolant above the 1 % wall film, at the legs' temperatures
    lost_kg = 0.99 * m0
    cp = lp.cp_j_per_kg_k
    assert 250.0 * lost_kg * cp < e["lost_coolant_j"] < 360.0 * lost_kg * cp, e


def test_a_seized_pump_stall_power_heats_its_loop(ai1: SpacecraftConfig) -> None:
    """The stall power billed on the bus is the heat the loop's network receives until the
    channel trips, then both are zero."""
    sc = Spacecraft(ai1, seed=0)
    sc.run(60.0, 1.0)
    sc.inject_fault("pump_seizure", "pump.L1.A")
    sc.step(1.0)
    stall = sc.read("pump.L1.A")["power_w"]
    assert stall == ai1.loops[0].pumps[0].max_power_w
    assert sc.read("loop.L1")["heat_load_w"] >= stall, "the stall heat is in the loop's load"
    e0 = sc.truth()["energy_j"]["pump_heat_j"]
    sc.step(1.0)
    billed_w = sc.truth()["pump_power_w"]  # the stall and L2's running pump
    assert billed_w > stall
    assert sc.truth()["energy_j"]["pump_heat_j"] - e0 == pytest.approx(billed_w, rel=1e-12)
    sc.run(120.0, 1.0)
    assert sc.registers("pdu")["pump_L1_A_tripped"]
    assert sc.read("pump.L1.A")["power_w"] == 0.0
    residual, e = _ledger_residual(sc)
    assert abs(residual) < 1e-9 * e["compute_heat_j"]


# --------------------------------------------------------------------------- sensors


def _on_grid(v: float, lsb: float) -> bool:
    return abs(v / lsb - round(v / lsb)) < 1e-6


def test_every_reading_is_on_the_adc_grid(ai1: SpacecraftConfig) -> None:
    """Healthy, stuck (at an off-grid value), drifting, noisy and dead sensors all read
    multiples of the 0.1 K LSB."""
    sc = Spacecraft(ai1, seed=5)
    sc.run(120.0, 1.0)
    sc.inject_fault("sensor_stuck", "radsensor.P01.S1", {"value_k": 271.234})
    sc.inject_fault("sensor_drift", "radsensor.P02.S1", {"rate_k_per_hour": 7.3})
    sc.inject_fault("sensor_noisy", "radsensor.P03.S1", {"noise_std_k": 4.0})
    sc.inject_fault("sensor_dead", "radsensor.P04.S1")
    sensors = [d for d in sc.device_ids() if d.startswith("radsensor.")]
    lsb = ai1.radiators.panels[0].sensors[0].quantisation_k
    for _ in range(300):
        sc.step(1.7)
        for d in sensors:
            v = sc.read(d)["temp_k"]
            assert _on_grid(v, lsb), f"{d} reads {v!r}, off the {lsb} K grid"
    assert sc.read("radsensor.P01.S1")["temp_k"] == 271.2, "stuck on the grid"
    assert sc.read("radsensor.P04.S1")["temp_k"] == 0.0


def test_readings_do_not_depend_on_how_often_they_are_read(ai1: SpacecraftConfig) -> None:
    """Two runs of one seed, one reading every sensor every step, the other every 30 s:
    at the common times every reading, and the truth, are identical."""
    sensors = [d for d in Spacecraft(ai1).device_ids() if d.startswith("radsensor.")]

    def run(every_s: int) -> dict[int, list[float]]:
        sc = Spacecraft(ai1, seed=11)
        sc.inject_fault("sensor_noisy", "radsensor.P02.S2", {"noise_std_k": 3.0}, 100.0)
        sc.inject_fault("sensor_drift", "radsensor.P05.S3", {"rate_k_per_hour": 5.0}, 200.0)
        out: dict[int, list[float]] = {}
        for t in range(1, 601):
            sc.step(1.0)
            if t % every_s == 0:
                out[t] = [sc.read(d)["temp_k"] for d in sensors]
                if every_s == 1:  # read twice, in reverse order: no effect either
                    list(reversed([sc.read(d)["temp_k"] for d in reversed(sensors)]))
        out[-1] = sc.truth()["radiator_temp_k"]
        return out

    every_step, every_30 = run(1), run(30)
    for t, values in every_30.items():
        assert values == every_step[t], f"t={t}: readings differ"
    noisy = [every_step[t][sensors.index("radsensor.P02.S2")] for t in range(101, 601)]
    assert np.std(np.diff(noisy)) > 2.0, "the noisy sensor's noise is fresh every sample"
