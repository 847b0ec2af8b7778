"""Thermal control: pump speed, pump switchover, leaks, radiator sensor voting, throttle requests.

Reads (the parameter pool, ``flightsw.pool``, fed by the devices service; never the
simulator's truth): per loop ``loop.L<n>.{flow_kg_s, pressure_kpa, supply_temp_k,
return_temp_k, inventory_kg, heat_load_w}`` (kg/s, kPa, K, kg, W); per pump
``pump.L<n>.<X>.{speed_rpm, target_speed_rpm, flow_kg_s, power_w}`` (rpm, kg/s, W); the PDU's
``pdu.pump_L<n>_<X>_{on, tripped}`` (0/1); per sensor ``radsensor.P<nn>.S<n>.temp_k`` (K);
bus ``TcDispatch`` of service 131 (``icd.thermal``).
Commands (``ctx.devices.command``): ``pump.*`` start / stop / set_speed_rpm, ``pdu``
switch_on (a standby pump's channel), ``radvalve.P<nn>`` close / open (the radiator panel
valves; a valve command that fails ends localisation by isolating the loop).
Publishes: ``ComputeLimit`` (source ``thermal``, scope a loop id; W, None = lifted) when a
loop has no flow, is isolated, or its heat rejection falls short; ``ParameterUpdate`` of
``thermal.*`` (HK SID 5, ``icd.thermal.hk_parameter_names``); events 40-54
(``icd.thermal.ThermalEvent``); ``TcProgress`` for service 131.

Every ``period_s`` mission seconds, per loop:

- **Sensors**: each panel's sensors go through plausibility checks (range, rate, stuck, noisy,
  drift against the other two: :class:`PanelVoter`); the voted temperature is the median of
  the sensors in vote, invalid (and SENSOR_VOTE_LOST) with fewer than 2.
- **Pump supervision**: the pump thermal control runs is seized when its PDU channel tripped,
  or it stands still although commanded on (speed ~0 past the spin-up grace, with stall power
  or no power at all), persisting ``seizure_samples``; it is degraded when its flow is below
  the flow-per-rpm it showed while healthy (the largest seen) by ``degrade_tolerance`` for
  ``degrade_persist_s``: first its speed is raised to the maximum, then, if at maximum speed
  the flow stays below what the speed law asks for, the standby takes over. A switchover
  stops the bad pump and starts the standby at the loop's speed (PUMP_SWITCHOVER).
- **Speed law**: a stepped proportional law on the return temperature: half speed at
  ``half_speed_k``, full speed at ``full_speed_k``, never below ``min_speed_fraction``;
  commanded only when it moves by ``speed_step_rpm``.
- **No flow**: loop flow below ``no_flow_kg_s`` sheds the loop's compute (0 W) until it is
  back (LOOP_NO_FLOW / LOOP_FLOW_RESTORED).
- **Leak**: the least-squares slopes of inventory and pressure over ``leak_window_s`` below
  their thresholds for ``leak_persist_s`` → LEAK_DETECTED; then one panel valve at a time is
  closed for ``localise_observe_s``: the one whose closing stops the fall stays closed
  (PANEL_ISOLATED); if none does, a valve fails, or the inventory falls below
  ``inventory_floor_fraction`` of the largest seen, the loop is isolated (LOOP_ISOLATED: pumps
  stopped, 0 W on its compute).
- **Rejection**: the capacity of the loop's panels in service at ``radiator_limit_k``
  (εσA(T⁴ − T_sink⁴)); when the supply temperature is above ``supply_limit_k`` with the pump at
  full speed, or the voted panels near their limit reject less than the heat load, a compute
  limit brings it back (THERMAL_LIMIT); relaxed step by step with hysteresis
  (THERMAL_LIMIT_LIFTED).
"""

from __future__ import annotations

import asyncio
import itertools
import math
import statistics
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field

from flightsw.context import ServiceContext
from flightsw.messages import ComputeLimit, TcDispatch
from flightsw.pool import ParameterPool, follow
from icd import thermal as ith
from icd.errors import DecodeError, ErrorCode
from icd.event_action import ONBOARD_SOURCE_ID
from icd.thermal import LeakState, PumpCode, ThermalEvent
from runtime.ports import DevicePortError, DeviceTimeout

__all__ = [
    "Config",
    "LeakLocaliser",
    "LoopLayout",
    "PanelVoter",
    "TrendMonitor",
    "VoteParams",
    "is_noisy",
    "is_stuck",
    "median_vote",
    "radiator_capacity_w",
    "run",
    "slope_per_s",
    "speed_law_rpm",
]

SIGMA = 5.670e-8  # W/(m²·K⁴)


