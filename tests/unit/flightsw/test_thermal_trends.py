"""Trend detection for leaks, the leak localiser, the speed law and the capacity estimate, as
pure functions and state machines."""

from __future__ import annotations

import random

import pytest

from flightsw.services.thermal import (
    Config,
    LeakLocaliser,
    TrendMonitor,
    radiator_capacity_w,
    slope_per_s,
    speed_law_rpm,
)


def test_slope_is_the_least_squares_rate():
    assert slope_per_s([(0.0, 10.0), (1.0, 9.0), (2.0, 8.0), (3.0, 7.0)]) == pytest.approx(-1.0)
    assert slope_per_s([(0.0, 1.0), (1.0, 1.0)]) is None, "two points are not a trend"
    assert slope_per_s([(5.0, 1.0), (5.0, 2.0), (5.0, 3.0)]) is None, "no time span"


def test_a_steady_inventory_is_never_falling():
    mon = TrendMonitor(window_s=60, rate=0.002, persist_s=20)
    for t in range(600):
        mon.add(float(t), 150.0)
        assert not mon.falling(float(t)), f"steady inventory falling at t={t}"


def test_a_leak_is_detected_after_half_a_window_and_the_persistence():
    mon = TrendMonitor(window_s=60, rate=0.002, persist_s=20)
    detected = None
    for t in range(300):
        inventory = 150.0 if t < 100 else 150.0 - 0.01 * (t - 100)
        mon.add(float(t), inventory)
        if mon.falling(float(t)) and detected is None:
            detected = t
    assert detected is not None, "a 10 g/s leak was never detected"
    assert 100 < detected <= 100 + 30 + 20 + 5, f"detected at t={detected}, leak from t=100"


def test_a_slow_fall_below_the_threshold_is_not_a_leak():
    mon = TrendMonitor(window_s=60, rate=0.002, persist_s=20)
    for t in range(600):
        mon.add(float(t), 150.0 - 0.001 * t)
        assert not mon.falling(float(t)), f"1 g/s (threshold 2 g/s) called a leak at t={t}"


def _localise(leaking: str | None, panels=("P01", "P02", "P03", "P04"), fail_valve=None):
    """Run the localiser against a loop that leaks 10 g/s unless ``leaking``'s valve is
    closed. Returns the actions and the closed valves at the end."""
    loc = LeakLocaliser(panels, rate_kg_s=0.002, settle_s=5, observe_s=30)
    closed: set[str] = set()
    inventory, actions = 150.0, []
    for t in range(1000):
        if leaking is not None and leaking not in closed:
            inventory -= 0.01
        action = loc.step(float(t), inventory)
        if action is None:
            continue
        if action.kind == "close" and action.panel == fail_valve:
            action = loc.valve_failed(action.panel, "no such device")
        actions.append(action)
        if action.kind == "close":
            closed.add(action.panel)
        elif action.kind == "open":
            closed.discard(action.panel)
        if action.kind in ("found", "failed"):
            break
    return actions, closed


def test_localiser_closes_panels_in_turn_and_keeps_the_leaking_one_closed():
    actions, closed = _localise("P03")
    kinds = [(a.kind, a.panel) for a in actions]
    assert kinds == [
        ("close", "P01"),
        ("open", "P01"),
        ("close", "P02"),
        ("open", "P02"),
        ("close", "P03"),
        ("found", "P03"),
    ], kinds
    assert closed == {"P03"}, f"only the leaking panel stays closed, got {closed}"


def test_localiser_fails_when_no_panel_stops_the_leak():
    actions, closed = _localise("elsewhere")
    assert actions[-1].kind == "failed" and "each panel closed in turn" in actions[-1].reason
    assert closed == set(), f"every valve reopened, got {closed}"


def test_localiser_fails_at_once_when_a_valve_does_not_move():
    actions, _ = _localise("P03", fail_valve="P01")
    assert [a.kind for a in actions] == ["failed"], actions
    assert "P01" in actions[0].reason and "no such device" in actions[0].reason


def test_speed_law_is_stepped_with_a_floor_and_a_ceiling():
    c = Config()
    assert speed_law_rpm(250.0, c) == pytest.approx(c.min_speed_fraction * c.pump_max_speed_rpm)
    assert speed_law_rpm(c.half_speed_k, c) == pytest.approx(0.5 * c.pump_max_speed_rpm)
    assert speed_law_rpm(c.full_speed_k, c) == c.pump_max_speed_rpm
    assert speed_law_rpm(400.0, c) == c.pump_max_speed_rpm
    for t in (331.0, 337.3, 344.9):
        assert speed_law_rpm(t, c) % c.speed_step_rpm == 0, "on the step grid"
    assert speed_law_rpm(340.0, c) > speed_law_rpm(335.0, c)


def test_capacity_of_four_ai1_panels_at_the_limit_carries_a_loop():
    c = Config()
    four = radiator_capacity_w([c.radiator_limit_k] * 4, 27.5, 0.875, c.sink_temp_k)
    three = radiator_capacity_w([c.radiator_limit_k] * 3, 27.5, 0.875, c.sink_temp_k)
    # ~79 kW: a loop's ~75 kW at full compute fits; with a panel isolated it does not
    assert 75e3 < four < 85e3, four
    assert three == pytest.approx(0.75 * four)


def _falling_reference(samples, t_s, window_s, rate, persist_s, since):
    """TrendMonitor.falling as it was: the least-squares fit every time."""
    slope = slope_per_s(samples)
    full = bool(samples) and t_s - samples[0][0] >= window_s / 2
    if slope is None or not full or slope > -rate:
        return False, None
    since = t_s if since is None else since
    return t_s - since >= persist_s, since


def test_the_constant_window_shortcut_gives_the_fits_verdicts():
    """Inventory steady (exactly constant, the nominal case), then falling, steady again,
    a step, noise: the monitor with its shortcut says what the fit says, every sample."""
    rng = random.Random(4)
    monitor = TrendMonitor(60.0, 0.002, 20.0)
    since = None
    value = 150.0
    t0 = 848_535_421.0  # mission seconds are large: the fit centres them
    verdicts = []
    for i in range(1200):
        if 200 <= i < 400:
            value -= 0.005
        elif 600 <= i < 700:
            value = round(value + rng.gauss(0, 0.01), 3)
        elif i == 800:
            value -= 1.0
        t = t0 + i
        monitor.add(t, value)
        expect, since = _falling_reference(list(monitor.samples), t, 60.0, 0.002, 20.0, since)
        got = monitor.falling(t)
        assert got == expect, (i, got, expect)
        verdicts.append(got)
    assert any(verdicts) and not all(verdicts)
