"""What-if runs: faults scheduled, the spacecraft flown, CSV, Parquet, a summary and a plot.

``computesat whatif [--scenario FILE.toml] [--fault "pump_seizure pump.L1.A at 2h" ...]
[--beta DEG] [--altitude KM] [--board-mix "ref-gpu:140,ref-cpu:10"] --duration 1d --out DIR``
(also ``computesat hwsim run`` and ``computesat hwsim whatif``) is :func:`add_arguments` +
``computesat.whatif.main``. The spacecraft is flown by the real flight software: hwsim and every
flight-software service in one process on the stepped clock (``computesat.whatif`` supplies the
:data:`Flyer`; hwsim never imports flight software). Only the stepped clock (``--speed max``)
is supported: the run goes as fast as the CPU allows and is deterministic for a seed.

This module holds what needs only the hardware model: the inputs' checks, the recorder (it
samples the model after physics steps, through the physics loop's hook), the margins, the
tables and the plot.

Everything is checked before the first step (overrides by the configuration models, faults
against the catalogue and the spacecraft, times against the duration); a bad input is one
error and no output file. The model is used only through its public API: columns come from
``Spacecraft.truth()`` and from every device's typed registers (``read_model``), flattened to
``<device_id>.<field>`` (numbers and flags), so registers added later appear without edits here.
"""

from __future__ import annotations

import argparse
import contextlib
import enum
import itertools
import json
import math
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from hwsim.config import ConfigError, SpacecraftConfig, default_config, load_config
from hwsim.model.orbit import orbital_period_s
from hwsim.scenario import (
    FaultEvent,
    Overrides,
    Scenario,
    ScenarioError,
    apply_overrides,
    check_faults,
    load_scenario,
    parse_board_mix,
    parse_duration,
    parse_fault,
    parse_time,
)
from hwsim.spacecraft import Spacecraft
from icd.devices import DeviceRegisters

__all__ = [
    "Flown",
    "Flyer",
    "WhatIfError",
    "WhatIfResult",
    "add_arguments",
    "main",
    "parse_duration",
    "run_whatif",
]

DEFAULT_SAMPLE_S = 30.0
# After each fault starts or clears, every step is recorded for this long: the transient
# (a pump seizing and its standby spinning up takes seconds) would fall between 30 s samples.
DENSE_AFTER_EVENT_S = 120.0


class WhatIfError(ValueError):
    """A what-if input is invalid (the message names it and the valid choices)."""


class WhatIfResult(BaseModel):
    csv_path: Path = Field(description="Decimated time series")
    parquet_path: Path = Field(description="The same columns and dtypes as Parquet")
    summary_path: Path = Field(description="summary.json: worst margin per subsystem, faults")
    png_path: Path = Field(description="Plot of the run")
    title: str = Field(description="Plot title: configuration, scenario, overrides")
    duration_s: float = Field(description="Simulated mission time")
    step_s: float = Field(description="Physics step")
    steps: int = Field(description="Physics steps taken")
    rows: int = Field(description="Rows written")
    columns: int = Field(description="Columns written")
    warmup_s: float = Field(description="Start of the run left out of the summary")
    summary: dict[str, float] = Field(description="Key figures of the run")
    margins: dict[str, Any] = Field(description="Worst margin per subsystem (summary.json)")


# ------------------------------------------------------------------------------------ columns


