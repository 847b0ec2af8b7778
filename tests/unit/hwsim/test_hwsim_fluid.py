"""Coolant loop physics: ṁ = Q/(c_p ΔT), pump and system curves, leaks."""

from __future__ import annotations

import pytest

from hwsim.config import LoopConfig
from hwsim.model.fluid import (
    coolant_flow_for_heat_kg_s,
    coolant_temp_rise_k,
    inventory_flow_factor,
    loop_static_pressure_kpa,
    operating_flow_kg_s,
    pump_electrical_power_w,
    pump_head_kpa,
    system_pressure_drop_kpa,
)
from hwsim.spacecraft import Spacecraft


def test_reference_flows_for_160kw_at_10k() -> None:
    water = coolant_flow_for_heat_kg_s(160e3, 4186.0, 10.0)
    cp_glycol = LoopConfig(loop_id="L1", coolant="glycol50", pumps=[{"pump_id": "A"}]).cp_j_per_kg_k
    glycol = coolant_flow_for_heat_kg_s(160e3, cp_glycol, 10.0)
    assert abs(water - 3.8) / 3.8 < 0.01
    assert abs(glycol - 4.4) / 4.4 < 0.01
    assert abs(coolant_temp_rise_k(160e3, water, 4186.0) - 10.0) < 1e-9


def test_operating_point_lies_on_both_curves() -> None:
    for n in (1, 2):
        for s in (0.3, 0.8, 1.0):
            m = operating_flow_kg_s(s, n, 500.0, 3.0, 40.0)
            pump = pump_head_kpa(m / n, s, 500.0, 3.0)
            system = system_pressure_drop_kpa(m, 40.0)
            assert abs(pump - system) / system < 1e-9
    assert operating_flow_kg_s(0.0, 1, 500.0, 3.0, 40.0) == 0.0
    assert operating_flow_kg_s(1.0, 0, 500.0, 3.0, 40.0) == 0.0


def test_pump_power_in_reference_range() -> None:
    m = operating_flow_kg_s(5000 / 6000, 1, 500.0, 3.0, 40.0)
    p = pump_electrical_power_w(m, 40.0 * m * m, 1060.0, 0.4, 30.0, 2000.0)
    assert 300.0 < p < 3000.0


def test_leak_pressure_and_cavitation_model() -> None:
    assert loop_static_pressure_kpa(1.0, 200.0) == 200.0
    assert loop_static_pressure_kpa(0.9, 200.0) == pytest.approx(100.0)
    assert inventory_flow_factor(0.9, 0.6) == 1.0
    assert inventory_flow_factor(0.6, 0.6) == 0.0
    assert 0.0 < inventory_flow_factor(0.65, 0.6) < 1.0


def test_loop_steady_state_obeys_mdot_cp_dt(ai1, variant) -> None:
    # no eclipse and a large battery: constant load, so the loop reaches steady state
    cfg = variant(
        ai1,
        **{
            "orbit.beta_deg": 80.0,
            "battery.capacity_wh": 5e6,
            "battery.max_discharge_power_w": 1e6,
        },
    )
    sc = Spacecraft(cfg, seed=0)
    sc.run(30000.0, 10.0)
    cp = cfg.loops[0].cp_j_per_kg_k
    for lp in ("L1", "L2"):
        r = sc.read(f"loop.{lp}")
        dt_k = r["return_temp_k"] - r["supply_temp_k"]
        q = r["flow_kg_s"] * cp * dt_k
        assert abs(q - r["heat_load_w"]) / r["heat_load_w"] < 0.01
        assert 1.5 < r["flow_kg_s"] < 2.5
        assert 5.0 < dt_k < 15.0
    pa, pb = sc.read("pump.L1.A"), sc.read("pump.L1.B")
    assert pa["state"] == "running" and pb["state"] == "off"
    assert abs(pa["flow_kg_s"] - sc.read("loop.L1")["flow_kg_s"]) < 1e-12


def test_starting_the_standby_pump_adds_flow(ai1) -> None:
    sc = Spacecraft(ai1, seed=0)
    sc.run(60.0, 1.0)
    f1 = sc.read("loop.L1")["flow_kg_s"]
    sc.command("pump.L1.B", "start", {})
    sc.run(60.0, 1.0)
    f2 = sc.read("loop.L1")["flow_kg_s"]
    assert f2 > f1 * 1.05
    sc.command("pump.L1.A", "stop", {})
    sc.command("pump.L1.B", "set_speed_rpm", {"speed_rpm": 6000.0})
    sc.run(60.0, 1.0)
    assert sc.read("pump.L1.A")["speed_rpm"] == 0.0
    assert sc.read("pump.L1.B")["speed_rpm"] == 6000.0
