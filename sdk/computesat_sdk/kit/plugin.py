"""Compute-board conformance kit: a pytest plugin that proves a board honours the contract.

Installed with computesat (entry point ``pytest11: computesat_conformance``), so any pytest
run can use it. Run it against a board registered under the ``computesat.boards`` entry-point
group, from any directory (an empty one keeps your own tests out of the run)::

    pytest --computesat-board=acme-photon7
    pytest --computesat-board=ref-gpu --computesat-board=ref-cpu -q

Without ``--computesat-board`` the plugin does nothing: it adds no tests, no fixtures are used,
and it imports nothing beyond pytest, so it cannot affect a project's own test run.

With the option, the test functions of this module are collected (as node
``computesat-conformance``) and parametrised over the named boards. They use only the
`computesat_sdk.contract.ComputeBoard` contract, never `BaseBoard` internals, so a board
written from
scratch is judged exactly like one built on `BaseBoard`. What is checked:

- identity and interface version; characteristics that validate;
- telemetry ranges and units (temperatures in K, power within the thermal model's bounds,
  utilisation 0..1, counters non-negative and monotonic, mission time advancing by dt);
- power-state transitions (off -> booting -> idle -> busy -> idle) and refusal of illegal ones;
- correct results on every reference kernel the board supports (digest verifies with
  `computesat_sdk.kernels.verify`), refusal of unsupported kernels and bad jobs with `JobRejected`;
- job timing from the board's FLOP rate and throttle level;
- thermal self-throttling (hot plate -> throttles, power falls; cool -> recovers), the
  over-temperature trip, and the lumped thermal model's steady state and energy balance;
- recovery from hang (reset or power cycle) and latch-up (power cycle only), silent result
  corruption, uncorrectable memory errors;
- determinism: the same script gives the same telemetry and results.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from computesat_sdk.contract import BoardHealth, ComputeBoard, JobResult, JobSpec
    from computesat_sdk.registry import BoardRegistry

__all__ = ["OPTION", "pytest_addoption", "pytest_collection_modifyitems", "pytest_configure"]

OPTION = "--computesat-board"
_DEST = "computesat_board"
_SUITE_NODE_ID = "computesat-conformance"

# A nominal cold-plate temperature for the tests that do not care about heat, K.
_PLATE_NOMINAL_K = 300.0
# Temperatures a sensor on a working board in orbit can plausibly report, K.
_PLAUSIBLE_TEMP_K = (150.0, 600.0)


# --- plugin hooks -----------------------------------------------------------------------------


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


class _SuiteModule(pytest.Module):
    # Collect by our own naming rule, whatever python_functions the host project configures.
    def funcnamefilter(self, name: str) -> bool:
        return name.startswith("test_")

    def classnamefilter(self, name: str) -> bool:
        return False


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    # tryfirst: our items must exist before pytest's own -k/-m deselection runs.
    if not _board_names(config):
        return
    suite = _SuiteModule.from_parent(session, path=Path(__file__), nodeid=_SUITE_NODE_ID)
    items[:0] = list(session.genitems(suite))


class _Parametrize:
    # A separate plugin object, not a module-level hook: this module is also collected as the
    # suite, and pytest would call a module-level pytest_generate_tests a second time.
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
    if names:
        config.pluginmanager.register(_Parametrize(names), "computesat-conformance-parametrize")


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def computesat_board_registry() -> BoardRegistry:
    """Every board plug-in installed, loaded once per session."""
    from computesat_sdk.registry import discover_boards

    return discover_boards()


@pytest.fixture
def computesat_new_board(
    computesat_board_registry: BoardRegistry, computesat_board_name: str
) -> Callable[[str], ComputeBoard]:
    """Build fresh boards of the board under test: ``computesat_new_board("id")``."""
    registry = computesat_board_registry
    name = computesat_board_name
    if name not in registry:
        reasons = [r.reason for r in registry.refused if r.name == name]
        if reasons:
            pytest.fail(f"board plug-in {name!r} was refused: {reasons[0]}", pytrace=False)
        pytest.fail(
            f"no board plug-in {name!r} in group computesat.boards; "
            f"installed: {', '.join(registry.names()) or 'none'}",
            pytrace=False,
        )

    def make(board_id: str = "conformance-0") -> ComputeBoard:
        return registry.create(name, board_id, mission_time_s=0.0, initial_temp_k=_PLATE_NOMINAL_K)

    return make


@pytest.fixture
def computesat_board(computesat_new_board: Callable[[str], ComputeBoard]) -> ComputeBoard:
    """A fresh board of the type under test, OFF."""
    return computesat_new_board("conformance-0")


@pytest.fixture
def computesat_up_board(computesat_board: ComputeBoard) -> ComputeBoard:
    """A fresh board, powered on and booted to IDLE at the nominal plate temperature."""
    _boot(computesat_board)
    return computesat_board


# --- helpers ----------------------------------------------------------------------------------


def _dt_s(board: ComputeBoard) -> float:
    """A step small against the board's own time scales, so behaviour is resolved."""
    model = board.thermal_model()
    return min(1.0, model.time_constant_s / 20.0, model.throttle_step_s / 2.0)


