"""Snapshots of the whole model: bit-identical continuation, the file checks, the store."""

from __future__ import annotations

import json
import os
import struct
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from computesat_sdk.kernels import verify as kernels_verify

from hwsim import snapshot as snap
from hwsim.app import Simulation
from hwsim.boards.slots import default_registry
from hwsim.config import SpacecraftConfig, ThermalConfig, simple_config, with_boards
from hwsim.faults import fault_catalogue
from hwsim.ports import PortServer, simctl_handler
from hwsim.snapshot import (
    SnapshotError,
    SnapshotStore,
    load_snapshot,
    read_header,
    restore_into,
    write_snapshot,
)
from hwsim.spacecraft import Spacecraft
from icd.device import DeviceReply, DeviceRequest
from runtime.clock import WallClock

T1_S = 120.0  # the snapshot: the GPU job runs, another is queued, faults active and pending
T2_S = 420.0  # by then the queued job has run and completed, the scheduled faults fired
READ_EVERY = 5  # steps between device reads (the radiator sensors draw sensor noise)
READ_DEVICES = [
    "radsensor.P01.S1",
    "radsensor.P02.S1",
    "radsensor.P02.S2",
    "slot.001",
    "slot.003",
    "slot.010",
    "pump.L1.A",
    "loop.L1",
    "battery",
    "wing.W1",
]


@pytest.fixture(scope="module")
def config() -> SpacecraftConfig:
    # Simple slots (the vectorised dies) with plug-in boards in the first three; from the
    # configured 300 K (settled, the 120 kW plates sit at ~343 K, where a busy ref-gpu
    # throttles and the jobs' durations below no longer hold)
    cfg = with_boards(simple_config(), {"ref-gpu": 2, "acme-photon7": 1})
    return cfg.model_copy(update={"thermal": ThermalConfig(settle_at_start=False)})


def _job(job_id: int, duration_s: float) -> dict[str, Any]:
    """submit_job arguments that keep a ref-gpu busy for about ``duration_s`` (matmul 512:
    up to ~170 s within its iteration limit)."""
    flops = 2 * 512**3
    return {
        "job_id": job_id,
        "kernel": "matmul",
        "size": 512,
        "seed": job_id,
        "iterations": int(45e12 * duration_s / flops),
    }


def _prepared(config: SpacecraftConfig, slow_faults: bool = True) -> Spacecraft:
    """A model with everything a snapshot must carry in play by T1_S.

    With ``slow_faults`` a leak and pump wear change the thermal coefficients every step;
    without, the model runs on its cached coefficients and die-class histories, which the
    snapshot must then carry as they are.
    """
    sc = Spacecraft(config, seed=11, registry=default_registry())
    if slow_faults:
        sc.inject_fault("radiator_puncture", "radiator.P01", {"leak_rate_kg_s": 0.05})
        sc.inject_fault("pump_degradation", "pump.L2.A", {"head_loss_per_hour": 2.0})
    else:
        sc.inject_fault("array_drive_stuck", "wing.W2")
        sc.inject_fault("battery_cell_failure", "battery", {"cells": 2})
    sc.inject_fault("sensor_noisy", "radsensor.P02.S2")
    sc.inject_fault("seu_burst", "slot.010", {"rate_multiplier": 1e6})
    # pending at T1_S: fire between T1_S and T2_S
    sc.inject_fault("sensor_drift", "radsensor.P02.S1", at_time_s=200.0)
    sc.inject_fault("board_upset", "slot.001", {"kind": "bit_flip_result"}, at_time_s=260.0)
    sc.run(70.0, 1.0)  # the GPUs boot in 60 s
    for job_id, duration_s in ((1, 100.0), (2, 150.0)):
        result = sc.command("slot.001", "submit_job", _job(job_id, duration_s))
        assert result == {"accepted": True}, f"job {job_id} refused: {result}"
    return sc


def _drive(sc: Spacecraft, until_s: float) -> list[dict[str, Any]]:
    """Step to ``until_s`` in 1 s steps, reading devices every READ_EVERY steps."""
    reads = []
    steps = 0
    while sc.time_s < until_s:
        sc.step(1.0)
        steps += 1
        if steps % READ_EVERY == 0:
            reads.append({d: sc.read(d) for d in READ_DEVICES} | {"t": sc.time_s})
    return reads


