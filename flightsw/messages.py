"""Bus messages shared by every flight-software service (service-specific ones live with
their service). Topics are one per message type."""

from __future__ import annotations

from typing import Literal

from computesat_sdk.contract import JobLimits
from pydantic import BaseModel, ConfigDict, Field

from icd.dictionary import Mode
from runtime.bus import BusMessage

__all__ = [
    "AcceptanceState",
    "AcceptanceStateWanted",
    "BoardJobLimits",
    "ComputeLimit",
    "EclipseForecast",
    "Event",
    "FdirEscalation",
    "HardwareDown",
    "ModeChanged",
    "ModeRequest",
    "ParameterUpdate",
    "PayloadLimits",
    "PayloadLimitsWanted",
    "TcDispatch",
    "TcProgress",
    "TmRequest",
]


class Event(BusMessage):
    """An onboard event; the event service turns it into TM(5,severity)."""

    TOPIC = "event"
    event_id: int = Field(description="Dictionary event id (icd.dictionary.EVENTS).")
    source: str = Field(description="Service that raised it.")
    message: str = Field(max_length=200, description="Human-readable detail.")
    time_ns: int = Field(description="Mission time raised, ns.")


class ParameterUpdate(BusMessage):
    """New values for parameters in the housekeeping pool ('device.register' names), and
    parameters that are no longer valid (their device stopped answering)."""

    TOPIC = "param"
    values: dict[str, float] = Field(description="Parameter name to value in its unit.")
    invalid: tuple[str, ...] = Field(
        (),
        description="Parameters invalid from now on (stale source): packed as 0 and flagged "
        "invalid in HK until a value comes again. Never-published parameters are invalid too.",
    )
    time_ns: int = Field(description="Mission time the values were sampled, ns.")


class TcDispatch(BusMessage):
    """An accepted telecommand, routed to the service that owns it."""

    TOPIC = "tc.dispatch"
    TOPIC_KEY = "service"  # each service subscribes to its own telecommands only
    request_id: bytes = Field(description="PUS request id (first 4 bytes of the TC).")
    apid: int
    service: int
    subservice: int
    source_id: int
    app_data: bytes


class TcProgress(BusMessage):
    """A service's verification report for a request; the link emits the TM(1,x)."""

    TOPIC = "tc.progress"
    request_id: bytes
    apid: int
    stage: Literal["started", "completed", "start_failed", "failed"]
    error_code: int = Field(0, ge=0, le=0xFFFF, description="icd.errors.ErrorCode on failure.")


class TmRequest(BusMessage):
    """Telemetry for the link to packetise, time-stamp and send."""

    TOPIC = "tm.request"
    apid: int
    service: int
    subservice: int
    source_data: bytes
    reply_to: bytes | None = Field(None, description="Request id this answers, if any.")
    time_ns: int = Field(description="Mission time of the data, ns (goes into the CUC).")


