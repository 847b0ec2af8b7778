"""Plug-in discovery: built-ins load, broken plug-ins are refused by name and reason."""

import sys
import types
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
from computesat_sdk.contract import (
    BOARD_ENTRY_POINT_GROUP,
    BoardIdentity,
    ComputeBoard,
    board_factory,
)

from hwsim.boards import (
    BoardPluginError,
    BoardRegistry,
    RefCpuBoard,
    UnknownBoardError,
    discover_boards,
)

MODULE = "fake_board_plugins"


def ep(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=BOARD_ENTRY_POINT_GROUP)


class MinorNewer(RefCpuBoard):
    IDENTITY = RefCpuBoard.IDENTITY.model_copy(update={"interface_version": "1.4"})


class FutureMajor(RefCpuBoard):
    IDENTITY = RefCpuBoard.IDENTITY.model_copy(update={"interface_version": "2.0"})


class Malformed(RefCpuBoard):
    IDENTITY = RefCpuBoard.IDENTITY.model_copy(update={"interface_version": "one"})


class Abstract(ComputeBoard):
    interface_version = "1.0"


class BrokenInit(RefCpuBoard):
    def __init__(self, board_id: str, **kwargs: object) -> None:
        raise RuntimeError("no firmware image")


class LyingIdentity(RefCpuBoard):
    @property
    def identity(self) -> BoardIdentity:
        return RefCpuBoard.IDENTITY.model_copy(update={"interface_version": "1.9"})


class NoVersion(ComputeBoard):
    pass


@board_factory("1.0")
def good_factory(board_id: str, **kwargs: object) -> ComputeBoard:
    return RefCpuBoard(board_id, **kwargs)  # type: ignore[arg-type]


@board_factory("1.0")
def junk_factory(board_id: str, **kwargs: object) -> object:
    return object()


def unmarked_factory(board_id: str, **kwargs: object) -> ComputeBoard:
    return RefCpuBoard(board_id)


@pytest.fixture
def fake_module(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    module = types.ModuleType(MODULE)
    for name, value in globals().items():
        setattr(module, name, value)
    module.NUMBER = 42  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, MODULE, module)
    tmp_path.joinpath("exploding_board_plugin.py").write_text("raise SystemExit(3)\n")
    tmp_path.joinpath("raising_board_plugin.py").write_text("raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))


def test_builtin_boards_are_discovered_through_entry_points() -> None:
    registry = discover_boards()
    assert {"ref-gpu", "ref-npu", "ref-cpu"} <= set(registry.names())
    assert not [r for r in registry.refused if r.name.startswith("ref-")]
    board = registry.create("ref-gpu", "slot-3", mission_time_s=12.0, initial_temp_k=310.0)
    assert board.board_id == "slot-3"
    assert board.health().mission_time_s == 12.0 and board.health().die_temp_k == 310.0
    plugin = registry.get("ref-gpu")
    assert plugin.interface_version == "1.0"
    assert plugin.distribution is not None and plugin.distribution.startswith("computesat ")


def test_unknown_board_names_the_loaded_ones() -> None:
    registry = discover_boards()
    with pytest.raises(UnknownBoardError, match="ref-cpu") as info:
        registry.create("no-such-board", "x")
    assert isinstance(info.value, KeyError)


@pytest.mark.usefixtures("fake_module")
def test_broken_plugins_are_refused_with_reasons_and_the_rest_load() -> None:
    cases = {
        "import-error": ("no_such_module_xyz:Board", "import failed"),
        "missing-attr": (f"{MODULE}:Missing", "import failed"),
        "sys-exit": ("exploding_board_plugin:Board", "SystemExit"),
        "raises": ("raising_board_plugin:Board", "boom"),
        "not-a-board": (f"{MODULE}:EntryPoint", "not a ComputeBoard subclass"),
        "a-number": (f"{MODULE}:NUMBER", "not a ComputeBoard subclass or factory"),
        "future": (f"{MODULE}:FutureMajor", "incompatible"),
        "malformed": (f"{MODULE}:Malformed", "must look like"),
        "abstract": (f"{MODULE}:Abstract", "abstract"),
        "no-version": (f"{MODULE}:unmarked_factory", "no interface_version"),
        "no-version-class": (f"{MODULE}:NoVersion", "abstract"),
        "broken-init": (f"{MODULE}:BrokenInit", "no firmware image"),
        "junk-factory": (f"{MODULE}:junk_factory", "not a ComputeBoard"),
        "lying": (f"{MODULE}:LyingIdentity", "identity reports 1.9"),
    }
    good = [
        ep("minor-newer", f"{MODULE}:MinorNewer"),
        ep("factory", f"{MODULE}:good_factory"),
        ep("ref-cpu", "hwsim.boards.reference:RefCpuBoard"),
    ]
    bad = [ep(name, value) for name, (value, _) in cases.items()]
    registry = discover_boards([*bad[:7], *good, *bad[7:]])
    assert registry.names() == ["factory", "minor-newer", "ref-cpu"]
    refused = {r.name: r for r in registry.refused}
    assert set(refused) == set(cases)
    for name, (value, reason) in cases.items():
        assert reason in refused[name].reason, (name, refused[name].reason)
        assert refused[name].value == value
    assert isinstance(registry.create("factory", "f"), RefCpuBoard)
    with pytest.raises(UnknownBoardError, match="incompatible"):
        registry.get("future")


def test_duplicate_names_are_refused_unless_identical() -> None:
    registry = discover_boards(
        [
            ep("cpu", "hwsim.boards.reference:RefCpuBoard"),
            ep("cpu", "hwsim.boards.reference:RefCpuBoard"),
            ep("cpu", "hwsim.boards.reference:RefGpuBoard"),
        ]
    )
    assert registry.names() == ["cpu"]
    assert [r.reason for r in registry.refused] == [
        "duplicate name; already provided by hwsim.boards.reference:RefCpuBoard"
    ]


def test_factory_failure_after_load_is_a_plugin_error() -> None:
    calls = {"n": 0}

    @board_factory("1.0")
    def flaky(board_id: str, **kwargs: object) -> ComputeBoard:
        calls["n"] += 1
        if calls["n"] > 1:
            raise OSError("slot unavailable")
        return RefCpuBoard(board_id)

    registry = BoardRegistry()
    from hwsim.boards import BoardPlugin

    registry.plugins["flaky"] = BoardPlugin("flaky", "x:y", "1.0", flaky)
    registry.create("flaky", "a")
    with pytest.raises(BoardPluginError, match="slot unavailable"):
        registry.create("flaky", "b")
