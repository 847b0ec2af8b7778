"""board_overtemp on a plug-in board: an extra series resistance to the plate, stable and
exact in the steady state for any factor and step."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from computesat_sdk.base import BaseBoard

from hwsim.boards.reference import RefGpuBoard
from hwsim.boards.slots import PluginSlots


class _Registry:
    def __init__(self) -> None:
        self.refused: list[Any] = []

    def create(self, name: str, board_id: str, **kwargs: Any) -> BaseBoard:
        return RefGpuBoard(board_id, **kwargs)


@pytest.mark.parametrize("fast", [True, False], ids=["arrays", "per-object"])
@pytest.mark.parametrize("dt_s", [1.0, 60.0])
@pytest.mark.parametrize("factor", [1.5, 3.0, 10.0])
def test_overtemp_die_settles_at_the_series_closed_form(
    factor: float, dt_s: float, fast: bool
) -> None:
    PluginSlots.ARRAY_STEPPING = fast
    try:
        s = PluginSlots(
            [(0, "001", "gpu"), (1, "002", "gpu")],
            np.array([0, 0]),
            np.array([255.0]),
            _Registry(),
            [True, True],
        )
    finally:
        PluginSlots.ARRAY_STEPPING = True
    plate = np.array([255.0])
    r_die = float(s.die_to_plate_k_per_w[0])
    extra_heat_w = 5.0
    s.set_overtemp(0, (factor - 1.0) * r_die, extra_heat_w)
    # 60 time constants C·(R_die + R_x)
    duration_s = 60.0 * float(s.thermal_mass_j_per_k[0]) * r_die * factor
    stored0 = s.stored_energy_j()
    drawn_j = heat_j = 0.0
    for _ in range(int(duration_s / dt_s) + 1):
        s.poll_draw_w()
        drawn_j += float(s.draw_w.sum()) * dt_s
        heat_j += float(s.step(dt_s, plate).sum()) * dt_s
        drawn_j += s.step_extra_energy_j
    power_w = float(s.draw_w[0])
    assert power_w > 0.0, "the board should draw power while idle"
    expected = 255.0 + (power_w + extra_heat_w) * r_die * factor
    die = s.die_temp_k()
    assert die[0] == pytest.approx(expected, abs=1e-6), (
        f"f={factor} dt={dt_s}: die {die[0]} K, closed form {expected} K"
    )
    assert die[1] == pytest.approx(255.0 + float(s.draw_w[1]) * r_die, abs=1e-6)
    # the boards' ledger: drawn = heat into the plate + heat stored in the dies (the extra
    # dissipation Q_e is billed by the slots, outside PluginSlots)
    stored = s.stored_energy_j() - stored0
    assert abs(drawn_j - heat_j - stored) <= 1e-9 * drawn_j, (
        f"drawn {drawn_j} J, to plate {heat_j} J, stored {stored} J"
    )
