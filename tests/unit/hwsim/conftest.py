"""Shared fixtures for the hwsim model tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from hwsim.config import SpacecraftConfig, parse_config, simple_config


@pytest.fixture(scope="session")
def ai1() -> SpacecraftConfig:
    # The AI1 spacecraft with its 150 simple (vectorised) slots: the model tests check the
    # physics against closed forms with it. Plug-in boards: test_hwsim_boards_*.py.
    return simple_config()


def _variant(base: SpacecraftConfig, **changes: Any) -> SpacecraftConfig:
    """A validated copy of ``base`` with dotted-path changes, e.g. ``{"orbit.beta_deg": 70}``."""
    data = base.model_dump(mode="python")
    for path, value in changes.items():
        node: Any = data
        keys = path.split(".")
        for k in keys[:-1]:
            node = node[int(k)] if isinstance(node, list) else node[k]
        last = keys[-1]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return parse_config(data)


@pytest.fixture(scope="session")
def variant() -> Callable[..., SpacecraftConfig]:
    return _variant
