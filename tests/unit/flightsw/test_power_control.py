"""Power control (flightsw.services.power) flying hwsim in one process on the stepped clock:
the compute budget ahead of the eclipse and after it, the battery within its limits over an
orbit, a stuck array drive, a failed MPPT, a tripped switch, the sun-sensor correction of the
orbit model, a degraded battery, and the PUS 132 telecommands through the link.

Until the payload manager applies ``ComputeLimit``, the bus tap of ``_power_sat`` applies it
to the slots the way the payload manager will, so the battery sees the budget's consequences.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from _power_sat import Tap, inject, power_config, power_satellite, simctl

from flightsw import orbit
from flightsw.services.power import Config
from ground.station import Ground
from icd.dictionary import EventId, Mode
from icd.errors import ErrorCode
from icd.power import BatteryLimit, PowerEvent, SwitchRequest, WingRequest
from runtime.clock import DEFAULT_START_NS

NS = 1_000_000_000
PERIOD_S = orbit.orbital_period_s(600.0)
ECLIPSE_S = orbit.eclipse_duration_s(600.0, 0.0)


def _truth_entry_ns(initial_phase_deg: float) -> int:
    """When hwsim's orbit enters the shadow (β 0, phase from noon at model time 0)."""
    theta_deg = ECLIPSE_S / PERIOD_S * 180.0
    return DEFAULT_START_NS + round((180.0 - theta_deg - initial_phase_deg) / 360.0 * PERIOD_S * NS)


async def _until(sat, predicate, timeout_s: float, what: str) -> None:
    """Wait (mission time, 1 s steps) until ``predicate()``; fail naming ``what``."""
    for _ in range(int(timeout_s)):
        if predicate():
            return
        await sat.clock.sleep(1.0)
    assert predicate(), f"{what}: not within {timeout_s} mission s"


@pytest.mark.timeout(1200)
async def test_an_orbit_at_beta_0_sheds_compute_before_the_eclipse_and_never_breaks_a_limit(
    tmp_path: Path,
):
    tap = Tap()
    # the eclipse comes ~1510 s after the start (flight software boots within the first few
    # hundred mission seconds of a stepped start); one whole orbit is flown
    phase = 20.0
    config = power_config(phase)
    async with power_satellite(tmp_path, tap, phase, config=config) as sat:
        start = sat.clock.now_ns()
        await sat.clock.sleep(PERIOD_S + 60.0)

        shed = tap.events_of(PowerEvent.COMPUTE_SHED_FOR_ECLIPSE)
        restored = tap.events_of(PowerEvent.COMPUTE_RESTORED)
        entry = _truth_entry_ns(phase)
        exit_ = entry + round(ECLIPSE_S * NS)
        assert tap.first_dark_ns is not None and abs(tap.first_dark_ns - entry) < 2 * NS, (
            f"hwsim's shadow came at {(tap.first_dark_ns or 0) / NS}, expected {entry / NS}"
        )
        # shed ahead of the entry, predicted (the sun sensors still saw the Sun)
        assert len(shed) == 1, [e.message for _, e in shed]
        t_shed = shed[0][0]
        lead_s = (tap.first_dark_ns - t_shed) / NS
        assert config.shed_lead_s - 2 <= lead_s <= config.shed_lead_s + 2, (
            f"compute shed {lead_s:.0f} s before the shadow, expected {config.shed_lead_s:.0f} s"
        )
        sunlit = [m.power_limit_w for t, m in tap.limits if t < t_shed]
        eclipse = [m.power_limit_w for t, m in tap.limits if t_shed <= t < exit_]
        assert sunlit and eclipse
        assert sunlit[-1] > 100_000, f"sunlit budget {sunlit[-1]} W"
        # the battery's share: its energy above the floor over the rest of the eclipse
        first = eclipse[0]
        usable_j = (1.0 - config.min_soc) * config.battery_capacity_wh * 3600 * 0.97
        assert first <= usable_j / (ECLIPSE_S + config.shed_lead_s), (first, usable_j)
        assert max(eclipse) <= config.max_discharge_power_w, max(eclipse)
        # restored after the exit, once the arrays deliver, not before
        assert len(restored) >= 1, "compute never restored"
        t_restored = restored[0][0]
        assert tap.first_lit_after_dark_ns is not None
        assert exit_ <= t_restored <= exit_ + 10 * NS, (t_restored - exit_) / NS
        assert t_restored >= tap.first_lit_after_dark_ns
        after = [m.power_limit_w for t, m in tap.limits if t > t_restored]
        assert after and after[0] > 100_000, after[:3]
        # the mode manager was asked, at the entry and after the exit
        requests = [(t, m.mode) for t, m in tap.mode_requests]
        eclipse_at = [t for t, mode in requests if mode == Mode.ECLIPSE]
        nominal_at = [t for t, mode in requests if mode == Mode.NOMINAL]
        assert eclipse_at and abs(eclipse_at[0] - entry) <= 2 * NS, requests
        # back to NOMINAL after the exit: asked by power, or already done by the mode manager
        # on the same forecast (then power has nothing to ask)
        back = nominal_at + [
            t for t, e in tap.events_of(EventId.MODE_CHANGED) if "ECLIPSE -> NOMINAL" in e.message
        ]
        assert back and min(back) >= exit_, (requests, tap.events_of(EventId.MODE_CHANGED))
        # the forecast every cycle, and right (no correction needed: the elements are true)
        assert len(tap.forecasts) >= (sat.clock.now_ns() - start) / NS * 0.9, len(tap.forecasts)
        before = [f for t, f in tap.forecasts if t < t_shed]
        assert before and abs(before[-1].next_entry_ns - entry) < 2 * NS
        assert abs(before[-1].next_exit_ns - exit_) < 2 * NS
        assert not tap.events_of(PowerEvent.ORBIT_MODEL_CORRECTED)
        # never, over the whole orbit: below the floor, beyond the discharge limit, a bus shed
        assert tap.min_soc >= config.min_soc, f"battery down to {tap.min_soc:.3f}"
        assert tap.max_discharge_w <= config.max_discharge_power_w, tap.max_discharge_w
        assert not tap.bus_shed, f"the bus shed on its own: {sorted(tap.bus_shed)}"
        # and the battery charges at the rate that refills it before the next eclipse's lead
        p = tap.params
        left_s = p["power.next_entry_in_s"] - config.shed_lead_s - config.charge_guard_s
        charging_w = -p["battery.power_w"]
        projected = p["battery.soc"] + charging_w * 0.95 * left_s / (30_000 * 3600)
        assert projected >= config.max_soc - 0.01, (p["battery.soc"], charging_w, left_s)


