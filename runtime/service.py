"""Service lifecycle: a supervisor that owns every service task and restarts crashed ones.

A service is a module with a frozen pydantic ``Config``, its bus messages, and one coroutine
``run(ctx, config)``. The supervisor starts services in order and restarts one that raises,
with a mission-time back-off, within a restart budget (``max_restarts`` in ``window_s``
mission seconds): each restart is reported through ``on_restart``; past the budget the
service is FAILED, stays down and ``on_failed`` says so (the mode manager reacts to it).

Stopping cancels the services in reverse order and never restarts anything. A service that
raises while it is cancelled or cleans up, or that does not finish within its wall-clock
``stop_grace_s`` (it is then abandoned), does not keep the next ones from stopping: every
such failure is collected and raised together at the end as :class:`ServiceStopError`.
:func:`run_until_signalled` makes SIGINT/SIGTERM take that same path; a second signal forces
the process out.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from icd.dictionary import ServiceState  # the numbers are in housekeeping: the ICD owns them
from runtime.clock import NS_PER_S, Clock

__all__ = [
    "ServiceSpec",
    "ServiceState",
    "ServiceStopError",
    "ServiceStopFailure",
    "Supervisor",
    "describe_error",
    "force_exit",
    "run_process",
    "run_until_signalled",
]

log = logging.getLogger(__name__)

RunFunction = Callable[[Any, Any], Awaitable[None]]


@dataclass(frozen=True)
class ServiceSpec:
    """What the supervisor needs to run one service."""

    name: str
    run: RunFunction
    config: BaseModel
    restart: bool = True
    # The restart budget: at most max_restarts restarts within any window_s mission seconds;
    # the crash after that makes the service FAILED.
    max_restarts: int = 5
    window_s: float = 60.0
    # Wall seconds the service gets to finish once cancelled. Wall, not mission, time: how
    # long cleanup takes is about this host, and an accelerated clock must not shorten it.
    stop_grace_s: float = 1.0

    def __post_init__(self) -> None:
        if self.max_restarts < 0:
            raise ValueError(f"service {self.name}: max_restarts must be >= 0")
        if not self.window_s > 0:
            raise ValueError(f"service {self.name}: window_s must be > 0 mission seconds")
        if not self.stop_grace_s > 0:
            raise ValueError(f"service {self.name}: stop_grace_s must be > 0 wall seconds")


class ServiceStopFailure(RuntimeError):
    """One service did not stop cleanly: it raised while stopping, or it was abandoned."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"service {service}: {reason}")
        self.service = service


class ServiceStopError(ExceptionGroup):
    """Every :class:`ServiceStopFailure` of one :meth:`Supervisor.stop`, raised together
    after all services were stopped (or abandoned)."""

    def derive(self, excs):  # type: ignore[no-untyped-def]  # keep the type on split()
        return ServiceStopError(self.message, excs)


def describe_error(error: BaseException) -> str:
    """``Type: message`` of an error; of each leaf for an exception group (a TaskGroup
    wraps what a service's task raised, and the wrapper alone says nothing)."""
    if isinstance(error, BaseExceptionGroup):
        return "; ".join(describe_error(inner) for inner in error.exceptions)
    return f"{type(error).__name__}: {error}"


@dataclass
class _Running:
    spec: ServiceSpec
    task: asyncio.Task[None] | None = None
    state: ServiceState = ServiceState.STARTING
    restarts: int = 0
    restart_times_ns: deque[int] = field(default_factory=deque)
    last_error: str = ""
    ready: asyncio.Future[Any] | None = None
    was_ready: bool = False


