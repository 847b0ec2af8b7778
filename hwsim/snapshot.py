"""Snapshots: the whole spacecraft model in one file, and back.

A snapshot holds everything the model is: the physics state (numpy arrays), the caches the
stepped physics keeps (so that a restored run continues *bit for bit*, not merely close),
active and scheduled faults, the plug-in boards in their slots with their queued and running
jobs, and the random generators (sensor noise, upsets). A run restored from a snapshot taken
at t1 and stepped to t2 equals the run that wrote it at t2, to the last bit.

File layout (all integers big-endian)::

    8 bytes   magic b"CSATSNAP"
    2 bytes   snapshot format version (FORMAT_VERSION)
    4 bytes   header length N
    N bytes   header: UTF-8 JSON, a SnapshotHeader (computesat version, config name and
              digest, seed, mission and model time, body length and SHA-256)
    rest      body: a pickle of the model's attributes (its subsystem objects among them)

Everything in front of the body is checked before a byte of the body is decoded: magic,
format version, header, body length (a truncated file), body digest (a corrupted one), the
computesat version that wrote it and the configuration digest. A failure is a
:class:`SnapshotError` naming what is wrong, what was expected and what was found; the
running simulation is never touched by a snapshot that fails a check.

**Snapshot files are trusted local files.** The body is a pickle (the model is a large
object graph of numpy arrays, boards and caches; a plain-data encoding of every cache would
have to follow every change of the model). It is decoded only after the checks above, and
only classes of the spacecraft model (numpy, hwsim, the board SDK, the installed board
plug-ins, pydantic) may be named in it; that guards against accidents (a file of another
program), not against a crafted file: do not restore snapshots from people you do not trust.

Plug-in boards are saved as what they hold: power state, die temperature, throttle, the queue
of job specs and the running job's progress (FLOPs done). A job's result is computed from its
spec (kernel, size, seed) when the job completes, so a restored board finishes the same jobs
at the same mission times with the same digests. A result a worker is computing (a
``concurrent.futures.Future`` on the board) is waited for and saved as its outcome; the
host's job executor and result listeners are not state: saved as a reference, loaded as
None, re-attached by :func:`restore_into`.

Written atomically: a temporary file in the target directory, fsync, rename over the target,
fsync of the directory, so a crash mid-write never leaves a broken file under a snapshot's
name. :class:`SnapshotStore` numbers the snapshots of a directory and keeps the last few.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import io
import json
import logging
import os
import pickle
import re
import struct
import sys
from collections.abc import Iterable
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

if TYPE_CHECKING:
    from computesat_sdk.registry import BoardRegistry

    from hwsim.config import SpacecraftConfig
    from hwsim.spacecraft import Spacecraft

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "SnapshotError",
    "SnapshotHeader",
    "SnapshotStore",
    "computesat_version",
    "config_digest",
    "load_snapshot",
    "read_header",
    "restore_into",
    "write_snapshot",
]

log = logging.getLogger(__name__)

MAGIC = b"CSATSNAP"
# 2: the body holds the subsystem objects of hwsim.subsystems (orbit, wings, power bus, loops,
# radiators) among the spacecraft's attributes; 1 held their state as flat attributes.
# 3: the Spacecraft class lives in hwsim.spacecraft (was hwsim.model.spacecraft), the thermal
# network settles at start and carries the parasitic ledger, boards know their supply.
# 4: the radiators carry their panels' isolation valves and trapped coolant, the loops their
# blocked flags (radvalve.P<nn>); a version 3 body lacks them.
FORMAT_VERSION = 4
_PREFIX = struct.Struct(">8sHI")  # magic, format version, header length
_MAX_HEADER_BYTES = 1 << 20
_NS_PER_S = 1_000_000_000
# Attributes of the model that are not its state: the configuration (identified by its digest
# in the header, supplied again on load) and the plug-in registry (this process's).
_CONFIG_REF = "config"
_REGISTRY_REF = "registry"
# Host wiring of the plug-in boards (a job executor, result listeners): this process's, not
# the model's; saved as this reference, loaded as None and re-attached by restore_into.
_HOST_REF = "host"


class SnapshotError(ValueError):
    """A snapshot file that cannot be used here; says what, and expected vs got."""

    def __init__(self, path: str | Path, what: str, expected: str, got: str) -> None:
        self.path = str(path)
        self.what = what
        self.expected = expected
        self.got = got
        super().__init__(f"snapshot {self.path}: {what}: expected {expected}, got {got}")


class SnapshotHeader(BaseModel):
    """What a snapshot is, readable without decoding its body."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format_version: int = Field(description="Snapshot format version (FORMAT_VERSION).")
    computesat_version: str = Field(description="computesat version that wrote the snapshot.")
    config_name: str = Field(description="Spacecraft configuration file name (or 'built-in').")
    config_digest: str = Field(description="SHA-256 of the canonical configuration JSON.")
    seed: int = Field(description="Seed the model was built with (its generators are saved).")
    mission_time_ns: int = Field(description="Mission time of the model state, ns.")
    model_time_ns: int = Field(description="Model time of the state (counts from 0), ns.")
    model_epoch_ns: int = Field(description="Mission time of model time 0, ns.")
    body_encoding: str = Field(description="How the body is encoded ('pickle').")
    body_bytes: int = Field(ge=0, description="Length of the body, bytes.")
    body_sha256: str = Field(description="SHA-256 of the body.")
    boards: dict[str, int] = Field(
        default_factory=dict, description="Plug-in board classes in the slots and their count."
    )
    python_version: str = Field("", description="Python that wrote the snapshot.")
    numpy_version: str = Field("", description="numpy that wrote the snapshot.")
    run_id: str = Field(
        "",
        description="The satellite run that wrote it ('computesat satellite' makes one per run "
        "and hwsim stamps it here; empty: not written under a supervisor). A supervised "
        "restart restores only snapshots of its own run.",
    )

    @property
    def mission_time_s(self) -> float:
        return self.mission_time_ns / _NS_PER_S