def _run(
    board: ComputeBoard,
    until: Callable[[], bool],
    max_s: float,
    plate_temp_k: float = _PLATE_NOMINAL_K,
    dt_s: float | None = None,
    on_step: Callable[[], None] | None = None,
) -> bool:
    """Step until `until()` or `max_s` of mission time; True if the predicate came true."""
    dt = dt_s if dt_s is not None else _dt_s(board)
    elapsed = 0.0
    while not until():
        if elapsed >= max_s:
            return False
        board.step(dt, plate_temp_k)
        elapsed += dt
        if on_step is not None:
            on_step()
    return True


def _boot(board: ComputeBoard, plate_temp_k: float = _PLATE_NOMINAL_K) -> None:
    from computesat_sdk.contract import PowerState

    board.power_on()
    boot_s = board.thermal_model().boot_time_s
    booted = _run(
        board,
        lambda: board.state is not PowerState.BOOTING,
        boot_s + 5.0,
        plate_temp_k,
        dt_s=max(min(1.0, boot_s / 10.0), 1e-3),
    )
    assert booted, f"still booting {boot_s + 5.0} s after power_on (boot_time_s={boot_s})"
    assert board.state in (PowerState.IDLE, PowerState.THROTTLED), board.state


def _small_job(kernel: str, job_id: str = "job-1", seed: int = 7) -> JobSpec:
    from computesat_sdk.kernels import JobSpec

    size = {"matmul": 32, "fft": 256, "mlp_inference": 16}.get(kernel, 8)
    return JobSpec(job_id=job_id, kernel=kernel, size=size, seed=seed)


def _long_job(board: ComputeBoard, duration_s: float, job_id: str = "long-1") -> JobSpec:
    """A cheap-to-compute job that keeps the board busy for `duration_s` at full speed."""
    from computesat_sdk.kernels import KERNELS

    kernel = _kernels_supported(board)[0]
    job = _small_job(kernel, job_id)
    rate = board.capabilities().kernel_flops_per_s[kernel]
    iterations = math.ceil(duration_s * rate / KERNELS[kernel].flops(job.size))
    return job.model_copy(update={"iterations": iterations})


def _kernels_supported(board: ComputeBoard) -> list[str]:
    from computesat_sdk.kernels import KERNELS

    return sorted(k for k in board.capabilities().kernel_flops_per_s if k in KERNELS)


def _one_result(board: ComputeBoard) -> JobResult:
    results = board.take_results()
    assert len(results) == 1, results
    return results[0]


def _check_health(board: ComputeBoard, health: BoardHealth) -> None:
    from computesat_sdk.contract import BoardHealth

    assert isinstance(health, BoardHealth)
    model = board.thermal_model()
    low_k, high_k = _PLAUSIBLE_TEMP_K
    assert low_k <= health.die_temp_k <= high_k, health.die_temp_k
    assert low_k <= health.memory_temp_k <= high_k, health.memory_temp_k
    assert model.off_w - 1e-9 <= health.power_w <= model.latch_up_w + 1e-9, health.power_w
    assert math.isclose(health.power_w, board.power_draw_w(), rel_tol=1e-9, abs_tol=1e-9)
    assert 0.0 <= health.utilisation <= 1.0
    assert 0 <= health.throttle_level <= model.max_throttle_level
    assert health.throttle_level >= health.commanded_throttle_level
    assert math.isclose(
        health.perf_fraction, model.throttle_levels[health.throttle_level].perf_fraction
    )
    assert health.power_state is board.state
    assert health.board_id == board.board_id
    for counter in _COUNTERS:
        assert getattr(health, counter) >= 0


_COUNTERS = (
    "correctable_errors",
    "uncorrectable_errors",
    "heartbeat",
    "jobs_completed",
    "jobs_failed",
    "boot_count",
)


