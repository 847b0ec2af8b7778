"""Shared helpers for the benchmark scripts: arguments, statistics and the JSON lines.

Every benchmark prints one JSON object per line (DESIGN.md, Benchmarks):
``{"name", "value", "unit", "baseline", "ratio"}`` plus ``"target"``/``"meets_target"`` when
the figure has a target, and free-form extra keys (samples, loss, payload size).
"""

from __future__ import annotations

import argparse
import json
import math
import operator
import statistics
import sys
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["emit", "median", "meets", "note", "parse_args", "percentile"]

_COMPARATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
}


def parse_args(description: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--quick", action="store_true", help="a few seconds' smoke run (figures are rough)"
    )
    return parser.parse_args()


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100): always a measured sample, never interpolated."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return float(ordered[rank - 1])


def meets(ratio: float, target: str) -> bool:
    """Whether ``ratio`` satisfies a target written like ``">= 0.5"`` or ``"<= 10"``."""
    op, _, bound = target.strip().partition(" ")
    return _COMPARATORS[op](ratio, float(bound))


def emit(
    name: str,
    value: float,
    unit: str,
    baseline: float,
    *,
    target: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Print one result line; ratio is value/baseline whether it is a rate or a latency.

    A baseline of 0 (a count that should be zero: timeouts, losses) has no ratio: ``ratio``
    is null and ``target`` is checked against the value itself. Every line is strict JSON
    (no NaN or Infinity, which ``json.loads`` of other languages refuses).
    """
    ratio = value / baseline if baseline else None
    line: dict[str, Any] = {
        "name": name,
        "value": _round(value),
        "unit": unit,
        "baseline": _round(baseline),
        "ratio": None if ratio is None else round(ratio, 4),
    }
    if target is not None:
        line["target"] = target
        line["meets_target"] = meets(value if ratio is None else ratio, target)
    line.update(extra)
    # Flushed per line so a reader piping the output sees each figure as soon as it exists.
    print(json.dumps(line, allow_nan=False), flush=True)
    return line


def _round(value: float) -> float:
    # Enough digits to compare runs, not so many that the line is unreadable.
    return float(f"{value:.4g}") if abs(value) < 1e4 else round(value)


def note(message: str) -> None:
    """Progress for humans goes to stderr so stdout stays pure JSON lines."""
    print(message, file=sys.stderr, flush=True)
