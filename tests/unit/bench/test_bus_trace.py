"""bench/bus_trace.py: the trace it records is a function of the code alone (two runs of the
in-process satellite give the same lines), so a changed trace means changed behaviour."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BENCH = Path(__file__).resolve().parents[3] / "bench"


def _bus_trace() -> ModuleType:
    # bench/ is a directory of scripts, not a package: load the script by path.
    spec = importlib.util.spec_from_file_location("bus_trace_under_test", BENCH / "bus_trace.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_two_runs_record_the_same_trace_of_every_kind_of_traffic():
    record = _bus_trace().record
    first = asyncio.run(record(15.0))
    second = asyncio.run(record(15.0))
    assert first == second
    topics = {line.split(" ", 2)[1] for line in first}
    assert {"b'param\\x00'", "b'event\\x00'", "b'mode.changed\\x00'"} <= topics, topics
    assert all("pid <pid>" in line for line in first if " pid " in line)
