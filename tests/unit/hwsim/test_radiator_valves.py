"""Radiator panel isolation valves (``radvalve.P<nn>``): the flow split over the open panels,
an isolated panel's own equilibrium, a punctured panel isolated (the loop stops draining, the
trapped coolant leaks alone, the heat ledger still closes), a blocked loop, snapshots, and
the device through the model and through the device port.

Pure functions against their closed forms first, then the wired model.
"""

from __future__ import annotations

import asyncio
import math
import struct
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import numpy as np
import pytest
import zmq
import zmq.asyncio

from hwsim.config import SpacecraftConfig, ThermalConfig
from hwsim.faults import fault_catalogue
from hwsim.model.constants import SIGMA_W_M2_K4
from hwsim.model.devices import DeviceError
from hwsim.model.fluid import (
    leak_inventory_closed_form_kg,
    leak_rate_constant,
    operating_flow_kg_s,
    orifice_area_for_flow_m2,
    panel_flow_split_kg_s,
)
from hwsim.model.thermal import isolated_panel_equilibrium_temp_k
from hwsim.ports import PortServer, device_handler
from hwsim.snapshot import FORMAT_VERSION, SnapshotError, load_snapshot, write_snapshot
from hwsim.spacecraft import Spacecraft
from icd.devices import DEVICE_KINDS, RadValveRegisters, kind_of, parse_registers
from runtime.clock import WallClock
from runtime.ports import DevicePort, DevicePortError

Variant = Callable[..., SpacecraftConfig]

# --------------------------------------------------------------------------- pure functions


def test_flow_splits_equally_over_the_open_panels() -> None:
    """Two loops of four panels: one panel of L1 closed gives the other three ṁ/3 each (sum
    ṁ), all of L2 closed give zero; all open, ṁ/4 each."""
    loop_flow = np.array([1.9, 2.4])
    panel_loop = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    all_open = panel_flow_split_kg_s(loop_flow, panel_loop, np.ones(8, dtype=bool))
    assert np.array_equal(all_open, np.repeat(loop_flow / 4.0, 4)), all_open
    valves = np.array([True, True, False, True, False, False, False, False])
    split = panel_flow_split_kg_s(loop_flow, panel_loop, valves)
    want = [1.9 / 3, 1.9 / 3, 0.0, 1.9 / 3, 0.0, 0.0, 0.0, 0.0]
    assert split.tolist() == pytest.approx(want, rel=1e-15), split
    assert split[:4].sum() == pytest.approx(1.9, rel=1e-15), "the open panels carry the loop"


def test_isolated_panel_equilibrium_closed_forms() -> None:
    """Without the hinge the isolated panel's equilibrium is (Q/(εσA))^¼; with it the root
    satisfies Q = εσA·T⁴ + G·(T − T_s) to rounding."""
    q, eps, area = 5000.0, 0.875, 27.5
    t_rad = (q / (eps * SIGMA_W_M2_K4 * area)) ** 0.25
    assert isolated_panel_equilibrium_temp_k(q, 0.0, 290.0, eps, area) == pytest.approx(
        t_rad, rel=1e-14
    )
    for g, q in ((1.0, 0.0), (1.0, 5000.0), (50.0, 800.0)):
        t = isolated_panel_equilibrium_temp_k(q, g, 290.0, eps, area)
        balance = eps * SIGMA_W_M2_K4 * area * t**4 + g * (t - 290.0)
        assert balance == pytest.approx(q, abs=1e-9 * max(q, 1.0)), (g, q, t, balance)


# --------------------------------------------------------------------------- wired model


def _panel_flows(sc: Spacecraft, panels: range) -> list[float]:
    return [sc.read(f"radvalve.P{k:02d}")["flow_kg_s"] for k in panels]


