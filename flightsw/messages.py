"""Bus messages shared by every flight-software service (service-specific ones live with
their service). Topics are one per message type."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from runtime.bus import BusMessage

__all__ = ["Event", "ParameterUpdate", "TcDispatch", "TcProgress", "TmRequest"]


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