def computesat_version() -> str:
    """The installed computesat distribution's version (what a snapshot must match)."""
    try:
        return importlib.metadata.version("computesat")
    except importlib.metadata.PackageNotFoundError:  # running from a bare source tree
        return "0+unknown"


def config_digest(config: SpacecraftConfig) -> str:
    """SHA-256 of the configuration's canonical JSON: what a snapshot must have been of."""
    text = json.dumps(config.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


# ------------------------------------------------------------------------------------ body


def _settled_future(result: Any, error: str | None, cancelled: bool) -> futures.Future[Any]:
    future: futures.Future[Any] = futures.Future()
    if cancelled:
        future.cancel()
    elif error is not None:
        future.set_exception(RuntimeError(error))
    else:
        future.set_result(result)
    return future


def _host_wiring(model: Spacecraft) -> list[Any]:
    """The objects by which this process drives the boards (not part of the model)."""
    plug = model.plugin_slots
    if plug is None:
        return []
    wiring = [getattr(plug, "_notify", None)]
    for board in plug.boards:
        wiring += [getattr(board, "_executor", None), getattr(board, "_on_result", None)]
    return [w for w in wiring if w is not None]


def _rebuild_view(
    root: np.ndarray, offset: int, shape: tuple[int, ...], strides: tuple[int, ...], dtype: Any
) -> np.ndarray:
    return np.ndarray(shape, dtype=dtype, buffer=root, offset=offset, strides=strides)


class _Pickler(pickle.Pickler):
    """Pickles the model's attributes, keeping numpy views views of their base.

    The thermal state is one vector with named views into it (plates, legs, panels...); a
    plain pickle would copy each view and the restored model would step a vector its named
    arrays no longer see.
    """

    def __init__(self, file: io.BytesIO, model: Spacecraft) -> None:
        super().__init__(file, protocol=5)
        self._config_id = id(model.config)
        self._registry_id = id(getattr(model, "_registry", None))
        self._host_ids = {id(w) for w in _host_wiring(model)}

    def persistent_id(self, obj: Any) -> str | None:
        if id(obj) == self._config_id:
            return _CONFIG_REF
        if obj is not None and id(obj) == self._registry_id:
            return _REGISTRY_REF
        if id(obj) in self._host_ids:
            return _HOST_REF
        return None

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, futures.Future):
            # A board's job result a worker computes: the snapshot waits for it (a bounded
            # computation) and holds the outcome, so a restore needs no worker to finish it.
            futures.wait((obj,))
            if obj.cancelled():
                return _settled_future, (None, None, True)
            error = obj.exception()
            if error is not None:
                return _settled_future, (None, repr(error), False)
            return _settled_future, (obj.result(), None, False)
        if type(obj) is not np.ndarray or obj.base is None:
            return NotImplemented
        root = obj
        while isinstance(root.base, np.ndarray):
            root = root.base
        if root.base is not None or not root.flags.c_contiguous:
            return NotImplemented  # not a view of an array we own: saved as a copy
        offset = obj.__array_interface__["data"][0] - root.__array_interface__["data"][0]
        return _rebuild_view, (root, offset, obj.shape, obj.strides, obj.dtype)