def test_a_closed_valve_takes_the_panel_out_of_its_loops_flow(ai1: SpacecraftConfig) -> None:
    """P03 closed: L1's flow (its system curve is the loop's) splits over P01, P02, P04; the
    network gives P03 no coolant heat (it cools away from the other three); opened again,
    the flow is back on four panels."""
    sc = Spacecraft(ai1, seed=2)
    sc.run(60.0, 1.0)
    loop_flow = sc.read("loop.L1")["flow_kg_s"]
    assert _panel_flows(sc, range(1, 5)) == pytest.approx([loop_flow / 4] * 4, rel=1e-12)
    before = sc.read("radvalve.P03")
    assert before == {"open": True, "commanded_open": True, "flow_kg_s": before["flow_kg_s"]}
    after = sc.command("radvalve.P03", "close", {})
    assert after == {"open": False, "commanded_open": False, "flow_kg_s": 0.0}, after
    assert sc.read("loop.L1")["flow_kg_s"] == loop_flow, "the loop's flow is the loop's"
    want = [loop_flow / 3, loop_flow / 3, 0.0, loop_flow / 3]
    assert _panel_flows(sc, range(1, 5)) == pytest.approx(want, rel=1e-12)
    assert _panel_flows(sc, range(5, 9)) == pytest.approx(
        [sc.read("loop.L2")["flow_kg_s"] / 4] * 4, rel=1e-12
    ), "L2's panels are not L1's business"
    t0 = sc.truth()["radiator_temp_k"]
    sc.run(1800.0, 1.0)
    t1 = sc.truth()["radiator_temp_k"]
    # the isolated panel radiates its heat and gets none: it cools by tens of kelvin, while
    # the open ones of its loop stay near the loop's return temperature
    assert t1[2] < t0[2] - 30.0, f"P03 should cool when isolated: {t0[2]} K -> {t1[2]} K"
    assert min(t1[0], t1[1], t1[3]) > t1[2] + 30.0, t1
    assert sc.command("radvalve.P03", "close", {})["open"] is False, "closing twice is no change"
    sc.command("radvalve.P03", "open", {})
    assert _panel_flows(sc, range(1, 5)) == pytest.approx([loop_flow / 4] * 4, rel=1e-12)
    sc.run(1800.0, 1.0)
    t2 = sc.truth()["radiator_temp_k"]
    assert abs(t2[2] - t2[0]) < 2.0, f"reopened, P03 rejoins its loop: {t2[:4]}"


def test_an_isolated_panel_settles_at_its_closed_form(
    ai1: SpacecraftConfig, variant: Variant
) -> None:
    """With no environment (so its balance is steady while the loop's load swings with
    eclipses), isolated P03 settles where its hinge conduction from the 290 K structure is
    radiated to space: isolated_panel_equilibrium_temp_k(0, G, T_s, ε, 2A) ≈ 107.5 K, within
    0.01 K after two days at 10 s steps (the emission's operator splitting biases the
    stepped equilibrium by O(dt): 0.002 K at 10 s)."""
    cfg = variant(ai1, **{"radiators.include_environment": False})
    sc = Spacecraft(cfg, seed=1, settle_step_s=10.0)
    sc.command("radvalve.P03", "close", {})
    sc.run(2 * 86400.0, 10.0)
    p = cfg.radiators.panels[2]
    want = isolated_panel_equilibrium_temp_k(
        0.0, p.structure_conductance_w_per_k, cfg.structure.temp_k, p.emissivity, 2 * 13.75
    )
    got = sc.truth()["radiator_temp_k"][2]
    assert got == pytest.approx(want, abs=0.01), f"isolated P03 at {got} K, closed form {want} K"
    assert 100.0 < want < 115.0, want


def test_a_loop_with_every_panel_closed_is_blocked(ai1: SpacecraftConfig) -> None:
    """All four of L1's panels closed: no flow (the pumps dead-head at their shut-off head,
    drawing their idle power); one reopened, the loop's operating flow is back, whole, on
    that panel."""
    sc = Spacecraft(ai1, seed=0)
    sc.run(30.0, 1.0)
    flow = sc.read("loop.L1")["flow_kg_s"]
    for k in range(1, 5):
        sc.command(f"radvalve.P{k:02d}", "close", {})
    loop = sc.read("loop.L1")
    pump = sc.read("pump.L1.A")
    pc = ai1.loops[0].pumps[0]
    s = pump["speed_rpm"] / pc.max_speed_rpm
    assert loop["flow_kg_s"] == 0.0 and pump["flow_kg_s"] == 0.0, (loop, pump)
    assert loop["delta_p_kpa"] == pytest.approx(pc.max_pressure_kpa * s * s, rel=1e-12), loop
    assert pump["power_w"] == pc.idle_power_w, pump
    assert sc.read("loop.L2")["flow_kg_s"] > 1.0, "L2 flows on"
    sc.command("radvalve.P02", "open", {})
    assert sc.read("loop.L1")["flow_kg_s"] == pytest.approx(flow, rel=1e-12)
    assert _panel_flows(sc, range(1, 5)) == pytest.approx([0.0, flow, 0.0, 0.0], rel=1e-12)
    k_sys = ai1.loops[0].pressure_drop_at_design_flow_kpa / ai1.loops[0].design_flow_kg_s ** 2
    assert flow == pytest.approx(
        operating_flow_kg_s(s, 1, pc.max_pressure_kpa, pc.max_flow_kg_s, k_sys), rel=1e-9
    ), "the loop's own operating point (system curve unchanged by the valves)"


