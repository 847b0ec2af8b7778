"""The fault catalogue (data) and its application to the hardware model.

Each :class:`FaultSpec` names its target kind, its parameters (with defaults and units), what
flight software sees through the device ports, and the FDIR response expected of it.
``Spacecraft.inject_fault`` validates a request against the catalogue (:func:`resolve_fault`)
and applies it (:func:`activate_fault`); ``clear_fault`` undoes what is reversible. The
catalogue is data: applying a fault is the business of the subsystem owning its target
(``apply_fault``/``clear_fault`` of the modules in ``hwsim.subsystems``), to which the
spacecraft routes it; nothing here touches a subsystem's state.
"""

from __future__ import annotations

import json
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "CATALOGUE",
    "ActiveFault",
    "FaultError",
    "FaultHost",
    "FaultParam",
    "FaultSpec",
    "activate_fault",
    "catalogue_as_json",
    "catalogue_as_table",
    "deactivate_fault",
    "fault_catalogue",
    "resolve_fault",
]


class FaultHost(Protocol):
    """What the catalogue needs of the hardware model (``Spacecraft``): its fault targets, a
    way to hand it a fault, and whether a slot holds a plug-in board. The model imports this
    module, never the other way round."""

    def fault_targets(self, kind: str) -> dict[str, int]: ...

    def dispatch_fault(
        self, kind: str, fault_id: str, i: int, params: dict[str, Any], time_s: float
    ) -> None: ...

    def dispatch_fault_clear(
        self, kind: str, fault_id: str, i: int, params: dict[str, Any]
    ) -> None: ...

    def has_plugin_board(self, slot_index: int) -> bool: ...


TargetKind = Literal["pump", "radiator", "radsensor", "wing", "battery", "switch", "slot"]

TARGET_FORMS: dict[str, str] = {
    "pump": "pump.L<n>.<A|B>",
    "radiator": "radiator.P<nn>",
    "radsensor": "radsensor.P<nn>.S<n>",
    "wing": "wing.W<n>",
    "battery": "battery",
    "switch": "pdu.<switch name>",
    "slot": "slot.<nnn>",
}


class FaultError(ValueError):
    """An unknown fault, target or parameter; the message lists the valid options."""


class FaultParam(BaseModel):
    model_config = ConfigDict(frozen=True)
    default: float | bool | str | None = Field(description="Default value (None = see description)")
    choices: tuple[str, ...] | None = Field(
        None, description="Allowed values of a string parameter"
    )
    unit: str = Field(description="Unit of the parameter")
    description: str = Field(description="Meaning of the parameter")


