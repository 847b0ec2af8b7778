"""The onboard orbit model (flightsw.orbit) against the closed forms of REFERENCE.md."""

from __future__ import annotations

import math

import pytest

from flightsw import orbit
from flightsw.orbit import OrbitElements

NS = 1_000_000_000


def test_period_at_600_km_is_5801_s():
    assert orbit.orbital_period_s(600.0) == pytest.approx(5801.0, abs=1.0)


@pytest.mark.parametrize(
    ("beta_deg", "minutes"),
    [(0.0, 35.5), (60.0, None)],
)
def test_eclipse_duration_matches_the_closed_form(beta_deg, minutes):
    h, re = 600.0, orbit.R_EARTH_KM
    a = re + h
    closed = math.acos(math.sqrt(h * h + 2 * re * h) / (a * math.cos(math.radians(beta_deg))))
    expected_s = closed / math.pi * 2 * math.pi * math.sqrt(a**3 / orbit.MU_EARTH_KM3_S2)
    got = orbit.eclipse_duration_s(h, beta_deg)
    assert got == pytest.approx(expected_s, rel=1e-12), (beta_deg, got, expected_s)
    if minutes is not None:
        assert got / 60 == pytest.approx(minutes, abs=0.1), f"{got / 60:.2f} min at β {beta_deg}"
    # β 60 still has an eclipse, shorter than at β 0
    assert 0 < got <= orbit.eclipse_duration_s(h, 0.0)


def test_no_eclipse_above_the_critical_beta():
    assert orbit.beta_critical_deg(600.0) == pytest.approx(66.1, abs=0.05)
    assert orbit.eclipse_duration_s(600.0, 66.0) > 0
    for beta in (66.2, 70.0, 90.0, -70.0):
        el = OrbitElements(beta_deg=beta)
        assert orbit.eclipse_duration_s(600.0, beta) == 0.0, beta
        window = orbit.eclipse_window(el, 12345 * NS)
        assert window.next_entry_ns is None and window.next_exit_ns is None, window
        assert not window.in_eclipse


def test_entry_and_exit_are_centred_on_orbit_midnight():
    el = OrbitElements(epoch_ns=10 * NS, arg_of_latitude_deg=30.0, noon_arg_of_latitude_deg=30.0)
    period = orbit.orbital_period_s(600.0)
    duration = orbit.eclipse_duration_s(600.0, 0.0)
    entry = orbit.next_edge_ns(el, 10 * NS, "entry")
    exit_ = orbit.next_edge_ns(el, 10 * NS, "exit")
    assert entry is not None and exit_ is not None
    # noon at the epoch: midnight half a period later, the eclipse centred on it
    assert (entry - 10 * NS) / NS == pytest.approx(period / 2 - duration / 2, abs=1e-6)
    assert (exit_ - entry) / NS == pytest.approx(duration, abs=1e-6)
    assert not orbit.in_eclipse(el, entry - NS) and orbit.in_eclipse(el, entry + NS)
    assert orbit.in_eclipse(el, exit_ - NS) and not orbit.in_eclipse(el, exit_ + NS)
    # inside the eclipse the next entry is one period after this one's
    inside = orbit.eclipse_window(el, entry + 60 * NS)
    assert inside.in_eclipse and inside.next_exit_ns == exit_
    assert (inside.next_entry_ns - entry) / NS == pytest.approx(period, abs=1e-6)


def test_the_phase_follows_the_argument_of_latitude_at_the_epoch():
    el = OrbitElements(epoch_ns=0, arg_of_latitude_deg=100.0, noon_arg_of_latitude_deg=10.0)
    assert orbit.phase_rad(el, 0) == pytest.approx(math.radians(90.0))
    quarter = orbit.orbital_period_s(600.0) / 4
    assert orbit.phase_rad(el, round(quarter * NS)) == pytest.approx(math.pi, abs=1e-9)


@pytest.mark.parametrize("offset_s", [-200.0, -3.0, 45.0, 900.0])
def test_a_seen_edge_re_anchors_the_model(offset_s):
    el = OrbitElements(epoch_ns=0)
    predicted = orbit.next_edge_ns(el, 0, "entry")
    assert predicted is not None
    seen = predicted + round(offset_s * NS)
    fixed, correction_s = orbit.corrected_at_edge(el, seen, "entry")
    assert correction_s == pytest.approx(offset_s, abs=1e-3), correction_s
    again = orbit.next_edge_ns(fixed, seen - 10 * NS, "entry")
    assert again is not None and abs(again - seen) < 1_000_000, (again - seen) / NS
    # the exit moves with it, the duration does not
    exit_ = orbit.next_edge_ns(fixed, seen, "exit")
    assert (exit_ - seen) / NS == pytest.approx(orbit.eclipse_duration_s(600.0, 0.0), abs=1e-3)