def _results(sc: Spacecraft) -> list[dict[str, Any]]:
    assert sc._plug is not None
    return [r.model_dump(mode="json") for b in sc._plug.boards for r in b.take_results()]


def _arrays(sc: Spacecraft) -> dict[str, np.ndarray]:
    return {k: v for k, v in vars(sc).items() if isinstance(v, np.ndarray)}


@pytest.mark.parametrize("slow_faults", [True, False], ids=["leaking", "cached"])
def test_restored_run_continues_bit_for_bit(
    config: SpacecraftConfig, tmp_path: Path, slow_faults: bool
):
    original = _prepared(config, slow_faults)
    _drive(original, T1_S)
    gpu = original._plug.by_slot[0].board  # type: ignore[union-attr]
    health = gpu.health()
    assert health.active_job_id == "1" and health.queued_jobs == 1, (
        f"at the snapshot job 1 should run and job 2 wait, got {health}"
    )
    assert len(original._pending) == 2 and len(original._faults) == 4, "faults not in play"
    path = tmp_path / "t1.snap"
    header = write_snapshot(original, path)
    assert header.model_time_ns == round(T1_S * 1e9), header

    _, restored = load_snapshot(path, config, default_registry())
    reads_original = _drive(original, T2_S)
    reads_restored = _drive(restored, T2_S)

    assert reads_restored == reads_original, "device reads after the restore differ"
    truth_original, truth_restored = original.truth(), restored.truth()
    assert truth_restored == truth_original, "truth() after the restore differs"
    arrays_original, arrays_restored = _arrays(original), _arrays(restored)
    assert arrays_restored.keys() == arrays_original.keys()
    for name, a in arrays_original.items():
        b = arrays_restored[name]
        assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True), (
            f"{name} differs after the restore"
        )
    results = _results(original)
    assert _results(restored) == results, "the boards' job results differ"
    completed = {r["job_id"]: r for r in results if r["status"] == "completed"}
    assert set(completed) == {"1", "2"}, f"both jobs should complete by T2, got {results}"
    # job 2 was running when the scheduled bit flip fired: its digest is wrong in both runs
    assert completed["2"]["digest"] != "" and len(restored._pending) == 0
    assert [f.fault_id for f in restored.active_faults()] == [
        f.fault_id for f in original.active_faults()
    ]
    seu_total = truth_original["seu_total"]
    assert seu_total > 0, "the seu burst should have drawn upsets from the random stream"


def test_restore_into_keeps_the_object_and_its_views(config: SpacecraftConfig, tmp_path: Path):
    a = _prepared(config)
    path = tmp_path / "a.snap"
    write_snapshot(a, path)
    served = Spacecraft(config, seed=99, registry=default_registry())
    step = served.step  # what the physics loop holds
    _, loaded = load_snapshot(path, config)
    restore_into(served, loaded)
    for _ in range(30):
        step(1.0)
        a.step(1.0)
    assert served.truth() == a.truth(), "the restored served model diverged"
    # the named thermal arrays are views of the state vector, as in a built model
    assert np.shares_memory(served._cp_temp, served._z), "_cp_temp is no longer a view of _z"


# ---------------------------------------------------------------------------- bad files


@pytest.fixture(scope="module")
def good_file(config: SpacecraftConfig, tmp_path_factory: pytest.TempPathFactory) -> Path:
    sc = Spacecraft(config, seed=1, registry=default_registry())
    sc.run(10.0, 1.0)
    path = tmp_path_factory.mktemp("snap") / "good.snap"
    write_snapshot(sc, path)
    return path


def _rewrite_header(src: Path, dst: Path, **changes: Any) -> None:
    data = src.read_bytes()
    magic, version, n = struct.unpack_from(">8sHI", data)
    header = json.loads(data[14 : 14 + n]) | changes
    head = json.dumps(header).encode()
    dst.write_bytes(struct.pack(">8sHI", magic, version, len(head)) + head + data[14 + n :])