class _TelemetryWatch:
    """Checks every health sample and that counters never go backwards."""

    def __init__(self, board: ComputeBoard) -> None:
        self.board = board
        self.samples: list[BoardHealth] = []

    def __call__(self) -> None:
        health = self.board.health()
        _check_health(self.board, health)
        if self.samples:
            last = self.samples[-1]
            for counter in _COUNTERS:
                assert getattr(health, counter) >= getattr(last, counter), counter
            assert health.mission_time_s >= last.mission_time_s
        self.samples.append(health)


# --- the suite --------------------------------------------------------------------------------


def test_identity_and_interface_version(
    computesat_board_registry: BoardRegistry,
    computesat_board_name: str,
    computesat_new_board: Callable[[str], ComputeBoard],
) -> None:
    from computesat_sdk.contract import BoardIdentity, ComputeBoard, is_compatible

    board = computesat_new_board("conformance-id")
    assert isinstance(board, ComputeBoard)
    assert board.board_id == "conformance-id"
    identity = board.identity
    assert isinstance(identity, BoardIdentity)
    assert is_compatible(identity.interface_version), identity.interface_version
    plugin = computesat_board_registry.get(computesat_board_name)
    assert plugin.interface_version == identity.interface_version
    assert identity.vendor.strip() and identity.part_number.strip()
    assert board.identity == computesat_new_board("conformance-other").identity


def test_characteristics_validate(computesat_board: ComputeBoard) -> None:
    from computesat_sdk.contract import BoardCapabilities, ThermalElectricalModel

    model = computesat_board.thermal_model()
    assert isinstance(model, ThermalElectricalModel)
    assert ThermalElectricalModel.model_validate(model.model_dump()) == model
    caps = computesat_board.capabilities()
    assert isinstance(caps, BoardCapabilities)
    assert BoardCapabilities.model_validate(caps.model_dump()) == caps
    assert _kernels_supported(computesat_board), "supports none of the reference kernels"
    assert "float64" in caps.dtypes


def test_new_board_is_off_and_draws_off_power(computesat_board: ComputeBoard) -> None:
    from computesat_sdk.contract import PowerState

    board = computesat_board
    model = board.thermal_model()
    assert board.state is PowerState.OFF
    health = board.health()
    _check_health(board, health)
    assert math.isclose(health.die_temp_k, _PLATE_NOMINAL_K)
    assert math.isclose(board.power_draw_w(), model.off_w)
    assert health.utilisation == 0.0 and health.active_job_id is None
    for _ in range(5):
        board.step(1.0, _PLATE_NOMINAL_K)
    assert board.state is PowerState.OFF
    assert board.health().heartbeat == health.heartbeat


def test_power_sequence(computesat_board: ComputeBoard) -> None:
    from computesat_sdk.contract import PowerState
    from computesat_sdk.kernels import verify_result

    board = computesat_board
    model = board.thermal_model()
    board.power_on()
    assert board.state is PowerState.BOOTING
    assert math.isclose(board.power_draw_w(), model.idle_w)
    if model.boot_time_s > 0.0:
        board.step(model.boot_time_s / 2.0, _PLATE_NOMINAL_K)
        assert board.state is PowerState.BOOTING, "finished booting early"
        board.step(model.boot_time_s / 2.0 + 1e-6, _PLATE_NOMINAL_K)
    else:
        board.step(1e-3, _PLATE_NOMINAL_K)
    assert board.state is PowerState.IDLE
    assert math.isclose(board.power_draw_w(), model.idle_w)
    assert board.health().boot_count >= 1

    job = _long_job(board, 10.0)
    board.submit(job)
    assert board.state is PowerState.BUSY
    health = board.health()
    assert health.active_job_id == job.job_id and health.utilisation > 0.0
    assert model.idle_w < board.power_draw_w() <= model.peak_w + 1e-9
    assert _run(board, lambda: board.state is PowerState.IDLE, 20.0, dt_s=0.5)
    result = _one_result(board)
    assert verify_result(job, result)
    assert math.isclose(board.power_draw_w(), model.idle_w)
    board.power_off()
    assert board.state is PowerState.OFF
    assert math.isclose(board.power_draw_w(), model.off_w)


