"""The compute-board contract: what a board (built-in or a vendor's plug-in) must provide.

A compute board is hardware. It lives in hwsim, in a compute slot, and is stepped in mission
time by the hwsim clock: `step(dt_s, plate_temp_k)` advances boot, job progress and the die
temperature, and returns the heat the board delivered into its cold plate. Flight software
reaches it only through a device port; hwsim turns port requests into the calls below.

Plug-ins register a `ComputeBoard` subclass (or a factory made with `board_factory`) under the
`computesat.boards` entry-point group. A plug-in declares the contract version it was written
against in `interface_version`; it loads only if the major number equals that of
`BOARD_INTERFACE_VERSION`.

States (`PowerState`)::

    off --power_on--> booting --(boot_time_s of step time)--> idle <--> busy
     ^                   ^                                      |  \\     |
     |                   +-------------- reset -----------------+   throttled (speed-limited)
     +--- power_off (from any state);  power_cycle = power_off + power_on
    fault: over-temperature trip (reset once cool) or latch-up (power cycle only)

Array stepping (the fast path). Stepping every board's Python `step` every physics step costs
~4 us a board; a host with a hundred boards steps them as arrays instead. A board class opts in
with ``ARRAY_STEPPING = True``: its per-step behaviour is then fully described by its
`ThermalElectricalModel` (exact exponential die step, power from the power levels, throttle
with dwell and hysteresis, over-temperature trip) plus an `ArrayRow` (the state the host
advances and what it needs to know when the next event is: power draw, the running job's
remaining work and rate). The host (`computesat_sdk.arrays.BoardArrays`) advances the rows of
all such boards with numpy and calls the board's own Python only on events: a command, boot
end, job end, a throttle or trip crossing, an upset. `BaseBoard` implements all of this; a
board that overrides how it steps (its own `step`, `power_draw_w`...) is stepped per object,
as before.

This module holds only the contract. The shared behaviour (state machine, thermal integration,
throttling, upsets) is in `hwsim.boards.BaseBoard`, so a vendor supplies characteristics and,
optionally, its own kernel implementations.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Protocol, Self, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, model_validator

from computesat_sdk.kernels import (
    KERNELS,
    MAX_ITERATIONS,
    REFERENCE_DTYPE,
    JobRejectCode,
    JobRejected,
    JobResult,
    JobSpec,
    JobStatus,
)

__all__ = [
    "BOARD_ENTRY_POINT_GROUP",
    "BOARD_INTERFACE_VERSION",
    "ArrayHost",
    "ArrayRow",
    "BoardCapabilities",
    "BoardError",
    "BoardFactory",
    "BoardHealth",
    "BoardIdentity",
    "BoardKind",
    "BoardStateError",
    "ComputeBoard",
    "JobLimits",
    "JobRejectCode",
    "JobRejected",
    "JobResult",
    "JobSpec",
    "JobStatus",
    "PowerState",
    "SelfTestResult",
    "ThermalElectricalModel",
    "ThrottleLevel",
    "UpsetKind",
    "board_factory",
    "interface_major",
    "is_compatible",
]

BOARD_INTERFACE_VERSION = "1.0"
"""Version of this contract, "major.minor". A plug-in loads only if its major matches."""

BOARD_ENTRY_POINT_GROUP = "computesat.boards"
"""Entry-point group that board plug-ins register under."""


def interface_major(version: str) -> int:
    """Major number of a "major.minor" interface version; ValueError if malformed."""
    major, sep, minor = version.partition(".")
    if not sep or not major.isdigit() or not minor.isdigit():
        raise ValueError(f"interface version must look like '1.0', got {version!r}")
    return int(major)


def is_compatible(version: str) -> bool:
    """True if a plug-in written against `version` can be loaded by this contract."""
    try:
        return interface_major(version) == interface_major(BOARD_INTERFACE_VERSION)
    except ValueError:
        return False


class BoardError(Exception):
    """Base of the errors a board raises for a refused command."""


class BoardStateError(BoardError):
    """A command is not legal in the board's current state; nothing changed."""

    def __init__(self, operation: str, state: PowerState, detail: str = "") -> None:
        message = f"{operation} is not allowed in state {state.value}"
        super().__init__(f"{message}: {detail}" if detail else message)
        self.operation = operation
        self.state = state
        self.detail = detail

    def __reduce__(self) -> tuple[type[BoardStateError], tuple[str, PowerState, str]]:
        return (type(self), (self.operation, self.state, self.detail))


