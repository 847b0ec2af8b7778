"""`BaseBoard`: the shared behaviour of a compute board, so a vendor supplies only data.

A vendor board subclasses `BaseBoard` and sets three class attributes (`IDENTITY`, `THERMAL`,
`CAPABILITIES`); it may override `execute` to run kernels its own way (the digest must still
verify). Everything the contract demands — the state machine, job timing in mission time,
thermal integration, stepwise throttling with hysteresis, over-temperature trip and radiation
upsets — lives here, once.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from computesat_sdk import kernels
from computesat_sdk._thermal import die_temp_after_k, heat_to_plate_j
from computesat_sdk.contract import (
    BoardCapabilities,
    BoardHealth,
    BoardIdentity,
    BoardStateError,
    ComputeBoard,
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

__all__ = ["DEFAULT_INITIAL_TEMP_K", "BaseBoard"]

DEFAULT_INITIAL_TEMP_K = 293.15
"""Die temperature of a newly created board unless told otherwise, K."""

_FAULT_LATCH_UP = "latch_up"
_FAULT_OVER_TEMPERATURE = "over_temperature"

# Sizes for the self-test kernel run: big enough to exercise the kernel, small enough to cost
# nothing on the emulator host.
_SELF_TEST_SIZES = {"matmul": 16, "fft": 64, "mlp_inference": 4}


@dataclass
class _ActiveJob:
    job: JobSpec
    flops_total: float
    flops_done: float
    start_mission_time_s: float
    corrupt: bool


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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
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
        self._results: list[JobResult] = []
        self._corrupt_next = False
        self._correctable_errors = 0
        self._uncorrectable_errors = 0
        self._uncorrectable_since_boot = 0
        self._heartbeat = 0
        self._jobs_completed = 0
        self._jobs_failed = 0
        self._boot_count = 0

    # --- vendor hook ----------------------------------------------------------------------

    def execute(self, job: JobSpec) -> np.ndarray:
        """Compute a job's result for real. Override to use the board's own implementation."""
        return kernels.execute(job)

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

    # --- power ----------------------------------------------------------------------------

    def power_on(self) -> None:
        if self._state is not PowerState.OFF:
            raise BoardStateError("power_on", self.state, "board is already powered")
        self._boot()

    def power_off(self) -> None:
        self._drop_jobs("power removed")
        self._state = PowerState.OFF
        self._boot_remaining_s = 0.0
        self._clear_volatile()

    def power_cycle(self) -> None:
        self.power_off()
        self.power_on()

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
        return self.THERMAL.power_w(
            self._state,
            self._utilisation(),
            self._effective_level(),
            latched_up=self._fault_reason == _FAULT_LATCH_UP,
        )

    # --- jobs -----------------------------------------------------------------------------

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
        if job.job_id in live_ids:
            raise JobRejected(JobRejectCode.DUPLICATE_JOB_ID, f"job {job.job_id!r} is live")
        would_wait = self._active is not None or self._hung
        if would_wait and len(self._queue) >= caps.queue_depth:
            raise JobRejected(JobRejectCode.QUEUE_FULL, f"queue depth {caps.queue_depth} reached")
        self._queue.append(job)
        if self._active is None:
            self._start_next()

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
        results, self._results = self._results, []
        return results

    # --- throttle, self test, telemetry ---------------------------------------------------

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

    def health(self) -> BoardHealth:
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
            boot_count=self._boot_count,
            fault_reason=self._fault_reason,
        )

    # --- upsets ---------------------------------------------------------------------------

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
        if not (math.isfinite(dt_s) and dt_s >= 0.0):
            raise ValueError(f"dt_s must be finite and >= 0, got {dt_s}")
        if not (math.isfinite(plate_temp_k) and plate_temp_k > 0.0):
            raise ValueError(f"plate_temp_k must be a positive temperature, got {plate_temp_k}")
        model = self.THERMAL
        self._plate_temp_k = plate_temp_k
        if dt_s == 0.0:
            return (self._die_temp_k - plate_temp_k) / model.die_to_plate_k_per_w
        start_time_s = self._mission_time_s
        remaining_s = dt_s
        heat_j = 0.0
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

    def _finish_active(self) -> None:
        active = self._active
        assert active is not None
        job = active.job
        try:
            result = np.asarray(self.execute(job))
            if active.corrupt:
                result = kernels.corrupt_result(result, job.seed)
            digest = kernels.digest_result(job.kernel, result)
            summary = kernels.summarise_result(job.kernel, result)
        except Exception as exc:
            # A vendor kernel that raises is a failed job, not a crashed simulator.
            self._end_active(JobStatus.FAILED, f"kernel execution error: {exc!r}")
            return
        self._results.append(
            JobResult(
                job_id=job.job_id,
                kernel=job.kernel,
                board_id=self._board_id,
                status=JobStatus.COMPLETED,
                digest=digest,
                summary=summary,
                start_mission_time_s=active.start_mission_time_s,
                end_mission_time_s=self._mission_time_s,
                flops=active.flops_total,
            )
        )
        self._jobs_completed += 1
        self._active = None
        self._state = PowerState.IDLE

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
        if self._state is PowerState.BUSY:
            self._state = PowerState.IDLE

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
