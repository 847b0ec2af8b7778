"""Radiator sensor voting and plausibility, as pure functions and the per-panel state machine."""

from __future__ import annotations

import itertools
import math
import random
import statistics

import pytest

from flightsw.services.thermal import (
    PanelVoter,
    SlowDriftMonitor,
    VoteParams,
    is_noisy,
    is_stuck,
    median_vote,
)

P = VoteParams()
SENSORS = ("S1", "S2", "S3")


def _healthy(rng: random.Random, truth_k: float) -> float:
    """A reading like hwsim's: truth + 0.2 K noise on a 0.1 K ADC grid."""
    return round((truth_k + rng.gauss(0.0, 0.2)) / 0.1) * 0.1


def _run(voter: PanelVoter, samples: int, fault: dict[str, object], seed: int = 1) -> list:
    """Feed ``samples`` seconds of a panel warming 0.01 K/s; ``fault`` maps a sensor to a
    function (t, healthy reading) -> its reading. Returns (t, sensor, reason) voted out."""
    rng = random.Random(seed)
    out = []
    for t in range(samples):
        truth = 330.0 + 0.01 * t
        readings = {}
        for s in SENSORS:
            value = _healthy(rng, truth)
            if s in fault:
                value = fault[s](t, value)  # type: ignore[operator]
            readings[s] = value
        out += [(t, s, r) for s, r in voter.update(float(t), readings)]
    return out


def test_median_vote_needs_two_sensors():
    assert median_vote([300.0, 310.0, 400.0]) == 310.0
    assert median_vote([300.0, 310.0]) == 305.0
    assert median_vote([300.0]) is None
    assert median_vote([]) is None


def test_stuck_needs_peers_that_move():
    moving = [300.0 + 0.1 * (i % 2) for i in range(10)]
    assert is_stuck([300.0] * 10, [moving, moving], 10)
    assert not is_stuck([300.0] * 10, [[300.0] * 10, moving], 10), "a quiet peer: not stuck"
    assert not is_stuck([300.0] * 9 + [300.1], [moving, moving], 10)
    assert not is_stuck([300.0] * 5, [moving, moving], 10), "too few samples to judge"


def test_noisy_compares_with_its_peers():
    rng = random.Random(3)
    quiet = [300 + rng.gauss(0, 0.2) for _ in range(10)]
    loud = [300 + rng.gauss(0, 5.0) for _ in range(10)]
    assert is_noisy(loud, [quiet, quiet], 10, 1.5, 4.0)
    assert not is_noisy(quiet, [quiet, loud], 10, 1.5, 4.0)
    assert not is_noisy(loud, [loud, loud], 10, 1.5, 4.0), "all as loud: no outlier"


def test_healthy_panel_keeps_all_three_sensors_for_an_hour():
    voter = PanelVoter("P01", SENSORS, P)
    out = _run(voter, 3600, {})
    assert out == [], f"healthy sensors voted out: {out[:3]}"
    assert len(voter.in_vote()) == 3
    voted = voter.voted_temp_k()
    assert voted is not None and abs(voted - (330 + 0.01 * 3599)) < 1.0, voted


def test_open_circuit_is_voted_out_at_once_on_range():
    voter = PanelVoter("P01", SENSORS, P)
    out = _run(voter, 30, {"S3": lambda t, v: 0.0 if t >= 10 else v})
    assert [(t, s) for t, s, _ in out] == [(10, "S3")], out
    assert "range" in out[0][2] and "open circuit" in out[0][2], out[0][2]
    assert set(voter.in_vote()) == {"S1", "S2"}


def test_stuck_sensor_is_voted_out_within_its_sample_count():
    voter = PanelVoter("P03", SENSORS, P)
    out = _run(voter, 60, {"S2": lambda t, v: 330.0 if t >= 20 else v})
    assert out and out[0][1] == "S2" and "stuck" in out[0][2], out
    assert out[0][0] <= 20 + P.stuck_samples, f"voted out at t={out[0][0]}, stuck at t=20"


def test_noisy_sensor_is_voted_out_on_variance():
    rng = random.Random(7)
    voter = PanelVoter("P03", SENSORS, P)
    out = _run(voter, 60, {"S1": lambda t, v: v + rng.gauss(0, 5.0) if t >= 20 else v})
    assert out and out[0][1] == "S1", out
    assert "noisy" in out[0][2] or "rate" in out[0][2], out[0][2]
    assert out[0][0] <= 20 + P.noisy_window + 2, out


def test_drifting_sensor_is_voted_out_once_it_disagrees_long_enough():
    voter = PanelVoter("P03", SENSORS, P)
    # 0.5 K/min: reaches the 4 K threshold after 8 min, then drift_samples more samples
    out = _run(voter, 900, {"S3": lambda t, v: v + 0.5 * t / 60})
    assert out and out[0][1] == "S3" and "drift" in out[0][2], out
    assert 480 <= out[0][0] <= 480 + P.drift_samples + 60, out[0]


def test_a_jump_beyond_the_rate_limit_is_voted_out():
    voter = PanelVoter("P03", SENSORS, P)
    out = _run(voter, 30, {"S1": lambda t, v: v + 60.0 if t >= 15 else v})
    assert out and out[0][:2] == (15, "S1"), out
    assert "rate" in out[0][2] or "drift" in out[0][2], out


