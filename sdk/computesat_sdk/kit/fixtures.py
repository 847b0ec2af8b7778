"""The conformance kit's pytest fixtures, registered by the plugin only when the kit runs.

`computesat_board_name` (the board under test) is parametrised by the plugin over the names
given with ``--computesat-board``; the fixtures below build boards of that name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from computesat_sdk.kit import harness
from computesat_sdk.registry import discover_boards

if TYPE_CHECKING:
    from collections.abc import Callable

    from computesat_sdk.contract import ComputeBoard
    from computesat_sdk.registry import BoardRegistry


@pytest.fixture(scope="session")
def computesat_board_registry() -> BoardRegistry:
    """Every board plug-in installed, loaded once per session."""
    return discover_boards()


@pytest.fixture
def computesat_new_board(
    computesat_board_registry: BoardRegistry, computesat_board_name: str
) -> Callable[[str], ComputeBoard]:
    """Build fresh boards of the board under test: ``computesat_new_board("id")``."""
    try:
        return harness.board_factory(computesat_board_name, computesat_board_registry)
    except harness.BoardUnavailable as exc:
        reason = str(exc)
    # Outside the except block, so the report is the reason alone, not a chained traceback.
    pytest.fail(reason, pytrace=False)


@pytest.fixture
def computesat_board(computesat_new_board: Callable[[str], ComputeBoard]) -> ComputeBoard:
    """A fresh board of the type under test, OFF."""
    return computesat_new_board("conformance-0")


@pytest.fixture
def computesat_up_board(computesat_board: ComputeBoard) -> ComputeBoard:
    """A fresh board, powered on and booted to IDLE at the nominal plate temperature."""
    harness.boot(computesat_board)
    return computesat_board
