"""What-if runner: durations, fault schedules, overrides, bad input, outputs and margins.

The runs are flown by the real flight software (``computesat.whatif``: hwsim and every
flight-software service in one process on the stepped clock); a mission second costs the
services' 1 Hz cycles, so the runs here are short and one run serves several tests."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from computesat.whatif import add_arguments, main, run_whatif
from hwsim.config import default_config, simple_config_path
from hwsim.scenario import (
    Overrides,
    ScenarioError,
    apply_overrides,
    check_faults,
    load_scenario,
    parse_board_mix,
    parse_fault,
)
from hwsim.spacecraft import Spacecraft
from hwsim.whatif import parse_duration

# A hang guard, not a window: a flown run costs the flight software's 1 Hz cycles, and the
# shared module run below is charged to the first test that asks for it.
pytestmark = pytest.mark.timeout(900)

REPO = Path(__file__).resolve().parents[3]
SAMPLE = REPO / "examples" / "scenarios" / "pump_radiator_sensor_day.toml"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1d", 86400.0),
        ("90m", 5400.0),
        ("3600s", 3600.0),
        ("2h", 7200.0),
        ("42", 42.0),
        ("0.5h", 1800.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1y", "-5s", "0s", "h", "1.2.3m", "1 d x"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(text)


def test_parse_fault_forms() -> None:
    f = parse_fault("pump_seizure pump.L1.A at 2h")
    assert (f.fault, f.target, f.at_s, f.clear_s, f.params) == (
        "pump_seizure",
        "pump.L1.A",
        7200.0,
        None,
        {},
    ), f
    f = parse_fault("sensor_drift radsensor.P01.S1 at 30m for 1h rate_k_per_hour=3.5")
    assert (f.at_s, f.clear_s, f.params) == (1800.0, 5400.0, {"rate_k_per_hour": 3.5}), f
    f = parse_fault("switch_trip pdu.avionics clear at 8h persistent=true")
    assert (f.at_s, f.clear_s, f.params) == (0.0, 28800.0, {"persistent": True}), f
    for bad in ("pump_seizure", "pump_seizure pump.L1.A at", "pump_seizure pump.L1.A soon"):
        with pytest.raises(ScenarioError, match="expected 'FAULT TARGET"):
            parse_fault(bad)


def test_parse_board_mix() -> None:
    assert parse_board_mix("ref-gpu:140, ref-cpu:5") == {"ref-gpu": 140, "ref-cpu": 5}
    for bad in ("ref-gpu", "ref-gpu:x", ":3", "ref-gpu:1,ref-gpu:2"):
        with pytest.raises(ScenarioError, match="--board-mix"):
            parse_board_mix(bad)


def _args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(list(argv))


def _simple(*argv: str) -> argparse.Namespace:
    return _args("--config", str(simple_config_path()), "--no-progress", *argv)


def test_cli_validates_speed_and_duration(tmp_path: Path, capsys) -> None:
    assert main(_args("--speed", "10", "--out", str(tmp_path))) == 2
    assert "only 'max'" in capsys.readouterr().err
    assert main(_args("--duration", "1y", "--out", str(tmp_path))) == 2
    assert "bad duration" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("name = 1\n")
    assert main(_args("--config", str(bad), "--out", str(tmp_path))) == 2
    assert "invalid spacecraft configuration" in capsys.readouterr().err


# Each bad input: exit 2, one line naming what is wrong and what is valid, no step taken and no
# output written.
BAD_INPUTS = [
    (["--fault", "pump_melt pump.L1.A at 1h"], ["unknown fault 'pump_melt'", "pump_seizure"]),
    (["--fault", "pump_seizure pump.L9.A at 1h"], ["'pump.L9.A'", "pump.L1.A", "pump.L2.B"]),
    (
        ["--fault", "radiator_puncture radiator.P03 at 1h severity=0.5"],
        ["unknown parameter 'severity'", "leak_rate_kg_s"],
    ),
    (
        ["--fault", "radiator_puncture radiator.P03 at 1h leak_rate_kg_s=-1"],
        ["leak_rate_kg_s must be >= 0"],
    ),
    (
        ["--fault", "pump_degradation pump.L1.A at 1h min_head_fraction=1.5"],
        ["min_head_fraction must be a number in [0, 1]", "1.5"],
    ),
    (
        ["--fault", "board_upset slot.001 at 1h kind=meltdown"],
        ["kind must be one of", "bit_flip_result"],
    ),
    (["--fault", "pump_seizure pump.L1.A at 3h"], ["not before the end of the run"]),
    (["--fault", "pump_seizure pump.L1.A at 1h for 10m"], ["cannot be cleared"]),
    (["--board-mix", "warp-core:3"], ["unknown board type 'warp-core'", "simple", "ref-gpu"]),
    (["--beta", "95"], ["orbit.beta_deg", "<= 90"]),
    (["--altitude", "100"], ["orbit.altitude_km", "150 <"]),
    (["--warmup", "2h"], ["warm-up 7200 s", "shorter than the run"]),
    (["--devices", "pmp.*"], ["'pmp.*' matches no device", "pump.L1.A"]),
]


@pytest.mark.parametrize(("argv", "needles"), BAD_INPUTS, ids=[a[-1] for a, _ in BAD_INPUTS])
def test_bad_input_is_one_error_and_nothing_runs(
    argv: list[str], needles: list[str], tmp_path: Path, capsys, monkeypatch
) -> None:
    def no_step(self: Spacecraft, dt_s: float) -> None:
        raise AssertionError("a step was taken although the input is invalid")

    monkeypatch.setattr(Spacecraft, "step", no_step)
    out = tmp_path / "out"
    rc = main(_simple("--duration", "2h", "--out", str(out), *argv))
    err = capsys.readouterr().err
    assert rc == 2, f"expected exit 2 for {argv}, got {rc}; stderr: {err}"
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("computesat whatif: "), err
    for needle in needles:
        assert needle in err, f"expected {needle!r} in the error, got: {err}"
    assert not out.exists(), f"no output expected for invalid input, found {list(out.iterdir())}"


def test_bad_scenario_override_field_and_fault_field(tmp_path: Path, capsys) -> None:
    sc = tmp_path / "s.toml"
    sc.write_text('duration = "1h"\n[overrides]\nbeta = 30\n')
    assert main(_simple("--scenario", str(sc), "--out", str(tmp_path / "o"))) == 2
    err = capsys.readouterr().err
    assert "unknown field 'overrides.beta'" in err and "beta_deg" in err, err
    sc.write_text('[[faults]]\nfault = "pump_seizure"\ntarget = "pump.L1.A"\nwhen = "1h"\n')
    assert main(_simple("--scenario", str(sc), "--out", str(tmp_path / "o"))) == 2
    err = capsys.readouterr().err
    assert "unknown field 'faults.0.when'" in err and "at" in err and "clear_at" in err, err
    assert not (tmp_path / "o").exists()


def test_sample_scenario_is_valid_for_the_default_config() -> None:
    scenario = load_scenario(SAMPLE)
    kinds = sorted(f.fault for f in scenario.faults)
    assert kinds == ["pump_seizure", "radiator_puncture", "sensor_stuck"], kinds
    assert scenario.duration_s == 86400.0 and scenario.name == "pump-radiator-sensor-day"
    check_faults(scenario.faults, scenario.duration_s)
    sc = Spacecraft(apply_overrides(default_config(), scenario.overrides), seed=1)
    for f in scenario.faults:  # targets exist on AI1
        sc.inject_fault(f.fault, f.target, dict(f.params), f.at_s)
    assert len(sc.active_faults()) == 3


def test_overrides_reach_the_config(ai1) -> None:
    cfg = apply_overrides(
        ai1, Overrides(beta_deg=40.0, altitude_km=700.0, board_mix={"ref-npu": 4, "simple": 6})
    )
    assert cfg.orbit.beta_deg == 40.0 and cfg.orbit.altitude_km == 700.0
    slots = cfg.compute.expanded_slots()
    assert [s.board for s in slots] == ["ref-npu"] * 4 + ["simple"] * 6
    assert [s.slot_id for s in slots] == [f"{k:03d}" for k in range(1, 11)]
    plates = [p.plate_id for p in ai1.cold_plates]
    assert [s.cold_plate_id for s in slots[:4]] == plates[:4], "each kind spreads over plates"
    assert apply_overrides(ai1, Overrides()) is ai1


def _day_part(ai1, tmp_path: Path, faults: list[str], hours: float = 2.0, **kw):
    return run_whatif(
        ai1,
        hours * 3600.0,
        5.0,
        tmp_path,
        seed=1,
        progress=False,
        faults=[parse_fault(f) for f in faults],
        **kw,
    )


FAULTS = [
    "pump_seizure pump.L1.A at 10m",
    "radiator_puncture radiator.P06 at 5m leak_rate_kg_s=0.005",
    "sensor_stuck radsensor.P02.S2 at 12m",
    "sensor_drift radsensor.P03.S1 at 3m for 10m rate_k_per_hour=20",
]
FLOWN_HOURS = 0.3
# Starting at 230° from orbit noon (β = 0, 600 km: eclipse from ~114° to ~246°): the run
# begins ~4 min before the end of an eclipse, so it holds the battery's low and its peak
# discharge, then sunlight.
START_PHASE_DEG = 230.0


@pytest.fixture(scope="module")
def late_eclipse(ai1, variant):
    return variant(ai1, **{"orbit.initial_phase_deg": START_PHASE_DEG})


@pytest.fixture(scope="module")
def flown(late_eclipse, tmp_path_factory):
    """One flown run with four faults, shared by the tests that read its outputs."""
    out = tmp_path_factory.mktemp("flown")
    return _day_part(late_eclipse, out, FAULTS, hours=FLOWN_HOURS, warmup_s=0.0)


def _table(res) -> dict[str, np.ndarray]:
    table = pq.read_table(res.parquet_path)
    return {n: table.column(n).to_numpy() for n in table.column_names}


def test_faults_run_and_show_in_the_outputs(flown) -> None:
    res = flown
    cols = _table(res)
    t = cols["time_s"]
    before, after = t < 600.0, t > 600.0 + 60.0
    # the seized pump stops (the hardware); what flight software does about it is its own
    assert cols["pump.L1.A.speed_rpm"][before].min() > 1000.0
    assert np.all(cols["pump.L1.A.speed_rpm"][after] == 0.0)
    assert np.all(cols["pump.L1.A.flow_kg_s"][after] == 0.0)
    # every step is recorded for two minutes after the seizure
    dense = (t > 600.0) & (t <= 720.0)
    assert dense.sum() == 120 // 5, f"expected every 5 s step recorded, got {t[dense]}"
    # the punctured panel's loop loses inventory and pressure from 5 min on, the other not,
    # until flight software's thermal control finds the panel and closes its valve: the loop
    # then holds (less lost than the uncontained 0.005 kg/s over the run's last 10 min)
    inv = cols["loop.L2.inventory_kg"]
    assert np.all(inv[t <= 300.0] == 150.0) and inv[-1] < 150.0, inv[-1]
    assert cols["loop.L2.pressure_kpa"][-1] < cols["loop.L2.pressure_kpa"][0]
    assert cols["radvalve.P06.open"][-1] == 0, "the punctured panel is not isolated"
    # (thermal control closes the loop's panels one at a time to find the leak)
    assert cols["radvalve.P05.open"][-1] == 1, "a healthy panel was left isolated"
    assert inv[-1] == inv[-2] and inv[-1] > 150.0 - 0.005 * 600.0, inv[-5:]
    assert np.all(cols["loop.L1.inventory_kg"] == 150.0)
    # the stuck sensor flatlines while its panel's other sensors follow the orbit
    stuck = cols["radsensor.P02.S2.temp_k"][t > 720.0]
    other = cols["radsensor.P02.S1.temp_k"][t > 720.0]
    # (several 0.1 K ADC steps: flight software now regulates the loop, the panels move less)
    assert np.ptp(stuck) == 0.0 and np.ptp(other) > 0.3, (np.ptp(stuck), np.ptp(other))
    # the drift runs 3..13 min and is cleared: the sensor reads with its panel again
    drift = cols["radsensor.P03.S1.temp_k"] - cols["radsensor.P03.S2.temp_k"]
    assert drift[(t > 720.0) & (t < 780.0)].min() > 2.0, drift[(t > 720.0) & (t < 780.0)]
    assert np.abs(drift[t > 900.0]).max() < 2.0
    doc = json.loads(res.summary_path.read_text())
    ran = {(f["fault"], f["target"]): f for f in doc["faults"]}
    assert ran[("pump_seizure", "pump.L1.A")]["activated_at_s"] == 600.0
    assert ran[("radiator_puncture", "radiator.P06")]["params"] == {"leak_rate_kg_s": 0.005}
    assert ran[("sensor_drift", "radsensor.P03.S1")]["cleared_at_s"] == 780.0
    assert ran[("sensor_drift", "radsensor.P03.S1")]["activated_at_s"] == 180.0
    assert ran[("sensor_stuck", "radsensor.P02.S2")]["params"] == {"value_k": None}, "defaults"
    assert ran[("pump_seizure", "pump.L1.A")]["cleared_at_s"] is None
    assert doc["configuration"] == "AI1" and res.png_path.stat().st_size > 50_000
    # flight software flew it: its events are in the report, per fault those that followed
    fsw = doc["flight_software"]
    assert fsw["events_count"] == len(fsw["events"]) > 0, fsw["events_count"]
    assert [f["fault"] for f in fsw["faults"]] == [f["fault"] for f in doc["faults"]]
    assert {"compute_delivered_kwh_per_day", "compute_bound_kwh_per_day"} <= set(doc["summary"])


def test_two_flown_runs_are_the_same_for_a_seed(late_eclipse, flown, tmp_path: Path) -> None:
    again = _day_part(late_eclipse, tmp_path, FAULTS, hours=FLOWN_HOURS, warmup_s=0.0)
    a, b = pq.read_table(flown.parquet_path), pq.read_table(again.parquet_path)
    assert a.column_names == b.column_names
    for name in a.column_names:
        assert a.column(name).equals(b.column(name)), f"column {name} differs between runs"
    ev_a = json.loads(flown.summary_path.read_text())["flight_software"]["events"]
    ev_b = json.loads(again.summary_path.read_text())["flight_software"]["events"]
    assert ev_a == ev_b, "the flight software's events differ between two runs of one seed"


def test_columns_come_from_the_device_models(ai1, flown) -> None:
    res = flown
    names = set(pq.read_schema(res.parquet_path).names)
    sc = Spacecraft(ai1, seed=1)
    for dev in sc.device_ids():
        if dev == "backplane" or dev.startswith("slot."):
            # by default not recorded: the slots would be ~4 000 columns (a day ~100 MB of CSV)
            assert not any(n.startswith(f"{dev}.") for n in names), f"{dev} recorded"
            continue
        model = sc.read_model(dev)
        for field, value in type(model).model_fields.items():
            v = getattr(model, field)
            if isinstance(v, bool | int | float) and not hasattr(v, "value"):
                assert f"{dev}.{field}" in names, f"missing column {dev}.{field} ({value})"
    for sw in ("avionics", "pump_L1_A", "slot_001"):
        for reg in ("on", "tripped", "shed", "current_a"):
            assert f"pdu.switches.{sw}.{reg}" in names
    for must in ("battery.power_w", "battery_power_w", "shed_loads", "loop.L1.flow_kg_s"):
        assert must in names
    sensors = [n for n in names if n.startswith("radsensor.") and n.endswith(".temp_k")]
    assert len(sensors) == sum(len(p.sensors) for p in ai1.radiators.panels)


def test_the_compute_slots_are_recorded_when_asked_for(ai1, tmp_path: Path) -> None:
    res = _day_part(ai1, tmp_path, [], hours=0.05, devices=["slot.001", "pump.*"])
    schema = pq.read_schema(res.parquet_path)
    assert str(schema.field("slot.001.seu_count").type) == "int64", schema
    recorded = {n.split(".")[0] + "." + n.split(".")[1] for n in schema.names if "." in n}
    assert "slot.002" not in recorded and "radsensor.P01" not in recorded, sorted(recorded)


def test_csv_and_parquet_have_the_same_columns_and_dtypes(flown) -> None:
    res = flown
    pt = pq.read_table(res.parquet_path)
    ct = pacsv.read_csv(res.csv_path, convert_options=pacsv.ConvertOptions(column_types=pt.schema))
    assert ct.column_names == pt.column_names
    assert ct.schema == pt.schema
    assert ct.equals(pt), "the CSV must hold the same values as the Parquet file"
    assert str(pt.schema.field("pdu.switches.avionics.tripped").type) == "bool"
    assert str(pt.schema.field("pump.L1.A.speed_rpm").type) == "double"
    assert str(pt.schema.field("battery.power_w").type) == "double"
    inferred = pacsv.read_csv(res.csv_path)  # and a reader that guesses gets the same types
    assert inferred.schema.field("pdu.switches.avionics.tripped").type == "bool"
    # a row every 30 s, and every 5 s step for 2 min after each fault start and clear (at 3,
    # 5, 10, 12 and 13 min: the windows cover 3-7 and 10-15 min, 540 s, 108 steps, 18 of
    # them on the 30 s grid)
    assert res.rows == pt.num_rows == (18 * 60 // 30 + 1) + (108 - 18), res.rows


def test_summary_leaves_out_the_warmup(late_eclipse, flown, tmp_path: Path) -> None:
    # The warm-up is chosen to end just after the lowest battery of the whole run, so a
    # summary that counted it would show that minimum.
    whole = flown
    table = pq.read_table(whole.parquet_path)
    t = table.column("time_s").to_numpy()
    soc = table.column("battery_soc").to_numpy()
    assert whole.summary["min_battery_soc"] == soc.min()
    warmup_s = float(t[soc.argmin()]) + 60.0
    if warmup_s >= t[-1]:
        pytest.fail(f"the lowest battery is at the run's end ({t[soc.argmin()]} s)")
    assert soc[t >= warmup_s].min() > soc.min(), "the minimum must fall in the warm-up"
    res = _day_part(late_eclipse, tmp_path / "warm", FAULTS, hours=FLOWN_HOURS, warmup_s=warmup_s)
    assert res.summary["min_battery_soc"] == soc[t >= warmup_s].min()
    power = res.margins["power"]
    assert power["time_s"] >= warmup_s and power["min_battery_soc"] == soc[t >= warmup_s].min()
    floor = late_eclipse.battery.min_soc
    assert abs(power["margin"] - (power["min_battery_soc"] - floor)) < 1e-12
    die = res.margins["thermal"]["die"]
    assert die["limit_k"] == 368.0 and abs(die["margin_k"] - (368.0 - die["max_temp_k"])) < 1e-9


def test_default_warmup_is_none_settled_and_one_orbit_unsettled(ai1) -> None:
    from hwsim.config import ThermalConfig
    from hwsim.model.orbit import orbital_period_s
    from hwsim.whatif import default_warmup_s

    assert default_warmup_s(ai1, 86400.0) == 0.0, "the thermal state starts settled"
    raw = ai1.model_copy(update={"thermal": ThermalConfig(settle_at_start=False)})
    period = orbital_period_s(ai1.orbit.altitude_km)
    assert default_warmup_s(raw, 86400.0) == period
    assert default_warmup_s(raw, 1.5 * period) == 0.0


def test_cli_runs_a_scenario_with_flags_over_the_file(tmp_path: Path, capsys) -> None:
    sc = tmp_path / "s.toml"
    sc.write_text(
        'name = "short"\nduration = "2h"\nstep = "10s"\nseed = 3\n'
        "[overrides]\nbeta_deg = 10.0\n"
        '[[faults]]\nfault = "pump_seizure"\ntarget = "pump.L2.A"\nat = "10m"\n'
    )
    out = tmp_path / "out"
    rc = main(
        _simple(
            "--scenario",
            str(sc),
            "--duration",
            "15m",
            "--beta",
            "60",
            "--out",
            str(out),
            "--fault",
            "sensor_stuck radsensor.P01.S1 at 5m",
            "--devices",
            "pump.*,radsensor.*",
        )
    )
    assert rc == 0, capsys.readouterr().err
    assert "min_battery_soc" in capsys.readouterr().out
    doc = json.loads((out / "summary.json").read_text())
    assert doc["scenario"] == "short" and doc["duration_s"] == 900.0 and doc["seed"] == 3
    assert doc["configuration"] == "AI1"
    assert doc["overrides"] == {"beta_deg": 60.0}
    assert [f["fault"] for f in doc["faults"]] == ["pump_seizure", "sensor_stuck"]
    names = pq.read_schema(out / "whatif.parquet").names
    assert "pump.L2.A.speed_rpm" in names and not any(n.startswith("slot.") for n in names)
    for f in ("whatif.csv", "whatif.png"):
        assert (out / f).stat().st_size > 0


def test_plot_titles_tell_configurations_apart(ai1, variant, tmp_path: Path) -> None:
    ov = Overrides(beta_deg=30.0)
    other = apply_overrides(variant(ai1, name="AI1-hot"), ov)
    a = run_whatif(ai1, 600.0, 10.0, tmp_path / "a", progress=False, scenario_name="s1")
    b = run_whatif(other, 600.0, 10.0, tmp_path / "b", progress=False, overrides=ov)
    assert a.title.startswith("AI1 / scenario s1"), a.title
    assert b.title.startswith("AI1-hot") and "β=30°" in b.title, b.title


def test_peak_discharge_is_in_eclipse(flown) -> None:
    res = flown
    table = pq.read_table(res.parquet_path)
    t = table.column("time_s").to_numpy()
    power = res.margins["power"]
    j = int(np.argmin(np.abs(t - power["max_discharge_time_s"])))
    bat = table.column("battery_power_w").to_numpy()
    assert power["max_discharge_w"] == bat.max() > 0.0, "+ is discharge (ICD)"
    assert table.column("eclipse").to_numpy()[j] == 1, f"peak discharge at {t[j]} s in sunlight"


def _bare_flyer(config, seed, faults, duration_s, step_s, record, record_due, progress):
    """A Flyer without flight software: the physics alone, faults scheduled on the model
    (the margins' own arithmetic needs no controller)."""
    from hwsim.boards.executor import ResultsNotComputed
    from hwsim.whatif import Flown

    sc = Spacecraft(config, seed=seed, settle_step_s=step_s)
    if sc.plugin_slots is not None:
        sc.plugin_slots.attach_executor(ResultsNotComputed())
    for ev in faults:
        sc.inject_fault(ev.fault, ev.target, dict(ev.params), ev.at_s)
    n = round(duration_s / step_s)
    record(sc)
    for k in range(1, n + 1):
        sc.step(step_s)
        if k == n or record_due(sc.time_s):
            record(sc)
    return Flown(spacecraft=sc, steps=n, faults=[])


def test_die_margin_is_per_board_against_its_own_limit(tmp_path: Path) -> None:
    # Plug-in AI1: ref-gpu dies are limited at 368 K, ref-npu at 378 K. An NPU made the hottest
    # die (overtemp) stays within its own limit: the worst margin is a GPU's, not the NPU's
    # temperature against the GPUs' limit.
    cfg = default_config()
    fault = ["board_overtemp slot.146 at 0 resistance_factor=2"]
    res = _day_part(cfg, tmp_path / "plain", fault, hours=1.0, fly=_bare_flyer)
    die = res.margins["thermal"]["die"]
    hottest = pq.read_table(res.parquet_path).column("die_temp_max_k").to_numpy().max()
    assert hottest > die["max_temp_k"] + 5.0, "the case needs the hottest die off the worst"
    # the same margin as with every slot's registers recorded (die and limit per board)
    slots = _day_part(
        cfg, tmp_path / "slots", fault, hours=1.0, devices=["slot.*"], fly=_bare_flyer
    )
    want = slots.margins["thermal"]["die"]
    assert die["device"] == want["device"], f"worst die {die} vs {want}"
    assert abs(die["margin_k"] - want["margin_k"]) < 1e-6, f"{die} vs {want}"
    assert die["limit_k"] == want["limit_k"] == 368.0 and die["time_s"] == want["time_s"]
    # the limits summary says the same, and whether each limit held
    lim = res.margins["limits"]
    assert lim["die"]["worst_k"] == die["max_temp_k"] and lim["die"]["limit_k"] == 368.0, lim
    assert lim["die"]["within"] == (die["margin_k"] >= 0.0), lim
    assert lim["all_within"] == all(e["within"] for k, e in lim.items() if k != "all_within")


def test_unwritable_out_is_refused_before_the_first_step(tmp_path: Path, capsys, monkeypatch):
    import computesat.whatif as whatif

    def no_run(*a, **k):
        raise AssertionError("the run started although --out cannot be written")

    monkeypatch.setattr(whatif, "fly", no_run)
    in_the_way = tmp_path / "file"
    in_the_way.write_text("")
    for out in (in_the_way / "sub", in_the_way):
        assert main(_args("--duration", "1h", "--out", str(out))) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"--out {out}" in err, err


def test_more_bad_input_is_refused_in_one_short_line(tmp_path: Path, capsys, monkeypatch) -> None:
    def no_step(self: Spacecraft, dt_s: float) -> None:
        raise AssertionError("a step was taken although the input is invalid")

    monkeypatch.setattr(Spacecraft, "step", no_step)
    scenario = tmp_path / "sub" / "s.toml"
    scenario.parent.mkdir()
    scenario.write_text('config = "../nowhere/ai9.toml"\n')
    cases = [
        (["--board-mix", "ref-gpu:100000"], ["compute.slots", "... and 89996 more"]),
        (
            [
                "--fault",
                "radiator_puncture radiator.P03 at 1h leak_rate_kg_s=0.01 leak_rate_kg_s=0.02",
            ],
            ["parameter leak_rate_kg_s given twice"],
        ),
        (
            ["--fault", "sensor_stuck radsensor.P01.S1 at 1h value_k=1e9"],
            ["value_k", "ADC's full scale [0, 409.5] K", "radsensor.P01.S1"],
        ),
        (["--scenario", str(scenario)], [str((tmp_path / "nowhere" / "ai9.toml").resolve())]),
    ]
    for argv, needles in cases:
        out = tmp_path / "out"
        rc = main(_args("--duration", "2h", "--out", str(out), *argv))
        err = capsys.readouterr().err
        assert rc == 2 and err.count("\n") == 1 and len(err) < 2000, f"{argv}: {rc} {err[:3000]}"
        for needle in needles:
            assert needle in err, f"expected {needle!r} in the error, got: {err}"
        assert not out.exists(), f"{argv}: a refused run left {out}"
