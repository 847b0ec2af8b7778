"""Mode manager (PUS 130): BOOT → SAFE → NOMINAL, ECLIPSE and SURVIVAL, by telecommand and by
autonomy, every transition checked against one table.

Reads:    bus ``ParameterUpdate`` through the parameter pool: ``battery.soc`` (fraction 0..1),
          the platform parameters that say the hardware answers (``platform_parameters``),
          ``supervisor.failed`` (count) and ``supervisor.state.<service>`` (ServiceState)
          published by flightsw/app.py; ``EclipseForecast`` (power's orbit model);
          ``ModeRequest`` (autonomy services); ``FdirEscalation`` (FDIR responses that did not
          clear their fault); ``TcDispatch`` for service 130 (1 request mode, 2 report mode).
Publishes: ``ModeChanged`` at each transition and every ``announce_period_s`` mission seconds
          (so a restarted service learns the mode); ``ComputeLimit(source="mode",
          scope="all")``: 0 W in BOOT, SAFE and SURVIVAL, lifted (None) in NOMINAL and
          ECLIPSE, where power and thermal set their own; events ``MODE_CHANGED`` ("NOMINAL ->
          SAFE: service thermal FAILED") and ``MODE_DENIED``; ``ParameterUpdate``
          ``mode.current`` (Mode), ``mode.transitions`` (count since boot),
          ``mode.escalations`` (count in the window) every ``hk_period_s`` and at each change
          (platform HK, SID 1); TM 130,3 mode report; ``TcProgress``.

Rules (the manager's own, cause "rule"), checked at every relevant input and every
``hk_period_s``:
- BOOT → SAFE once the hardware answers (a platform parameter is valid in the pool).
- SAFE/NOMINAL/ECLIPSE → SURVIVAL when ``battery.soc`` < ``survival_soc``; SURVIVAL → SAFE
  when it is back above ``survival_exit_soc``.
- NOMINAL/ECLIPSE → SAFE when a service becomes FAILED (``supervisor.failed`` rises), or when
  an ``FdirEscalation`` brings the count within ``escalation_window_s`` past
  ``escalation_budget``.
- SAFE → NOMINAL (``autonomous_nominal``) after ``safe_hold_s`` in SAFE with ``battery.soc``
  ≥ ``nominal_min_soc``, no service FAILED, the escalations under budget, and the cause of
  this SAFE over for ``cause_clear_s``: escalations under budget that long; for event-action's
  stored 130,1 SAFE, the monitor that fired it (``safe_causes``, from
  ``fdir_tables.SAFE_REQUESTS``) back in limits that long; an onboard SAFE of a reason not in
  that table waits for the ground. Past the hold a ``MODE_DENIED`` event says why SAFE stays
  (once per condition).
- NOMINAL → ECLIPSE when the forecast says shadow; ECLIPSE → NOMINAL when it turns to sunlight.
  A commanded or requested ECLIPSE only in shadow or with the forecast's next entry within
  ``eclipse_command_lead_s``.
A mode the ground commanded holds until the ground commands again: the returning rules (SAFE →
NOMINAL, SURVIVAL → SAFE, a commanded NOMINAL into ECLIPSE while already in shadow) leave it;
the protecting ones (SURVIVAL, SAFE on failure) always act; an onboard ``ModeRequest`` (or
event-action 130,1) for NOMINAL is denied in a SAFE the ground holds. A restarted mode
manager starts again in BOOT (and so goes to SAFE): it trusts nothing it did not see.

Bad input: a 130,1 with an unknown mode byte or bad text is refused at acceptance (1,2,
``icd.modes``); a transition the table does not allow, or whose guard fails, is a
``MODE_DENIED`` event and, for a telecommand, TM(1,8) ``MODE_DENIED``; nothing changes.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from flightsw import fdir_tables
from flightsw.context import ServiceContext
from flightsw.messages import (
    ComputeLimit,
    EclipseForecast,
    FdirEscalation,
    ModeChanged,
    ModeRequest,
    ParameterUpdate,
    TcDispatch,
)
from flightsw.pool import ParameterPool
from icd.dictionary import Apid, EventId, Mode, ServiceState
from icd.errors import DecodeError, ErrorCode
from icd.event_action import ONBOARD_SOURCE_ID
from icd.modes import ModeReport, RequestMode
from icd.monitoring import CheckType

__all__ = [
    "COMPUTE_POWER_LIMIT_W",
    "TRANSITIONS",
    "Cause",
    "Change",
    "Config",
    "Denial",
    "Guard",
    "ModeManager",
    "SafeCause",
    "Transition",
    "run",
]

NS_PER_S = 1_000_000_000


class SafeCause(BaseModel):
    """What an onboard 130,1 SAFE with this reason reacts to, and when it is over: the
    monitored parameter back within [low, high] (``delta``: its change per sample)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: str = Field(description="The reason text of the stored 130,1 (exact).")
    parameter: str = Field(description="Pool parameter of the monitor that fires it.")
    check: Literal["limit", "delta"] = Field(description="Value or change per sample.")
    low: float = Field(description="Lowest value (change) that is clear.")
    high: float = Field(description="Highest value (change) that is clear.")