def test_illegal_transitions_are_refused(computesat_board: ComputeBoard) -> None:
    from computesat_sdk.contract import BoardStateError, PowerState

    board = computesat_board
    job = _small_job(_kernels_supported(board)[0])

    def refused(action: Callable[[], Any], state: PowerState) -> None:
        with pytest.raises(BoardStateError):
            action()
        assert board.state is state
        assert board.take_results() == []

    refused(lambda: board.submit(job), PowerState.OFF)
    refused(board.self_test, PowerState.OFF)
    refused(board.reset, PowerState.OFF)
    refused(lambda: board.set_throttle(0), PowerState.OFF)
    board.power_on()
    refused(lambda: board.submit(job), PowerState.BOOTING)
    refused(board.power_on, PowerState.BOOTING)
    refused(board.self_test, PowerState.BOOTING)
    _run(
        board, lambda: board.state is not PowerState.BOOTING, board.thermal_model().boot_time_s + 5
    )
    refused(board.power_on, PowerState.IDLE)
    board.submit(_long_job(board, 100.0))
    refused(board.self_test, PowerState.BUSY)
    refused(board.power_on, PowerState.BUSY)


def test_job_correctness(computesat_up_board: ComputeBoard, computesat_kernel: str) -> None:
    from computesat_sdk.contract import JobRejectCode, JobRejected, JobStatus, PowerState
    from computesat_sdk.kernels import job_flops, verify, verify_result

    board = computesat_up_board
    caps = board.capabilities()
    job = _small_job(computesat_kernel, seed=11)
    if computesat_kernel not in caps.kernel_flops_per_s:
        with pytest.raises(JobRejected) as refused:
            board.submit(job)
        assert refused.value.code is JobRejectCode.UNSUPPORTED_KERNEL
        assert board.state is PowerState.IDLE
        return
    job = job.model_copy(update={"iterations": 1000})
    board.submit(job)
    expected_s = job_flops(job) / caps.kernel_flops_per_s[computesat_kernel]
    dt = max(expected_s / 50.0, 1e-9)
    assert _run(board, lambda: board.state is PowerState.IDLE, expected_s * 2 + 1.0, dt_s=dt)
    result = _one_result(board)
    assert result.status is JobStatus.COMPLETED
    assert result.board_id == board.board_id and result.kernel == computesat_kernel
    assert result.digest is not None and verify(job, result.digest)
    assert verify_result(job, result)
    assert result.summary and all(math.isfinite(v) for v in result.summary.values())
    duration_s = result.end_mission_time_s - result.start_mission_time_s
    assert math.isclose(duration_s, expected_s, rel_tol=1e-6, abs_tol=dt), (duration_s, expected_s)
    assert board.take_results() == []


def test_bad_jobs_are_rejected(computesat_up_board: ComputeBoard) -> None:
    from computesat_sdk.contract import JobRejectCode, JobRejected, PowerState
    from computesat_sdk.kernels import KERNELS

    board = computesat_up_board
    kernel = _kernels_supported(board)[0]
    good = _small_job(kernel)

    def rejected(job: JobSpec, code: JobRejectCode) -> None:
        state = board.state
        with pytest.raises(JobRejected) as info:
            board.submit(job)
        assert info.value.code is code, (info.value.code, info.value.reason)
        assert info.value.reason
        assert board.state is state
        assert board.take_results() == []

    rejected(good.model_copy(update={"kernel": "no_such_kernel"}), JobRejectCode.UNKNOWN_KERNEL)
    rejected(good.model_copy(update={"size": 0}), JobRejectCode.BAD_SIZE)
    rejected(good.model_copy(update={"size": -5}), JobRejectCode.BAD_SIZE)
    rejected(good.model_copy(update={"size": KERNELS[kernel].max_size + 1}), JobRejectCode.BAD_SIZE)
    rejected(good.model_copy(update={"iterations": 0}), JobRejectCode.BAD_SIZE)
    rejected(good.model_copy(update={"dtype": "float32"}), JobRejectCode.WRONG_DTYPE)
    memory = board.capabilities().memory_bytes
    for name in _kernels_supported(board):
        spec = KERNELS[name]
        size = spec.min_size
        while size <= spec.max_size:
            if spec.check_size(size) is None and spec.memory_bytes(size) > memory:
                job = good.model_copy(update={"kernel": name, "size": size})
                rejected(job, JobRejectCode.TOO_LARGE_FOR_MEMORY)
                break
            size *= 2
    assert board.state is PowerState.IDLE

    long_job = _long_job(board, 1000.0, job_id="dup")
    board.submit(long_job)
    rejected(long_job, JobRejectCode.DUPLICATE_JOB_ID)
    depth = board.capabilities().queue_depth
    for index in range(depth):
        board.submit(long_job.model_copy(update={"job_id": f"queued-{index}"}))
    assert board.health().queued_jobs == depth
    rejected(long_job.model_copy(update={"job_id": "one-too-many"}), JobRejectCode.QUEUE_FULL)


