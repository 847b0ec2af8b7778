"""The backplane read from the board arrays (`PluginSlots.backplane_columns`) against the
per-board path it replaces (`ComputeSlots.backplane_wire_per_board`: each board's health()).

Twin spacecraft are driven through the same run, stepped: one read only through the fast
columns, the other only through every board's entry. Every read must be the same columns with
the same values of the same types (what msgpack puts on the wire), and the models must end
in the same state (the fast read asks fewer boards: that must not change what they do). The
staleness tests each change one register through one way a board's own Python runs (a
command before the arrays took it, a command after, an event inside a step, a worker
finishing between reads) and check that the next read shows it.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import numpy as np
import pytest
from computesat_sdk.arrays import array_steppable
from computesat_sdk.base import BaseBoard, ComputedJob
from computesat_sdk.contract import BoardHealth, JobSpec

from hwsim.boards.reference import RefCpuBoard, RefGpuBoard, RefNpuBoard
from hwsim.boards.slots import PluginSlots, filler_shape
from hwsim.config import SpacecraftConfig, default_config, simple_config, with_boards
from hwsim.model import DeviceError
from hwsim.spacecraft import Spacecraft


class _OwnStepGpu(RefGpuBoard):
    """Steps itself (overrides step): not array-steppable, asked every read."""

    def step(self, dt_s: float, plate_temp_k: float) -> float:
        return super().step(dt_s, plate_temp_k)


class _OwnHealthGpu(RefGpuBoard):
    """Array-stepped, but reports its own health: the arrays cannot say what it reports."""

    def health(self) -> BoardHealth:
        h = super().health()
        return h.model_copy(update={"heartbeat": 2 * h.heartbeat, "die_temp_k": 300.0})


class _Registry:
    """Boards by test name; a name it does not know leaves the slot empty (unknown)."""

    def __init__(self) -> None:
        self.classes = {"gpu": RefGpuBoard, "cpu": RefCpuBoard, "npu": RefNpuBoard}
        self.classes["own"] = _OwnStepGpu
        self.classes["health"] = _OwnHealthGpu
        self.refused: list[Any] = []

    def create(self, name: str, board_id: str, **kwargs: Any) -> BaseBoard:
        return self.classes[name](board_id, **kwargs)


class _HeldExecutor:
    """A job executor whose workers finish when the test says (`finish_oldest`), so a run
    with results pending is deterministic."""

    wait_at_end = False

    def __init__(self) -> None:
        self.jobs: list[tuple[Future[ComputedJob], BaseBoard, JobSpec, bool]] = []

    def submit(self, board: BaseBoard, job: JobSpec, corrupt: bool) -> Future[ComputedJob]:
        future: Future[ComputedJob] = Future()
        self.jobs.append((future, board, job, corrupt))
        return future

    def finish_oldest(self) -> bool:
        for future, board, job, corrupt in self.jobs:
            if not future.done():
                future.set_result(board.compute(job, corrupt))
                return True
        return False


# slots 001-003 GPU, 004 per object, 005-006 CPU, 007 empty, 008-009 NPU
MIXED = {"gpu": 3, "own": 1, "cpu": 2, "nosuch": 1, "npu": 2}


def _mixed() -> SpacecraftConfig:
    return with_boards(simple_config(), MIXED)


def _reference(sc: Spacecraft) -> dict[str, Any]:
    net = sc._network
    return sc._slots.backplane_wire_per_board(
        net.plate_temp_k, net.supply_temp_k, sc._bus.voltage_v
    )


def _typed(wire: dict[str, Any]) -> dict[str, list[tuple[str, Any]]]:
    # 1 == 1.0 == True in Python, not on the wire: compare the types too
    return {name: [(type(v).__name__, v) for v in column] for name, column in wire.items()}


def _same(fast: dict[str, Any], ref: dict[str, Any], where: str) -> None:
    assert list(fast) == list(ref), f"{where}: columns {list(fast)} vs {list(ref)}"
    tf, tr = _typed(fast), _typed(ref)
    for name in tr:
        if tf[name] != tr[name]:
            bad = [
                (ref["slot"][k], a, b)
                for k, (a, b) in enumerate(zip(tf[name], tr[name], strict=True))
                if a != b
            ]
            raise AssertionError(f"{where}: {name} differs (slot, fast, per board): {bad}")


def _job(job_id: int, kernel: str = "matmul", size: int = 256, iterations: int = 1) -> dict:
    return {"job_id": job_id, "kernel": kernel, "size": size, "seed": 7, "iterations": iterations}


def _long_job(sc: Spacecraft, slot: str, job_id: int, seconds: float) -> dict:
    """A job that keeps the board in ``slot`` busy about ``seconds`` at full speed."""
    from computesat_sdk.contract import BoardCapabilities, JobLimits

    ident = sc.command(slot, "identity", {})
    shape = filler_shape(
        BoardCapabilities.model_validate(ident["capabilities"]),
        JobLimits.model_validate(ident["limits"]),
        seconds,
    )
    assert shape is not None
    return {
        "job_id": job_id,
        "kernel": shape.kernel,
        "size": shape.size,
        "seed": 1,
        "iterations": shape.iterations,
    }


def _try(sc: Spacecraft, device: str, command: str, args: dict[str, Any]) -> Any:
    try:
        return sc.command(device, command, args)
    except DeviceError as exc:
        return exc.code


# (slot, matmul size, iterations): a queue of three on 001, one job on most others
SUBMITTED_AT_65 = [
    ("001", 512, 40),
    ("001", 256, 5),
    ("001", 256, 5),
    ("002", 1024, 30),
    ("004", 512, 10),
    ("005", 256, 20),
    ("006", 128, 50),
    ("008", 256, 10),
]


def _act(sc: Spacecraft, ex: _HeldExecutor, t: int, first: int) -> list[Any]:
    """The run's commands, faults and worker completions at mission second ``t`` (the same
    for both twins; their answers are compared too). The layout's slots count from ``first``:
    "001" below is its first slot."""

    def at(slot: str) -> str:
        return f"slot.{int(slot) + first - 1:03d}"

    out: list[Any] = []
    if t == 65:
        for n, (slot, size, iterations) in enumerate(SUBMITTED_AT_65):
            job = _job(n, size=size, iterations=iterations)
            out.append(_try(sc, at(slot), "submit_job", job))
    if t == 70:
        out.append(_try(sc, at("002"), "set_throttle", {"level": 2}))
    if t == 72:
        sc.inject_fault("board_upset", at("005"), {"kind": "memory_ce"})
        sc.inject_fault("board_upset", at("001"), {"kind": "memory_ue"})
        sc.inject_fault("board_upset", at("008"), {"kind": "hang"})
        sc.inject_fault("board_upset", at("006"), {"kind": "bit_flip_result"})
    if t == 78:
        sc.inject_fault("board_latchup", at("003"))
    if t == 80:
        out.append(_try(sc, at("002"), "set_throttle", {"level": 0}))
        hot = {"resistance_factor": 40.0, "extra_heat_w": 1500.0}
        sc.inject_fault("board_overtemp", at("002"), hot)
        out.append(_try(sc, at("002"), "submit_job", _long_job(sc, at("002"), 50, 400.0)))
    if t == 90:
        out.append(_try(sc, at("003"), "reset", {}))  # a latch-up needs a power cycle
        out.append(_try(sc, at("003"), "power_cycle", {}))
    if t == 95:
        out.append(_try(sc, at("008"), "reset", {}))
        out.append(_try(sc, at("001"), "cancel_job", {"job_id": 2}))
    if t == 100:
        out.append(_try(sc, "pdu", "switch_off", {"switch": at("005").replace(".", "_")}))
    if t == 110:
        out.append(_try(sc, "pdu", "switch_on", {"switch": at("005").replace(".", "_")}))
        out.append(_try(sc, at("005"), "power_on", {}))
    if t == 160:
        sc.clear_fault("board_overtemp", at("002"))
    if t == 230:
        out.append(_try(sc, at("002"), "reset", {}))  # refused while still hot
    if t in (70, 120, 200):
        plug = sc.plugin_slots
        assert plug is not None
        out.append(plug.gather())
        for slot in ("001", "002", "004", "006", "008"):
            out.append(_try(sc, at(slot), "take_results", {}))
    if t % 4 == 0:
        out.append(ex.finish_oldest())
    return out


# (boards, first slot, arrays rows, plug-in slots): a board stepped per object and an empty
# slot among array-stepped ones; array-stepped boards only, from slot 005 (not the host's
# first slots: its per-slot arrays are indexed)
LAYOUTS = [
    (MIXED, 1, 7, 9),
    ({"gpu": 3, "cpu": 3, "npu": 3}, 5, 9, 9),
]


@pytest.mark.timeout(300)  # a hang guard
@pytest.mark.parametrize(("boards", "first", "rows", "plugged"), LAYOUTS)
def test_the_fast_backplane_is_the_per_board_backplane_through_a_full_run(
    boards: dict[str, int], first: int, rows: int, plugged: int
) -> None:
    """Jobs and their queue, held workers (results pending), commanded and thermal throttle
    with an over-temperature trip, memory upsets, hang, latch-up, reset, power cycle, a PDU
    switch off and on; a read after every command and after every step."""
    cfg = with_boards(simple_config(), boards, first_slot=first)
    twins = []
    for _ in range(2):
        sc = Spacecraft(cfg, seed=4, registry=_Registry())  # type: ignore[arg-type]
        ex = _HeldExecutor()
        assert sc.plugin_slots is not None
        sc.plugin_slots.attach_executor(ex)
        twins.append((sc, ex))
    (fast, fx), (ref, rx) = twins
    plug = fast.plugin_slots
    assert plug is not None and plug.arrays is not None
    assert (len(plug.arrays.boards), len(plug.by_slot)) == (rows, plugged)
    seen: dict[str, set[Any]] = {}
    for t in range(240):
        answers = _act(fast, fx, t, first), _act(ref, rx, t, first)
        assert answers[0] == answers[1], f"t={t}: answers {answers}"
        for when in ("after commands", "after step"):
            a, b = fast.read("backplane"), _reference(ref)
            _same(a, b, f"t={t} {when}")
            for name, column in b.items():
                seen.setdefault(name, set()).update(column)
            if when == "after commands":
                fast.step(1.0)
                ref.step(1.0)
    # the run went through what the cache must follow
    assert {"booting", "idle", "busy", "throttled", "fault", "off"} <= seen["power_state"]
    assert {"latch_up", "over_temperature", ""} <= seen["fault_reason"]
    assert ("plugin_unknown" in seen["fault_reason"]) == ("nosuch" in boards)
    assert max(seen["throttle_level"]) >= 2 and max(seen["jobs_queued"]) >= 2
    assert max(seen["results_pending"]) >= 2 and max(seen["boot_count"]) >= 2
    assert max(seen["correctable_errors"]) >= 1 and max(seen["uncorrectable_errors"]) >= 1
    # ... and the boards did the same, asked or not
    for sid in [d for d in fast.device_ids() if d.startswith("slot.")]:
        assert fast.read(sid) == ref.read(sid), sid
    assert fast.truth() == ref.truth()
    # on one model, the two paths agree too
    _same(fast.read("backplane"), _reference(fast), "end, same model")


@pytest.mark.timeout(300)  # a hang guard: 160 boards read per board every second
def test_the_fast_backplane_of_the_default_spacecraft_is_the_per_board_one() -> None:
    """160 boards in row order (the layout served every second): booted, kept busy with
    filler jobs through the device API, under an upset burst."""
    twins = [Spacecraft(default_config(), seed=2) for _ in range(2)]
    fast, ref = twins
    plug = fast.plugin_slots
    assert plug is not None and plug.arrays is not None and len(plug.arrays.boards) == 160
    slots = [d for d in fast.device_ids() if d.startswith("slot.")]
    for sc in twins:
        sc.inject_fault("seu_burst", slots[0], {"rate_multiplier": 5e6})
        sc.run(60.0, 1.0)
    job_id = 0
    for t in range(90):
        if t % 30 == 0:
            for sid in slots[t // 30 :: 3]:
                job_id += 1
                args = _long_job(fast, sid, job_id, 20.0 + t)
                answers = [_try(sc, sid, "submit_job", args) for sc in twins]
                assert answers[0] == answers[1]
        if t == 45:
            for sc in twins:
                _try(sc, slots[7], "set_throttle", {"level": 3})
                _try(sc, slots[9], "power_cycle", {})
        _same(fast.read("backplane"), _reference(ref), f"t={t}")
        fast.step(1.0)
        ref.step(1.0)
    a = fast.read("backplane")
    assert {"busy", "idle"} <= set(a["power_state"]) and max(a["correctable_errors"]) >= 1
    assert fast.truth() == ref.truth()


# ---------------------------------------------------------------------------- staleness


def _booted() -> tuple[Spacecraft, _HeldExecutor]:
    sc = Spacecraft(_mixed(), seed=1, registry=_Registry())  # type: ignore[arg-type]
    ex = _HeldExecutor()
    assert sc.plugin_slots is not None
    sc.plugin_slots.attach_executor(ex)
    sc.run(61.0, 1.0)
    return sc, ex


def _entry(sc: Spacecraft, slot: str) -> dict[str, Any]:
    wire = sc.read("backplane")
    k = wire["slot"].index(slot)
    entry = {name: column[k] for name, column in wire.items()}
    ref = _reference(sc)
    assert entry == {name: column[k] for name, column in ref.items()}
    return entry


def test_a_command_shows_in_the_next_read_before_and_after_the_step() -> None:
    sc, _ = _booted()
    assert sc.command("slot.001", "submit_job", _long_job(sc, "slot.001", 9, 300.0))["accepted"]
    sc.step(1.0)
    before = _entry(sc, "001")
    assert (before["power_state"], before["throttle_level"]) == ("busy", 0)
    sc.command("slot.001", "set_throttle", {"level": 3})
    now = _entry(sc, "001")  # the arrays have not taken the board's row yet
    assert (now["power_state"], now["throttle_level"]) == ("throttled", 3)
    assert now["power_w"] < before["power_w"]
    # read again before the step: the arrays still hold the old draw for this board
    assert _entry(sc, "001") == now
    sc.step(1.0)
    assert _entry(sc, "001")["throttle_level"] == 3
    sc.step(1.0)
    sc.command("slot.001", "set_throttle", {"level": 1})  # after the arrays took the row
    sc.step(1.0)
    assert _entry(sc, "001")["throttle_level"] == 1
    sc.inject_fault("board_upset", "slot.002", {"kind": "memory_ce"})
    assert _entry(sc, "002")["correctable_errors"] == 1
    sc.command("slot.002", "submit_job", _long_job(sc, "slot.002", 1, 300.0))
    busy = _entry(sc, "002")
    assert (busy["power_state"], busy["jobs_running"], busy["utilisation"]) == ("busy", 1, 1.0)
    sc.command("slot.002", "submit_job", _job(2))
    assert _entry(sc, "002")["jobs_queued"] == 1
    sc.command("pdu", "switch_off", {"switch": "slot_002"})
    assert _entry(sc, "002")["power_w"] == 0.0  # the slot's supply, read every time
    sc.step(1.0)
    off = _entry(sc, "002")
    assert (off["power_state"], off["jobs_running"], off["jobs_queued"]) == ("off", 0, 0)


def test_an_event_inside_a_step_shows_in_the_next_read() -> None:
    """Boot and job ends are the board's Python run by the arrays (step_event), no command."""
    sc, _ = _booted()
    sc.command("slot.005", "power_cycle", {})
    _entry(sc, "005")
    booting = [_entry(sc, "005")["power_state"]]
    while booting[-1] == "booting":
        sc.step(1.0)
        booting.append(_entry(sc, "005")["power_state"])
    assert booting[-1] == "idle" and len(booting) > 2
    assert sc.command("slot.005", "submit_job", _long_job(sc, "slot.005", 1, 5.0))["accepted"]
    assert sc.command("slot.005", "submit_job", _long_job(sc, "slot.005", 2, 5.0))["accepted"]
    sc.step(1.0)
    first = _entry(sc, "005")
    assert (first["jobs_running"], first["jobs_queued"]) == (1, 1)
    while _entry(sc, "005")["jobs_queued"]:
        sc.step(1.0)
    while _entry(sc, "005")["jobs_running"]:
        sc.step(1.0)
    assert _entry(sc, "005")["power_state"] == "idle"


