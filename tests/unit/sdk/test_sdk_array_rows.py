"""`BoardArrays.row`: a row indexed alone equals the row read from the arrays' lists.

The first rows asked after a change are indexed element by element (a host asking a few
boards); after that the arrays are turned into lists once. Both must give the same row, value
and type, for every board through boots, jobs, throttling, trips and upsets.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
from computesat_sdk import arrays as arrays_module
from computesat_sdk.arrays import BoardArrays
from computesat_sdk.base import BaseBoard
from computesat_sdk.contract import ArrayRow, JobSpec, UpsetKind

from hwsim.boards.reference import RefCpuBoard, RefGpuBoard, RefNpuBoard


def _typed(row: ArrayRow) -> list[tuple[str, type, Any]]:
    return [(f.name, type(v := getattr(row, f.name)), v) for f in dataclasses.fields(row)]


def _both_ways(arrays: BoardArrays, when: str) -> None:
    alone = [arrays._row_alone(k) for k in range(len(arrays.boards))]
    arrays._rows_indexed = arrays_module._ROWS_INDEXED_ALONE  # the next row builds the lists
    listed = [arrays.row(k) for k in range(len(arrays.boards))]
    assert arrays._columns is not None
    for k, (a, b) in enumerate(zip(alone, listed, strict=True)):
        assert _typed(a) == _typed(b), f"{when}, row {k}: alone {a}, from lists {b}"


def _job(board: BaseBoard, job_id: str, seconds: float) -> JobSpec:
    rate = board.capabilities().kernel_flops_per_s["matmul"]
    limit = board.job_limits().max_iterations
    size = 64
    while (iterations := max(1, round(rate * seconds / (2 * size**3)))) > limit:
        size *= 2
    return JobSpec(job_id=job_id, kernel="matmul", size=size, seed=3, iterations=iterations)


def test_a_row_indexed_alone_is_the_row_from_the_lists() -> None:
    boards: list[BaseBoard] = [
        cls(f"b{i}-{k}", initial_temp_k=300.0)
        for i, cls in enumerate((RefGpuBoard, RefCpuBoard, RefNpuBoard))
        for k in range(3)
    ]
    arrays = BoardArrays(boards, 0.0)
    plate = np.full(len(boards), 300.0)
    for b in boards:
        b.power_on()
    level, busy, tripped = 0, False, False
    for t in range(400):
        if t == 100:  # booted (60 s at most)
            for k, b in enumerate(boards):
                b.submit(_job(b, f"j{k}", 20.0 + 9.0 * k))
                b.submit(_job(b, f"q{k}", 200.0))
            plate[:] = 345.0  # the GPUs throttle
        if t == 150:
            boards[1].inject_upset(UpsetKind.HANG)
            boards[4].inject_upset(UpsetKind.LATCH_UP)
            boards[5].set_throttle(2)
            plate[:] = 378.0  # hot enough to trip the GPUs
        if t == 260:
            plate[:] = 290.0
        arrays.step(0.7 if t % 3 else 1.0, plate)
        _both_ways(arrays, f"t={t}")
        level = max(level, int(arrays.thermal_level.max()))
        busy = busy or bool(arrays.flops_rate_per_s.any())
        tripped = tripped or any(b.health().fault_reason == "over_temperature" for b in boards)
    assert level > 0 and busy and tripped, (level, busy, tripped)


def test_the_first_rows_of_a_state_are_indexed_alone_then_listed() -> None:
    boards: list[BaseBoard] = [RefCpuBoard(f"c{k}", initial_temp_k=300.0) for k in range(20)]
    arrays = BoardArrays(boards, 0.0)
    arrays.step(1.0, np.full(20, 300.0))
    for k in range(arrays_module._ROWS_INDEXED_ALONE):
        arrays.row(k)
        assert arrays._columns is None, "a few rows: no lists"
    arrays.row(19)
    assert arrays._columns is not None, "many rows: the lists, once"
    arrays.step(1.0, np.full(20, 300.0))
    assert arrays._columns is None and arrays._rows_indexed == 0
