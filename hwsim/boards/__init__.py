"""Compute boards for hwsim: the shared `BaseBoard`, the reference boards, plug-in discovery.

The contract itself (abstract base class, models, errors) is in `icd.boards`.
"""

from hwsim.boards.base import DEFAULT_INITIAL_TEMP_K, BaseBoard
from hwsim.boards.reference import RefCpuBoard, RefGpuBoard, RefNpuBoard
from hwsim.boards.registry import (
    BoardPlugin,
    BoardPluginError,
    BoardRegistry,
    RefusedPlugin,
    UnknownBoardError,
    discover_boards,
)

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
