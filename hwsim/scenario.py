"""What-if scenarios as data: a typed model of a run, its overrides and its fault schedule.

A scenario is a TOML file (``computesat hwsim run --scenario FILE.toml``) or the same thing
built from the command line (``--fault``, ``--beta``, ``--altitude``, ``--board-mix``); the
command line overrides the file. Everything here is checked before anything runs: an unknown
fault kind, parameter or override field, an out-of-range value or a fault after the end of the
run is one :class:`ScenarioError` that names it and the valid choices. Fault targets are checked
against the spacecraft itself (``Spacecraft.inject_fault``) by the runner, also before the first
step.

Example (``examples/scenarios/pump_radiator_sensor_day.toml``)::

    name = "pump-radiator-sensor-day"
    duration = "1d"
    step = "1s"
    seed = 1

    [overrides]
    beta_deg = 20.0

    [[faults]]
    fault = "pump_seizure"
    target = "pump.L1.A"
    at = "2h"

    [[faults]]
    fault = "radiator_puncture"
    target = "radiator.P03"
    at = "6h"
    params = { leak_rate_kg_s = 0.005 }
"""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from hwsim.config import SIMPLE_BOARD, ConfigError, SpacecraftConfig, parse_config
from hwsim.faults import fault_catalogue
from hwsim.model.sensors import adc_full_scale_k

__all__ = [
    "FaultEvent",
    "Overrides",
    "Scenario",
    "ScenarioError",
    "apply_overrides",
    "check_faults",
    "known_boards",
    "load_scenario",
    "parse_board_mix",
    "parse_duration",
    "parse_fault",
    "parse_time",
]


class ScenarioError(ValueError):
    """A scenario, fault or override is invalid; the message names it and the valid choices."""


# ------------------------------------------------------------------------------------ durations

_UNITS_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([smhd]?)\s*$")