def test_job_limits_are_stated_and_enforced(computesat_up_board: ComputeBoard) -> None:
    from computesat_sdk.contract import JobLimits, JobRejectCode, JobRejected
    from computesat_sdk.kernels import KERNELS, MAX_ITERATIONS

    board = computesat_up_board
    limits = board.job_limits()
    assert isinstance(limits, JobLimits), f"job_limits() returned {type(limits).__name__}"
    assert JobLimits.model_validate(limits.model_dump()) == limits
    caps = board.capabilities()
    assert set(limits.max_size) <= set(caps.kernel_flops_per_s), (
        f"limits name kernels {sorted(limits.max_size)} the board does not run "
        f"({sorted(caps.kernel_flops_per_s)})"
    )
    assert limits.max_memory_bytes <= caps.memory_bytes, (limits, caps.memory_bytes)
    for kernel, size in limits.max_size.items():
        spec = KERNELS[kernel]
        assert spec.check_size(size) is None, f"max_size[{kernel}]={size}: {spec.size_rule}"
        assert spec.memory_bytes(size) <= limits.max_memory_bytes, (kernel, size)
        bigger = size + 1
        while bigger <= spec.max_size and spec.check_size(bigger) is not None:
            bigger += 1
        if bigger <= spec.max_size:
            job = _small_job(kernel, job_id=f"beyond-{kernel}").model_copy(update={"size": bigger})
            assert limits.violation(kernel, bigger) is not None
            with pytest.raises(JobRejected) as info:
                board.submit(job)
            assert info.value.code in (JobRejectCode.BAD_SIZE, JobRejectCode.TOO_LARGE_FOR_MEMORY)
    if limits.max_iterations < MAX_ITERATIONS:
        kernel = sorted(limits.max_size)[0]
        job = _small_job(kernel, job_id="beyond-iterations").model_copy(
            update={"iterations": limits.max_iterations + 1}
        )
        assert limits.violation(kernel, job.size, job.iterations) is not None
        with pytest.raises(JobRejected) as info:
            board.submit(job)
        assert info.value.code is JobRejectCode.BAD_SIZE, (info.value.code, info.value.reason)
    assert board.take_results() == [], "a refused job must leave no result"


def test_telemetry_ranges_units_and_monotonic_counters(computesat_board: ComputeBoard) -> None:
    from computesat_sdk.contract import BoardHealth, PowerState, UpsetKind

    for name, info in BoardHealth.model_fields.items():
        assert info.description, f"BoardHealth.{name} has no description"
    board = computesat_board
    watch = _TelemetryWatch(board)
    watch()
    board.power_on()
    watch()
    _run(board, lambda: board.state is not PowerState.BOOTING, 1e6, on_step=watch)
    board.submit(_long_job(board, 30.0))
    watch()
    start_s = board.health().mission_time_s
    for _ in range(10):
        board.step(0.25, _PLATE_NOMINAL_K)
        watch()
    assert math.isclose(board.health().mission_time_s, start_s + 2.5, abs_tol=1e-9)
    heartbeat = board.health().heartbeat
    assert heartbeat > watch.samples[0].heartbeat, "heartbeat does not advance while up"
    board.inject_upset(UpsetKind.MEMORY_CE)
    watch()
    assert watch.samples[-1].correctable_errors == watch.samples[-2].correctable_errors + 1
    board.inject_upset(UpsetKind.MEMORY_UE)
    watch()
    assert watch.samples[-1].uncorrectable_errors == watch.samples[-2].uncorrectable_errors + 1
    board.power_cycle()
    watch()
    _run(board, lambda: board.state is not PowerState.BOOTING, 1e6, on_step=watch)
    board.inject_upset(UpsetKind.LATCH_UP)
    watch()
    board.power_off()
    watch()


def test_memory_ue_fails_the_running_job(computesat_up_board: ComputeBoard) -> None:
    from computesat_sdk.contract import JobStatus, PowerState, UpsetKind

    board = computesat_up_board
    job = _long_job(board, 100.0)
    board.submit(job)
    board.step(1.0, _PLATE_NOMINAL_K)
    board.inject_upset(UpsetKind.MEMORY_UE)
    result = _one_result(board)
    assert result.job_id == job.job_id and result.status is JobStatus.FAILED
    assert board.state is PowerState.IDLE
    assert board.health().uncorrectable_errors == 1


