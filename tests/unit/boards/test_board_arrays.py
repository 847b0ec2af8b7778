"""Array stepping of boards (computesat_sdk.arrays): bit-identical to stepping each board alone.

Every test here compares the array path with the per-object path it replaces, to the last bit:
the pure die functions, twin boards driven through boots, jobs, throttling, trips, upsets and
commands, hwsim's plug-in slots with a mix of array-stepped and per-object boards, and the
default spacecraft under the what-if control law.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pytest
from computesat_sdk._thermal import (
    die_decay,
    die_temp_after_k,
    die_temp_after_k_array,
    heat_to_plate_j,
    heat_to_plate_j_array,
)
from computesat_sdk.arrays import BoardArrays, array_steppable
from computesat_sdk.base import BaseBoard
from computesat_sdk.contract import BoardStateError, JobSpec, PowerState, UpsetKind

from hwsim.boards.reference import RefCpuBoard, RefGpuBoard, RefNpuBoard
from hwsim.boards.slots import PluginSlots


def test_array_die_step_equals_the_pure_function_board_by_board() -> None:
    rng = np.random.default_rng(5)
    n = 200
    die = rng.uniform(250.0, 400.0, n)
    plate = rng.uniform(250.0, 350.0, n)
    power = rng.uniform(0.0, 1500.0, n)
    mass = rng.uniform(50.0, 2000.0, n)
    r = rng.uniform(0.01, 0.5, n)
    for dt in (0.1, 1.0, 7.3, 600.0):
        new = die_temp_after_k_array(die, plate, power * r, die_decay(dt, mass, r))
        heat = heat_to_plate_j_array(power * dt, die, new, mass)
        for k in range(n):
            want = die_temp_after_k(die[k], plate[k], power[k], dt, mass[k], r[k])
            assert new[k] == want, f"dt {dt} board {k}: array {new[k]!r}, pure {want!r}"
            want_j = heat_to_plate_j(power[k], dt, die[k], want, mass[k])
            assert heat[k] == want_j, f"dt {dt} board {k}: array {heat[k]!r}, pure {want_j!r}"


def _health(board: BaseBoard) -> dict[str, Any]:
    return board.health().model_dump()


def _twins(n_each: int = 2) -> tuple[list[BaseBoard], list[BaseBoard], BoardArrays]:
    classes = [RefGpuBoard, RefCpuBoard, RefNpuBoard]
    alone = [
        cls(f"b{i}-{k}", initial_temp_k=300.0)
        for i, cls in enumerate(classes)
        for k in range(n_each)
    ]
    bound = [copy.deepcopy(b) for b in alone]
    return alone, bound, BoardArrays(bound, 0.0)


def _same(alone: list[BaseBoard], bound: list[BaseBoard], when: str) -> None:
    for a, b in zip(alone, bound, strict=True):
        ha, hb = _health(a), _health(b)
        assert ha == hb, f"{when}, {a.board_id}: per object {ha}, arrays {hb}"


def _job(board: BaseBoard, job_id: str, seconds: float) -> JobSpec:
    """A matmul repeated to last about ``seconds`` on ``board`` at full speed: order 64,
    doubled until the iterations are within the board's limit (as a user makes a long job)."""
    rate = board.capabilities().kernel_flops_per_s["matmul"]
    limit = board.job_limits().max_iterations
    size = 64
    while (iterations := max(1, round(rate * seconds / (2 * size**3)))) > limit:
        size *= 2
    return JobSpec(job_id=job_id, kernel="matmul", size=size, seed=3, iterations=iterations)


