"""BaseBoard behaviour, on a board with round numbers and on the reference boards."""

import math
import re
from pathlib import Path

import numpy as np
import pytest
from computesat_sdk._thermal import die_temp_after_k, heat_to_plate_j
from computesat_sdk.contract import (
    BoardCapabilities,
    BoardIdentity,
    BoardKind,
    BoardStateError,
    JobRejectCode,
    JobRejected,
    JobSpec,
    JobStatus,
    PowerState,
    ThermalElectricalModel,
    ThrottleLevel,
    UpsetKind,
)
from computesat_sdk.kernels import run_reference, verify, verify_result
from hypothesis import given, settings
from hypothesis import strategies as st

from hwsim.boards import BaseBoard, RefCpuBoard, RefGpuBoard, RefNpuBoard


class SimpleBoard(BaseBoard):
    """Round numbers: 10 W idle, 110 W peak, R = 0.1 K/W, C = 100 J/K (tau 10 s), 1 MFLOP/s."""

    IDENTITY = BoardIdentity(
        vendor="test",
        part_number="T-1",
        model_name="Simple",
        firmware_version="0",
        interface_version="1.0",
        kind=BoardKind.CPU,
    )
    THERMAL = ThermalElectricalModel(
        off_w=1.0,
        idle_w=10.0,
        peak_w=110.0,
        latch_up_w=200.0,
        thermal_mass_j_per_k=100.0,
        die_to_plate_k_per_w=0.1,
        throttle_temp_k=350.0,
        throttle_hysteresis_k=5.0,
        throttle_step_s=2.0,
        max_die_temp_k=360.0,
        shutdown_temp_k=370.0,
        boot_time_s=5.0,
        throttle_levels=(
            ThrottleLevel(level=0, perf_fraction=1.0, power_fraction=1.0),
            ThrottleLevel(level=1, perf_fraction=0.5, power_fraction=0.5),
            ThrottleLevel(level=2, perf_fraction=0.25, power_fraction=0.2),
        ),
    )
    CAPABILITIES = BoardCapabilities(
        memory_bytes=10**6, kernel_flops_per_s={"matmul": 1e6}, queue_depth=2
    )


def two_second_job(job_id: str = "j1", seed: int = 1) -> JobSpec:
    # matmul n=10 is 2000 FLOP; 1000 iterations at 1 MFLOP/s take 2 s.
    return JobSpec(job_id=job_id, kernel="matmul", size=10, seed=seed, iterations=1000)


def booted(board: BaseBoard | None = None, plate_k: float = 290.0) -> BaseBoard:
    board = board or SimpleBoard("s", initial_temp_k=plate_k)
    board.power_on()
    board.step(board.thermal_model().boot_time_s, plate_k)
    assert board.state is PowerState.IDLE
    return board


def test_die_temperature_matches_closed_form() -> None:
    for t_s in (0.0, 1.0, 10.0, 100.0):
        expected = 285.0 + (300.0 - 285.0) * math.exp(-t_s / 10.0)
        assert die_temp_after_k(300.0, 280.0, 50.0, t_s, 100.0, 0.1) == pytest.approx(expected)
    assert heat_to_plate_j(50.0, 2.0, 300.0, 301.0, 100.0) == pytest.approx(0.0)


@settings(max_examples=50, deadline=None, derandomize=True, database=None)
@given(
    start_k=st.floats(200.0, 400.0),
    plate_k=st.floats(200.0, 400.0),
    power_w=st.floats(0.0, 2000.0),
    split=st.floats(0.0, 1.0),
    dt_s=st.floats(0.0, 500.0),
)
def test_die_temperature_is_step_size_independent(
    start_k: float, plate_k: float, power_w: float, split: float, dt_s: float
) -> None:
    whole = die_temp_after_k(start_k, plate_k, power_w, dt_s, 900.0, 0.032)
    half = die_temp_after_k(start_k, plate_k, power_w, dt_s * split, 900.0, 0.032)
    halves = die_temp_after_k(half, plate_k, power_w, dt_s * (1 - split), 900.0, 0.032)
    assert halves == pytest.approx(whole, abs=1e-9)


def test_boot_takes_boot_time_exactly() -> None:
    board = SimpleBoard("s")
    board.power_on()
    board.step(4.9, 290.0)
    assert board.state is PowerState.BOOTING
    board.step(0.2, 290.0)
    assert board.state is PowerState.IDLE
    assert board.health().mission_time_s == pytest.approx(5.1)


def test_jobs_run_fifo_with_exact_mission_times() -> None:
    board = booted()
    t0 = board.health().mission_time_s
    board.submit(two_second_job("a"))
    board.submit(two_second_job("b", seed=2))
    assert board.health().queued_jobs == 1
    for _ in range(3):
        board.step(1.5, 290.0)
    first, second = board.take_results()
    assert (first.job_id, second.job_id) == ("a", "b")
    assert first.start_mission_time_s == pytest.approx(t0)
    assert first.end_mission_time_s == pytest.approx(t0 + 2.0)
    assert second.start_mission_time_s == pytest.approx(t0 + 2.0)
    assert second.end_mission_time_s == pytest.approx(t0 + 4.0)
    assert verify_result(two_second_job("a"), first)
    assert board.state is PowerState.IDLE and board.health().jobs_completed == 2


