"""The board SDK installs alone and its conformance kit runs without the emulator.

What a vendor does: a fresh virtual environment, ``pip install computesat-sdk`` and their own
board (here `examples/vendor_board`) and pytest, nothing else; then ``pytest
--computesat-board=acme-photon7`` in an empty directory. pyzmq (nor any emulator package) must
not be there, and the kit must run its suite and pass.

Slow (it builds and installs two distributions), so marked ``packaging``; it runs in
``make test``. pip's cache is used on purpose, so repeat runs and CI are quicker.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

pytestmark = [pytest.mark.packaging]
if importlib.util.find_spec("pytest_timeout") is not None:
    pytestmark.append(pytest.mark.timeout(900))

# Things that must not be importable in the vendor's environment: pyzmq and the emulator.
ABSENT = ("zmq", "msgpack", "computesat", "runtime", "icd", "hwsim", "flightsw", "ground")


def _clean_env() -> dict[str, str]:
    # Nothing from this session's environment may leak into the fresh one.
    drop = ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    return {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("PYTEST_")}


def _run(args: list[str], cwd: Path, timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def _copy_source(name: str, source: Path, into: Path) -> Path:
    # Build from a copy: an in-tree build would write build/ and *.egg-info into the repository
    # while other tests may be reading it.
    target = into / name
    shutil.copytree(
        source,
        target,
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".ruff_cache"),
    )
    return target


@pytest.fixture(scope="module")
def vendor_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with only the SDK, the vendor example and pytest; its python."""
    base = tmp_path_factory.mktemp("sdk-alone")
    sdk = _copy_source("sdk", ROOT / "sdk", base)
    vendor = _copy_source("vendor_board", ROOT / "examples" / "vendor_board", base)
    venv = base / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], base)
    assert made.returncode == 0, made.stdout + made.stderr
    python = venv / "bin" / "python"
    # This session's pip installs into the new environment (pip --python), which spares
    # bootstrapping pip there; the new environment still sees nothing of this one.
    installed = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            str(sdk),
            str(vendor),
            "pytest",
        ],
        base,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return python


def test_the_emulator_and_pyzmq_are_absent(vendor_venv: Path) -> None:
    code = (
        "import importlib.util, json; "
        f"print(json.dumps([m for m in {list(ABSENT)!r} if importlib.util.find_spec(m)]))"
    )
    run = _run([str(vendor_venv), "-c", code], vendor_venv.parent)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.strip() == "[]", f"importable in the SDK-only venv: {run.stdout.strip()}"
    zmq = _run([str(vendor_venv), "-c", "import zmq"], vendor_venv.parent)
    assert zmq.returncode != 0 and "No module named 'zmq'" in zmq.stderr, (
        f"import zmq should fail in the SDK-only venv; rc={zmq.returncode} {zmq.stderr}"
    )


def test_the_kit_runs_and_passes_the_vendor_board(
    vendor_venv: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    empty = tmp_path_factory.mktemp("empty")
    run = _run(
        [
            str(vendor_venv),
            "-m",
            "pytest",
            "-q",
            "-rA",
            "-p",
            "no:cacheprovider",
            "--computesat-board=acme-photon7",
        ],
        empty,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    summary = run.stdout.strip().splitlines()[-1]
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (\w+)", summary)}
    bad = {"failed", "error", "errors", "skipped", "xfailed", "xpassed", "deselected"}
    assert not bad & set(counts), f"expected only passes, summary: {summary!r}"
    # 25 checks today (the kernel tests parametrised over the reference kernels); a run that
    # collects nothing, or only part of the suite, must fail here.
    assert counts.get("passed", 0) >= 20, f"expected the whole suite to run, summary: {summary!r}"
    areas = {"identity", "power", "jobs", "telemetry", "thermal", "faults", "determinism"}
    areas.add("arrays")
    ran = set(re.findall(r"^PASSED computesat-conformance/test_(\w+)\.py::", run.stdout, re.M))
    assert ran == areas, f"expected every suite module to pass, got {sorted(ran)}"