def _flatten(prefix: str, model: BaseModel) -> Iterator[tuple[str, float | int | bool]]:
    """``(<prefix>.<field>, value)`` for every number and flag of a register model, nested
    models and maps of models (PDU switches) as ``<prefix>.<field>.<key>.<field>``."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        key = f"{prefix}.{name}"
        if isinstance(value, BaseModel):
            yield from _flatten(key, value)
        elif isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, BaseModel):
                    yield from _flatten(f"{key}.{k}", v)
        elif isinstance(value, bool | int | float) and not isinstance(value, enum.Enum):
            yield key, value
    # members sent as register columns (PDU switches, backplane slots), as the maps they were
    groups = model.groups() if isinstance(model, DeviceRegisters) else {}
    for group, members in groups.items():
        for k, v in members.items():
            yield from _flatten(f"{prefix}.{group}.{k}", v)


def _truth_row(sc: Spacecraft, config: SpacecraftConfig) -> dict[str, float | int | bool]:
    """The whole-spacecraft figures of ``truth()`` (what the CSV always had) and per-element
    true temperatures, flows and inventories."""
    tr = sc.truth()
    rad = tr["radiator_temp_k"]
    row: dict[str, float | int | bool] = {
        "time_s": round(tr["time_s"], 6),
        "eclipse": int(tr["eclipse"]),
        "in_saa": int(tr["in_saa"]),
        "illumination": tr["illumination"],
        "array_power_w": tr["array_power_w"],
        "array_available_w": tr["array_available_w"],
        "load_power_w": tr["load_power_w"],
        "demand_power_w": tr["demand_power_w"],
        "compute_power_w": tr["compute_power_w"],
        "pump_power_w": tr["pump_power_w"],
        "battery_soc": tr["battery_soc"],
        "battery_power_w": tr["battery_power_w"],
        "battery_temp_k": tr["battery_temp_k"],
        "radiator_temp_mean_k": sum(rad) / len(rad),
        "radiator_temp_max_k": max(rad),
        "die_temp_max_k": max(tr["board_die_temp_k"]),
        "cold_plate_temp_max_k": max(tr["cold_plate_temp_k"]),
        "shed_loads": len(tr["shed_loads"]),
        "seu_total": tr["seu_total"],
        "uncorrectable_total": tr["uncorrectable_total"],
    }
    for li in range(len(config.loops)):
        row[f"loop{li + 1}_supply_temp_k"] = tr["loop_supply_temp_k"][li]
        row[f"loop{li + 1}_return_temp_k"] = tr["loop_return_temp_k"][li]
        row[f"loop{li + 1}_flow_kg_s"] = tr["loop_flow_kg_s"][li]
        row[f"loop{li + 1}_inventory_kg"] = tr["loop_inventory_kg"][li]
    for p, t in zip(config.radiators.panels, rad, strict=True):
        row[f"radiator_{p.panel_id}_temp_k"] = t
    for w, t in zip(config.wings, tr["wing_temp_k"], strict=True):
        row[f"wing_{w.wing_id}_temp_k"] = t
    return row


class _Recorder:
    """Collects samples into one float64 block per 512 rows; the column set and each
    column's type (bool, int, float) come from the first sample."""

    def __init__(self, config: SpacecraftConfig, patterns: list[str] | None) -> None:
        self.config = config
        self.patterns = patterns
        self.devices: list[str] = []
        self.slot_numbers = np.zeros(0, dtype=np.int64)
        self.die_limits_k = np.zeros(0)
        self.names: list[str] = []
        self.kinds: list[type] = []
        self.blocks: list[np.ndarray] = []
        self.n = 0

    def _values(self, sc: Spacecraft) -> list[tuple[str, float | int | bool]]:
        items = list(_truth_row(sc, self.config).items())
        items.extend(self._die_margin(sc))
        for dev in self.devices:
            items.extend(_flatten(dev, sc.read_model(dev)))
        return items

    def _die_margin(self, sc: Spacecraft) -> list[tuple[str, float | int | bool]]:
        """The smallest margin of any die to its own board's limit, the slot number and that
        limit (with or without slot columns: the hottest die and the lowest limit are
        seldom on the same board)."""
        margin = self.die_limits_k - np.asarray(sc.truth()["board_die_temp_k"])
        j = int(np.nanargmin(margin)) if np.isfinite(margin).any() else 0
        return [
            ("die_margin_min_k", float(margin[j])),
            ("die_margin_min_slot", int(self.slot_numbers[j])),
            ("die_margin_min_limit_k", float(self.die_limits_k[j])),
        ]

    def _choose(self, sc: Spacecraft) -> None:
        """The devices to record: every device but the compute slots and ``backplane`` (150
        slots of ~25 registers made a day of the default AI1 ~100 MB of CSV; the compute
        columns of `truth` sum them up), or those the glob patterns match (``'*'``: all);
        WhatIfError for a pattern that matches none (first sample, so before the first
        step)."""
        all_ids = [d for d in sc.device_ids() if d != "backplane"]
        # each board's own die limit, from its slot's device (its thermal model); nan for an
        # empty slot, which has no die
        slots = self.config.compute.expanded_slots()
        self.slot_numbers = np.array([int(s.slot_id) for s in slots], dtype=np.int64)
        limits = []
        for s in slots:
            reg = sc.read(f"slot.{s.slot_id}")
            lim = float(reg.get("max_die_temp_k", 0.0)) if reg.get("present", True) else 0.0
            limits.append(lim if lim > 0.0 else math.nan)
        self.die_limits_k = np.array(limits)
        if not self.patterns:
            self.devices = [d for d in all_ids if not d.startswith("slot.")]
            return
        for pat in self.patterns:
            if not any(fnmatchcase(d, pat) for d in all_ids):
                shown = ", ".join(all_ids[:8]) + f", ... ({len(all_ids)} in all)"
                raise WhatIfError(f"--devices: {pat!r} matches no device; devices: {shown}")
        self.devices = [d for d in all_ids if any(fnmatchcase(d, p) for p in self.patterns)]

    def __call__(self, sc: Spacecraft) -> None:
        if not self.names:
            self._choose(sc)
        items = self._values(sc)
        if not self.names:
            self.names = [k for k, _ in items]
            self.kinds = [bool if isinstance(v, bool) else type(v) for _, v in items]
        elif len(items) != len(self.names):
            raise RuntimeError("the device registers changed shape during the run")
        if self.n % 512 == 0:
            self.blocks.append(np.empty((512, len(self.names))))
        self.blocks[-1][self.n % 512] = [float(v) for _, v in items]
        self.n += 1

    def column(self, name: str) -> np.ndarray:
        j = self.names.index(name)
        return np.concatenate(self.blocks)[: self.n, j]

    def columns(self) -> dict[str, np.ndarray]:
        data = np.concatenate(self.blocks)[: self.n]
        out: dict[str, np.ndarray] = {}
        for j, (name, kind) in enumerate(zip(self.names, self.kinds, strict=True)):
            col = data[:, j]
            out[name] = (
                col.astype(bool) if kind is bool else col.astype(np.int64) if kind is int else col
            )
        return out


# --------------------------------------------------------------------------------- the run


