"""The seams hold: flight software reaches hardware only through device ports."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imported_modules(package: str) -> set[tuple[str, str]]:
    found = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update((str(path.relative_to(ROOT)), a.name) for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add((str(path.relative_to(ROOT)), node.module))
    return found


def test_flightsw_source_never_imports_hwsim():
    offenders = [
        (f, m) for f, m in _imported_modules("flightsw") if m == "hwsim" or m.startswith("hwsim.")
    ]
    assert offenders == []


def test_hwsim_never_imports_flight_services():
    offenders = [
        (f, m)
        for f, m in _imported_modules("hwsim")
        if m == "flightsw" or m.startswith("flightsw.")
    ]
    assert offenders == []


def test_loading_flight_software_loads_no_hwsim_module():
    code = (
        "import sys, flightsw.app, flightsw.services.link; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'hwsim'))"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout.strip()
    assert output == "[]"


def test_the_check_itself_catches_an_offender(tmp_path):
    (tmp_path / "flightsw").mkdir()
    (tmp_path / "flightsw" / "bad.py").write_text("from hwsim.model import Spacecraft\n")
    tree = ast.parse((tmp_path / "flightsw" / "bad.py").read_text())
    modules = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert modules == ["hwsim.model"]
