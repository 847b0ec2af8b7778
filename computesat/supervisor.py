"""The process supervisor: starts hwsim and flight software, restarts them when they die.

``computesat satellite`` and ``computesat up`` run this as the parent of the two processes,
and so does the container (its entry point is ``computesat satellite``). It is the one thing
on board that must not crash, so it is small and imports the standard library only (no
pydantic, zmq or numpy here: a test checks ``sys.modules``).

What it does, in wall time (it supervises processes, not the mission):

- start: hwsim and flight software; in parallel when their endpoints are fixed (flight
  software waits for hwsim's time reference at boot), one after the other when a port is 0
  and flight software needs hwsim's READY line to know where it is.
- flight software dies: it is started again at once on the same UDP port with
  ``--boot-count N --restart-reason WHY``; it raises FLIGHTSW_RESTARTED when a ground makes
  contact and shows ``flightsw.boot_count`` in platform HK. A telecommand in flight at the
  crash is forgotten with the process: the new one never reports its completion.
- hwsim dies: flight software stays up (its device reads time out, so it marks telemetry
  invalid); the supervisor tells it through its stdin (JSON lines, ``--supervised``) so it
  raises HARDWARE_GAP, restarts hwsim on the same endpoints with :meth:`SupervisorPlan.
  hwsim_restart_args` (from the latest snapshot *of this run* when there is a snapshot
  directory: every hwsim of a run gets the run's id, ``--run-id``, and stamps it into its
  snapshots, so a snapshot left in the directory by another run is never restored; nor one
  later than the mission time the new hwsim starts at), and tells flight software again
  when hwsim is back, with the gap's length in wall time and the snapshot restored (file
  and mission time) or why it started fresh.
- a fixed port already in use (another satellite on the same ports): nothing starts;
  :class:`PortInUse` names the port and what it is for; the command exits with status 2.
- a crash loop (more than ``budget.restarts`` restarts of one child within
  ``budget.window_s``) stops everything: :class:`CrashLoop` names the child, why it last
  died and its last output lines; the command exits with status 3.
- stop (SIGINT/SIGTERM, or ``stop()``): flight software first, then hwsim, each SIGTERM then
  SIGKILL after its share of ``stop_timeout_s`` (5 s in all), whatever state they are in.
  If the supervisor itself is killed (even SIGKILL), Linux sends each child SIGTERM
  (PR_SET_PDEATHSIG, set in :mod:`computesat.launcher`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import sys
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from computesat.launcher import ChildExited, ChildProcess, _start_child

__all__ = [
    "EXIT_CRASH_LOOP",
    "EXIT_PORT_IN_USE",
    "CrashLoop",
    "PortInUse",
    "RestartBudget",
    "RestartRecord",
    "SatelliteSupervisor",
    "SupervisorPlan",
    "exit_reason",
    "run_supervised",
]

EXIT_CRASH_LOOP = 3
EXIT_PORT_IN_USE = 2


class PortInUse(RuntimeError):
    """A fixed port the satellite needs is taken (another satellite runs on it, most often):
    nothing was started. One line naming the port and what it is for."""

    def __init__(self, port: int, proto: str, purpose: str, option: str) -> None:
        self.port = port
        super().__init__(
            f"{proto} port {port} ({purpose}) is already in use: is another satellite "
            f"running? Nothing was started; choose a free port with {option}"
        )


def _endpoint_address(endpoint: str) -> tuple[str, int] | None:
    """(host, port) of a fixed ``tcp://host:port`` endpoint; None for port 0 or non-TCP."""
    match = re.fullmatch(r"tcp://(.+):(\d+)", endpoint)
    if match is None or match.group(2) == "0":
        return None
    host = match.group(1).strip("[]")
    return ("" if host == "*" else host), int(match.group(2))


def _option_value(args: list[str], option: str) -> str | None:
    values = [args[i + 1] for i, a in enumerate(args[:-1]) if a == option]
    return values[-1] if values else None


