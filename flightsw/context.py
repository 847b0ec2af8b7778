"""What a flight-software service is handed: the clock, the bus, the device ports."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flightsw.messages import Event, ParameterUpdate, TcProgress, TmRequest
from icd.errors import ErrorCode
from runtime.bus import Bus, BusMessage, Subscription, Topic
from runtime.clock import Clock
from runtime.ports import DevicePort

__all__ = ["ServiceContext"]


@dataclass
class ServiceContext:
    name: str
    clock: Clock
    bus: Bus
    devices: DevicePort
    log: logging.Logger
    on_ready: Callable[[Any], None] = field(default=lambda info: None)

    def ready(self, info: Any = None) -> None:
        """Tell the supervisor this service's inputs are open (start-up may go on)."""
        self.on_ready(info)

    def publish(self, message: BusMessage) -> None:
        self.bus.publish(message)

    def subscribe(self, *topics: Topic) -> Subscription:
        return self.bus.subscribe(*topics)

    def event(self, event_id: int, message: str) -> None:
        self.publish(
            Event(
                event_id=int(event_id),
                source=self.name,
                message=message[:200],
                time_ns=self.clock.now_ns(),
            )
        )

    def parameters(self, **values: float) -> None:
        self.publish(ParameterUpdate(values=values, time_ns=self.clock.now_ns()))

    def parameter_map(self, values: dict[str, float], invalid: tuple[str, ...] = ()) -> None:
        """Publish ``values`` and mark ``invalid`` parameters as no longer valid."""
        self.publish(ParameterUpdate(values=values, invalid=invalid, time_ns=self.clock.now_ns()))

    def tm(
        self,
        apid: int,
        service: int,
        subservice: int,
        data: bytes = b"",
        reply_to: bytes | None = None,
    ) -> None:
        self.publish(
            TmRequest(
                apid=apid,
                service=service,
                subservice=subservice,
                source_data=data,
                reply_to=reply_to,
                time_ns=self.clock.now_ns(),
            )
        )

    def publish_tm_at(
        self, apid: int, service: int, subservice: int, data: bytes, time_ns: int
    ) -> None:
        """Telemetry stamped with the time of what it reports rather than now."""
        self.publish(
            TmRequest(
                apid=apid, service=service, subservice=subservice, source_data=data, time_ns=time_ns
            )
        )

    def progress(
        self, request_id: bytes, apid: int, stage: Any, error_code: ErrorCode | int = 0
    ) -> None:
        self.publish(
            TcProgress(request_id=request_id, apid=apid, stage=stage, error_code=int(error_code))
        )