def test_array_stepped_boards_match_boards_stepped_alone_through_every_event() -> None:
    alone, bound, arrays = _twins()
    n = len(alone)
    rng = np.random.default_rng(11)
    plate = np.full(n, 300.0)

    def both(action: Any) -> None:
        for group in (alone, bound):
            action(group)

    def step(dt: float, seconds: float) -> None:
        for _ in range(round(seconds / dt)):
            heat_alone = np.array([b.step(dt, float(p)) for b, p in zip(alone, plate, strict=True)])
            heat = arrays.step(dt, plate)
            assert np.array_equal(heat, heat_alone), f"t={arrays.time_s}: {heat} vs {heat_alone}"

    both(lambda g: [b.power_on() for b in g])
    step(1.0, 70.0)  # every board boots (60 s at most), the boots end mid-step at 0.7 s steps
    _same(alone, bound, "after boot")
    assert all(b.state is PowerState.IDLE for b in bound)
    # long jobs: they end mid-step; the GPUs heat past their throttle temperature on a warm plate
    both(lambda g: [b.submit(_job(b, f"j{k}", 30.0 + 7.3 * k)) for k, b in enumerate(g)])
    both(lambda g: [b.submit(_job(b, f"q{k}", 300.0)) for k, b in enumerate(g)])
    plate[:] = 340.0
    step(1.0, 80.0)
    _same(alone, bound, "busy on a warm plate")
    assert any(b.health().throttle_level > 0 for b in bound), "expected a thermal throttle"
    step(0.7, 35.0)
    both(lambda g: g[2].set_throttle(2))
    both(lambda g: g[0].inject_upset(UpsetKind.HANG))
    both(lambda g: g[1].inject_upset(UpsetKind.LATCH_UP))
    both(lambda g: g[3].inject_upset(UpsetKind.MEMORY_UE))
    both(lambda g: g[4].inject_upset(UpsetKind.BIT_FLIP_RESULT))
    plate[:] = rng.uniform(290.0, 345.0, n)
    step(1.0, 30.0)
    _same(alone, bound, "after upsets and a commanded throttle")
    both(lambda g: g[0].reset())
    both(lambda g: g[1].power_cycle())
    both(lambda g: g[5].cancel("j5"))
    plate[:] = 375.0  # hot enough to trip the GPUs
    step(1.0, 120.0)
    _same(alone, bound, "after a hot plate")
    assert bound[0].state is PowerState.FAULT or bound[1].state is PowerState.FAULT
    plate[:] = 290.0
    step(2.5, 200.0)
    both(lambda g: [b.reset() for b in g if b.state is PowerState.FAULT])
    step(1.0, 100.0)
    _same(alone, bound, "after cooling and resets")
    results = [
        [r.model_dump() for r in a.take_results()] == [r.model_dump() for r in b.take_results()]
        for a, b in zip(alone, bound, strict=True)
    ]
    assert all(results), f"job results differ: {results}"
    assert sum(b.health().jobs_completed for b in bound) > 0


def test_unbound_boards_carry_on_alone_from_the_arrays_state() -> None:
    alone, bound, arrays = _twins(1)
    for g in (alone, bound):
        for b in g:
            b.power_on()
    plate = np.full(len(alone), 310.0)
    for _ in range(90):
        for b, p in zip(alone, plate, strict=True):
            b.step(1.0, float(p))
        arrays.step(1.0, plate)
    with pytest.raises(RuntimeError, match="array host"):
        bound[0].step(1.0, 300.0)
    arrays.unbind()
    for _ in range(10):
        for g in (alone, bound):
            for b in g:
                b.step(1.0, 305.0)
    _same(alone, bound, "after unbinding")


def test_a_board_that_steps_itself_is_not_array_stepped() -> None:
    class OwnStep(RefCpuBoard):
        def step(self, dt_s: float, plate_temp_k: float) -> float:
            return super().step(dt_s, plate_temp_k)

    class Vouched(RefCpuBoard):
        ARRAY_STEPPING = True

        def power_draw_w(self) -> float:
            return super().power_draw_w()

    assert array_steppable(RefGpuBoard("g"))
    assert not array_steppable(OwnStep("o")), "an override of step must mean per-object steps"
    assert array_steppable(Vouched("v"))
    with pytest.raises(TypeError, match="not array-steppable"):
        BoardArrays([OwnStep("o")], 0.0)


class _Registry:
    """What PluginSlots needs of a registry: create boards by name."""

    def __init__(self, classes: dict[str, type[BaseBoard]]) -> None:
        self.classes = classes
        self.refused: list[Any] = []

    def create(self, name: str, board_id: str, **kwargs: Any) -> BaseBoard:
        return self.classes[name](board_id, **kwargs)


class _OwnStepGpu(RefGpuBoard):
    def step(self, dt_s: float, plate_temp_k: float) -> float:
        return super().step(dt_s, plate_temp_k)


def _slots(names: list[str], fast: bool) -> PluginSlots:
    registry = _Registry({"gpu": RefGpuBoard, "cpu": RefCpuBoard, "own": _OwnStepGpu})
    plates = np.array([k % 2 for k in range(len(names))])
    slots = [(k, f"{k + 1:03d}", name) for k, name in enumerate(names)]
    PluginSlots.ARRAY_STEPPING = fast
    try:
        return PluginSlots(slots, plates, np.array([300.0, 305.0]), registry, [True] * len(names))
    finally:
        PluginSlots.ARRAY_STEPPING = True


