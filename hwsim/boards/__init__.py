"""Compute boards for hwsim: the shared `BaseBoard`, the reference boards, plug-in discovery.

The contract itself (abstract base class, models, errors) is in `computesat_sdk.contract`.
"""

from computesat_sdk.base import DEFAULT_INITIAL_TEMP_K, BaseBoard
from computesat_sdk.registry import (
    BoardPlugin,
    BoardPluginError,
    BoardRegistry,
    RefusedPlugin,
    UnknownBoardError,
    discover_boards,
)

from hwsim.boards.reference import RefCpuBoard, RefGpuBoard, RefNpuBoard

__all__ = [
    "DEFAULT_INITIAL_TEMP_K",
    "BaseBoard",
    "BoardPlugin",
    "BoardPluginError",
    "BoardRegistry",
    "RefCpuBoard",
    "RefGpuBoard",
    "RefNpuBoard",
    "RefusedPlugin",
    "UnknownBoardError",
    "discover_boards",
]
