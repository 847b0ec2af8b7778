"""The ``computesat`` command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Nothing heavy at module level: `computesat satellite` (the process supervisor, also the
# container's entry point) must start in milliseconds and hold little memory, so each command
# imports what it needs (pydantic, zmq, numpy, the ground console) inside its handler, and the
# parser populates only the subcommand being run (see build_parser).

__all__ = ["main"]

DESCRIPTION = """\
computesat: a flight-software emulator for a modular compute satellite (AI1 class).

Three processes: hwsim (the hardware), flightsw (onboard software) and ground, joined by
device ports (ZeroMQ) and a CCSDS/PUS-C RF link (UDP 7301). Start with:

  computesat up          the satellite plus a ground console showing live housekeeping
  computesat satellite   the satellite alone (hwsim + flightsw), for your own ground tools
"""


def _parse_kv(items: list[str]) -> dict[str, Any]:
    from runtime.settings import SettingsError

    values: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise SettingsError(f"expected KEY=VALUE, got {item!r}")
        try:
            values[key] = json.loads(raw)
        except json.JSONDecodeError:
            values[key] = raw
    return values


# --- satellite / up -------------------------------------------------------------------------


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _positive_s(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, got {text}")
    return value


def _add_satellite_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="Mission seconds per wall second (default: 1, real time).",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="Address the RF link binds (0.0.0.0 in a container)."
    )
    parser.add_argument("--port", type=int, default=7301, help="RF-link UDP port (default 7301).")
    parser.add_argument("--push", default=None, help="host:port that gets a copy of every TM.")
    parser.add_argument(
        "--config", type=Path, default=None, help="Spacecraft TOML file (default: built-in AI1)."
    )
    parser.add_argument(
        "--device-endpoint",
        default="tcp://127.0.0.1:7320",
        help="Device-port endpoint hwsim binds.",
    )
    parser.add_argument(
        "--simctl-endpoint",
        default="tcp://127.0.0.1:7321",
        help="Simulation-control endpoint hwsim binds.",
    )
    parser.add_argument("--seed", type=int, default=0, help="hwsim random seed.")
    parser.add_argument(
        "--log-file",
        type=Path,
        default=None,
        help="Where hwsim's and flightsw's log lines go (default: stderr for 'satellite', "
        "computesat.log for 'up', so they do not scroll through the console).",
    )
    parser.add_argument(
        "--snapshot-dir",
        type=Path,
        default=None,
        help="Directory where hwsim writes periodic snapshots (every 10 mission minutes) and "
        "keeps them; a hwsim that dies is restarted from the latest one (default: a temporary "
        "directory for this run, removed when the satellite stops).",
    )
    parser.add_argument(
        "--max-restarts",
        type=_count,
        default=10,
        help="Restarts of hwsim or flightsw tolerated within --restart-window; one more "
        "stops the satellite with exit status 3 (default 10).",
    )
    parser.add_argument(
        "--restart-window",
        type=_positive_s,
        default=60.0,
        help="Wall seconds over which restarts are counted (default 60).",
    )


def _satellite_plan(args: argparse.Namespace) -> Any:
    from computesat.supervisor import RestartBudget, SupervisorPlan

    hwsim_args = ["--seed", str(args.seed)]
    if args.speed != 1.0:
        hwsim_args += ["--clock", "accelerated", "--speed", str(args.speed)]
    if args.config:
        hwsim_args += ["--config", str(args.config)]
    flightsw_args = ["--host", args.host, "--port", str(args.port)]
    if args.config:  # power control's onboard ephemeris (the defaults are the built-in AI1's)
        from computesat.launcher import orbit_args_from_toml

        flightsw_args += orbit_args_from_toml(args.config)
    if args.push:
        flightsw_args += ["--push", args.push]
    return SupervisorPlan(
        hwsim_args,
        flightsw_args,
        device_endpoint=args.device_endpoint,
        simctl_endpoint=args.simctl_endpoint,
        snapshot_dir=args.snapshot_dir,
        budget=RestartBudget(args.max_restarts, args.restart_window),
    )


async def _with_satellite(args: argparse.Namespace, body: Callable[[Any], Any] | None) -> int:
    """Run the satellite under the process supervisor (standard library only) until Ctrl-C,
    SIGTERM or the end of ``body``; a crash loop exits with status 3."""
    from computesat.supervisor import (
        EXIT_CRASH_LOOP,
        EXIT_PORT_IN_USE,
        CrashLoop,
        PortInUse,
        run_supervised,
    )

    log_path = args.log_file or (Path("computesat.log") if body is not None else None)

    def announce(satellite: Any) -> None:
        print(
            f"satellite up: RF link udp {satellite.udp_host}:{satellite.udp_port}, "
            f"device ports {satellite.device_endpoint}, "
            f"simulation control {satellite.simctl_endpoint}; Ctrl-C stops",
            file=sys.stderr,
            flush=True,
        )

    with contextlib.ExitStack() as files:
        log = files.enter_context(log_path.open("a")) if log_path else sys.stderr
        if log_path:
            print(f"satellite logs: {log_path.resolve()}", file=sys.stderr, flush=True)
        plan = _satellite_plan(args)
        if plan.snapshot_dir is None:
            # Without a directory of the user's, snapshots live for this run only: a hwsim
            # that dies still comes back from its latest state, and nothing is left behind.
            import tempfile

            run_dir = files.enter_context(tempfile.TemporaryDirectory(prefix="computesat-"))
            plan.snapshot_dir = Path(run_dir)
        try:
            return await run_supervised(plan, log, body, announce)
        except CrashLoop as exc:
            print(f"computesat: {exc}", file=sys.stderr, flush=True)
            return EXIT_CRASH_LOOP
        except PortInUse as exc:
            print(f"computesat: {exc}", file=sys.stderr, flush=True)
            return EXIT_PORT_IN_USE


def cmd_satellite(args: argparse.Namespace) -> int:
    return asyncio.run(_with_satellite(args, None))


def cmd_up(args: argparse.Namespace) -> int:
    host = "127.0.0.1" if args.host == "0.0.0.0" else args.host

    async def console(satellite: Any) -> None:
        # The console runs in this process once the satellite is up; only `up` pays for
        # its imports (the ground station, pydantic), never `satellite` or the container.
        from ground.console import run_console

        await run_console(host, satellite.udp_port)

    return asyncio.run(_with_satellite(args, console))


# --- hwsim ----------------------------------------------------------------------------------


def cmd_hwsim_serve(args: argparse.Namespace) -> int:
    from hwsim.app import HwsimSettings, run
    from runtime.settings import settings_from_args

    return run(settings_from_args(HwsimSettings, args))


def cmd_hwsim_run(args: argparse.Namespace) -> int:
    # what-if runs are flown by the flight software (computesat.whatif), whichever name ran it
    from computesat import whatif

    return whatif.main(args)


def cmd_hwsim_faults(args: argparse.Namespace) -> int:
    from hwsim import faults

    print(faults.catalogue_as_json() if args.json else faults.catalogue_as_table())
    return 0


def _simctl(endpoint: str, call: Callable[[Any], Any]) -> Any:
    from ground.simctl import SimControl

    async def run() -> Any:
        async with SimControl(endpoint) as sim:
            return await call(sim)

    return asyncio.run(run())


def cmd_hwsim_inject(args: argparse.Namespace) -> int:
    params = _parse_kv(args.param)
    result = _simctl(
        args.simctl_endpoint, lambda sim: sim.inject(args.fault, args.target, params, args.at)
    )
    print(json.dumps(result))
    return 0


def cmd_hwsim_clear(args: argparse.Namespace) -> int:
    print(json.dumps(_simctl(args.simctl_endpoint, lambda sim: sim.clear(args.fault, args.target))))
    return 0


def cmd_hwsim_truth(args: argparse.Namespace) -> int:
    print(json.dumps(_simctl(args.simctl_endpoint, lambda sim: sim.truth()), indent=2))
    return 0


def cmd_hwsim_snapshot(args: argparse.Namespace) -> int:
    # hwsim resolves paths against its own working directory: send an absolute one.
    out = str(args.out.resolve()) if args.out is not None else None
    print(json.dumps(_simctl(args.simctl_endpoint, lambda sim: sim.snapshot(out))))
    return 0


def cmd_hwsim_restore(args: argparse.Namespace) -> int:
    path = str(args.file.resolve())
    print(json.dumps(_simctl(args.simctl_endpoint, lambda sim: sim.restore(path))))
    return 0


# --- flightsw -------------------------------------------------------------------------------


def cmd_flightsw(args: argparse.Namespace) -> int:
    from flightsw.app import FlightSettings, run
    from runtime.settings import settings_from_args

    return run(settings_from_args(FlightSettings, args))


# --- ground ---------------------------------------------------------------------------------


def _add_ground_target(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="Satellite address.")
    parser.add_argument("--port", type=int, default=7301, help="Satellite RF-link UDP port.")
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="Mission seconds to wait for answers."
    )


def cmd_ground_ping(args: argparse.Namespace) -> int:
    from ground.station import Ground

    async def ping() -> int:
        async with Ground(args.host, args.port) as ground:
            for _ in range(args.count):
                result = await ground.ping(apid=args.apid, timeout=args.timeout)
                reply = result.replies[0]
                print(
                    f"17,2 from APID {reply.apid} at mission {reply.time_s:.3f} s; "
                    f"verification {result.stages}"
                )
        return 0

    return asyncio.run(ping())


def cmd_ground_hk(args: argparse.Namespace) -> int:
    from ground.console import run_console

    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(run_console(args.host, args.port, args.refresh, args.count))
    return 0


def cmd_ground_command(args: argparse.Namespace) -> int:
    from ground.station import REPLIES, Ground, Telemetry
    from icd.dictionary import unpack_id_list

    data = bytes.fromhex(args.data)
    kind = (args.service, args.subservice)
    reply: Any = REPLIES.get(kind)
    if kind == (3, 27):
        # periodic reports share the kind: the reply is a report of a SID asked for
        sids = set(unpack_id_list(data))

        def one_shot(tm: Telemetry) -> bool:
            return tm.kind == (3, 25) and tm.sid in sids

        reply = one_shot

    async def command() -> int:
        async with Ground(args.host, args.port) as ground:
            result = await ground.command(
                args.service,
                args.subservice,
                data,
                apid=args.apid,
                timeout=args.timeout,
                reply=reply,
            )
        print(result.describe())
        for tm in result.replies:
            print(json.dumps(tm.as_json(), indent=2) if args.json else tm.summary())
        return 0 if result.ok else 1

    return asyncio.run(command())


def cmd_ground_device(args: argparse.Namespace) -> int:
    from ground.station import Ground

    async def command() -> int:
        async with Ground(args.host, args.port) as ground:
            result = await ground.device_command(
                args.device, args.command, _parse_kv(args.arg), timeout=args.timeout
            )
        print(result.describe())
        return 0 if result.ok else 1

    return asyncio.run(command())


def cmd_dictionary(args: argparse.Namespace) -> int:
    from icd.dictionary import export_json

    text = export_json()
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return 0


# --- parser ---------------------------------------------------------------------------------


def _command_path(argv: list[str]) -> tuple[str, ...]:
    """The subcommand words of ``argv`` (``("hwsim", "serve")``), skipping global options;
    only a guess for the parser to populate just what is run: a wrong guess costs time,
    never correctness (``()`` populates everything)."""
    words: list[str] = []
    skip = False
    for token in argv:
        if skip:
            skip = False
        elif token == "--log-level":
            skip = True
        elif token.startswith("-"):
            if words:
                break
        else:
            words.append(token)
            if len(words) == 2 or words[0] not in ("hwsim", "ground"):
                break
    return tuple(words)


def build_parser(only: tuple[str, ...] = ()) -> argparse.ArgumentParser:
    """The whole command line; with ``only``, the options of that subcommand alone are
    added (the others keep their names and help lines): the settings models and what-if
    options live in heavy modules that a command not using them should not import."""

    def wanted(*path: str) -> bool:
        return not only or only == path

    parser = argparse.ArgumentParser(
        prog="computesat",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="Logging threshold.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = commands.add_parser(
        "up",
        help="Start the satellite and a live ground console.",
        description="Start hwsim and flightsw as separate processes under the process "
        "supervisor (see 'computesat satellite --help'), then show live housekeeping in a "
        "console in this process until Ctrl-C.",
    )
    _add_satellite_arguments(up)
    up.set_defaults(handler=cmd_up)

    satellite = commands.add_parser(
        "satellite",
        help="Start the emulated satellite (hwsim + flightsw) until Ctrl-C.",
        description="Start hwsim and flightsw as separate processes under a light process "
        "supervisor (also the container's entry point): a flightsw that dies is restarted on "
        "the same port (FLIGHTSW_RESTARTED event, flightsw.boot_count in HK), a hwsim that "
        "dies is restarted from its latest snapshot (--snapshot-dir) and flightsw reports "
        "the gap (HARDWARE_GAP). Exit status: 0 when stopped (SIGINT/SIGTERM stop everything "
        "within 5 s), 1 when the satellite could not start, 3 on a crash loop. Any PUS-C "
        "ground tool can command it on the RF-link UDP port.",
    )
    _add_satellite_arguments(satellite)
    satellite.set_defaults(handler=cmd_satellite)

    # --- what-if (flyby helper)
    what_if_top = commands.add_parser(
        "whatif",
        help="A what-if run: hwsim and every flight-software service in one process on the "
        "stepped clock, flown by the real flight software, with faults scheduled and "
        "overrides; write CSV, Parquet, summary.json and a PNG plot.",
    )
    if wanted("whatif"):
        from computesat import whatif

        whatif.add_arguments(what_if_top)
    what_if_top.set_defaults(handler=cmd_hwsim_run)

    hwsim = commands.add_parser(
        "hwsim",
        help="The hardware simulator.",
        description="The spacecraft's hardware: physics, device "
        "ports, simulation control and faults.",
    )
    hwsim_commands = hwsim.add_subparsers(dest="hwsim_command", required=True, metavar="ACTION")
    serve = hwsim_commands.add_parser("serve", help="Serve device ports and simulation control.")
    if wanted("hwsim", "serve"):
        from hwsim.app import HwsimSettings
        from runtime.settings import add_settings_arguments

        add_settings_arguments(serve, HwsimSettings)
    serve.set_defaults(handler=cmd_hwsim_serve)
    # --- what-if (flyby helper): 'hwsim run' and 'hwsim whatif' are 'computesat whatif'
    for name in ("run", "whatif"):
        what_if = hwsim_commands.add_parser(
            name, help="The same as 'computesat whatif' (a what-if run flown by flightsw)."
        )
        if wanted("hwsim", name):
            from computesat import whatif

            whatif.add_arguments(what_if)
        what_if.set_defaults(handler=cmd_hwsim_run)
    faults = hwsim_commands.add_parser("faults", help="List the fault catalogue.")
    faults.add_argument("--json", action="store_true", help="Print JSON instead of a table.")
    faults.set_defaults(handler=cmd_hwsim_faults)
    for name, handler, text in (
        ("inject", cmd_hwsim_inject, "Inject a fault."),
        ("clear", cmd_hwsim_clear, "Clear a fault."),
    ):
        action = hwsim_commands.add_parser(
            name, help=text, description=text + " Goes through hwsim's simulation-control port."
        )
        action.add_argument("fault", help="Fault id (see 'computesat hwsim faults').")
        action.add_argument("target", help="Device id the fault applies to.")
        action.add_argument("--simctl-endpoint", default="tcp://127.0.0.1:7321")
        if name == "inject":
            action.add_argument(
                "--param",
                action="append",
                default=[],
                metavar="KEY=VALUE",
                help="Fault parameter (repeatable).",
            )
            action.add_argument(
                "--at",
                type=float,
                default=None,
                help="Mission time (CUC seconds, as in telemetry) at which it activates.",
            )
        action.set_defaults(handler=handler)
    truth = hwsim_commands.add_parser("truth", help="Print the model's true state.")
    truth.add_argument("--simctl-endpoint", default="tcp://127.0.0.1:7321")
    truth.set_defaults(handler=cmd_hwsim_truth)
    snapshot = hwsim_commands.add_parser(
        "snapshot",
        help="Save the whole hardware model now (through simulation control).",
        description="Save the whole hardware model (physics, faults, boards with their jobs, "
        "random state) of a running 'hwsim serve' to one file; prints its path and mission "
        "time as JSON. The file is written by hwsim, on its host.",
    )
    snapshot.add_argument(
        "--out",
        type=Path,
        default=None,
        help="Snapshot file to write (default: the next file in hwsim's --snapshot-dir).",
    )
    snapshot.add_argument("--simctl-endpoint", default="tcp://127.0.0.1:7321")
    snapshot.set_defaults(handler=cmd_hwsim_snapshot)
    restore = hwsim_commands.add_parser(
        "restore",
        help="Restore a running hwsim from a snapshot file.",
        description="A running 'hwsim serve' takes the state of a snapshot file and its "
        "mission time. A truncated, corrupt or foreign file, or one of another version or "
        "spacecraft configuration, is refused with the reason; hwsim then runs on unchanged. "
        "Snapshot files are trusted local files (see docs/hwsim.md).",
    )
    restore.add_argument("file", type=Path, help="Snapshot file on the hwsim host.")
    restore.add_argument("--simctl-endpoint", default="tcp://127.0.0.1:7321")
    restore.set_defaults(handler=cmd_hwsim_restore)

    flightsw = commands.add_parser(
        "flightsw",
        help="Run flight software against device ports.",
        description="Onboard services on the software bus, the "
        "RF link, and drivers reaching hardware via device ports. SIGINT/SIGTERM stop it "
        "(exit code 1 if a service did not stop cleanly); a second one exits at once.",
    )
    if wanted("flightsw"):
        from flightsw.app import FlightSettings
        from runtime.settings import add_settings_arguments

        add_settings_arguments(flightsw, FlightSettings)
    flightsw.set_defaults(handler=cmd_flightsw)

    ground = commands.add_parser(
        "ground",
        help="Ground station commands.",
        description="Talk to a running satellite over the RF link.",
    )
    ground_commands = ground.add_subparsers(dest="ground_command", required=True, metavar="ACTION")
    ping = ground_commands.add_parser("ping", help="PUS 17,1 are-you-alive.")
    _add_ground_target(ping)
    ping.add_argument("--apid", type=int, default=1, help="APID to ping (default 1).")
    ping.add_argument("--count", type=int, default=1, help="Pings to send.")
    ping.set_defaults(handler=cmd_ground_ping)
    hk = ground_commands.add_parser("hk", help="Show live housekeeping and events.")
    _add_ground_target(hk)
    hk.add_argument("--refresh", type=float, default=1.0, help="Wall seconds between redraws.")
    hk.add_argument("--count", type=int, default=None, help="Redraws before exiting.")
    hk.set_defaults(handler=cmd_ground_hk)
    command = ground_commands.add_parser("command", help="Send any PUS telecommand.")
    _add_ground_target(command)
    command.add_argument("service", type=int)
    command.add_argument("subservice", type=int)
    command.add_argument("--data", default="", help="Application data as hex.")
    command.add_argument("--apid", type=int, default=1)
    command.add_argument(
        "--json", action="store_true", help="Print the decoded reply as JSON (else one line)."
    )
    command.set_defaults(handler=cmd_ground_command)
    device = ground_commands.add_parser("device", help="Perform a device function (8,1).")
    _add_ground_target(device)
    device.add_argument("device", help="Device id, e.g. pump.L1.B.")
    device.add_argument("command", help="Device command, e.g. start.")
    device.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE")
    device.set_defaults(handler=cmd_ground_device)

    dictionary = commands.add_parser(
        "dictionary", help="Export the TC/TM dictionary (with the device tables) as JSON."
    )
    dictionary.add_argument("--out", type=Path, default=None, help="File to write.")
    dictionary.set_defaults(handler=cmd_dictionary)
    return parser


def _is_settings_error(exc: BaseException) -> bool:
    # runtime.settings imports pydantic: a command that never loaded it raised no SettingsError.
    settings = sys.modules.get("runtime.settings")
    return settings is not None and isinstance(exc, settings.SettingsError)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    # No subcommand (top-level --help, or an error): nothing to populate.
    parser = build_parser(_command_path(argv) or ("",))
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.handler(args) or 0)
    except (TimeoutError, RuntimeError, ValueError, OSError) as exc:
        if _is_settings_error(exc):
            parser.error(str(exc))
        print(f"computesat: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