def test_one_big_step_equals_many_small_ones() -> None:
    coarse, fine = booted(), booted()
    for board in (coarse, fine):
        board.submit(two_second_job("a"))
        board.submit(two_second_job("b", seed=2))
    coarse.step(10.0, 300.0)
    for _ in range(40):
        fine.step(0.25, 300.0)
    assert coarse.health().die_temp_k == pytest.approx(fine.health().die_temp_k, abs=1e-9)
    times = [
        [t for r in b.take_results() for t in (r.start_mission_time_s, r.end_mission_time_s)]
        for b in (coarse, fine)
    ]
    assert times[0] == pytest.approx(times[1])  # flat: approx does not compare nested tuples


def test_step_returns_heat_into_plate_conserving_energy() -> None:
    board = booted()
    board.submit(two_second_job())
    before_k = board.health().die_temp_k
    heat_w = board.step(3.0, 290.0)
    after_k = board.health().die_temp_k
    # 2 s at 110 W (the job) then 1 s at 10 W idle.
    energy_in_j = 110.0 * 2.0 + 10.0 * 1.0
    assert heat_w * 3.0 == pytest.approx(energy_in_j - 100.0 * (after_k - before_k))
    assert board.step(0.0, 290.0) == pytest.approx((after_k - 290.0) / 0.1)


def test_throttles_stepwise_and_recovers_with_hysteresis() -> None:
    board = booted(plate_k=345.0)
    board.submit(two_second_job().model_copy(update={"iterations": 10**9}))
    changes: list[tuple[float, int]] = []
    for _ in range(200):
        board.step(0.5, 345.0)
        health = board.health()
        if not changes or changes[-1][1] != health.throttle_level:
            changes.append((health.mission_time_s, health.throttle_level))
    # Full power settles at 356 K (> 350): level 1 at once on crossing; 60 W settles at
    # 351 K (> 350): level 2 after one dwell; 30 W settles at 348 K, inside the hysteresis
    # band (345..350 K), so it holds there.
    assert [level for _, level in changes] == [0, 1, 2]
    assert changes[2][0] - changes[1][0] >= 2.0
    health = board.health()
    assert health.power_state is PowerState.THROTTLED
    assert 345.0 < health.die_temp_k < 350.0
    assert board.power_draw_w() == pytest.approx(30.0)
    recovered: list[tuple[float, int]] = []
    for _ in range(200):
        board.step(0.5, 300.0)
        health = board.health()
        if not recovered or recovered[-1][1] != health.throttle_level:
            recovered.append((health.mission_time_s, health.throttle_level))
    assert [level for _, level in recovered] == [2, 1, 0]
    assert recovered[2][0] - recovered[1][0] == pytest.approx(2.0)
    assert board.state is PowerState.BUSY and board.power_draw_w() == pytest.approx(110.0)


def test_throttle_slows_the_job() -> None:
    board = booted()
    board.set_throttle(1)
    board.submit(two_second_job())
    assert board.state is PowerState.THROTTLED
    board.step(10.0, 290.0)
    (result,) = board.take_results()
    assert result.end_mission_time_s - result.start_mission_time_s == pytest.approx(4.0)


def test_over_temperature_trips_and_needs_a_cool_reset() -> None:
    board = booted()
    board.submit(two_second_job().model_copy(update={"iterations": 10**9}))
    board.step(100.0, 380.0)
    health = board.health()
    assert health.power_state is PowerState.FAULT
    assert health.fault_reason == "over_temperature"
    assert board.power_draw_w() == pytest.approx(1.0)
    assert board.take_results()[0].status is JobStatus.FAILED
    with pytest.raises(BoardStateError, match="throttle temperature"):
        board.reset()
    board.step(200.0, 290.0)
    board.reset()
    assert board.state is PowerState.BOOTING and board.health().fault_reason is None


def test_latch_up_heats_the_die_and_resists_reset() -> None:
    board = booted()
    board.inject_upset(UpsetKind.LATCH_UP)
    board.step(200.0, 290.0)
    assert board.health().die_temp_k == pytest.approx(290.0 + 200.0 * 0.1, abs=0.01)
    with pytest.raises(BoardStateError, match="power cycle"):
        board.reset()
    board.power_cycle()
    assert board.state is PowerState.BOOTING and board.health().boot_count == 2


def test_hang_during_boot_stalls_it() -> None:
    board = SimpleBoard("s")
    board.power_on()
    board.inject_upset(UpsetKind.HANG)
    board.step(100.0, 290.0)
    assert board.state is PowerState.BOOTING and board.health().heartbeat == 0
    board.reset()
    board.step(5.0, 290.0)
    assert board.state is PowerState.IDLE and board.health().heartbeat == 1


