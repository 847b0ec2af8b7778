"""Service lifecycle: a supervisor that owns every service task and restarts crashed ones.

A service is a module with a frozen pydantic ``Config``, its bus messages, and one coroutine
``run(ctx, config)``. The supervisor starts services in order, restarts one that raises
(with a mission-time back-off) and reports each restart through ``on_restart``, and stops them
in reverse order. :func:`run_until_signalled` makes SIGINT/SIGTERM take that same path.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from runtime.clock import Clock

__all__ = ["ServiceSpec", "Supervisor", "run_until_signalled"]

log = logging.getLogger(__name__)

RunFunction = Callable[[Any, Any], Awaitable[None]]


@dataclass(frozen=True)
class ServiceSpec:
    """What the supervisor needs to run one service."""

    name: str
    run: RunFunction
    config: BaseModel
    restart: bool = True


@dataclass
class _Running:
    spec: ServiceSpec
    task: asyncio.Task[None] | None = None
    restarts: int = 0
    last_error: str = ""
    ready: asyncio.Future[Any] | None = None


@dataclass
class Supervisor:
    """Owns the service tasks; an async context manager that stops them in reverse order."""

    clock: Clock
    make_context: Callable[[str, Callable[[Any], None]], Any]
    on_restart: Callable[[str, str, int], None] = lambda name, error, count: None
    backoff_s: tuple[float, ...] = (0.1, 0.5, 1.0, 2.0, 5.0)
    _running: list[_Running] = field(default_factory=list)
    total_restarts: int = 0

    async def __aenter__(self) -> Supervisor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self, spec: ServiceSpec, ready_timeout_s: float = 30.0) -> Any:
        """Start ``spec`` and wait until it reports ready (its inputs are open).

        Returns what the service passed to ``ready``. Raises if it does not get there within
        ``ready_timeout_s`` seconds of wall time: readiness is about this host's CPU and
        sockets, not about mission time, so an accelerated clock must not shorten it.
        """
        entry = _Running(spec, ready=asyncio.get_running_loop().create_future())
        entry.task = asyncio.create_task(self._supervise(entry), name=f"service:{spec.name}")
        self._running.append(entry)
        assert entry.ready is not None
        try:
            return await asyncio.wait_for(asyncio.shield(entry.ready), ready_timeout_s)
        except TimeoutError:
            raise RuntimeError(
                f"service {spec.name} did not become ready in {ready_timeout_s} s "
                f"({entry.last_error or 'no error'})"
            ) from None

    @staticmethod
    def _ready(entry: _Running, info: Any) -> None:
        if entry.ready is not None and not entry.ready.done():
            entry.ready.set_result(info)

    def restarts(self, name: str) -> int:
        return next((r.restarts for r in self._running if r.spec.name == name), 0)

    @property
    def names(self) -> list[str]:
        return [r.spec.name for r in self._running]

    async def _supervise(self, entry: _Running) -> None:
        spec = entry.spec
        while True:
            try:
                await spec.run(
                    self.make_context(spec.name, lambda info=None: self._ready(entry, info)),
                    spec.config,
                )
                log.info("service %s finished", spec.name)
                self._ready(entry, None)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                entry.last_error = f"{type(exc).__name__}: {exc}"
                if not spec.restart:
                    log.exception("service %s failed and is not restarted", spec.name)
                    return
                entry.restarts += 1
                self.total_restarts += 1
                log.warning(
                    "service %s crashed (%s); restart %d",
                    spec.name,
                    entry.last_error,
                    entry.restarts,
                )
                self.on_restart(spec.name, entry.last_error, entry.restarts)
                delay = self.backoff_s[min(entry.restarts, len(self.backoff_s)) - 1]
                await self.clock.sleep(delay)

    async def wait(self) -> None:
        """Wait until every service has finished on its own."""
        await asyncio.gather(*(r.task for r in self._running if r.task), return_exceptions=True)

    async def stop(self) -> None:
        for entry in reversed(self._running):
            if entry.task is None:
                continue
            entry.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await entry.task
        self._running.clear()


async def run_until_signalled(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """Run ``main(stop)``; SIGINT and SIGTERM set ``stop`` so shutdown takes the normal path."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # not the main thread, or no signals
            pass
    try:
        await main(stop)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