class BoardKind(StrEnum):
    """Broad class of a board, for scheduling and display."""

    GPU = "gpu"
    ACCELERATOR = "accelerator"
    CPU = "cpu"
    FPGA = "fpga"


class PowerState(StrEnum):
    """Board power/activity state as reported in health telemetry.

    THROTTLED means the board is up (idle or running a job) under a speed limit, either
    commanded with `set_throttle` or taken by itself for temperature; whether a job is running
    is in `BoardHealth.active_job_id`.
    """

    OFF = "off"
    BOOTING = "booting"
    IDLE = "idle"
    BUSY = "busy"
    THROTTLED = "throttled"
    FAULT = "fault"


class UpsetKind(StrEnum):
    """Radiation effects a board can be hit by (injected by hwsim's fault catalogue).

    - BIT_FLIP_RESULT: a logic upset; the running (or next) job's result is silently wrong.
    - HANG: the board stops making progress (jobs, heartbeat) until reset or power cycle.
    - LATCH_UP: current jumps to `latch_up_w`, state FAULT; only a power cycle clears it.
    - MEMORY_CE: a corrected memory error; only the counter moves.
    - MEMORY_UE: an uncorrectable memory error; counted, and the running job fails.
    """

    BIT_FLIP_RESULT = "bit_flip_result"
    HANG = "hang"
    LATCH_UP = "latch_up"
    MEMORY_CE = "memory_ce"
    MEMORY_UE = "memory_ue"


_FROZEN = ConfigDict(frozen=True, extra="forbid")


class BoardIdentity(BaseModel):
    """Who made the board and what it is. Static for a board type."""

    model_config = _FROZEN

    vendor: str = Field(min_length=1, description="Manufacturer name")
    part_number: str = Field(min_length=1, description="Vendor part number")
    model_name: str = Field(min_length=1, description="Human-readable product name")
    firmware_version: str = Field(min_length=1, description="Firmware version string")
    interface_version: str = Field(description="Board contract version implemented, 'major.minor'")
    kind: BoardKind = Field(description="Board class: gpu, accelerator, cpu, fpga")


class ThrottleLevel(BaseModel):
    """One speed step. Level 0 is full speed; higher levels are slower and cooler."""

    model_config = _FROZEN

    level: int = Field(ge=0, description="Throttle level index, 0 = full speed")
    perf_fraction: float = Field(
        gt=0.0, le=1.0, description="Fraction of full-speed FLOP rate at this level, 0..1"
    )
    power_fraction: float = Field(
        ge=0.0, le=1.0, description="Fraction of the dynamic power (peak_w - idle_w) at this level"
    )