@pytest.mark.timeout(600)
async def test_a_stuck_drive_a_failed_mppt_and_a_tripped_switch_are_handled(tmp_path: Path):
    tap = Tap()
    async with power_satellite(tmp_path, tap, 0.0) as sat, simctl(sat) as sim:
        await _until(sat, lambda: "power.compute_limit_w" in tap.params, 600, "a first budget")
        await sat.clock.sleep(30)
        limit_before = tap.limits[-1][1].power_limit_w
        w2_before = tap.params["wing.W2.available_power_w"]

        await inject(sim, "mppt_failure", "wing.W2")
        await _until(sat, lambda: tap.events_of(PowerEvent.MPPT_FAILED), 120, "MPPT_FAILED")
        restarted = tap.events_of(PowerEvent.MPPT_RESTARTED)
        failed = tap.events_of(PowerEvent.MPPT_FAILED)
        assert len(restarted) == 1 and restarted[0][0] < failed[0][0], (restarted, failed)
        await sat.clock.sleep(5)
        limit_after = tap.limits[-1][1].power_limit_w
        assert limit_after < limit_before - 0.2 * w2_before, (limit_before, limit_after, w2_before)
        assert tap.params["power.mppt_failed"] == 1

        await inject(sim, "array_drive_stuck", "wing.W1")
        await _until(
            sat, lambda: tap.events_of(PowerEvent.ARRAY_DRIVE_STUCK), 300, "ARRAY_DRIVE_STUCK"
        )
        assert "W1" in tap.events_of(PowerEvent.ARRAY_DRIVE_STUCK)[0][1].message
        await sat.clock.sleep(3)
        assert tap.params["power.wings_stuck"] == 1
        # the budget follows the arrays that remain, within the margin and the 500 W grid
        p = tap.params
        expect = (
            p["power.array_available_w"]
            - p["power.housekeeping_w"]
            - p["power.charge_w"]
            - Config().budget_margin_w
        )
        assert expect - 2500 <= p["power.compute_limit_w"] <= expect, (p, expect)

        # a trip: re-closed once; a second trip: kept open
        await inject(sim, "switch_trip", "pdu.laser_terminals")
        await _until(sat, lambda: tap.events_of(PowerEvent.SWITCH_RECLOSED), 30, "re-close")
        await sat.clock.sleep(3)
        assert tap.params["pdu.laser_terminals_on"] == 1.0
        await inject(sim, "switch_trip", "pdu.laser_terminals", persistent=True)
        await _until(
            sat,
            lambda: any(
                "kept open" in e.message for _, e in tap.events_of(PowerEvent.SWITCH_TRIPPED)
            ),
            30,
            "kept open",
        )
        await sat.clock.sleep(5)
        assert tap.params["pdu.laser_terminals_on"] == 0.0
        assert len(tap.events_of(PowerEvent.SWITCH_RECLOSED)) == 1
        assert tap.params["power.switches_open"] == 1