def test_commanded_throttle(computesat_up_board: ComputeBoard) -> None:
    from computesat_sdk.contract import PowerState
    from computesat_sdk.kernels import job_flops, verify_result

    board = computesat_up_board
    model = board.thermal_model()
    deepest = model.max_throttle_level
    for bad in (-1, deepest + 1):
        with pytest.raises(ValueError):
            board.set_throttle(bad)
    job = _long_job(board, 5.0)
    board.submit(job)
    full_power_w = board.power_draw_w()
    if deepest == 0:
        return
    board.set_throttle(deepest)
    health = board.health()
    assert health.throttle_level == deepest == health.commanded_throttle_level
    assert board.state is PowerState.THROTTLED
    assert board.power_draw_w() < full_power_w
    perf = model.throttle_levels[deepest].perf_fraction
    expected_s = job_flops(job) / (board.capabilities().kernel_flops_per_s[job.kernel] * perf)
    assert _run(board, lambda: board.health().active_job_id is None, 4 * expected_s, dt_s=0.1)
    result = _one_result(board)
    assert verify_result(job, result)
    took_s = result.end_mission_time_s - result.start_mission_time_s
    assert math.isclose(took_s, expected_s, rel_tol=1e-6, abs_tol=0.1), (took_s, expected_s)
    board.set_throttle(0)
    assert board.state is PowerState.IDLE and board.health().throttle_level == 0


def test_thermal_self_throttling_and_recovery(computesat_up_board: ComputeBoard) -> None:
    from computesat_sdk.contract import PowerState

    board = computesat_up_board
    model = board.thermal_model()
    tau_s = model.time_constant_s
    board.submit(_long_job(board, 200.0 * tau_s + 1000.0))
    busy_w = board.power_draw_w()
    # Hot enough that full power settles midway between throttle and shutdown: it must
    # throttle, and throttling (which only lowers power) keeps it below the trip.
    hot_plate_k = (model.throttle_temp_k + model.shutdown_temp_k) / 2.0 - model.peak_w * (
        model.die_to_plate_k_per_w
    )
    watch = _TelemetryWatch(board)
    throttled = _run(
        board,
        lambda: board.health().throttle_level > 0,
        20.0 * tau_s + 10.0 * model.throttle_step_s,
        hot_plate_k,
        on_step=watch,
    )
    assert throttled, "never throttled with the die above throttle_temp_k"
    assert board.state is PowerState.THROTTLED
    assert board.power_draw_w() < busy_w
    _run(board, lambda: False, 10.0 * tau_s, hot_plate_k, on_step=watch)
    assert all(h.power_state is not PowerState.FAULT for h in watch.samples)
    assert max(h.die_temp_k for h in watch.samples) < model.shutdown_temp_k
    assert board.health().active_job_id is not None
    # Cold enough that even full power stays under the recovery threshold.
    cool_plate_k = (
        model.throttle_temp_k
        - model.throttle_hysteresis_k
        - model.peak_w * model.die_to_plate_k_per_w
    ) - 5.0
    recovered = _run(
        board,
        lambda: board.health().throttle_level == 0,
        20.0 * tau_s + 4.0 * model.throttle_step_s * (model.max_throttle_level + 1),
        cool_plate_k,
    )
    assert recovered, "did not recover from thermal throttling after cooling"
    assert board.state is PowerState.BUSY
    assert math.isclose(board.power_draw_w(), busy_w)


def test_over_temperature_trip_and_reset(computesat_up_board: ComputeBoard) -> None:
    from computesat_sdk.contract import BoardStateError, JobStatus, PowerState

    board = computesat_up_board
    model = board.thermal_model()
    tau_s = model.time_constant_s
    job = _long_job(board, 1e6)
    board.submit(job)
    busy_w = board.power_draw_w()
    hot_plate_k = model.shutdown_temp_k + 10.0
    tripped = _run(board, lambda: board.state is PowerState.FAULT, 30.0 * tau_s, hot_plate_k)
    assert tripped, "no FAULT with the die above shutdown_temp_k"
    assert board.power_draw_w() < busy_w
    result = _one_result(board)
    assert result.job_id == job.job_id and result.status is JobStatus.FAILED
    board.step(1.0, hot_plate_k)
    with pytest.raises(BoardStateError):
        board.reset()
    cool_plate_k = model.throttle_temp_k - model.throttle_hysteresis_k - 20.0
    assert _run(
        board, lambda: board.health().die_temp_k < cool_plate_k + 5.0, 50 * tau_s, cool_plate_k
    )
    assert board.state is PowerState.FAULT, "an over-temperature fault must latch until reset"
    board.reset()
    assert board.state is PowerState.BOOTING
    _run(
        board, lambda: board.state is not PowerState.BOOTING, model.boot_time_s + 5.0, cool_plate_k
    )
    assert board.state is PowerState.IDLE