def _default_safe_causes() -> tuple[SafeCause, ...]:
    """The default event-action table's stored 130,1 SAFE requests and their monitors."""
    return tuple(
        SafeCause(
            reason=reason,
            parameter=entry.parameter,
            check="delta" if entry.check_type is CheckType.DELTA else "limit",
            low=entry.low,
            high=entry.high,
        )
        for reason, entry in fdir_tables.SAFE_REQUESTS.items()
        if entry.check_type in (CheckType.LIMIT, CheckType.DELTA)
    )


class Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    autonomous_nominal: bool = Field(
        True,
        description="Return from SAFE to NOMINAL on the manager's own (what-if runs fly "
        "without a ground); False: only a 130,1 or a ModeRequest leaves SAFE.",
    )
    onboard_source_ids: tuple[int, ...] = Field(
        (ONBOARD_SOURCE_ID,),
        description="PUS source ids of onboard telecommands (event-action's stored TCs): a "
        "130,1 from them is autonomy (an onboard request), not a ground command that holds.",
    )
    safe_hold_s: float = Field(
        10.0, ge=0, description="Mission seconds in SAFE before the autonomous return."
    )
    safe_causes: tuple[SafeCause, ...] = Field(
        default_factory=_default_safe_causes,
        description="Onboard 130,1 SAFE requests by reason, with the monitor that says their "
        "cause is over; an onboard SAFE with another reason waits for the ground.",
    )
    cause_clear_s: float = Field(
        60.0,
        ge=0,
        description="Mission seconds the cause of an autonomous SAFE (a monitor of "
        "safe_causes, the escalations) must stay cleared before the return to NOMINAL.",
    )
    eclipse_command_lead_s: float = Field(
        300.0,
        ge=0,
        description="A commanded or requested ECLIPSE is taken in shadow, or when the "
        "forecast's next entry is at most this far ahead (power sheds 120 s before it).",
    )
    nominal_min_soc: float = Field(
        0.5, gt=0, le=1, description="Battery state of charge for the autonomous return, 0..1."
    )
    survival_soc: float = Field(
        0.25, gt=0, lt=1, description="Battery state of charge below which SURVIVAL, 0..1."
    )
    survival_exit_soc: float = Field(
        0.35,
        gt=0,
        lt=1,
        description="Battery state of charge above which SURVIVAL returns to SAFE (and the "
        "least a commanded NOMINAL needs), 0..1.",
    )
    escalation_budget: int = Field(
        3, ge=1, description="FDIR escalations tolerated within the window; one more: SAFE."
    )
    escalation_window_s: float = Field(
        600.0, gt=0, description="Mission seconds over which escalations are counted."
    )
    platform_parameters: tuple[str, ...] = Field(
        ("battery.soc", "pdu.bus_voltage_v"),
        min_length=1,
        description="Pool parameters of which one valid value says the hardware answers "
        "(BOOT → SAFE).",
    )
    announce_period_s: float = Field(
        10.0, gt=0, description="Mission seconds between repeated ModeChanged/ComputeLimit."
    )
    hk_period_s: float = Field(
        1.0, gt=0, description="Mission seconds between rule checks and mode.* parameters."
    )

    @model_validator(mode="after")
    def _ordered(self) -> Config:
        if not self.survival_soc < self.survival_exit_soc <= self.nominal_min_soc:
            raise ValueError(
                "need survival_soc < survival_exit_soc <= nominal_min_soc, got "
                f"{self.survival_soc} / {self.survival_exit_soc} / {self.nominal_min_soc}"
            )
        return self


class Cause(StrEnum):
    """Who asks for a transition."""

    GROUND = "ground"  # TC 130,1
    REQUEST = "request"  # ModeRequest from an onboard service
    RULE = "rule"  # the mode manager's own rules


