"""The process supervisor's pieces: light imports, restart command lines, messages.

The supervisor with real processes is tested in tests/hil/test_hil_supervisor.py.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from computesat.cli import _command_path
from computesat.supervisor import CrashLoop, RestartBudget, SupervisorPlan, exit_reason
from flightsw.services.restarts import hardware_gap_message

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("module", ["computesat/supervisor.py", "computesat/launcher.py"])
def test_the_supervisor_modules_import_the_standard_library_only(module: str):
    tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module)
    foreign = {
        m
        for m in imported
        if m.split(".")[0] not in sys.stdlib_module_names and m != "computesat.launcher"
    }
    assert foreign == set(), f"{module} imports {sorted(foreign)}"


@pytest.mark.parametrize(
    ("argv", "forbidden"),
    [
        # numpy: flight software validates job specs but never computes; it boots without numpy
        (["flightsw", "--port", "0"], {"hwsim", "matplotlib", "ground", "numpy"}),
        (["hwsim", "serve", "--seed", "1"], {"flightsw", "matplotlib", "ground", "tqdm"}),
    ],
)
def test_each_process_loads_only_its_own_world(argv: list[str], forbidden: set[str]):
    probe = (
        "import sys\n"
        "from computesat import cli\n"
        f"argv = {argv!r}\n"
        "cli.build_parser(cli._command_path(argv)).parse_args(argv)\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {forbidden!r}))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]", f"{' '.join(argv)} loaded {result.stdout.strip()}"


@pytest.mark.parametrize(
    ("argv", "path"),
    [
        (["satellite", "--port", "0"], ("satellite",)),
        (["--log-level", "DEBUG", "hwsim", "serve", "--seed", "2"], ("hwsim", "serve")),
        (["hwsim", "--help"], ("hwsim",)),
        (["ground", "ping", "--count", "3"], ("ground", "ping")),
        (["--help"], ()),
    ],
)
def test_the_command_path_is_found_past_global_options(argv: list[str], path: tuple[str, ...]):
    assert _command_path(argv) == path


def test_exit_reasons_read_like_english():
    assert exit_reason(-9) == "was killed by SIGKILL"
    assert exit_reason(-15) == "was killed by SIGTERM"
    assert exit_reason(2) == "exited with status 2"
    assert exit_reason(0) == "exited with status 0"


def test_a_restarted_hwsim_keeps_its_endpoints_and_restores_the_latest_snapshot(tmp_path):
    plan = SupervisorPlan(["--seed", "3"], snapshot_dir=tmp_path)
    first = plan.hwsim_start_args("tcp://127.0.0.1:0", "tcp://127.0.0.1:0")
    again = plan.hwsim_restart_args("tcp://127.0.0.1:4001", "tcp://127.0.0.1:4002")
    assert first[:2] == ["hwsim", "serve"] and "--restore" not in first
    assert first[first.index("--snapshot-dir") + 1] == str(tmp_path)
    assert again[again.index("--device-endpoint") + 1] == "tcp://127.0.0.1:4001"
    assert again[again.index("--simctl-endpoint") + 1] == "tcp://127.0.0.1:4002"
    assert again[-2:] == ["--restore", "latest"]
    assert "--restore" not in SupervisorPlan().hwsim_restart_args("a", "b"), "no snapshots"


def test_a_restarted_flightsw_keeps_its_port_and_learns_its_boot_number():
    plan = SupervisorPlan(flightsw_args=["--port", "0", "--host", "127.0.0.1"])
    first = plan.flightsw_args_for("tcp://h:1", 1, "", None)
    again = plan.flightsw_args_for("tcp://h:1", 3, "was killed by SIGKILL", 40123)
    assert "--boot-count" not in first and "--supervised" in first
    ports = [again[i + 1] for i, a in enumerate(again) if a == "--port"]
    assert ports[-1] == "40123", "the last --port (the one argparse keeps) is the bound port"
    assert again[again.index("--boot-count") + 1] == "3"
    assert again[again.index("--restart-reason") + 1] == "was killed by SIGKILL"


def test_the_crash_loop_message_names_the_child_its_end_and_its_last_words():
    error = CrashLoop("hwsim", "exited with status 2", RestartBudget(5, 60), "usage: x\nboom")
    text = str(error)
    assert "hwsim is in a crash loop" in text and "6 times within 60 s" in text, text
    assert "exited with status 2" in text and "    boom" in text, text


def test_hardware_gap_notices_become_event_text_and_anything_else_is_refused():
    down = hardware_gap_message({"notice": "hwsim_down", "reason": "was killed by SIGKILL"})
    assert down is not None and "was killed by SIGKILL" in down
    up = hardware_gap_message(
        {"notice": "hwsim_up", "reason": "exited with status 1", "gap_s": 2.25, "restore": "r"}
    )
    # The supervisor's gap is wall time, and the event says so (DEVICES_RECOVERED gives the
    # silence in mission seconds).
    assert up is not None and "after 2.2 s of wall time" in up and "exited with status 1" in up, up
    assert "after a gap" in (hardware_gap_message({"notice": "hwsim_up", "gap_s": "x"}) or "")
    assert hardware_gap_message({"notice": "reboot the satellite"}) is None
    assert hardware_gap_message({}) is None
