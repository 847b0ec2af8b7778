"""Simulation control from ground scripts and tests: faults, the model's truth, snapshots.

This talks to hwsim's simulation-control port (ZeroMQ), never to the satellite over the RF
link: it is the test conductor's hand on the hardware, not an operator's telecommand.

    async with SimControl("tcp://127.0.0.1:7321") as sim:
        await sim.inject("pump_seizure", "pump.L1.A")
        await sim.inject("sensor_stuck", "radsensor.P01.S1", at_time_s=t + 60)
        saved = await sim.snapshot()          # {"path": ..., "mission_time_s": ...}
        await sim.restore(saved["path"])      # the hardware goes back to that state and time

Snapshot paths are paths on the host hwsim runs on (relative ones: to its working directory).
"""

from __future__ import annotations

from typing import Any

import zmq.asyncio

from icd.device import SimOp
from runtime.clock import WallClock
from runtime.ports import DevicePort

__all__ = ["SimControl"]


class SimControl:
    """An async client of hwsim's simulation-control port (an async context manager)."""

    def __init__(self, endpoint: str = "tcp://127.0.0.1:7321", timeout_s: float = 10.0) -> None:
        self.endpoint = endpoint
        self._context = zmq.asyncio.Context()
        # Replies come from hwsim directly; a wall-clock timeout is what a conductor expects.
        self._port = DevicePort(self._context, endpoint, WallClock(), timeout_s=timeout_s)

    async def __aenter__(self) -> SimControl:
        await self._port.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._port.__aexit__(*exc_info)
        self._context.term()

    async def time(self) -> dict[str, Any]:
        """Mission time (ns), model time (s), clock speed and mode of the hardware."""
        return dict(await self._port.request(SimOp.TIME))

    async def catalogue(self) -> list[dict[str, Any]]:
        return list(await self._port.request(SimOp.FAULT_CATALOGUE))

    async def inject(
        self,
        fault_id: str,
        target: str,
        params: dict[str, Any] | None = None,
        at_time_s: float | None = None,
    ) -> dict[str, Any]:
        """Inject now, or at mission time ``at_time_s`` (CUC seconds, as in telemetry)."""
        args: dict[str, Any] = {"fault_id": fault_id, "target": target, "params": params or {}}
        if at_time_s is not None:
            args["at_time_s"] = at_time_s
        return dict(await self._port.request(SimOp.INJECT_FAULT, args=args))

    async def clear(self, fault_id: str, target: str) -> dict[str, Any]:
        return dict(
            await self._port.request(
                SimOp.CLEAR_FAULT, args={"fault_id": fault_id, "target": target}
            )
        )

    async def active_faults(self) -> list[dict[str, Any]]:
        return list(await self._port.request(SimOp.ACTIVE_FAULTS))

    async def truth(self) -> dict[str, Any]:
        return dict(await self._port.request(SimOp.TRUTH))

    async def snapshot(self, path: str | None = None) -> dict[str, Any]:
        """Save the whole model now, to ``path`` or the next file of hwsim's --snapshot-dir;
        returns the path, mission time (ns and s), model time and size."""
        args = {} if path is None else {"path": path}
        return dict(await self._port.request(SimOp.SNAPSHOT, args=args))

    async def restore(self, path: str) -> dict[str, Any]:
        """Restore the model from snapshot ``path``; hwsim's mission time goes to the
        snapshot's. A bad file is refused (DevicePortError naming what is wrong) and the
        running simulation goes on unchanged."""
        return dict(await self._port.request(SimOp.RESTORE, args={"path": path}))