class Guard(StrEnum):
    """A condition a transition needs; ``ModeManager.check`` says why one fails."""

    PLATFORM_UP = "platform up"
    BATTERY_OK = "battery above survival exit"
    BATTERY_NOMINAL = "battery at nominal minimum"
    NO_FAILED_SERVICE = "no service FAILED"
    ESCALATIONS_UNDER_BUDGET = "escalations under budget"
    SAFE_HELD = "safe hold elapsed"
    AUTONOMY_ENABLED = "autonomous nominal enabled"
    NOT_HELD_BY_GROUND = "not held by ground"
    CAUSE_CLEARED = "the cause of SAFE cleared"
    ECLIPSE_NEAR = "in eclipse or eclipse forecast near"


_ALL = frozenset(Cause)


@dataclass(frozen=True)
class Transition:
    """One allowed transition: from ``source`` to ``target``, by one of ``causes``, when every
    guard holds."""

    source: Mode
    target: Mode
    causes: frozenset[Cause]
    guards: tuple[Guard, ...] = ()


# The transition table. A (source, target, cause) not listed is denied.
TRANSITIONS: tuple[Transition, ...] = (
    Transition(Mode.BOOT, Mode.SAFE, _ALL, (Guard.PLATFORM_UP,)),
    Transition(Mode.SAFE, Mode.NOMINAL, frozenset({Cause.GROUND}), (Guard.BATTERY_OK,)),
    Transition(
        Mode.SAFE,
        Mode.NOMINAL,
        frozenset({Cause.REQUEST}),
        # An onboard request (power's "eclipse over" before it has heard the mode, an
        # event-action 130,1) leaves a SAFE the ground commanded alone, as the rules do.
        (
            Guard.NOT_HELD_BY_GROUND,
            Guard.BATTERY_OK,
            Guard.NO_FAILED_SERVICE,
            Guard.ESCALATIONS_UNDER_BUDGET,
            Guard.CAUSE_CLEARED,
        ),
    ),
    Transition(
        Mode.SAFE,
        Mode.NOMINAL,
        frozenset({Cause.RULE}),
        (
            Guard.AUTONOMY_ENABLED,
            Guard.NOT_HELD_BY_GROUND,
            Guard.SAFE_HELD,
            Guard.BATTERY_NOMINAL,
            Guard.NO_FAILED_SERVICE,
            Guard.ESCALATIONS_UNDER_BUDGET,
            Guard.CAUSE_CLEARED,
        ),
    ),
    Transition(Mode.NOMINAL, Mode.ECLIPSE, frozenset({Cause.RULE})),
    # ECLIPSE in sunlight would be a mode that lies to the services that follow it: only in
    # the shadow or within eclipse_command_lead_s of the forecast entry.
    Transition(
        Mode.NOMINAL, Mode.ECLIPSE, frozenset({Cause.GROUND, Cause.REQUEST}), (Guard.ECLIPSE_NEAR,)
    ),
    Transition(Mode.ECLIPSE, Mode.NOMINAL, _ALL),
    Transition(Mode.NOMINAL, Mode.SAFE, _ALL),
    Transition(Mode.ECLIPSE, Mode.SAFE, _ALL),
    Transition(Mode.SAFE, Mode.SURVIVAL, _ALL),
    Transition(Mode.NOMINAL, Mode.SURVIVAL, _ALL),
    Transition(Mode.ECLIPSE, Mode.SURVIVAL, _ALL),
    Transition(Mode.SURVIVAL, Mode.SAFE, _ALL, (Guard.BATTERY_OK,)),
)

# The compute policy of each mode: the mode's ComputeLimit (W; None = lifted, power and
# thermal set their own).
COMPUTE_POWER_LIMIT_W: dict[Mode, float | None] = {
    Mode.BOOT: 0.0,
    Mode.SAFE: 0.0,
    Mode.NOMINAL: None,
    Mode.ECLIPSE: None,
    Mode.SURVIVAL: 0.0,
}


@dataclass(frozen=True)
class Change:
    """A transition made."""

    previous: Mode
    mode: Mode
    reason: str
    time_ns: int

    @property
    def message(self) -> str:
        return f"{self.previous.name} -> {self.mode.name}: {self.reason}"


@dataclass(frozen=True)
class Denial:
    """A transition refused, and why."""

    source: Mode
    target: Mode
    cause: Cause
    reason: str

    @property
    def message(self) -> str:
        return f"{self.source.name} -> {self.target.name} denied ({self.cause}): {self.reason}"


