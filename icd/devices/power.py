"""Battery (``battery``) and power distribution unit (``pdu``: the bus and its switched
channels)."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator

from icd.devices._base import (
    CommandArgs,
    DeviceKind,
    DeviceRegisters,
    RegisterSpec,
    RegisterValue,
    arg,
    field_specs,
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
    "BATTERY",
    "PDU",
    "BatteryFault",
    "BatteryRegisters",
    "PduRegisters",
    "PduSwitch",
    "PduSwitchCommand",
    "SwitchTrip",
    "TripReason",
]


class BatteryFault(StrEnum):
    """What a battery reports of its faults: shorted cells, counted in ``cell_faults``."""

    CELL_SHORT = "cell_short"


class BatteryRegisters(DeviceRegisters):
    soc: float = reg("", "State of charge 0..1", ge=0.0, le=1.0)
    voltage_v: float = reg("V", "Terminal (bus) voltage", ge=0.0)
    current_a: float = reg("A", "Current, > 0 discharging")
    power_w: float = reg("W", "Power, > 0 discharging")
    temp_k: float = reg("K", "Pack temperature", ge=0.0)
    cell_faults: int = reg("", "Number of failed (shorted) cells", ge=0)
    capacity_wh: float = reg("Wh", "Present usable capacity", ge=0.0)


BATTERY = DeviceKind(
    name="battery",
    description="Main battery on the power bus",
    ids="battery",
    registers=BatteryRegisters,
    faults=BatteryFault,
)


class SwitchTrip(StrEnum):
    """Why a closed PDU switch delivers no power: tripped on overcurrent (``<sw>_tripped``;
    switch_on resets it) or its load shed by a bus short of power (``<sw>_shed``)."""

    TRIPPED = "tripped"
    SHED = "shed"


class TripReason(StrEnum):
    """Why a PDU switch tripped open: ``none`` while it has not, ``overcurrent`` when its
    channel's protection (an I²t thermal image of the wiring) reached its pickup."""

    NONE = "none"
    OVERCURRENT = "overcurrent"


class PduSwitch(BaseModel):
    """One switched channel; on the wire its registers are ``<switch>_<register>``."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    on: bool = reg("", "Switch closed")
    tripped: bool = reg("", "Switch tripped (overcurrent)")
    shed: bool = reg("", "Load shed by the bus (power short)")
    current_a: float = reg("A", "Current through the switch", ge=0.0)
    trip_reason: Annotated[TripReason, Field(strict=False)] = reg(
        "", "Why the switch tripped: none or overcurrent (switch_on clears it)"
    )
    trip_time_s: float = reg("s", "Mission time of the present trip; -1 while not tripped")

    @property
    def trip(self) -> SwitchTrip | None:
        if self.tripped:
            return SwitchTrip.TRIPPED
        return SwitchTrip.SHED if self.shed else None


_SWITCH = tuple(PduSwitch.model_fields)


class _Pdu(DeviceRegisters):
    """The bus and every switched channel. On the wire (device tables 2.0) the channels are
    columns: ``switch`` the switch names, then one list per ``PduSwitch`` register, a value
    per switch in the order of ``switch``; ``switches`` gives them as ``PduSwitch`` models
    (name -> channel). ``PduRegisters(..., switches={...})`` builds one from channels."""

    @model_validator(mode="before")
    @classmethod
    def _columns(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and "switches" in raw and "switch" not in raw:
            out = {k: v for k, v in raw.items() if k != "switches"}
            return out | columns_from_members("switch", PduSwitch, raw["switches"])
        return raw

    @model_validator(mode="after")
    def _rows(self) -> _Pdu:
        ids: list[str] = self.__dict__["switch"]
        check_rows(ids, {n: self.__dict__[n] for n in _SWITCH}, "pdu switches")
        return self

    @cached_property
    def switches(self) -> dict[str, PduSwitch]:
        """Switched channels by name (built from the validated columns on first use)."""
        return member_rows(PduSwitch, self.__dict__["switch"], self.__dict__)

    def flat(self) -> dict[str, RegisterValue]:
        d = self.__dict__
        out: dict[str, RegisterValue] = {n: d[n] for n in _BUS}
        return out | flat_columns(d["switch"], d, _SWITCH, _switch_register)

    def flat_runs(self) -> Sequence[tuple[Sequence[str], Sequence[Any]]]:
        d = self.__dict__
        bus = (_BUS, tuple(d[n] for n in _BUS))
        return [bus, *column_runs(d["switch"], d, _SWITCH, _switch_register)]

    def groups(self) -> dict[str, dict[str, BaseModel]]:
        return {"switches": dict(self.switches)}

    @classmethod
    def register_specs(cls, members: Sequence[str] = ()) -> dict[str, RegisterSpec]:
        specs = {n: s for n, s in field_specs(cls).items() if n in _BUS}
        specs.update(member_specs(PduSwitch, members, _switch_register))
        return specs

    @classmethod
    def parse(cls, device: str, kind: str, raw: Any) -> DeviceRegisters:
        name_of = name_of_column_error("switch", raw, _switch_register)
        return cls.parse_named(device, kind, raw, name_of)


_BUS = ("bus_voltage_v", "array_power_w", "load_power_w", "demand_power_w")


def _switch_register(name: str, register: str) -> str:
    return f"{name}_{register}"


PduRegisters: type[_Pdu] = create_model(  # type: ignore[call-overload]
    "PduRegisters",
    __base__=_Pdu,
    __module__=__name__,
    __doc__="The bus and every switched channel (``switch``: names; one column per register).",
    bus_voltage_v=(float, reg("V", "Bus voltage", ge=0.0)),
    array_power_w=(float, reg("W", "Power taken from the solar arrays", ge=0.0)),
    load_power_w=(float, reg("W", "Power delivered to all loads", ge=0.0)),
    demand_power_w=(float, reg("W", "Power requested by all switched-on loads", ge=0.0)),
    switch=(list[str], Field(description="Switch names: the order of every column")),
    **column_fields(PduSwitch),
)


class PduSwitchCommand(CommandArgs):
    """Close (switch_on, which also resets a trip) or open (switch_off) a PDU switch."""

    switch: str = arg("", "Switch name, as in describe('pdu')", min_length=1)


class PduSwitchOn(PduSwitchCommand):
    """Close a switch (also resets a trip); refused if the load trips it again."""


class PduSwitchOff(PduSwitchCommand):
    """Open a switch (a compute slot's board loses power, which clears its latch-up)."""


PDU = DeviceKind(
    name="pdu",
    description="Power distribution unit: the bus and its switched load channels",
    ids="pdu",
    registers=PduRegisters,
    commands={"switch_on": PduSwitchOn, "switch_off": PduSwitchOff},
    faults=SwitchTrip,
    members=("<switch>",),
)
