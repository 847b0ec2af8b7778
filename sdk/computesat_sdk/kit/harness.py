"""The conformance kit's harness: drive one board in mission time and check what it reports.

The kit's suite (`computesat_sdk.kit.suite`) is written on these helpers, and they are public
so a vendor can use them in their own tests too, with or without pytest::

    from computesat_sdk.kit import harness

    board = harness.new_board("acme-photon7")         # an installed plug-in, OFF
    harness.boot(board)                                # power on, step until IDLE
    job = harness.long_job(board, duration_s=5.0)      # busy for 5 s at full speed
    board.submit(job)
    watch = harness.TelemetryWatch(board)              # checks every sample it takes
    assert harness.run_until(board, lambda: board.health().active_job_id is None,
                             max_s=10.0, on_step=watch)
    result = harness.one_result(board)

Everything here uses only the `ComputeBoard` contract, never `BaseBoard` internals, so a board
written from scratch is driven and judged exactly like one built on `BaseBoard`. Time is the
board's mission time: nothing here reads a clock or sleeps. Checks are plain asserts (pytest
rewrites them for readable failures when the kit runs); helpers that cannot find a board raise
`BoardUnavailable`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from computesat_sdk.contract import BoardHealth, PowerState
from computesat_sdk.kernels import KERNELS, JobSpec
from computesat_sdk.registry import discover_boards

if TYPE_CHECKING:
    from collections.abc import Callable

    from computesat_sdk.contract import ComputeBoard, JobResult
    from computesat_sdk.registry import BoardRegistry

__all__ = [
    "COUNTERS",
    "PLATE_NOMINAL_K",
    "PLAUSIBLE_TEMP_K",
    "BoardUnavailable",
    "TelemetryWatch",
    "board_factory",
    "boot",
    "check_health",
    "long_job",
    "new_board",
    "one_result",
    "resolving_step_s",
    "run_until",
    "small_job",
    "supported_kernels",
]

# A nominal cold-plate temperature for the checks that do not care about heat, K.
PLATE_NOMINAL_K = 300.0
# Temperatures a sensor on a working board in orbit can plausibly report (low, high), K.
PLAUSIBLE_TEMP_K = (150.0, 600.0)
# Health counters that must never be negative nor go backwards.
COUNTERS = (
    "correctable_errors",
    "uncorrectable_errors",
    "heartbeat",
    "jobs_completed",
    "jobs_failed",
    "boot_count",
)


class BoardUnavailable(LookupError):
    """The named board plug-in is not installed, or the registry refused it (reason given)."""


# --- building boards ---------------------------------------------------------------------------


def board_factory(
    name: str, registry: BoardRegistry | None = None
) -> Callable[[str], ComputeBoard]:
    """A factory of fresh boards of plug-in `name`: ``make("board-id")`` gives one, OFF.

    Boards start at mission time 0 s with the die at `PLATE_NOMINAL_K`. `registry` defaults
    to every plug-in installed (`discover_boards()`). Raises `BoardUnavailable` naming the
    refusal reason, or the plug-ins that are installed, if `name` cannot be built.
    """
    if registry is None:
        registry = discover_boards()
    if name not in registry:
        reasons = [r.reason for r in registry.refused if r.name == name]
        if reasons:
            raise BoardUnavailable(f"board plug-in {name!r} was refused: {reasons[0]}")
        raise BoardUnavailable(
            f"no board plug-in {name!r} in group computesat.boards; "
            f"installed: {', '.join(registry.names()) or 'none'}"
        )

    def make(board_id: str = "conformance-0") -> ComputeBoard:
        return registry.create(name, board_id, mission_time_s=0.0, initial_temp_k=PLATE_NOMINAL_K)

    return make


def new_board(
    name: str, board_id: str = "conformance-0", registry: BoardRegistry | None = None
) -> ComputeBoard:
    """One fresh board of plug-in `name`, OFF (see `board_factory`)."""
    return board_factory(name, registry)(board_id)


# --- stepping ----------------------------------------------------------------------------------


def resolving_step_s(board: ComputeBoard) -> float:
    """A step small against the board's own time scales, so its behaviour is resolved, s."""
    model = board.thermal_model()
    return min(1.0, model.time_constant_s / 20.0, model.throttle_step_s / 2.0)


def run_until(
    board: ComputeBoard,
    until: Callable[[], bool],
    max_s: float,
    plate_temp_k: float = PLATE_NOMINAL_K,
    dt_s: float | None = None,
    on_step: Callable[[], None] | None = None,
) -> bool:
    """Step until `until()` or `max_s` of mission time; True if the predicate came true.

    Steps of `dt_s` (default `resolving_step_s(board)`) with the cold plate at `plate_temp_k`;
    `on_step` is called after every step (e.g. a `TelemetryWatch`).
    """
    dt = dt_s if dt_s is not None else resolving_step_s(board)
    elapsed_s = 0.0
    while not until():
        if elapsed_s >= max_s:
            return False
        board.step(dt, plate_temp_k)
        elapsed_s += dt
        if on_step is not None:
            on_step()
    return True


def boot(board: ComputeBoard, plate_temp_k: float = PLATE_NOMINAL_K) -> None:
    """Power the board on and step until it has booted (IDLE, or THROTTLED if already hot)."""
    board.power_on()
    boot_s = board.thermal_model().boot_time_s
    booted = run_until(
        board,
        lambda: board.state is not PowerState.BOOTING,
        boot_s + 5.0,
        plate_temp_k,
        dt_s=max(min(1.0, boot_s / 10.0), 1e-3),
    )
    assert booted, f"still booting {boot_s + 5.0} s after power_on (boot_time_s={boot_s})"
    assert board.state in (PowerState.IDLE, PowerState.THROTTLED), (
        f"expected IDLE or THROTTLED after boot, got {board.state}"
    )


