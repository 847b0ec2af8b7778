"""Compute slots (``slot.<nnn>``), their boards, and the backplane (``backplane``: the
telemetry of every board slot in one read).

A slot configured with a plug-in board (``computesat.boards``; every slot of the AI1
configuration) is of kind ``slot``; a slot modelled by hwsim's built-in board arrays (a config
slot with a ``kind`` and no ``board``) is of kind ``builtin_slot``. Both have ids
``slot.<nnn>``; a board slot's registers carry ``board`` and ``present``, which tells them apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum, StrEnum
from functools import cached_property
from typing import Annotated, Any

from computesat_sdk.contract import (
    BoardCapabilities,
    BoardIdentity,
    JobLimits,
    PowerState,
    SelfTestResult,
    ThermalElectricalModel,
)
from computesat_sdk.kernels import KernelName
from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from icd.devices._base import (
    CommandArgs,
    DeviceKind,
    DeviceRegisters,
    NoArgs,
    RegisterSpec,
    RegisterValue,
    arg,
    member_specs,
    reg,
)
from icd.devices._columns import (
    check_rows,
    column_fields,
    column_runs,
    columns_from_members,
    flat_columns,
    member_rows,
    name_of_column_error,
)

__all__ = [
    "BACKPLANE",
    "BOARD_SLOT",
    "BUILTIN_SLOT",
    "AwaitResults",
    "AwaitResultsResult",
    "BackplaneRegisters",
    "BackplaneSlot",
    "BoardFault",
    "BoardSlotRegisters",
    "BuiltinSlotRegisters",
    "BuiltinSlotState",
    "CancelJob",
    "CancelResult",
    "IdentityResult",
    "PowerState",
    "SetThrottle",
    "SetUtilisation",
    "SlotSupply",
    "SubmitJob",
    "SubmitResult",
    "ThrottleResult",
]

_Enum = Field(strict=False)  # enums take their wire value (a str) in strict models


class SlotSupply(StrEnum):
    """A board slot's supply: losing it powers the board off."""

    ON = "on"
    SHED = "shed"  # the bus is short of power
    UNPOWERED = "unpowered"  # the slot's PDU switch is open


class BoardFault(StrEnum):
    """Why a board is in FAULT (``fault_reason``), or why its slot is empty; the text that
    goes with it is in ``fault_detail``."""

    NONE = ""
    LATCH_UP = "latch_up"  # only a power cycle clears it
    OVER_TEMPERATURE = "over_temperature"  # reset once cool
    OTHER = "other"  # a reason the contract does not name (see fault_detail)
    PLUGIN_REFUSED = "plugin_refused"  # slot empty: the plug-in failed to load or build
    PLUGIN_UNKNOWN = "plugin_unknown"  # slot empty: no such computesat.boards entry point


# Registers a board slot and its backplane entry share, defined once.
Board = Annotated[str, reg("", "Entry-point name of the plug-in configured in this slot")]
BoardPower = Annotated[
    PowerState, _Enum, reg("", "Board state: off, booting, idle, busy, throttled, fault")
]
DieTemp = Annotated[float, reg("K", "Die temperature", ge=0.0)]
PowerW = Annotated[float, reg("W", "Electrical power drawn from the bus", ge=0.0)]
Utilisation = Annotated[float, reg("", "Fraction of compute in use, 0..1", ge=0.0, le=1.0)]
Throttle = Annotated[int, reg("", "Effective throttle level, 0 = full speed", ge=0)]
Heartbeat = Annotated[
    int, reg("", "Counts physics steps while alive; frozen when off, faulted or hung", ge=0)
]
Queued = Annotated[int, reg("", "Jobs waiting behind the running one", ge=0)]
Running = Annotated[int, reg("", "Jobs executing now (0 or 1)", ge=0, le=1)]
ResultsPending = Annotated[
    int,
    reg("", "Jobs over in mission time whose result the host is still computing", ge=0),
]
Correctable = Annotated[int, reg("", "Corrected memory errors since the model start", ge=0)]
Uncorrectable = Annotated[int, reg("", "Uncorrectable memory errors since the model start", ge=0)]
BootCount = Annotated[int, reg("", "Boots started since the model start", ge=0)]
Fault = Annotated[
    BoardFault,
    _Enum,
    reg(
        "",
        "'' if none; latch_up, over_temperature, other; plugin_refused/plugin_unknown "
        "for an empty slot",
    ),
]
FaultDetail = Annotated[str, reg("", "Text of the fault or why the slot is empty ('' if none)")]
LoopId = Annotated[
    str, reg("", "Coolant loop of the slot's cold plate ('L1'): the scope of a compute limit")
]