def _error(path: Path, config: SpacecraftConfig) -> SnapshotError:
    with pytest.raises(SnapshotError) as info:
        load_snapshot(path, config)
    return info.value


def test_truncated_file(good_file: Path, config: SpacecraftConfig, tmp_path: Path):
    data = good_file.read_bytes()
    for cut in (len(data) - 1, len(data) // 2, 100, 5, 0):
        bad = tmp_path / f"cut{cut}.snap"
        bad.write_bytes(data[:cut])
        exc = _error(bad, config)
        assert "truncated" in str(exc), f"cut at {cut}: {exc}"


def test_wrong_magic(good_file: Path, config: SpacecraftConfig, tmp_path: Path):
    bad = tmp_path / "magic.snap"
    bad.write_bytes(b"PK\x03\x04" + good_file.read_bytes()[4:])
    exc = _error(bad, config)
    assert exc.what == "magic" and "CSATSNAP" in exc.expected, str(exc)
    assert "not a computesat snapshot" in exc.got, str(exc)


def test_other_format_version(good_file: Path, config: SpacecraftConfig, tmp_path: Path):
    data = bytearray(good_file.read_bytes())
    struct.pack_into(">H", data, 8, snap.FORMAT_VERSION + 1)
    bad = tmp_path / "format.snap"
    bad.write_bytes(bytes(data))
    exc = _error(bad, config)
    assert exc.what == "format version", str(exc)
    assert (exc.expected, exc.got) == (str(snap.FORMAT_VERSION), str(snap.FORMAT_VERSION + 1))


def test_a_header_contradicting_the_prefix_version_is_refused_naming_both(
    good_file: Path, config: SpacecraftConfig, tmp_path: Path
):
    bad = tmp_path / "contradiction.snap"
    _rewrite_header(good_file, bad, format_version=snap.FORMAT_VERSION + 7)
    exc = _error(bad, config)
    assert exc.what == "format version", str(exc)
    assert str(snap.FORMAT_VERSION) in exc.expected and "prefix" in exc.expected, str(exc)
    assert str(snap.FORMAT_VERSION + 7) in exc.got and "JSON header" in exc.got, str(exc)


def test_restore_latest_takes_only_this_runs_snapshots_up_to_the_start_time(
    config: SpacecraftConfig, tmp_path: Path
):
    """What a supervised restart restores: the newest snapshot of its run (--run-id) no later
    than --start-time-ns; a user's explicit file is restored whatever run wrote it."""
    from hwsim.app import HwsimSettings, _restore_at_start

    store = SnapshotStore(tmp_path, keep=10)
    sc = Spacecraft(config, seed=3, registry=default_registry())
    written = {}
    for run_id in ("mine", "mine", "other", "mine"):
        sc.run(10.0, 1.0)
        path, header = store.write(sc, model_epoch_ns=0, run_id=run_id)
        written[path.name] = (run_id, header.mission_time_ns)
        assert read_header(path).run_id == run_id
    names = list(written)
    registry = default_registry()

    def restore(**settings: Any) -> tuple[Any, str]:
        chosen = HwsimSettings(snapshot_dir=tmp_path, **settings)
        restored, how = _restore_at_start(chosen, store, config, registry)
        return (restored[0].mission_time_ns if restored else None), how

    t = [written[n][1] for n in names]
    # its own run's newest (the newer snapshot of another run is passed over)
    assert restore(restore="latest", run_id="mine") == (
        t[3],
        f"restored {names[3]} (mission {t[3] / 1e9:.1f} s)",
    )
    # never one later than the time the new hwsim starts at
    at, how = restore(restore="latest", run_id="mine", start_time_ns=t[2])
    assert at == t[1] and names[1] in how, how
    # a run with no snapshot of its own starts fresh, and says why
    at, how = restore(restore="latest", run_id="new")
    assert at is None and how == "started fresh: no usable snapshot (4 of another run)", how
    at, how = restore(restore="latest", run_id="mine", start_time_ns=t[0] - 1)
    assert at is None and "3 later than the start time" in how and "1 of another run" in how, how
    # an explicit file: any valid one
    at, how = restore(restore=str(tmp_path / names[2]), run_id="mine", start_time_ns=0)
    assert at == t[2] and how.startswith(f"restored {names[2]}"), how


def test_other_computesat_version(good_file: Path, config: SpacecraftConfig, tmp_path: Path):
    bad = tmp_path / "version.snap"
    _rewrite_header(good_file, bad, computesat_version="0.0.1")
    exc = _error(bad, config)
    assert exc.what == "computesat version", str(exc)
    assert snap.computesat_version() in exc.expected and "0.0.1" in exc.got, str(exc)


def test_other_configuration(good_file: Path, config: SpacecraftConfig):
    other = with_boards(simple_config(), {"ref-cpu": 1})
    exc = _error(good_file, other)
    assert exc.what == "spacecraft configuration", str(exc)
    assert snap.config_digest(other)[:16] in exc.expected, str(exc)
    assert snap.config_digest(config)[:16] in exc.got, str(exc)


def test_corrupt_body_and_header(good_file: Path, config: SpacecraftConfig, tmp_path: Path):
    data = bytearray(good_file.read_bytes())
    data[-100] ^= 0xFF
    bad = tmp_path / "flip.snap"
    bad.write_bytes(bytes(data))
    exc = _error(bad, config)
    assert exc.what == "body SHA-256" and "corrupt" in exc.got, str(exc)
    bad_header = tmp_path / "header.snap"
    _rewrite_header(good_file, bad_header, mission_time_ns="soon")
    exc = _error(bad_header, config)
    assert exc.what == "header" and "mission_time_ns" in exc.got, str(exc)
    missing = _error(tmp_path / "nothing.snap", config)
    assert missing.what == "file", str(missing)


def test_body_may_only_name_model_classes(good_file: Path, config: SpacecraftConfig, tmp_path):
    import pickle

    body = pickle.dumps({"_time_ns": 0, "x": os.system}, protocol=5)
    data = good_file.read_bytes()
    n = struct.unpack_from(">8sHI", data)[2]
    header = json.loads(data[14 : 14 + n])
    header |= {"body_bytes": len(body), "body_sha256": snap.hashlib.sha256(body).hexdigest()}
    head = json.dumps(header).encode()
    bad = tmp_path / "foreign.snap"
    bad.write_bytes(data[:8] + struct.pack(">HI", snap.FORMAT_VERSION, len(head)) + head + body)
    exc = _error(bad, config)
    assert exc.what == "body class" and "system" in exc.got, str(exc)


def test_header_readable_without_the_body(good_file: Path, config: SpacecraftConfig):
    header = read_header(good_file, expect_config_digest=snap.config_digest(config))
    assert header.model_time_ns == 10 * 10**9 and header.seed == 1
    assert header.boards == {
        "hwsim.boards.reference:RefGpuBoard": 2,
        "acme_board.photon7:Photon7Board": 1,
    }, header.boards


# ---------------------------------------------------------------------------- writing, store


def test_a_failed_write_leaves_the_old_file(
    good_file: Path, config: SpacecraftConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    target = tmp_path / "s.snap"
    target.write_bytes(good_file.read_bytes())
    sc = Spacecraft(config, seed=2, registry=default_registry())

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(snap.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        write_snapshot(sc, target)
    monkeypatch.undo()
    assert target.read_bytes() == good_file.read_bytes(), "the old snapshot was damaged"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.snap"], "a temp file was left"
    read_header(target)


def test_unsaveable_board_state_is_a_clear_error(config: SpacecraftConfig, tmp_path: Path):
    sc = Spacecraft(config, seed=2, registry=default_registry())
    sc._plug.boards[0].lock = threading.Lock()  # type: ignore[union-attr]
    with pytest.raises(SnapshotError) as info:
        write_snapshot(sc, tmp_path / "x.snap")
    assert info.value.what == "model state" and "lock" in info.value.got, str(info.value)
    assert not list(tmp_path.iterdir()), "nothing should be written"


def test_store_keeps_the_last_n_and_finds_the_newest_valid(
    config: SpacecraftConfig, tmp_path: Path
):
    store = SnapshotStore(tmp_path, keep=3)
    sc = Spacecraft(config, seed=3, registry=default_registry())
    written = []
    for _ in range(5):
        sc.run(10.0, 1.0)
        path, header = store.write(sc)
        written.append((path, header.model_time_ns))
    names = [s.path for s in store.snapshots()]
    assert names == [p for p, _ in written[2:]], f"expected the last 3 kept, got {names}"
    # the newest is damaged: latest_valid passes over it to the one before
    newest = written[-1][0]
    newest.write_bytes(newest.read_bytes()[:-10])
    latest, rejected = store.latest_valid(snap.config_digest(config))
    assert latest == written[-2][0], f"expected {written[-2][0]}, got {latest}"
    assert len(rejected) == 1 and "truncated" in str(rejected[0]), rejected
    # numbering goes on after the highest, even when mission time went back
    assert store.next_path(0).name.startswith("hwsim-000006-"), store.next_path(0)
    empty, _ = SnapshotStore(tmp_path / "none").latest_valid()
    assert empty is None


# ---------------------------------------------------------------------------- simctl ops


def _ask(server: PortServer, op: str, **args: Any) -> DeviceReply:
    return server.answer(DeviceRequest(id=1, op=op, args=args).pack())


def test_simctl_snapshot_and_restore_ops(config: SpacecraftConfig, tmp_path: Path):
    model = Spacecraft(config, seed=5, registry=default_registry())
    clock = WallClock(start_ns=10**18)
    sim = Simulation(model, clock, 10**18, registry=default_registry())
    # answer() needs no socket: the handler is exercised without ZeroMQ
    handler = simctl_handler(model, clock, fault_catalogue, lambda: sim.epoch_ns, snapshots=sim)
    server = PortServer(None, "inproc://simctl", clock, handler, "simctl")  # type: ignore[arg-type]
    no_dir = _ask(server, "snapshot")
    assert not no_dir.ok and no_dir.error is not None
    assert no_dir.error.code == "bad_argument" and "--snapshot-dir" in no_dir.error.message
    bad_type = _ask(server, "snapshot", path=7)
    assert bad_type.error is not None and bad_type.error.code == "bad_argument", bad_type
    model.run(20.0, 1.0)
    saved = _ask(server, "snapshot", path=str(tmp_path / "s.snap"))
    assert saved.ok and saved.result is not None, saved
    assert saved.result["mission_time_ns"] == 10**18 + 20 * 10**9, saved.result
    model.run(30.0, 1.0)
    before = model.truth()
    refused = _ask(server, "restore", path=str(tmp_path / "missing.snap"))
    assert refused.error is not None and refused.error.code == "bad_argument", refused
    assert "missing.snap" in refused.error.message, refused.error.message
    assert model.truth() == before, "a refused restore changed the model"
    restored = _ask(server, "restore", path=str(tmp_path / "s.snap"))
    assert restored.ok and restored.result is not None, restored
    assert model.time_s == 20.0, model.time_s
    assert 10**18 + 20 * 10**9 <= clock.now_ns() < 10**18 + 50 * 10**9, clock.now_ns()
    assert sim.next_snapshot_ns == 10**18 + 20 * 10**9 + sim.period_ns
    plain = simctl_handler(model, clock, fault_catalogue)
    without = PortServer(None, "inproc://x", clock, plain, "simctl")  # type: ignore[arg-type]
    reply = _ask(without, "snapshot", path=str(tmp_path / "t.snap"))
    assert reply.error is not None and reply.error.code == "unknown_op", reply


class _HostExecutor:
    """Stands in for a job executor a host attaches to its boards (holds a lock, a pool)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(1)


def test_host_wiring_and_worker_results(
    config: SpacecraftConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A board with a job executor attached: the executor and listeners are the process's,
    not state (loaded as None, re-attached on restore); a result a worker computes is waited
    for and saved as its outcome."""
    from hwsim.boards.slots import PluginSlots

    sc = _prepared(config)
    assert sc._plug is not None
    executor = _HostExecutor()
    try:
        board = sc._plug.boards[0]
        board._executor = executor  # type: ignore[attr-defined]
        board._on_result = lambda: executor  # type: ignore[attr-defined]
        sc._plug._notify = lambda: executor  # type: ignore[attr-defined]
        computing = executor.pool.submit(lambda: ("digest-of-job-1", 64))
        board._active.future = computing  # type: ignore[union-attr]
        write_snapshot(sc, tmp_path / "wired.snap")
        _, loaded = load_snapshot(tmp_path / "wired.snap", config)
        loaded_board = loaded._plug.boards[0]  # type: ignore[union-attr]
        assert loaded_board._executor is None and loaded_board._on_result is None
        assert loaded._plug._notify is None  # type: ignore[union-attr]
        saved = loaded_board._active.future
        assert saved is not None and saved.done() and saved.result() == ("digest-of-job-1", 64)

        attached: list[tuple[Any, Any]] = []
        monkeypatch.setattr(
            PluginSlots,
            "attach_executor",
            lambda self, ex, notify: attached.append((ex, notify)),
            raising=False,
        )
        notify = sc._plug._notify  # type: ignore[attr-defined]
        restore_into(sc, loaded)
        assert attached == [(executor, notify)], "the restored boards lost the host's executor"
    finally:
        executor.pool.shutdown()


def test_snapshot_while_the_real_worker_pool_computes_restores_the_same_result(
    config: SpacecraftConfig, tmp_path: Path
):
    """hwsim's own job executor (worker processes, as `hwsim serve` attaches it): a snapshot
    taken while a worker computes the running job's result waits for it; restored into a
    running hwsim (restore_into) or at start (the executor attached after loading), the job
    ends at the same mission time with the same digest as a run that computed it inline."""
    from computesat_sdk.contract import JobSpec

    from hwsim.boards.executor import SlotExecutor

    # ~1.1 GFLOP on the host (tens of ms to a second); 5 s of the GPU's model.
    job = {"job_id": 9, "kernel": "matmul", "size": 800, "seed": 4, "iterations": 0}
    job["iterations"] = int(45e12 * 5.0 / (2 * 800**3))
    spec = JobSpec(job_id="9", kernel="matmul", size=800, seed=4, iterations=job["iterations"])

    def booted() -> Spacecraft:
        sc = Spacecraft(config, seed=11, registry=default_registry())
        sc.run(70.0, 1.0)
        return sc

    def finish(sc: Spacecraft) -> tuple[str | None, float, str]:
        _drive(sc, sc.time_s + 10.0)
        (result,) = sc.command("slot.001", "take_results", {})["results"]
        return result["digest"], result["end_mission_time_s"], result["status"]

    inline = booted()
    assert inline.command("slot.001", "submit_job", job) == {"accepted": True}
    expected = finish(inline)
    assert expected[2] == "completed" and kernels_verify(spec, expected[0]), expected

    executor = SlotExecutor(workers=1, processes=True)
    try:
        executor.warm()
        notified: list[int] = []
        live = booted()
        assert live._plug is not None
        live._plug.attach_executor(executor, lambda: notified.append(1))
        assert live.command("slot.001", "submit_job", job) == {"accepted": True}
        live.step(1.0)  # the job starts: its result is handed to a worker process
        board = live._plug.boards[0]
        future = board._active.future  # type: ignore[attr-defined, union-attr]
        assert future is not None and executor.submitted == 1, "the job went to the pool"
        write_snapshot(live, tmp_path / "computing.snap")
        assert future.done(), "the snapshot waited for the worker's result"

        # Restored into a running hwsim whose boards have the pool attached.
        _, loaded = load_snapshot(tmp_path / "computing.snap", config, default_registry())
        running = booted()
        assert running._plug is not None
        running._plug.attach_executor(executor, lambda: notified.append(2))
        restore_into(running, loaded)
        assert running._plug.boards[0]._executor is executor  # type: ignore[attr-defined]
        assert finish(running) == expected, "restored into a running hwsim"

        # Restored at start: loaded, then the executor attached (hwsim serve's order).
        _, at_start = load_snapshot(tmp_path / "computing.snap", config, default_registry())
        assert at_start._plug is not None
        at_start._plug.attach_executor(executor, lambda: notified.append(3))
        assert finish(at_start) == expected, "restored at start"
        assert finish(live) == expected, "the snapshotted model itself"
        assert executor.submitted == 1, "restored models reuse the saved result, no recompute"
    finally:
        executor.close()
