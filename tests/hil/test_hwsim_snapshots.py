"""Snapshots of a real ``computesat hwsim serve`` process: periodic ones in its directory,
restore through simulation control, ``--restore latest|FILE`` at start.

hwsim runs accelerated (x20) on random ports; every wait is a mission-time timeout on a clock
anchored to hwsim's time reference.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import zmq.asyncio

from computesat.launcher import ChildProcess, _start_child
from ground.simctl import SimControl
from hwsim.boards.slots import default_registry
from hwsim.config import default_config
from hwsim.snapshot import SnapshotStore, load_snapshot, read_header
from runtime.clock import NS_PER_S, WallClock
from runtime.ports import DevicePort, DevicePortError

SPEED = 20.0
PERIOD_S = 30.0


async def _start(*args: str) -> ChildProcess:
    return await _start_child(
        "hwsim",
        [
            "hwsim",
            "serve",
            "--device-endpoint",
            "tcp://127.0.0.1:0",
            "--simctl-endpoint",
            "tcp://127.0.0.1:0",
            "--clock",
            "accelerated",
            "--speed",
            str(SPEED),
            *args,
        ],
        None,
        60.0,
    )


def _endpoints(child: ChildProcess) -> dict[str, str]:
    return dict(re.findall(r"(\w+)=(\S+)", child.ready_line))


async def _clock(sim: SimControl) -> WallClock:
    """A clock anchored to hwsim's mission time: what the test's timeouts run on."""
    t = await sim.time()
    return WallClock(t["clock_speed"], start_ns=t["mission_time_ns"])


async def _wait_until(
    clock: WallClock, predicate: Callable[[], Awaitable[bool]], timeout_s: float, what: str
) -> None:
    deadline_ns = clock.now_ns() + round(timeout_s * NS_PER_S)
    while not await predicate():
        if clock.now_ns() > deadline_ns:
            raise TimeoutError(f"{what}: not within {timeout_s} mission s")
        await clock.sleep(1.0)


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value))


@pytest.fixture
async def hwsim(tmp_path: Path) -> AsyncIterator[tuple[ChildProcess, SimControl]]:
    child = await _start("--snapshot-dir", str(tmp_path), "--snapshot-period-s", str(PERIOD_S))
    try:
        async with SimControl(_endpoints(child)["simctl"]) as sim:
            yield child, sim
    finally:
        assert await child.stop() == 0, "\n".join(child.output[-20:])


async def test_periodic_snapshot_then_restore_through_simctl(
    hwsim: tuple[ChildProcess, SimControl], tmp_path: Path
):
    child, sim = hwsim
    store = SnapshotStore(tmp_path)
    await sim.inject("pump_seizure", "pump.L1.A")
    t0 = (await sim.time())["mission_time_ns"] / NS_PER_S
    await sim.inject("sensor_stuck", "radsensor.P01.S1", at_time_s=t0 + 3000.0)
    clock = await _clock(sim)

    async def snapshot_written() -> bool:
        return bool(store.snapshots())

    await _wait_until(clock, snapshot_written, 20 * PERIOD_S, "a periodic snapshot")
    path = store.snapshots()[0].path
    header = read_header(path)
    assert header.model_time_ns % NS_PER_S == 0 and header.model_time_ns >= PERIOD_S * NS_PER_S

    async def moved_on() -> bool:
        t = await sim.time()
        return t["mission_time_ns"] > header.mission_time_ns + 20 * NS_PER_S

    await _wait_until(clock, moved_on, 20 * PERIOD_S, "mission time past the snapshot")
    before = await sim.truth()

    # A truncated file is refused with the reason; hwsim runs on, not restored.
    bad = tmp_path / "bad.snap"
    bad.write_bytes(path.read_bytes()[:-1000])
    with pytest.raises(DevicePortError) as refused:
        await sim.restore(str(bad))
    assert refused.value.code == "bad_argument" and "truncated" in str(refused.value), str(
        refused.value
    )
    assert (await sim.truth())["time_s"] >= before["time_s"], "a refused restore moved time"

    restored = await sim.restore(str(path))
    assert restored["mission_time_ns"] == header.mission_time_ns, restored
    context = zmq.asyncio.Context()
    try:
        async with DevicePort(context, _endpoints(child)["device"], clock, timeout_s=60) as dev:
            timeref = await dev.read("timeref")
            pump = await dev.read("pump.L1.A")
            truth = await sim.truth()
    finally:
        context.destroy(linger=0)
    # the hardware's time went back to the snapshot's and continues from there
    now_ns = timeref["mission_time_ns"]
    assert header.mission_time_ns <= now_ns < before["time_s"] * NS_PER_S + header.model_epoch_ns
    assert pump["state"] == "seized", pump
    faults = {(f["fault_id"], f["active"]) for f in await sim.active_faults()}
    assert faults == {("pump_seizure", True), ("sensor_stuck", False)}, faults
    # the served model is the snapshot's state stepped on: a local restore stepped to the
    # same model time is identical to it
    _, local = load_snapshot(path, default_config(), default_registry())
    assert truth["time_s"] >= local.time_s, (truth["time_s"], local.time_s)
    while local.time_s < truth["time_s"]:
        local.step(1.0)
    assert _plain(local.truth()) == _plain(truth), "the served restore differs from the file"

    # and the physics runs on from the restored time
    async def stepping_on() -> bool:
        return (await sim.truth())["time_s"] >= truth["time_s"] + 10.0

    await _wait_until(clock, stepping_on, 20 * PERIOD_S, "physics after the restore")


async def test_restore_latest_at_start_skips_a_bad_newest(tmp_path: Path):
    child = await _start("--snapshot-dir", str(tmp_path), "--restore", "latest")
    try:
        assert any("no valid snapshot" in line for line in child.output), child.output
        async with SimControl(_endpoints(child)["simctl"]) as sim:
            assert (await sim.time())["model_time_s"] < 600.0, "should have started fresh"
            await sim.inject("battery_cell_failure", "battery", {"cells": 3})
            saved = await sim.snapshot()
    finally:
        assert await child.stop() == 0
    header = read_header(saved["path"])
    assert (
        Path(saved["path"]).parent == tmp_path
        and header.mission_time_ns == saved["mission_time_ns"]
    )
    # a newer snapshot that is damaged is passed over
    newest = tmp_path / "hwsim-000099-t0.snap"
    shutil.copyfile(saved["path"], newest)
    newest.write_bytes(newest.read_bytes()[:200])

    child = await _start("--snapshot-dir", str(tmp_path), "--restore", "latest")
    try:
        assert any("passing over" in line and newest.name in line for line in child.output), (
            child.output
        )
        async with SimControl(_endpoints(child)["simctl"]) as sim:
            t = await sim.time()
            assert t["mission_time_ns"] >= header.mission_time_ns
            assert t["model_time_s"] >= header.model_time_ns / NS_PER_S
            truth = await sim.truth()
            faults = [f["fault_id"] for f in await sim.active_faults()]
    finally:
        assert await child.stop() == 0
    assert faults == ["battery_cell_failure"], faults
    assert truth["time_s"] >= header.model_time_ns / NS_PER_S


async def test_restore_of_a_bad_file_at_start_says_why(tmp_path: Path):
    bad = tmp_path / "notes.snap"
    bad.write_bytes(b"these are not the bytes you are looking for")
    with pytest.raises(RuntimeError) as failed:
        await _start("--restore", str(bad))
    assert "magic" in str(failed.value) and "notes.snap" in str(failed.value), str(failed.value)


async def _cli(cwd: Path, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "computesat",
        *args,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_cli_snapshot_and_restore(hwsim: tuple[ChildProcess, SimControl], tmp_path: Path):
    child, sim = hwsim
    endpoint = _endpoints(child)["simctl"]
    work = tmp_path / "work"
    work.mkdir()
    # a relative --out is the caller's, not hwsim's working directory
    rc, out, err = await _cli(
        work, "hwsim", "snapshot", "--out", "mine.snap", "--simctl-endpoint", endpoint
    )
    assert rc == 0, err
    saved = json.loads(out)
    assert saved["path"] == str(work / "mine.snap") and (work / "mine.snap").is_file(), saved
    rc, out, err = await _cli(work, "hwsim", "restore", "mine.snap", "--simctl-endpoint", endpoint)
    assert rc == 0, err
    assert json.loads(out)["mission_time_ns"] == saved["mission_time_ns"], out
    (work / "junk.snap").write_bytes(b"\x00" * 64)
    rc, out, err = await _cli(work, "hwsim", "restore", "junk.snap", "--simctl-endpoint", endpoint)
    assert rc == 1 and "magic" in err and "junk.snap" in err, (rc, err)
    assert (await sim.time())["mission_time_ns"] >= saved["mission_time_ns"], "hwsim went on"
