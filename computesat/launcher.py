"""Start the emulated satellite as separate processes (the real form): hwsim, then flightsw.

Each child prints one ``READY ...`` line once it serves; the launcher reads the bound
endpoints from it, so ports can be 0 (any free port) in tests. Stopping sends SIGTERM to
flightsw then hwsim (the reverse of start), and kills what has not exited in time.

Standard library only: the process supervisor (``computesat.supervisor``) builds on this and
must stay light. Each child leads its own process group, so a stop reaches anything it
started, and a Ctrl-C at the terminal reaches the parent alone, which stops the children in
order.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import re
import signal
import sys
from dataclasses import dataclass, field
from typing import TextIO

__all__ = ["ChildExited", "ChildProcess", "Satellite", "launch_satellite"]

_PR_SET_PDEATHSIG = 1


@dataclass
class ChildProcess:
    name: str
    process: asyncio.subprocess.Process
    label: str = ""  # how log lines are tagged ("flightsw", "flightsw boot 2")
    ready_line: str = ""
    output: list[str] = field(default_factory=list)
    _pump: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def has_exited(self) -> bool:
        """Dead, even before asyncio has reaped it (it does so only once the child's pipes
        close, which a killed process's own children may delay): a zombie counts as dead."""
        if self.process.returncode is not None:
            return True
        try:
            with open(f"/proc/{self.process.pid}/stat", "rb") as stat:
                state = stat.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            return sys.platform.startswith("linux")  # no such pid in /proc: reaped meanwhile
        return state in (b"Z", b"X")

    def last_lines(self, count: int = 20) -> str:
        return "\n".join(self.output[-count:])

    def kill_group(self) -> None:
        """SIGKILL whatever is left of the child's process group (a grandchild, say). The
        group id cannot be reused while any member lives, so this never hits a stranger."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)

    async def stop(self, timeout_s: float = 10.0) -> int:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.process.wait(), timeout_s)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                await self.process.wait()
        self.kill_group()
        await self.drain()
        return self.process.returncode or 0

    async def drain(self) -> None:
        """Wait until the child's last output line is read (it has exited)."""
        if self._pump is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._pump), 1.0)
            if not self._pump.done():
                self._pump.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._pump


class ChildExited(RuntimeError):
    """A child exited before it printed its READY line; ``child`` has its output."""

    def __init__(self, child: ChildProcess, why: str = "exited before it was ready") -> None:
        self.child = child
        super().__init__(f"{child.name} {why}:\n" + child.last_lines(30))


def _die_with(parent_pid: int) -> None:
    """Ask Linux to SIGTERM this child when the launcher dies, however it dies: a killed
    test run must not leave a satellite holding its ports."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return  # not Linux: children outlive a killed launcher, as processes usually do
    if os.getppid() != parent_pid:
        os._exit(1)  # the parent died between fork and prctl: nobody will send the signal


async def _start_child(
    name: str,
    args: list[str],
    log: TextIO | None,
    timeout_s: float,
    *,
    stdin: int | None = None,
    label: str = "",
) -> ChildProcess:
    parent = os.getpid()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "computesat",
        *args,
        stdin=stdin,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=(lambda: _die_with(parent)) if sys.platform == "linux" else None,
        process_group=0,
    )
    child = ChildProcess(name, process, label or name)
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def pump() -> None:
        assert process.stdout is not None
        async for raw in process.stdout:
            line = raw.decode(errors="replace").rstrip()
            child.output.append(line)
            del child.output[:-200]
            if line.startswith("READY") and not ready.done():
                ready.set_result(line)
            elif log is not None:
                print(f"[{child.label}] {line}", file=log, flush=True)
        if not ready.done():
            ready.set_exception(ChildExited(child))

    child._pump = asyncio.create_task(pump(), name=f"output:{name}")
    try:
        child.ready_line = await asyncio.wait_for(ready, timeout_s)
    except TimeoutError:
        await child.stop(timeout_s=2.0)
        raise ChildExited(child, f"was not ready within {timeout_s:g} s and was stopped") from None
    except BaseException:
        # Short: this also runs when a stop (SIGTERM, 5 s for everything) interrupts a start.
        await child.stop(timeout_s=2.0)
        raise
    return child


@dataclass
class Satellite:
    hwsim: ChildProcess
    flightsw: ChildProcess
    device_endpoint: str
    simctl_endpoint: str
    udp_host: str
    udp_port: int

    async def stop(self) -> None:
        await self.flightsw.stop()
        await self.hwsim.stop()

    async def __aenter__(self) -> Satellite:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()


async def launch_satellite(
    hwsim_args: list[str] | None = None,
    flightsw_args: list[str] | None = None,
    *,
    device_endpoint: str = "tcp://127.0.0.1:7320",
    simctl_endpoint: str = "tcp://127.0.0.1:7321",
    log: TextIO | None = None,
    timeout_s: float = 60.0,
) -> Satellite:
    """Start hwsim and flightsw; returns once flight software's link is up."""
    hwsim = await _start_child(
        "hwsim",
        [
            "hwsim",
            "serve",
            "--device-endpoint",
            device_endpoint,
            "--simctl-endpoint",
            simctl_endpoint,
            *(hwsim_args or []),
        ],
        log,
        timeout_s,
    )
    endpoints = dict(re.findall(r"(\w+)=(\S+)", hwsim.ready_line))
    try:
        flightsw = await _start_child(
            "flightsw",
            ["flightsw", "--device-endpoint", endpoints["device"], *(flightsw_args or [])],
            log,
            timeout_s,
        )
    except BaseException:
        await hwsim.stop()
        raise
    host, _, port = dict(re.findall(r"(\w+)=(\S+)", flightsw.ready_line))["udp"].rpartition(":")
    return Satellite(hwsim, flightsw, endpoints["device"], endpoints["simctl"], host, int(port))


# --- power control: the onboard ephemeris (computesat.ephemeris has the full version)
def orbit_args_from_toml(config_path: str | os.PathLike[str]) -> list[str]:
    """flightsw ``--orbit-*`` flags (power control's onboard ephemeris, flightsw.orbit) read
    straight from the TOML's ``[orbit]`` table, as :func:`computesat.ephemeris.
    onboard_orbit_args` gives them from the validated configuration (stdlib only: the
    process supervisor imports nothing heavy). β is the configured ``beta_deg``: with
    ``beta_mode = "j2"`` hwsim moves β over the year and the onboard model keeps this one."""
    import tomllib

    with open(config_path, "rb") as f:
        o = tomllib.load(f).get("orbit", {})
    noon = float(o.get("noon_arg_of_latitude_deg", 0.0))
    argl = (noon + float(o.get("initial_phase_deg", 0.0)) + 180.0) % 360.0 - 180.0
    return [
        *("--orbit-altitude-km", repr(float(o.get("altitude_km", 600.0)))),
        *("--orbit-beta-deg", repr(float(o.get("beta_deg", 0.0)))),
        *("--orbit-arg-of-latitude-deg", repr(argl)),
        *("--orbit-noon-arg-of-latitude-deg", repr((noon + 180.0) % 360.0 - 180.0)),
    ]