class LoopLayout(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    loop_id: str = Field(description="Loop id (L1).", pattern=r"^L\d{1,2}$")
    pumps: tuple[str, ...] = Field(
        ("A", "B"), min_length=1, description="Pump ids; the first is the primary."
    )
    panels: tuple[str, ...] = Field(min_length=1, description="Radiator panels it feeds (P01).")


def _ai1_loops() -> tuple[LoopLayout, ...]:
    return (
        LoopLayout(loop_id="L1", panels=("P01", "P02", "P03", "P04")),
        LoopLayout(loop_id="L2", panels=("P05", "P06", "P07", "P08")),
    )


class VoteParams(BaseModel):
    """Plausibility checks of the radiator sensors (per sample of the devices service)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_k: float = Field(150.0, description="Lowest plausible panel temperature, K (0 K = open).")
    max_k: float = Field(420.0, description="Highest plausible panel temperature, K.")
    max_rate_k_s: float = Field(
        20.0, gt=0, description="Fastest plausible change, K/s (a panel of ~1e5 J/K: < 1 K/s)."
    )
    stuck_samples: int = Field(
        10, ge=3, description="A value unchanged over this many samples while peers move."
    )
    noisy_window: int = Field(10, ge=4, description="Samples of the variance comparison.")
    noisy_std_k: float = Field(
        1.5, gt=0, description="Std of sample-to-sample changes above which a sensor is noisy, K."
    )
    noisy_ratio: float = Field(4.0, gt=1, description="... and this many times its peers' std.")
    drift_k: float = Field(
        4.0, gt=0, description="Disagreement with the mean of two agreeing peers, K."
    )
    drift_samples: int = Field(10, ge=1, description="Samples the disagreement must persist.")
    slow_drift_k: float = Field(
        0.8,
        gt=0,
        description="Mean disagreement with the other sensors over a window that is a slow "
        "drift, K (4x the 0.2 K noise of one sample; a window's mean scatters by ~0.02 K).",
    )
    slow_drift_window_s: float = Field(
        300.0, gt=0, description="Window of the mean disagreement, mission s."
    )
    slow_drift_windows: int = Field(
        2, ge=1, description="Consecutive windows beyond slow_drift_k before the vote-out."
    )


class Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    loops: tuple[LoopLayout, ...] = Field(default_factory=_ai1_loops, description="Loops.")
    sensors: tuple[str, ...] = Field(("S1", "S2", "S3"), description="Sensors on every panel.")
    onboard_source_ids: tuple[int, ...] = Field(
        (ONBOARD_SOURCE_ID,),
        description="PUS source ids of onboard telecommands (event-action's stored TCs): events "
        "name them 'event-action', the others 'ground'.",
    )
    period_s: float = Field(1.0, gt=0, description="Control period, mission s.")
    # pump (data sheet: hwsim PumpConfig defaults for the AI1 pumps)
    pump_max_speed_rpm: float = Field(6000.0, gt=0, description="Pump maximum speed, rpm.")
    min_speed_fraction: float = Field(0.3, gt=0, le=1, description="Speed law floor.")
    half_speed_k: float = Field(330.0, description="Return temperature for half speed, K.")
    full_speed_k: float = Field(350.0, description="Return temperature for full speed, K.")
    speed_step_rpm: float = Field(100.0, gt=0, description="Command only moves this large, rpm.")
    switchover_time_s: float = Field(
        10.0, gt=0, description="Most mission s from a visible pump fault to the standby running."
    )
    seizure_samples: int = Field(2, ge=1, description="Samples a seizure must persist.")
    spin_grace_s: float = Field(3.0, ge=0, description="After a start: no stand-still verdict.")
    stall_power_w: float = Field(1800.0, gt=0, description="Power of a stalled motor, W.")
    degrade_tolerance: float = Field(0.2, gt=0, lt=1, description="Flow shortfall vs curve.")
    degrade_persist_s: float = Field(10.0, ge=0, description="Shortfall persistence, s.")
    degrade_warn_fraction: float = Field(
        0.02,
        gt=0,
        lt=1,
        description="Flow this far below the healthy curve (flow per rpm is exact for a fixed "
        "loop) is wear: PUMP_DEGRADED once, and the speed law is raised to make up the flow.",
    )
    no_flow_kg_s: float = Field(0.1, ge=0, description="Loop flow below this = no flow, kg/s.")
    # leak
    leak_window_s: float = Field(60.0, gt=0, description="Trend window, mission s.")
    leak_rate_kg_s: float = Field(0.002, gt=0, description="Inventory fall that is a leak.")
    leak_pressure_kpa_s: float = Field(0.002, gt=0, description="Pressure fall that is a leak.")
    leak_persist_s: float = Field(20.0, ge=0, description="The fall must persist this long.")
    localise_settle_s: float = Field(5.0, ge=0, description="After a valve moves: ignored.")
    localise_observe_s: float = Field(30.0, gt=0, description="Trend watched per panel, s.")
    inventory_floor_fraction: float = Field(
        0.75, gt=0, lt=1, description="Below this fraction of the largest inventory: isolate."
    )
    # rejection
    supply_limit_k: float = Field(345.0, description="Supply (cold-side) temperature limit, K.")
    radiator_limit_k: float = Field(350.0, description="Panel temperature limit, K.")
    approach_k: float = Field(5.0, ge=0, description="Panels this close to the limit: watched.")
    hysteresis_k: float = Field(3.0, ge=0, description="Relax below limits by this much, K.")
    panel_area_m2: float = Field(27.5, gt=0, description="Radiating area per panel (2 faces).")
    panel_emissivity: float = Field(0.875, gt=0, le=1, description="Panel IR emissivity.")
    sink_temp_k: float = Field(150.0, ge=0, description="Effective environment sink, K.")
    limit_margin: float = Field(0.05, ge=0, lt=1, description="Margin under the capacity.")
    limit_step_fraction: float = Field(0.1, gt=0, lt=1, description="Limit step per hold.")
    limit_hold_s: float = Field(30.0, gt=0, description="Between two limit steps, s.")
    republish_s: float = Field(30.0, gt=0, description="Limits in force are re-sent this often.")
    standby_check_s: float = Field(
        600.0,
        ge=0,
        description="A loop's standby pump is checked this often, mission s (set_speed_rpm to "
        "the stopped pump: a seized one refuses it); 0: never.",
    )
    standby_run_s: float = Field(
        7200.0,
        ge=0,
        description="A loop's standby pump is run this often, mission s (pump rotation: wear "
        "and a seizure of a stopped pump only show while it runs); 0: never.",
    )
    standby_run_duration_s: float = Field(
        60.0, gt=0, description="Length of a standby test run, mission s."
    )
    votes: VoteParams = Field(default_factory=VoteParams, description="Sensor checks.")


# --- pure functions ---------------------------------------------------------------------------


def speed_law_rpm(return_temp_k: float, config: Config) -> float:
    """Pump speed for a return temperature: linear through half speed at ``half_speed_k`` and
    full speed at ``full_speed_k``, clamped to [min_speed_fraction, 1], on a speed_step grid."""
    span = max(config.full_speed_k - config.half_speed_k, 1e-6)
    fraction = 0.5 + 0.5 * (return_temp_k - config.half_speed_k) / span
    fraction = min(1.0, max(config.min_speed_fraction, fraction))
    rpm = fraction * config.pump_max_speed_rpm
    step = config.speed_step_rpm
    return min(config.pump_max_speed_rpm, max(step, round(rpm / step) * step))


def radiator_capacity_w(
    panel_temps_k: Iterable[float], area_m2: float, emissivity: float, sink_k: float
) -> float:
    """Net radiation of panels at these temperatures, W: Σ εσA(T⁴ − T_sink⁴)."""
    return sum(emissivity * SIGMA * area_m2 * (t**4 - sink_k**4) for t in panel_temps_k)


def slope_per_s(samples: Sequence[tuple[float, float]]) -> float | None:
    """Least-squares slope of (t s, value) samples, per s; None with < 3 samples or no span."""
    if len(samples) < 3:
        return None
    n = len(samples)
    mt = sum(t for t, _ in samples) / n
    mv = sum(v for _, v in samples) / n
    stt = sum((t - mt) ** 2 for t, _ in samples)
    if stt <= 0.0:
        return None
    return sum((t - mt) * (v - mv) for t, v in samples) / stt


def median_vote(values: Sequence[float]) -> float | None:
    """The voted value of the sensors in vote: their median; None with fewer than 2."""
    return statistics.median(values) if len(values) >= 2 else None


def _changes(values: Sequence[float]) -> int:
    return sum(1 for a, b in itertools.pairwise(values) if a != b)


def is_stuck(own: Sequence[float], peers: Sequence[Sequence[float]], samples: int) -> bool:
    """The last ``samples`` values of ``own`` are all equal while every peer (at least one)
    changed in at least half of its last ``samples`` steps."""
    if len(own) < samples or not peers:
        return False
    recent = own[-samples:]
    if any(v != recent[0] for v in recent):
        return False
    moving = [p for p in peers if len(p) >= samples and _changes(p[-samples:]) >= samples // 2]
    return len(moving) == len(peers)


def _diff_std(values: Sequence[float]) -> float:
    """Scatter of sample-to-sample changes, K: the standard deviation estimated from their
    median absolute value (robust: one step of the panel temperature is no scatter)."""
    diffs = [abs(b - a) for a, b in itertools.pairwise(values)]
    return statistics.median(diffs) / 0.6745 if len(diffs) >= 2 else 0.0


def _quiet(recent: Sequence[float], std_k: float) -> bool:
    """No sample-to-sample change beyond std_k·0.6745 (a hair less, so no rounding can flip
    it): then the median of the absolute changes, hence ``_diff_std``, is at most std_k."""
    bound = std_k * 0.6745 * (1 - 1e-9)
    if max(recent) - min(recent) <= bound:
        return True  # no change can exceed the range (rounding is monotone): the cheap test
    return all(-bound <= b - a <= bound for a, b in itertools.pairwise(recent))


def is_noisy(
    own: Sequence[float], peers: Sequence[Sequence[float]], window: int, std_k: float, ratio: float
) -> bool:
    """Scatter of ``own``'s sample-to-sample changes over ``window`` (robust, see
    ``_diff_std``) above ``std_k`` and above
    ``ratio`` times the median of its peers' (a floor of 0.1 K stands in for quiet peers)."""
    if len(own) < window:
        return False
    recent = own[-window:]
    if _quiet(recent, std_k):  # the common case, without the medians
        return False
    mine = _diff_std(recent)
    if mine <= std_k:
        return False
    theirs = [_diff_std(p[-window:]) for p in peers if len(p) >= window]
    reference = max(statistics.median(theirs), 0.1) if theirs else 0.1
    return mine > ratio * reference


