"""Battery (``battery``) and power distribution unit (``pdu``: the bus and its switched
channels)."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

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


# longest first: "_on" must not take the tail of another suffix
_SWITCH_SUFFIXES = tuple(sorted((f"_{n}" for n in PduSwitch.model_fields), key=len, reverse=True))


class PduRegisters(DeviceRegisters):
    """The bus and every switched channel (``switches``: name -> channel)."""

    bus_voltage_v: float = reg("V", "Bus voltage", ge=0.0)
    array_power_w: float = reg("W", "Power taken from the solar arrays", ge=0.0)
    load_power_w: float = reg("W", "Power delivered to all loads", ge=0.0)
    demand_power_w: float = reg("W", "Power requested by all switched-on loads", ge=0.0)
    switches: dict[str, PduSwitch] = Field(description="Switched channels by name")

    @model_validator(mode="before")
    @classmethod
    def _group(cls, raw: Any) -> Any:
        if not isinstance(raw, dict) or "switches" in raw:
            return raw
        fixed = {n for n in cls.model_fields if n != "switches"}
        out: dict[str, Any] = {}
        switches: dict[str, dict[str, Any]] = {}
        for key, value in raw.items():
            suffix = next((s for s in _SWITCH_SUFFIXES if key.endswith(s)), None)
            if key in fixed or suffix is None or len(key) == len(suffix):
                out[key] = value
            else:
                switches.setdefault(key[: -len(suffix)], {})[suffix[1:]] = value
        out["switches"] = switches
        return out

    def wire(self) -> dict[str, RegisterValue]:
        out: dict[str, RegisterValue] = self.model_dump(mode="json", exclude={"switches"})
        for name, sw in self.switches.items():
            for reg_name, value in sw.model_dump(mode="json").items():
                out[f"{name}_{reg_name}"] = value
        return out

    @classmethod
    def register_specs(cls, members: Sequence[str] = ()) -> dict[str, RegisterSpec]:
        specs = field_specs(cls)
        specs.pop("switches")
        specs.update(member_specs(PduSwitch, members, lambda name, reg: f"{name}_{reg}"))
        return specs

    @classmethod
    def wire_name(cls, loc: tuple[Any, ...]) -> str:
        if len(loc) >= 3 and loc[0] == "switches":
            return f"{loc[1]}_{loc[2]}"
        return super().wire_name(loc)


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