# Modules whose classes a snapshot body may name (plus the installed board plug-ins).
_ALLOWED_PREFIXES = ("numpy.", "hwsim.", "computesat_sdk.", "pydantic.", "pydantic_core.")
_ALLOWED_NAMES = {
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "complex"),
    ("builtins", "slice"),
    ("builtins", "range"),
    ("builtins", "bytearray"),
    ("builtins", "object"),
    ("builtins", "float"),
    ("builtins", "int"),
    ("collections", "deque"),
    ("collections", "OrderedDict"),
    ("copyreg", "_reconstructor"),
    ("copyreg", "__newobj__"),
    ("enum", "Enum"),
    ("math", "inf"),
    ("numpy", "dtype"),
    ("numpy", "ndarray"),
    (__name__, "_rebuild_view"),
    (__name__, "_settled_future"),
}


class _Unpickler(pickle.Unpickler):
    def __init__(
        self,
        file: io.BytesIO,
        path: Path,
        config: SpacecraftConfig,
        registry: BoardRegistry | None,
        board_modules: Iterable[str],
    ) -> None:
        super().__init__(file)
        self._path = path
        self._refs = {_CONFIG_REF: config, _REGISTRY_REF: registry, _HOST_REF: None}
        self._board_modules = set(board_modules)

    def persistent_load(self, pid: Any) -> Any:
        if pid not in self._refs:
            raise SnapshotError(self._path, "body reference", "config, registry or host", repr(pid))
        return self._refs[pid]

    def find_class(self, module: str, name: str) -> Any:
        allowed = (
            (module, name) in _ALLOWED_NAMES
            or module.startswith(_ALLOWED_PREFIXES)
            or module in ("numpy", "hwsim", "computesat_sdk")
            or module in self._board_modules
        )
        if not allowed:
            raise SnapshotError(
                self._path,
                "body class",
                "classes of the spacecraft model (numpy, hwsim, computesat_sdk, board plug-ins)",
                f"{module}.{name}",
            )
        return super().find_class(module, name)


def _board_classes(model: Spacecraft) -> dict[str, int]:
    counts: dict[str, int] = {}
    plug = model.plugin_slots
    for board in plug.boards if plug is not None else ():
        key = f"{type(board).__module__}:{type(board).__qualname__}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def _encode(model: Spacecraft) -> bytes:
    buffer = io.BytesIO()
    try:
        _Pickler(buffer, model).dump(dict(vars(model)))
    except (pickle.PicklingError, TypeError, AttributeError) as exc:
        # A plug-in board holding something that cannot be saved (an open handle...).
        raise SnapshotError(
            "<new>", "model state", "saveable model and board state", repr(exc)
        ) from exc
    return buffer.getvalue()


