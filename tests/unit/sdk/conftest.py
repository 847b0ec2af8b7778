"""Markers of the SDK tests."""

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "packaging: builds and installs distributions into a fresh virtual environment "
        "(slow: tens of seconds; pip's cache keeps repeat runs quicker)",
    )