@pytest.mark.timeout(900)
async def test_a_stuck_drive_never_makes_the_sister_wing_look_off_its_mpp(tmp_path: Path):
    """A drive stuck on W1 turns W1 away from the Sun; its colder cells and the albedo share
    at a grazing incidence once made W2's power/cos look 15 % short (a false MPPT_FAILED on
    W2). Flown until W1 no longer counts as lit, then a real MPPT failure on W2 is still
    caught (the clamp voltage)."""
    tap = Tap()
    phase = -40.0  # ~2500 s of sunlight from the start: W1 turns ~150 deg off the Sun
    async with power_satellite(tmp_path, tap, phase) as sat, simctl(sat) as sim:
        await _until(sat, lambda: "power.compute_limit_w" in tap.params, 600, "a first budget")
        await inject(sim, "array_drive_stuck", "wing.W1")
        await _until(
            sat, lambda: tap.events_of(PowerEvent.ARRAY_DRIVE_STUCK), 300, "ARRAY_DRIVE_STUCK"
        )
        lowest = 1.0
        for _ in range(1500):
            await sat.clock.sleep(1.0)
            lowest = min(lowest, tap.params.get("wing.W1.incidence_cos", 1.0))
            assert not tap.events_of(PowerEvent.MPPT_RESTARTED), [
                e.message for _, e in tap.events_of(PowerEvent.MPPT_RESTARTED)
            ]
        assert lowest < 0.3, f"W1 only turned to cos {lowest:.2f}: the case was not flown"
        assert tap.params["wing.W2.sun_illumination"] >= 0.5, "W2 must still be lit"
        await inject(sim, "mppt_failure", "wing.W2")
        await _until(sat, lambda: tap.events_of(PowerEvent.MPPT_FAILED), 120, "MPPT_FAILED")
        assert "W2" in tap.events_of(PowerEvent.MPPT_FAILED)[0][1].message


@pytest.mark.timeout(600)
async def test_the_sun_sensors_correct_a_wrong_phase_and_a_failed_cell_raises_the_floor(
    tmp_path: Path,
):
    tap = Tap()
    # hwsim enters the shadow ~1190 s in (flight software boots within the first few hundred
    # mission seconds of a stepped start); the model believes the satellite 8 deg behind
    truth, believed = 40.0, 32.0
    config = power_config(believed)
    async with power_satellite(tmp_path, tap, truth, config=config) as sat, simctl(sat) as sim:
        entry = _truth_entry_ns(truth)
        await _until(
            sat,
            lambda: tap.events_of(PowerEvent.ORBIT_MODEL_CORRECTED),
            (entry - sat.clock.now_ns()) / NS + 60,
            "ORBIT_MODEL_CORRECTED",
        )
        t_fix, event = tap.events_of(PowerEvent.ORBIT_MODEL_CORRECTED)[0]
        expected_s = -(truth - believed) / 360.0 * PERIOD_S
        assert f"{expected_s:+.0f}"[:3] in event.message, (event.message, expected_s)
        await sat.clock.sleep(2)
        forecast = tap.forecasts[-1][1]
        assert forecast.in_eclipse
        exit_ = entry + round(ECLIPSE_S * NS)
        assert abs(forecast.next_exit_ns - exit_) < 2 * NS, (forecast.next_exit_ns - exit_) / NS
        # the model said sunlight until then: compute was shed at the latest on the correction
        assert tap.events_of(PowerEvent.COMPUTE_SHED_FOR_ECLIPSE)
        assert tap.events_of(PowerEvent.COMPUTE_SHED_FOR_ECLIPSE)[0][0] <= t_fix

        floor = tap.params["power.min_soc"]
        await inject(sim, "battery_cell_failure", "battery", cells=2, capacity_loss_fraction=0.1)
        await _until(sat, lambda: tap.events_of(PowerEvent.BATTERY_DEGRADED), 30, "DEGRADED")
        await sat.clock.sleep(3)
        raised = tap.params["power.min_soc"]
        assert raised == pytest.approx(floor + 2 * config.floor_per_failed_cell + 0.1), raised


