"""Bus messages shared by every flight-software service (service-specific ones live with
their service). Topics are one per message type."""

from __future__ import annotations

from typing import Literal

from computesat_sdk.contract import JobLimits
from pydantic import BaseModel, ConfigDict, Field

from runtime.bus import BusMessage

__all__ = [
    "BoardJobLimits",
    "Event",
    "HardwareDown",
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