def test_plug_in_slots_mix_array_stepped_and_per_object_boards() -> None:
    names = ["gpu", "own", "cpu", "own", "gpu"]
    fast, slow = _slots(names, True), _slots(names, False)
    assert fast.arrays is not None and len(fast.arrays.boards) == 3
    assert slow.arrays is None
    plate = np.array([310.0, 328.0])
    ends = 0
    for t in range(400):
        if t == 100:
            for s in (fast, slow):
                for k, b in enumerate(s.boards):
                    b.submit(_job(b, f"m{k}", 50.0 + 11.1 * k))
        if t == 250:
            for s in (fast, slow):
                s.set_overtemp(1, 0.0, 200.0)  # board_overtemp fault on a per-object board
        changed = [s.poll_draw_w() for s in (fast, slow)]
        assert changed[0] == changed[1], f"t={t}: draw changed {changed}"
        assert np.array_equal(fast.draw_w, slow.draw_w), f"t={t}: {fast.draw_w} {slow.draw_w}"
        hf, hs = fast.step(1.0, plate), slow.step(1.0, plate)
        assert np.array_equal(hf, hs), f"t={t}: heat {hf} vs {hs}"
        extra = (fast.step_extra_energy_j, slow.step_extra_energy_j)
        assert extra[0] == extra[1], f"t={t}: energy beyond draw x dt {extra}"
        ends += extra[0] != 0.0
    assert ends > 0, "no job ended inside a step: the extra energy was not exercised"
    assert fast.stored_energy_j() == slow.stored_energy_j()
    for a, b in zip(fast.boards, slow.boards, strict=True):
        assert _health(a) == _health(b), f"{a.board_id}: {_health(a)} vs {_health(b)}"
    assert all(b.health().jobs_completed >= 1 for b in fast.boards)


@pytest.mark.timeout(600)  # a hang guard: 160 boards stepped per object are slow on a busy host
def test_default_spacecraft_is_bit_identical_stepped_as_arrays_or_per_object() -> None:
    """The default configuration (160 plug-in boards), booted and kept busy with filler jobs
    through the device API (as flight software does): same truth, same boards, same
    registers."""
    from computesat_sdk.contract import BoardCapabilities, JobLimits

    from hwsim.boards.slots import filler_shape
    from hwsim.config import default_config
    from hwsim.spacecraft import Spacecraft

    runs = []
    for fast in (True, False):
        PluginSlots.ARRAY_STEPPING = fast
        try:
            sc = Spacecraft(default_config(), seed=3)
        finally:
            PluginSlots.ARRAY_STEPPING = True
        slots = [d for d in sc.device_ids() if d.startswith("slot.")]
        fillers = {}
        for sid in slots:
            ident = sc.command(sid, "identity", {})
            fillers[sid] = filler_shape(
                BoardCapabilities.model_validate(ident["capabilities"]),
                JobLimits.model_validate(ident["limits"]),
                600.0,
            )
        job_id = 0
        for k in range(900):
            if k % 60 == 0:
                for sid in slots:
                    r = sc.read(sid)
                    if r["power_state"] == "idle" and r["jobs_queued"] == 0 and fillers[sid]:
                        kernel, size, iterations, _ = fillers[sid]
                        job_id += 1
                        sc.command(
                            sid,
                            "submit_job",
                            {
                                "job_id": job_id,
                                "kernel": kernel,
                                "size": size,
                                "seed": 1,
                                "iterations": iterations,
                            },
                        )
            sc.step(1.0)
        plug = sc.plugin_slots
        assert plug is not None and (plug.arrays is not None) == fast
        runs.append((sc.truth(), [_health(b) for b in plug.boards], sc.read("backplane")))
    (truth_a, boards_a, bp_a), (truth_b, boards_b, bp_b) = runs
    assert truth_a == truth_b, "model truth differs between array and per-object stepping"
    for a, b in zip(boards_a, boards_b, strict=True):
        assert a == b, f"{a['board_id']}: arrays {a}, per object {b}"
    assert bp_a == bp_b
    assert sum(h["jobs_completed"] for h in boards_a) > 0, "the driver ran no job"
    # (throttling, trips and upsets are compared board by board in the tests above)


def test_default_board_mix_reaches_150_kw_peak() -> None:
    from hwsim.boards import discover_boards
    from hwsim.config import default_config

    registry = discover_boards()
    slots = default_config().compute.expanded_slots()
    peak_w = sum(registry.create(s.board, "peak").thermal_model().peak_w for s in slots)
    assert peak_w >= 150_000.0, f"default AI1 board mix peaks at {peak_w} W, announced 150 kW"
    assert math.isclose(peak_w, 151_625.0), peak_w