def test_a_worker_finishing_between_reads_shows_in_the_next_read() -> None:
    """A held worker: the job ends in mission time (pending), its result comes later."""
    sc, ex = _booted()
    sc.command("slot.006", "submit_job", _job(1, size=128, iterations=1))
    sc.step(1.0)
    assert _entry(sc, "006")["results_pending"] == 1
    sc.step(1.0)
    assert _entry(sc, "006")["results_pending"] == 1
    assert ex.finish_oldest()
    assert _entry(sc, "006")["results_pending"] == 0  # no step, no command in between
    assert sc.command("slot.006", "take_results", {})["results"][0]["status"] == "completed"


def test_a_board_with_its_own_health_is_asked_every_read() -> None:
    cfg = with_boards(simple_config(), {"gpu": 1, "health": 1})
    sc = Spacecraft(cfg, seed=1, registry=_Registry())  # type: ignore[arg-type]
    plug = sc.plugin_slots
    assert plug is not None and plug.arrays is not None
    assert array_steppable(plug.boards[1]) and len(plug.arrays.boards) == 2
    for _ in range(3):
        sc.step(1.0)
        wire = sc.read("backplane")
        _same(wire, _reference(sc), "own health")
    assert wire["die_temp_k"][1] == 300.0 and wire["heartbeat"][1] == 6
    sc.command("slot.002", "power_cycle", {})  # touched: its row is not the backplane's
    _same(sc.read("backplane"), _reference(sc), "own health, touched")


def test_the_cache_is_not_saved_with_the_model() -> None:
    """A snapshot pickles the slots: the cache is rebuilt on the first read after."""
    import pickle

    sc, _ = _booted()
    sc.read("backplane")
    plug = sc.plugin_slots
    assert plug is not None and plug._bp is not None
    restored: PluginSlots = pickle.loads(pickle.dumps(plug))
    assert restored._bp is None
    assert restored.arrays is not None
    assert np.array_equal(restored.arrays.row_version, plug.arrays.row_version)  # type: ignore[union-attr]