class ModeManager:
    """The mode state machine: the table, its guards and the rules, without the bus (the
    service feeds it and announces what it returns)."""

    def __init__(self, config: Config, pool: ParameterPool, now_ns: int) -> None:
        self.config = config
        self.pool = pool
        self.mode = Mode.BOOT
        self.previous = Mode.BOOT
        self.since_ns = now_ns
        self.reason = "boot"
        self.transitions = 0
        self.held_by_ground = False
        self.in_eclipse: bool | None = None
        self.next_entry_ns: int | None = None
        self._escalations: deque[int] = deque()
        # The latest escalation_budget escalations (aged out or not): the oldest of them
        # plus the window is when the count fell under the budget.
        self._recent: deque[int] = deque(maxlen=config.escalation_budget)
        # What the SAFE in force reacts to (reset on every transition): escalations past the
        # budget, the monitors of known onboard requests, the reason of an unknown one.
        self._safe_escalations = False
        self._safe_monitors: dict[str, SafeCause] = {}
        self._safe_unknown: str | None = None
        self._clear_since: dict[str, int | None] = {}
        self._last_sample: dict[str, tuple[int, float]] = {}
        self._causes_by_reason = {c.reason: c for c in config.safe_causes}
        self._staying: tuple[Guard, str] | None = None  # what keeps SAFE, last announced
        self.notices: list[Denial] = []  # why autonomy stays in SAFE, for the service to say
        self._failed_seen = 0
        self._failed_names: set[str] = set()

    # --- guards ---------------------------------------------------------------------------

    def soc(self) -> float | None:
        return self.pool.get("battery.soc")

    def escalations(self, now_ns: int) -> int:
        """FDIR escalations within the window ending now."""
        horizon = now_ns - round(self.config.escalation_window_s * NS_PER_S)
        while self._escalations and self._escalations[0] <= horizon:
            self._escalations.popleft()
        return len(self._escalations)

    def failed_services(self) -> list[str]:
        prefix = "supervisor.state."
        return [
            name.removeprefix(prefix)
            for name in self.pool.names(prefix)
            if self.pool.get(name) == ServiceState.FAILED
        ]

    def check(self, guard: Guard, now_ns: int) -> str | None:
        """Why ``guard`` fails now, or None if it holds."""
        config = self.config
        soc = self.soc()
        match guard:
            case Guard.PLATFORM_UP:
                if not any(self.pool.valid(p) for p in config.platform_parameters):
                    return f"platform not up: none of {', '.join(config.platform_parameters)} valid"
            case Guard.BATTERY_OK | Guard.BATTERY_NOMINAL:
                floor = (
                    config.survival_exit_soc
                    if guard is Guard.BATTERY_OK
                    else config.nominal_min_soc
                )
                if soc is None:
                    return "battery SoC invalid (not acquired or battery silent)"
                if not soc >= floor:
                    return f"battery SoC {soc:.2f} below {floor:.2f}"
            case Guard.NO_FAILED_SERVICE:
                failed = self.pool.get("supervisor.failed")
                if failed is None:
                    return "supervisor.failed not known"
                if failed > 0:
                    names = ", ".join(self.failed_services()) or f"{failed:g}"
                    return f"service {names} FAILED"
            case Guard.ESCALATIONS_UNDER_BUDGET:
                count = self.escalations(now_ns)
                if count >= config.escalation_budget:
                    return (
                        f"{count} FDIR escalations in {config.escalation_window_s:g} s "
                        f"(budget {config.escalation_budget})"
                    )
            case Guard.SAFE_HELD:
                held_s = (now_ns - self.since_ns) / NS_PER_S
                if held_s < config.safe_hold_s:
                    return f"{held_s:.0f} s in SAFE, hold {config.safe_hold_s:g} s"
            case Guard.AUTONOMY_ENABLED:
                if not config.autonomous_nominal:
                    return "autonomous return to NOMINAL disabled"
            case Guard.NOT_HELD_BY_GROUND:
                if self.held_by_ground:
                    return f"{self.mode.name} commanded by ground"
            case Guard.CAUSE_CLEARED:
                return self._cause_persists(now_ns)
            case Guard.ECLIPSE_NEAR:
                lead = config.eclipse_command_lead_s
                if self.in_eclipse:
                    return None
                if self.in_eclipse is None:
                    return "no eclipse forecast (the orbit model not heard)"
                if self.next_entry_ns is None:
                    return f"not in eclipse / no eclipse forecast within {lead:g} s"
                ahead_s = (self.next_entry_ns - now_ns) / NS_PER_S
                if ahead_s > lead:
                    return (
                        f"not in eclipse / no eclipse forecast within {lead:g} s (next entry "
                        f"in {ahead_s:.0f} s)"
                    )
        return None

    def _cause_persists(self, now_ns: int) -> str | None:
        """Why what put the spacecraft in SAFE is not over yet (for cause_clear_s), or None."""
        hold_ns = round(self.config.cause_clear_s * NS_PER_S)
        if self._safe_unknown is not None:
            return f"cause not known onboard ({self._safe_unknown}): SAFE until ground commands"
        if self._safe_escalations and len(self._recent) == self.config.escalation_budget:
            under_ns = self._recent[0] + round(self.config.escalation_window_s * NS_PER_S)
            if now_ns - under_ns < hold_ns:
                held_s = max(0.0, (now_ns - under_ns) / NS_PER_S)
                return (
                    f"escalations: under budget for {held_s:.0f} s, "
                    f"{self.config.cause_clear_s:g} s needed"
                )
        for cause in self._safe_monitors.values():
            since = self._clear_since.get(cause.parameter)
            value = self.pool.get(cause.parameter)
            if value is None:
                return f"{cause.reason}: {cause.parameter} invalid"
            if since is None and cause.check == "delta":
                return (
                    f"{cause.reason}: {cause.parameter} change per sample not seen within "
                    f"{_limits(cause.low, cause.high)} (now {value:g})"
                )
            if since is None:
                return (
                    f"{cause.reason}: {cause.parameter} value outside "
                    f"{_limits(cause.low, cause.high)} (now {value:g})"
                )
            if now_ns - since < hold_ns:
                return (
                    f"{cause.reason}: {cause.parameter} back in limits for "
                    f"{(now_ns - since) / NS_PER_S:.0f} s, {self.config.cause_clear_s:g} s needed"
                )
        return None

    def _track_causes(self, now_ns: int) -> None:
        """Follow the monitored parameters of the SAFE in force, one step per new sample."""
        for cause in self._safe_monitors.values():
            name = cause.parameter
            sampled = self.pool.sampled_ns(name)
            value = self.pool.get(name)
            if value is None or sampled is None:
                self._clear_since[name] = None  # invalid: not known to be clear
                continue
            last = self._last_sample.get(name)
            if last is not None and last[0] == sampled:
                continue
            self._last_sample[name] = (sampled, value)
            if cause.check == "delta":
                if last is None:
                    continue  # the first sample is the baseline of the change
                probe = value - last[1]
            else:
                probe = value
            if cause.low <= probe <= cause.high:
                if self._clear_since.get(name) is None:
                    self._clear_since[name] = now_ns
            else:
                self._clear_since[name] = None

    def _add_safe_cause(self, cause: Cause, reason: str, now_ns: int) -> None:
        """Note what an onboard request for SAFE reacts to (its reason after 'who: ')."""
        if cause is not Cause.REQUEST:
            return
        text = reason.split(": ", 1)[-1]
        known = self._causes_by_reason.get(text)
        if known is None:
            self._safe_unknown = self._safe_unknown or text[:60]
            return
        if known.parameter not in self._safe_monitors:
            self._safe_monitors[known.parameter] = known
            self._clear_since[known.parameter] = None
            self._last_sample.pop(known.parameter, None)
            self._track_causes(now_ns)

    def _reset_causes(self) -> None:
        self._safe_escalations = False
        self._safe_monitors.clear()
        self._safe_unknown = None
        self._clear_since.clear()
        self._last_sample.clear()
        self._staying = None

    # --- transitions ----------------------------------------------------------------------

    def request(
        self, target: Mode, cause: Cause, reason: str, now_ns: int
    ) -> Change | Denial | None:
        """Make the transition if the table allows it (None: already in ``target``)."""
        if target == self.mode:
            if cause is Cause.GROUND:
                self.held_by_ground = True  # the ground takes this mode over
            elif target == Mode.SAFE:
                self._add_safe_cause(cause, reason, now_ns)  # another reason to stay
            return None
        rows = [t for t in TRANSITIONS if t.source == self.mode and t.target == target]
        if not rows:
            allowed = sorted({t.target.name for t in TRANSITIONS if t.source == self.mode})
            return Denial(
                self.mode,
                target,
                cause,
                f"not allowed from {self.mode.name} (allowed: {', '.join(allowed) or 'none'})",
            )
        row = next((t for t in rows if cause in t.causes), None)
        if row is None:
            return Denial(self.mode, target, cause, f"not by {cause} from {self.mode.name}")
        for guard in row.guards:
            why = self.check(guard, now_ns)
            if why is not None:
                return Denial(self.mode, target, cause, why)
        change = Change(self.mode, target, reason or f"by {cause}", now_ns)
        self.previous, self.mode, self.since_ns = self.mode, target, now_ns
        self.reason = change.reason
        self.transitions += 1
        self.held_by_ground = cause is Cause.GROUND
        self._reset_causes()
        if target == Mode.SAFE:
            self._add_safe_cause(cause, reason, now_ns)
        return change

    def _rule(self, target: Mode, reason: str, now_ns: int) -> Change | None:
        outcome = self.request(target, Cause.RULE, reason, now_ns)
        return outcome if isinstance(outcome, Change) else None

    def escalate(self, source: str, reason: str, now_ns: int) -> Change | None:
        """Count an FDIR escalation; past the budget, NOMINAL/ECLIPSE drop to SAFE."""
        self._escalations.append(now_ns)
        self._recent.append(now_ns)
        count = self.escalations(now_ns)
        if count <= self.config.escalation_budget:
            return None
        if self.mode == Mode.SAFE:
            self._safe_escalations = True  # one more reason to stay
            return None
        if self.mode not in (Mode.NOMINAL, Mode.ECLIPSE):
            return None
        change = self._rule(
            Mode.SAFE,
            f"{count} FDIR escalations in {self.config.escalation_window_s:g} s (budget "
            f"{self.config.escalation_budget}), last {source}: {reason}",
            now_ns,
        )
        if change is not None:
            self._safe_escalations = True
        return change

    def forecast(
        self, in_eclipse: bool, now_ns: int, next_entry_ns: int | None = None
    ) -> Change | None:
        """Follow the eclipse forecast: on its edges NOMINAL ↔ ECLIPSE."""
        self.next_entry_ns = next_entry_ns
        was, self.in_eclipse = self.in_eclipse, in_eclipse
        if was == in_eclipse:
            return None
        if in_eclipse and self.mode == Mode.NOMINAL:
            return self._rule(Mode.ECLIPSE, "eclipse entry (orbit forecast)", now_ns)
        if not in_eclipse and self.mode == Mode.ECLIPSE:
            return self._rule(Mode.NOMINAL, "eclipse exit (orbit forecast)", now_ns)
        return None

    def evaluate(self, now_ns: int) -> list[Change]:
        """Apply the manager's rules to the pool as it is now; each transition made, in order
        (one evaluation may chain: BOOT → SAFE → SURVIVAL)."""
        changes: list[Change] = []
        if self._safe_monitors:
            self._track_causes(now_ns)
        for _ in range(len(Mode)):  # bounded: every rule moves towards a fixed point
            change = self._next_rule(now_ns)
            if change is None:
                break
            changes.append(change)
        return changes

    def _next_rule(self, now_ns: int) -> Change | None:
        config = self.config
        soc = self.soc()
        mode = self.mode
        if mode == Mode.BOOT:
            if self.check(Guard.PLATFORM_UP, now_ns) is None:
                valid = [p for p in config.platform_parameters if self.pool.valid(p)]
                return self._rule(Mode.SAFE, f"platform up ({valid[0]} valid)", now_ns)
            return None
        failed = self.pool.get("supervisor.failed")
        if failed is not None and failed > self._failed_seen:
            self._failed_seen = int(failed)
            names = self.failed_services()
            new = [n for n in names if n not in self._failed_names] or names
            self._failed_names.update(names)
            if mode in (Mode.NOMINAL, Mode.ECLIPSE):
                what = f"service {', '.join(new)} FAILED" if new else f"{failed:g} services FAILED"
                return self._rule(Mode.SAFE, what, now_ns)
        if soc is not None and soc < config.survival_soc and mode != Mode.SURVIVAL:
            return self._rule(
                Mode.SURVIVAL, f"battery SoC {soc:.2f} below {config.survival_soc:.2f}", now_ns
            )
        if (
            mode == Mode.SURVIVAL
            and not self.held_by_ground
            and soc is not None
            and soc > config.survival_exit_soc
        ):
            return self._rule(
                Mode.SAFE,
                f"battery SoC {soc:.2f} recovered above {config.survival_exit_soc:.2f}",
                now_ns,
            )
        if mode == Mode.SAFE and config.autonomous_nominal and not self.held_by_ground:
            # The guards (table row SAFE -> NOMINAL by rule) decide; soc is valid if they pass.
            outcome = self.request(
                Mode.NOMINAL,
                Cause.RULE,
                f"autonomy: {(now_ns - self.since_ns) / NS_PER_S:.0f} s in SAFE, battery SoC "
                f"{soc or 0.0:.2f}, no service FAILED, {self.escalations(now_ns)} escalations"
                + (", cause cleared" if self._safe_monitors or self._safe_escalations else ""),
                now_ns,
            )
            if isinstance(outcome, Denial):
                self._note_staying(outcome, now_ns)
            return outcome if isinstance(outcome, Change) else None
        if mode == Mode.NOMINAL and self.in_eclipse and not self.held_by_ground:
            return self._rule(Mode.ECLIPSE, "in eclipse (orbit forecast)", now_ns)
        return None

    def _note_staying(self, denial: Denial, now_ns: int) -> None:
        """Once the hold is over, say why autonomy stays in SAFE: once per guard that fails
        (not every check: the numbers in the reason move every second)."""
        if self.check(Guard.SAFE_HELD, now_ns) is not None:
            return
        guard = next((g for g in _STAY_GUARDS if self.check(g, now_ns) is not None), None)
        if guard is None:
            return
        # Which cause (the text before its first ':'; its numbers move every second).
        key = (guard, denial.reason.split(":")[0] if guard is Guard.CAUSE_CLEARED else "")
        if key == self._staying:
            return
        self._staying = key
        self.notices.append(
            Denial(Mode.SAFE, Mode.NOMINAL, Cause.RULE, f"stays in SAFE: {denial.reason}")
        )

    def report(self) -> ModeReport:
        return ModeReport(
            self.mode, self.previous, self.since_ns / NS_PER_S, self.transitions, self.reason
        )