# --- jobs --------------------------------------------------------------------------------------


def supported_kernels(board: ComputeBoard) -> list[str]:
    """The reference kernels the board declares a FLOP rate for, sorted."""
    return sorted(k for k in board.capabilities().kernel_flops_per_s if k in KERNELS)


def small_job(kernel: str, job_id: str = "job-1", seed: int = 7) -> JobSpec:
    """A quick, small job of `kernel` (one iteration)."""
    size = {"matmul": 32, "fft": 256, "mlp_inference": 16}.get(kernel, 8)
    return JobSpec(job_id=job_id, kernel=kernel, size=size, seed=seed)


def long_job(board: ComputeBoard, duration_s: float, job_id: str = "long-1") -> JobSpec:
    """A cheap-to-compute job that keeps the board busy for `duration_s` at full speed, within
    the board's job limits (``job_limits()``), built as a user builds a long job.

    A small job of the board's first supported kernel, repeated enough iterations; when that
    is more iterations than the board accepts (``max_iterations``), the size doubles (up to
    ``max_size``) until the iterations fit (the result is computed once, at the job's size).
    If even the kernel's largest size at the most iterations is shorter, the next supported
    kernel is tried. AssertionError naming the limits if no kernel's job lasts that long.
    """
    limits = board.job_limits()
    rates = board.capabilities().kernel_flops_per_s
    for kernel in supported_kernels(board):
        largest = limits.max_size.get(kernel)
        if largest is None:
            continue
        job = small_job(kernel, job_id)
        spec = KERNELS[kernel]
        size = min(job.size, largest)
        while True:
            iterations = math.ceil(duration_s * rates[kernel] / spec.flops(size))
            if iterations <= limits.max_iterations or size >= largest:
                break
            bigger = min(size * 2, largest)
            if spec.check_size(bigger) is not None:  # fft: powers of two only
                break
            size = bigger
        if iterations <= limits.max_iterations:
            return job.model_copy(update={"size": size, "iterations": iterations})
    raise AssertionError(
        f"no job of this board lasts {duration_s} s at full speed within its limits "
        f"(max_iterations={limits.max_iterations}, max_size={limits.max_size}): the kit's "
        "checks need one (see docs/boards.md, job limits)"
    )


def one_result(board: ComputeBoard) -> JobResult:
    """Take the board's results and assert there is exactly one."""
    results = board.take_results()
    assert len(results) == 1, f"expected exactly one job result, got {results}"
    return results[0]


# --- telemetry ---------------------------------------------------------------------------------


def check_health(board: ComputeBoard, health: BoardHealth) -> None:
    """Assert one health sample is in range, in its units and consistent with the board."""
    assert isinstance(health, BoardHealth), f"health() gave a {type(health).__name__}"
    model = board.thermal_model()
    low_k, high_k = PLAUSIBLE_TEMP_K
    assert low_k <= health.die_temp_k <= high_k, f"die_temp_k {health.die_temp_k} implausible"
    assert low_k <= health.memory_temp_k <= high_k, (
        f"memory_temp_k {health.memory_temp_k} implausible"
    )
    assert model.off_w - 1e-9 <= health.power_w <= model.latch_up_w + 1e-9, (
        f"power_w {health.power_w} outside off_w {model.off_w} .. latch_up_w {model.latch_up_w}"
    )
    assert math.isclose(health.power_w, board.power_draw_w(), rel_tol=1e-9, abs_tol=1e-9), (
        f"health power_w {health.power_w} != power_draw_w() {board.power_draw_w()}"
    )
    assert 0.0 <= health.utilisation <= 1.0, f"utilisation {health.utilisation} not in 0..1"
    assert 0 <= health.throttle_level <= model.max_throttle_level, (
        f"throttle_level {health.throttle_level} not in 0..{model.max_throttle_level}"
    )
    assert health.throttle_level >= health.commanded_throttle_level, (
        f"throttle_level {health.throttle_level} below the commanded "
        f"{health.commanded_throttle_level}"
    )
    assert math.isclose(
        health.perf_fraction, model.throttle_levels[health.throttle_level].perf_fraction
    ), f"perf_fraction {health.perf_fraction} is not that of level {health.throttle_level}"
    assert health.power_state is board.state, f"{health.power_state} != state {board.state}"
    assert health.board_id == board.board_id, f"{health.board_id!r} != {board.board_id!r}"
    for counter in COUNTERS:
        assert getattr(health, counter) >= 0, f"{counter} is negative: {getattr(health, counter)}"


class TelemetryWatch:
    """Call it (e.g. as `run_until`'s `on_step`) to take a health sample and check it.

    Every sample passes `check_health`; counters never go backwards and mission time never
    goes back between samples. The samples are kept in `samples`.
    """

    def __init__(self, board: ComputeBoard) -> None:
        self.board = board
        self.samples: list[BoardHealth] = []

    def __call__(self) -> None:
        health = self.board.health()
        check_health(self.board, health)
        if self.samples:
            last = self.samples[-1]
            for counter in COUNTERS:
                now, before = getattr(health, counter), getattr(last, counter)
                assert now >= before, f"{counter} went backwards: {before} -> {now}"
            assert health.mission_time_s >= last.mission_time_s, (
                f"mission time went back: {last.mission_time_s} -> {health.mission_time_s}"
            )
        self.samples.append(health)
