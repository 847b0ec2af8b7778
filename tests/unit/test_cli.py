"""Every command explains itself, and bad flags get one clear error."""

from __future__ import annotations

import subprocess
import sys

import pytest

from computesat.cli import build_parser, main

COMMANDS = [
    [],
    ["up"],
    ["satellite"],
    ["hwsim"],
    ["hwsim", "serve"],
    ["hwsim", "run"],
    ["hwsim", "whatif"],
    ["whatif"],
    ["hwsim", "faults"],
    ["hwsim", "inject"],
    ["hwsim", "clear"],
    ["hwsim", "truth"],
    ["hwsim", "snapshot"],
    ["hwsim", "restore"],
    ["flightsw"],
    ["ground"],
    ["ground", "ping"],
    ["ground", "hk"],
    ["ground", "command"],
    ["ground", "device"],
    ["dictionary"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "computesat")
def test_help_explains_itself(command, capsys):
    with pytest.raises(SystemExit) as exited:
        main([*command, "--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    assert "usage: computesat" in text
    assert len(text.splitlines()) > 3


def test_every_subcommand_is_covered_by_this_test():
    parser = build_parser()
    top = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    covered = {tuple(c) for c in COMMANDS}
    for name, sub in top.items():
        assert (name,) in covered
        if sub._subparsers is not None:
            for child in sub._subparsers._group_actions[0].choices:
                assert (name, child) in covered


def test_bad_setting_names_the_flag(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["hwsim", "serve", "--speed", "-3"])
    assert exited.value.code == 2
    assert "--speed" in capsys.readouterr().err


def test_console_script_runs():
    result = subprocess.run(
        [sys.executable, "-m", "computesat", "dictionary"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert '"default_udp_port": 7301' in result.stdout


def test_fault_catalogue_lists(capsys):
    assert main(["hwsim", "faults"]) == 0
    assert "pump" in capsys.readouterr().out


def test_restore_latest_needs_a_snapshot_dir(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["hwsim", "serve", "--restore", "latest"])
    assert exited.value.code == 2
    assert "--restore latest needs --snapshot-dir" in capsys.readouterr().err
