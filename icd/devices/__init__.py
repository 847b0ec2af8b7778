"""The typed device interface: one module per device kind, each with its register model
(unit-named fields with descriptions and bounds), its command models (argument ranges) and an
enum of its fault/trip reasons.

Both sides of the device port stand on these models: hwsim builds every ``read`` result by
constructing the register model (the reads it serves every cycle, pdu, backplane and radiator
sensors, straight from its arrays; tests hold them equal to the model's wire) and checks
command arguments with the command models (so it cannot drift from the ICD), and generates
``describe`` from them; flight software validates
every reply into them (:func:`parse_registers`), so a missing or ill-typed register is an error
that names it, never a default. :func:`device_tables` is the part of the exported dictionary.

On the wire a read is one map of register name -> number/flag/text, except for the PDU's
switched channels and the backplane's slots, which travel as columns (``switch``/``slot``:
the member ids, then one typed list per register) and are offered as typed member models
(``PduRegisters.switches``, ``BackplaneRegisters.slots``); :meth:`DeviceRegisters.flat`
names every register as ``describe`` does (``<switch>_<register>``, ``slot.<nnn>.<register>``).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from icd.devices._base import (
    ArgSpec,
    CommandArgs,
    CommandArgsInvalid,
    CommandSpec,
    DeviceDescription,
    DeviceKind,
    DeviceRegisters,
    NoArgs,
    RegistersInvalid,
    RegisterSpec,
    RegisterValue,
    parse_result,
)
from icd.devices.compute import (
    BACKPLANE,
    BOARD_SLOT,
    BUILTIN_SLOT,
    AwaitResultsResult,
    BackplaneRegisters,
    BackplaneSlot,
    BoardFault,
    BoardSlotRegisters,
    BuiltinSlotRegisters,
    BuiltinSlotState,
    CancelResult,
    IdentityResult,
    PowerState,
    SlotSupply,
    SubmitResult,
    ThrottleResult,
)
from icd.devices.loop import LOOP, LoopRegisters
from icd.devices.power import (
    BATTERY,
    PDU,
    BatteryRegisters,
    PduRegisters,
    PduSwitch,
    SwitchTrip,
    TripReason,
)
from icd.devices.pump import PUMP, PumpFault, PumpRegisters, PumpState
from icd.devices.radiator import RADSENSOR, SensorFault, SensorRegisters
from icd.devices.radvalve import RADVALVE, RadValveFault, RadValveRegisters
from icd.devices.timeref import TIMEREF, ClockMode, TimeRefRegisters
from icd.devices.wing import WING, DriveState, MpptState, WingFault, WingRegisters

__all__ = [
    "DEVICE_KINDS",
    "DEVICE_TABLES_VERSION",
    "ArgSpec",
    "AwaitResultsResult",
    "BackplaneRegisters",
    "BackplaneSlot",
    "BatteryRegisters",
    "BoardFault",
    "BoardSlotRegisters",
    "BuiltinSlotRegisters",
    "BuiltinSlotState",
    "CancelResult",
    "ClockMode",
    "CommandArgs",
    "CommandArgsInvalid",
    "CommandSpec",
    "DeviceDescription",
    "DeviceKind",
    "DeviceRegisters",
    "DriveState",
    "IdentityResult",
    "LoopRegisters",
    "MpptState",
    "NoArgs",
    "PduRegisters",
    "PduSwitch",
    "PowerState",
    "PumpFault",
    "PumpRegisters",
    "PumpState",
    "RadValveFault",
    "RadValveRegisters",
    "RegisterSpec",
    "RegisterValue",
    "RegistersInvalid",
    "SensorFault",
    "SensorRegisters",
    "SlotSupply",
    "SubmitResult",
    "SwitchTrip",
    "ThrottleResult",
    "TimeRefRegisters",
    "TripReason",
    "UnknownDeviceKind",
    "WingFault",
    "WingRegisters",
    "device_tables",
    "kind_of",
    "parse_registers",
    "parse_result",
]

# 1.1: wing `sun_illumination`; PDU `<switch>_trip_reason` and `<switch>_trip_time_s`
# (overcurrent protection). Added registers only: a 1.0 reader ignores them.
# 2.0: the PDU's switches and the backplane's slots travel as register columns (``switch`` /
# ``slot``: the member ids, then one typed list per register; see icd.devices._columns): the
# same registers, a new wire layout (a 1.x reader cannot read them). The register names of
# describe, the dictionary and the parameters ('pdu.<switch>_on') are unchanged. Read many
# devices in one round trip with the device-protocol op ``read_many`` (icd.device).
DEVICE_TABLES_VERSION = "2.0"

DEVICE_KINDS: dict[str, DeviceKind] = {
    k.name: k
    for k in (
        PUMP,
        LOOP,
        RADSENSOR,
        RADVALVE,
        WING,
        BATTERY,
        PDU,
        BOARD_SLOT,
        BUILTIN_SLOT,
        BACKPLANE,
        TIMEREF,
    )
}

# device id head (before the first '.') -> kind; whole ids for the singletons
_BY_HEAD = {
    "pump": PUMP,
    "loop": LOOP,
    "radsensor": RADSENSOR,
    "radvalve": RADVALVE,
    "wing": WING,
    "slot": BOARD_SLOT,
}
_BY_ID = {"battery": BATTERY, "pdu": PDU, "backplane": BACKPLANE, "timeref": TIMEREF}


class UnknownDeviceKind(ValueError):
    def __init__(self, device_id: str) -> None:
        ids = ", ".join(k.ids for k in DEVICE_KINDS.values() if k is not BUILTIN_SLOT)
        super().__init__(f"no device kind for id {device_id!r}; ids: {ids}")
        self.device_id = device_id


def kind_of(device_id: str, registers: Any = None) -> DeviceKind:
    """The kind of a device id. ``slot.<nnn>`` is a board slot unless its ``registers`` (a raw
    read) show a built-in slot (no ``board``/``present`` register)."""
    head, dot, _ = device_id.partition(".")
    kind = _BY_HEAD.get(head) if dot else _BY_ID.get(device_id)
    if kind is None:
        raise UnknownDeviceKind(device_id)
    if (
        kind is BOARD_SLOT
        and isinstance(registers, dict)
        and "board" not in registers
        and "present" not in registers
    ):
        return BUILTIN_SLOT
    return kind


def parse_registers(device_id: str, raw: Any) -> DeviceRegisters:
    """Validate a raw ``read`` reply into the register model of the device's kind.

    Raises :class:`RegistersInvalid` naming every missing, unknown or ill-typed register,
    and :class:`UnknownDeviceKind` for an id of no kind."""
    kind = kind_of(device_id, raw)
    if type(raw) is dict:
        # Every polled device every second: a valid dict goes straight to the validator (what
        # ``parse`` ends in); an invalid one takes ``parse`` for the error naming each register.
        try:
            return kind.registers.__pydantic_validator__.validate_python(raw)  # type: ignore[no-any-return]
        except ValidationError:
            pass
    return kind.registers.parse(device_id, kind.name, raw)


def device_tables() -> dict[str, Any]:
    """Every device kind for the exported dictionary: registers (unit, type, range),
    commands (argument ranges), fault enums."""
    return {
        "version": DEVICE_TABLES_VERSION,
        "kinds": {name: kind.table() for name, kind in DEVICE_KINDS.items()},
    }