def test_a_punctured_panel_isolated_after_an_hour_over_a_day(ai1: SpacecraftConfig) -> None:
    """radiator.P03 punctured at 10 min (0.01 kg/s at the fill pressure) and isolated an hour
    later: until then L1 drains on its closed form; from the close its inventory and pressure
    hold, exactly, for the rest of the day, and the 5 kg trapped in the panel leak alone on
    the closed form of the same hole at the pressure they were trapped at,
    m(t) = (√m₀ − k·t/2)² with k = C_d·A·√(2ρP_trap/m₀); the panel's heat capacity falls by
    the coolant's. Over the day the heat ledger (with the lost coolant's enthalpy) closes
    within 0.01 % (in fact to rounding)."""
    lp = ai1.loops[0]
    assert lp.accumulator_exponent == 1.0, "the closed forms below are for n = 1"
    panel = ai1.radiators.panels[2]
    m_inv0, p_fill = lp.inventory_kg, lp.nominal_pressure_kpa * 1e3
    rate, t_fault, t_close = 0.01, 600.0, 600.0 + 3600.0
    cd, rho = lp.leak_discharge_coefficient, lp.rho_kg_m3
    area = orifice_area_for_flow_m2(rate, cd, rho, p_fill)
    k_loop = leak_rate_constant(cd, area, rho, m_inv0, p_fill)
    sc = Spacecraft(ai1, seed=3)
    sc.inject_fault("radiator_puncture", "radiator.P03", {"leak_rate_kg_s": rate}, t_fault)
    sc.run(t_close, 2.0)
    held = sc.read("loop.L1")
    want = leak_inventory_closed_form_kg(m_inv0, t_close - t_fault, k_loop)
    assert held["inventory_kg"] == pytest.approx(want, rel=1e-9), held
    sc.command("radvalve.P03", "close", {})
    m_trap, p_trap = panel.coolant_mass_kg, held["pressure_kpa"] * 1e3
    k_trap = leak_rate_constant(cd, area, rho, m_trap, p_trap)
    c_full = panel.thermal_mass_j_per_k
    dt = 2.0
    while sc.time_s < 86400.0:
        sc.run(600.0, dt)
        loop = sc.read("loop.L1")
        assert loop["inventory_kg"] == held["inventory_kg"], f"t={sc.time_s}: the loop drains"
        assert loop["pressure_kpa"] == held["pressure_kpa"], f"t={sc.time_s}: pressure falls"
        trapped = sc.truth()["radiator_coolant_kg"][2]
        want = leak_inventory_closed_form_kg(m_trap, sc.time_s - t_close, k_trap)
        assert trapped == pytest.approx(want, rel=1e-9, abs=1e-9), f"t={sc.time_s}: {trapped}"
    assert trapped == 0.0, "the trapped coolant is all gone within the day"
    lost_c = c_full - sc._radiators.c_j_per_k[2]
    assert lost_c == pytest.approx(m_trap * lp.cp_j_per_kg_k, rel=1e-12), lost_c
    assert sc.truth()["radiator_coolant_kg"][:2] == [m_trap, m_trap], "open panels stay full"
    tr = sc.truth()
    e = tr["energy_j"]
    heat_in = e["compute_heat_j"] + e["pump_heat_j"] + e["absorbed_env_j"]
    heat_out = e["radiated_j"] + e["parasitic_j"] + e["lost_coolant_j"]
    residual = heat_in - heat_out - tr["thermal_energy_change_j"]
    assert abs(residual) < 1e-4 * heat_in, f"ledger off by {residual / heat_in:.2e}"
    assert abs(residual) < 1e-9 * heat_in, f"ledger off by {residual / heat_in:.2e}"
    # the enthalpy that left: the loop's coolant until the close and the panel's 5 kg, all
    # between 250 and 360 K
    lost_kg = m_inv0 - held["inventory_kg"] + m_trap
    cp = lp.cp_j_per_kg_k
    assert 250.0 * lost_kg * cp < e["lost_coolant_j"] < 360.0 * lost_kg * cp, e


