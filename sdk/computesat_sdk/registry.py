"""Discovery of compute-board plug-ins through the `computesat.boards` entry-point group.

Built-in boards register through the same group as third-party ones. A plug-in is refused —
with its name and the reason, in `BoardRegistry.refused` and in the log — when it fails to
import, is neither a `ComputeBoard` subclass nor a factory, declares no or an incompatible
interface version, or cannot build a board. The others still load: nothing a plug-in does at
load time can stop hwsim.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from computesat_sdk.contract import (
    BOARD_ENTRY_POINT_GROUP,
    BOARD_INTERFACE_VERSION,
    ComputeBoard,
    interface_major,
)

__all__ = [
    "BoardPlugin",
    "BoardPluginError",
    "BoardRegistry",
    "RefusedPlugin",
    "UnknownBoardError",
    "discover_boards",
    "load_board_plugin",
]

_log = logging.getLogger(__name__)

_PROBE_BOARD_ID = "registry-probe"


class BoardPluginError(Exception):
    """A plug-in could not be loaded, or its factory failed to build a board."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"board plug-in {name!r}: {reason}")
        self.name = name
        self.reason = reason


class UnknownBoardError(KeyError):
    """No loaded plug-in has that name."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown board"


@dataclass(frozen=True)
class RefusedPlugin:
    """A plug-in that was not loaded, and why."""

    name: str
    reason: str
    value: str = ""
    distribution: str | None = None


@dataclass(frozen=True)
class BoardPlugin:
    """A loaded plug-in: how to build its boards."""

    name: str
    value: str
    interface_version: str
    factory: Callable[..., ComputeBoard]
    distribution: str | None = None


@dataclass
class BoardRegistry:
    """Loaded board plug-ins by entry-point name, and the refused ones."""

    plugins: dict[str, BoardPlugin] = field(default_factory=dict)
    refused: list[RefusedPlugin] = field(default_factory=list)

    def names(self) -> list[str]:
        """Names of the loaded plug-ins, sorted."""
        return sorted(self.plugins)

    def __contains__(self, name: object) -> bool:
        return name in self.plugins

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.plugins)

    def get(self, name: str) -> BoardPlugin:
        """The plug-in called `name`; UnknownBoardError (a KeyError) if none."""
        try:
            return self.plugins[name]
        except KeyError:
            refused = [r.reason for r in self.refused if r.name == name]
            why = f" (refused: {refused[0]})" if refused else ""
            raise UnknownBoardError(
                f"no board plug-in {name!r}{why}; loaded: {', '.join(self.names()) or 'none'}"
            ) from None

    def create(self, name: str, board_id: str, **kwargs: Any) -> ComputeBoard:
        """Build a board from plug-in `name`.

        Keyword arguments follow the construction convention of `ComputeBoard`
        (`mission_time_s`, `initial_temp_k`). A factory that raises or returns something that
        is not a `ComputeBoard` gives BoardPluginError.
        """
        return _build(self.get(name), board_id, kwargs)


def _build(plugin: BoardPlugin, board_id: str, kwargs: Mapping[str, Any]) -> ComputeBoard:
    try:
        board = plugin.factory(board_id, **kwargs)
    except Exception as exc:
        raise BoardPluginError(plugin.name, f"factory failed: {exc!r}") from exc
    if not isinstance(board, ComputeBoard):
        raise BoardPluginError(
            plugin.name, f"factory returned {type(board).__name__}, not a ComputeBoard"
        )
    return board


def _distribution_name(ep: EntryPoint) -> str | None:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None
    try:
        return f"{dist.metadata['Name']} {dist.version}"
    except Exception:
        return None


def load_board_plugin(ep: EntryPoint) -> BoardPlugin:
    """Load and check one entry point; BoardPluginError says why it is refused."""
    try:
        target = ep.load()
    except (Exception, SystemExit) as exc:
        # SystemExit too: a plug-in calling sys.exit() at import must not stop hwsim.
        raise BoardPluginError(ep.name, f"import failed: {exc!r}") from exc
    if isinstance(target, type):
        if not issubclass(target, ComputeBoard):
            raise BoardPluginError(
                ep.name, f"{target.__qualname__} is a class but not a ComputeBoard subclass"
            )
        if inspect.isabstract(target):
            missing = ", ".join(sorted(getattr(target, "__abstractmethods__", ())))
            raise BoardPluginError(
                ep.name, f"{target.__qualname__} is abstract (does not implement: {missing})"
            )
    elif not callable(target):
        raise BoardPluginError(
            ep.name, f"target is a {type(target).__name__}, not a ComputeBoard subclass or factory"
        )
    version = getattr(target, "interface_version", None)
    if not isinstance(version, str):
        raise BoardPluginError(
            ep.name,
            "declares no interface_version (set the class attribute, or decorate a factory "
            "with computesat_sdk.contract.board_factory)",
        )
    try:
        major = interface_major(version)
    except ValueError as exc:
        raise BoardPluginError(ep.name, str(exc)) from None
    expected = interface_major(BOARD_INTERFACE_VERSION)
    if major != expected:
        raise BoardPluginError(
            ep.name,
            f"interface version {version} is incompatible with {BOARD_INTERFACE_VERSION} "
            f"(major must be {expected})",
        )
    plugin = BoardPlugin(
        name=ep.name,
        value=ep.value,
        interface_version=version,
        factory=target,
        distribution=_distribution_name(ep),
    )
    # Build one board now so a plug-in that cannot construct is refused at load, not later
    # in the middle of a simulation.
    probe = _build(plugin, _PROBE_BOARD_ID, {})
    try:
        reported = probe.identity.interface_version
    except Exception as exc:
        raise BoardPluginError(ep.name, f"identity failed: {exc!r}") from exc
    if reported != version:
        raise BoardPluginError(
            ep.name, f"declares interface {version} but its identity reports {reported}"
        )
    return plugin


def discover_boards(eps: Iterable[EntryPoint] | None = None) -> BoardRegistry:
    """Load every board plug-in (by default, all `computesat.boards` entry points)."""
    if eps is None:
        eps = entry_points(group=BOARD_ENTRY_POINT_GROUP)
    registry = BoardRegistry()
    for ep in eps:
        existing = registry.plugins.get(ep.name)
        if existing is not None:
            if existing.value != ep.value:
                reason = f"duplicate name; already provided by {existing.value}"
                registry.refused.append(
                    RefusedPlugin(ep.name, reason, ep.value, _distribution_name(ep))
                )
                _log.warning("board plug-in %r refused: %s", ep.name, reason)
            continue
        try:
            registry.plugins[ep.name] = load_board_plugin(ep)
        except BoardPluginError as exc:
            registry.refused.append(
                RefusedPlugin(ep.name, exc.reason, ep.value, _distribution_name(ep))
            )
            _log.warning("board plug-in %r refused: %s", ep.name, exc.reason)
    return registry