@pytest.mark.parametrize("recovery", ["reset", "power_cycle"])
def test_hang_and_recovery(computesat_up_board: ComputeBoard, recovery: str) -> None:
    from computesat_sdk.contract import JobStatus, PowerState, UpsetKind
    from computesat_sdk.kernels import verify_result

    board = computesat_up_board
    job = _long_job(board, 2.0)
    board.submit(job)
    board.step(0.5, _PLATE_NOMINAL_K)
    board.inject_upset(UpsetKind.HANG)
    heartbeat = board.health().heartbeat
    _run(board, lambda: False, 20.0, dt_s=0.5)
    health = board.health()
    assert health.heartbeat == heartbeat, "heartbeat advanced on a hung board"
    assert health.active_job_id == job.job_id and board.take_results() == []
    check = board.self_test() if board.state is not PowerState.BUSY else None
    assert check is None or not check.passed
    getattr(board, recovery)()
    assert board.state is PowerState.BOOTING
    result = _one_result(board)
    assert result.job_id == job.job_id and result.status is JobStatus.FAILED
    _run(
        board, lambda: board.state is not PowerState.BOOTING, board.thermal_model().boot_time_s + 5
    )
    assert board.state is PowerState.IDLE
    after = _long_job(board, 1.0, job_id="after-hang")
    board.submit(after)
    assert _run(board, lambda: board.state is PowerState.IDLE, 10.0, dt_s=0.5)
    assert verify_result(after, _one_result(board))


def test_latch_up_needs_power_cycle(computesat_up_board: ComputeBoard) -> None:
    from computesat_sdk.contract import BoardStateError, JobStatus, PowerState, UpsetKind
    from computesat_sdk.kernels import verify_result

    board = computesat_up_board
    model = board.thermal_model()
    job = _long_job(board, 100.0)
    board.submit(job)
    board.inject_upset(UpsetKind.LATCH_UP)
    assert board.state is PowerState.FAULT
    assert math.isclose(board.power_draw_w(), model.latch_up_w)
    assert board.health().power_w > model.peak_w or model.latch_up_w == model.peak_w
    result = _one_result(board)
    assert result.job_id == job.job_id and result.status is JobStatus.FAILED
    board.step(1.0, _PLATE_NOMINAL_K)
    with pytest.raises(BoardStateError):
        board.submit(_small_job(job.kernel, "during-latch-up"))
    with pytest.raises(BoardStateError):
        board.reset()
    assert board.state is PowerState.FAULT
    assert not board.self_test().passed
    board.power_cycle()
    assert board.state is PowerState.BOOTING
    _run(board, lambda: board.state is not PowerState.BOOTING, model.boot_time_s + 5.0)
    assert board.state is PowerState.IDLE
    assert board.self_test().passed
    after = _long_job(board, 1.0, job_id="after-latch-up")
    board.submit(after)
    assert _run(board, lambda: board.state is PowerState.IDLE, 10.0, dt_s=0.5)
    assert verify_result(after, _one_result(board))


def test_bit_flip_result_is_silent(computesat_up_board: ComputeBoard) -> None:
    from computesat_sdk.contract import JobStatus, PowerState, UpsetKind
    from computesat_sdk.kernels import verify, verify_result

    board = computesat_up_board
    job = _long_job(board, 2.0)
    board.submit(job)
    board.step(0.5, _PLATE_NOMINAL_K)
    board.inject_upset(UpsetKind.BIT_FLIP_RESULT)
    assert _run(board, lambda: board.state is PowerState.IDLE, 10.0, dt_s=0.5)
    result = _one_result(board)
    assert result.status is JobStatus.COMPLETED, "the board cannot know its result is corrupt"
    assert result.digest is not None and not verify(job, result.digest)
    clean = _long_job(board, 1.0, job_id="clean")
    board.submit(clean)
    assert _run(board, lambda: board.state is PowerState.IDLE, 10.0, dt_s=0.5)
    assert verify_result(clean, _one_result(board))


def test_self_test(computesat_up_board: ComputeBoard) -> None:
    from computesat_sdk.contract import SelfTestResult

    board = computesat_up_board
    result = board.self_test()
    assert isinstance(result, SelfTestResult)
    assert result.passed, result.detail
    assert result.board_id == board.board_id and result.checks