def test_hung_idle_board_queues_but_never_starts() -> None:
    board = booted()
    board.inject_upset(UpsetKind.HANG)
    board.submit(two_second_job())
    board.step(10.0, 290.0)
    health = board.health()
    assert health.active_job_id is None and health.queued_jobs == 1
    assert not board.self_test().passed
    board.power_cycle()
    assert board.take_results()[0].status is JobStatus.CANCELLED


def test_bit_flip_armed_while_idle_corrupts_only_the_next_job() -> None:
    board = booted()
    board.inject_upset(UpsetKind.BIT_FLIP_RESULT)
    board.submit(two_second_job("a"))
    board.submit(two_second_job("b"))
    board.step(5.0, 290.0)
    first, second = board.take_results()
    assert first.status is second.status is JobStatus.COMPLETED
    assert not verify(two_second_job("a"), first.digest or "")
    assert verify(two_second_job("b"), second.digest or "")


def test_set_throttle_is_forgotten_on_reset() -> None:
    board = booted()
    board.set_throttle(2)
    with pytest.raises(ValueError):
        board.set_throttle(True)  # type: ignore[arg-type]
    board.reset()
    assert board.health().commanded_throttle_level == 0


def test_failing_vendor_kernel_fails_the_job_not_the_simulator() -> None:
    class Broken(SimpleBoard):
        def execute(self, job: JobSpec) -> np.ndarray:
            raise RuntimeError("firmware bug")

    board = booted(Broken("x"))
    board.submit(two_second_job())
    board.step(5.0, 290.0)
    (result,) = board.take_results()
    assert result.status is JobStatus.FAILED and "firmware bug" in (result.error or "")
    assert board.state is PowerState.IDLE
    assert not board.self_test().checks["kernel"]


def test_reference_boards_are_honestly_different() -> None:
    gpu, npu, cpu = (cls.CAPABILITIES for cls in (RefGpuBoard, RefNpuBoard, RefCpuBoard))
    assert RefGpuBoard.THERMAL.peak_w == 1000.0
    assert RefNpuBoard.THERMAL.peak_w == 75.0
    assert RefCpuBoard.THERMAL.peak_w == 250.0
    assert RefGpuBoard.THERMAL.throttle_temp_k == 358.0
    assert gpu.kernel_flops_per_s["matmul"] > cpu.kernel_flops_per_s["matmul"]
    assert npu.kernel_flops_per_s["mlp_inference"] > gpu.kernel_flops_per_s["mlp_inference"]
    assert npu.kernel_flops_per_s["matmul"] < cpu.kernel_flops_per_s["matmul"]
    assert "fft" not in npu.kernel_flops_per_s
    assert npu.memory_bytes < cpu.memory_bytes < gpu.memory_bytes
    assert (
        len({RefGpuBoard.IDENTITY.kind, RefNpuBoard.IDENTITY.kind, RefCpuBoard.IDENTITY.kind}) == 3
    )


def test_npu_refuses_fft_and_what_does_not_fit() -> None:
    board = booted(RefNpuBoard("npu"))
    with pytest.raises(JobRejected) as info:
        board.submit(JobSpec(job_id="f", kernel="fft", size=1024, seed=1))
    assert info.value.code is JobRejectCode.UNSUPPORTED_KERNEL
    with pytest.raises(JobRejected) as info:
        board.submit(JobSpec(job_id="m", kernel="matmul", size=4096, seed=1))
    assert info.value.code is JobRejectCode.TOO_LARGE_FOR_MEMORY


@pytest.mark.parametrize(
    ("kernel", "size"), [("matmul", 300), ("mlp_inference", 700), ("fft", 4096)]
)
def test_reference_boards_agree_with_the_reference_digest(kernel: str, size: int) -> None:
    job = JobSpec(job_id="agree", kernel=kernel, size=size, seed=42)
    expected = run_reference(job).digest
    for cls in (RefGpuBoard, RefNpuBoard, RefCpuBoard):
        board = booted(cls("b"))
        if kernel not in cls.CAPABILITIES.kernel_flops_per_s:
            continue
        board.submit(job)
        board.step(1.0, 290.0)
        (result,) = board.take_results()
        assert result.digest == expected, cls.__name__


def test_board_code_never_reads_the_wall_clock() -> None:
    root = Path(__file__).resolve().parents[3]
    # Except the job executor: it times the host's numpy work (wall time is what it
    # measures, to choose BLAS threads), never a board's mission time.
    host_side = {root / "hwsim" / "boards" / "executor.py"}
    sources = [
        *(p for p in root.joinpath("hwsim", "boards").glob("*.py") if p not in host_side),
        *root.joinpath("sdk", "computesat_sdk").rglob("*.py"),
    ]
    assert len(sources) > 6, sources
    forbidden = re.compile(r"time\.(time|sleep|monotonic|perf_counter)\(|datetime\.now|import time")
    for source in sources:
        assert not forbidden.search(source.read_text()), source
