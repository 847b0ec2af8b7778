"""Radiator panel isolation valve (``radvalve.P<nn>``, one per panel): registers, commands.

Each radiator panel sits in its loop behind a pair of isolation valves (supply and return),
worked together as one device. Closed, the panel is out of the loop: the loop's flow splits
over its other panels, the closed panel rejects none of the loop's heat, and a leak in it
(``radiator_puncture``) drains only the coolant trapped in the panel, not the loop. A valve is
open at start. Flight software isolates a punctured panel with ``close``.
"""

from __future__ import annotations

from enum import StrEnum

from icd.devices._base import DeviceKind, DeviceRegisters, NoArgs, reg

__all__ = ["RADVALVE", "RadValveClose", "RadValveFault", "RadValveOpen", "RadValveRegisters"]


class RadValveFault(StrEnum):
    """What a valve reports when it disagrees with its command: ``open`` differs from
    ``commanded_open`` (a valve that did not move)."""

    NOT_IN_COMMANDED_POSITION = "not_in_commanded_position"


class RadValveRegisters(DeviceRegisters):
    open: bool = reg("", "Valve position: true = open (the panel is in its loop's flow)")
    commanded_open: bool = reg("", "Last commanded position: true = open")
    flow_kg_s: float = reg("kg/s", "Coolant mass flow through the panel", ge=0.0)

    @property
    def fault(self) -> RadValveFault | None:
        return None if self.open == self.commanded_open else RadValveFault.NOT_IN_COMMANDED_POSITION


class RadValveClose(NoArgs):
    """Close the panel's valves: the panel leaves its loop's flow (isolate it)."""


class RadValveOpen(NoArgs):
    """Open the panel's valves: the panel rejoins its loop's flow."""


RADVALVE = DeviceKind(
    name="radvalve",
    description="Isolation valve of a radiator panel (takes the panel in or out of its loop)",
    ids="radvalve.P<nn>",
    registers=RadValveRegisters,
    commands={"close": RadValveClose, "open": RadValveOpen},
    faults=RadValveFault,
)
