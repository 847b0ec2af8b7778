"""Compute-board conformance kit: the pytest plugin (the option and the hooks, nothing else).

Installed with the board SDK, ``computesat-sdk`` (entry point ``pytest11:
computesat_conformance``), so any pytest run in an environment with the SDK can use it; the
emulator itself is not needed. Run it against boards registered under the
``computesat.boards`` entry-point group, from any directory (an empty one keeps your own tests
out of the run)::

    pytest --computesat-board=acme-photon7
    pytest --computesat-board=ref-gpu --computesat-board=ref-cpu -q

Without ``--computesat-board`` the plugin does nothing: it adds no tests and no fixtures, and
it imports nothing beyond pytest, so it cannot affect a project's own test run.

With the option, the plugin registers the kit's fixtures (`computesat_sdk.kit.fixtures`) and
collects the suite, the ``test_*.py`` modules of `computesat_sdk.kit.suite`, as nodes
``computesat-conformance/test_<area>.py``, every test parametrised over the named boards::

    computesat-conformance/test_thermal.py::test_over_temperature_trip_and_reset[acme-photon7]

The suite is written on `computesat_sdk.kit.harness` (stepping, boot, job builders, telemetry
checks), which vendors can use in their own tests too; see the suite's package docstring for
what it checks.
"""

from __future__ import annotations

from pathlib import Path

import pytest

__all__ = [
    "OPTION",
    "SUITE_NODE_ID",
    "pytest_addoption",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "suite_modules",
]

OPTION = "--computesat-board"
_DEST = "computesat_board"
# The node id under which the suite's modules appear: SUITE_NODE_ID/test_<area>.py::test_x[board].
SUITE_NODE_ID = "computesat-conformance"
_SUITE_DIR = Path(__file__).with_name("suite")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("computesat", "computesat compute-board conformance kit")
    group.addoption(
        OPTION,
        action="append",
        default=[],
        dest=_DEST,
        metavar="NAME",
        help="run the board conformance suite against entry point NAME of the "
        "computesat.boards group (repeatable)",
    )


def _board_names(config: pytest.Config) -> list[str]:
    return list(dict.fromkeys(config.getoption(_DEST) or []))


def suite_modules() -> list[Path]:
    """The suite's test modules, in a stable order."""
    return sorted(_SUITE_DIR.glob("test_*.py"))


class _SuiteModule(pytest.Module):
    # Collect by our own naming rule, whatever python_functions the host project configures.
    def funcnamefilter(self, name: str) -> bool:
        return name.startswith("test_")

    def classnamefilter(self, name: str) -> bool:
        return False


class _Parametrize:
    # A plugin object rather than a module-level hook, so it exists only when the kit runs.
    def __init__(self, names: list[str]) -> None:
        self.names = names

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "computesat_board_name" in metafunc.fixturenames:
            metafunc.parametrize("computesat_board_name", self.names, ids=self.names)
        if "computesat_kernel" in metafunc.fixturenames:
            from computesat_sdk.kernels import KERNELS

            metafunc.parametrize("computesat_kernel", sorted(KERNELS))


def pytest_configure(config: pytest.Config) -> None:
    names = _board_names(config)
    if not names:
        return
    # The harness and suite live in an installed package, not in test files pytest rewrites
    # by name: ask for assertion rewriting before they are imported, for readable failures.
    pytest.register_assert_rewrite("computesat_sdk.kit.harness", "computesat_sdk.kit.suite")
    config.pluginmanager.register(_Parametrize(names), "computesat-conformance-parametrize")
    config.pluginmanager.import_plugin("computesat_sdk.kit.fixtures")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    # tryfirst: our items must exist before pytest's own -k/-m deselection runs.
    if not _board_names(config):
        return
    suite: list[pytest.Item] = []
    for path in suite_modules():
        module = _SuiteModule.from_parent(session, path=path, nodeid=f"{SUITE_NODE_ID}/{path.name}")
        suite.extend(session.genitems(module))
    items[:0] = suite
