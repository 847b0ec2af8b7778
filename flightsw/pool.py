"""The onboard parameter pool as one service sees it: the latest valid value of every
'device.register' (and service) parameter published on the bus, with its sample time.

Autonomy services (modes, thermal, power, monitoring) read the hardware through the devices
service's acquisition rather than polling the device port themselves: one read per device per
period, many consumers. A parameter never published, or declared invalid since (its device
stopped answering), reads as ``None``: FDIR never acts on an invalid value (DESIGN.md).
"""

from __future__ import annotations

from flightsw.context import ServiceContext
from flightsw.messages import ParameterUpdate

__all__ = ["ParameterPool", "follow"]


class ParameterPool:
    """Latest value and sample time (mission ns) per parameter name."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[float, int]] = {}
        self.updates = 0

    def update(self, message: ParameterUpdate) -> None:
        for name in message.invalid:
            self._values.pop(name, None)
        t = message.time_ns
        for name, value in message.values.items():
            self._values[name] = (value, t)
        self.updates += 1

    def get(self, name: str) -> float | None:
        """The latest valid value, or None (never acquired, or invalid since)."""
        entry = self._values.get(name)
        return None if entry is None else entry[0]

    def sampled_ns(self, name: str) -> int | None:
        entry = self._values.get(name)
        return None if entry is None else entry[1]

    def valid(self, name: str) -> bool:
        return name in self._values

    def names(self, prefix: str = "") -> list[str]:
        return sorted(n for n in self._values if n.startswith(prefix))


async def follow(ctx: ServiceContext, pool: ParameterPool) -> None:
    """Keep ``pool`` current from the bus until cancelled (run it in the service's TaskGroup)."""
    async with ctx.subscribe(ParameterUpdate) as updates:
        async for message in updates:
            if isinstance(message, ParameterUpdate):
                pool.update(message)