# ------------------------------------------------------------------------------------ files


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform can open a directory
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_atomically(path: Path, data: Iterable[bytes]) -> None:
    """temp file beside ``path`` + fsync + rename: ``path`` is the old file or the new one,
    never a part of one, whenever the process or the host dies."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("wb") as f:
            for chunk in data:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def write_snapshot(
    model: Spacecraft,
    path: str | Path,
    *,
    config_name: str = "built-in",
    model_epoch_ns: int | None = None,
    run_id: str = "",
) -> SnapshotHeader:
    """Save ``model`` to ``path`` (atomically); returns the header written.

    ``model_epoch_ns`` is the mission time of the model's time 0 (what hwsim serve keeps);
    by default the model's own ``mission_time_origin_s`` rounded to ns.
    """
    path = Path(path)
    if model_epoch_ns is None:
        model_epoch_ns = round(model.mission_time_origin_s * _NS_PER_S)
    try:
        body = _encode(model)
    except SnapshotError as exc:
        raise SnapshotError(path, exc.what, exc.expected, exc.got) from exc
    model_time_ns = model.time_ns
    header = SnapshotHeader(
        format_version=FORMAT_VERSION,
        computesat_version=computesat_version(),
        config_name=config_name,
        config_digest=config_digest(model.config),
        seed=model.seed,
        mission_time_ns=model_epoch_ns + model_time_ns,
        model_time_ns=model_time_ns,
        model_epoch_ns=model_epoch_ns,
        body_encoding="pickle",
        body_bytes=len(body),
        body_sha256=hashlib.sha256(body).hexdigest(),
        boards=_board_classes(model),
        python_version=sys.version.split()[0],
        numpy_version=np.__version__,
        run_id=run_id,
    )
    head = header.model_dump_json().encode()
    _write_atomically(path, (_PREFIX.pack(MAGIC, FORMAT_VERSION, len(head)), head, body))
    return header


def _read_checked(path: Path) -> tuple[SnapshotHeader, memoryview]:
    """The header and the body of ``path``, after the checks that need no configuration."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or repr(exc)
        raise SnapshotError(path, "file", "a readable snapshot file", reason) from None
    if len(data) < _PREFIX.size:
        raise SnapshotError(
            path, "length", f"at least {_PREFIX.size} bytes", f"{len(data)} (truncated)"
        )
    magic, version, head_len = _PREFIX.unpack_from(data)
    if magic != MAGIC:
        raise SnapshotError(path, "magic", repr(MAGIC), f"{magic!r} (not a computesat snapshot)")
    if version != FORMAT_VERSION:
        raise SnapshotError(path, "format version", str(FORMAT_VERSION), str(version))
    if head_len > _MAX_HEADER_BYTES or _PREFIX.size + head_len > len(data):
        raise SnapshotError(
            path,
            "header",
            f"{head_len} header bytes",
            f"{len(data) - _PREFIX.size} bytes after the prefix (truncated)",
        )
    head = data[_PREFIX.size : _PREFIX.size + head_len]
    try:
        header = SnapshotHeader.model_validate_json(head)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"]) or "header"
        raise SnapshotError(
            path, "header", "a valid snapshot header", f"{where}: {problem['msg']}"
        ) from None
    if header.format_version != version:
        # A file that contradicts itself was not written by write_snapshot: refuse it rather
        # than guess which of the two is right.
        raise SnapshotError(
            path,
            "format version",
            f"the JSON header's format_version to equal the binary prefix's {version}",
            f"{header.format_version} in the JSON header",
        )
    body = memoryview(data)[_PREFIX.size + head_len :]
    if len(body) != header.body_bytes:
        raise SnapshotError(
            path,
            "body length",
            f"{header.body_bytes} bytes",
            f"{len(body)} bytes" + (" (truncated)" if len(body) < header.body_bytes else ""),
        )
    digest = hashlib.sha256(body).hexdigest()
    if digest != header.body_sha256:
        raise SnapshotError(
            path, "body SHA-256", header.body_sha256[:16] + "...", digest[:16] + "... (corrupt)"
        )
    return header, body


def read_header(path: str | Path, *, expect_config_digest: str | None = None) -> SnapshotHeader:
    """Check ``path`` without decoding its body: magic, format version, header, body length
    and digest, computesat version, and (if given) the configuration digest."""
    path = Path(path)
    header, _ = _read_checked(path)
    _check_compatible(path, header, expect_config_digest)
    return header


def _check_compatible(path: Path, header: SnapshotHeader, expect_config_digest: str | None) -> None:
    version = computesat_version()
    if header.computesat_version != version:
        raise SnapshotError(
            path,
            "computesat version",
            f"{version} (this hwsim)",
            f"{header.computesat_version} (the version that wrote it)",
        )
    if header.body_encoding != "pickle":
        raise SnapshotError(path, "body encoding", "pickle", header.body_encoding)
    if expect_config_digest is not None and header.config_digest != expect_config_digest:
        raise SnapshotError(
            path,
            "spacecraft configuration",
            f"digest {expect_config_digest[:16]}... (the configuration this hwsim runs)",
            f"digest {header.config_digest[:16]}... ({header.config_name})",
        )