def check_ports_free(plan: SupervisorPlan) -> None:
    """Raise :class:`PortInUse` for the first fixed port of ``plan`` that cannot be bound:
    hwsim's device and simulation-control TCP ports, flight software's RF-link UDP port.
    Checked before anything starts, since flight software started beside hwsim would
    otherwise talk to whichever hwsim holds the device port. (A port taken between this
    check and the bind still fails: hwsim and the link each name the port they could not
    bind.)"""
    wanted = [
        (plan.device_endpoint, "hwsim's device ports", "--device-endpoint"),
        (plan.simctl_endpoint, "hwsim's simulation control", "--simctl-endpoint"),
    ]
    for endpoint, purpose, option in wanted:
        address = _endpoint_address(endpoint)
        if address is None:
            continue
        with socket.socket(socket.AF_INET6 if ":" in address[0] else socket.AF_INET) as probe:
            # As ZeroMQ binds: a port left in TIME_WAIT by a stopped satellite is free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(address)
                probe.listen(1)
            except OSError:
                raise PortInUse(address[1], "tcp", f"{purpose}, {endpoint}", option) from None
    port = _option_value(plan.flightsw_args, "--port")
    if port is not None and port != "0":
        host = _option_value(plan.flightsw_args, "--host") or "127.0.0.1"
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            try:
                probe.bind((host, int(port)))
            except OSError:
                raise PortInUse(
                    int(port), "udp", f"flight software's RF link, {host}", "--port"
                ) from None


@dataclass(frozen=True)
class RestartBudget:
    """How many restarts of one child are tolerated within a sliding wall-time window."""

    # Ten: an operator (or a test) may kill flight software ten times in a minute and still
    # expect it back; a process that cannot stay up trips this within seconds anyway.
    restarts: int = 10
    window_s: float = 60.0


@dataclass(frozen=True)
class RestartRecord:
    """One death of a child and what the supervisor did about it."""

    child: str
    reason: str
    died_at_s: float  # supervisor's monotonic clock
    back_at_s: float | None = None  # when the new process was READY


class CrashLoop(RuntimeError):
    """A child died more often than its restart budget allows; everything was stopped."""

    def __init__(self, child: str, reason: str, budget: RestartBudget, last_lines: str) -> None:
        self.child = child
        self.reason = reason
        self.last_lines = last_lines
        indented = "\n".join("    " + line for line in last_lines.splitlines()) or "    (none)"
        super().__init__(
            f"{child} is in a crash loop: it died {budget.restarts + 1} times within "
            f"{budget.window_s:g} s (last time it {reason}); stopped the satellite instead of "
            f"restarting it again. Last output of {child}:\n{indented}"
        )


def exit_reason(returncode: int | None) -> str:
    """How a process ended, in words ('was killed by SIGKILL', 'exited with status 1')."""
    if returncode is None:
        return "is still running"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"was killed by {name}"
    return f"exited with status {returncode}"


@dataclass
class SupervisorPlan:
    """What to start and how: the only place that knows the children's command lines."""

    hwsim_args: list[str] = field(default_factory=list)
    flightsw_args: list[str] = field(default_factory=list)
    device_endpoint: str = "tcp://127.0.0.1:7320"
    simctl_endpoint: str = "tcp://127.0.0.1:7321"
    # hwsim writes periodic snapshots here and a restart restores the latest one; None:
    # no snapshots, a restarted hwsim starts fresh.
    snapshot_dir: Path | None = None
    budget: RestartBudget = field(default_factory=RestartBudget)
    start_timeout_s: float = 60.0
    stop_timeout_s: float = 4.5
    # This satellite run's id (one per plan, so per 'computesat satellite'): every hwsim of
    # the run stamps it into its snapshots, and a restart restores only the run's own.
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def hwsim_start_args(self, device: str, simctl: str) -> list[str]:
        args = ["hwsim", "serve", "--device-endpoint", device, "--simctl-endpoint", simctl]
        args += self.hwsim_args
        if self.snapshot_dir is not None:
            args += ["--snapshot-dir", str(self.snapshot_dir)]
        args += ["--run-id", self.run_id]
        return args

    def mission_speed(self) -> float:
        """Mission seconds per wall second of hwsim's clock, from its arguments."""
        args = self.hwsim_args
        if "--speed" in args and "accelerated" in args:
            return float(args[args.index("--speed") + 1])
        return 1.0

    def hwsim_restart_args(self, device: str, simctl: str) -> list[str]:
        """A restart binds the endpoints the first hwsim bound (flight software is connected
        to them) and restores the latest snapshot of this run (``--run-id``) when there is a
        snapshot directory; the supervisor adds ``--start-time-ns``, which also bars a
        snapshot later than that."""
        args = self.hwsim_start_args(device, simctl)
        if self.snapshot_dir is not None:
            args += ["--restore", "latest"]
        return args

    def flightsw_args_for(self, device: str, boot: int, reason: str, port: int | None) -> list[str]:
        args = ["flightsw", "--device-endpoint", device, *self.flightsw_args, "--supervised"]
        if port is not None:
            args += ["--port", str(port)]  # the last --port wins: the one bound at first boot
        if boot > 1:
            args += ["--boot-count", str(boot), "--restart-reason", reason]
        return args


