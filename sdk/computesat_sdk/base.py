"""`BaseBoard`: the shared behaviour of a compute board, so a vendor supplies only data.

A vendor board subclasses `BaseBoard` and sets three class attributes (`IDENTITY`, `THERMAL`,
`CAPABILITIES`); it may override `execute` to run kernels its own way (the digest must still
verify) and set `LIMITS` (default: derived from `CAPABILITIES`). Everything the contract
demands — the state machine, job timing in mission time, thermal integration, stepwise
throttling with hysteresis, over-temperature trip and radiation upsets — lives here, once.

Where results are computed. A job's mission-time duration comes from the board's model
(FLOP / rate); its result is real numpy work on the emulator host. By default that work runs
synchronously when the job's modelled end is reached inside `step` (what the conformance kit
and what-if runs see: deterministic). A host that must not block while a big job computes
(hwsim serving device ports) attaches a `JobExecutor` with `attach_executor`: the work is then
handed to the executor when the job *starts*, and the result is delivered at the modelled end
or when the worker finishes, whichever is later. Until then the job is over for the board
(it goes idle, power and heat follow the model) and counts in `BoardHealth.results_pending`;
`take_results` returns it once it is ready, in order. An executor with ``wait_at_end`` set
blocks at the modelled end instead, so a stepped run stays deterministic for a seed.
`execute` must therefore be a function of the job alone (it may run in a worker process, on
another instance of the board class).

Array stepping. `BaseBoard` classes are ``ARRAY_STEPPING`` (see `computesat_sdk.contract`): a
host may bind them to a `computesat_sdk.arrays.BoardArrays` (``bind_array_host``), which then
advances their die temperature, heartbeat, boot, job progress and throttle timers as numpy
arrays and calls ``step_event`` only for a board with an event in the step. While bound, the
host's arrays hold those values: every public method that reads or changes them first takes
the board's row back from the host, and a method that changes the board tells the host
(``touch``), which takes the new row before its next step. A subclass that overrides how the
board steps (`step`, `power_draw_w`, `_flops_rate`, `_update_thermal_throttle`, ...) is
stepped per object unless it declares ``ARRAY_STEPPING = True`` itself (and so vouches that
its override agrees with the arrays; the conformance kit checks that it does).

Supply. A board in a slot draws its power from the slot's supply; a host that can remove it
(hwsim: the slot's PDU channel opens or the bus sheds it) says so with `set_supply`: the
board powers off and draws nothing, not even its management controller's ``off_w``, until
the supply is back (then it is OFF, drawing ``off_w``, until powered on). A board that is never
told (the conformance kit, a bench) always has its supply. The electrical energy a board drew
over a step beyond its draw at the step's start × dt (a boot or a job ending inside the step)
is `last_step_extra_energy_j`, so that a host that billed the draw at the step's start can
bill the rest.
"""

from __future__ import annotations

import functools
import math
from collections import deque
from collections.abc import Callable
from concurrent import futures
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from computesat_sdk import kernels
from computesat_sdk._thermal import die_temp_after_k, heat_to_plate_j
from computesat_sdk.contract import (
    ArrayHost,
    ArrayRow,
    BoardCapabilities,
    BoardHealth,
    BoardIdentity,
    BoardStateError,
    ComputeBoard,
    JobLimits,
    JobRejectCode,
    JobRejected,
    JobResult,
    JobSpec,
    JobStatus,
    PowerState,
    SelfTestResult,
    ThermalElectricalModel,
    UpsetKind,
)

__all__ = ["DEFAULT_INITIAL_TEMP_K", "BaseBoard", "ComputedJob", "JobExecutor"]

DEFAULT_INITIAL_TEMP_K = 293.15
"""Die temperature of a newly created board unless told otherwise, K."""

_FAULT_LATCH_UP = "latch_up"
_FAULT_OVER_TEMPERATURE = "over_temperature"

# Sizes for the self-test kernel run: big enough to exercise the kernel, small enough to cost
# nothing on the emulator host.
_SELF_TEST_SIZES = {"matmul": 16, "fft": 64, "mlp_inference": 4}


@dataclass(frozen=True)
class ComputedJob:
    """What the host work of a job yields: the result's digest and summary (small, so it
    crosses a process boundary cheaply; the result array itself never leaves the worker)."""

    digest: str
    summary: dict[str, float]


