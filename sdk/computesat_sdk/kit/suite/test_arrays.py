"""Array stepping: a board hwsim steps as arrays behaves exactly as the same board stepped alone.

hwsim advances boards whose class declares ``ARRAY_STEPPING`` (every `BaseBoard` that does not
override how it steps) with `computesat_sdk.arrays.BoardArrays`, calling their Python only on
events. This check runs one script twice, on a board stepped alone and on a board bound to
`BoardArrays`, and requires the same telemetry, heat and results after every step. A board
that is not array-steppable is skipped with the reason: hwsim steps it per object (slower).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pytest

from computesat_sdk.arrays import BoardArrays, array_steppable
from computesat_sdk.contract import BoardStateError, PowerState, UpsetKind
from computesat_sdk.kit.harness import long_job

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from computesat_sdk.contract import ComputeBoard


def test_array_stepping_matches_stepping_alone(
    computesat_new_board: Callable[[str], ComputeBoard],
) -> None:
    probe = computesat_new_board("arrays-probe")
    if not array_steppable(probe):
        pytest.skip(
            f"{type(probe).__name__} is stepped per object by hwsim (slower): to be stepped "
            "as arrays, build on computesat_sdk.base.BaseBoard without overriding step, "
            "power_draw_w, _flops_rate, _utilisation, _effective_level or "
            "_update_thermal_throttle (or declare ARRAY_STEPPING = True and pass this check)"
        )
    model = probe.thermal_model()
    swing_k = model.peak_w * model.die_to_plate_k_per_w

    def script(bound: bool) -> Iterator[Any]:
        board = computesat_new_board("arrays")
        arrays = BoardArrays([board], 0.0) if bound else None  # type: ignore[list-item]
        board.power_on()
        for index in range(600):
            # A plate that takes a busy die across its throttle temperature and, at the
            # peaks, its trip temperature.
            plate_k = model.throttle_temp_k - 0.4 * swing_k + 1.6 * swing_k * math.sin(index / 60)
            dt_s = 0.7 if index % 5 else 1.3
            if arrays is None:
                heat_w = board.step(dt_s, plate_k)
            else:
                heat_w = float(arrays.step(dt_s, np.array([plate_k]))[0])
            health = board.health()
            if health.power_state is PowerState.FAULT and health.fault_reason != "latch_up":
                try:
                    board.reset()
                except BoardStateError:
                    pass  # still hot
            up = board.state in (PowerState.IDLE, PowerState.THROTTLED, PowerState.BUSY)
            if up and index % 7 == 0 and health.queued_jobs == 0:
                board.submit(long_job(board, 10.0 + index % 13, f"job-{index}"))
            if index == 150:
                board.set_throttle(1)
            if index == 250:
                board.inject_upset(UpsetKind.HANG)
            if index == 280:
                board.power_cycle()
            if index == 400:
                board.inject_upset(UpsetKind.LATCH_UP)
            if index == 420:
                board.power_cycle()
            yield heat_w
            yield board.health().model_dump()
            yield [r.model_dump() for r in board.take_results()]

    alone = list(script(bound=False))
    bound = list(script(bound=True))
    differ = [i for i, (a, b) in enumerate(zip(alone, bound, strict=True)) if a != b]
    assert not differ, (
        f"stepped as arrays, the board differs from stepped alone first at item {differ[0]} "
        f"(step {differ[0] // 3}): alone {alone[differ[0]]}, arrays {bound[differ[0]]}"
        if differ
        else ""
    )
    assert any(isinstance(item, list) and item for item in alone), "no job ever ended"
    samples = [item for item in alone if isinstance(item, dict)]
    assert any(h["throttle_level"] > h["commanded_throttle_level"] for h in samples), (
        "the script never made the board throttle for temperature"
    )
    assert any(h["fault_reason"] == "over_temperature" for h in samples), (
        "the script never tripped the board on over-temperature"
    )