@dataclass
class Supervisor:
    """Owns the service tasks; an async context manager that stops them in reverse order."""

    clock: Clock
    make_context: Callable[[str, Callable[[Any], None]], Any]
    on_restart: Callable[[str, str, int], None] = lambda name, error, count: None
    # on_failed(name, last error, restarts within the window): the service is FAILED.
    on_failed: Callable[[str, str, int], None] = lambda name, error, restarts: None
    backoff_s: tuple[float, ...] = (0.1, 0.5, 1.0, 2.0, 5.0)
    _running: list[_Running] = field(default_factory=list)
    total_restarts: int = 0
    _stopping: bool = False

    async def __aenter__(self) -> Supervisor:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def start(self, spec: ServiceSpec, ready_timeout_s: float = 30.0) -> Any:
        """Start ``spec`` and wait until it reports ready (its inputs are open).

        Returns what the service passed to ``ready``. Raises if it does not get there within
        ``ready_timeout_s`` seconds of wall time (readiness is about this host's CPU and
        sockets, not about mission time, so an accelerated clock must not shorten it), or if
        it is FAILED before it gets there.
        """
        if self._stopping:
            raise RuntimeError(f"cannot start service {spec.name}: the supervisor is stopping")
        entry = _Running(spec, ready=asyncio.get_running_loop().create_future())
        entry.task = asyncio.create_task(self._supervise(entry), name=f"service:{spec.name}")
        self._running.append(entry)
        assert entry.ready is not None
        try:
            async with asyncio.timeout(ready_timeout_s):
                info = await asyncio.shield(entry.ready)
        except TimeoutError:
            raise RuntimeError(
                f"service {spec.name} did not become ready in {ready_timeout_s} s "
                f"({entry.last_error or 'no error'})"
            ) from None
        if not entry.was_ready and entry.state == ServiceState.FAILED:
            raise RuntimeError(
                f"service {spec.name} FAILED before it became ready: {entry.last_error}"
            )
        return info

    @staticmethod
    def _ready(entry: _Running, info: Any) -> None:
        if entry.state in (ServiceState.STARTING, ServiceState.RESTARTING):
            entry.state = ServiceState.RUNNING
        entry.was_ready = True
        if entry.ready is not None and not entry.ready.done():
            entry.ready.set_result(info)

    def restarts(self, name: str) -> int:
        return next((r.restarts for r in self._running if r.spec.name == name), 0)

    def state(self, name: str) -> ServiceState:
        for entry in self._running:
            if entry.spec.name == name:
                return entry.state
        raise KeyError(f"no service named {name!r} (services: {', '.join(self.names)})")

    @property
    def states(self) -> dict[str, ServiceState]:
        return {r.spec.name: r.state for r in self._running}

    @property
    def failed(self) -> list[str]:
        """Names of the services that are FAILED."""
        return [r.spec.name for r in self._running if r.state == ServiceState.FAILED]

    @property
    def names(self) -> list[str]:
        return [r.spec.name for r in self._running]

    def _notify(self, hook: Callable[..., None], *args: Any) -> None:
        # A hook that raises must not take the supervision of every other service with it.
        try:
            hook(*args)
        except Exception:
            log.exception("supervisor hook %r raised", hook)

    def _budget_left(self, entry: _Running) -> bool:
        """Whether one more restart fits the budget (older restarts than the window drop out)."""
        spec = entry.spec
        now_ns = self.clock.now_ns()
        window_ns = round(spec.window_s * NS_PER_S)
        times = entry.restart_times_ns
        while times and times[0] <= now_ns - window_ns:
            times.popleft()
        return len(times) < spec.max_restarts

    async def _supervise(self, entry: _Running) -> None:
        spec = entry.spec
        while True:
            try:
                await spec.run(
                    self.make_context(spec.name, lambda info=None: self._ready(entry, info)),
                    spec.config,
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                entry.last_error = describe_error(exc)
                if self._stopping:
                    # Raised while being stopped (cancelled, or cleaning up): not a crash,
                    # never a restart. stop() collects it from the task.
                    raise
                if not spec.restart or not self._budget_left(entry):
                    self._fail(entry)
                    return
                entry.restarts += 1
                entry.restart_times_ns.append(self.clock.now_ns())
                self.total_restarts += 1
                entry.state = ServiceState.RESTARTING
                log.warning(
                    "service %s crashed (%s); restart %d",
                    spec.name,
                    entry.last_error,
                    entry.restarts,
                )
                self._notify(self.on_restart, spec.name, entry.last_error, entry.restarts)
                # The back-off grows with the restarts in the current window, so a service
                # that crashes once a day always comes back quickly.
                recent = len(entry.restart_times_ns)
                await self.clock.sleep(self.backoff_s[min(recent, len(self.backoff_s)) - 1])
            else:
                if not self._stopping:
                    entry.state = ServiceState.FINISHED
                log.info("service %s finished", spec.name)
                if entry.ready is not None and not entry.ready.done():
                    entry.ready.set_result(None)
                return

    def _fail(self, entry: _Running) -> None:
        spec = entry.spec
        entry.state = ServiceState.FAILED
        recent = len(entry.restart_times_ns)
        if spec.restart:
            log.error(
                "service %s FAILED after %d restarts in %g s: %s",
                spec.name,
                recent,
                spec.window_s,
                entry.last_error,
            )
        else:
            log.error("service %s FAILED and is not restarted: %s", spec.name, entry.last_error)
        self._notify(self.on_failed, spec.name, entry.last_error, recent)
        if entry.ready is not None and not entry.ready.done():
            entry.ready.set_result(None)

    async def wait(self) -> None:
        """Wait until every service has finished on its own."""
        await asyncio.gather(*(r.task for r in self._running if r.task), return_exceptions=True)

    async def stop(self) -> None:
        """Stop every service in reverse start order; never restarts anything.

        Each service is cancelled and given its ``stop_grace_s`` wall seconds to finish (a
        second cancel halfway through, for one that swallowed the first); one that raises
        while stopping, or is still running after its grace (abandoned), is collected and the
        next service is stopped all the same. Raises :class:`ServiceStopError` with every
        failure once all are done.
        """
        self._stopping = True
        failures: list[ServiceStopFailure] = []
        for entry in reversed(self._running):
            failure = await self._stop_one(entry)
            if failure is not None:
                log.error("%s", failure)
                failures.append(failure)
        if failures:
            names = ", ".join(f.service for f in failures)
            raise ServiceStopError(f"services that did not stop cleanly: {names}", failures)

    async def _stop_one(self, entry: _Running) -> ServiceStopFailure | None:
        task = entry.task
        name = entry.spec.name
        if task is None or entry.state in (ServiceState.STOPPED, ServiceState.ABANDONED):
            return None  # never started, or already handled by an earlier stop()
        if not task.done():
            grace_s = entry.spec.stop_grace_s
            task.cancel()
            await asyncio.wait((task,), timeout=grace_s / 2)
            if not task.done():
                # A swallowed cancellation is a defect of the service: say so, then insist.
                log.warning(
                    "service %s still running %g s after it was cancelled; cancelling again",
                    name,
                    grace_s / 2,
                )
                task.cancel()
                await asyncio.wait((task,), timeout=grace_s / 2)
            if not task.done():
                entry.state = ServiceState.ABANDONED
                return ServiceStopFailure(
                    name, f"still running {grace_s:g} s after it was cancelled; abandoned"
                )
        if entry.state not in (ServiceState.FAILED, ServiceState.FINISHED):
            entry.state = ServiceState.STOPPED
        if task.cancelled():
            return None
        error = task.exception()
        if error is None:
            return None
        failure = ServiceStopFailure(name, f"raised while stopping: {describe_error(error)}")
        failure.__cause__ = error
        return failure


def force_exit(signum: int) -> None:
    """What a second SIGINT/SIGTERM does: leave now, whatever is still running."""
    name = signal.Signals(signum).name
    log.critical("second %s during shutdown: forcing exit", name)
    for handler in logging.getLogger().handlers:
        handler.flush()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(128 + signum)


async def run_until_signalled(
    main: Callable[[asyncio.Event], Awaitable[None]],
    force: Callable[[int], None] = force_exit,
) -> None:
    """Run ``main(stop)``; SIGINT and SIGTERM set ``stop`` so shutdown takes the normal path.

    A second signal, once shutdown has begun, calls ``force(signum)``, which by default exits
    the process at once (exit code 128 + signal number): an operator's second Ctrl-C, or a
    supervisor's repeated SIGTERM, always gets the process out.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []

    def on_signal(signum: int) -> None:
        if stop.is_set():
            force(signum)
        else:
            log.info("%s: stopping", signal.Signals(signum).name)
            stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal, int(sig))
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # not the main thread, or no signals
            pass
    try:
        await main(stop)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def run_process(
    main: Callable[[asyncio.Event], Awaitable[None]], exit_grace_s: float = 1.0
) -> None:
    """A process's entry point: ``asyncio.run(run_until_signalled(main))`` that still exits
    when a task ignores cancellation.

    ``asyncio.run`` cancels what is left and waits for it without a bound, so one abandoned
    service would keep the process (and its UDP port) alive for ever. Here what is left gets
    ``exit_grace_s`` wall seconds; if anything is still running after that, the process
    exits at once with code 1. Exceptions of ``main`` propagate as from ``asyncio.run``.
    """
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(run_until_signalled(main))
    finally:
        left = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in left:
            task.cancel()
        if left:
            loop.run_until_complete(asyncio.wait(left, timeout=exit_grace_s))
        stuck = sorted(task.get_name() for task in left if not task.done())
        if stuck:
            log.critical(
                "tasks still running %g s after the final cancel: %s; exiting without them",
                exit_grace_s,
                ", ".join(stuck),
            )
            for handler in logging.getLogger().handlers:
                handler.flush()
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(1)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
        asyncio.set_event_loop(None)
        loop.close()
