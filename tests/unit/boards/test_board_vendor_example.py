"""The third-party example (examples/vendor_board) is discoverable and passes the kit.

CI installs it (`pip install ./examples/vendor_board`); locally, `pip install -e
./examples/vendor_board`. If it is not installed these tests skip and say so.
"""

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest
from computesat_sdk.contract import BOARD_ENTRY_POINT_GROUP

from hwsim.boards import discover_boards

DISTRIBUTION = "computesat-acme-board"
ENTRY_POINT = "acme-photon7"


@pytest.fixture(scope="module")
def vendor_distribution() -> importlib.metadata.Distribution:
    try:
        return importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        pytest.skip(
            f"{DISTRIBUTION} is not installed; run `pip install ./examples/vendor_board` "
            "(CI does) to check the third-party example"
        )


def test_example_registers_under_the_board_group(
    vendor_distribution: importlib.metadata.Distribution,
) -> None:
    names = {
        ep.name for ep in vendor_distribution.entry_points if ep.group == BOARD_ENTRY_POINT_GROUP
    }
    assert ENTRY_POINT in names
    registry = discover_boards()
    assert ENTRY_POINT in registry, registry.refused
    board = registry.create(ENTRY_POINT, "slot-9")
    assert board.identity.model_name == "ACME Photon-7"
    assert board.thermal_model().peak_w == 600.0


def test_example_passes_the_conformance_kit(
    vendor_distribution: importlib.metadata.Distribution, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"--computesat-board={ENTRY_POINT}",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert " passed" in run.stdout and "failed" not in run.stdout