# The guards of the autonomous return that say the cause of SAFE is still there: when one
# keeps SAFE past the hold, an event says so (the battery or a ground hold are not news).
_STAY_GUARDS = (Guard.NO_FAILED_SERVICE, Guard.ESCALATIONS_UNDER_BUDGET, Guard.CAUSE_CLEARED)


def _limits(low: float, high: float) -> str:
    if high >= 1e9:
        return f">= {low:g}"
    if low <= -1e9:
        return f"<= {high:g}"
    return f"{low:g}..{high:g}"


# --- the service ----------------------------------------------------------------------------

# Pool parameters whose update makes the rules look again at once (others wait for the tick).
_WATCHED_PREFIXES = ("battery.soc", "supervisor.")


class _Intake:
    """What of a ParameterUpdate the manager reads: the values and invalid names starting
    with a ``needed`` prefix, and whether one starts with a ``watched`` prefix.

    A publisher sends the same names every cycle (the devices service's update of ~950
    registers every second), so the prefix tests of a name set are made once and kept by
    that set (its names as a tuple: made and hashed in C, against ~950 ``startswith`` in
    Python per update)."""

    _KEPT = 128  # name sets; the publishers of a satellite send a few dozen

    def __init__(self, needed: tuple[str, ...], watched: tuple[str, ...]) -> None:
        self.needed = needed
        self.watched = watched
        self._picks: dict[tuple[str, ...], tuple[tuple[str, ...], bool]] = {}

    def _pick(self, names: tuple[str, ...]) -> tuple[tuple[str, ...], bool]:
        pick = self._picks.get(names)
        if pick is None:
            kept = tuple(n for n in names if n.startswith(self.needed))
            pick = (kept, any(n.startswith(self.watched) for n in kept))
            if len(self._picks) >= self._KEPT:
                self._picks.clear()
            self._picks[names] = pick
        return pick

    def select(self, message: ParameterUpdate) -> tuple[dict[str, float], tuple[str, ...], bool]:
        """(needed values in the message's order, needed invalid names, a watched name came)."""
        given = message.values
        names, came = self._pick(tuple(given))
        values = {n: given[n] for n in names}
        invalid: tuple[str, ...] = ()
        if message.invalid:
            invalid = tuple(n for n in message.invalid if n.startswith(self.needed))
            came = came or any(n.startswith(self.watched) for n in invalid)
        return values, invalid, came


