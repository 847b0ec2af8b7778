"""The what-if report's pieces: the orbit's eclipses, power control's shed and restore
times against them, time per mode, the bus's protection sheds, each fault's events and
recovery, and the Done-when block that sums them up."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from computesat.whatif import (
    RECOVERY_EVENTS,
    _bus_protection,
    _fault_report,
    _modes,
    _shed_restore,
    done_when,
    orbit_eclipses,
    run_whatif,
    unit_names,
)
from hwsim.config import simple_config
from hwsim.faults import fault_catalogue
from hwsim.model.orbit import eclipse_duration_s, orbital_period_s
from hwsim.scenario import FaultEvent
from hwsim.spacecraft import Spacecraft


def _config(beta_deg: float = 0.0):  # type: ignore[no-untyped-def]
    config = simple_config()
    return config.model_copy(
        update={"orbit": config.orbit.model_copy(update={"beta_deg": beta_deg})}
    )


def test_orbit_eclipses_are_the_orbits_to_the_millisecond() -> None:
    config = _config()
    period = orbital_period_s(config.orbit.altitude_km)
    eclipses = orbit_eclipses(config, 3 * period)
    assert len(eclipses) == 3, eclipses
    for entry, exit_ in eclipses:
        assert exit_ is not None
        assert abs((exit_ - entry) - eclipse_duration_s(600.0, 0.0)) < 0.01, (entry, exit_)
    entries = [e for e, _ in eclipses]
    assert np.allclose(np.diff(entries), period, atol=0.01), entries
    assert orbit_eclipses(_config(beta_deg=75.0), 2 * period) == [], "beyond β*: no eclipse"


def test_orbit_eclipses_are_where_the_model_is_dark() -> None:
    config = _config()
    duration = orbital_period_s(600.0)
    ((entry, exit_),) = orbit_eclipses(config, duration)
    sc = Spacecraft(config, seed=1, settle_step_s=None)
    flags = []
    while sc.time_s < exit_ + 5.0:
        # the step from t uses the orbit at t: its flag is the geometry at the step's start
        t = sc.time_s
        sc.step(1.0)
        flags.append((t, bool(sc.truth()["eclipse"])))
    dark = [t for t, ecl in flags if ecl]
    assert entry <= dark[0] < entry + 1.0 and exit_ - 1.0 <= dark[-1] < exit_, (entry, exit_)


EVENTS = [
    {"time_s": 1.0, "event": "MODE_CHANGED", "message": "BOOT -> SAFE: platform up"},
    {"time_s": 11.0, "event": "MODE_CHANGED", "message": "SAFE -> NOMINAL: autonomy"},
    {"time_s": 880.0, "event": "COMPUTE_SHED_FOR_ECLIPSE", "message": "eclipse predicted"},
    {"time_s": 1000.0, "event": "MODE_CHANGED", "message": "NOMINAL -> ECLIPSE: entry"},
    {"time_s": 2000.0, "event": "MODE_CHANGED", "message": "ECLIPSE -> NOMINAL: exit"},
    {"time_s": 2003.0, "event": "COMPUTE_RESTORED", "message": "arrays deliver"},
    # the second eclipse (6000..7000) is shed 30 s after its entry and never restored
    {"time_s": 6030.0, "event": "COMPUTE_SHED_FOR_ECLIPSE", "message": "eclipse predicted"},
    {"time_s": 6500.0, "event": "MODE_CHANGED", "message": "NOMINAL -> SAFE: service FAILED"},
    {"time_s": 6600.0, "event": "MODE_CHANGED", "message": "SAFE -> SURVIVAL: battery low"},
]


def test_shed_and_restore_times_come_from_power_controls_events() -> None:
    eclipses = [(1000.0, 2000.0), (6000.0, 7000.0), (11000.0, None)]
    # compute power that dips long before the eclipse (a fault, a job gap) must not count
    t = np.arange(0.0, 12000.0, 30.0)
    power = np.where((t > 500.0) & (t < 700.0), 0.0, 100.0)
    cols = {"time_s": t, "compute_power_w": power}
    first, second, third = _shed_restore(eclipses, EVENTS, {(998.0, 2001.0)}, cols)
    assert (first["shed_at_s"], first["shed_before_eclipse_s"]) == (880.0, 120.0), first
    assert (first["restored_at_s"], first["restored_after_eclipse_s"]) == (2003.0, 3.0), first
    assert (first["predicted_start_s"], first["predicted_end_s"]) == (998.0, 2001.0)
    assert first["mean_compute_w_in_eclipse"] == 100.0 and "note" not in first
    assert second["shed_before_eclipse_s"] == -30.0, "shed after the entry: negative"
    assert second["restored_at_s"] is None and "no COMPUTE_RESTORED" in second["note"]
    assert third["shed_at_s"] is None and "no COMPUTE_SHED_FOR_ECLIPSE" in third["note"]


def test_time_in_safe_and_survival_leaves_the_boot_safe_apart() -> None:
    modes = _modes(EVENTS, duration_s=7200.0)
    assert modes["boot_safe_s"] == 10.0
    assert modes["safe_s"] == 100.0 and modes["survival_s"] == 600.0, modes
    assert modes["time_in_mode_s"]["ECLIPSE"] == 1000.0
    assert [e["mode"] for e in modes["safe_or_survival_entries"]] == ["SAFE", "SURVIVAL"]
    assert modes["safe_or_survival_entries"][0]["reason"] == "service FAILED"
    quiet = _modes(EVENTS[:2], duration_s=100.0)
    assert quiet["safe_s"] == 0.0 and quiet["boot_safe_s"] == 10.0


def test_bus_protection_sheds_are_counted_in_episodes() -> None:
    cols = {
        "time_s": np.array([0.0, 30.0, 60.0, 90.0, 120.0, 150.0, 180.0]),
        "shed_loads": np.array([0, 0, 2, 3, 0, 1, 0]),
    }
    bus = _bus_protection(cols)
    assert bus == {"episodes": 2, "shed_s": 90.0, "max_loads_shed": 3, "first_at_s": 60.0}
    none = _bus_protection({"time_s": cols["time_s"], "shed_loads": np.zeros(7, dtype=int)})
    assert none["episodes"] == 0 and none["shed_s"] == 0.0 and none["first_at_s"] is None


@pytest.mark.parametrize(
    ("target", "message", "names"),
    [
        ("pump.L2.B", "L2: pump B -> A: seized (flow 0.00 kg/s)", True),
        ("pump.L2.A", "L2: pump B -> A: seized (flow 0.00 kg/s)", False),
        ("pump.L2.B", "L2 pump B: flow 3.10 kg/s at 3000 rpm", True),
        ("radiator.P08", "P08 of L2 isolated: the leak stopped", True),
        ("radiator.P08", "P18 of L2 isolated: the leak stopped", False),
        ("radsensor.P04.S1", "radsensor.P04.S1 voted out: range", True),
        ("radsensor.P04.S1", "PMON 109 radsensor.P04.S1.temp_k below low 100", True),
        ("radsensor.P04.S1", "radsensor.P04.S3 voted out: drift", False),
        ("wing.W1", "wing W1: array drive stuck at 85.7 deg", True),
        ("wing.W1", "PMON 26 wing.W2.voltage_v above high 320", False),
        ("battery", "battery: 1 failed cell(s), capacity 28500 Wh", True),
        ("battery", "power limits all to 26500 W (eclipse: battery 99% carries)", False),
        ("pdu.slot_013", "switch slot_013 re-closed once (autonomy)", True),
        ("pdu.slot_013", "slot.013: device_off: PDU switch is off", True),
        ("pdu.slot_013", "switch slot_0130 re-closed once", False),
        ("slot.081", "slot.081: 2 memory errors in 600 s", True),
        ("slot.081", "slot.018: memory error", False),
    ],
)
def test_events_name_a_faults_unit_in_the_forms_flight_software_writes(
    target: str, message: str, names: bool
) -> None:
    assert bool(unit_names(target).search(message)) is names, (target, message)


def test_a_fault_is_recovered_by_its_corrective_action_naming_its_unit() -> None:
    events = [
        {"time_s": 90.0, "event": "SENSOR_VOTED_OUT", "message": "radsensor.P04.S1 voted out"},
        {"time_s": 101.0, "event": "SENSOR_OUT_OF_RANGE", "message": "PMON 109 radsensor.P04.S1"},
        {"time_s": 102.0, "event": "SENSOR_VOTED_OUT", "message": "radsensor.P04.S2 voted out"},
        {"time_s": 103.0, "event": "SENSOR_VOTED_OUT", "message": "radsensor.P04.S1 voted out"},
    ]
    fault = {"fault": "sensor_dead", "target": "radsensor.P04.S1", "params": {}}
    report = _fault_report({**fault, "at_s": 100.0, "activated_at_s": 100.0}, events)
    assert [e["time_s"] for e in report["events_for_fault"]] == [101.0, 103.0], "from injection"
    assert report["detected_at_s"] == 101.0
    assert report["recovered"] and report["recovered_by"] == "SENSOR_VOTED_OUT"
    assert (report["recovered_at_s"], report["recovery_s"]) == (103.0, 3.0)
    assert report["answered_before_injection"] == "SENSOR_VOTED_OUT at 90 s"
    alone = _fault_report({**fault, "at_s": 100.0, "activated_at_s": 100.0}, events[:3])
    assert alone["detected_at_s"] == 101.0 and not alone["recovered"], "detected only"
    assert alone["answered_before_injection"] is not None, "the earlier vote is said"
    # the response depends on the fault's parameters where the catalogue says so
    trip = {"fault": "switch_trip", "target": "pdu.slot_013", "at_s": 0.0, "activated_at_s": 0.0}
    kept_open = [
        {"time_s": 5.0, "event": "SWITCH_TRIPPED", "message": "switch slot_013: kept open"}
    ]
    assert _fault_report({**trip, "params": {"persistent": True}}, kept_open)["recovered"]
    assert not _fault_report({**trip, "params": {"persistent": False}}, kept_open)["recovered"]
    upset = {"fault": "board_upset", "target": "slot.053", "at_s": 0.0, "activated_at_s": 0.0}
    hung = [{"time_s": 9.0, "event": "BOARD_POWER_CYCLED", "message": "slot.053 power cycled"}]
    assert _fault_report({**upset, "params": {"kind": "hang"}}, hung)["recovered"]
    assert not _fault_report({**upset, "params": {"kind": "memory_ce"}}, hung)["recovered"]


def test_every_catalogue_fault_has_its_recovery_events() -> None:
    assert {s.id for s in fault_catalogue()} == {*RECOVERY_EVENTS, "board_upset"}


def _doc(**change: object) -> dict:
    limits = {
        "die": {"worst_k": 360.0, "limit_k": 368.0, "within": True},
        "all_within": True,
    }
    fault = {
        "fault": "sensor_dead",
        "target": "radsensor.P04.S1",
        "injected_at_s": 100.0,
        "events_for_fault": [{"time_s": 103.0, "event": "SENSOR_VOTED_OUT", "message": "m"}],
        "detected_at_s": 103.0,
        "recovered": True,
        "recovered_by": "SENSOR_VOTED_OUT",
        "recovered_at_s": 103.0,
        "recovery_s": 3.0,
        "recovery_events": ["SENSOR_VOTED_OUT"],
    }
    doc = {
        "duration_s": 7200.0,
        "margins": {
            "limits": limits,
            "power": {"min_battery_soc": 0.4, "min_soc_limit": 0.2, "time_s": 3960.0},
        },
        "flight_software": {
            "compute_vs_bound": {
                "compute_delivered_kwh_per_day": 1692.0,
                "compute_bound_kwh_per_day": 1835.0,
                "ratio": 1692.0 / 1835.0,
                "bound": {"limited_by": "energy"},
            },
            "modes": _modes(EVENTS[:2], 7200.0),
            "bus_protection": {"episodes": 0, "shed_s": 0.0, "max_loads_shed": 0},
            "faults": [fault],
            "eclipses": _shed_restore([(1000.0, 2000.0)], EVENTS, None),
        },
    }
    doc["flight_software"].update(change)
    return doc


def test_done_when_puts_every_check_in_one_block() -> None:
    block = done_when(_doc())
    assert block["all_pass"] and all(block["checks"].values()), block["checks"]
    assert block["limits"] == {"die": {"worst_k": 360.0, "limit_k": 368.0, "within": True}}
    dod = block["battery_depth_of_discharge"]
    assert (round(dod["worst"], 9), round(dod["limit"], 9), dod["within"]) == (0.6, 0.8, True)
    assert block["compute"]["ratio"] == pytest.approx(0.922, abs=1e-3)
    assert block["compute"]["limited_by"] == "energy"
    assert block["faults"]["injected"] == block["faults"]["recovered"] == 1
    assert block["faults"]["each"][0]["events"] == ["SENSOR_VOTED_OUT at 103 s"]
    assert block["eclipses"] == [
        {
            "entry_s": 1000.0,
            "exit_s": 2000.0,
            "shed_before_entry_s": 120.0,
            "restored_after_exit_s": 3.0,
        }
    ]
    json.dumps(block, allow_nan=False)
    bad = done_when(
        _doc(
            modes=_modes(EVENTS, 7200.0),
            bus_protection={"episodes": 1, "shed_s": 30.0, "max_loads_shed": 2},
            faults=[{**_doc()["flight_software"]["faults"][0], "recovered": False}],
        )
    )
    assert not bad["all_pass"]
    assert {k for k, ok in bad["checks"].items() if not ok} == {
        "no_safe_or_survival",
        "no_bus_protection_sheds",
        "every_fault_recovered",
    }
    (missing,) = bad["faults"]["not_recovered"]
    assert missing["expected"] == ["SENSOR_VOTED_OUT"] and "vote out" in missing["fdir_response"]


@pytest.mark.timeout(300)
def test_a_flown_run_writes_the_done_when_block(tmp_path: Path) -> None:
    config = simple_config()
    fault = FaultEvent.model_validate(
        {"fault": "sensor_dead", "target": "radsensor.P04.S1", "at": 60.0}
    )
    result = run_whatif(config, 600.0, 1.0, tmp_path, seed=3, progress=False, faults=[fault])
    doc = json.loads(result.summary_path.read_text())
    block = doc["done_when"]
    (each,) = block["faults"]["each"]
    assert each["recovered"] and each["recovered_by"] == "SENSOR_VOTED_OUT", each
    assert 0.0 < each["recovery_s"] < 120.0, each
    assert block["checks"]["no_bus_protection_sheds"] and block["checks"]["no_safe_or_survival"]
    names = {e["event"] for e in doc["flight_software"]["events"]}
    assert "SENSOR_VOTED_OUT" in names and not any(n.isdigit() for n in names), names
    assert result.summary["faults_recovered"] == 1.0


def test_a_board_fault_without_effect_is_said_not_observable_and_not_counted() -> None:
    upset = {"fault": "board_upset", "target": "slot.053", "at_s": 0.0, "activated_at_s": 0.0}
    flip = {**upset, "params": {"kind": "bit_flip_result"}}
    unseen = _fault_report(flip, [])
    assert not unseen["recovered"] and not unseen["observable"], unseen
    assert "digest" in unseen["observable_note"]
    caught = [{"time_s": 4.0, "event": "RESULT_MISMATCH", "message": "slot.053 and slot.054"}]
    seen = _fault_report(flip, caught)
    assert seen["recovered"] and seen["observable"], seen
    off = {
        **upset,
        "fault": "board_latchup",
        "params": {},
        "observable": (False, "board off (or slot empty) when it struck"),
    }
    latch = _fault_report(off, [])
    assert not latch["recovered"] and not latch["observable"]
    # an observable fault nobody answered still fails the check
    on = _fault_report({**off, "observable": (True, "board on when it struck")}, [])
    assert on["observable"] and not on["recovered"]

    base = _doc()["flight_software"]["faults"][0]
    block = done_when(_doc(faults=[base, {**off, **latch, "injected_at_s": 0.0}]))
    assert block["checks"]["every_fault_recovered"], block["faults"]
    assert [f["fault"] for f in block["faults"]["not_observable"]] == ["board_latchup"]
    block = done_when(_doc(faults=[base, {**off, **on, "injected_at_s": 0.0}]))
    assert not block["checks"]["every_fault_recovered"]
    assert [f["fault"] for f in block["faults"]["not_recovered"]] == ["board_latchup"]


def test_done_when_checks_the_compute_ratio_and_each_eclipses_shed_and_restore() -> None:
    low = _doc()
    low["flight_software"]["compute_vs_bound"]["ratio"] = 0.85
    assert not done_when(low)["checks"]["compute_at_least_90_percent_of_bound"]
    eclipse = _doc()["flight_software"]["eclipses"][0]
    late = {**eclipse, "shed_before_eclipse_s": -30.0}
    assert not done_when(_doc(eclipses=[late]))["checks"]["eclipse_shed_before_entry_and_restored"]
    never = {**eclipse, "restored_after_eclipse_s": None}
    assert not done_when(_doc(eclipses=[never]))["checks"]["eclipse_shed_before_entry_and_restored"]
    # the run's last eclipse: it ended too close to the end of the run for a restore
    ending = {**never, "eclipse_start_s": 6000.0, "eclipse_end_s": 7000.0}
    assert done_when(_doc(eclipses=[ending]))["checks"]["eclipse_shed_before_entry_and_restored"]
    carried = {**eclipse, "shed_before_eclipse_s": None, "restored_after_eclipse_s": None}
    assert done_when(_doc(eclipses=[carried]))["checks"]["eclipse_shed_before_entry_and_restored"]


def test_observability_is_read_from_the_boards_state_when_the_fault_strikes() -> None:
    from computesat.whatif import _Observability
    from hwsim.config import default_config

    model = Spacecraft(default_config(), seed=0, settle_step_s=None)
    model.command("slot.001", "power_off", {})
    faults = [
        FaultEvent.model_validate({"fault": "board_latchup", "target": t, "at": 2.0})
        for t in ("slot.001", "slot.002")
    ] + [FaultEvent.model_validate({"fault": "board_overtemp", "target": "slot.003", "at": 2.0})]
    for ev in faults:
        model.inject_fault(ev.fault, ev.target, at_time_s=model.time_s + ev.at_s)
    tracker = _Observability(faults)
    for _ in range(5):
        model.step(1.0)
        tracker.step(model)
    off, on, cool = (tracker.observable(k, f.fault) for k, f in enumerate(faults))
    assert off == (False, "board off (or slot empty) when it struck: the upset had no effect")
    assert on == (True, "board fault when it struck"), "latched up: the board is in FAULT"
    assert not cool[0] and "throttle" in cool[1], "an idle board never reaches its throttle"