class BoardJobLimits(BaseModel):
    """One kind of board's job limits and how many such boards the payload manager knows."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    limits: JobLimits = Field(description="The largest job such a board accepts.")
    boards: int = Field(ge=1, description="Boards with exactly these limits.")


class HardwareDown(BusMessage):
    """The process supervisor says the hardware simulator died (HARDWARE_GAP): every value
    read from it is invalid from now until a device answers again, even if the gap is shorter
    than a device timeout."""

    TOPIC = "hardware.down"
    reason: str = Field(description="How the hardware simulator's process ended.")


class PayloadLimitsWanted(BusMessage):
    """Asks the payload manager for its `PayloadLimits` now (the link, once it listens: a
    link that starts after the boards were identified would otherwise accept a 140,1 beyond
    them until the manager's next periodic publication)."""

    TOPIC = "payload.limits_wanted"


class PayloadLimits(BusMessage):
    """The job limits of the compute boards, as the payload manager learnt them through the
    device port (slot ``identity``); the link refuses a 140,1 beyond them at acceptance."""

    TOPIC = "payload.limits"
    kinds: list[BoardJobLimits] = Field(description="Distinct limits, with board counts.")

    def refusal(self, kernel: str, size: int, iterations: int, redundancy: int = 1) -> str | None:
        """Why no ``redundancy`` boards can run such a job (naming the limit), or None."""
        able = sum(
            kind.boards
            for kind in self.kinds
            if kind.limits.violation(kernel, size, iterations) is None
        )
        if able >= redundancy:
            return None
        if able:
            return f"{kernel} job needs {redundancy} boards, {able} can run it"
        # Name the limit of the most capable board: the one a smaller job would fit.
        best = max(self.kinds, key=lambda k: k.limits.max_size.get(kernel, 0), default=None)
        if best is None:
            return "no compute board known"
        return best.limits.violation(kernel, size, iterations)


# --- autonomy: what the mode manager, thermal, power, FDIR and payload services tell each other


class ModeRequest(BusMessage):
    """Asks the mode manager for a transition (autonomy: power, thermal, FDIR; telecommands go
    through service 130). The mode manager decides; a denied request is an event, never a
    silent change."""

    TOPIC = "mode.request"
    mode: Mode = Field(description="Mode wanted.")
    source: str = Field(description="Service asking (named in the transition event).")
    reason: str = Field(max_length=150, description="Why, as an operator should read it.")


class ModeChanged(BusMessage):
    """The mode in force, published by the mode manager at every transition and once a
    period (so a restarted service learns it)."""

    TOPIC = "mode.changed"
    mode: Mode = Field(description="Mode now in force.")
    previous: Mode = Field(description="Mode before the transition (= mode when repeated).")
    reason: str = Field(max_length=150, description="Why the transition happened.")
    since_ns: int = Field(description="Mission time the mode was entered, ns.")


class ComputeLimit(BusMessage):
    """A limit on the compute payload from one source (power, thermal, mode, FDIR). The
    payload manager applies, per slot, the most restrictive limit of all sources in force; a
    source lifts its limit by sending ``power_limit_w=None``. Scope ``all`` or a coolant loop
    id (``L1``): the boards on that loop's cold plates."""

    TOPIC = "payload.compute_limit"
    source: str = Field(description="Who limits (power, thermal, mode, fdir).")
    scope: str = Field("all", description="'all' or a loop id ('L1') whose boards it covers.")
    power_limit_w: float | None = Field(
        ge=0.0,
        description="Most electrical power the boards in scope may draw, W (0 = all off; "
        "None = this source lifts its limit).",
    )
    reason: str = Field(max_length=150, description="Why, named in the payload's event.")


class EclipseForecast(BusMessage):
    """The power controller's prediction from the onboard orbit model (not from sensors):
    the next eclipse entry and exit, mission time."""

    TOPIC = "power.eclipse_forecast"
    in_eclipse: bool = Field(description="The model says the satellite is in Earth's shadow now.")
    next_entry_ns: int | None = Field(description="Next shadow entry, mission ns (None: none).")
    next_exit_ns: int | None = Field(description="Next shadow exit, mission ns (None: none).")
    eclipse_duration_s: float = Field(ge=0.0, description="Length of the next eclipse, s.")


class FdirEscalation(BusMessage):
    """An FDIR response that did not clear its fault (a failed action, a recurring monitor):
    the mode manager counts these and drops to SAFE past its budget."""

    TOPIC = "fdir.escalation"
    source: str = Field(description="Monitor or service escalating.")
    reason: str = Field(max_length=150, description="What was seen and what failed.")


# --- fdir: acceptance checks against the tables in force (PUS 12, 19) ----------------------


class AcceptanceState(BusMessage):
    """The ids a service's tables hold now (PMON ids for service 12, event-action ids for
    19), published on every change and when asked: the link refuses at acceptance (1,2) a
    request that adds an id in use or names one not in force (icd.dictionary.ID_CHECKS)."""

    TOPIC = "tc.acceptance_state"
    service: int = Field(description="PUS service whose tables these are.")
    ids: list[int] = Field(description="Ids in force.")


class AcceptanceStateWanted(BusMessage):
    """The link asks every service with tables for its `AcceptanceState` (at its start)."""

    TOPIC = "tc.acceptance_state_wanted"