def test_cancel(computesat_up_board: ComputeBoard) -> None:
    from computesat_sdk.contract import JobStatus, PowerState

    board = computesat_up_board
    running = _long_job(board, 100.0, job_id="running")
    queued = _long_job(board, 100.0, job_id="queued")
    board.submit(running)
    if board.capabilities().queue_depth > 0:
        board.submit(queued)
        assert board.cancel("queued")
        assert _one_result(board).status is JobStatus.CANCELLED
    assert board.cancel("running")
    result = _one_result(board)
    assert result.job_id == "running" and result.status is JobStatus.CANCELLED
    assert board.state is PowerState.IDLE
    assert not board.cancel("no-such-job")


def test_power_off_from_every_state(computesat_new_board: Callable[[str], ComputeBoard]) -> None:
    from computesat_sdk.contract import JobStatus, PowerState, UpsetKind

    def off_and_check(board: ComputeBoard) -> None:
        board.power_off()
        assert board.state is PowerState.OFF
        assert math.isclose(board.power_draw_w(), board.thermal_model().off_w)

    booting = computesat_new_board("b1")
    booting.power_on()
    off_and_check(booting)
    idle = computesat_new_board("b2")
    _boot(idle)
    off_and_check(idle)
    busy = computesat_new_board("b3")
    _boot(busy)
    busy.submit(_long_job(busy, 100.0))
    off_and_check(busy)
    assert _one_result(busy).status is JobStatus.FAILED
    faulted = computesat_new_board("b4")
    _boot(faulted)
    faulted.inject_upset(UpsetKind.LATCH_UP)
    off_and_check(faulted)
    off_and_check(faulted)


def test_upsets_do_not_affect_an_unpowered_board(computesat_board: ComputeBoard) -> None:
    from computesat_sdk.contract import PowerState, UpsetKind

    board = computesat_board
    before = board.health()
    for kind in UpsetKind:
        board.inject_upset(kind)
    assert board.state is PowerState.OFF
    assert board.health() == before


def test_step_arguments_are_checked(computesat_board: ComputeBoard) -> None:
    board = computesat_board
    for dt_s, plate_k in ((-1.0, 300.0), (math.nan, 300.0), (math.inf, 300.0), (1.0, 0.0)):
        with pytest.raises(ValueError):
            board.step(dt_s, plate_k)
    before = board.health()
    board.step(0.0, _PLATE_NOMINAL_K)
    assert board.health().mission_time_s == before.mission_time_s


def test_thermal_steady_state_and_energy_balance(computesat_up_board: ComputeBoard) -> None:
    board = computesat_up_board
    model = board.thermal_model()
    tau_s = model.time_constant_s
    plate_k = 290.0
    dt = tau_s / 10.0
    energy_in_j = 0.0
    heat_out_j = 0.0
    start_k = board.health().die_temp_k
    for _ in range(300):
        energy_in_j += board.power_draw_w() * dt
        heat_out_j += board.step(dt, plate_k) * dt
    end_k = board.health().die_temp_k
    stored_j = model.thermal_mass_j_per_k * (end_k - start_k)
    assert math.isclose(
        heat_out_j, energy_in_j - stored_j, rel_tol=1e-6, abs_tol=1e-6 * energy_in_j
    )
    power_w = board.power_draw_w()
    assert math.isclose(end_k, model.steady_die_temp_k(plate_k, power_w), abs_tol=0.01)
    assert math.isclose(board.step(dt, plate_k), power_w, rel_tol=1e-3)


def test_determinism(computesat_new_board: Callable[[str], ComputeBoard]) -> None:
    def script() -> Iterator[Any]:
        from computesat_sdk.contract import PowerState, UpsetKind

        board = computesat_new_board("determinism")
        board.power_on()
        for index in range(400):
            plate_k = 300.0 + 40.0 * math.sin(index / 25.0)
            board.step(0.7, plate_k)
            idle = board.state in (PowerState.IDLE, PowerState.THROTTLED)
            if idle and index % 3 == 0 and board.health().active_job_id is None:
                kernels = _kernels_supported(board)
                kernel = kernels[index % len(kernels)]
                board.submit(_small_job(kernel, f"{kernel}-{index}", seed=index))
            if index == 200:
                board.inject_upset(UpsetKind.BIT_FLIP_RESULT)
            if index == 300:
                board.inject_upset(UpsetKind.HANG)
            if index == 350:
                board.power_cycle()
            yield board.health().model_dump()
            yield [r.model_dump() for r in board.take_results()]

    first = list(script())
    second = list(script())
    assert first == second
    assert any(isinstance(item, list) and item for item in first), "no job ever completed"