def test_two_sensors_out_lose_the_vote_and_ground_can_vote_back_in():
    voter = PanelVoter("P03", SENSORS, P)
    _run(voter, 20, {"S1": lambda t, v: 0.0, "S2": lambda t, v: 0.0})
    assert set(voter.out()) == {"S1", "S2"}
    assert voter.voted_temp_k() is None, "one sensor left: no vote"
    voter.vote_in("S1")
    _run(voter, 5, {"S2": lambda t, v: 0.0}, seed=9)
    assert voter.voted_temp_k() is not None and set(voter.in_vote()) == {"S1", "S3"}


def test_an_invalid_sample_leaves_the_vote_but_is_not_voted_out():
    voter = PanelVoter("P03", SENSORS, P)
    _run(voter, 10, {})
    voter.update(10.0, {"S1": None, "S2": 330.1, "S3": 330.0})
    assert set(voter.in_vote()) == {"S2", "S3"} and voter.out() == {}


def _orbit_truth(t: float) -> float:
    """A radiator panel over a 96 min orbit: ~40 K swing, fast cooling at the eclipse entry."""
    phase = (t % 5760.0) / 5760.0
    return 320.0 + 20.0 * math.sin(2 * math.pi * phase) - (15.0 if 0.6 < phase < 0.95 else 0.0)


def _run_truth(voter: PanelVoter, seconds: int, fault: dict[str, object], seed: int) -> list:
    rng = random.Random(seed)
    out = []
    for t in range(seconds):
        truth = _orbit_truth(t)
        readings = {}
        for s in SENSORS:
            value = _healthy(rng, truth)
            if s in fault:
                value = fault[s](t, value)  # type: ignore[operator]
            readings[s] = value
        out += [(t, s, r) for s, r in voter.update(float(t), readings)]
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_nominal_day_votes_no_sensor_out(seed: int):
    voter = PanelVoter("P01", SENSORS, P)
    out = _run_truth(voter, 86_400, {}, seed)
    assert out == [], f"healthy sensors voted out: {out[:3]}"


@pytest.mark.parametrize("sensor", SENSORS)
def test_a_2_k_per_hour_drift_is_voted_out_within_40_min_and_only_it(sensor: str):
    voter = PanelVoter("P01", SENSORS, P)
    start = 1000
    rate = 2.0 / 3600
    out = _run_truth(voter, start + 3600, {sensor: lambda t, v: v + max(0, t - start) * rate}, 5)
    assert [s for _, s, _ in out] == [sensor], out
    t, _, reason = out[0]
    assert "drift" in reason and t - start <= 40 * 60, (t - start, reason)
    # well inside the 4 K per-sample drift threshold: the slow check did it
    assert (t - start) * rate < P.drift_k / 2, reason


def test_a_slow_drift_is_not_judged_on_a_panel_with_two_sensors_in_vote():
    voter = PanelVoter("P01", SENSORS, P)
    voter.vote_out("S3", "by ground")
    out = _run_truth(voter, 4000, {"S1": lambda t, v: v + t * 2.0 / 3600}, 6)
    assert out == [], "two sensors cannot say which one drifts"


def test_the_slow_drift_monitor_matches_a_direct_window_mean():
    """The running pairwise sums equal the windows' means computed from the samples."""
    rng = random.Random(11)
    params = VoteParams(slow_drift_window_s=50.0, slow_drift_windows=1, slow_drift_k=0.3)
    monitor = SlowDriftMonitor(params)
    window: list[dict[str, float]] = []
    for t in range(400):
        values = {s: 300.0 + rng.gauss(0, 0.2) + (0.01 * t if s == "S2" else 0.0) for s in SENSORS}
        window.append(values)
        found = monitor.add(float(t), values)
        if t % 50 == 0 and t > 0:
            off = statistics.median(
                statistics.fmean(v["S2"] - v[o] for v in window) for o in ("S1", "S3")
            )
            spread = abs(statistics.fmean(v["S1"] - v["S3"] for v in window))
            expect = abs(off) > 0.3 and spread <= 0.15
            assert (found is not None and found[0] == "S2") == expect, (t, off, spread, found)
            if found is not None:
                assert f"{off:+.2f} K" in found[1], (found, off)
            window = []


def _is_noisy_reference(own, peers, window, std_k, ratio):
    """is_noisy as it was, without its quiet fast path."""
    if len(own) < window:
        return False
    mine = statistics.median([abs(b - a) for a, b in itertools.pairwise(own[-window:])])
    mine /= 0.6745
    if mine <= std_k:
        return False
    theirs = []
    for p in peers:
        if len(p) >= window:
            d = [abs(b - a) for a, b in itertools.pairwise(p[-window:])]
            theirs.append(statistics.median(d) / 0.6745)
    reference = max(statistics.median(theirs), 0.1) if theirs else 0.1
    return mine > ratio * reference


def test_the_quiet_fast_path_gives_is_noisys_verdicts():
    """On healthy, noisy, stepping and quantised histories (including changes right at the
    fast path's bound) is_noisy says what the full robust comparison says."""
    rng = random.Random(13)
    bound = P.noisy_std_k * 0.6745
    seen = set()
    for case in range(3000):
        sigma = rng.choice([0.2, 0.5, 1.0, 2.0, 5.0])
        own = [round(300 + rng.gauss(0, sigma), 1) for _ in range(11)]
        if case % 7 == 0:  # changes exactly at the bound
            own = [300 + bound * (i % 2) for i in range(11)]
        peers = [[round(300 + rng.gauss(0, 0.2), 1) for _ in range(11)] for _ in range(2)]
        got = is_noisy(own, peers, P.noisy_window, P.noisy_std_k, P.noisy_ratio)
        assert got == _is_noisy_reference(
            own, peers, P.noisy_window, P.noisy_std_k, P.noisy_ratio
        ), (case, own)
        seen.add(got)
    assert seen == {True, False}