class ThermalElectricalModel(BaseModel):
    """Electrical and thermal characteristics, used by the board and by hwsim's compute slot.

    Electrical power while up is `idle_w + (peak_w - idle_w) * utilisation * power_fraction`
    (see `power_w`). Thermally the board is one lumped mass on a resistance to the cold plate:
    `thermal_mass_j_per_k * dT/dt = P - (T_die - T_plate) / die_to_plate_k_per_w`.
    """

    model_config = _FROZEN

    off_w: float = Field(ge=0.0, description="Draw when powered off (management controller), W")
    idle_w: float = Field(gt=0.0, description="Draw when up and idle, also while booting, W")
    peak_w: float = Field(gt=0.0, description="Draw at full utilisation at throttle level 0, W")
    latch_up_w: float = Field(gt=0.0, description="Draw during a latch-up, W")
    thermal_mass_j_per_k: float = Field(gt=0.0, description="Lumped die+package heat capacity, J/K")
    die_to_plate_k_per_w: float = Field(
        gt=0.0, description="Thermal resistance from die to cold plate, K/W"
    )
    throttle_temp_k: float = Field(
        gt=0.0, description="Die temperature above which it throttles, K"
    )
    throttle_hysteresis_k: float = Field(
        gt=0.0, description="It recovers a level only below throttle_temp_k minus this, K"
    )
    throttle_step_s: float = Field(
        gt=0.0, description="Dwell before each further throttle (or recovery) step, s"
    )
    max_die_temp_k: float = Field(gt=0.0, description="Rated maximum die temperature, K")
    shutdown_temp_k: float = Field(gt=0.0, description="Die temperature that trips to FAULT, K")
    memory_coupling: float = Field(
        default=0.7,
        ge=0.0,
        le=1.0,
        description="Memory temperature = plate + coupling * (die - plate); unitless",
    )
    boot_time_s: float = Field(ge=0.0, description="Time from power_on/reset to idle, s")
    throttle_levels: tuple[ThrottleLevel, ...] = Field(
        min_length=1, description="Level 0 (1.0, 1.0) first, then ever slower and cooler levels"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.off_w <= self.idle_w <= self.peak_w <= self.latch_up_w:
            raise ValueError("need off_w <= idle_w <= peak_w <= latch_up_w")
        if not self.throttle_temp_k < self.max_die_temp_k <= self.shutdown_temp_k:
            raise ValueError("need throttle_temp_k < max_die_temp_k <= shutdown_temp_k")
        levels = self.throttle_levels
        if [t.level for t in levels] != list(range(len(levels))):
            raise ValueError("throttle_levels must be numbered 0, 1, 2, ... in order")
        if levels[0].perf_fraction != 1.0 or levels[0].power_fraction != 1.0:
            raise ValueError("throttle level 0 must be full speed (1.0, 1.0)")
        for slower, faster in zip(levels[1:], levels[:-1], strict=True):
            if not (
                slower.perf_fraction < faster.perf_fraction
                and slower.power_fraction < faster.power_fraction
            ):
                raise ValueError("each throttle level must be slower and cooler than the last")
        return self

    @property
    def max_throttle_level(self) -> int:
        """Deepest throttle level."""
        return len(self.throttle_levels) - 1

    @property
    def time_constant_s(self) -> float:
        """Die thermal time constant R*C, s."""
        return self.thermal_mass_j_per_k * self.die_to_plate_k_per_w

    def power_w(
        self,
        state: PowerState,
        utilisation: float = 0.0,
        throttle_level: int = 0,
        *,
        latched_up: bool = False,
    ) -> float:
        """Electrical draw for a state, utilisation (0..1) and throttle level, W.

        A FAULT draws `latch_up_w` if latched up, otherwise `off_w` (an over-temperature trip
        gates the core rails).
        """
        if state is PowerState.OFF:
            return self.off_w
        if state is PowerState.FAULT:
            return self.latch_up_w if latched_up else self.off_w
        if state is PowerState.BOOTING:
            return self.idle_w
        fraction = self.throttle_levels[throttle_level].power_fraction
        return self.idle_w + (self.peak_w - self.idle_w) * utilisation * fraction

    def steady_die_temp_k(self, plate_temp_k: float, power_w: float) -> float:
        """Die temperature reached after a long time at constant power, K."""
        return plate_temp_k + power_w * self.die_to_plate_k_per_w


class BoardCapabilities(BaseModel):
    """What jobs a board accepts and how fast it runs them, for schedulers and for timing."""

    model_config = _FROZEN

    memory_bytes: int = Field(gt=0, description="Memory available to one job, bytes")
    kernel_flops_per_s: dict[str, float] = Field(
        min_length=1,
        description="Sustained rate per supported kernel at throttle level 0, FLOP/s",
    )
    dtypes: tuple[str, ...] = Field(
        default=(REFERENCE_DTYPE,), description="Element types accepted"
    )
    queue_depth: int = Field(
        default=4, ge=0, description="Jobs that may wait behind the running one"
    )

    @model_validator(mode="after")
    def _known_kernels(self) -> Self:
        unknown = set(self.kernel_flops_per_s) - set(KERNELS)
        if unknown:
            raise ValueError(f"unknown kernels {sorted(unknown)}; known: {sorted(KERNELS)}")
        if any(not (rate > 0 and math.isfinite(rate)) for rate in self.kernel_flops_per_s.values()):
            raise ValueError("kernel rates must be positive and finite")
        return self


class JobLimits(BaseModel):
    """The largest job a board accepts, stated up front so a scheduler (flight software, at
    telecommand acceptance) can refuse what no board would run, naming the limit.

    A job is within limits when its kernel is in ``max_size``, ``size <= max_size[kernel]``,
    ``iterations <= max_iterations`` and its working set (``kernels.job_memory_bytes``) is at
    most ``max_memory_bytes``. ``submit`` refuses anything beyond them with `JobRejected`.
    """

    model_config = _FROZEN

    max_size: dict[str, int] = Field(
        min_length=1,
        description=(
            "Largest problem size per supported kernel: matrix order n (matmul), transform "
            "length (fft), batch (mlp_inference); no larger than the kernel's protocol maximum "
            "and fitting max_memory_bytes"
        ),
    )
    max_iterations: int = Field(
        ge=1, le=MAX_ITERATIONS, description="Most iterations of one job (JobSpec.iterations)"
    )
    max_memory_bytes: int = Field(gt=0, description="Largest working set of one job, bytes")

    @model_validator(mode="after")
    def _known_kernels(self) -> Self:
        unknown = set(self.max_size) - set(KERNELS)
        if unknown:
            raise ValueError(f"unknown kernels {sorted(unknown)}; known: {sorted(KERNELS)}")
        for name, size in self.max_size.items():
            if not KERNELS[name].min_size <= size <= KERNELS[name].max_size:
                raise ValueError(f"max_size[{name}] must be {KERNELS[name].size_rule}, got {size}")
        return self

    def violation(self, kernel: str, size: int, iterations: int = 1) -> str | None:
        """Why a job of this shape is beyond the limits (names the limit), or None."""
        if kernel not in self.max_size:
            return f"kernel {kernel} not supported (board runs {', '.join(sorted(self.max_size))})"
        spec = KERNELS[kernel]
        dimension = "n" if kernel == "matmul" else "size"
        if size > self.max_size[kernel]:
            return f"{kernel} {dimension}={size} exceeds board limit {self.max_size[kernel]}"
        if iterations > self.max_iterations:
            return f"{kernel} iterations={iterations} exceeds board limit {self.max_iterations}"
        if spec.check_size(size) is None and spec.memory_bytes(size) > self.max_memory_bytes:
            return (
                f"{kernel} {dimension}={size} needs {spec.memory_bytes(size)} bytes, "
                f"exceeds board limit {self.max_memory_bytes} bytes"
            )
        return None

    @classmethod
    def from_capabilities(
        cls, capabilities: BoardCapabilities, max_iterations: int = MAX_ITERATIONS
    ) -> JobLimits:
        """The limits that follow from a board's capabilities: per kernel the largest valid
        size whose working set fits its memory, capped by the kernel's protocol maximum."""
        sizes: dict[str, int] = {}
        for name in capabilities.kernel_flops_per_s:
            largest = _largest_fitting_size(name, capabilities.memory_bytes)
            if largest is not None:
                sizes[name] = largest
        return cls(
            max_size=sizes,
            max_iterations=max_iterations,
            max_memory_bytes=capabilities.memory_bytes,
        )


def _largest_fitting_size(kernel: str, memory_bytes: int) -> int | None:
    """Largest valid size of ``kernel`` whose working set fits ``memory_bytes`` (None if none).

    Working sets grow with size, so a binary search finds it: over every integer for kernels
    that take any size, over powers of two for those that take only those (fft).
    """
    spec = KERNELS[kernel]
    powers_only = spec.check_size(spec.min_size + 1) is not None
    if powers_only:
        candidates = [1 << k for k in range(spec.max_size.bit_length())]
        sizes = [n for n in candidates if spec.check_size(n) is None]
    else:
        sizes = range(spec.min_size, spec.max_size + 1)
    lo, hi = 0, len(sizes)  # sizes[:lo] fit, sizes[hi:] do not
    while lo < hi:
        mid = (lo + hi) // 2
        if spec.memory_bytes(sizes[mid]) <= memory_bytes:
            lo = mid + 1
        else:
            hi = mid
    return sizes[lo - 1] if lo else None


class SelfTestResult(BaseModel):
    """Outcome of a built-in self test."""

    model_config = _FROZEN

    board_id: str = Field(description="Board tested")
    passed: bool = Field(description="True if every check passed")
    checks: dict[str, bool] = Field(description="Named checks and whether each passed")
    detail: str = Field(default="", description="Human-readable reason for any failure")
    mission_time_s: float = Field(description="Mission time of the test, s")


class BoardHealth(BaseModel):
    """Health telemetry snapshot, as of the end of the last step."""

    model_config = _FROZEN

    board_id: str = Field(description="Board identifier (slot-assigned)")
    mission_time_s: float = Field(description="Mission time of this snapshot, s")
    power_state: PowerState = Field(description="Power/activity state")
    die_temp_k: float = Field(gt=0.0, description="Die (junction) temperature, K")
    memory_temp_k: float = Field(gt=0.0, description="Memory (HBM/DRAM) temperature, K")
    power_w: float = Field(ge=0.0, description="Electrical power draw now, W")
    utilisation: float = Field(ge=0.0, le=1.0, description="Fraction of compute in use, 0..1")
    correctable_errors: int = Field(ge=0, description="Corrected memory errors since creation")
    uncorrectable_errors: int = Field(
        ge=0, description="Uncorrectable memory errors since creation"
    )
    throttle_level: int = Field(ge=0, description="Effective throttle level, 0 = full speed")
    commanded_throttle_level: int = Field(ge=0, description="Level set by set_throttle")
    perf_fraction: float = Field(gt=0.0, le=1.0, description="FLOP-rate fraction now, 0..1")
    heartbeat: int = Field(
        ge=0, description="Counts steps while alive; frozen when off, faulted or hung"
    )
    active_job_id: str | None = Field(default=None, description="Job executing now, if any")
    queued_jobs: int = Field(ge=0, description="Jobs waiting behind the active one")
    jobs_completed: int = Field(ge=0, description="Jobs completed since creation")
    jobs_failed: int = Field(ge=0, description="Jobs failed or cancelled since creation")
    results_pending: int = Field(
        default=0,
        ge=0,
        description=(
            "Jobs whose mission-time run is over but whose result the emulator host is still "
            "computing (delivered to take_results when it is done); 0 for a synchronous board"
        ),
    )
    boot_count: int = Field(ge=0, description="Boots started since creation")
    fault_reason: str | None = Field(
        default=None, description="Why the board is in FAULT: 'latch_up' or 'over_temperature'"
    )


class ComputeBoard(abc.ABC):
    """A compute board as hwsim drives it. All times are mission time; nothing reads a clock.

    Construction convention (what the registry calls)::

        BoardClass(board_id, *, mission_time_s=0.0, initial_temp_k=293.15)

    A new board is OFF with its die at `initial_temp_k`.

    Errors: a command illegal in the current state raises `BoardStateError` and changes
    nothing; a job that cannot run raises `JobRejected` and changes nothing.
    """

    interface_version: ClassVar[str]
    """Contract version the implementation was written against (a literal, e.g. "1.0")."""

    ARRAY_STEPPING: ClassVar[bool] = False
    """True if the host may step this board as arrays (module docstring, "Array stepping"):
    the class then implements ``array_row``, ``load_array_row``, ``bind_array_host`` and
    ``step_event`` (`BaseBoard` does). False: the host calls `step` every physics step."""

    @property
    @abc.abstractmethod
    def board_id(self) -> str:
        """Slot-assigned identifier of this board instance."""

    @property
    @abc.abstractmethod
    def identity(self) -> BoardIdentity:
        """Static identity of the board type."""

    @property
    @abc.abstractmethod
    def state(self) -> PowerState:
        """Current power/activity state (same as health().power_state)."""

    @abc.abstractmethod
    def thermal_model(self) -> ThermalElectricalModel:
        """Thermal and electrical characteristics (for hwsim's compute slot)."""

    @abc.abstractmethod
    def capabilities(self) -> BoardCapabilities:
        """Supported kernels, their rates, memory and queue depth."""

    def job_limits(self) -> JobLimits:
        """The largest job this board accepts (see `JobLimits`).

        Not abstract, so boards written before it existed keep loading: the default derives
        the limits from `capabilities` (memory and the kernels' protocol maxima).
        """
        return JobLimits.from_capabilities(self.capabilities())

    @abc.abstractmethod
    def power_on(self) -> None:
        """OFF -> BOOTING. BoardStateError in any other state."""

    @abc.abstractmethod
    def power_off(self) -> None:
        """Any state -> OFF. Clears hang and latch-up; running job FAILED, queued CANCELLED."""

    @abc.abstractmethod
    def power_cycle(self) -> None:
        """power_off() then power_on(): any state -> BOOTING. The cure for a latch-up."""

    @abc.abstractmethod
    def reset(self) -> None:
        """Warm reset -> BOOTING; clears a hang and a (cooled) over-temperature fault.

        BoardStateError when OFF, when latched up (needs a power cycle) and when tripped on
        over-temperature while still above throttle_temp_k.
        """

    @abc.abstractmethod
    def self_test(self) -> SelfTestResult:
        """Run the built-in self test (instantaneous). Legal when IDLE/THROTTLED-idle or FAULT."""

    @abc.abstractmethod
    def health(self) -> BoardHealth:
        """Health telemetry snapshot. Legal in every state."""

    @abc.abstractmethod
    def submit(self, job: JobSpec) -> None:
        """Accept a job: it runs now if idle, or queues. BoardStateError unless up (idle, busy,
        throttled); JobRejected for a job this board cannot run or a full queue."""

    @abc.abstractmethod
    def cancel(self, job_id: str) -> bool:
        """Cancel a running or queued job (its result says CANCELLED); False if unknown."""

    @abc.abstractmethod
    def take_results(self) -> list[JobResult]:
        """Results of jobs that ended (any status) since the last call, oldest first."""

    @abc.abstractmethod
    def set_throttle(self, level: int) -> None:
        """Command a minimum throttle level (0 = no limit). The board may throttle deeper for
        temperature. ValueError if out of range; BoardStateError when OFF."""

    @abc.abstractmethod
    def step(self, dt_s: float, plate_temp_k: float) -> float:
        """Advance `dt_s` of mission time with the cold plate at `plate_temp_k`.

        Returns the mean heat flow from the board into the cold plate over the step, W
        (electrical energy in minus heat stored in the board's thermal mass, over dt_s).
        ValueError for a negative or non-finite dt_s or a non-positive plate temperature.
        """

    @abc.abstractmethod
    def power_draw_w(self) -> float:
        """Electrical power draw now, W (same as health().power_w)."""

    @abc.abstractmethod
    def inject_upset(self, kind: UpsetKind) -> None:
        """Apply a radiation upset. An unpowered board is unaffected."""


@dataclass(slots=True)
class ArrayRow:
    """One board as the array host holds it: the state it advances every step without calling
    the board, and what it needs to find the board's next event (all as of now).

    A board's ``array_row()`` reports it; the host hands it back (advanced) before any call
    that reads or changes the board (``load_array_row``).
    """

    die_temp_k: float
    """Die temperature, K (advanced by the exact exponential step)."""
    plate_temp_k: float
    """Cold-plate temperature the board saw over the last step, K."""
    heartbeat: int
    """Heartbeat counter (advanced by one a step while `alive`)."""
    boot_remaining_s: float
    """Boot time left while booting, s (decremented while `booting`)."""
    flops_done: float
    """FLOPs of the running job done so far (0 without one)."""
    hot_timer_s: float
    """Thermal-throttle dwell timer while above throttle_temp_k, s."""
    cool_timer_s: float
    """Thermal-throttle recovery timer while below the hysteresis band, s."""
    was_hot: bool
    """The die was above throttle_temp_k at the end of the last step."""
    power_w: float
    """Electrical draw until the next event, W (`ComputeBoard.power_draw_w`)."""
    utilisation: float
    """Fraction of compute in use until the next event, 0..1."""
    flops_total: float
    """FLOPs of the running job (inf without one: it never ends)."""
    flops_rate_per_s: float
    """FLOP rate of the running job at the current throttle, FLOP/s (0 if none or hung)."""
    booting: bool
    """Boot is progressing (BOOTING and not hung)."""
    alive: bool
    """The heartbeat counts (neither off, faulted nor hung)."""
    up: bool
    """Idle or busy: the thermal throttle logic applies."""
    powered: bool
    """Neither off nor faulted: the over-temperature trip applies."""
    thermal_level: int
    """Throttle level taken for temperature (0 = none)."""


@runtime_checkable
class ArrayHost(Protocol):
    """What an array-stepped board needs of its host (``computesat_sdk.arrays.BoardArrays``).

    ``epoch`` counts the host's array steps: a board whose copy of its state is older must
    ask for its row (``row``) before it reads or changes anything; a board that changed
    (command, upset) says so with ``touch`` and the host takes its new row before the next
    step. ``time_s`` is the mission time of every board of the host.
    """

    epoch: int
    time_s: float

    def row(self, index: int) -> ArrayRow: ...

    def touch(self, index: int) -> None: ...


@runtime_checkable
class BoardFactory(Protocol):
    """A callable that builds a board, carrying the interface version it was written for."""

    interface_version: str

    def __call__(self, board_id: str, **kwargs: Any) -> ComputeBoard: ...


def board_factory(
    interface_version: str,
) -> Callable[[Callable[..., ComputeBoard]], BoardFactory]:
    """Mark a function as a board factory for entry-point registration.

    ::

        @board_factory("1.0")
        def make_board(board_id: str, **kwargs) -> ComputeBoard: ...
    """

    def mark(function: Callable[..., ComputeBoard]) -> BoardFactory:
        function.interface_version = interface_version  # type: ignore[attr-defined]
        return function  # type: ignore[return-value]

    return mark
