"""The onboard parameter pool as one service sees it: the latest valid value of every
'device.register' (and service) parameter published on the bus, with its sample time.

Autonomy services (modes, thermal, power, monitoring) read the hardware through the devices
service's acquisition rather than polling the device port themselves: one read per device per
period, many consumers. A parameter never published, or declared invalid since (its device
stopped answering), reads as ``None``: FDIR never acts on an invalid value (DESIGN.md).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

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
        self._values.update(_entries(message))
        self.updates += 1

    def get(self, name: str) -> float | None:
        """The latest valid value, or None (never acquired, or invalid since)."""
        entry = self._values.get(name)
        return None if entry is None else entry[0]

    def sampled_ns(self, name: str) -> int | None:
        entry = self._values.get(name)
        return None if entry is None else entry[1]

    def entries(self) -> Callable[[str], tuple[float, int] | None]:
        """name -> (latest valid value, its sample time) or None, in one lookup: for a reader
        of hundreds of parameters a cycle (monitoring), instead of ``get`` and
        ``sampled_ns``. Reads the pool as it is when called, like ``get``."""
        return self._values.get

    def valid(self, name: str) -> bool:
        return name in self._values

    def names(self, prefix: str = "") -> list[str]:
        return sorted(n for n in self._values if n.startswith(prefix))


# Every pool of the process takes the same message object (the bus hands its subscribers
# the one model): its entries are made once and each pool takes them whole (dict.update, no
# Python per parameter; the devices' message carries ~1000 values every second). Keyed by
# the message's id, the message kept alongside so that the id cannot be reused meanwhile.
_SHARED_FROM = 64  # values; a smaller message is cheaper made again than looked up
_SHARED_KEPT = 16  # messages: the pools of a process take a message within a few others
_shared: OrderedDict[int, tuple[ParameterUpdate, dict[str, tuple[float, int]]]] = OrderedDict()


def _entries(message: ParameterUpdate) -> dict[str, tuple[float, int]]:
    """name -> (value, sample time) of every value of ``message``."""
    values = message.values
    if len(values) < _SHARED_FROM:
        t = message.time_ns
        return {name: (value, t) for name, value in values.items()}
    kept = _shared.get(id(message))
    if kept is not None and kept[0] is message:
        return kept[1]
    t = message.time_ns
    entries = {name: (value, t) for name, value in values.items()}
    _shared[id(message)] = (message, entries)
    if len(_shared) > _SHARED_KEPT:
        _shared.popitem(last=False)
    return entries


async def follow(ctx: ServiceContext, pool: ParameterPool) -> None:
    """Keep ``pool`` current from the bus until cancelled (run it in the service's TaskGroup)."""
    async with ctx.subscribe(ParameterUpdate) as updates:
        async for message in updates:
            if isinstance(message, ParameterUpdate):
                pool.update(message)