class BoardSlotRegisters(DeviceRegisters):
    """A slot holding a plug-in board: the board's own telemetry, plus the slot's view of it
    (supply, plate, upsets delivered by hwsim)."""

    board: Board
    present: bool = reg("", "A board is in the slot (false: plug-in unknown or refused)")
    kind: str = reg("", "Board class: gpu, accelerator, cpu, fpga ('' if empty)")
    vendor: str = reg("", "Board manufacturer")
    part_number: str = reg("", "Vendor part number")
    firmware_version: str = reg("", "Board firmware version")
    power_state: BoardPower
    supply: Annotated[SlotSupply, _Enum] = reg(
        "", "Slot supply: on, shed (bus short of power), unpowered (PDU switch open)"
    )
    powered: bool = reg("", "The board is drawing power from the bus")
    die_temp_k: DieTemp
    memory_temp_k: float = reg("K", "Memory (HBM/DRAM) temperature", ge=0.0)
    plate_temp_k: float = reg("K", "Cold plate temperature under the board", ge=0.0)
    inlet_temp_k: float = reg("K", "Coolant supply temperature of its loop", ge=0.0)
    max_die_temp_k: float = reg("K", "Rated maximum die temperature (0 if empty)", ge=0.0)
    overtemp: bool = reg("", "Die above its rated maximum")
    power_w: PowerW
    current_a: float = reg("A", "Current at bus voltage", ge=0.0)
    utilisation: Utilisation
    correctable_errors: Correctable
    uncorrectable_errors: Uncorrectable
    seu_count: int = reg("", "Radiation upsets hwsim delivered to this slot", ge=0)
    throttle_level: Throttle
    commanded_throttle_level: int = reg("", "Level set by set_throttle", ge=0)
    heartbeat: Heartbeat
    jobs_queued: Queued
    jobs_running: Running
    active_job_id: int = reg("", "Job executing now, -1 if none", ge=-1)
    jobs_completed: int = reg("", "Jobs completed since the model start", ge=0)
    jobs_failed: int = reg("", "Jobs failed or cancelled since the model start", ge=0)
    results_pending: ResultsPending
    boot_count: BootCount
    latchup: bool = reg("", "Latched up (power_cycle to clear)")
    fault_reason: Fault
    fault_detail: FaultDetail
    loop_id: LoopId


