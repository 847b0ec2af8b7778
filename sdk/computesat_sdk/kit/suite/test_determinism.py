"""Determinism: the same script of commands gives the same telemetry and results."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from computesat_sdk.contract import PowerState, UpsetKind
from computesat_sdk.kit.harness import small_job, supported_kernels

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from computesat_sdk.contract import ComputeBoard


def test_determinism(computesat_new_board: Callable[[str], ComputeBoard]) -> None:
    def script() -> Iterator[Any]:
        board = computesat_new_board("determinism")
        board.power_on()
        for index in range(400):
            plate_k = 300.0 + 40.0 * math.sin(index / 25.0)
            board.step(0.7, plate_k)
            idle = board.state in (PowerState.IDLE, PowerState.THROTTLED)
            if idle and index % 3 == 0 and board.health().active_job_id is None:
                kernels = supported_kernels(board)
                kernel = kernels[index % len(kernels)]
                board.submit(small_job(kernel, f"{kernel}-{index}", seed=index))
            if index == 200:
                board.inject_upset(UpsetKind.BIT_FLIP_RESULT)
            if index == 300:
                board.inject_upset(UpsetKind.HANG)
            if index == 350:
                board.power_cycle()
            yield board.health().model_dump()
            yield [r.model_dump() for r in board.take_results()]

    first = list(script())
    second = list(script())
    differ = [i for i, (a, b) in enumerate(zip(first, second, strict=True)) if a != b]
    assert not differ, f"two runs of one script differ first at item {differ[:1]}: " + (
        f"{first[differ[0]]} != {second[differ[0]]}" if differ else ""
    )
    assert any(isinstance(item, list) and item for item in first), "no job ever completed"