@dataclass
class Flown:
    """What a :data:`Flyer` hands back: the model at the end, the physics steps taken, the
    faults that ran (parameters with defaults, activation and clear times), figures added to
    the summary and a report added to summary.json (``flight_software``); ``document_hook``
    may add to summary.json's document (margins, summary and report all in it) before it is
    written."""

    spacecraft: Spacecraft
    steps: int
    faults: list[dict[str, Any]]
    summary: dict[str, float] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    cols_hook: Callable[[dict[str, np.ndarray]], dict[str, Any]] | None = None
    document_hook: Callable[[dict[str, Any]], None] | None = None


# (config, seed, faults, duration_s, step_s, record, record_due, progress) -> Flown.
# It builds and flies the spacecraft, scheduling the faults (a refused one: WhatIfError
# before the first step), calls ``record(model)`` before the first step and after every step
# at which ``record_due(model_time_s)`` holds (and after the last).
Flyer = Callable[
    [
        SpacecraftConfig,
        int,
        list[FaultEvent],
        float,
        float,
        Callable[[Spacecraft], None],
        Callable[[float], bool],
        bool,
    ],
    Flown,
]


def _sampler(sample_s: float, step_s: float, events_s: list[float]) -> Callable[[float], bool]:
    """Due every ``sample_s``, and at every step within DENSE_AFTER_EVENT_S after an event."""
    every = max(1, round(sample_s / step_s))
    windows = sorted(events_s)

    def due(t: float) -> bool:
        k = round(t / step_s)
        if k % every == 0:
            return True
        return any(a < t <= a + DENSE_AFTER_EVENT_S + 1e-9 for a in windows)

    return due


def default_warmup_s(config: SpacecraftConfig, duration_s: float) -> float:
    """0 when the model starts thermally settled (``thermal.settle_at_start``, the default:
    the run's first orbit is already on the periodic orbit); without it one orbit (the
    thermal transient of the configured start), or 0 when the run is shorter than two
    orbits."""
    if config.thermal.settle_at_start:
        return 0.0
    period = orbital_period_s(config.orbit.altitude_km)
    return period if duration_s >= 2.0 * period else 0.0


def run_whatif(
    config: SpacecraftConfig,
    duration_s: float,
    step_s: float,
    out_dir: Path,
    seed: int = 0,
    progress: bool = True,
    faults: list[FaultEvent] | None = None,
    warmup_s: float | None = None,
    sample_s: float = DEFAULT_SAMPLE_S,
    scenario_name: str | None = None,
    devices: list[str] | None = None,
    overrides: Overrides | None = None,
    fly: Flyer | None = None,
) -> WhatIfResult:
    """Fly the spacecraft with ``fly`` (``computesat.whatif.fly``: the flight software) with
    ``faults`` scheduled and write
    ``whatif.csv``, ``whatif.parquet``, ``summary.json`` and ``whatif.png`` into ``out_dir``.

    ``config`` already has the overrides applied (``overrides`` only labels the outputs).
    ``devices``: glob patterns of device ids to record (default all but the compute slots,
    ``'*'`` every one; ``backplane`` is never
    recorded: it repeats the slots). WhatIfError, before anything runs or is written, on bad
    input.
    """
    faults = list(faults or [])
    if not duration_s > 0.0:
        raise WhatIfError("duration must be > 0")
    if not 0.0 < step_s <= duration_s:
        raise WhatIfError("step must be > 0 and not longer than the duration")
    if not 0.0 < sample_s <= duration_s:
        raise WhatIfError("sample interval must be > 0 and not longer than the duration")
    if warmup_s is None:
        warmup_s = default_warmup_s(config, duration_s)
    if not 0.0 <= warmup_s < duration_s:
        raise WhatIfError(
            f"warm-up {warmup_s:g} s must be >= 0 and shorter than the run ({duration_s:g} s)"
        )
    try:
        check_faults(faults, duration_s, config)
    except ScenarioError as err:
        raise WhatIfError(str(err)) from None
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise WhatIfError(f"--out {out_dir} exists and is not a directory")
    _probe_out_dir(out_dir)
    if fly is None:
        raise WhatIfError(
            "what-if runs are flown by the flight software: run them with 'computesat whatif' "
            "(computesat.whatif.run_whatif)"
        )
    events = [ev.at_s for ev in faults] + [ev.clear_s for ev in faults if ev.clear_s is not None]
    rec = _Recorder(config, devices)
    flown = fly(
        config,
        seed,
        faults,
        duration_s,
        step_s,
        rec,
        _sampler(sample_s, step_s, events),
        progress,
    )
    sc, n_steps, ran = flown.spacecraft, flown.steps, flown.faults
    cols = rec.columns()
    margins = _margins(cols, config, warmup_s, ran)
    margins["limits"] = _limits(margins, config)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, parquet_path = _write_tables(cols, out_dir)
    e = sc.truth()["energy_j"]
    t = cols["time_s"]
    keep = t >= warmup_s
    summary = {
        "min_battery_soc": float(cols["battery_soc"][keep].min()),
        "final_battery_soc": float(cols["battery_soc"][-1]),
        "max_radiator_temp_k": float(cols["radiator_temp_max_k"][keep].max()),
        "min_radiator_temp_k": float(cols["radiator_temp_mean_k"][keep].min()),
        "max_die_temp_k": float(cols["die_temp_max_k"][keep].max()),
        "eclipse_fraction": float(cols["eclipse"][keep].mean()),
        "array_energy_kwh": e["array_j"] / 3.6e6,
        "load_energy_kwh": e["load_j"] / 3.6e6,
        "compute_energy_kwh": e["compute_heat_j"] / 3.6e6,
        "uncorrectable_errors": float(cols["uncorrectable_total"][-1]),
        **flown.summary,
    }
    report = dict(flown.report)
    if flown.cols_hook is not None:
        extra = flown.cols_hook(cols)
        summary.update(extra.pop("summary", {}))
        report.update(extra)
    summary_path = out_dir / "summary.json"
    doc = {
        "configuration": config.name,
        "scenario": scenario_name,
        "overrides": (overrides or Overrides()).model_dump(exclude_none=True),
        "seed": seed,
        "duration_s": duration_s,
        "step_s": step_s,
        "warmup_s": warmup_s,
        "warmup_note": "figures and margins leave out samples before warmup_s (the thermal "
        "state starts settled unless thermal.settle_at_start is off; the battery starts at "
        "its configured state of charge)",
        "summary": summary,
        "margins": margins,
        "faults": ran,
        "flight_software": report,
    }
    if flown.document_hook is not None:
        flown.document_hook(doc)
    summary_path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    png_path = out_dir / "whatif.png"
    title = config.name + (f" / scenario {scenario_name}" if scenario_name else "")
    if overrides is not None and overrides.describe():
        title += f" [{overrides.describe()}]"
    _plot(cols, config, ran, png_path, title)
    return WhatIfResult(
        csv_path=csv_path,
        parquet_path=parquet_path,
        summary_path=summary_path,
        png_path=png_path,
        title=title,
        duration_s=duration_s,
        step_s=step_s,
        steps=n_steps,
        rows=rec.n,
        columns=len(cols),
        warmup_s=warmup_s,
        summary=summary,
        margins=margins,
    )