class BackplaneSlot(BaseModel):
    """One board slot's entry in the backplane read; on the wire ``slot.<nnn>.<register>``."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    board: Board
    power_state: BoardPower
    die_temp_k: DieTemp
    power_w: PowerW
    utilisation: Utilisation
    throttle_level: Throttle
    heartbeat: Heartbeat
    jobs_queued: Queued
    jobs_running: Running
    results_pending: ResultsPending
    correctable_errors: Correctable
    uncorrectable_errors: Uncorrectable
    boot_count: BootCount
    fault_reason: Fault
    loop_id: LoopId

    @classmethod
    def of(cls, slot: BoardSlotRegisters) -> BackplaneSlot:
        return cls.model_validate({n: slot.__dict__[n] for n in cls.model_fields})


_ENTRY = frozenset(BackplaneSlot.model_fields)
_ENTRY_NAMES = tuple(BackplaneSlot.model_fields)


def _slot_register(sid: str, register: str) -> str:
    return f"slot.{sid}.{register}"


class _Backplane(DeviceRegisters):
    """Every board slot. On the wire (device tables 2.0) the slots are columns: ``slot`` the
    slot ids ('001', ...), then one list per ``BackplaneSlot`` register, a value per slot in
    the order of ``slot``; ``slots`` gives them as ``BackplaneSlot`` entries (slot id -> entry).
    ``BackplaneRegisters(slots={...})`` builds one from entries."""

    @model_validator(mode="before")
    @classmethod
    def _columns(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and "slots" in raw and "slot" not in raw:
            return columns_from_members("slot", BackplaneSlot, raw["slots"])
        return raw

    @model_validator(mode="after")
    def _rows(self) -> _Backplane:
        ids: list[str] = self.__dict__["slot"]
        check_rows(ids, {n: self.__dict__[n] for n in _ENTRY}, "backplane slots")
        return self

    @cached_property
    def slots(self) -> dict[str, BackplaneSlot]:
        """Board slots by slot id (built from the validated columns on first use)."""
        return member_rows(BackplaneSlot, self.__dict__["slot"], self.__dict__)

    def flat(self) -> dict[str, RegisterValue]:
        d = self.__dict__
        return flat_columns(d["slot"], d, _ENTRY_NAMES, _slot_register)

    def flat_runs(self) -> Sequence[tuple[Sequence[str], Sequence[Any]]]:
        d = self.__dict__
        return column_runs(d["slot"], d, _ENTRY_NAMES, _slot_register)

    def groups(self) -> dict[str, dict[str, BaseModel]]:
        return {"slots": dict(self.slots)}

    @staticmethod
    def wire_of(slots: dict[str, BoardSlotRegisters]) -> dict[str, Any]:
        """The wire map of the backplane of these (validated) board slots, without building
        the backplane model (equal to ``BackplaneRegisters(slots={sid: BackplaneSlot.of(r)})
        .wire()``)."""
        names = list(BackplaneSlot.model_fields)
        out: dict[str, Any] = {"slot": list(slots)}
        rows = [r.__dict__ for r in slots.values()]
        for name in names:
            column = [row[name] for row in rows]
            if column and isinstance(column[0], Enum):
                column = [v.value for v in column]
            out[name] = column
        return out

    @classmethod
    def register_specs(cls, members: Sequence[str] = ()) -> dict[str, RegisterSpec]:
        return member_specs(BackplaneSlot, members, _slot_register)

    @classmethod
    def parse(cls, device: str, kind: str, raw: Any) -> DeviceRegisters:
        name_of = name_of_column_error("slot", raw, _slot_register)
        return cls.parse_named(device, kind, raw, name_of)


BackplaneRegisters: type[_Backplane] = create_model(  # type: ignore[call-overload]
    "BackplaneRegisters",
    __base__=_Backplane,
    __module__=__name__,
    __doc__="Every board slot: the slot ids (``slot``) and one typed column per register.",
    slot=(list[str], Field(description="Slot ids ('001', ...): the order of every column")),
    **column_fields(BackplaneSlot),
)


class PowerOn(NoArgs):
    """Power the board on (off -> booting); result {}."""


class PowerOff(NoArgs):
    """Power the board off (any state); result {}."""


class PowerCycle(NoArgs):
    """Power off then on: the cure for a latch-up; result {}."""


class Reset(NoArgs):
    """Warm reset (clears a hang, a cooled over-temperature); result {}."""


class SelfTest(NoArgs):
    """Built-in self test; result: SelfTestResult fields."""


class Identity(NoArgs):
    """Result {identity, capabilities, thermal, limits}: the board's models (limits:
    computesat_sdk.contract.JobLimits, the largest job it accepts)."""


class TakeResults(NoArgs):
    """Drain ended jobs; result {results: [JobResult fields, job_id as str]}."""


class SubmitJob(CommandArgs):
    """Queue a job; result {accepted: true} or {accepted: false, reject_code, reason}
    (computesat_sdk.kernels.JobRejectCode)."""

    job_id: int = arg("", "Job id, unique among the board's live jobs", ge=0, lt=2**63)
    kernel: Annotated[KernelName, _Enum] = arg("", "Reference kernel")
    size: int = arg("", "Kernel size: matrix order, transform length or batch", ge=1)
    seed: int = arg("", "Input generator seed", ge=0, lt=2**63)
    iterations: int = arg("", "Times the kernel runs", 1, ge=1)


class CancelJob(CommandArgs):
    """Cancel a running or queued job; result {cancelled: bool}."""

    job_id: int = arg("", "Job id", ge=0, lt=2**63)


class SetThrottle(CommandArgs):
    """Command a minimum throttle level (at most the board's deepest); result
    {throttle_level: effective level}."""

    level: int = arg("", "Throttle level, 0 = full speed", ge=0)


class IdentityResult(BaseModel):
    """Result of ``identity``: the board's models (computesat_sdk.contract)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    identity: BoardIdentity
    capabilities: BoardCapabilities
    thermal: ThermalElectricalModel
    limits: JobLimits


class SubmitResult(BaseModel):
    """Result of ``submit_job``: accepted, or refused with a JobRejectCode and a reason."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    accepted: bool = Field(description="The board queued the job")
    reject_code: int | None = Field(None, description="JobRejectCode when refused")
    reason: str | None = Field(None, description="Why it was refused")

    @model_validator(mode="after")
    def _refusal_says_why(self) -> SubmitResult:
        if not self.accepted and self.reject_code is None:
            raise ValueError("reject_code: a refusal carries its JobRejectCode")
        return self


class CancelResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    cancelled: bool = Field(description="The job was running or queued and is cancelled")


class ThrottleResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    throttle_level: int = Field(ge=0, description="Effective level (>= the commanded one)")


class AwaitResults(CommandArgs):
    """Answered as soon as any plug-in slot has job results ready (take them with
    slot.<nnn>.take_results), or after timeout_s without; result {slots: {slot.<nnn>:
    registers}}. Served by a running hwsim's device port only (a long poll)."""

    timeout_s: float = arg("s", "Mission seconds to wait at most (capped at 60)", 0.0, ge=0.0)


class AwaitResultsResult(BaseModel):
    """Result of ``backplane.await_results``: the registers of every slot with results ready
    (none: the wait timed out)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    slots: dict[str, BoardSlotRegisters] = Field(
        description="slot.<nnn> -> its registers, for every slot holding results"
    )


BOARD_SLOT = DeviceKind(
    name="slot",
    description="Compute slot holding a plug-in board (computesat.boards entry point)",
    ids="slot.<nnn>",
    registers=BoardSlotRegisters,
    commands={
        "power_on": PowerOn,
        "power_off": PowerOff,
        "power_cycle": PowerCycle,
        "reset": Reset,
        "self_test": SelfTest,
        "identity": Identity,
        "submit_job": SubmitJob,
        "cancel_job": CancelJob,
        "take_results": TakeResults,
        "set_throttle": SetThrottle,
    },
    results={
        "identity": IdentityResult,
        "self_test": SelfTestResult,
        "submit_job": SubmitResult,
        "cancel_job": CancelResult,
        "set_throttle": ThrottleResult,
    },
    faults=BoardFault,
)

BACKPLANE = DeviceKind(
    name="backplane",
    description="The telemetry of every board slot in one read",
    ids="backplane",
    registers=BackplaneRegisters,
    commands={"await_results": AwaitResults},
    results={"await_results": AwaitResultsResult},
    faults=BoardFault,
    members=("<nnn>",),
)


class BuiltinSlotState(StrEnum):
    """Power state of a built-in slot; every value but on and off is a fault or trip."""

    ON = "on"
    OFF = "off"
    SHED = "shed"
    LATCHED = "latched"
    THERMAL_SHUTDOWN = "thermal_shutdown"
    UNPOWERED = "unpowered"


class BuiltinSlotFault(StrEnum):
    """Fault and trip states of a built-in slot (``power_state``)."""

    SHED = "shed"
    LATCHED = "latched"  # power-cycle to clear
    THERMAL_SHUTDOWN = "thermal_shutdown"
    UNPOWERED = "unpowered"


class BuiltinSlotRegisters(DeviceRegisters):
    kind: str = reg("", "Board kind name")
    power_state: Annotated[BuiltinSlotState, _Enum] = reg(
        "", "on, off, shed, latched, thermal_shutdown, unpowered (PDU switch off)"
    )
    powered: bool = reg("", "Board is drawing power")
    utilisation: float = reg("", "Commanded utilisation 0..1", ge=0.0, le=1.0)
    power_w: float = reg("W", "Electrical power drawn", ge=0.0)
    current_a: float = reg("A", "Current at bus voltage", ge=0.0)
    die_temp_k: float = reg("K", "Die temperature", ge=0.0)
    plate_temp_k: float = reg("K", "Cold plate temperature under the board", ge=0.0)
    inlet_temp_k: float = reg("K", "Coolant supply temperature of its loop", ge=0.0)
    max_die_temp_k: float = reg("K", "Rated maximum die temperature", ge=0.0)
    overtemp: bool = reg("", "Die above its rated maximum")
    latchup: bool = reg("", "Latch-up detected (power cycle to clear)")
    seu_count: int = reg("", "Single-event upsets (all) since power-on of the model", ge=0)
    uncorrectable_errors: int = reg("", "Uncorrectable memory errors", ge=0)


class SetUtilisation(CommandArgs):
    """Set utilisation (refused while latched up or unpowered)."""

    value: float = arg("", "Utilisation", ge=0.0, le=1.0)


class BuiltinPowerOn(NoArgs):
    """Power the board on (its PDU switch must be on)."""


class BuiltinPowerOff(NoArgs):
    """Power the board off (clears a latch-up)."""


BUILTIN_SLOT = DeviceKind(
    name="builtin_slot",
    description="Compute slot modelled by hwsim's built-in board arrays (no plug-in)",
    ids="slot.<nnn>",
    registers=BuiltinSlotRegisters,
    commands={
        "power_on": BuiltinPowerOn,
        "power_off": BuiltinPowerOff,
        "set_utilisation": SetUtilisation,
    },
    faults=BuiltinSlotFault,
)
