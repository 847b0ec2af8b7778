"""Plug-in boards draw their standby power from the bus, through their slot's PDU channel, and
the heat ledger closes over a day with plug-in boards (issue 8: "standby power of boards is
drawn from the bus; the heat ledger closes within 0.01 % for the plug-in configuration").

A board that is off but has supply draws its ``off_w`` (management controller) from the bus;
a slot whose channel is open (or that the bus sheds) draws nothing and its board's die cools
to its plate. The bus bills what the boards drew over each step, a job or boot ending inside a
step included, so that electrical energy into the boards = heat into the plates + heat stored.
"""

from __future__ import annotations

from typing import Any

import pytest
from computesat_sdk.contract import BoardStateError, ThermalElectricalModel

from hwsim.boards.executor import ResultsNotComputed
from hwsim.boards.slots import filler_job
from hwsim.config import SpacecraftConfig, default_config
from hwsim.spacecraft import Spacecraft

GPU = "slot.001"


def _gpu_model(sc: Spacecraft) -> ThermalElectricalModel:
    plug = sc.plugin_slots
    assert plug is not None
    board = plug.by_slot[0].board
    assert board is not None
    return board.thermal_model()


def test_an_off_board_draws_its_standby_through_its_switch() -> None:
    sc = Spacecraft(default_config(), seed=0)
    sc.run(120.0, 1.0)
    off_w = _gpu_model(sc).off_w
    sc.command(GPU, "power_off", {})
    sc.step(1.0)
    s = sc.read(GPU)
    assert (s["power_state"], s["supply"], s["power_w"]) == ("off", "on", off_w), s
    pdu = sc.registers("pdu")
    volts = pdu["bus_voltage_v"]
    assert pdu["slot_001_current_a"] == pytest.approx(off_w / volts, rel=1e-9), pdu
    assert sc.truth()["energy_j"]["compute_unbilled_standby_j"] == 0.0


def test_an_open_channel_draws_nothing_and_the_die_cools_to_its_plate() -> None:
    unpowered = Spacecraft(default_config(), seed=0)
    standby = Spacecraft(default_config(), seed=0)
    for sc in (unpowered, standby):
        sc.run(600.0, 1.0)
    busy_die_k = unpowered.read(GPU)["die_temp_k"]
    unpowered.command("pdu", "switch_off", {"switch": "slot_001"})
    standby.command(GPU, "power_off", {})
    for sc in (unpowered, standby):
        sc.run(600.0, 1.0)
    s = unpowered.read(GPU)
    assert (s["power_state"], s["supply"], s["power_w"]) == ("off", "unpowered", 0.0), s
    assert unpowered.registers("pdu")["slot_001_current_a"] == 0.0
    assert s["die_temp_k"] < busy_die_k - 5.0, s
    # die time constant R·C ≈ 29 s: after 600 s the die follows its (slowly moving) plate,
    # offset by P·R, so the board with supply sits off_w·R above the one without
    model = _gpu_model(unpowered)
    r = standby.read(GPU)
    offset_k = (r["die_temp_k"] - r["plate_temp_k"]) - (s["die_temp_k"] - s["plate_temp_k"])
    assert offset_k == pytest.approx(model.off_w * model.die_to_plate_k_per_w, rel=1e-3), (
        offset_k,
        model.off_w * model.die_to_plate_k_per_w,
    )
    assert unpowered.truth()["energy_j"]["compute_unbilled_standby_j"] == 0.0
    sc = unpowered
    # the switch closes: the board has supply at once (power_on needs no step in between)
    # and draws its standby, then what it boots with
    sc.command("pdu", "switch_on", {"switch": "slot_001"})
    sc.command(GPU, "power_on", {})
    sc.step(1.0)
    s = sc.read(GPU)
    assert (s["power_state"], s["supply"]) == ("booting", "on"), s
    assert s["power_w"] == _gpu_model(sc).idle_w, s


def test_a_board_without_supply_refuses_power_on() -> None:
    sc = Spacecraft(default_config(), seed=0)
    sc.command("pdu", "switch_off", {"switch": "slot_001"})
    sc.step(1.0)
    plug = sc.plugin_slots
    assert plug is not None
    board: Any = plug.by_slot[0].board
    assert board.supplied is False and board.power_draw_w() == 0.0
    with pytest.raises(BoardStateError, match="no supply"):
        board.power_on()


def _ledger_day(config: SpacecraftConfig, dt_s: float) -> Spacecraft:
    """Boards busy with jobs that end inside steps, some off with supply, some unpowered,
    over a day (eclipses included)."""
    sc = Spacecraft(config, seed=0)
    plug = sc.plugin_slots
    assert plug is not None
    # The jobs' timing, power and heat are the boards' model; their results (large sizes
    # within the boards' iteration limits, seconds of host work each) are not the point.
    plug.attach_executor(ResultsNotComputed())
    sc.run(120.0, dt_s)  # every board boots
    job_id = 0
    for slot in plug.by_slot.values():
        n = int(slot.slot_id)
        sid = f"slot.{slot.slot_id}"
        if n % 10 == 3:
            sc.command("pdu", "switch_off", {"switch": f"slot_{slot.slot_id}"})
            continue
        if n % 10 == 7:
            sc.command(sid, "power_off", {})
            continue
        assert slot.board is not None
        for k in range(4):  # ~1 h each, none a whole number of steps
            job_id += 1
            job = filler_job(slot.board, str(job_id), duration_s=3333.3 + 17.0 * n + k)
            assert job is not None
            args = job.model_dump(include={"kernel", "size", "seed", "iterations"})
            assert sc.command(sid, "submit_job", {"job_id": job_id, **args})["accepted"]
    sc.run(86_400.0, dt_s)
    return sc


def test_the_heat_ledger_closes_over_a_day_with_plug_in_boards(variant) -> None:
    """Electrical energy into the boards = heat radiated + stored (+ pumps, environment),
    within 0.01 % over a day; and what the bus delivered = housekeeping + pumps + boards."""
    # a battery that never sheds, so that the housekeeping draw is constant
    cfg = variant(
        default_config(),
        **{"battery.capacity_wh": 5e6, "battery.max_discharge_power_w": 1e6},
    )
    dt_s = 10.0
    sc = _ledger_day(cfg, dt_s)
    tr = sc.truth()
    e = tr["energy_j"]
    assert not tr["shed_loads"]
    assert e["compute_unbilled_standby_j"] == 0.0
    net = e["compute_heat_j"] + e["pump_heat_j"] + e["absorbed_env_j"] - e["radiated_j"]
    net -= e["parasitic_j"] + e["lost_coolant_j"]  # to the structure; leaked (none here)
    assert abs(net - tr["thermal_energy_change_j"]) <= 1e-4 * e["compute_heat_j"], (
        f"heat in {net:.6e} J, stored {tr['thermal_energy_change_j']:.6e} J"
    )
    hk_w = sum(ld.power_w for ld in cfg.power_bus.loads)
    delivered = hk_w * sc.time_s + e["pump_heat_j"] + e["compute_heat_j"]
    assert abs(e["load_j"] - delivered) <= 1e-4 * e["load_j"], (e["load_j"], delivered)
    supplied = e["array_j"] - e["battery_stored_change_j"] - e["battery_loss_j"]
    assert abs(supplied - e["load_j"]) <= 1e-9 * e["load_j"], (supplied, e["load_j"])
