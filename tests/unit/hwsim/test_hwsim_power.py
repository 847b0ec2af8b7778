"""Solar, battery and bus: closed forms and energy conservation."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from hwsim.model.orbit import orbital_period_s
from hwsim.model.power import battery_soc_step, cell_ocv_v, serve_by_priority
from hwsim.model.solar import (
    array_mpp_power_w,
    drive_angle_step_deg,
    incidence_cosine,
    mppt_output_power_w,
)
from hwsim.spacecraft import Spacecraft


def test_drive_is_rate_limited_and_takes_the_short_way() -> None:
    assert drive_angle_step_deg(10.0, 20.0, 0.5, 1.0) == 10.5
    assert drive_angle_step_deg(10.0, 10.2, 0.5, 1.0) == pytest.approx(10.2)
    assert abs(drive_angle_step_deg(359.0, 1.0, 0.5, 2.0) - 0.0) < 1e-9
    assert abs(drive_angle_step_deg(1.0, 359.0, 0.5, 1.0) - 0.5) < 1e-9


def test_cosine_loss_and_beta() -> None:
    assert incidence_cosine(100.0, 100.0, 0.0) == 1.0
    assert abs(incidence_cosine(100.0, 40.0, 0.0) - 0.5) < 1e-12
    assert incidence_cosine(100.0, 280.0, 0.0) == 0.0
    assert abs(incidence_cosine(0.0, 0.0, math.radians(60)) - 0.5) < 1e-12


def test_array_power_temperature_and_degradation() -> None:
    p = array_mpp_power_w(320.0, 0.19, 1361.0, 1.0, 301.15, 301.15, -0.0035, 0.005, 0.0)
    assert abs(p - 320 * 0.19 * 1361) < 1e-6
    hot = array_mpp_power_w(320.0, 0.19, 1361.0, 1.0, 331.15, 301.15, -0.0035, 0.005, 0.0)
    assert abs(hot / p - (1 - 0.105)) < 1e-9
    old = array_mpp_power_w(320.0, 0.19, 1361.0, 1.0, 301.15, 301.15, -0.0035, 0.005, 10.0)
    assert abs(old / p - 0.95) < 1e-9
    assert array_mpp_power_w(320.0, 0.19, 0.0, 1.0, 301.15, 301.15, -0.0035, 0.0, 0.0) == 0.0
    assert mppt_output_power_w(1000.0, False, 0.7) == 700.0


def test_ocv_is_monotonic_and_bounded() -> None:
    socs = np.linspace(0, 1, 101)
    v = [cell_ocv_v(float(s), 3.0, 3.7, 4.15) for s in socs]
    assert v[0] == 3.0 and v[-1] == 4.15
    assert all(b > a for a, b in itertools.pairwise(v))


def test_soc_step_efficiencies() -> None:
    soc, stored, loss = battery_soc_step(0.5, -1000.0, 3600.0, 10000.0, 0.95, 0.97)
    assert abs(soc - (0.5 + 0.095)) < 1e-12 and abs(loss - 0.05 * 3.6e6) < 1e-6
    soc, stored, loss = battery_soc_step(0.5, 970.0, 3600.0, 10000.0, 0.95, 0.97)
    assert abs(soc - 0.4) < 1e-12 and abs(stored + 3.6e6) < 1e-6


def test_shedding_follows_priority() -> None:
    demand = np.array([10.0, 50.0, 30.0, 20.0])
    prio = np.array([0, 5, 1, 9])
    order = np.argsort(prio, kind="stable")
    served = serve_by_priority(demand, order, 45.0)
    assert served.tolist() == [True, False, True, False]


def test_energy_is_conserved_over_an_orbit(ai1) -> None:
    sc = Spacecraft(ai1, seed=0)
    cap_j = ai1.battery.capacity_wh * 3600.0
    soc0 = sc.read("battery")["soc"]
    sc.run(orbital_period_s(600.0), 1.0)
    e = sc.truth()["energy_j"]
    stored = (sc.read("battery")["soc"] - soc0) * cap_j
    assert abs(stored - e["battery_stored_change_j"]) < 1e-6 * cap_j
    balance = e["load_j"] + stored + e["battery_loss_j"]
    assert abs(e["array_j"] - balance) / e["array_j"] < 0.01
    assert e["array_j"] > 0 and e["battery_loss_j"] > 0


def test_array_gives_nothing_in_eclipse_and_about_160kw_in_sun(ai1) -> None:
    sc = Spacecraft(ai1, seed=0)
    sc.run(600.0, 1.0)
    w = [sc.read("wing.W1"), sc.read("wing.W2")]
    total = sum(x["available_power_w"] for x in w)
    assert 140e3 < total < 175e3
    assert all(x["incidence_cos"] > 0.99 for x in w)
    sc.run(orbital_period_s(600.0) / 2 - 600.0, 1.0)  # orbit midnight
    assert sc.truth()["eclipse"]
    assert sc.read("wing.W1")["available_power_w"] == 0.0
    assert sc.read("wing.W1")["temp_k"] < 300.0
