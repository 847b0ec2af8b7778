"""The layers hold: the import-linter contracts exist, pass on this tree, and catch offenders.

`make lint` (and so `make test`) runs `lint-imports` with the contracts of pyproject.toml; these
tests pin what the contracts say, prove they fail on a tree with injected bad imports, and
check the one thing a static import graph cannot see: what importing flight software loads.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "computesat": ROOT / "computesat",
    "runtime": ROOT / "runtime",
    "icd": ROOT / "icd",
    "hwsim": ROOT / "hwsim",
    "flightsw": ROOT / "flightsw",
    "ground": ROOT / "ground",
    "computesat_sdk": ROOT / "sdk" / "computesat_sdk",
}
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _config() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"][
        "importlinter"
    ]


def _contract(contract_id: str) -> dict:
    contracts = {c["id"]: c for c in _config()["contracts"]}
    assert contract_id in contracts, f"no contract {contract_id!r}; have {sorted(contracts)}"
    return contracts[contract_id]


def _lint_imports(cwd: Path, pythonpath: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": str(LINT_IMPORTS.parent), "PYTHONPATH": str(pythonpath or "")}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_contracts_name_every_package_and_the_layers():
    config = _config()
    assert set(config["root_packages"]) == set(PACKAGES), config["root_packages"]
    layers = _contract("layers")
    assert layers["type"] == "layers"
    assert layers["layers"] == [
        "computesat",
        "hwsim | flightsw | ground",
        "runtime",
        "icd",
        "computesat_sdk",
    ], layers["layers"]
    sdk = _contract("sdk-alone")
    assert sdk["type"] == "forbidden" and sdk["source_modules"] == ["computesat_sdk"], sdk
    expected = {"zmq", "msgpack", "matplotlib", "tqdm"} | (set(PACKAGES) - {"computesat_sdk"})
    assert expected <= set(sdk["forbidden_modules"]), sdk["forbidden_modules"]
    assert config.get("include_external_packages") is True, "zmq etc. need external packages"
    core = _contract("sdk-core-without-pytest")
    assert core["type"] == "forbidden" and set(core["forbidden_modules"]) >= {"pytest"}, core
    assert "computesat_sdk.kit.harness" in core["source_modules"], core["source_modules"]


def test_this_tree_keeps_the_contracts():
    run = _lint_imports(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "3 kept, 0 broken" in run.stdout, run.stdout


def test_the_contracts_catch_offenders(tmp_path):
    tree = tmp_path / "tree"
    for name, source in PACKAGES.items():
        shutil.copytree(source, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    offenders = {
        "flightsw/zz_offender.py": "from hwsim import model\n",
        "runtime/zz_offender.py": "import computesat.cli\n",
        "icd/zz_offender.py": "from runtime import clock\n",
        "computesat_sdk/zz_offender.py": "import zmq\n",
        "computesat_sdk/zz_offender2.py": "from icd import pus\n",
    }
    for relative, code in offenders.items():
        (tree / relative).write_text(code, encoding="utf-8")
    registry = tree / "computesat_sdk" / "registry.py"
    registry.write_text(registry.read_text(encoding="utf-8") + "\nimport pytest\n", "utf-8")
    run = _lint_imports(tree, pythonpath=tree)
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert "0 kept, 3 broken" in output, output
    for found in (
        "flightsw.zz_offender -> hwsim",
        "runtime.zz_offender -> computesat.cli",
        "icd.zz_offender -> runtime",
        "computesat_sdk.zz_offender -> zmq",
        "computesat_sdk.zz_offender2 -> icd",
        "computesat_sdk.registry -> pytest",
    ):
        assert found in output, f"lint-imports did not report {found!r}:\n{output}"


def test_loading_flight_software_loads_no_hwsim_module():
    # Static contracts cannot see imports done at run time: check what is actually loaded.
    code = (
        "import sys, flightsw.app, flightsw.services.link; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'hwsim'))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.strip()
    assert output == "[]", f"importing flight software loaded hwsim modules: {output}"