async def run(ctx: ServiceContext, config: Config) -> None:
    pool = ParameterPool()
    manager = ModeManager(config, pool, ctx.clock.now_ns())
    watched = (*_WATCHED_PREFIXES, *config.platform_parameters)
    # What the manager reads from the pool at all: the watched names and the monitors of
    # the onboard SAFE causes. An update with none of them (the PDU's thousand registers,
    # the payload's HK, ...) changes nothing it reads: not stored.
    needed = (*watched, *(c.parameter for c in config.safe_causes))

    intake = _Intake(needed, watched)

    def take(message: ParameterUpdate) -> bool:
        """Store what the manager reads of ``message``; True if a watched name came."""
        values, invalid, came = intake.select(message)
        if not values and not invalid:
            return False
        pool.update(
            ParameterUpdate.model_construct(values=values, invalid=invalid, time_ns=message.time_ns)
        )
        return came

    def publish_parameters() -> None:
        ctx.parameters(
            **{
                "mode.current": int(manager.mode),
                "mode.transitions": manager.transitions,
                "mode.escalations": manager.escalations(ctx.clock.now_ns()),
            }
        )

    def announce(repeated: bool = False) -> None:
        ctx.publish(
            ModeChanged(
                mode=manager.mode,
                previous=manager.mode if repeated else manager.previous,
                reason=manager.reason[:150],
                since_ns=manager.since_ns,
            )
        )
        ctx.publish(
            ComputeLimit(
                source="mode",
                scope="all",
                power_limit_w=COMPUTE_POWER_LIMIT_W[manager.mode],
                reason=f"mode {manager.mode.name}",
            )
        )

    def changed(change: Change | Denial | None) -> None:
        if isinstance(change, Change):
            ctx.log.info("mode: %s", change.message)
            ctx.event(EventId.MODE_CHANGED, change.message)
            announce()
            publish_parameters()
        elif isinstance(change, Denial):
            ctx.log.info("mode: %s", change.message)
            ctx.event(EventId.MODE_DENIED, change.message)

    def evaluate() -> None:
        for change in manager.evaluate(ctx.clock.now_ns()):
            changed(change)
        while manager.notices:
            changed(manager.notices.pop(0))

    def telecommand(tc: TcDispatch) -> None:
        if tc.subservice == 2:
            ctx.progress(tc.request_id, tc.apid, "started")
            ctx.tm(Apid.PLATFORM, 130, 3, manager.report().pack(), reply_to=tc.request_id)
            ctx.progress(tc.request_id, tc.apid, "completed")
            return
        if tc.subservice != 1:
            return  # acceptance only lets 130,1 and 130,2 through
        try:
            request = RequestMode.unpack(tc.app_data)
        except DecodeError:  # checked at acceptance; a bad one here changes nothing
            ctx.progress(tc.request_id, tc.apid, "start_failed", ErrorCode.INVALID_APP_DATA)
            return
        ctx.progress(tc.request_id, tc.apid, "started")
        if tc.source_id in config.onboard_source_ids:
            cause, who = Cause.REQUEST, "event-action"
        else:
            cause, who = Cause.GROUND, "ground"
        reason = f"{who}: {request.reason}" if request.reason else f"{who} command"
        outcome = manager.request(request.mode, cause, reason, ctx.clock.now_ns())
        changed(outcome)
        if isinstance(outcome, Denial):
            ctx.progress(tc.request_id, tc.apid, "failed", ErrorCode.MODE_DENIED)
            return
        evaluate()  # a commanded mode may chain (NOMINAL in shadow stays: ground holds it)
        ctx.progress(tc.request_id, tc.apid, "completed")

    def handle(message: object) -> None:
        now_ns = ctx.clock.now_ns()
        if isinstance(message, ParameterUpdate):
            if take(message):
                evaluate()
        elif isinstance(message, TcDispatch) and message.service == 130:
            telecommand(message)
        elif isinstance(message, ModeRequest):
            changed(
                manager.request(
                    message.mode, Cause.REQUEST, f"{message.source}: {message.reason}", now_ns
                )
            )
            evaluate()
        elif isinstance(message, FdirEscalation):
            changed(manager.escalate(message.source, message.reason, now_ns))
            publish_parameters()
        elif isinstance(message, EclipseForecast):
            changed(manager.forecast(message.in_eclipse, now_ns, message.next_entry_ns))

    async def inputs() -> None:
        async with ctx.subscribe(
            ParameterUpdate, EclipseForecast, ModeRequest, FdirEscalation, (TcDispatch, 130)
        ) as messages:
            announce(repeated=True)  # BOOT: compute off until the platform is up
            publish_parameters()
            ctx.ready()
            async for message in messages:
                handle(message)

    async def periodic() -> None:
        next_announce_ns = ctx.clock.now_ns() + round(config.announce_period_s * NS_PER_S)
        while True:
            await ctx.clock.sleep(config.hk_period_s)
            evaluate()  # time-based guards (the safe hold, the escalation window)
            publish_parameters()
            if ctx.clock.now_ns() >= next_announce_ns:
                announce(repeated=True)
                next_announce_ns = ctx.clock.now_ns() + round(config.announce_period_s * NS_PER_S)

    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(inputs())
        tasks.create_task(periodic())