def parse_time(text: str | float | int) -> float:
    """Mission seconds in ``"1d"``, ``"90m"``, ``"3600s"``, ``"2h"``, a bare number of seconds,
    or ``0`` (the start of the run)."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        value = float(text)
        if not (math.isfinite(value) and value >= 0.0):
            raise ValueError(f"bad time {text!r}: must be a finite number of seconds >= 0")
        return value
    m = _DURATION.match(str(text))
    if not m:
        raise ValueError(
            f"bad duration {text!r}: expected a positive number with an optional unit "
            "s, m, h or d (e.g. 3600s, 90m, 2h, 1d)"
        )
    value = float(m.group(1)) * _UNITS_S[m.group(2) or "s"]
    if not math.isfinite(value):
        raise ValueError(f"bad duration {text!r}: must be finite")
    return value


def parse_duration(text: str | float | int) -> float:
    """Seconds in ``"1d"``, ``"90m"``, ``"3600s"``, ``"2h"`` or a bare number of seconds (> 0)."""
    value = parse_time(text)
    if not value > 0.0:
        raise ValueError(f"bad duration {text!r}: must be > 0")
    return value


def _seconds(value: Any) -> Any:
    return None if value is None else parse_time(value)


Seconds = Annotated[float, BeforeValidator(_seconds)]


# --------------------------------------------------------------------------------------- models


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


ParamValue = bool | int | float | str | None


class FaultEvent(_Strict):
    """One scheduled fault: a catalogue fault on a target from ``at_s``, optionally cleared."""

    fault: str = Field(description="Catalogue fault id (computesat hwsim faults)")
    target: str = Field(description="Target device, e.g. pump.L1.A, radiator.P03")
    at_s: Seconds = Field(0.0, alias="at", ge=0, description="Activation (mission s or '2h')")
    for_s: Seconds | None = Field(
        None, alias="for", gt=0, description="Cleared this long after activation"
    )
    clear_at_s: Seconds | None = Field(
        None, alias="clear_at", gt=0, description="Cleared at this mission time"
    )
    params: dict[str, ParamValue] = Field(
        default_factory=dict, description="Fault parameters (catalogue defaults otherwise)"
    )
    source: str = Field("", description="Where the event was given, for error messages")

    @property
    def clear_s(self) -> float | None:
        """Mission time the fault is cleared, or None if it stays."""
        if self.for_s is not None:
            return self.at_s + self.for_s
        return self.clear_at_s

    @property
    def label(self) -> str:
        return self.source or f"fault {self.fault} {self.target}"


class Overrides(_Strict):
    """Changes to the spacecraft configuration, validated by the configuration models."""

    beta_deg: float | None = Field(None, description="Sun beta angle (orbit.beta_deg)")
    altitude_km: float | None = Field(None, description="Orbit altitude (orbit.altitude_km)")
    board_mix: dict[str, int] | None = Field(
        None,
        description="The compute slots as board name -> count, in slot order (board names: "
        "'simple' or a computesat.boards plug-in); replaces the configured slots",
    )

    def merged(self, other: Overrides) -> Overrides:
        """These overrides with the fields ``other`` sets replaced (CLI over file)."""
        return self.model_copy(update=other.model_dump(exclude_none=True))

    def describe(self) -> str:
        parts = []
        if self.beta_deg is not None:
            parts.append(f"β={self.beta_deg:g}°")
        if self.altitude_km is not None:
            parts.append(f"h={self.altitude_km:g} km")
        if self.board_mix is not None:
            parts.append(",".join(f"{k}:{v}" for k, v in self.board_mix.items()))
        return " ".join(parts)


class Scenario(_Strict):
    """A what-if run: what to run, for how long, with which changes and faults."""

    name: str | None = Field(None, description="Scenario name (plot title, summary)")
    description: str = Field("", description="What the scenario asks")
    config: Path | None = Field(
        None, description="Spacecraft TOML (relative to the scenario file); default AI1"
    )
    duration_s: Seconds | None = Field(None, alias="duration", gt=0, description="Run length")
    step_s: Seconds | None = Field(None, alias="step", gt=0, description="Physics step")
    sample_s: Seconds | None = Field(None, alias="sample", gt=0, description="Output interval")
    warmup_s: Seconds | None = Field(
        None, alias="warmup", ge=0, description="Start of the run left out of the summary"
    )
    seed: int | None = Field(None, ge=0, description="Random seed")
    overrides: Overrides = Field(default_factory=Overrides, description="Configuration changes")
    faults: list[FaultEvent] = Field(default_factory=list, description="Fault schedule")


def _format_errors(err: ValidationError, source: str, model: type[BaseModel]) -> str:
    e = err.errors()[0]
    loc = [str(p) for p in e["loc"]]
    path = ".".join(loc) or "<root>"
    if e["type"] == "extra_forbidden":
        owner: Any = model
        for key in loc[:-1]:
            if key.isdigit():
                continue
            field = owner.model_fields.get(key) if isinstance(owner, type) else None
            ann = getattr(field, "annotation", None)
            args = (ann, *getattr(ann, "__args__", ()))
            owner = next(
                (a for a in args if isinstance(a, type) and issubclass(a, BaseModel)), None
            )
        valid = sorted(
            (f.alias or n)
            for n, f in (owner.model_fields.items() if owner else ())
            if n != "source"
        )
        return f"{source}: unknown field {path!r}; valid: {', '.join(valid)}"
    msg = str(e["msg"]).removeprefix("Value error, ")
    got = e.get("input")
    extra = "" if isinstance(got, dict | list) or got is None else f" (got {got!r})"
    return f"{source}: {path}: {msg}{extra}"


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate a scenario TOML file; a relative ``config`` is made relative to it."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except OSError as err:
        raise ScenarioError(f"cannot read scenario {p}: {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"invalid TOML in scenario {p}: {err}") from None
    for k, f in enumerate(data.get("faults", []) if isinstance(data.get("faults"), list) else []):
        if isinstance(f, dict):
            f.setdefault("source", f"scenario {p.name} faults[{k}] ({f.get('fault', '?')})")
    try:
        sc = Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(_format_errors(err, f"scenario {p}", Scenario)) from None
    updates: dict[str, Any] = {}
    if sc.name is None:
        updates["name"] = p.stem
    if sc.config is not None and not sc.config.is_absolute():
        # resolved, so that an error about it names the file that was looked for
        updates["config"] = (p.parent / sc.config).resolve()
    return sc.model_copy(update=updates) if updates else sc


# --------------------------------------------------------------------------- command-line forms

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def _param_value(text: str) -> ParamValue:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    if re.fullmatch(r"[+-]?\d+", text):
        return int(text)
    if _NUMBER.match(text):
        return float(text)
    return text


def parse_fault(text: str) -> FaultEvent:
    """``"pump_seizure pump.L1.A at 2h"``, optionally ``for 30m`` or ``clear at 8h`` and
    ``key=value`` parameters (``"radiator_puncture radiator.P03 at 6h leak_rate_kg_s=0.005"``)."""
    source = f"--fault {text!r}"
    words = text.split()
    form = (
        "expected 'FAULT TARGET [at TIME] [for DURATION | clear at TIME] [PARAM=VALUE ...]', "
        "e.g. 'pump_seizure pump.L1.A at 2h'"
    )
    if len(words) < 2 or "=" in words[0] or "=" in words[1]:
        raise ScenarioError(f"{source}: {form}")
    event: dict[str, Any] = {"fault": words[0], "target": words[1], "source": source}
    params: dict[str, ParamValue] = {}
    rest = words[2:]
    k = 0
    try:
        while k < len(rest):
            w = rest[k]
            if w == "at" and k + 1 < len(rest):
                event["at"] = parse_time(rest[k + 1])
                k += 2
            elif w == "for" and k + 1 < len(rest):
                event["for"] = parse_duration(rest[k + 1])
                k += 2
            elif w == "clear" and k + 2 < len(rest) and rest[k + 1] == "at":
                event["clear_at"] = parse_duration(rest[k + 2])
                k += 3
            elif "=" in w and w.index("=") > 0:
                name, _, value = w.partition("=")
                if name in params:
                    raise ScenarioError(f"{source}: parameter {name} given twice")
                params[name] = _param_value(value)
                k += 1
            else:
                raise ScenarioError(f"{source}: unexpected {w!r}; {form}")
    except ValueError as err:
        if isinstance(err, ScenarioError):
            raise
        raise ScenarioError(f"{source}: {err}") from None
    event["params"] = params
    try:
        return FaultEvent.model_validate(event)
    except ValidationError as err:
        raise ScenarioError(_format_errors(err, source, FaultEvent)) from None


def parse_board_mix(text: str) -> dict[str, int]:
    """``"ref-gpu:140,ref-cpu:5,ref-npu:5"`` -> ``{"ref-gpu": 140, ...}`` (order kept)."""
    mix: dict[str, int] = {}
    for part in (p.strip() for p in str(text).split(",")):
        name, sep, count = part.partition(":")
        if not sep or not name.strip() or not re.fullmatch(r"\s*\d+\s*", count):
            raise ScenarioError(
                f"--board-mix {text!r}: expected BOARD:COUNT[,BOARD:COUNT...], "
                "e.g. 'ref-gpu:140,ref-cpu:5,ref-npu:5'"
            )
        name = name.strip()
        if name in mix:
            raise ScenarioError(f"--board-mix {text!r}: board {name!r} given twice")
        mix[name] = int(count)
    return mix


# ------------------------------------------------------------------------------- validation

# Ranges the catalogue does not state (it only refuses negative values): fractions are at most
# one, a count of cells is a whole number. They belong in FaultParam once faults.py grows bounds.
_EXTRA_BOUNDS: dict[tuple[str, str], tuple[float, float, bool]] = {
    ("pump_degradation", "min_head_fraction"): (0.0, 1.0, False),
    ("battery_cell_failure", "capacity_loss_fraction"): (0.0, 1.0, False),
    ("battery_cell_failure", "cells"): (1.0, 1e6, True),
}


def _stuck_range_k(config: SpacecraftConfig, target: str) -> tuple[float, float] | None:
    """What the ADC of sensor ``radsensor.Pnn.Sn`` can report, K (None: no such sensor,
    which the runner reports)."""
    parts = target.split(".")
    if len(parts) != 3:
        return None
    for panel in config.radiators.panels:
        if panel.panel_id == parts[1]:
            for s in panel.sensors:
                if s.sensor_id == parts[2]:
                    if s.quantisation_k == 0:
                        return (0.0, math.inf)
                    return (0.0, adc_full_scale_k(s.quantisation_k, s.adc_bits))
    return None


def check_faults(
    faults: list[FaultEvent], duration_s: float, config: SpacecraftConfig | None = None
) -> None:
    """Refuse unknown fault kinds and parameters, out-of-range values and times outside the
    run (with ``config``: a stuck sensor's value outside its ADC's range). Targets are checked
    against the spacecraft by the runner."""
    specs = {s.id: s for s in fault_catalogue()}
    seen: dict[tuple[str, str], FaultEvent] = {}
    for ev in faults:
        spec = specs.get(ev.fault)
        if spec is None:
            raise ScenarioError(
                f"{ev.label}: unknown fault {ev.fault!r}; valid: {', '.join(sorted(specs))}"
            )
        for name, value in ev.params.items():
            if name not in spec.params:
                raise ScenarioError(
                    f"{ev.label}: unknown parameter {name!r} for {ev.fault}; valid: "
                    f"{', '.join(sorted(spec.params)) or 'none (it takes no parameters)'}"
                )
            if isinstance(value, float) and not math.isfinite(value):
                raise ScenarioError(f"{ev.label}: parameter {name} must be finite (got {value})")
            bounds = _EXTRA_BOUNDS.get((ev.fault, name))
            if (
                bounds is not None
                and isinstance(value, int | float)
                and not isinstance(value, bool)
            ):
                lo, hi, whole = bounds
                if not lo <= value <= hi or (whole and value != int(value)):
                    kind = "a whole number" if whole else "a number"
                    raise ScenarioError(
                        f"{ev.label}: parameter {name} must be {kind} in [{lo:g}, {hi:g}] "
                        f"(got {value})"
                    )
        stuck = ev.params.get("value_k")
        if ev.fault == "sensor_stuck" and config is not None and isinstance(stuck, int | float):
            span = _stuck_range_k(config, ev.target)
            if span is not None and not span[0] <= stuck <= span[1]:
                raise ScenarioError(
                    f"{ev.label}: parameter value_k must be within the ADC's full scale "
                    f"[{span[0]:g}, {span[1]:g}] K of {ev.target} (got {stuck:g})"
                )
        if not ev.at_s < duration_s:
            raise ScenarioError(
                f"{ev.label}: at {ev.at_s:g} s is not before the end of the run "
                f"({duration_s:g} s); faults must start within the run"
            )
        clear = ev.clear_s
        if ev.for_s is not None and ev.clear_at_s is not None:
            raise ScenarioError(f"{ev.label}: give 'for' or 'clear at', not both")
        if clear is not None:
            if spec.clears.startswith("nothing"):
                raise ScenarioError(
                    f"{ev.label}: {ev.fault} cannot be cleared (clears: {spec.clears}); "
                    "drop 'for'/'clear at'"
                )
            if not ev.at_s < clear < duration_s:
                raise ScenarioError(
                    f"{ev.label}: clear at {clear:g} s must be after its start ({ev.at_s:g} s) "
                    f"and before the end of the run ({duration_s:g} s)"
                )
        key = (ev.fault, ev.target)
        if key in seen and (clear is not None or seen[key].clear_s is not None):
            raise ScenarioError(
                f"{ev.label}: {ev.fault} on {ev.target} is scheduled twice and one is cleared; "
                "a clear would not know which one it ends"
            )
        seen[key] = ev


def known_boards() -> list[str]:
    """Board names a slot may hold: 'simple' and the loaded computesat.boards plug-ins."""
    from computesat_sdk.registry import discover_boards

    return [SIMPLE_BOARD, *discover_boards().names()]


def apply_overrides(config: SpacecraftConfig, ov: Overrides) -> SpacecraftConfig:
    """A copy of ``config`` with the overrides applied, validated by the configuration models
    (ScenarioError naming the field and its allowed range)."""
    if ov.beta_deg is None and ov.altitude_km is None and ov.board_mix is None:
        return config
    data = config.model_dump(mode="python")
    if ov.beta_deg is not None:
        data["orbit"]["beta_deg"] = ov.beta_deg
    if ov.altitude_km is not None:
        data["orbit"]["altitude_km"] = ov.altitude_km
    if ov.board_mix is not None:
        data["compute"]["slots"] = _mixed_slots(config, ov.board_mix)
        data["compute"]["slot_groups"] = []
    try:
        return parse_config(data, f"{config.name} with overrides ({ov.describe()})")
    except ConfigError as err:
        # a board mix of 100 000 made one error per slot (7.6 MB): the first few, and a count
        lines = str(err).splitlines()
        head, problems = lines[:1], lines[1:]
        shown = problems[:_SHOWN_ERRORS]
        if len(problems) > _SHOWN_ERRORS:
            shown.append(f"... and {len(problems) - _SHOWN_ERRORS} more")
        raise ScenarioError(" ".join([*head, *shown])) from None


_SHOWN_ERRORS = 5


def _mixed_slots(config: SpacecraftConfig, mix: dict[str, int]) -> list[dict[str, Any]]:
    """Slots 001.. holding the boards of ``mix`` in order; each board kind is spread over the
    cold plates in turn (so every loop gets its share); a board keeps the slot parameters
    (priority, upset rates) of a configured slot with the same board, else those of slot 1."""
    valid = known_boards()
    for name, count in mix.items():
        if name not in valid:
            raise ScenarioError(
                f"board mix: unknown board type {name!r}; valid: {', '.join(valid)}"
            )
        if count < 1:
            raise ScenarioError(f"board mix: count of {name} must be >= 1 (got {count})")
    existing = sorted(config.compute.expanded_slots(), key=lambda s: int(s.slot_id))
    template = {s.board: s for s in reversed(existing)}
    first = existing[0]
    plates = [p.plate_id for p in config.cold_plates]
    slots: list[dict[str, Any]] = []
    for name, count in mix.items():
        base = template.get(name, first).model_dump(mode="python")
        for k in range(count):
            s = dict(base)
            s["board"] = name
            s["slot_id"] = f"{len(slots) + 1:03d}"
            s["cold_plate_id"] = plates[k % len(plates)]
            slots.append(s)
    return slots