def test_pickled_slots_continue_bit_identically_with_their_arrays() -> None:
    """What hwsim.snapshot relies on: the arrays are saved with the boards bound to them (one
    pickle), so a restored copy steps on exactly as the original, mid-job."""
    import pickle

    names = ["gpu", "cpu", "own", "gpu"]
    original = _slots(names, True)
    plate = np.array([330.0, 336.0])
    for t in range(150):
        if t == 70:
            for k, b in enumerate(original.boards):
                b.submit(_job(b, f"p{k}", 60.0 + 13.0 * k))
        original.poll_draw_w()
        original.step(1.0, plate)
    restored = pickle.loads(pickle.dumps(original))
    assert restored.arrays is not None and restored.arrays.boards[0] is restored.boards[0]
    assert restored.boards[0]._host is restored.arrays, "restored board lost its arrays"
    for t in range(200):
        hs = []
        for s in (original, restored):
            s.poll_draw_w()
            hs.append(s.step(1.0, plate))
        assert np.array_equal(hs[0], hs[1]), f"t={t}: heat {hs[0]} vs {hs[1]}"
    for a, b in zip(original.boards, restored.boards, strict=True):
        assert _health(a) == _health(b), f"{a.board_id}: {_health(a)} vs {_health(b)}"
        ra = [r.model_dump() for r in a.take_results()]
        assert ra == [r.model_dump() for r in b.take_results()] and ra, f"{a.board_id}: {ra}"


def test_the_energy_drawn_beyond_the_step_start_draw_is_reported() -> None:
    """A job ending inside a step: the board drew peak until its end and idle after, so
    ∫P dt − P(start)·dt = (idle − peak)·(time left after the end), for a board stepped alone
    and for the same board stepped as arrays."""
    alone = RefGpuBoard("alone", initial_temp_k=300.0)
    bound = RefGpuBoard("bound", initial_temp_k=300.0)
    arrays = BoardArrays([bound], 0.0)
    m = alone.thermal_model()
    for b in (alone, bound):
        b.power_on()
    for _ in range(70):  # boot (60 s)
        alone.step(1.0, 300.0)
        arrays.step(1.0, np.array([300.0]))
    job = _job(alone, "j", 10.25)
    for b in (alone, bound):
        b.submit(job)
    rate = alone.capabilities().kernel_flops_per_s["matmul"]
    ends_after_s = 2 * job.size**3 * job.iterations / rate
    steps = int(ends_after_s)
    for _ in range(steps):
        alone.step(1.0, 300.0)
        arrays.step(1.0, np.array([300.0]))
        assert alone.last_step_extra_energy_j == 0.0 and arrays.step_extra_energy_j == 0.0
    alone.step(1.0, 300.0)
    arrays.step(1.0, np.array([300.0]))
    left_s = 1.0 - (ends_after_s - steps)
    expected = (m.idle_w - m.peak_w) * left_s
    assert alone.last_step_extra_energy_j == pytest.approx(expected, rel=1e-6)
    assert arrays.step_extra_energy_j == alone.last_step_extra_energy_j
    assert arrays.step_extra_rows == [(0, alone.last_step_extra_energy_j)]


def test_a_board_without_supply_draws_nothing_until_its_supply_is_back() -> None:
    board = RefGpuBoard("b", initial_temp_k=300.0)
    board.power_on()
    board.set_supply(False)
    assert (board.state, board.power_draw_w(), board.health().power_w) == (
        PowerState.OFF,
        0.0,
        0.0,
    )
    with pytest.raises(BoardStateError, match="no supply"):
        board.power_on()
    board.set_supply(True)
    assert board.power_draw_w() == board.thermal_model().off_w
    board.power_on()
    assert board.state is PowerState.BOOTING


def test_results_not_computed_keep_the_jobs_timing_power_and_heat() -> None:
    """The what-if runner's executor: the job ends at the same modelled time with the same
    heat as a computed one; only its result is not computed."""
    from hwsim.boards.executor import NOT_COMPUTED_DIGEST, ResultsNotComputed

    real = RefCpuBoard("real", initial_temp_k=300.0)
    modelled = RefCpuBoard("modelled", initial_temp_k=300.0)
    modelled.attach_executor(ResultsNotComputed())
    for b in (real, modelled):
        b.power_on()
        b.step(120.0, 300.0)  # booted
        b.submit(_job(b, "j", 30.5))
    heats = [[b.step(1.0, 305.0) for _ in range(40)] for b in (real, modelled)]
    assert heats[0] == heats[1]
    (a,), (b,) = real.take_results(), modelled.take_results()
    assert a.status == b.status == "completed"
    assert a.end_mission_time_s == b.end_mission_time_s
    assert a.digest != NOT_COMPUTED_DIGEST and b.digest == NOT_COMPUTED_DIGEST