class FaultSpec(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: str = Field(description="Fault identifier")
    target_kind: TargetKind = Field(description="Kind of the target")
    description: str = Field(description="What happens in the hardware")
    params: dict[str, FaultParam] = Field(default_factory=dict, description="Parameters")
    observable: str = Field(description="What flight software sees through read()")
    fdir_response: str = Field(description="Response expected of flight software")
    clears: str = Field(description="What clear_fault restores")

    @property
    def target_form(self) -> str:
        return TARGET_FORMS[self.target_kind]


class ActiveFault(BaseModel):
    model_config = ConfigDict(frozen=False)
    fault_id: str = Field(description="Catalogue id")
    target: str = Field(description="Target id, e.g. pump.L1.A")
    params: dict[str, Any] = Field(default_factory=dict, description="Parameters with defaults")
    at_time_s: float | None = Field(None, description="Scheduled activation (mission s)")
    active: bool = Field(False, description="True once applied")
    activated_at_s: float | None = Field(None, description="Mission time of activation")


P = FaultParam

CATALOGUE: list[FaultSpec] = [
    FaultSpec(
        id="pump_seizure",
        target_kind="pump",
        description="Bearing seizure: the rotor stops at once; an energised motor draws stall "
        "power until commanded off. Permanent.",
        observable="pump state=seized, speed_rpm=0, flow_kg_s=0, power_w/motor_current_a at "
        "stall; loop flow_kg_s collapses (if it was the only running pump), return temp rises",
        fdir_response="Stop the seized pump, start the standby pump of the loop, throttle "
        "compute on that loop until flow is back; raise an event",
        clears="nothing (the pump stays seized)",
    ),
    FaultSpec(
        id="pump_degradation",
        target_kind="pump",
        description="Impeller wear / bearing drag: head and free flow fall linearly with time",
        params={
            "head_loss_per_hour": P(default=0.05, unit="1/h", description="Fractional loss"),
            "min_head_fraction": P(default=0.1, unit="", description="Floor of the decline"),
        },
        observable="loop flow_kg_s and pump flow fall slowly at constant speed; supply/return "
        "delta-T grows",
        fdir_response="Trend flow vs speed; raise speed, then switch to the standby pump when "
        "flow at max speed is below the floor",
        clears="the wear stops; lost head is not restored",
    ),
    FaultSpec(
        id="radiator_puncture",
        target_kind="radiator",
        description="Micrometeoroid puncture of a radiator panel: coolant leaks from its loop",
        params={"leak_rate_kg_s": P(default=0.01, unit="kg/s", description="Leak rate")},
        observable="loop pressure_kpa and inventory_kg fall; when inventory drops toward "
        "min_inventory_fraction the pumps cavitate and flow_kg_s collapses",
        fdir_response="Detect the pressure decay, isolate the panel with its valve "
        "(radvalve.P<nn> close): the loop's pressure and inventory stop falling and its flow "
        "runs on its other panels; throttle compute on the loop to the rejection left; if "
        "the decay goes on, isolate the loop, shed its compute, safe mode",
        clears="the leak stops; lost inventory is not restored",
    ),
    FaultSpec(
        id="sensor_stuck",
        target_kind="radsensor",
        description="Radiator temperature sensor freezes at one value",
        params={"value_k": P(default=None, unit="K", description="Stuck value (None = current)")},
        observable="temp_k constant (no noise) while the panel's other sensors move",
        fdir_response="Cross-check sensors of the panel; vote the sensor out",
        clears="sensor reads normally",
    ),
    FaultSpec(
        id="sensor_drift",
        target_kind="radsensor",
        description="Sensor calibration drifts linearly",
        params={"rate_k_per_hour": P(default=2.0, unit="K/h", description="Drift rate")},
        observable="temp_k departs steadily from the panel's other sensors",
        fdir_response="Detect disagreement with the panel median; vote out",
        clears="sensor reads normally",
    ),
    FaultSpec(
        id="sensor_noisy",
        target_kind="radsensor",
        description="Sensor gets noisy (connector, EMI)",
        params={"noise_std_k": P(default=5.0, unit="K", description="Extra noise std-dev")},
        observable="temp_k scatter far above the other sensors of the panel",
        fdir_response="Filter or vote out on variance",
        clears="sensor reads normally",
    ),
    FaultSpec(
        id="sensor_dead",
        target_kind="radsensor",
        description="Open circuit: the sensor reads the 0 K rail",
        observable="temp_k = 0.0",
        fdir_response="Range check; vote out",
        clears="sensor reads normally",
    ),
    FaultSpec(
        id="array_drive_stuck",
        target_kind="wing",
        description="Solar array drive stops at its current angle and ignores commands",
        observable="wing drive_state=stuck, drive_angle_deg constant while sun_angle_deg "
        "moves; incidence_cos and power_w follow a cosine down to 0; commands give device_fault",
        fdir_response="Reduce loads to the remaining wing, park compute, raise an event",
        clears="drive moves again",
    ),
    FaultSpec(
        id="mppt_failure",
        target_kind="wing",
        description="MPPT controller fails: the array is clamped to the bus, off its MPP",
        observable="wing mppt_state=failed, power_w/available_power_w fall to "
        "off_mpp_fraction of the MPP, voltage_v jumps to the clamp voltage",
        fdir_response="Re-balance the power budget with the reduced array power",
        clears="MPPT tracks again",
    ),
    FaultSpec(
        id="battery_cell_failure",
        target_kind="battery",
        description="Cells short: pack voltage drops by their OCV and capacity shrinks",
        params={
            "cells": P(default=1, unit="", description="Cells failed"),
            "capacity_loss_fraction": P(default=0.05, unit="", description="Capacity lost"),
        },
        observable="battery cell_faults increases, voltage_v drops by ~cells x 3.7 V, "
        "capacity_wh falls",
        fdir_response="Lower the depth-of-discharge limit and eclipse load budget",
        clears="nothing (cells stay failed)",
    ),
    FaultSpec(
        id="switch_trip",
        target_kind="switch",
        description="PDU switch overcurrent trip: the switch opens and its load loses power",
        params={
            "persistent": P(
                default=False, unit="bool", description="Load fault: re-closing trips again"
            )
        },
        observable="pdu <switch>_tripped=true, <switch>_on=false, <switch>_current_a=0; the "
        "load's own device reads unpowered",
        fdir_response="Re-close once; if it trips again keep it open and reconfigure "
        "(standby pump / other slot)",
        clears="a persistent trip no longer re-trips (the switch stays open until commanded)",
    ),
    FaultSpec(
        id="board_overtemp",
        target_kind="slot",
        description="Cold-plate fouling / heat rise: die-to-plate resistance multiplied and "
        "optional extra heat. A plug-in board owns its die, so the slot adds the extra "
        "resistance (factor - 1) x the board's own in series at its plate interface: the board "
        "sees a hotter plate and throttles or trips by itself",
        params={
            "resistance_factor": P(default=3.0, unit="", description="Resistance multiplier"),
            "extra_heat_w": P(default=0.0, unit="W", description="Extra dissipation"),
        },
        observable="slot die_temp_k rises above plate_temp_k + normal margin; overtemp=true "
        "past max_die_temp_k; hardware thermal_shutdown at max + margin. Plug-in board: "
        "die_temp_k rises, throttle_level climbs (power_state=throttled), then power_state=fault "
        "with fault_reason=over_temperature past its shutdown temperature",
        fdir_response="Throttle the board stepwise (set_throttle), then power it off before "
        "the limit; after an over_temperature trip wait until cool, then reset",
        clears="resistance and heat back to nominal",
    ),
    FaultSpec(
        id="board_latchup",
        target_kind="slot",
        description="Single-event latch-up: current jumps and the board stops responding. A "
        "plug-in board gets inject_upset('latch_up') and draws its own latch_up_w instead of "
        "extra_power_w",
        params={"extra_power_w": P(default=400.0, unit="W", description="Latch-up current x V")},
        observable="slot latchup=true, power_state=latched, power_w/current_a jump; "
        "set_utilisation gives device_fault. Plug-in board: power_state=fault, "
        "fault_reason=latch_up, latchup=true, power_w=latch_up_w, heartbeat frozen, running job "
        "failed; reset gives device_fault",
        fdir_response="Detect the current step, power-cycle the slot (power_cycle, or "
        "power_off + power_on) or its PDU switch; resubmit the failed job",
        clears="the record only; the board stays latched until power-cycled",
    ),
    FaultSpec(
        id="seu_burst",
        target_kind="slot",
        description="Raised single-event upset rate (solar particle event) on a board; upsets "
        "are Poisson with the configured rate x this multiplier (x SAA factor inside the SAA). "
        "On a plug-in board each hit is, by the slot's fractions (AI1: hang 1 %, memory_ue "
        "15 %, bit_flip_result 10 % while busy), else memory_ce; the draws come from the "
        "spacecraft seed",
        params={"rate_multiplier": P(default=1000.0, unit="", description="Rate multiplier")},
        observable="slot seu_count and uncorrectable_errors increase faster; plug-in board: "
        "correctable_errors climb, some jobs end failed (memory_ue) or complete with a wrong "
        "digest (bit_flip_result), a rare hang freezes heartbeat",
        fdir_response="Scrub, checkpoint/restart, redundant execution; safe mode on bursts; "
        "watchdog on heartbeat -> reset",
        clears="rate back to nominal (counts stay)",
    ),
    FaultSpec(
        id="board_upset",
        target_kind="slot",
        description="One deterministic radiation upset of the given kind (for tests and ground "
        "scripts). Plug-in boards take every kind; a simple slot models only latch_up, "
        "memory_ce and memory_ue. An unpowered board is unaffected",
        params={
            "kind": P(
                default="bit_flip_result",
                unit="enum",
                description="bit_flip_result, hang, latch_up, memory_ce, memory_ue",
                choices=("bit_flip_result", "hang", "latch_up", "memory_ce", "memory_ue"),
            )
        },
        observable="bit_flip_result: the running (or next) job completes with a digest that "
        "fails computesat_sdk.kernels.verify; hang: heartbeat frozen, jobs stop progressing, "
        "power stays; "
        "latch_up: power_state=fault, fault_reason=latch_up, power_w jumps; memory_ce: "
        "correctable_errors + 1; memory_ue: uncorrectable_errors + 1, running job failed, "
        "self_test memory check fails until reboot",
        fdir_response="bit_flip_result: verify by redundant execution / ground, re-run; hang: "
        "heartbeat watchdog -> reset (or power_cycle); latch_up: power_cycle; memory_ce: trend, "
        "scrub; memory_ue: resubmit the failed job, reboot if repeated",
        clears="the record only (the upset has happened)",
    ),
]

_BY_ID = {f.id: f for f in CATALOGUE}


def fault_catalogue() -> list[FaultSpec]:
    """The fault catalogue."""
    return list(CATALOGUE)


def catalogue_as_json() -> str:
    """The catalogue as a JSON array (for tools and ``computesat hwsim faults --json``)."""
    return json.dumps([f.model_dump(mode="json") for f in CATALOGUE], indent=2)


def catalogue_as_table() -> str:
    """The catalogue as a plain-text table (``computesat hwsim faults``)."""
    rows = []
    for f in CATALOGUE:
        params = ", ".join(
            f"{k}={v.default}{(' ' + v.unit) if v.unit and v.unit != 'bool' else ''}"
            for k, v in f.params.items()
        )
        rows.append((f.id, f.target_form, params or "-", f.fdir_response))
    heads = ("FAULT", "TARGET", "PARAMS (defaults)", "EXPECTED FDIR RESPONSE")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(heads[:3])]
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(heads[:3], widths, strict=True)) + "  " + heads[3]
    ]
    for r in rows:
        lines.append(
            "  ".join(c.ljust(w) for c, w in zip(r[:3], widths, strict=True)) + "  " + r[3]
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------------- application


def _target_index(sc: FaultHost, kind: str, target: str) -> int:
    """Index of ``target`` in its subsystem, or raise FaultError listing the options."""
    table = sc.fault_targets(kind)
    if target not in table:
        options = list(table)
        shown = ", ".join(options[:6]) + (
            f", ... ({len(options)} in all)" if len(options) > 6 else ""
        )
        raise FaultError(
            f"fault target {target!r} is not a {kind} (form {TARGET_FORMS[kind]}); valid: {shown}"
        )
    return table[target]


def resolve_fault(
    sc: FaultHost,
    fault_id: str,
    target: str,
    params: dict[str, Any] | None,
    at_time_s: float | None,
) -> ActiveFault:
    """Validate a fault request against the catalogue and the spacecraft."""
    spec = _BY_ID.get(fault_id)
    if spec is None:
        raise FaultError(f"unknown fault {fault_id!r}; valid: {', '.join(sorted(_BY_ID))}")
    _target_index(sc, spec.target_kind, target)
    given = dict(params or {})
    unknown = set(given) - set(spec.params)
    if unknown:
        raise FaultError(
            f"fault {fault_id}: unknown parameter(s) {sorted(unknown)}; "
            f"valid: {sorted(spec.params) or 'none'}"
        )
    merged: dict[str, Any] = {k: v.default for k, v in spec.params.items()}
    for k, v in given.items():
        d = spec.params[k].default
        choices = spec.params[k].choices
        if choices is not None:
            if v not in choices:
                raise FaultError(
                    f"fault {fault_id}: parameter {k} must be one of {list(choices)} (got {v!r})"
                )
            merged[k] = v
            continue
        ok = (
            isinstance(v, bool)
            if isinstance(d, bool)
            else (v is None or (isinstance(v, int | float) and not isinstance(v, bool)))
        )
        if not ok:
            raise FaultError(f"fault {fault_id}: parameter {k} has the wrong type ({v!r})")
        merged[k] = v
    if fault_id == "board_upset":
        i = _target_index(sc, "slot", target)
        simple_slot_kinds = ("latch_up", "memory_ce", "memory_ue")
        if not sc.has_plugin_board(i) and merged["kind"] not in simple_slot_kinds:
            raise FaultError(
                f"fault board_upset: kind {merged['kind']} needs a plug-in board; {target} is a "
                "simple slot (latch_up, memory_ce, memory_ue only)"
            )
    for k, v in merged.items():
        if isinstance(v, int | float) and not isinstance(v, bool) and v < 0:
            raise FaultError(f"fault {fault_id}: parameter {k} must be >= 0 (got {v})")
    if at_time_s is not None and at_time_s < 0:
        raise FaultError(f"fault {fault_id}: at_time_s must be >= 0")
    return ActiveFault(fault_id=fault_id, target=target, params=merged, at_time_s=at_time_s)


def activate_fault(sc: FaultHost, fault: ActiveFault, time_s: float) -> None:
    """Apply a resolved fault: the spacecraft hands it to the subsystem owning its target."""
    spec = _BY_ID[fault.fault_id]
    i = _target_index(sc, spec.target_kind, fault.target)
    sc.dispatch_fault(spec.target_kind, fault.fault_id, i, fault.params, time_s)
    fault.active = True
    fault.activated_at_s = time_s


def deactivate_fault(sc: FaultHost, fault: ActiveFault) -> None:
    """Undo what is reversible (see each spec's ``clears``), in the owning subsystem."""
    spec = _BY_ID[fault.fault_id]
    i = _target_index(sc, spec.target_kind, fault.target)
    sc.dispatch_fault_clear(spec.target_kind, fault.fault_id, i, fault.params)
    fault.active = False