def test_reopening_a_punctured_panel_drains_the_loop_again(ai1: SpacecraftConfig) -> None:
    """Closed before the puncture, the panel keeps the loop whole (only its own coolant
    leaks); opened, the hole is the loop's again; the fault cleared, the loop holds."""
    sc = Spacecraft(ai1, seed=4)
    sc.command("radvalve.P02", "close", {})
    sc.inject_fault("radiator_puncture", "radiator.P02", {"leak_rate_kg_s": 0.02})
    m0 = sc.read("loop.L1")["inventory_kg"]
    sc.run(600.0, 1.0)
    assert sc.read("loop.L1")["inventory_kg"] == m0
    assert sc.truth()["radiator_coolant_kg"][1] < ai1.radiators.panels[1].coolant_mass_kg
    sc.command("radvalve.P02", "open", {})
    sc.run(600.0, 1.0)
    m1 = sc.read("loop.L1")["inventory_kg"]
    assert m0 - 13.0 < m1 < m0 - 9.0, f"~0.02 kg/s x 600 s out of the loop, got {m0 - m1} kg"
    sc.clear_fault("radiator_puncture", "radiator.P02")
    sc.run(600.0, 1.0)
    assert sc.read("loop.L1")["inventory_kg"] == m1, "the hole closed with the fault"


# --------------------------------------------------------------------------- device, ICD


def test_the_valve_through_the_model_and_the_icd(ai1: SpacecraftConfig) -> None:
    sc = Spacecraft(ai1, seed=0)
    ids = [d for d in sc.device_ids() if d.startswith("radvalve.")]
    assert ids == [f"radvalve.P{k:02d}" for k in range(1, 9)], ids
    assert kind_of("radvalve.P03") is DEVICE_KINDS["radvalve"]
    desc = sc.describe("radvalve.P03")
    assert desc.kind == "radvalve" and set(desc.commands) == {"open", "close"}, desc
    assert desc.registers["flow_kg_s"].unit == "kg/s"
    raw = sc.read("radvalve.P03")
    assert isinstance(parse_registers("radvalve.P03", raw), RadValveRegisters)
    for command, args, code in (
        ("jam", {}, "unknown_command"),
        ("close", {"force": True}, "bad_argument"),
    ):
        with pytest.raises(DeviceError) as refused:
            sc.command("radvalve.P03", command, args)
        assert refused.value.code == code, (command, refused.value)
    with pytest.raises(DeviceError) as refused:
        sc.read("radvalve.P09")
    assert refused.value.code == "unknown_device"
    assert sc.read("radvalve.P03")["open"] is True, "a refused command changes nothing"
    spec = {f.id: f for f in fault_catalogue()}["radiator_puncture"]
    assert "radvalve.P<nn> close" in spec.fdir_response, spec.fdir_response


@pytest.fixture
async def device_port(ai1: SpacecraftConfig) -> AsyncIterator[DevicePort]:
    model = Spacecraft(ai1, seed=1)
    clock = WallClock(speed=10)
    context = zmq.asyncio.Context()
    try:
        async with (
            PortServer(
                context, "tcp://127.0.0.1:0", clock, device_handler(model, clock), "devices"
            ) as server,
            # a bound for a lost reply (60 wall s at x10), not a window a loaded host could miss
            DevicePort(context, server.endpoint, clock, timeout_s=600) as port,
        ):
            serving = asyncio.ensure_future(server.serve())
            try:
                yield port
            finally:
                serving.cancel()
                await asyncio.gather(serving, return_exceptions=True)
    finally:
        context.destroy(linger=0)


async def test_the_valve_through_the_device_port(device_port: DevicePort) -> None:
    """radvalve.P03 listed, described, read and closed through the device port; a bad command
    and a bad argument are refused with their error codes and the port keeps serving."""
    assert "radvalve.P03" in await device_port.list()
    desc = await device_port.describe("radvalve.P03")
    assert desc["kind"] == "radvalve" and "close" in desc["commands"], desc
    assert (await device_port.read("radvalve.P03"))["open"] is True
    await device_port.command("radvalve.P03", "close")
    closed = await device_port.read("radvalve.P03")
    assert closed == {"open": False, "commanded_open": False, "flow_kg_s": 0.0}, closed
    opened_flow = (await device_port.read("radvalve.P01"))["flow_kg_s"]
    loop_flow = (await device_port.read("loop.L1"))["flow_kg_s"]
    assert opened_flow == pytest.approx(loop_flow / 3, rel=1e-12)
    for command, args, code in (
        ("stick", None, "unknown_command"),
        ("open", {"percent": 50}, "bad_argument"),
    ):
        with pytest.raises(DevicePortError) as refused:
            await device_port.command("radvalve.P03", command, args)
        assert refused.value.code == code, (command, refused.value)
    assert (await device_port.read("radvalve.P03"))["open"] is False, "refusals change nothing"