def _probe_out_dir(out_dir: Path) -> None:
    """WhatIfError unless ``out_dir`` can be created and written, before the first step (not
    after a day's run); what the probe creates it removes (a refused run writes nothing)."""
    created = [d for d in (out_dir, *out_dir.parents) if not d.exists()]
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / ".whatif-write-probe"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise WhatIfError(f"--out {out_dir} is not writable: {err.strerror or err}") from None
    finally:
        for d in created:  # innermost first
            with contextlib.suppress(OSError):
                d.rmdir()


def _write_tables(cols: dict[str, np.ndarray], out_dir: Path) -> tuple[Path, Path]:
    """``whatif.csv`` and ``whatif.parquet`` from one Arrow table: same columns, same dtypes."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    table = pa.table(cols)
    csv_path = out_dir / "whatif.csv"
    pacsv.write_csv(table, csv_path)
    parquet_path = out_dir / "whatif.parquet"
    pq.write_table(table, parquet_path)
    return csv_path, parquet_path


# ------------------------------------------------------------------------------------ margins


def _at(cols: dict[str, np.ndarray], keep: np.ndarray, values: np.ndarray, worst: str) -> tuple:
    """(worst value, its mission time) over the kept samples; ``worst`` is 'min' or 'max'."""
    v = np.where(keep, values, np.inf if worst == "min" else -np.inf)
    j = int(np.argmin(v) if worst == "min" else np.argmax(v))
    return float(values[j]), float(cols["time_s"][j])


def _cols(cols: dict[str, np.ndarray], prefix: str, suffix: str) -> dict[str, np.ndarray]:
    return {k: v for k, v in cols.items() if k.startswith(prefix) and k.endswith(suffix)}


def _margins(
    cols: dict[str, np.ndarray],
    config: SpacecraftConfig,
    warmup_s: float,
    faults: list[dict[str, Any]],
) -> dict[str, Any]:
    """Worst margin per subsystem after the warm-up (see docs/hwsim.md, What-if runs)."""
    t = cols["time_s"]
    keep = t >= warmup_s
    dt = np.diff(t, prepend=t[0])  # time each sample stands for (from the one before)
    out: dict[str, Any] = {}
    # power: battery state of charge against its floor
    soc, soc_t = _at(cols, keep, cols["battery_soc"], "min")
    # battery_power_w is positive discharging (ICD)
    pmax, pmax_t = _at(cols, keep, cols["battery_power_w"], "max")
    out["power"] = {
        "min_battery_soc": soc,
        "min_soc_limit": config.battery.min_soc,
        "margin": soc - config.battery.min_soc,
        "time_s": soc_t,
        "max_discharge_w": pmax if pmax > 0 else 0.0,
        "max_discharge_time_s": pmax_t,
        "shed_load_s": float(dt[keep & (cols["shed_loads"] > 0)].sum()),
    }
    # thermal: the cooling chain against the lowest die limit it serves (a plate, coolant or
    # panel hotter than that cannot hold the die below its limit); dies against their own
    loops_of_plate = {p.plate_id: p.loop_id for p in config.cold_plates}
    slots = config.compute.expanded_slots()
    loop_limit = {lp.loop_id: math.inf for lp in config.loops}
    for s in slots:
        lid = loops_of_plate[s.cold_plate_id]
        loop_limit[lid] = min(loop_limit[lid], s.max_die_temp_k)
    thermal: dict[str, Any] = {}
    die_limits = _cols(cols, "slot.", ".max_die_temp_k")
    if die_limits:
        best: tuple[float, str, float, float, float] | None = None
        for key, lim in die_limits.items():
            sid = key[: -len(".max_die_temp_k")]
            die = cols[f"{sid}.die_temp_k"]
            margin = np.where(keep, lim - die, np.inf)
            j = int(np.argmin(margin))
            if best is None or margin[j] < best[0]:
                best = (float(margin[j]), sid, float(die[j]), float(lim[j]), float(t[j]))
        assert best is not None
        thermal["die"] = {
            "device": best[1],
            "max_temp_k": best[2],
            "limit_k": best[3],
            "margin_k": best[0],
            "time_s": best[4],
        }
        plates = _cols(cols, "slot.", ".plate_temp_k")
        best = None
        for key, plate in plates.items():
            sid = key[: -len(".plate_temp_k")]
            lim = cols[f"{sid}.max_die_temp_k"]
            margin = np.where(keep, lim - plate, np.inf)
            j = int(np.argmin(margin))
            if best is None or margin[j] < best[0]:
                best = (float(margin[j]), sid, float(plate[j]), float(lim[j]), float(t[j]))
        if best is not None:
            thermal["plate"] = {
                "device": best[1],
                "max_temp_k": best[2],
                "limit_k": best[3],
                "margin_k": best[0],
                "time_s": best[4],
            }
    else:
        # each die against its own board's limit, recorded per sample (the recorder)
        m, mt = _at(cols, keep, cols["die_margin_min_k"], "min")
        j = int(np.argmin(np.where(keep, cols["die_margin_min_k"], np.inf)))
        lim = float(cols["die_margin_min_limit_k"][j])
        thermal["die"] = {
            "device": f"slot.{int(cols['die_margin_min_slot'][j]):03d}",
            "max_temp_k": lim - m,
            "limit_k": lim,
            "margin_k": m,
            "time_s": mt,
        }
    worst_cool: dict[str, Any] | None = None
    for li, lp in enumerate(config.loops):
        lim = loop_limit[lp.loop_id]
        v, vt = _at(cols, keep, cols[f"loop{li + 1}_return_temp_k"], "max")
        if worst_cool is None or lim - v < worst_cool["margin_k"]:
            worst_cool = {
                "loop": lp.loop_id,
                "max_return_temp_k": v,
                "limit_k": lim,
                "margin_k": lim - v,
                "time_s": vt,
            }
    thermal["coolant"] = worst_cool
    worst_rad: dict[str, Any] | None = None
    for p in config.radiators.panels:
        lim = loop_limit[p.loop_id]
        v, vt = _at(cols, keep, cols[f"radiator_{p.panel_id}_temp_k"], "max")
        if worst_rad is None or lim - v < worst_rad["margin_k"]:
            worst_rad = {
                "panel": p.panel_id,
                "max_temp_k": v,
                "limit_k": lim,
                "margin_k": lim - v,
                "time_s": vt,
            }
    thermal["radiator"] = worst_rad
    out["thermal"] = thermal
    # loops: flow and inventory (pumps cavitate below min_inventory_fraction)
    entries: list[tuple[float, dict[str, Any]]] = []
    for li, lp in enumerate(config.loops):
        flow, flow_t = _at(cols, keep, cols[f"loop{li + 1}_flow_kg_s"], "min")
        inv, inv_t = _at(cols, keep, cols[f"loop{li + 1}_inventory_kg"], "min")
        floor = lp.min_inventory_fraction * lp.inventory_kg
        entry = {
            "loop": lp.loop_id,
            "min_flow_kg_s": flow,
            "design_flow_kg_s": lp.design_flow_kg_s,
            "min_flow_time_s": flow_t,
            "min_inventory_kg": inv,
            "cavitation_inventory_kg": floor,
            "inventory_margin_kg": inv - floor,
            "min_inventory_time_s": inv_t,
        }
        # worst loop: least inventory above cavitation and flow, each relative to its scale
        entries.append(((inv - floor) / lp.inventory_kg + flow / lp.design_flow_kg_s, entry))
    out["loops"] = min(entries, key=lambda e: e[0])[1]
    out["loops_all"] = [e for _, e in entries]
    # wings: array power available over what the spacecraft asks for, in sunlight
    sun = keep & (cols["eclipse"] == 0)
    if sun.any():
        v, vt = _at(cols, sun, cols["array_available_w"] - cols["demand_power_w"], "min")
        out["wings"] = {"min_array_margin_w": v, "time_s": vt}
    else:
        out["wings"] = {"min_array_margin_w": None, "time_s": None, "note": "no sunlit sample"}
    # compute: shed slots, throttling, peak power
    shed = _cols(cols, "pdu.switches.slot_", ".shed")
    any_shed = np.zeros(len(t), dtype=bool)
    for v in shed.values():
        any_shed |= v.astype(bool)
    throttle = _cols(cols, "slot.", ".throttle_level")
    max_thr = np.zeros(len(t))
    for v in throttle.values():
        max_thr = np.maximum(max_thr, v)
    thr, thr_t = _at(cols, keep, max_thr, "max")
    peak, peak_t = _at(cols, keep, cols["compute_power_w"], "max")
    out["compute"] = {
        "shed_s": float(dt[keep & any_shed].sum()),
        "max_slots_shed": int(sum(v.astype(int) for v in shed.values())[keep].max()) if shed else 0,
        "max_throttle_level": int(thr),
        "max_throttle_time_s": thr_t if thr > 0 else None,
        "throttled_s": float(dt[keep & (max_thr > 0)].sum()),
        "peak_compute_w": peak,
        "peak_compute_time_s": peak_t,
    }
    out["faults"] = faults
    return out


def _limits(margins: dict[str, Any], config: SpacecraftConfig) -> dict[str, Any]:
    """Each limit's worst value against the limit, and whether it held (``all_within``): the
    dies (each against its own board's limit), the coolant and the radiators (against the
    lowest die limit of their loop), the battery's state of charge (its floor) and discharge
    power (its maximum), the loops' inventory (the cavitation floor)."""
    th = margins["thermal"]
    out: dict[str, Any] = {
        "die": {"worst_k": th["die"]["max_temp_k"], "limit_k": th["die"]["limit_k"]},
        "coolant": {
            "worst_k": th["coolant"]["max_return_temp_k"],
            "limit_k": th["coolant"]["limit_k"],
        },
        "radiator": {"worst_k": th["radiator"]["max_temp_k"], "limit_k": th["radiator"]["limit_k"]},
        "battery_soc": {
            "worst": margins["power"]["min_battery_soc"],
            "limit": margins["power"]["min_soc_limit"],
        },
        "battery_discharge": {
            "worst_w": margins["power"]["max_discharge_w"],
            "limit_w": config.battery.max_discharge_power_w,
        },
        "loop_inventory": {
            "worst_kg": margins["loops"]["min_inventory_kg"],
            "limit_kg": margins["loops"]["cavitation_inventory_kg"],
        },
    }
    for name, entry in out.items():
        worst, limit = list(entry.values())
        low = name in ("battery_soc", "loop_inventory")
        entry["within"] = bool(worst >= limit if low else worst <= limit)
    out["all_within"] = all(e["within"] for e in out.values() if isinstance(e, dict))
    return out