class SlowDriftMonitor:
    """A slow drift inside ``drift_k``: per window of ``slow_drift_window_s``, the mean of the
    pairwise differences of the sensors in vote (only samples where all of them, at least 3,
    are valid). A sensor whose mean difference from the others exceeds ``slow_drift_k`` while
    the others agree among themselves within half of that, in ``slow_drift_windows``
    consecutive windows, drifts. The others' mutual agreement is what keeps a healthy sensor
    (half the drift away from the mean of a drifter and a healthy peer) in the vote."""

    def __init__(self, params: VoteParams) -> None:
        self.params = params
        self.members: tuple[str, ...] = ()
        self.start_t: float | None = None
        self.count = 0
        self.sums: list[float] = []  # per pair (i < j) of members: Σ (v_i - v_j)
        self.streak: dict[str, int] = {}

    def reset(self) -> None:
        self.members, self.start_t, self.count, self.sums = (), None, 0, []
        self.streak.clear()

    def add(self, t_s: float, values: dict[str, float]) -> tuple[str, str] | None:
        """One sample of every sensor in vote with a valid value now (in sensor order);
        returns (sensor, reason) when a window closes on a drifting sensor."""
        members = tuple(values)
        if len(members) < 3:
            return None
        if members != self.members:
            # another set of sensors: their differences are another window
            self.members, self.start_t, self.count = members, t_s, 0
            self.sums = [0.0] * (len(members) * (len(members) - 1) // 2)
            self.streak = {}
        assert self.start_t is not None
        v = list(values.values())
        n = len(v)
        sums = self.sums
        k = 0
        for i in range(n - 1):
            vi = v[i]
            for j in range(i + 1, n):
                sums[k] += vi - v[j]
                k += 1
        self.count += 1
        if t_s - self.start_t < self.params.slow_drift_window_s:
            return None
        return self._close(t_s)

    def _close(self, t_s: float) -> tuple[str, str] | None:
        p = self.params
        n, count = len(self.members), self.count
        mean = [[0.0] * n for _ in range(n)]  # mean[i][j]: mean of v_i - v_j over the window
        k = 0
        for i in range(n - 1):
            for j in range(i + 1, n):
                mean[i][j], mean[j][i] = self.sums[k] / count, -self.sums[k] / count
                k += 1
        self.start_t, self.count = t_s, 0
        self.sums = [0.0] * len(self.sums)
        found: tuple[str, str] | None = None
        for i, sensor in enumerate(self.members):
            others = [j for j in range(n) if j != i]
            off = statistics.median(mean[i][j] for j in others)
            spread = max(abs(mean[a][b]) for a in others for b in others if a < b)
            if abs(off) > p.slow_drift_k and spread <= p.slow_drift_k / 2:
                self.streak[sensor] = self.streak.get(sensor, 0) + 1
                if self.streak[sensor] >= p.slow_drift_windows and found is None:
                    found = (
                        sensor,
                        f"drift ({off:+.2f} K mean from its peers over "
                        f"{self.streak[sensor]} x {p.slow_drift_window_s:g} s)",
                    )
            else:
                self.streak[sensor] = 0
        return found


@dataclass
class _Sensor:
    values: deque[float]
    last_t: float | None = None
    last_v: float | None = None
    drift_count: int = 0
    out_reason: str | None = None  # voted out, and why
    current: float | None = None  # the latest valid sample, None if invalid now


class PanelVoter:
    """The 2-of-3 vote of one panel's sensors with plausibility checks (pure state machine:
    feed it samples with :meth:`update`)."""

    def __init__(self, panel_id: str, sensor_ids: Sequence[str], params: VoteParams) -> None:
        self.panel_id = panel_id
        self.params = params
        keep = max(params.stuck_samples, params.noisy_window) + 1
        self.sensors: dict[str, _Sensor] = {s: _Sensor(deque(maxlen=keep)) for s in sensor_ids}
        self.slow = SlowDriftMonitor(params)

    def vote_out(self, sensor: str, reason: str) -> None:
        self.sensors[sensor].out_reason = reason

    def vote_in(self, sensor: str) -> None:
        state = self.sensors[sensor]
        state.out_reason = None
        state.values.clear()
        state.drift_count = 0
        state.last_t = state.last_v = None
        self.slow.reset()

    def out(self) -> dict[str, str]:
        return {s: st.out_reason for s, st in self.sensors.items() if st.out_reason is not None}

    def in_vote(self) -> dict[str, float]:
        """Sensors in the vote with a valid sample now -> their value, K."""
        return {
            s: st.current
            for s, st in self.sensors.items()
            if st.out_reason is None and st.current is not None
        }

    def voted_temp_k(self) -> float | None:
        return median_vote(list(self.in_vote().values()))

    def update(self, t_s: float, readings: dict[str, float | None]) -> list[tuple[str, str]]:
        """One sample per sensor (None = invalid now; a sensor absent = no new sample).
        Returns the sensors voted out by this sample, with the reason."""
        p = self.params
        for sensor, value in readings.items():
            st = self.sensors[sensor]
            st.current = value
            if value is not None:
                st.values.append(value)
        newly: list[tuple[str, str]] = []
        for sensor, value in readings.items():
            st = self.sensors[sensor]
            if value is None or st.out_reason is not None:
                continue
            peers = [
                o for name, o in self.sensors.items() if name != sensor and o.out_reason is None
            ]
            own = list(st.values)
            # The peers' histories are copied only when a check needs them: is_stuck only
            # looks at them when its own recent values are all equal, is_noisy only past its
            # own fast path (``_quiet``) — the same verdicts, without the copies every sample.
            maybe_stuck = (
                len(own) >= p.stuck_samples
                and own[-2] == value  # a healthy sensor's noise almost always moves it
                and all(v == value for v in own[-p.stuck_samples :])
            )
            maybe_noisy = len(own) >= p.noisy_window and not _quiet(
                own[-p.noisy_window :], p.noisy_std_k
            )
            peer_hist = [list(o.values) for o in peers] if maybe_stuck or maybe_noisy else []
            reason: str | None = None
            if not p.min_k <= value <= p.max_k:
                what = "open circuit" if value == 0.0 else "implausible"
                reason = f"range ({what}: {value:.1f} K outside {p.min_k:g}..{p.max_k:g} K)"
            elif maybe_stuck and is_stuck(own, peer_hist, p.stuck_samples):
                reason = f"stuck ({value:.1f} K over {p.stuck_samples} samples, peers moving)"
            elif maybe_noisy and is_noisy(
                own, peer_hist, p.noisy_window, p.noisy_std_k, p.noisy_ratio
            ):
                reason = f"noisy (change std {_diff_std(own[-p.noisy_window :]):.1f} K)"
            else:
                peer_now = [o.current for o in peers if o.current is not None]
                if len(peer_now) == 2 and abs(peer_now[0] - peer_now[1]) <= p.drift_k:
                    ref = (peer_now[0] + peer_now[1]) / 2
                    if abs(value - ref) > p.drift_k:
                        st.drift_count += 1
                    else:
                        st.drift_count = 0
                    if st.drift_count >= p.drift_samples:
                        reason = f"drift ({value - ref:+.1f} K from its peers' {ref:.1f} K)"
                if reason is None and st.last_t is not None and st.last_v is not None:
                    dt = t_s - st.last_t
                    if dt > 0 and abs(value - st.last_v) / dt > p.max_rate_k_s:
                        rate = (value - st.last_v) / dt
                        reason = f"rate ({rate:+.1f} K/s beyond {p.max_rate_k_s:g} K/s)"
            st.last_t, st.last_v = t_s, value
            if reason is not None:
                st.out_reason = reason
                newly.append((sensor, reason))
        if not newly and len(readings) == len(self.sensors):
            # a sample of every sensor (not a partial update): the slow-drift window
            slow = self.slow.add(t_s, self.in_vote())
            if slow is not None:
                self.sensors[slow[0]].out_reason = slow[1]
                newly.append(slow)
        return newly


class TrendMonitor:
    """Slope of one quantity over a sliding window; ``falling`` once it stays below
    ``-rate`` for ``persist_s``."""

    def __init__(self, window_s: float, rate: float, persist_s: float) -> None:
        self.window_s = window_s
        self.rate = rate
        self.persist_s = persist_s
        self.samples: deque[tuple[float, float]] = deque()
        self._since: float | None = None
        self._changed_at = -math.inf  # the last sample that differed from the one before

    def reset(self) -> None:
        self.samples.clear()
        self._since = None
        self._changed_at = -math.inf

    def add(self, t_s: float, value: float) -> None:
        if not self.samples or self.samples[-1][1] != value:
            self._changed_at = t_s
        self.samples.append((t_s, value))
        while self.samples and self.samples[0][0] < t_s - self.window_s:
            self.samples.popleft()

    def slope(self) -> float | None:
        return slope_per_s(self.samples)

    def falling(self, t_s: float) -> bool:
        """The slope is below -rate, over a window at least half full, since persist_s."""
        full = bool(self.samples) and t_s - self.samples[0][0] >= self.window_s / 2
        if self.samples and self._changed_at <= self.samples[0][0]:
            # every value in the window is the same (a tight loop's inventory): the fit
            # would give 0 within rounding, never below -rate (> 0), so it is skipped
            self._since = None
            return False
        slope = self.slope()
        if slope is None or not full or slope > -self.rate:
            self._since = None
            return False
        if self._since is None:
            self._since = t_s
        return t_s - self._since >= self.persist_s


@dataclass(frozen=True)
class LocaliseAction:
    """What the localiser asks for: ``close`` / ``open`` a panel valve, ``found`` (the panel
    stays closed), or ``failed`` (isolate the loop; ``reason`` says why)."""

    kind: str
    panel: str | None = None
    reason: str = ""


class LeakLocaliser:
    """Closes one panel at a time and watches the inventory trend (pure state machine: call
    :meth:`step` every period with the inventory, execute the action it returns, and tell it
    with :meth:`valve_failed` if a valve did not move)."""

    def __init__(
        self, panels: Sequence[str], rate_kg_s: float, settle_s: float, observe_s: float
    ) -> None:
        self.panels = list(panels)
        self.rate = rate_kg_s
        self.settle_s = settle_s
        self.observe_s = observe_s
        self.index = -1
        self.closed_at: float | None = None
        self.samples: list[tuple[float, float]] = []
        self.done = False
        self.slopes: dict[str, float] = {}

    def valve_failed(self, panel: str, error: str) -> LocaliseAction:
        self.done = True
        return LocaliseAction("failed", panel, f"valve of {panel} did not move: {error}")

    def step(self, t_s: float, inventory_kg: float | None) -> LocaliseAction | None:
        if self.done:
            return None
        if self.closed_at is None:
            self.index += 1
            if self.index >= len(self.panels):
                self.done = True
                slopes = ", ".join(f"{p} {s * 1000:+.1f} g/s" for p, s in self.slopes.items())
                return LocaliseAction(
                    "failed", None, f"leak persists with each panel closed in turn ({slopes})"
                )
            self.closed_at = t_s
            self.samples = []
            return LocaliseAction("close", self.panels[self.index])
        panel = self.panels[self.index]
        if inventory_kg is not None and t_s >= self.closed_at + self.settle_s:
            self.samples.append((t_s, inventory_kg))
        if t_s < self.closed_at + self.settle_s + self.observe_s:
            return None
        slope = slope_per_s(self.samples)
        self.closed_at = None
        if slope is None:
            self.done = True
            return LocaliseAction("failed", panel, f"no inventory trend with {panel} closed")
        self.slopes[panel] = slope
        if slope > -self.rate / 2:
            self.done = True
            return LocaliseAction("found", panel, f"inventory trend {slope * 1000:+.2f} g/s")
        return LocaliseAction("open", panel)


# --- the service ------------------------------------------------------------------------------


@dataclass
class _Loop:
    layout: LoopLayout
    active: str | None = None  # the pump thermal control runs
    failed: dict[str, str] = field(default_factory=dict)  # pump -> why it is not used
    started_at: float = -math.inf
    speed_cmd: float | None = None
    boosted: bool = False
    degraded_since: float | None = None
    wear_since: float | None = None  # flow below the curve by degrade_warn_fraction since
    flow_ratio: float = 1.0  # flow / healthy curve of the active pump once wear is seen
    worn: set[str] = field(default_factory=set)  # pumps PUMP_DEGRADED was raised for
    k_closed: frozenset[str] = frozenset()  # the panels closed when k_flow was learnt
    seizure_count: int = 0
    k_flow: dict[str, float] = field(default_factory=dict)  # healthy flow per rpm
    isolated: bool = False
    no_flow: bool = False
    no_flow_count: int = 0
    flow_count: int = 0
    leak: LeakState = LeakState.NONE
    localiser: LeakLocaliser | None = None
    inventory_max: float = 0.0
    closed_panels: set[str] = field(default_factory=set)
    capacity_limit_w: float | None = None
    limit_changed_at: float = -math.inf
    published: tuple[float | None, str] | None = None
    published_at: float = -math.inf
    hot_since: float | None = None
    standby_checked_at: float = -math.inf
    standby_run_at: float | None = None  # last standby test run (None: counts from start)
    test_from: str | None = None  # during a standby test run: the pump to return to


class _Refused(Exception):
    """A 131 TC that cannot be carried out: its 1,4 / 1,8 code and the reason."""

    def __init__(self, code: ErrorCode, reason: str, stage: str = "failed") -> None:
        super().__init__(reason)
        self.code = code
        self.stage = stage


def _pump_code(pump: str | None) -> int:
    if pump is None:
        return PumpCode.NONE
    return PumpCode[pump] if pump in PumpCode.__members__ else PumpCode.OTHER


async def run(ctx: ServiceContext, config: Config) -> None:
    pool = ParameterPool()
    loops = {lp.loop_id: _Loop(lp) for lp in config.loops}
    panel_loop = {p: lp.loop_id for lp in config.loops for p in lp.panels}
    voters = {p: PanelVoter(p, config.sensors, config.votes) for p in panel_loop}
    seen_ns: dict[str, int] = {}
    lost_flagged: set[str] = set()
    had_vote: set[str] = set()
    inventory = {lid: TrendMonitor(config.leak_window_s, config.leak_rate_kg_s,
                                   config.leak_persist_s) for lid in loops}  # fmt: skip
    pressure = {lid: TrendMonitor(config.leak_window_s, config.leak_pressure_kpa_s,
                                  config.leak_persist_s) for lid in loops}  # fmt: skip
    lock = asyncio.Lock()
    failed_at: dict[str, float] = {}  # device.command -> mission s of its last failure event
    max_rpm = config.pump_max_speed_rpm

    def now() -> float:
        return ctx.clock.now_ns() / 1e9

    def get(name: str) -> float | None:
        return pool.get(name)

    async def command(device: str, name: str, args: dict[str, object] | None = None) -> str | None:
        """A device command; None if done, else the error (also raised as an event)."""
        try:
            await ctx.devices.command(device, name, args)
        except (DeviceTimeout, DevicePortError) as exc:
            # Once a minute per device command: a retry every period must not flood the link.
            t, key = now(), f"{device}.{name}"
            if t - failed_at.get(key, -math.inf) >= 60.0:
                failed_at[key] = t
                ctx.event(ThermalEvent.THERMAL_ACTION_FAILED, f"{key}: {exc}")
            return str(exc)
        failed_at.pop(f"{device}.{name}", None)
        return None

    # --- pumps -------------------------------------------------------------------------------

    def standby(loop: _Loop) -> str | None:
        for pump in loop.layout.pumps:
            if pump == loop.active or pump in loop.failed:
                continue
            if get(f"pdu.pump_{loop.layout.loop_id}_{pump}_tripped") == 1:
                continue
            return pump
        return None

    async def start_pump(loop: _Loop, pump: str, speed: float) -> str | None:
        lid = loop.layout.loop_id
        switch = f"pump_{lid}_{pump}"
        if get(f"pdu.{switch}_on") == 0:
            error = await command("pdu", "switch_on", {"switch": switch})
            if error is not None:
                return error
        error = await command(f"pump.{lid}.{pump}", "set_speed_rpm", {"speed_rpm": speed})
        if error is None:
            error = await command(f"pump.{lid}.{pump}", "start")
        if error is not None:
            return error
        loop.active = pump
        loop.started_at = now()
        loop.speed_cmd = speed
        loop.boosted = False
        loop.degraded_since = None
        loop.wear_since = None
        loop.flow_ratio = 1.0
        loop.seizure_count = 0
        loop.test_from = None  # any start ends a test run (a fault, ground, the run's end)
        return None

    async def switchover(loop: _Loop, why: str) -> None:
        lid = loop.layout.loop_id
        bad = loop.active
        if bad is not None:
            loop.failed[bad] = why
            await command(f"pump.{lid}.{bad}", "stop")
        speed = max(loop.speed_cmd or 0.0, speed_law_rpm(get(f"loop.{lid}.return_temp_k") or 0.0,
                                                          config))  # fmt: skip
        while True:
            target = standby(loop)
            if target is None:
                loop.active = None
                ctx.event(
                    ThermalEvent.THERMAL_ACTION_FAILED,
                    f"{lid}: pump {bad} {why}; no standby pump usable "
                    f"({', '.join(f'{p}: {r}' for p, r in loop.failed.items())})",
                )
                return
            error = await start_pump(loop, target, speed)
            if error is None:
                ctx.event(
                    ThermalEvent.PUMP_SWITCHOVER,
                    f"{lid}: pump {bad} -> {target}: {why}; {target} started at {speed:.0f} rpm",
                )
                return
            loop.failed[target] = f"would not start: {error}"[:80]

    def seizure(loop: _Loop, t: float) -> str | None:
        """Why the active pump looks seized or dead now, if it does."""
        lid, pump = loop.layout.loop_id, loop.active
        base = f"pump.{lid}.{pump}"
        if get(f"pdu.pump_{lid}_{pump}_tripped") == 1:
            return "PDU channel tripped"
        speed, target = get(f"{base}.speed_rpm"), get(f"{base}.target_speed_rpm")
        power, flow = get(f"{base}.power_w"), get(f"{base}.flow_kg_s")
        if speed is None or target is None or t - loop.started_at < config.spin_grace_s:
            return None
        if speed > 0.05 * max(target, 1.0):
            return None
        if power is not None and power >= config.stall_power_w:
            return f"seized: speed {speed:.0f} rpm at stall power {power:.0f} W"
        if (power is not None and power < 1.0) and (flow is None or flow < config.no_flow_kg_s):
            return f"stopped: speed {speed:.0f} rpm, power {power:.0f} W, no flow"
        return None

    def wear(loop: _Loop, t: float, flow: float, speed: float, expected: float) -> None:
        """Trend the active pump's flow against its healthy curve: a shortfall of
        ``degrade_warn_fraction`` held for ``degrade_persist_s`` is wear (PUMP_DEGRADED once
        per pump, with the shortfall), and the speed law is scaled up to make up the flow."""
        pump = loop.active
        assert pump is not None
        ratio = flow / expected
        if ratio > 1 - config.degrade_warn_fraction:
            loop.wear_since = None
            return
        if loop.wear_since is None:
            loop.wear_since = t
        if t - loop.wear_since < config.degrade_persist_s:
            return
        loop.flow_ratio = ratio
        if pump in loop.worn:
            return
        loop.worn.add(pump)
        ctx.event(
            ThermalEvent.PUMP_DEGRADED,
            f"{loop.layout.loop_id} pump {pump}: flow {flow:.2f} kg/s, {1 - ratio:.1%} below "
            f"the healthy curve ({expected:.2f} kg/s) at {speed:.0f} rpm; speed raised to make "
            "up the flow",
        )

    def law_rpm(loop: _Loop, ret: float) -> float:
        """The speed law, scaled up by the active pump's flow shortfall (wear), on the step
        grid (rounded up) and within the maximum."""
        speed = speed_law_rpm(ret, config)
        if loop.flow_ratio >= 1.0:
            return speed
        step = config.speed_step_rpm
        return min(max_rpm, math.ceil(speed / loop.flow_ratio / step - 1e-9) * step)

    def degraded(loop: _Loop, t: float) -> str | None:
        """Supervise the active pump's flow against its learnt curve; the reason to switch
        (boosting first), if any."""
        lid, pump = loop.layout.loop_id, loop.active
        base = f"pump.{lid}.{pump}"
        speed, target, flow = (
            get(f"{base}.speed_rpm"),
            get(f"{base}.target_speed_rpm"),
            get(f"{base}.flow_kg_s"),
        )
        if speed is None or target is None or flow is None or speed < 0.2 * max_rpm:
            loop.degraded_since = None
            return None
        closed = frozenset(loop.closed_panels)
        if closed != loop.k_closed:
            # a panel closed or opened: another system curve, the healthy flow is re-learnt
            loop.k_flow.clear()
            loop.k_closed = closed
            loop.wear_since = None
        k = loop.k_flow.get(pump) or next(iter(loop.k_flow.values()), None)
        steady = abs(speed - target) <= 0.02 * max(target, 1.0)
        expected = None if k is None else k * speed
        healthy = expected is None or flow >= (1 - config.degrade_tolerance) * expected
        if expected is not None and steady and loop.leak == LeakState.NONE:
            wear(loop, t, flow, speed, expected)
        if healthy:
            loop.degraded_since = None
            # learnt only on a curve within the wear margin of what is known (a standby's
            # first run is judged against its sister's curve, not learnt as healthy)
            within = expected is None or flow > (1 - config.degrade_warn_fraction) * expected
            if steady and not loop.boosted and pump not in loop.worn and within:
                loop.k_flow[pump] = max(loop.k_flow.get(pump, 0.0), flow / speed)
            return None
        if loop.degraded_since is None:
            loop.degraded_since = t
        if t - loop.degraded_since < config.degrade_persist_s or not steady:
            return None
        assert k is not None and expected is not None
        if not loop.boosted:
            loop.boosted = True
            loop.degraded_since = None
            ctx.event(
                ThermalEvent.PUMP_DEGRADED,
                f"{lid} pump {pump}: flow {flow:.2f} kg/s at {speed:.0f} rpm, curve "
                f"{expected:.2f} kg/s; raising to {max_rpm:.0f} rpm",
            )
            return None
        law = speed_law_rpm(get(f"loop.{lid}.return_temp_k") or 0.0, config)
        floor = (1 - config.degrade_tolerance) * k * law
        if speed >= 0.97 * max_rpm and flow < floor:
            return (
                f"degraded: flow {flow:.2f} kg/s at {speed:.0f} rpm below the floor "
                f"{floor:.2f} kg/s (healthy {k * 1000:.2f} kg/s per krpm)"
            )
        loop.degraded_since = None
        return None

    async def supervise_pump(loop: _Loop, t: float) -> None:
        lid = loop.layout.loop_id
        if loop.isolated:
            return
        if loop.active is None:
            running = [p for p in loop.layout.pumps if (get(f"pump.{lid}.{p}.speed_rpm") or 0) > 0]
            if running:
                loop.active = running[0]
                loop.started_at = t
                return
            # Nothing runs: thermal control does not start a pump on its own here. After a
            # restart of this service the loop may be isolated on purpose (131,6 or a leak);
            # the no-flow shed keeps its compute off, and 131,7 or 131,1 brings a pump back.
            return
        why = seizure(loop, t)
        if why is not None:
            loop.seizure_count += 1
            if loop.seizure_count >= config.seizure_samples:
                await switchover(loop, why)
            return
        loop.seizure_count = 0
        why = degraded(loop, t)
        if why is not None:
            await switchover(loop, why)
            return
        # the speed law (or the boost of a degraded pump)
        ret = get(f"loop.{lid}.return_temp_k")
        if ret is None:
            return
        speed = max_rpm if loop.boosted else law_rpm(loop, ret)
        current = loop.speed_cmd
        if current is None:
            current = get(f"pump.{lid}.{loop.active}.target_speed_rpm")
        if current is None or abs(speed - current) >= config.speed_step_rpm - 1e-6:
            error = await command(
                f"pump.{lid}.{loop.active}", "set_speed_rpm", {"speed_rpm": speed}
            )
            if error is None:
                loop.speed_cmd = speed
        elif loop.speed_cmd is None:
            loop.speed_cmd = current

    async def check_standby(loop: _Loop, t: float) -> None:
        """A stopped pump shows nothing of a seizure in its registers that the pool carries
        (speed, power and flow are 0 either way): ask it to take the loop's speed, which a
        seized pump refuses (and a healthy one keeps as its target for a switchover). At
        start, then every ``standby_check_s``; silence is no verdict."""
        if config.standby_check_s <= 0 or loop.isolated or loop.active is None:
            return
        if t - loop.standby_checked_at < config.standby_check_s:
            return
        loop.standby_checked_at = t
        lid = loop.layout.loop_id
        for pump in loop.layout.pumps:
            if pump == loop.active or pump in loop.failed:
                continue
            speed = loop.speed_cmd or speed_law_rpm(get(f"loop.{lid}.return_temp_k") or 0.0, config)
            try:
                await ctx.devices.command(
                    f"pump.{lid}.{pump}", "set_speed_rpm", {"speed_rpm": speed}
                )
            except DeviceTimeout:
                continue
            except DevicePortError as exc:
                loop.failed[pump] = f"failed its standby check: {exc}"[:80]
                ctx.event(
                    ThermalEvent.PUMP_STANDBY_UNAVAILABLE,
                    f"{lid}: standby pump {pump} refused set_speed_rpm ({exc}): no standby "
                    f"on {lid}, a fault of pump {loop.active} would stop its flow"[:200],
                )

    async def standby_run(loop: _Loop, t: float) -> None:
        """Pump rotation: every ``standby_run_s`` the standby pump takes the loop for
        ``standby_run_duration_s`` (started before the running one stops: no gap in the
        flow), supervised like any active pump — wear against the healthy curve is
        PUMP_DEGRADED, a seizure a switchover back that marks it unusable — then the loop
        returns to its pump. PUMP_TEST_RUN reports the result."""
        if config.standby_run_s <= 0 or loop.isolated or loop.active is None:
            return
        lid = loop.layout.loop_id
        if loop.test_from is not None:
            if t - loop.started_at < config.standby_run_duration_s:
                return
            tested, back = loop.active, loop.test_from
            base = f"pump.{lid}.{tested}"
            speed, flow = get(f"{base}.speed_rpm"), get(f"{base}.flow_kg_s")
            k = loop.k_flow.get(back) or loop.k_flow.get(tested)
            if speed and flow is not None and k:
                share = flow / (k * speed)
                result = (
                    f"flow {flow:.2f} kg/s at {speed:.0f} rpm, {share:.1%} of the healthy curve"
                )
            else:
                result = "no flow reading"
            worn = " (degraded)" if tested in loop.worn else ""
            error = await start_pump(loop, back, loop.speed_cmd or speed or 0.0)
            if error is not None:
                # the pump to return to will not start: the tested one carries on
                loop.active = tested
                ctx.event(
                    ThermalEvent.PUMP_TEST_RUN,
                    f"{lid}: standby test run of pump {tested}{worn}: {result}; pump {back} "
                    f"would not restart ({error}), {tested} keeps the loop"[:200],
                )
                return
            await command(f"pump.{lid}.{tested}", "stop")
            ctx.event(
                ThermalEvent.PUMP_TEST_RUN,
                f"{lid}: standby test run of pump {tested}{worn}: {result}; back on {back}",
            )
            return
        if loop.standby_run_at is None:
            loop.standby_run_at = t
        if t - loop.standby_run_at < config.standby_run_s:
            return
        target = standby(loop)
        active = loop.active
        if (
            target is None
            or loop.boosted
            or loop.leak != LeakState.NONE
            or loop.degraded_since is not None
            or loop.k_flow.get(active) is None
        ):
            return  # no standby, or the loop is not in a state to compare: next cycle
        loop.standby_run_at = t
        speed = loop.speed_cmd or get(f"pump.{lid}.{active}.target_speed_rpm") or 0.0
        error = await start_pump(loop, target, speed)
        if error is not None:
            loop.active = active  # start_pump changed nothing else on a refusal
            loop.failed[target] = f"failed its test run: {error}"[:80]
            ctx.event(
                ThermalEvent.PUMP_STANDBY_UNAVAILABLE,
                f"{lid}: standby pump {target} would not start for its test run ({error}): "
                f"no standby on {lid}"[:200],
            )
            return
        loop.test_from = active
        await command(f"pump.{lid}.{active}", "stop")

    # --- flow, leaks, isolation ----------------------------------------------------------------

    def check_flow(loop: _Loop) -> None:
        lid = loop.layout.loop_id
        flow = get(f"loop.{lid}.flow_kg_s")
        if flow is None or loop.isolated:
            return
        if flow < config.no_flow_kg_s:
            loop.no_flow_count += 1
            loop.flow_count = 0
            if not loop.no_flow and loop.no_flow_count >= 2:
                loop.no_flow = True
                ctx.event(
                    ThermalEvent.LOOP_NO_FLOW,
                    f"{lid}: flow {flow:.2f} kg/s (pump {loop.active or 'none'}); compute on "
                    f"{lid} shed to 0 W",
                )
        else:
            loop.no_flow_count = 0
            loop.flow_count += 1
            if loop.no_flow and loop.flow_count >= 2:
                loop.no_flow = False
                ctx.event(
                    ThermalEvent.LOOP_FLOW_RESTORED,
                    f"{lid}: flow {flow:.2f} kg/s with pump {loop.active}; no-flow shed lifted",
                )

    async def isolate_loop(loop: _Loop, why: str) -> None:
        lid = loop.layout.loop_id
        loop.isolated = True
        loop.no_flow = False
        for pump in loop.layout.pumps:
            await command(f"pump.{lid}.{pump}", "stop")
        loop.active = None
        loop.speed_cmd = None
        ctx.event(ThermalEvent.LOOP_ISOLATED, f"{lid} isolated: {why}; pumps stopped, compute 0 W")

    async def close_panel(panel: str) -> str | None:
        error = await command(f"radvalve.{panel}", "close")
        if error is None:
            loops[panel_loop[panel]].closed_panels.add(panel)
        return error

    async def supervise_leak(loop: _Loop, t: float) -> None:
        lid = loop.layout.loop_id
        inv, prs = get(f"loop.{lid}.inventory_kg"), get(f"loop.{lid}.pressure_kpa")
        if inv is None:
            return
        loop.inventory_max = max(loop.inventory_max, inv)
        inventory[lid].add(t, inv)
        if prs is not None:
            pressure[lid].add(t, prs)
        if loop.isolated:
            return
        if inv < config.inventory_floor_fraction * loop.inventory_max:
            # A valve the localisation closed stays closed: it may be the leaking panel's.
            loop.localiser = None
            loop.leak = LeakState.LOOP_ISOLATED
            await isolate_loop(
                loop,
                f"inventory {inv:.1f} kg below the floor "
                f"{config.inventory_floor_fraction * loop.inventory_max:.1f} kg",
            )
            return
        if loop.localiser is not None:
            action = loop.localiser.step(t, inv)
            if action is None:
                return
            if action.kind == "close":
                assert action.panel is not None
                error = await close_panel(action.panel)
                if error is not None:
                    action = loop.localiser.valve_failed(action.panel, error)
            elif action.kind == "open":
                assert action.panel is not None
                if await command(f"radvalve.{action.panel}", "open") is None:
                    loop.closed_panels.discard(action.panel)
            if action.kind == "found":
                loop.leak = LeakState.PANEL_ISOLATED
                loop.localiser = None
                inventory[lid].reset()
                pressure[lid].reset()
                ctx.event(
                    ThermalEvent.PANEL_ISOLATED,
                    f"{action.panel} of {lid} isolated: the leak stopped with its valve "
                    f"closed ({action.reason})",
                )
            elif action.kind == "failed":
                loop.leak = LeakState.LOOP_ISOLATED
                loop.localiser = None
                await isolate_loop(loop, f"leak not localised: {action.reason}")
            return
        inv_falling = inventory[lid].falling(t)
        prs_falling = pressure[lid].falling(t) if prs is not None else True
        if inv_falling and prs_falling:
            inv_slope = inventory[lid].slope() or 0.0
            prs_slope = pressure[lid].slope() or 0.0
            candidates = [p for p in loop.layout.panels if p not in loop.closed_panels]
            ctx.event(
                ThermalEvent.LEAK_DETECTED,
                f"{lid}: inventory {inv:.1f} kg falling {inv_slope * 1000:.1f} g/s, pressure "
                f"{prs_slope:+.3f} kPa/s; closing panels {', '.join(candidates)} in turn",
            )
            loop.leak = LeakState.LOCALISING
            loop.localiser = LeakLocaliser(
                candidates,
                config.leak_rate_kg_s,
                config.localise_settle_s,
                config.localise_observe_s,
            )
            await supervise_leak_step(loop, t, inv)

    async def supervise_leak_step(loop: _Loop, t: float, inv: float) -> None:
        assert loop.localiser is not None
        action = loop.localiser.step(t, inv)
        if action is not None and action.kind == "close" and action.panel is not None:
            error = await close_panel(action.panel)
            if error is not None:
                failed = loop.localiser.valve_failed(action.panel, error)
                loop.leak = LeakState.LOOP_ISOLATED
                loop.localiser = None
                await isolate_loop(loop, f"leak not localised: {failed.reason}")
        elif action is not None and action.kind == "failed":
            loop.leak = LeakState.LOOP_ISOLATED
            loop.localiser = None
            await isolate_loop(loop, f"leak not localised: {action.reason}")

    # --- sensors and rejection ------------------------------------------------------------------

    def vote(t: float) -> None:
        for panel, voter in voters.items():
            readings: dict[str, float | None] = {}
            for sensor in config.sensors:
                name = f"radsensor.{panel}.{sensor}.temp_k"
                sampled = pool.sampled_ns(name)
                if sampled is None:
                    readings[sensor] = None
                elif seen_ns.get(name) != sampled:
                    seen_ns[name] = sampled
                    readings[sensor] = pool.get(name)
            for sensor, reason in voter.update(t, readings):
                ctx.event(
                    ThermalEvent.SENSOR_VOTED_OUT, f"radsensor.{panel}.{sensor} voted out: {reason}"
                )
            count = len(voter.in_vote())
            if count >= 2:
                had_vote.add(panel)
                lost_flagged.discard(panel)
            elif panel in had_vote and panel not in lost_flagged:
                lost_flagged.add(panel)
                out = "; ".join(f"{s}: {r}" for s, r in voter.out().items()) or "sensors invalid"
                ctx.event(
                    ThermalEvent.SENSOR_VOTE_LOST,
                    f"{panel}: {count} valid sensor(s) in vote ({out})"[:200],
                )

    def capacity_w(loop: _Loop) -> float:
        in_service = [p for p in loop.layout.panels if p not in loop.closed_panels]
        return radiator_capacity_w(
            [config.radiator_limit_k] * len(in_service),
            config.panel_area_m2,
            config.panel_emissivity,
            config.sink_temp_k,
        )

    def supervise_rejection(loop: _Loop, t: float) -> None:
        lid = loop.layout.loop_id
        supply, load = get(f"loop.{lid}.supply_temp_k"), get(f"loop.{lid}.heat_load_w")
        if supply is None or load is None or loop.isolated:
            return
        pumps_w = sum(get(f"pump.{lid}.{p}.power_w") or 0.0 for p in loop.layout.pumps)
        compute_w = max(0.0, load - pumps_w)
        cap = capacity_w(loop)
        panels = [voters[p].voted_temp_k() for p in loop.layout.panels]
        in_service = [
            v
            for p, v in zip(loop.layout.panels, panels, strict=True)
            if v is not None and p not in loop.closed_panels
        ]
        rejecting = radiator_capacity_w(
            in_service, config.panel_area_m2, config.panel_emissivity, config.sink_temp_k
        ) * len(loop.layout.panels) / max(len(in_service), 1)  # fmt: skip
        hottest = max(in_service, default=None)
        at_max = (loop.speed_cmd or 0.0) >= max_rpm - config.speed_step_rpm
        short_supply = supply > config.supply_limit_k and at_max
        short_panels = (
            hottest is not None
            and hottest >= config.radiator_limit_k - config.approach_k
            and rejecting < load
        )
        short_capacity = load > cap * (1 - config.limit_margin) and (
            hottest is None or hottest >= config.radiator_limit_k - 2 * config.approach_k
        )
        held = t - loop.limit_changed_at >= config.limit_hold_s
        if short_supply or short_panels or short_capacity:
            loop.hot_since = loop.hot_since if loop.hot_since is not None else t
            if t - loop.hot_since < 2 * config.period_s or not held:
                return
            ceiling = max(0.0, cap * (1 - config.limit_margin) - pumps_w)
            stepped = compute_w * (1 - config.limit_step_fraction)
            new = min(ceiling, stepped) if short_supply or short_panels else ceiling
            if loop.capacity_limit_w is not None:
                new = min(new, loop.capacity_limit_w * (1 - config.limit_step_fraction))
            loop.capacity_limit_w = new
            loop.limit_changed_at = t
            why = (
                f"supply {supply:.1f} K > {config.supply_limit_k:g} K at max speed"
                if short_supply
                else f"panels {hottest or 0:.1f} K rejecting {rejecting / 1e3:.1f} kW"
                if short_panels
                else f"capacity {cap / 1e3:.1f} kW at {config.radiator_limit_k:g} K"
            )
            ctx.event(
                ThermalEvent.THERMAL_LIMIT,
                f"{lid}: load {load / 1e3:.1f} kW, {why}; compute on {lid} limited to "
                f"{new / 1e3:.1f} kW",
            )
            return
        loop.hot_since = None
        if loop.capacity_limit_w is None or not held:
            return
        margin_k = config.hysteresis_k
        cool = supply < config.supply_limit_k - margin_k and (
            hottest is None or hottest < config.radiator_limit_k - config.approach_k - margin_k
        )
        if not cool:
            return
        ceiling = max(0.0, cap * (1 - config.limit_margin) - pumps_w)
        relaxed = loop.capacity_limit_w + config.limit_step_fraction * ceiling
        loop.limit_changed_at = t
        if relaxed >= ceiling and load < cap * (1 - 2 * config.limit_margin):
            loop.capacity_limit_w = None
            ctx.event(
                ThermalEvent.THERMAL_LIMIT_LIFTED,
                f"{lid}: supply {supply:.1f} K, capacity {cap / 1e3:.1f} kW; limit lifted",
            )
        else:
            loop.capacity_limit_w = min(relaxed, ceiling)
            ctx.event(
                ThermalEvent.THERMAL_LIMIT_LIFTED,
                f"{lid}: supply {supply:.1f} K; compute limit relaxed to "
                f"{loop.capacity_limit_w / 1e3:.1f} kW",
            )

    def publish_limit(loop: _Loop, t: float) -> None:
        lid = loop.layout.loop_id
        if loop.isolated:
            wanted: tuple[float | None, str] = (0.0, f"{lid} isolated")
        elif loop.no_flow:
            wanted = (0.0, f"{lid} has no coolant flow")
        elif loop.capacity_limit_w is not None:
            wanted = (loop.capacity_limit_w, f"{lid} heat rejection short")
        else:
            wanted = (None, f"{lid} thermal margin")
        fresh = loop.published is None or wanted[0] != loop.published[0]
        if not fresh and (wanted[0] is None or t - loop.published_at < config.republish_s):
            return
        ctx.publish(
            ComputeLimit(source="thermal", scope=lid, power_limit_w=wanted[0], reason=wanted[1])
        )
        loop.published = wanted
        loop.published_at = t

    def publish_parameters() -> None:
        values: dict[str, float] = {}
        invalid: list[str] = []
        for lid, loop in loops.items():
            values[f"thermal.{lid}.active_pump"] = float(_pump_code(loop.active))
            if loop.speed_cmd is None:
                invalid.append(f"thermal.{lid}.speed_cmd_rpm")
            else:
                values[f"thermal.{lid}.speed_cmd_rpm"] = loop.speed_cmd
            values[f"thermal.{lid}.isolated"] = float(loop.isolated)
            values[f"thermal.{lid}.leak_state"] = float(loop.leak)
            values[f"thermal.{lid}.no_flow"] = float(loop.no_flow)
            limit = None if loop.published is None else loop.published[0]
            if limit is None:
                invalid.append(f"thermal.{lid}.compute_limit_w")
            else:
                values[f"thermal.{lid}.compute_limit_w"] = limit
            values[f"thermal.{lid}.capacity_w"] = capacity_w(loop)
            k = loop.k_flow.get(loop.active or "")
            if k is None:
                invalid.append(f"thermal.{lid}.flow_per_krpm")
            else:
                values[f"thermal.{lid}.flow_per_krpm"] = k * 1000
        out = 0
        for panel, voter in voters.items():
            voted = voter.voted_temp_k()
            if voted is None:
                invalid.append(f"thermal.{panel}.voted_temp_k")
            else:
                values[f"thermal.{panel}.voted_temp_k"] = voted
            values[f"thermal.{panel}.sensors_in_vote"] = float(len(voter.in_vote()))
            values[f"thermal.{panel}.isolated"] = float(
                panel in loops[panel_loop[panel]].closed_panels
            )
            out += len(voter.out())
        values["thermal.sensors_voted_out"] = float(out)
        ctx.parameter_map(values, invalid=tuple(invalid))

    async def cycle() -> None:
        t = now()
        vote(t)
        for loop in loops.values():
            await supervise_pump(loop, t)
            await check_standby(loop, t)
            await standby_run(loop, t)
            check_flow(loop)
            await supervise_leak(loop, t)
            supervise_rejection(loop, t)
            publish_limit(loop, t)
        publish_parameters()

    async def control() -> None:
        while True:
            async with lock:
                await cycle()
            await ctx.clock.sleep(config.period_s)

    # --- telecommands (service 131) ---------------------------------------------------------------

    def loop_of(loop_id: str) -> _Loop:
        if loop_id not in loops:
            raise _Refused(ErrorCode.NOT_FOUND, f"no loop {loop_id} ({', '.join(loops)})", "start")
        return loops[loop_id]

    def panel_of(panel: str) -> str:
        if panel not in panel_loop:
            raise _Refused(ErrorCode.NOT_FOUND, f"no radiator panel {panel}", "start")
        return panel

    def sensor_of(sensor_id: str) -> tuple[PanelVoter, str]:
        _, panel, sensor = sensor_id.split(".")
        if panel not in voters or sensor not in config.sensors:
            raise _Refused(ErrorCode.NOT_FOUND, f"no radiator sensor {sensor_id}", "start")
        return voters[panel], sensor

    def precheck(sub: int, data: bytes) -> object:
        """Decode and check ids (1,4 NOT_FOUND before anything starts)."""
        request = ith.UNPACKERS[sub](data)
        if isinstance(request, ith.SwitchPump):
            loop = loop_of(request.loop_id)
            if request.pump_id not in loop.layout.pumps:
                raise _Refused(
                    ErrorCode.NOT_FOUND, f"{request.loop_id} has no pump {request.pump_id}", "start"
                )
        elif isinstance(request, ith.LoopRef):
            loop_of(request.loop_id)
        elif isinstance(request, ith.PanelRef):
            panel_of(request.panel_id)
        elif isinstance(request, ith.SensorRef):
            sensor_of(request.sensor_id)
        return request

    async def execute(sub: int, request: object, by: str) -> None:
        t = now()
        if isinstance(request, ith.SwitchPump):
            loop = loops[request.loop_id]
            lid, pump = request.loop_id, request.pump_id
            if loop.isolated:
                raise _Refused(ErrorCode.THERMAL_STATE_CONFLICT, f"{lid} is isolated (131,7 first)")
            if get(f"pdu.pump_{lid}_{pump}_tripped") == 1:
                raise _Refused(
                    ErrorCode.THERMAL_PUMP_UNAVAILABLE, f"{lid} pump {pump}: PDU channel tripped"
                )
            # A pump seen stopped (by someone else) is not broken: the ground may run it again.
            if pump in loop.failed and not loop.failed[pump].startswith("stopped"):
                raise _Refused(
                    ErrorCode.THERMAL_PUMP_UNAVAILABLE, f"{lid} pump {pump}: {loop.failed[pump]}"
                )
            if pump == loop.active:
                return
            previous = loop.active
            speed = loop.speed_cmd or speed_law_rpm(get(f"loop.{lid}.return_temp_k") or 0.0, config)
            error = await start_pump(loop, pump, speed)
            if error is None:
                loop.failed.pop(pump, None)
            else:
                loop.active = previous
                raise _Refused(
                    ErrorCode.THERMAL_PUMP_UNAVAILABLE, f"{lid} pump {pump}: {error}"[:150]
                )
            for other in loop.layout.pumps:
                if other != pump:
                    await command(f"pump.{lid}.{other}", "stop")
            ctx.event(
                ThermalEvent.PUMP_SWITCHOVER,
                f"{lid}: pump {previous or 'none'} -> {pump} by {by}; {speed:.0f} rpm",
            )
        elif isinstance(request, ith.PanelRef) and sub == 2:
            panel = request.panel_id
            error = await close_panel(panel)
            if error is not None:
                raise _Refused(ErrorCode.THERMAL_VALVE_UNAVAILABLE, f"{panel}: {error}"[:150])
            ctx.event(ThermalEvent.PANEL_ISOLATED, f"{panel} isolated by {by}")
        elif isinstance(request, ith.PanelRef):
            panel = request.panel_id
            error = await command(f"radvalve.{panel}", "open")
            if error is not None:
                raise _Refused(ErrorCode.THERMAL_VALVE_UNAVAILABLE, f"{panel}: {error}"[:150])
            loops[panel_loop[panel]].closed_panels.discard(panel)
            ctx.event(ThermalEvent.PANEL_RESTORED, f"{panel} restored by {by}")
        elif isinstance(request, ith.SensorRef) and sub == 4:
            voter, sensor = sensor_of(request.sensor_id)
            voter.vote_out(sensor, by)
            ctx.event(ThermalEvent.SENSOR_VOTED_OUT, f"{request.sensor_id} voted out: {by}")
        elif isinstance(request, ith.SensorRef):
            voter, sensor = sensor_of(request.sensor_id)
            value = get(f"{request.sensor_id}.temp_k")
            p = config.votes
            if value is None or not p.min_k <= value <= p.max_k:
                raise _Refused(
                    ErrorCode.THERMAL_STATE_CONFLICT,
                    f"{request.sensor_id} reads {value} K: not plausible, stays out",
                )
            voter.vote_in(sensor)
            ctx.event(ThermalEvent.SENSOR_VOTED_IN, f"{request.sensor_id} voted in (131,5)")
        elif isinstance(request, ith.LoopRef) and sub == 6:
            loop = loops[request.loop_id]
            if not loop.isolated:
                loop.localiser = None
                await isolate_loop(loop, f"by {by}")
        elif isinstance(request, ith.LoopRef):
            loop = loops[request.loop_id]
            lid = request.loop_id
            if not loop.isolated and loop.active is not None:
                return  # nothing to restore (after a restart of this service: a pump is started)
            target = next(
                (
                    p
                    for p in loop.layout.pumps
                    if p not in loop.failed and get(f"pdu.pump_{lid}_{p}_tripped") != 1
                ),
                None,
            )
            if target is None:
                raise _Refused(
                    ErrorCode.THERMAL_PUMP_UNAVAILABLE, f"{lid}: no usable pump ({loop.failed})"
                )
            error = await start_pump(
                loop, target, speed_law_rpm(get(f"loop.{lid}.return_temp_k") or 0.0, config)
            )
            if error is not None:
                raise _Refused(ErrorCode.THERMAL_PUMP_UNAVAILABLE, f"{lid}: {error}"[:150])
            loop.isolated = False
            loop.leak = LeakState.NONE
            inventory[lid].reset()
            pressure[lid].reset()
            loop.inventory_max = 0.0
            ctx.event(ThermalEvent.LOOP_RESTORED, f"{lid} restored by {by}; pump {target} runs")
        publish_limit_all(t)

    def publish_limit_all(t: float) -> None:
        for loop in loops.values():
            publish_limit(loop, t)
        publish_parameters()

    async def handle(tc: TcDispatch) -> None:
        try:
            request = precheck(tc.subservice, tc.app_data)
        except DecodeError as exc:  # acceptance checked it; a direct bus message may not be
            ctx.progress(tc.request_id, tc.apid, "start_failed", ErrorCode.INVALID_APP_DATA)
            ctx.log.warning("131,%d: %s", tc.subservice, exc)
            return
        except _Refused as refused:
            ctx.event(
                ThermalEvent.THERMAL_ACTION_FAILED, f"131,{tc.subservice} refused: {refused}"[:200]
            )
            ctx.progress(tc.request_id, tc.apid, "start_failed", refused.code)
            return
        ctx.progress(tc.request_id, tc.apid, "started")
        try:
            async with lock:
                onboard = tc.source_id in config.onboard_source_ids
                who = "event-action" if onboard else "ground"
                await execute(tc.subservice, request, f"{who} (131,{tc.subservice})")
        except _Refused as refused:
            ctx.event(
                ThermalEvent.THERMAL_ACTION_FAILED, f"131,{tc.subservice} failed: {refused}"[:200]
            )
            ctx.progress(tc.request_id, tc.apid, "failed", refused.code)
            return
        ctx.progress(tc.request_id, tc.apid, "completed")

    async def telecommands() -> None:
        async with ctx.subscribe((TcDispatch, ith.SERVICE)) as requests:
            ctx.ready()
            async for message in requests:
                if isinstance(message, TcDispatch) and message.service == ith.SERVICE:
                    await handle(message)

    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(follow(ctx, pool))
        tasks.create_task(telecommands())
        tasks.create_task(control())