async def _tc(ground: Ground, sub: int, data: bytes):
    return await ground.command(132, sub, data, timeout=30)


@pytest.mark.timeout(300)
async def test_power_telecommands_are_verified_and_refusals_say_why(tmp_path: Path):
    tap = Tap()
    async with (
        power_satellite(tmp_path, tap, 0.0) as sat,
        Ground("127.0.0.1", sat.udp_port, clock=sat.clock) as ground,
    ):
        await ground.ping(timeout=600)
        await _until(
            sat,
            lambda: "pdu.avionics_on" in tap.params and "power.compute_limit_w" in tap.params,
            60,
            "PDU telemetry and a first budget",
        )

        avionics = await _tc(ground, 1, SwitchRequest("avionics").pack())
        assert avionics.error_code == ErrorCode.POWER_LOAD_PROTECTED, avionics.describe()
        assert avionics.failure is not None and avionics.failure.subservice == 8
        refused = tap.events_of(PowerEvent.POWER_COMMAND_REFUSED)
        assert any("priority-0" in e.message for _, e in refused), refused
        assert not any("refused" in e.message for _, e in tap.events_of(PowerEvent.LOAD_SHED))
        unknown = await _tc(ground, 1, SwitchRequest("heater_99").pack())
        assert unknown.error_code == ErrorCode.POWER_UNKNOWN_TARGET, unknown.describe()

        shed = await _tc(ground, 1, SwitchRequest("laser_terminals").pack())
        assert shed.ok, shed.describe()
        await sat.clock.sleep(3)
        assert tap.params["pdu.laser_terminals_on"] == 0.0
        back = await _tc(ground, 2, SwitchRequest("laser_terminals").pack())
        assert back.ok, back.describe()
        await sat.clock.sleep(3)
        assert tap.params["pdu.laser_terminals_on"] == 1.0

        not_tripped = await _tc(ground, 6, SwitchRequest("laser_terminals").pack())
        assert not_tripped.error_code == ErrorCode.POWER_SWITCH_NOT_RECLOSABLE

        bad_wing = await _tc(ground, 3, WingRequest("W9", True).pack())
        assert bad_wing.error_code == ErrorCode.POWER_UNKNOWN_TARGET, bad_wing.describe()
        off = await _tc(ground, 3, WingRequest("W2", False).pack())
        assert off.ok, off.describe()
        await sat.clock.sleep(70)  # beyond the retry period: not re-enabled behind the ground
        assert tap.params["wing.W2.tracking"] == 0.0
        on = await _tc(ground, 3, WingRequest("W2", True).pack())
        assert on.ok, on.describe()

        # bad data is refused at acceptance; limits the controller cannot take at completion
        for data in (b"", bytes([3]), bytes([91]), bytes([40, 0])):
            bad = await _tc(ground, 5, data)
            assert bad.error_code == ErrorCode.INVALID_APP_DATA, (data, bad.describe())
            assert bad.failure is not None and bad.failure.subservice == 2
        low = await _tc(ground, 5, BatteryLimit(20).pack())
        assert low.error_code == ErrorCode.POWER_LIMIT_REFUSED, low.describe()
        assert tap.params["power.min_soc"] == pytest.approx(Config().min_soc)
        ok = await _tc(ground, 5, BatteryLimit(40).pack())
        assert ok.ok, ok.describe()
        await sat.clock.sleep(2)
        assert tap.params["power.min_soc"] == pytest.approx(0.40)
        for sub, data in ((3, b"\x02W1\x05"), (1, b"\x05ab"), (4, b"")):
            garbled = await _tc(ground, sub, data)
            assert garbled.error_code == ErrorCode.INVALID_APP_DATA, garbled.describe()
        hk = await ground.request_hk(6, timeout=30)
        assert hk["power.min_soc"] == pytest.approx(0.40)
        assert hk["power.compute_limit_w"] is not None

        # tracking switched off behind its back (8,1): re-enabled
        switched = await ground.device_command("wing.W1", "set_tracking", {"enabled": False})
        assert switched.ok, switched.describe()
        await _until(
            sat,
            lambda: any(
                "re-enabled" in e.message for _, e in tap.events_of(PowerEvent.SUN_TRACKING_SET)
            ),
            90,
            "tracking re-enabled",
        )
        await sat.clock.sleep(3)
        assert tap.params["wing.W1.tracking"] == 1.0