class JobExecutor(Protocol):
    """Runs a board's result computation off the caller's thread (hwsim's slot layer has one).

    ``submit`` must not block: it returns a future of `BaseBoard.compute` (or of an
    equivalent computation in another process). ``wait_at_end``: block at the modelled end of
    the job for the worker (deterministic), instead of delivering the result late.
    """

    wait_at_end: bool

    def submit(self, board: BaseBoard, job: JobSpec, corrupt: bool) -> Future[ComputedJob]: ...


_STEPPING_METHODS = (
    "step",
    "step_event",
    "_advance",
    "power_draw_w",
    "_flops_rate",
    "_utilisation",
    "_effective_level",
    "_update_thermal_throttle",
    "array_row",
    "load_array_row",
)
"""Methods that define how a board steps: a subclass overriding one is stepped per object."""


def _host_synced(touch: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Wrap a public method of an array-stepped board: take the board's row back from its host
    first (the host's arrays are ahead of the attributes), and with ``touch`` tell the host
    the board changed (it takes the new row before its next step)."""

    def wrap(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def synced(self: BaseBoard, *args: Any, **kwargs: Any) -> Any:
            host = self._host
            if host is not None:
                if self._host_epoch != host.epoch:
                    self.load_array_row(host.row(self._host_index), host.time_s)
                if touch:
                    host.touch(self._host_index)
            return method(self, *args, **kwargs)

        return synced

    return wrap


@functools.cache
def _derived_limits(board_class: type[BaseBoard]) -> JobLimits:
    # Per class, once: the search over sizes is cheap but submit() asks on every job.
    return JobLimits.from_capabilities(board_class.CAPABILITIES)


@dataclass
class _ActiveJob:
    job: JobSpec
    flops_total: float
    flops_done: float
    start_mission_time_s: float
    corrupt: bool
    future: Future[ComputedJob] | None = None
    future_corrupt: bool = False


@dataclass
class _PendingResult:
    """A job over in mission time whose result the executor has not delivered yet."""

    future: Future[ComputedJob]
    job: JobSpec
    start_mission_time_s: float
    end_mission_time_s: float
    flops: float


class BaseBoard(ComputeBoard):
    """Concrete board behaviour driven by three class attributes.

    Subclasses set:

    - ``IDENTITY``: a `BoardIdentity`; its ``interface_version`` becomes the class's
      ``interface_version`` (write the literal you built against, e.g. ``"1.0"``).
    - ``THERMAL``: a `ThermalElectricalModel`.
    - ``CAPABILITIES``: a `BoardCapabilities`.

    and may override `execute`.
    """

    IDENTITY: ClassVar[BoardIdentity]
    THERMAL: ClassVar[ThermalElectricalModel]
    CAPABILITIES: ClassVar[BoardCapabilities]
    LIMITS: ClassVar[JobLimits | None] = None
    """The largest job accepted; None: derived from CAPABILITIES (JobLimits.from_capabilities)."""
    ARRAY_STEPPING: ClassVar[bool] = True
    # Class defaults, so that boards pickled before these existed (hwsim snapshots) load:
    # supplied, and no energy drawn beyond the step-start draw.
    _supplied: bool = True
    _step_extra_j: float = 0.0

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "ARRAY_STEPPING" not in cls.__dict__ and any(
            name in cls.__dict__ for name in _STEPPING_METHODS
        ):
            # Its own stepping code: the arrays would not know what it does.
            cls.ARRAY_STEPPING = False
        identity = cls.__dict__.get("IDENTITY")
        if identity is None:
            return
        declared = cls.__dict__.get("interface_version")
        if declared is not None and declared != identity.interface_version:
            raise TypeError(
                f"{cls.__name__}: interface_version {declared!r} disagrees with "
                f"IDENTITY.interface_version {identity.interface_version!r}"
            )
        cls.interface_version = identity.interface_version

    def __init__(
        self,
        board_id: str,
        *,
        mission_time_s: float = 0.0,
        initial_temp_k: float = DEFAULT_INITIAL_TEMP_K,
    ) -> None:
        for name in ("IDENTITY", "THERMAL", "CAPABILITIES"):
            if not hasattr(type(self), name):
                raise TypeError(f"{type(self).__name__} must define class attribute {name}")
        if not board_id:
            raise ValueError("board_id must be a non-empty string")
        if not (math.isfinite(initial_temp_k) and initial_temp_k > 0.0):
            raise ValueError(f"initial_temp_k must be a positive temperature, got {initial_temp_k}")
        if not math.isfinite(mission_time_s):
            raise ValueError(f"mission_time_s must be finite, got {mission_time_s}")
        self._board_id = board_id
        self._mission_time_s = float(mission_time_s)
        self._die_temp_k = float(initial_temp_k)
        self._plate_temp_k = float(initial_temp_k)
        # _state holds only OFF/BOOTING/IDLE/BUSY/FAULT; THROTTLED is derived in `state`.
        self._state = PowerState.OFF
        self._boot_remaining_s = 0.0
        self._hung = False
        self._fault_reason: str | None = None
        self._commanded_level = 0
        self._thermal_level = 0
        self._was_hot = False
        self._hot_timer_s = 0.0
        self._cool_timer_s = 0.0
        self._active: _ActiveJob | None = None
        self._queue: deque[JobSpec] = deque()
        self._results: list[JobResult | _PendingResult] = []
        self._executor: JobExecutor | None = None
        self._on_result: Callable[[], None] | None = None
        self._corrupt_next = False
        self._correctable_errors = 0
        self._uncorrectable_errors = 0
        self._uncorrectable_since_boot = 0
        self._heartbeat = 0
        self._jobs_completed = 0
        self._jobs_failed = 0
        self._boot_count = 0
        # The array host stepping this board (None: stepped per object) and the host epoch
        # the attributes above are current for.
        self._host: ArrayHost | None = None
        self._host_index = -1
        self._host_epoch = 0

    # --- vendor hook ----------------------------------------------------------------------

    def execute(self, job: JobSpec) -> np.ndarray:
        """Compute a job's result for real. Override to use the board's own implementation
        (a function of the job alone: it may run in a worker, see the module docstring)."""
        return kernels.execute(job)

    def compute(self, job: JobSpec, corrupt: bool = False) -> ComputedJob:
        """The host work of a job: `execute`, the upset (if ``corrupt``), digest and summary.
        Raises whatever `execute` raises."""
        result = np.asarray(self.execute(job))
        if corrupt:
            result = kernels.corrupt_result(result, job.seed)
        return ComputedJob(
            digest=kernels.digest_result(job.kernel, result),
            summary=kernels.summarise_result(job.kernel, result),
        )

    # --- host hooks (hwsim) ---------------------------------------------------------------

    def attach_executor(
        self, executor: JobExecutor | None, on_result: Callable[[], None] | None = None
    ) -> None:
        """Compute results with ``executor`` from the next job on (None: synchronously).

        ``on_result`` is called, from any thread, whenever a result may have become ready
        for `take_results` (a job ended, failed or was cancelled, or a worker finished).
        """
        self._executor = executor
        self._on_result = on_result

    def bind_array_host(self, host: ArrayHost | None, index: int = -1) -> None:
        """Let ``host`` step this board as row ``index`` of its arrays (it then takes the
        board's row with `array_row`); None: step it per object again, from the state the
        host holds now."""
        if self._host is not None and self._host_epoch != self._host.epoch:
            self.load_array_row(self._host.row(self._host_index), self._host.time_s)
        self._host = host
        self._host_index = index if host is not None else -1
        self._host_epoch = host.epoch if host is not None else 0

    @_host_synced(touch=True)
    def set_supply(self, supplied: bool) -> None:
        """The slot's supply came (True) or went (False). Without supply the board is
        powered off (running job failed, queued ones cancelled, as `power_off`), draws 0 W
        and refuses `power_on` until its supply is back."""
        if not supplied:
            self.power_off()
        self._supplied = bool(supplied)

    @property
    def supplied(self) -> bool:
        """False while the host has removed the board's supply (`set_supply`)."""
        return self._supplied

    @property
    def last_step_extra_energy_j(self) -> float:
        """Electrical energy the board drew over its last per-object step (`step`,
        `step_event`) beyond ``power_draw_w()`` at the step's start × dt, J: non-zero only
        when the draw changed inside the step (a boot or job ending there)."""
        return self._step_extra_j

    def array_row(self) -> ArrayRow:
        """The board as the array host holds it (`ArrayRow`), from its current attributes.

        The host calls it when it binds the board, after a ``touch`` and after `step_event`;
        from then on the host's row and the board agree until the host's next step.
        """
        host = self._host
        if host is not None:
            self._host_epoch = host.epoch
        active = self._active
        progressing = not self._hung
        state = self._state
        busy = state is PowerState.BUSY and active is not None and progressing
        return ArrayRow(
            die_temp_k=self._die_temp_k,
            plate_temp_k=self._plate_temp_k,
            heartbeat=self._heartbeat,
            boot_remaining_s=self._boot_remaining_s,
            flops_done=active.flops_done if active is not None else 0.0,
            hot_timer_s=self._hot_timer_s,
            cool_timer_s=self._cool_timer_s,
            was_hot=self._was_hot,
            power_w=self.power_draw_w(),
            utilisation=self._utilisation(),
            flops_total=active.flops_total if busy and active is not None else math.inf,
            flops_rate_per_s=(
                self._flops_rate(active.job.kernel) if busy and active is not None else 0.0
            ),
            booting=state is PowerState.BOOTING and progressing,
            alive=state not in (PowerState.OFF, PowerState.FAULT) and progressing,
            up=state in (PowerState.IDLE, PowerState.BUSY),
            powered=state not in (PowerState.OFF, PowerState.FAULT),
            thermal_level=self._thermal_level,
        )

    def load_array_row(self, row: ArrayRow, mission_time_s: float) -> None:
        """Take back the state the host advanced (the inverse of `array_row`)."""
        self._die_temp_k = float(row.die_temp_k)
        self._plate_temp_k = float(row.plate_temp_k)
        self._heartbeat = int(row.heartbeat)
        self._boot_remaining_s = float(row.boot_remaining_s)
        if self._active is not None:
            self._active.flops_done = float(row.flops_done)
        self._hot_timer_s = float(row.hot_timer_s)
        self._cool_timer_s = float(row.cool_timer_s)
        self._was_hot = bool(row.was_hot)
        self._mission_time_s = float(mission_time_s)
        if self._host is not None:
            self._host_epoch = self._host.epoch

    def step_event(self, dt_s: float, plate_temp_k: float) -> float:
        """The host's call for a bound board with an event in this step (boot or job end,
        throttle or trip crossing): the whole step per object, exactly as `step`. The host
        takes the board's row afterwards."""
        host = self._host
        if host is not None and self._host_epoch != host.epoch:
            self.load_array_row(host.row(self._host_index), host.time_s)
        return self._advance(dt_s, plate_temp_k)

    # --- identity and characteristics -----------------------------------------------------

    @property
    def board_id(self) -> str:
        return self._board_id

    @property
    def identity(self) -> BoardIdentity:
        return self.IDENTITY

    @property
    def state(self) -> PowerState:
        if self._state in (PowerState.IDLE, PowerState.BUSY) and self._effective_level() > 0:
            return PowerState.THROTTLED
        return self._state

    def thermal_model(self) -> ThermalElectricalModel:
        return self.THERMAL

    def capabilities(self) -> BoardCapabilities:
        return self.CAPABILITIES

    def job_limits(self) -> JobLimits:
        limits = type(self).LIMITS
        return limits if limits is not None else _derived_limits(type(self))

    # --- power ----------------------------------------------------------------------------

    @_host_synced(touch=True)
    def power_on(self) -> None:
        if self._state is not PowerState.OFF:
            raise BoardStateError("power_on", self.state, "board is already powered")
        if not self._supplied:
            raise BoardStateError("power_on", self.state, "no supply (the slot is unpowered)")
        self._boot()

    @_host_synced(touch=True)
    def power_off(self) -> None:
        self._drop_jobs("power removed")
        self._state = PowerState.OFF
        self._boot_remaining_s = 0.0
        self._clear_volatile()

    @_host_synced(touch=True)
    def power_cycle(self) -> None:
        self.power_off()
        self.power_on()

    @_host_synced(touch=True)
    def reset(self) -> None:
        if self._state is PowerState.OFF:
            raise BoardStateError("reset", self.state, "board is powered off")
        if self._fault_reason == _FAULT_LATCH_UP:
            raise BoardStateError("reset", self.state, "a latch-up needs a power cycle")
        if (
            self._fault_reason == _FAULT_OVER_TEMPERATURE
            and self._die_temp_k > self.THERMAL.throttle_temp_k
        ):
            raise BoardStateError("reset", self.state, "die still above throttle temperature")
        self._drop_jobs("board reset")
        self._boot()

    def power_draw_w(self) -> float:
        if not self._supplied:
            return 0.0
        return self.THERMAL.power_w(
            self._state,
            self._utilisation(),
            self._effective_level(),
            latched_up=self._fault_reason == _FAULT_LATCH_UP,
        )

    # --- jobs -----------------------------------------------------------------------------

    @_host_synced(touch=True)
    def submit(self, job: JobSpec) -> None:
        if self._state not in (PowerState.IDLE, PowerState.BUSY):
            raise BoardStateError("submit", self.state, "board is not up")
        kernel = kernels.get_kernel(job.kernel)
        caps = self.CAPABILITIES
        if job.kernel not in caps.kernel_flops_per_s:
            raise JobRejected(
                JobRejectCode.UNSUPPORTED_KERNEL,
                f"{self.IDENTITY.model_name} does not run {job.kernel}; "
                f"it runs {', '.join(sorted(caps.kernel_flops_per_s))}",
            )
        kernels.validate_job(job)
        if job.dtype not in caps.dtypes:
            raise JobRejected(JobRejectCode.WRONG_DTYPE, f"board accepts {list(caps.dtypes)}")
        need_bytes = kernel.memory_bytes(job.size)
        if need_bytes > caps.memory_bytes:
            raise JobRejected(
                JobRejectCode.TOO_LARGE_FOR_MEMORY,
                f"job needs {need_bytes} bytes, board has {caps.memory_bytes}",
            )
        live_ids = {queued.job_id for queued in self._queue}
        if self._active is not None:
            live_ids.add(self._active.job.job_id)
        beyond = self.job_limits().violation(job.kernel, job.size, job.iterations)
        if beyond is not None:
            raise JobRejected(JobRejectCode.BAD_SIZE, beyond)
        if job.job_id in live_ids:
            raise JobRejected(JobRejectCode.DUPLICATE_JOB_ID, f"job {job.job_id!r} is live")
        would_wait = self._active is not None or self._hung
        if would_wait and len(self._queue) >= caps.queue_depth:
            raise JobRejected(JobRejectCode.QUEUE_FULL, f"queue depth {caps.queue_depth} reached")
        self._queue.append(job)
        if self._active is None:
            self._start_next()

    @_host_synced(touch=True)
    def cancel(self, job_id: str) -> bool:
        if self._active is not None and self._active.job.job_id == job_id:
            self._end_active(JobStatus.CANCELLED, "cancelled by command")
            self._start_next()
            return True
        for queued in self._queue:
            if queued.job_id == job_id:
                self._queue.remove(queued)
                self._emit_dropped(queued, JobStatus.CANCELLED, "cancelled by command")
                return True
        return False

    def take_results(self) -> list[JobResult]:
        self._deliver_ready()
        ready = 0
        for entry in self._results:
            if isinstance(entry, _PendingResult):
                break  # oldest first: a later result waits behind one still computing
            ready += 1
        results = self._results[:ready]
        del self._results[:ready]
        return results  # type: ignore[return-value]

    # --- throttle, self test, telemetry ---------------------------------------------------

    @_host_synced(touch=True)
    def set_throttle(self, level: int) -> None:
        if self._state is PowerState.OFF:
            raise BoardStateError("set_throttle", self.state, "board is powered off")
        if isinstance(level, bool) or not isinstance(level, int):
            raise ValueError(f"throttle level must be an int, got {level!r}")
        if not 0 <= level <= self.THERMAL.max_throttle_level:
            raise ValueError(
                f"throttle level must be in 0..{self.THERMAL.max_throttle_level}, got {level}"
            )
        self._commanded_level = level

    @_host_synced(touch=False)
    def self_test(self) -> SelfTestResult:
        if self._state in (PowerState.OFF, PowerState.BOOTING, PowerState.BUSY):
            raise BoardStateError("self_test", self.state, "needs an idle or faulted board")
        checks = {
            "responsive": not self._hung,
            "no_fault": self._state is not PowerState.FAULT,
            "die_temp": self._die_temp_k < self.THERMAL.max_die_temp_k,
            "memory": self._uncorrectable_since_boot == 0,
        }
        if checks["responsive"] and checks["no_fault"]:
            checks["kernel"] = self._kernel_self_check()
        failed = [name for name, ok in checks.items() if not ok]
        return SelfTestResult(
            board_id=self._board_id,
            passed=not failed,
            checks=checks,
            detail=f"failed: {', '.join(failed)}" if failed else "",
            mission_time_s=self._mission_time_s,
        )

    @_host_synced(touch=False)
    def health(self) -> BoardHealth:
        self._deliver_ready()  # a worker that finished since: no longer pending
        model = self.THERMAL
        plate_k = self._plate_temp_k
        level = self._effective_level()
        return BoardHealth(
            board_id=self._board_id,
            mission_time_s=self._mission_time_s,
            power_state=self.state,
            die_temp_k=self._die_temp_k,
            memory_temp_k=plate_k + model.memory_coupling * (self._die_temp_k - plate_k),
            power_w=self.power_draw_w(),
            utilisation=self._utilisation(),
            correctable_errors=self._correctable_errors,
            uncorrectable_errors=self._uncorrectable_errors,
            throttle_level=level,
            commanded_throttle_level=self._commanded_level,
            perf_fraction=model.throttle_levels[level].perf_fraction,
            heartbeat=self._heartbeat,
            active_job_id=self._active.job.job_id if self._active is not None else None,
            queued_jobs=len(self._queue),
            jobs_completed=self._jobs_completed,
            jobs_failed=self._jobs_failed,
            results_pending=sum(isinstance(r, _PendingResult) for r in self._results),
            boot_count=self._boot_count,
            fault_reason=self._fault_reason,
        )

    # --- upsets ---------------------------------------------------------------------------

    @_host_synced(touch=True)
    def inject_upset(self, kind: UpsetKind) -> None:
        kind = UpsetKind(kind)
        if self._state is PowerState.OFF:
            return
        if kind is UpsetKind.BIT_FLIP_RESULT:
            if self._active is not None:
                self._active.corrupt = True
            else:
                self._corrupt_next = True
        elif kind is UpsetKind.HANG:
            self._hung = True
        elif kind is UpsetKind.LATCH_UP:
            self._drop_jobs("latch-up")
            self._state = PowerState.FAULT
            self._fault_reason = _FAULT_LATCH_UP
        elif kind is UpsetKind.MEMORY_CE:
            self._correctable_errors += 1
        elif kind is UpsetKind.MEMORY_UE:
            self._uncorrectable_errors += 1
            self._uncorrectable_since_boot += 1
            if self._active is not None:
                self._end_active(JobStatus.FAILED, "uncorrectable memory error")
                self._start_next()

    # --- time -----------------------------------------------------------------------------

    def step(self, dt_s: float, plate_temp_k: float) -> float:
        if self._host is not None:
            raise RuntimeError(
                f"{self._board_id} is stepped by its array host; unbind it to step it alone"
            )
        return self._advance(dt_s, plate_temp_k)

    def _advance(self, dt_s: float, plate_temp_k: float) -> float:
        """One step per object (`step`; `step_event` for a board stepped as arrays)."""
        if not (math.isfinite(dt_s) and dt_s >= 0.0):
            raise ValueError(f"dt_s must be finite and >= 0, got {dt_s}")
        if not (math.isfinite(plate_temp_k) and plate_temp_k > 0.0):
            raise ValueError(f"plate_temp_k must be a positive temperature, got {plate_temp_k}")
        model = self.THERMAL
        self._plate_temp_k = plate_temp_k
        self._step_extra_j = 0.0
        if dt_s == 0.0:
            return (self._die_temp_k - plate_temp_k) / model.die_to_plate_k_per_w
        start_time_s = self._mission_time_s
        remaining_s = dt_s
        heat_j = 0.0
        start_w = self.power_draw_w()
        energy_j = 0.0
        # Split the step at boot completion and job completions so event times, and the power
        # profile the die integrates, are exact whatever dt_s the slot uses.
        while remaining_s > 0.0:
            segment_s = remaining_s
            event: str | None = None
            rate = 0.0
            progressing = not self._hung
            if self._state is PowerState.BOOTING and progressing:
                if self._boot_remaining_s <= segment_s:
                    segment_s, event = self._boot_remaining_s, "boot"
            elif self._state is PowerState.BUSY and self._active is not None and progressing:
                rate = self._flops_rate(self._active.job.kernel)
                left = self._active.flops_total - self._active.flops_done
                if left <= rate * segment_s:
                    segment_s, event = left / rate, "job"
            power_w = self.power_draw_w()
            new_temp_k = die_temp_after_k(
                self._die_temp_k,
                plate_temp_k,
                power_w,
                segment_s,
                model.thermal_mass_j_per_k,
                model.die_to_plate_k_per_w,
            )
            heat_j += heat_to_plate_j(
                power_w, segment_s, self._die_temp_k, new_temp_k, model.thermal_mass_j_per_k
            )
            energy_j += power_w * segment_s
            self._die_temp_k = new_temp_k
            self._mission_time_s += segment_s
            remaining_s -= segment_s
            if self._state is PowerState.BOOTING and progressing:
                self._boot_remaining_s -= segment_s
            if self._active is not None and rate > 0.0:
                self._active.flops_done += rate * segment_s
            if event == "boot":
                self._boot_remaining_s = 0.0
                self._state = PowerState.IDLE
                self._start_next()
            elif event == "job":
                self._finish_active()
                self._start_next()
        self._mission_time_s = start_time_s + dt_s
        # one segment: exactly start_w * dt_s - start_w * dt_s = 0
        self._step_extra_j = energy_j - start_w * dt_s
        if self._state not in (PowerState.OFF, PowerState.FAULT) and not self._hung:
            self._heartbeat += 1
        self._update_thermal_throttle(dt_s)
        if (
            self._state not in (PowerState.OFF, PowerState.FAULT)
            and self._die_temp_k > model.shutdown_temp_k
        ):
            self._drop_jobs("over-temperature trip")
            self._state = PowerState.FAULT
            self._fault_reason = _FAULT_OVER_TEMPERATURE
        return heat_j / dt_s

    # --- internals ------------------------------------------------------------------------

    def _effective_level(self) -> int:
        return max(self._commanded_level, self._thermal_level)

    def _utilisation(self) -> float:
        return 1.0 if self._state is PowerState.BUSY and self._active is not None else 0.0

    def _flops_rate(self, kernel: str) -> float:
        perf = self.THERMAL.throttle_levels[self._effective_level()].perf_fraction
        return self.CAPABILITIES.kernel_flops_per_s[kernel] * perf

    def _boot(self) -> None:
        self._clear_volatile()
        self._state = PowerState.BOOTING
        self._boot_remaining_s = self.THERMAL.boot_time_s
        self._boot_count += 1

    def _clear_volatile(self) -> None:
        # Everything the board's firmware holds in RAM is lost on reset or power-off.
        self._hung = False
        self._fault_reason = None
        self._commanded_level = 0
        self._thermal_level = 0
        self._was_hot = False
        self._hot_timer_s = 0.0
        self._cool_timer_s = 0.0
        self._corrupt_next = False
        self._uncorrectable_since_boot = 0

    def _update_thermal_throttle(self, dt_s: float) -> None:
        if self._state not in (PowerState.IDLE, PowerState.BUSY):
            return
        model = self.THERMAL
        if self._die_temp_k > model.throttle_temp_k:
            self._cool_timer_s = 0.0
            if not self._was_hot:
                # React at once on crossing; dwell only between further steps.
                self._was_hot = True
                self._hot_timer_s = 0.0
                self._thermal_level = min(self._thermal_level + 1, model.max_throttle_level)
                return
            self._hot_timer_s += dt_s
            while self._hot_timer_s >= model.throttle_step_s:
                self._hot_timer_s -= model.throttle_step_s
                self._thermal_level = min(self._thermal_level + 1, model.max_throttle_level)
        elif self._die_temp_k < model.throttle_temp_k - model.throttle_hysteresis_k:
            self._was_hot = False
            self._hot_timer_s = 0.0
            if self._thermal_level == 0:
                self._cool_timer_s = 0.0
                return
            self._cool_timer_s += dt_s
            while self._cool_timer_s >= model.throttle_step_s and self._thermal_level > 0:
                self._cool_timer_s -= model.throttle_step_s
                self._thermal_level -= 1
        else:
            # Inside the hysteresis band: hold the level.
            self._was_hot = False
            self._hot_timer_s = 0.0
            self._cool_timer_s = 0.0

    def _start_next(self) -> None:
        up = self._state in (PowerState.IDLE, PowerState.BUSY)
        if self._active is not None or self._hung or not up:
            return
        if not self._queue:
            self._state = PowerState.IDLE
            return
        job = self._queue.popleft()
        self._active = _ActiveJob(
            job=job,
            flops_total=kernels.job_flops(job),
            flops_done=0.0,
            start_mission_time_s=self._mission_time_s,
            corrupt=self._corrupt_next,
        )
        self._corrupt_next = False
        self._state = PowerState.BUSY
        if self._executor is not None:
            # The host starts computing now, overlapping the job's modelled duration.
            self._active.future = self._executor.submit(self, job, self._active.corrupt)
            self._active.future_corrupt = self._active.corrupt

    def _finish_active(self) -> None:
        active = self._active
        assert active is not None
        job = active.job
        future = active.future
        executor = self._executor
        if future is not None and executor is not None and active.future_corrupt != active.corrupt:
            # An upset hit the job after its computation was handed out: compute it again
            # as corrupted (rare; the first computation is abandoned).
            future.cancel()
            future = executor.submit(self, job, active.corrupt)
        self._active = None
        self._state = PowerState.IDLE
        if future is None:
            try:
                computed = self.compute(job, active.corrupt)
            except Exception as exc:
                # A vendor kernel that raises is a failed job, not a crashed simulator.
                self._fail_finished(active, f"kernel execution error: {exc!r}")
                return
            self._complete(active, computed)
            return
        pending = _PendingResult(
            future, job, active.start_mission_time_s, self._mission_time_s, active.flops_total
        )
        self._results.append(pending)
        if executor is not None and executor.wait_at_end:
            futures.wait((future,))  # block for the worker: the run stays deterministic
            self._deliver_ready()
            self._notify()
        elif self._on_result is not None:
            listener = self._on_result
            future.add_done_callback(lambda _: listener())

    def _deliver_ready(self) -> None:
        """Turn pending results whose worker is done into results, in place (order kept)."""
        for index, entry in enumerate(self._results):
            if not isinstance(entry, _PendingResult) or not entry.future.done():
                continue
            failure = "worker cancelled" if entry.future.cancelled() else None
            if failure is None and entry.future.exception() is not None:
                failure = f"kernel execution error: {entry.future.exception()!r}"
            if failure is not None:
                self._results[index] = self._result_of(
                    entry.job,
                    JobStatus.FAILED,
                    entry.start_mission_time_s,
                    entry.end_mission_time_s,
                    0.0,
                    error=failure,
                )
                self._jobs_failed += 1
                continue
            self._results[index] = self._completed(
                entry.job,
                entry.future.result(),
                entry.start_mission_time_s,
                entry.end_mission_time_s,
                entry.flops,
            )

    def _complete(self, active: _ActiveJob, computed: ComputedJob) -> None:
        self._results.append(
            self._completed(
                active.job,
                computed,
                active.start_mission_time_s,
                self._mission_time_s,
                active.flops_total,
            )
        )
        self._notify()

    def _completed(
        self, job: JobSpec, computed: ComputedJob, start_s: float, end_s: float, flops: float
    ) -> JobResult:
        """The result of a job that computed (counted as completed), inline or by a worker."""
        self._jobs_completed += 1
        return JobResult(
            job_id=job.job_id,
            kernel=job.kernel,
            board_id=self._board_id,
            status=JobStatus.COMPLETED,
            digest=computed.digest,
            summary=computed.summary,
            start_mission_time_s=start_s,
            end_mission_time_s=end_s,
            flops=flops,
        )

    def _fail_finished(self, active: _ActiveJob, reason: str) -> None:
        self._results.append(
            self._result_of(
                active.job,
                JobStatus.FAILED,
                active.start_mission_time_s,
                self._mission_time_s,
                active.flops_done,
                error=reason,
            )
        )
        self._jobs_failed += 1
        self._notify()

    def _result_of(
        self,
        job: JobSpec,
        status: JobStatus,
        start_s: float,
        end_s: float,
        flops: float,
        error: str,
    ) -> JobResult:
        return JobResult(
            job_id=job.job_id,
            kernel=job.kernel,
            board_id=self._board_id,
            status=status,
            start_mission_time_s=start_s,
            end_mission_time_s=end_s,
            flops=flops,
            error=error,
        )

    def _notify(self) -> None:
        if self._on_result is not None:
            self._on_result()

    def _end_active(self, status: JobStatus, reason: str) -> None:
        active = self._active
        assert active is not None
        self._results.append(
            JobResult(
                job_id=active.job.job_id,
                kernel=active.job.kernel,
                board_id=self._board_id,
                status=status,
                start_mission_time_s=active.start_mission_time_s,
                end_mission_time_s=self._mission_time_s,
                flops=active.flops_done,
                error=reason,
            )
        )
        self._jobs_failed += 1
        self._active = None
        if active.future is not None:
            active.future.cancel()  # a worker already running finishes; its result is dropped
        if self._state is PowerState.BUSY:
            self._state = PowerState.IDLE
        self._notify()

    def _emit_dropped(self, job: JobSpec, status: JobStatus, reason: str) -> None:
        self._results.append(
            JobResult(
                job_id=job.job_id,
                kernel=job.kernel,
                board_id=self._board_id,
                status=status,
                start_mission_time_s=self._mission_time_s,
                end_mission_time_s=self._mission_time_s,
                flops=0.0,
                error=reason,
            )
        )
        self._jobs_failed += 1
        self._notify()

    def _drop_jobs(self, reason: str) -> None:
        if self._active is not None:
            self._end_active(JobStatus.FAILED, reason)
        while self._queue:
            self._emit_dropped(self._queue.popleft(), JobStatus.CANCELLED, reason)

    def _kernel_self_check(self) -> bool:
        name = sorted(self.CAPABILITIES.kernel_flops_per_s)[0]
        job = JobSpec(job_id="self-test", kernel=name, size=_SELF_TEST_SIZES[name], seed=1)
        try:
            digest = kernels.digest_result(name, np.asarray(self.execute(job)))
        except Exception:
            return False
        return digest == kernels.run_reference(job).digest