def load_snapshot(
    path: str | Path,
    config: SpacecraftConfig,
    registry: BoardRegistry | None = None,
) -> tuple[SnapshotHeader, Spacecraft]:
    """A new :class:`Spacecraft` in the state ``path`` holds, for ``config`` (which must be
    the configuration it was taken of). The running simulation, if any, is not touched."""
    from hwsim.spacecraft import Spacecraft

    path = Path(path)
    header, body = _read_checked(path)
    _check_compatible(path, header, config_digest(config))
    if registry is None:
        from hwsim.boards.slots import default_registry

        registry = default_registry()
    # the installed plug-ins' modules, not the ones the file names: the file is not trusted
    # to widen what may be loaded
    board_modules = set()
    for plugin in registry.plugins.values():
        board_modules.add(getattr(plugin.factory, "__module__", ""))
        board_modules.add(plugin.value.partition(":")[0])
    try:
        state = _Unpickler(io.BytesIO(body), path, config, registry, board_modules).load()
    except SnapshotError:
        raise
    except Exception as exc:  # a plug-in that is no longer installed, a damaged body...
        raise SnapshotError(
            path, "body", "a model state this hwsim can load", f"{type(exc).__name__}: {exc}"
        ) from exc
    if not isinstance(state, dict) or "_time_ns" not in state:
        raise SnapshotError(path, "body", "the model's attributes", type(state).__name__)
    model = Spacecraft.__new__(Spacecraft)
    model.__dict__.update(state)
    if model.time_ns != header.model_time_ns:
        raise SnapshotError(
            path, "model time", f"{header.model_time_ns} ns (header)", f"{model.time_ns} ns"
        )
    return header, model


def restore_into(model: Spacecraft, loaded: Spacecraft) -> None:
    """Make ``model`` (the object every server holds) take the state of ``loaded``; the
    boards keep this process's job executor and result listener (``attach_executor``)."""
    old_plug = model.plugin_slots
    executor = notify = None
    if old_plug is not None:
        notify = getattr(old_plug, "_notify", None)
        executor = next(
            (e for b in old_plug.boards if (e := getattr(b, "_executor", None)) is not None),
            None,
        )
    state = dict(vars(loaded))
    model.__dict__.clear()
    model.__dict__.update(state)
    new_plug = model.plugin_slots
    attach = getattr(new_plug, "attach_executor", None)
    if attach is not None and (executor is not None or notify is not None):
        attach(executor, notify)


# ------------------------------------------------------------------------------------ store


_NAME = re.compile(r"^hwsim-(\d{6})-t(\d+)\.snap$")


@dataclass(frozen=True)
class StoredSnapshot:
    path: Path
    sequence: int
    mission_time_ns: int


class SnapshotStore:
    """A directory of numbered snapshots: ``hwsim-<sequence>-t<mission ns>.snap``.

    The sequence grows with every snapshot written, so "latest" is the last one written
    even after a restore took mission time back; the last ``keep`` are kept.
    """

    def __init__(self, directory: str | Path, keep: int = 5) -> None:
        if keep < 1:
            raise ValueError(f"keep must be >= 1, got {keep}")
        self.directory = Path(directory)
        self.keep = keep

    def snapshots(self) -> list[StoredSnapshot]:
        """Snapshot files of the directory, oldest first."""
        found = []
        with contextlib.suppress(FileNotFoundError):
            for entry in self.directory.iterdir():
                m = _NAME.match(entry.name)
                if m and entry.is_file():
                    found.append(StoredSnapshot(entry, int(m.group(1)), int(m.group(2))))
        return sorted(found, key=lambda s: s.sequence)

    def next_path(self, mission_time_ns: int) -> Path:
        existing = self.snapshots()
        sequence = existing[-1].sequence + 1 if existing else 1
        return self.directory / f"hwsim-{sequence:06d}-t{max(0, mission_time_ns)}.snap"

    def write(
        self,
        model: Spacecraft,
        *,
        config_name: str = "built-in",
        model_epoch_ns: int | None = None,
        run_id: str = "",
    ) -> tuple[Path, SnapshotHeader]:
        """Write the next snapshot and drop the oldest beyond ``keep``."""
        if model_epoch_ns is None:
            model_epoch_ns = round(model.mission_time_origin_s * _NS_PER_S)
        path = self.next_path(model_epoch_ns + model.time_ns)
        header = write_snapshot(
            model, path, config_name=config_name, model_epoch_ns=model_epoch_ns, run_id=run_id
        )
        self.prune()
        return path, header

    def prune(self) -> list[Path]:
        """Delete all but the newest ``keep`` snapshots; returns what was deleted."""
        stale = self.snapshots()[: -self.keep]
        for s in stale:
            with contextlib.suppress(FileNotFoundError):
                s.path.unlink()
        return [s.path for s in stale]

    def latest_valid(
        self, expect_config_digest: str | None = None
    ) -> tuple[Path | None, list[SnapshotError]]:
        """The newest snapshot that passes every header check, and why newer ones did not."""
        rejected: list[SnapshotError] = []
        for s in reversed(self.snapshots()):
            try:
                read_header(s.path, expect_config_digest=expect_config_digest)
            except SnapshotError as exc:
                rejected.append(exc)
                continue
            return s.path, rejected
        return None, rejected