@pytest.mark.timeout(300)
async def test_loads_are_shed_by_priority_below_the_floor_and_restored_with_hysteresis(
    tmp_path: Path,
):
    tap = Tap()
    async with (
        # just above the default 30 % floor: the arrays charge ~0.1 % a second while flight
        # software boots, and the 60 % floor set below must still be above the charge then
        power_satellite(tmp_path, tap, 0.0, initial_soc=0.33) as sat,
        Ground("127.0.0.1", sat.udp_port, clock=sat.clock) as ground,
    ):
        await ground.ping(timeout=600)
        await _until(sat, lambda: "power.compute_limit_w" in tap.params, 60, "a first budget")
        assert tap.params["battery.soc"] < 0.6, tap.params["battery.soc"]
        assert not tap.events_of(PowerEvent.LOAD_SHED)
        raised = await _tc(ground, 5, BatteryLimit(60).pack())
        assert raised.ok, raised.describe()
        await _until(sat, lambda: tap.events_of(PowerEvent.LOAD_SHED), 40, "LOAD_SHED")
        await sat.clock.sleep(3)
        shed = tap.events_of(PowerEvent.LOAD_SHED)
        assert len(shed) == 1 and "laser_terminals" in shed[0][1].message, shed
        p = tap.params
        assert p["pdu.laser_terminals_on"] == 0.0 and p["pdu.avionics_on"] == 1.0, p
        assert p["power.charge_w"] == Config().max_charge_power_w, p["power.charge_w"]
        await sat.clock.sleep(40)  # below the floor still: avionics (priority 0) stays on
        assert tap.params["pdu.avionics_on"] == 1.0
        assert len(tap.events_of(PowerEvent.LOAD_SHED)) == 1
        lowered = await _tc(ground, 5, BatteryLimit(30).pack())
        assert lowered.ok, lowered.describe()
        await _until(sat, lambda: tap.events_of(PowerEvent.LOAD_RESTORED), 40, "LOAD_RESTORED")
        await sat.clock.sleep(3)
        assert tap.params["pdu.laser_terminals_on"] == 1.0


@pytest.mark.timeout(300)
async def test_below_the_survival_floor_compute_is_zero_and_survival_is_requested(tmp_path: Path):
    tap = Tap()
    config = power_config(0.0)
    # well under the floor: the arrays charge ~0.1 % a second while flight software boots
    async with power_satellite(tmp_path, tap, 0.0, config=config, initial_soc=0.12) as sat:
        await _until(sat, lambda: tap.events_of(PowerEvent.BATTERY_LOW), 600, "BATTERY_LOW")
        t_low = tap.events_of(PowerEvent.BATTERY_LOW)[0][0]
        survival = [(t, m) for t, m in tap.mode_requests if m.mode == Mode.SURVIVAL]
        assert len(survival) == 1 and survival[0][0] == t_low, tap.mode_requests
        assert "below survival floor" in survival[0][1].reason
        # charged by the arrays in sunlight: compute comes back above the survival floor
        await _until(
            sat,
            lambda: tap.params.get("battery.soc", 0.0) > config.survival_soc + 0.01,
            900,
            "charged above the survival floor",
        )
        await sat.clock.sleep(3)
        during = [
            m.power_limit_w
            for t, m in tap.limits
            if t_low <= t and m.reason.startswith("battery at")
        ]
        assert during and max(during) == 0.0, during
        assert tap.limits[-1][1].power_limit_w > 0.0, tap.limits[-1][1]
        assert tap.params["power.charge_w"] == config.max_charge_power_w  # below the floor
        assert len(tap.events_of(PowerEvent.BATTERY_LOW)) == 1
