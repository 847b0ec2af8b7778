"""bench/_common.emit: every line strict JSON, a zero baseline has no ratio."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench"


def _common() -> ModuleType:
    # bench/ is a directory of scripts, not a package: load its helper module by path.
    spec = importlib.util.spec_from_file_location("bench_common_under_test", BENCH / "_common.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _strict(text: str) -> dict[str, object]:
    def refuse(constant: str) -> float:
        raise AssertionError(f"non-strict JSON constant {constant} in {text!r}")

    line = json.loads(text, parse_constant=refuse)
    assert isinstance(line, dict)
    return line


def test_a_zero_baseline_gives_a_null_ratio_and_the_target_is_checked_on_the_value(
    capsys: pytest.CaptureFixture[str],
) -> None:
    emit = _common().emit
    emit("timeouts_none", 0, "events", 0, target="<= 0")
    emit("timeouts_some", 3, "events", 0, target="<= 0")
    first, second = (_strict(t) for t in capsys.readouterr().out.splitlines())
    assert first["ratio"] is None and first["meets_target"] is True
    assert second["ratio"] is None and second["meets_target"] is False
    assert second["value"] == 3


def test_a_nonzero_baseline_keeps_value_over_baseline(capsys: pytest.CaptureFixture[str]) -> None:
    emit = _common().emit
    emit("speed", 285.0, "mission s / wall s", 300.0, target=">= 0.95")
    line = _strict(capsys.readouterr().out)
    assert math.isclose(line["ratio"], 0.95) and line["meets_target"] is True


def test_a_non_finite_figure_is_refused_rather_than_printed_as_nan() -> None:
    with pytest.raises(ValueError):
        _common().emit("broken", float("nan"), "s", 1.0)
