"""The conformance kit run the way a vendor runs it: `pytest --computesat-board=NAME` in an
empty directory, in a subprocess so this session's plugins and rootdir do not leak in."""

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

BUILTIN_BOARDS = ("ref-gpu", "ref-npu", "ref-cpu")


def run_kit(
    cwd: Path, *args: str, extra_path: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(extra_path), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rfE", "-p", "no:cacheprovider", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def passed_count(output: str) -> int:
    match = re.search(r"(\d+) passed", output)
    return int(match.group(1)) if match else 0


def test_builtin_boards_pass_the_kit(tmp_path: Path) -> None:
    args = [f"--computesat-board={name}" for name in BUILTIN_BOARDS]
    run = run_kit(tmp_path, *args)
    assert run.returncode == 0, run.stdout + run.stderr
    assert passed_count(run.stdout) >= 20 * len(BUILTIN_BOARDS), run.stdout
    assert "failed" not in run.stdout


def test_kit_is_inert_without_the_option(tmp_path: Path) -> None:
    run = run_kit(tmp_path)
    assert run.returncode == pytest.ExitCode.NO_TESTS_COLLECTED, run.stdout + run.stderr


def test_kit_is_registered_in_this_session(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.has_plugin("computesat_conformance")
    assert pytestconfig.getoption("computesat_board") == []


@pytest.fixture
def bad_boards(tmp_path: Path) -> Path:
    """A fake installed distribution of deliberately non-conforming boards."""
    site = tmp_path / "site"
    dist_info = site / "bad_boards-0.1.dist-info"
    dist_info.mkdir(parents=True)
    dist_info.joinpath("METADATA").write_text(
        "Metadata-Version: 2.1\nName: bad-boards\nVersion: 0.1\n"
    )
    dist_info.joinpath("entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [computesat.boards]
            never-throttles = bad_boards:NeverThrottles
            wrong-answers = bad_boards:WrongAnswers
            future = bad_boards:Future
            """
        )
    )
    site.joinpath("bad_boards.py").write_text(
        textwrap.dedent(
            """\
            import numpy as np

            from hwsim.boards import RefCpuBoard
            from computesat_sdk import kernels


            class NeverThrottles(RefCpuBoard):
                def _update_thermal_throttle(self, dt_s):
                    pass


            class WrongAnswers(RefCpuBoard):
                def execute(self, job):
                    return np.zeros_like(kernels.execute(job))


            class Future(RefCpuBoard):
                IDENTITY = RefCpuBoard.IDENTITY.model_copy(update={"interface_version": "2.0"})
            """
        )
    )
    return site


def test_kit_catches_non_conforming_boards(tmp_path: Path, bad_boards: Path) -> None:
    empty = tmp_path / "run"
    empty.mkdir()
    run = run_kit(
        empty,
        "--computesat-board=never-throttles",
        "--computesat-board=wrong-answers",
        "--computesat-board=future",
        extra_path=bad_boards,
    )
    assert run.returncode == pytest.ExitCode.TESTS_FAILED, run.stdout + run.stderr
    # A refused plug-in fails in fixture setup, which pytest reports as ERROR.
    failed = set(re.findall(r"(?:FAILED|ERROR) computesat-conformance::(\S+)", run.stdout))
    assert "test_thermal_self_throttling_and_recovery[never-throttles]" in failed
    assert not any("never-throttles" in name and "job_correctness" in name for name in failed)
    assert any("wrong-answers" in name and "job_correctness" in name for name in failed)
    assert not any("wrong-answers" in name and "throttling" in name for name in failed)
    assert "test_identity_and_interface_version[future]" in failed
    assert "was refused: interface version 2.0 is incompatible" in run.stdout