# --------------------------------------------------------------------------- snapshots


def test_snapshots_carry_the_valves(ai1: SpacecraftConfig, tmp_path: Path) -> None:
    """A model with P03 closed and punctured (its trapped coolant leaking) and all of L2's
    panels closed: restored, it continues bit for bit, valves and trapped coolant included;
    a snapshot of the format before the valves (3) is refused with a reason."""
    cfg = ai1.model_copy(update={"thermal": ThermalConfig(settle_at_start=False)})
    sc = Spacecraft(cfg, seed=5)
    sc.inject_fault("radiator_puncture", "radiator.P03", {"leak_rate_kg_s": 0.01})
    sc.run(120.0, 1.0)
    sc.command("radvalve.P03", "close", {})
    for k in range(5, 9):
        sc.command(f"radvalve.P{k:02d}", "close", {})
    sc.run(60.0, 1.0)
    path = tmp_path / "valves.snap"
    write_snapshot(sc, path)
    _, restored = load_snapshot(path, cfg)
    for model in (sc, restored):
        model.run(300.0, 1.0)
    valves = [f"radvalve.P{k:02d}" for k in range(1, 9)]
    assert [restored.read(v) for v in valves] == [sc.read(v) for v in valves]
    assert restored.truth() == sc.truth(), "truth() differs after the restore"
    assert sc.truth()["radiator_valve_open"] == [True, True, False, True] + [False] * 4
    assert 0.0 < sc.truth()["radiator_coolant_kg"][2] < 5.0, "the trapped coolant leaks"
    assert restored.read("loop.L2")["flow_kg_s"] == 0.0, "L2 stays blocked"
    assert FORMAT_VERSION == 4
    data = bytearray(path.read_bytes())
    struct.pack_into(">H", data, 8, 3)
    old = tmp_path / "v3.snap"
    old.write_bytes(bytes(data))
    with pytest.raises(SnapshotError) as refused:
        load_snapshot(old, cfg)
    assert (refused.value.expected, refused.value.got) == ("4", "3"), refused.value
    assert "format version" in str(refused.value)


def test_config_refuses_a_panel_whose_coolant_outweighs_it(ai1: SpacecraftConfig, variant):
    with pytest.raises(ValueError, match=r"panel P01: its coolant .* must hold less"):
        variant(ai1, **{"radiators.panels.0.coolant_mass_kg": 40.0})
    assert math.isclose(
        variant(ai1, **{"radiators.panels.0.coolant_mass_kg": 0.0})
        .radiators.panels[0]
        .coolant_mass_kg,
        0.0,
    )


def test_isolating_panels_one_at_a_time_finds_the_punctured_one(ai1: SpacecraftConfig) -> None:
    """What flight software can do without a pressure per panel: P03 leaks; closing P01 (the
    wrong one) leaves L1 draining, closing P03 holds it at once, and P01 reopened, L1 still
    holds on three panels."""
    sc = Spacecraft(ai1, seed=6)
    sc.inject_fault("radiator_puncture", "radiator.P03", {"leak_rate_kg_s": 0.01})
    sc.run(60.0, 1.0)
    sc.command("radvalve.P01", "close", {})
    m0 = sc.read("loop.L1")["inventory_kg"]
    sc.run(60.0, 1.0)
    m1 = sc.read("loop.L1")["inventory_kg"]
    assert m1 < m0 - 0.4, f"the wrong panel closed, L1 still drains: {m0} -> {m1} kg"
    sc.command("radvalve.P03", "close", {})
    sc.command("radvalve.P01", "open", {})
    sc.run(60.0, 1.0)
    assert sc.read("loop.L1")["inventory_kg"] == m1, "P03 isolated, L1 holds"
    assert sc.read("radvalve.P01")["flow_kg_s"] == pytest.approx(
        sc.read("loop.L1")["flow_kg_s"] / 3, rel=1e-12
    )