def _fixed_port(endpoint: str) -> bool:
    return not endpoint.endswith(":0")


def _flightsw_port_is_fixed(args: list[str]) -> bool:
    ports = [args[i + 1] for i, a in enumerate(args[:-1]) if a == "--port"]
    return not ports or ports[-1] != "0"


class SatelliteSupervisor:
    """Owns the hwsim and flight-software processes (an async context manager)."""

    def __init__(self, plan: SupervisorPlan, log: TextIO | None = None) -> None:
        self.plan = plan
        self.log = log
        self.hwsim: ChildProcess | None = None
        self.flightsw: ChildProcess | None = None
        self.device_endpoint = plan.device_endpoint
        self.simctl_endpoint = plan.simctl_endpoint
        self.udp_host = "127.0.0.1"
        self.udp_port = 0
        self.boot_count = 0
        self.hwsim_starts = 0
        # How the running hwsim's model started, from its READY line ("restored FILE
        # (mission T s)" or "started fresh: WHY").
        self.hwsim_restore = ""
        self.history: list[RestartRecord] = []
        self._deaths: dict[str, deque[float]] = {"hwsim": deque(), "flightsw": deque()}
        # hwsim's mission time at its last READY and the loop time then: where its clock
        # stands now, so a restarted hwsim continues from there (mission time never goes back)
        self._hwsim_clock: tuple[int, float] | None = None
        self._loop_time: Callable[[], float] = lambda: asyncio.get_running_loop().time()

    # --- start --------------------------------------------------------------------------

    async def start(self) -> None:
        """Start both processes; returns once flight software's link is up."""
        plan = self.plan
        parallel = (
            _fixed_port(plan.device_endpoint)
            and _fixed_port(plan.simctl_endpoint)
            and _flightsw_port_is_fixed(plan.flightsw_args)
        )
        try:
            if parallel:
                # Flight software retries hwsim's time reference at boot, so both can import
                # and boot at once (two cores: about half the start-up time).
                starts = [
                    asyncio.ensure_future(self._start_hwsim(first=True)),
                    asyncio.ensure_future(self._start_flightsw(plan.device_endpoint, first=True)),
                ]
                try:
                    await asyncio.wait(starts, return_when=asyncio.FIRST_EXCEPTION)
                finally:
                    for task in starts:
                        task.cancel()
                    results = await asyncio.gather(*starts, return_exceptions=True)
                failures = [r for r in results if isinstance(r, BaseException)]
                # The one that failed first is the story; the other was cancelled for it.
                failures.sort(key=lambda r: isinstance(r, asyncio.CancelledError))
                if failures:
                    raise failures[0]
            else:
                await self._start_hwsim(first=True)
                await self._start_flightsw(self.device_endpoint, first=True)
        except BaseException:
            await self.stop()
            raise

    async def _start_hwsim(self, *, first: bool) -> None:
        plan = self.plan
        if first:
            args = plan.hwsim_start_args(plan.device_endpoint, plan.simctl_endpoint)
        else:
            args = plan.hwsim_restart_args(self.device_endpoint, self.simctl_endpoint)
            if self._hwsim_clock is not None:
                ready_ns, ready_at = self._hwsim_clock
                elapsed_s = self._loop_time() - ready_at
                now_ns = ready_ns + int(elapsed_s * plan.mission_speed() * 1e9)
                # hwsim's clock runs on from this instant while the new process starts.
                at_ns = int(ready_at * 1e9) + int(elapsed_s * 1e9)
                args += ["--start-time-ns", str(now_ns), "--start-time-at-monotonic-ns", str(at_ns)]
        self.hwsim_starts += 1
        label = "hwsim" if first else f"hwsim start {self.hwsim_starts}"
        self.hwsim = child = await _start_child(
            "hwsim",
            args,
            self.log,
            plan.start_timeout_s,
            stdin=asyncio.subprocess.DEVNULL,
            label=label,
        )
        head, _, restore = child.ready_line.partition(" restore=")
        self.hwsim_restore = restore.strip()
        endpoints = dict(re.findall(r"(\w+)=(\S+)", head))
        self.device_endpoint = endpoints.get("device", self.device_endpoint)
        self.simctl_endpoint = endpoints.get("simctl", self.simctl_endpoint)
        if endpoints.get("time_ns", "").isdigit():
            self._hwsim_clock = (int(endpoints["time_ns"]), self._loop_time())

    async def _start_flightsw(self, device: str, *, first: bool, reason: str = "") -> None:
        self.boot_count += 1
        port = None if first else self.udp_port
        args = self.plan.flightsw_args_for(device, self.boot_count, reason, port)
        label = "flightsw" if first else f"flightsw boot {self.boot_count}"
        self.flightsw = child = await _start_child(
            "flightsw",
            args,
            self.log,
            self.plan.start_timeout_s,
            stdin=asyncio.subprocess.PIPE,
            label=label,
        )
        udp = dict(re.findall(r"(\w+)=(\S+)", child.ready_line)).get("udp", "")
        host, _, port_text = udp.rpartition(":")
        self.udp_host, self.udp_port = host or self.udp_host, int(port_text or self.udp_port)

    # --- watch --------------------------------------------------------------------------

    async def watch(self, stop: asyncio.Event) -> None:
        """Restart what dies until ``stop`` is set; raises :class:`CrashLoop`."""
        stopper = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                assert self.hwsim is not None and self.flightsw is not None
                waits = {
                    asyncio.ensure_future(self.hwsim.process.wait()): "hwsim",
                    asyncio.ensure_future(self.flightsw.process.wait()): "flightsw",
                }
                done, _ = await asyncio.wait([*waits, stopper], return_when=asyncio.FIRST_COMPLETED)
                for task in waits:
                    task.cancel()
                if stop.is_set():
                    return
                for task, name in waits.items():
                    if task in done:
                        await self._recover(name, stopper)
                        break
        finally:
            stopper.cancel()

    async def _recover(self, name: str, stopper: asyncio.Future[object]) -> None:
        """Restart ``name`` (which has died), or raise CrashLoop past the budget. A start
        that dies before it is ready is one more death, counted against the same budget."""
        while True:
            child = self.hwsim if name == "hwsim" else self.flightsw
            assert child is not None
            await child.drain()
            child.kill_group()
            with contextlib.suppress(TimeoutError):  # dead: reaped once its pipes have closed
                await asyncio.wait_for(child.process.wait(), 2.0)
            reason = exit_reason(child.process.returncode)
            now = self._loop_time()
            deaths = self._deaths[name]
            deaths.append(now)
            while deaths and deaths[0] < now - self.plan.budget.window_s:
                deaths.popleft()
            self._say(f"{name} (pid {child.pid}) {reason}")
            if len(deaths) > self.plan.budget.restarts:
                raise CrashLoop(name, reason, self.plan.budget, child.last_lines())
            hwsim = self.hwsim
            if name == "flightsw" and hwsim is not None and hwsim.has_exited():
                # Both died (or hwsim while flight software restarted): flight software cannot
                # boot without the hardware's time reference, so hwsim comes back first.
                await self._recover("hwsim", stopper)
                if stopper.done():
                    return
            if name == "hwsim":
                self._notify_flightsw(
                    {
                        "notice": "hwsim_down",
                        "reason": reason,
                        "restart": len(deaths),
                    }
                )
            restart: Awaitable[None] = (
                self._start_hwsim(first=False)
                if name == "hwsim"
                else self._start_flightsw(self.device_endpoint, first=False, reason=reason)
            )
            work = asyncio.ensure_future(restart)
            hwsim_died: asyncio.Future[object] | None = None
            if name == "flightsw" and self.hwsim is not None:
                hwsim_died = asyncio.ensure_future(self._exited(self.hwsim))
            await asyncio.wait(
                [work, stopper, *([hwsim_died] if hwsim_died else [])],
                return_when=asyncio.FIRST_COMPLETED,
            )
            if hwsim_died is not None:
                hwsim_died.cancel()
                if hwsim_died.done() and not hwsim_died.cancelled() and not work.done():
                    # hwsim died while flight software was booting against it: abandon that
                    # boot, bring hwsim back, then boot flight software again (one death).
                    work.cancel()
                    with contextlib.suppress(BaseException):
                        await work
                    await self._recover("hwsim", stopper)
                    if stopper.done():
                        return
                    work = asyncio.ensure_future(
                        self._start_flightsw(self.device_endpoint, first=False, reason=reason)
                    )
                    await asyncio.wait([work, stopper], return_when=asyncio.FIRST_COMPLETED)
            if not work.done():
                # Stopping mid-restart: the half-started child is stopped with the rest.
                work.cancel()
                with contextlib.suppress(BaseException):
                    await work
                return
            try:
                work.result()
            except ChildExited as exc:  # it died before READY: another death
                self._say(f"{name} restart failed: it {exit_reason(exc.child.process.returncode)}")
                if name == "hwsim":
                    self.hwsim = exc.child
                else:
                    self.flightsw = exc.child
                continue
            back = self._loop_time()
            self.history.append(RestartRecord(name, reason, now, back))
            gap_s = back - now
            if name == "hwsim":
                where = f" in {self.plan.snapshot_dir}" if self.plan.snapshot_dir else ""
                self._say(
                    f"hwsim back after {gap_s:.2f} s of wall time ({self._restore_text()}{where})"
                )
                self._notify_flightsw(
                    {
                        "notice": "hwsim_up",
                        "reason": reason,
                        "restart": len(deaths),
                        "gap_s": round(gap_s, 3),
                        "restore": self._restore_text(),
                    }
                )
            else:
                self._say(f"flightsw boot {self.boot_count} up after {gap_s:.2f} s")
            return

    @staticmethod
    async def _exited(child: ChildProcess) -> None:
        """Until ``child`` has died, zombie included (asyncio's own wait ends only once the
        child's pipes close, which its own children may hold open): a pidfd becomes readable
        when the process exits (Linux); elsewhere, the ordinary wait."""
        try:
            pidfd = os.pidfd_open(child.pid)
        except (AttributeError, OSError):
            await child.process.wait()
            return
        exited = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_reader(pidfd, exited.set)
        try:
            if not child.has_exited():
                await exited.wait()
        finally:
            loop.remove_reader(pidfd)
            os.close(pidfd)

    def _restore_text(self) -> str:
        """How the restarted hwsim started, as it said (short: it ends up in an event
        message of 200 characters at most)."""
        if self.plan.snapshot_dir is None:
            return "started fresh: no snapshot directory"
        return self.hwsim_restore or "restore unknown (hwsim did not say)"

    def _notify_flightsw(self, notice: dict[str, object]) -> None:
        """One JSON line on flight software's stdin; lost if it is down too (it then learns
        nothing of this gap, and says so by its own DEVICE_TIMEOUT events)."""
        child = self.flightsw
        if child is None or child.process.returncode is not None or child.process.stdin is None:
            return
        with contextlib.suppress(OSError, RuntimeError):
            child.process.stdin.write((json.dumps(notice) + "\n").encode())

    def _say(self, message: str) -> None:
        print(f"supervisor: {message}", file=self.log or sys.stderr, flush=True)

    # --- stop ---------------------------------------------------------------------------

    async def stop(self) -> None:
        """Flight software, then hwsim; all gone within ``plan.stop_timeout_s``."""
        total = self.plan.stop_timeout_s
        if self.flightsw is not None:
            await self.flightsw.stop(timeout_s=total * 0.6)
        if self.hwsim is not None:
            await self.hwsim.stop(timeout_s=total * 0.3)

    async def __aenter__(self) -> SatelliteSupervisor:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


async def run_supervised(
    plan: SupervisorPlan,
    log: TextIO | None,
    body: Callable[[SatelliteSupervisor], Awaitable[object]] | None = None,
    on_up: Callable[[SatelliteSupervisor], None] | None = None,
) -> int:
    """Start, supervise until SIGINT/SIGTERM (or ``body`` returns), stop; the exit status."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    supervisor = SatelliteSupervisor(plan, log)
    try:
        check_ports_free(plan)  # PortInUse: nothing started
        starting = asyncio.ensure_future(supervisor.start())
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait([starting, stopper], return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            with contextlib.suppress(BaseException):
                await starting
            await supervisor.stop()
            return 0
        stopper.cancel()
        starting.result()
        if on_up is not None:
            on_up(supervisor)
        tasks = [asyncio.ensure_future(supervisor.watch(stop))]
        if body is not None:
            tasks.append(asyncio.ensure_future(body(supervisor)))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # a CrashLoop propagates
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await supervisor.stop()
        return 0
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