# --------------------------------------------------------------------------------------- plots


def _styles() -> Iterator[dict[str, Any]]:
    """Colour and line style together, so curves stay apart in grey and where they overlap."""
    colours = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]
    dashes = ["-", "--", ":", "-."]
    for k in itertools.count():
        yield {"color": colours[k % len(colours)], "linestyle": dashes[k % len(dashes)]}


def _plot(
    cols: dict[str, np.ndarray],
    config: SpacecraftConfig,
    faults: list[dict[str, Any]],
    path: Path,
    title: str,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t_h = cols["time_s"] / 3600.0
    fig, axes = plt.subplots(6, 1, sharex=True, figsize=(13, 19))
    (ax_orb, ax_pow, ax_bat, ax_loop, ax_rad, ax_cmp) = axes

    used: dict[str, dict[str, Any]] = {}

    def lines(ax: Any, series: list[tuple[str, np.ndarray]], width: float = 1.2) -> None:
        for (label, y), st in zip(series, _styles(), strict=False):
            ax.plot(t_h, y, label=label, linewidth=width, **st)
            used[label] = st

    lines(
        ax_orb,
        [
            ("illumination", cols["illumination"]),
            ("in SAA", cols["in_saa"].astype(float)),
        ],
    )
    ax_orb.set_ylabel("orbit")
    ax_orb.set_ylim(-0.05, 1.15)
    ax_orb.set_title("orbit and eclipse", loc="left", fontsize=9)
    lines(
        ax_pow,
        [
            ("array used", cols["array_power_w"] / 1e3),
            ("array available", cols["array_available_w"] / 1e3),
            ("loads", cols["load_power_w"] / 1e3),
            ("compute", cols["compute_power_w"] / 1e3),
            ("pumps", cols["pump_power_w"] / 1e3),
        ],
    )
    ax_pow.set_ylabel("power [kW]")
    ax_pow.set_title("power", loc="left", fontsize=9)
    lines(ax_bat, [("state of charge", cols["battery_soc"])])
    ax_bat.axhline(config.battery.min_soc, color="k", linestyle=(0, (1, 3)), label="min SoC")
    ax_bat.set_ylim(0, 1.05)
    ax_bat.set_ylabel("battery SoC")
    ax_bat2 = ax_bat.twinx()
    ax_bat2.plot(
        t_h,
        cols["battery_power_w"] / 1e3,
        color="tab:gray",
        linestyle="--",
        linewidth=0.8,
        label="battery power (right)",
    )
    ax_bat2.set_ylabel("battery power [kW] (+ discharge)")
    ax_bat.set_title("battery", loc="left", fontsize=9)
    loop_series: list[tuple[str, np.ndarray]] = []
    inv_series: list[tuple[str, np.ndarray]] = []
    for li, lp in enumerate(config.loops):
        loop_series.append((f"{lp.loop_id} flow", cols[f"loop{li + 1}_flow_kg_s"]))
        inv_series.append(
            (
                f"{lp.loop_id} inventory (right)",
                cols[f"loop{li + 1}_inventory_kg"] / lp.inventory_kg,
            )
        )
        for p in lp.pumps:
            key = f"pump.{lp.loop_id}.{p.pump_id}.flow_kg_s"
            if key in cols:
                loop_series.append((f"pump {lp.loop_id}.{p.pump_id} flow", cols[key]))
    lines(ax_loop, loop_series)
    ax_loop.set_ylabel("flow [kg/s]")
    ax_loop2 = ax_loop.twinx()
    for (label, y), lp in zip(inv_series, config.loops, strict=True):
        ax_loop2.plot(  # the colour of the loop's flow, a dash-dot-dot style of its own
            t_h,
            y,
            label=label,
            linewidth=2.0,
            alpha=0.5,
            color=used[f"{lp.loop_id} flow"]["color"],
            linestyle=(0, (6, 2, 1, 2)),
        )
    ax_loop2.set_ylabel("inventory fraction")
    ax_loop2.set_ylim(0, 1.1)
    ax_loop.set_title("coolant loops", loc="left", fontsize=9)
    # radiators: the true panel temperatures; sensor readings of panels with a sensor fault
    # (all of that panel's sensors, so the odd one out shows) or, without one, of the first panel
    rad_series = [
        (f"{p.panel_id} (truth)", cols[f"radiator_{p.panel_id}_temp_k"])
        for p in config.radiators.panels
    ]
    faulty_panels = [
        f["target"].split(".")[1] for f in faults if f["target"].startswith("radsensor.")
    ] or [config.radiators.panels[0].panel_id]
    for pid in dict.fromkeys(faulty_panels):
        for key in _cols(cols, f"radsensor.{pid}.", ".temp_k"):
            rad_series.append((f"{key.removesuffix('.temp_k')} reading", cols[key]))
    lines(ax_rad, rad_series, width=1.0)
    ax_rad.set_ylabel("temperature [K]")
    ax_rad.set_title("radiators and sensors", loc="left", fontsize=9)
    cmp_series = [
        ("die max", cols["die_temp_max_k"]),
        ("cold plate max", cols["cold_plate_temp_max_k"]),
    ]
    for li, lp in enumerate(config.loops):
        cmp_series.append((f"{lp.loop_id} return", cols[f"loop{li + 1}_return_temp_k"]))
    lines(ax_cmp, cmp_series)
    ax_cmp.set_ylabel("temperature [K]")
    ax_cmp2 = ax_cmp.twinx()
    shed = _cols(cols, "pdu.switches.slot_", ".shed")
    if shed:
        n_shed = sum(v.astype(float) for v in shed.values())
        ax_cmp2.plot(t_h, n_shed, color="k", linestyle=":", label="slots shed (right)")
    ax_cmp2.plot(
        t_h,
        cols["compute_power_w"] / 1e3,
        color="tab:gray",
        linestyle="-.",
        linewidth=0.8,
        label="compute kW (right)",
    )
    ax_cmp2.set_ylabel("kW / slots")
    ax_cmp.set_title("compute", loc="left", fontsize=9)
    ax_cmp.set_xlabel("mission time [h]")
    # eclipse shading on every panel
    ecl = cols["eclipse"].astype(bool)
    edges = np.flatnonzero(np.diff(np.r_[0, ecl.astype(int), 0]))
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        for ax in axes:
            ax.axvspan(t_h[a], t_h[min(b, len(t_h) - 1)], color="0.9", zorder=0)
    # fault times as labelled vertical lines
    for n, f in enumerate(faults):
        for key, style, what in (("activated_at_s", "-", ""), ("cleared_at_s", "--", " cleared")):
            at = f.get(key)
            if at is None:
                continue
            for ax in axes:
                ax.axvline(at / 3600.0, color="crimson", linestyle=style, linewidth=1.0)
            ax_orb.annotate(
                f"{f['fault']} {f['target']}{what}",
                xy=(at / 3600.0, 1.0 - 0.12 * (n % 3)),  # staggered: close faults stay legible
                xycoords=("data", "axes fraction"),
                rotation=90,
                va="top",
                ha="right",
                fontsize=8,
                color="crimson",
            )
    for ax, twin in (
        (ax_orb, None),
        (ax_pow, None),
        (ax_bat, ax_bat2),
        (ax_loop, ax_loop2),
        (ax_rad, None),
        (ax_cmp, ax_cmp2),
    ):
        ax.grid(True, alpha=0.3)
        handles, labels = ax.get_legend_handles_labels()
        if twin is not None:
            h2, l2 = twin.get_legend_handles_labels()
            handles, labels = handles + h2, labels + l2
        if handles:
            ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.06, 1.0), fontsize=7)
    fig.suptitle(f"{title}: what-if (grey: eclipse; red lines: faults)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# ------------------------------------------------------------------------------------------ CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``computesat hwsim run``."""
    parser.description = (
        "A what-if run: the whole satellite (hwsim and every flight-software service) in one "
        "process on the stepped clock, flown by the real flight software, with faults "
        "scheduled and configuration overrides, and write whatif.csv, "
        "whatif.parquet (same columns and dtypes), summary.json (worst margin per subsystem "
        "and the faults that ran) and whatif.png (one panel per subsystem) into --out. "
        "Everything is checked before the first step: a bad input is one error (exit 2) and "
        "no output. Flags override the --scenario file. summary.json adds the flight "
        "software's events per fault and compute delivered against its bound (docs/hwsim.md)."
    )
    parser.add_argument("--config", type=Path, default=None, help="spacecraft TOML (default AI1)")
    parser.add_argument(
        "--scenario",
        type=Path,
        default=None,
        help="scenario TOML: name, description, config, duration, step, sample, warmup, seed, "
        "[overrides] (beta_deg, altitude_km, board_mix) and [[faults]] (fault, target, at, "
        "for | clear_at, params); see examples/scenarios/ and docs/hwsim.md",
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="'FAULT TARGET at TIME [for DUR | clear at TIME] [PARAM=VALUE ...]'",
        help="schedule a catalogue fault (repeatable; added to the scenario's), e.g. "
        "'pump_seizure pump.L1.A at 2h', 'radiator_puncture radiator.P03 at 6h "
        "leak_rate_kg_s=0.005', 'sensor_drift radsensor.P01.S1 at 1h for 30m'. Faults, "
        "targets and parameters: computesat hwsim faults",
    )
    parser.add_argument("--beta", type=float, default=None, metavar="DEG", help="sun beta angle")
    parser.add_argument(
        "--altitude", type=float, default=None, metavar="KM", help="circular orbit altitude"
    )
    parser.add_argument(
        "--board-mix",
        default=None,
        metavar="BOARD:N,...",
        help="replace the compute slots by these boards, in slot order, each kind spread over "
        "the cold plates: e.g. 'ref-gpu:140,ref-cpu:5,ref-npu:5' ('simple' or a "
        "computesat.boards plug-in)",
    )
    parser.add_argument("--duration", default=None, help="mission time to run (default 1d)")
    parser.add_argument("--step", default=None, help="physics step (default 1s)")
    parser.add_argument(
        "--sample",
        default=None,
        help="output row interval (default 30s; every step for 2 min "
        "after each fault starts or clears)",
    )
    parser.add_argument(
        "--warmup",
        default=None,
        help="start of the run left out of the summary and margins; default 0 (the run "
        "starts on its thermal periodic orbit, thermal.settle_at_start); with settling off "
        "in the configuration, one orbital period if the run lasts two orbits or more",
    )
    parser.add_argument(
        "--devices",
        default=None,
        metavar="GLOB,...",
        help="device ids whose registers become columns (default every device but the compute "
        "slots and backplane; '*' records the slots too, e.g. 'slot.00*,pump.*' a few)",
    )
    parser.add_argument(
        "--speed", default="max", help="clock speed; only 'max' (stepped, as fast as possible)"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("out/whatif"), help="output directory (default out/whatif)"
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="random seed (sensor noise, upsets; default 0)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def plan(args: argparse.Namespace) -> dict[str, Any]:
    """Everything the run needs, from the scenario file and the flags (flags win)."""
    if str(args.speed) != "max":
        raise ValueError(
            f"unsupported --speed {args.speed!r}: what-if runs use the stepped clock; "
            "only 'max' is supported"
        )
    sc = load_scenario(args.scenario) if args.scenario else Scenario()
    duration_s = parse_duration(args.duration) if args.duration else sc.duration_s or 86400.0
    step_s = parse_duration(args.step) if args.step else sc.step_s or 1.0
    if step_s > duration_s:
        raise ValueError("--step must not be longer than --duration")
    sample_s = parse_duration(args.sample) if args.sample else sc.sample_s or DEFAULT_SAMPLE_S
    warmup_s = parse_time(args.warmup) if args.warmup is not None else sc.warmup_s
    seed = args.seed if args.seed is not None else sc.seed or 0
    if seed < 0:
        raise ValueError("--seed must be >= 0")
    cli_ov = Overrides(
        beta_deg=args.beta,
        altitude_km=args.altitude,
        board_mix=parse_board_mix(args.board_mix) if args.board_mix is not None else None,
    )
    overrides = sc.overrides.merged(cli_ov)
    config_path = args.config or sc.config
    config = load_config(config_path) if config_path else default_config()
    config = apply_overrides(config, overrides)
    faults = [*sc.faults, *(parse_fault(f) for f in args.fault)]
    devices = [d.strip() for d in args.devices.split(",") if d.strip()] if args.devices else None
    return {
        "config": config,
        "duration_s": duration_s,
        "step_s": step_s,
        "sample_s": sample_s,
        "warmup_s": warmup_s,
        "seed": seed,
        "faults": faults,
        "scenario_name": sc.name,
        "devices": devices,
        "overrides": overrides,
    }


def main(
    args: argparse.Namespace,
    fly: Flyer | None = None,
    more: Callable[[argparse.Namespace, dict[str, Any]], None] | None = None,
    prog: str = "computesat whatif",
) -> int:
    """Run a what-if from parsed arguments, flown by ``fly``; 0 on success, 2 on bad input.
    ``more`` may add to the plan (faults of ``--all-faults``) and raise ValueError."""
    try:
        planned = plan(args)
        if more is not None:
            more(args, planned)
    except (ValueError, ConfigError) as err:  # ScenarioError is a ValueError
        print(f"{prog}: {err}", file=sys.stderr)
        return 2
    try:
        result = run_whatif(
            out_dir=args.out, progress=not getattr(args, "no_progress", False), fly=fly, **planned
        )
    except WhatIfError as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 2
    print(
        f"wrote {result.csv_path} and {result.parquet_path} ({result.rows} rows, "
        f"{result.columns} columns), {result.summary_path} and {result.png_path}"
    )
    for k, v in result.summary.items():
        print(f"  {k}: {v:.4g}")
    return 0
