"""What-if runner: step the spacecraft under the what-if controller, write CSV and a plot.

``computesat hwsim run --config PATH --duration 1d --step 1s --speed max --out DIR --seed N``
is :func:`add_arguments` + :func:`main`. Only the stepped clock (``--speed max``) is supported:
the run goes as fast as the physics allows and is deterministic for a seed.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from tqdm import tqdm

from hwsim.config import ConfigError, SpacecraftConfig, default_config, load_config
from hwsim.model import Spacecraft
from hwsim.whatif_control import WhatIfController

__all__ = ["WhatIfResult", "add_arguments", "main", "parse_duration", "run_whatif"]

_UNITS_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([smhd]?)\s*$")


def parse_duration(text: str) -> float:
    """Seconds in ``"1d"``, ``"90m"``, ``"3600s"``, ``"2h"`` or a bare number of seconds."""
    m = _DURATION.match(str(text))
    if not m:
        raise ValueError(
            f"bad duration {text!r}: expected a positive number with an optional unit "
            "s, m, h or d (e.g. 3600s, 90m, 2h, 1d)"
        )
    value = float(m.group(1)) * _UNITS_S[m.group(2) or "s"]
    if not value > 0.0 or not math.isfinite(value):
        raise ValueError(f"bad duration {text!r}: must be > 0")
    return value


class WhatIfResult(BaseModel):
    csv_path: Path = Field(description="Decimated time series")
    png_path: Path = Field(description="Plot of the run")
    duration_s: float = Field(description="Simulated mission time")
    step_s: float = Field(description="Physics step")
    steps: int = Field(description="Physics steps taken")
    rows: int = Field(description="CSV rows written")
    summary: dict[str, float] = Field(description="Key figures of the run")


_COLUMNS = [
    "time_s",
    "eclipse",
    "in_saa",
    "array_power_w",
    "load_power_w",
    "compute_power_w",
    "pump_power_w",
    "battery_soc",
    "battery_power_w",
    "radiator_temp_mean_k",
    "radiator_temp_max_k",
    "die_temp_max_k",
    "shed_loads",
    "seu_total",
    "uncorrectable_total",
]


def _row(sc: Spacecraft, n_loops: int) -> dict[str, Any]:
    tr = sc.truth()
    rad = tr["radiator_temp_k"]
    row: dict[str, Any] = {
        "time_s": round(tr["time_s"], 6),
        "eclipse": int(tr["eclipse"]),
        "in_saa": int(tr["in_saa"]),
        "array_power_w": tr["array_power_w"],
        "load_power_w": tr["load_power_w"],
        "compute_power_w": tr["compute_power_w"],
        "pump_power_w": tr["pump_power_w"],
        "battery_soc": tr["battery_soc"],
        "battery_power_w": tr["battery_power_w"],
        "radiator_temp_mean_k": sum(rad) / len(rad),
        "radiator_temp_max_k": max(rad),
        "die_temp_max_k": max(tr["board_die_temp_k"]),
        "shed_loads": len(tr["shed_loads"]),
        "seu_total": tr["seu_total"],
        "uncorrectable_total": tr["uncorrectable_total"],
    }
    for li in range(n_loops):
        row[f"loop{li + 1}_supply_temp_k"] = tr["loop_supply_temp_k"][li]
        row[f"loop{li + 1}_return_temp_k"] = tr["loop_return_temp_k"][li]
        row[f"loop{li + 1}_flow_kg_s"] = tr["loop_flow_kg_s"][li]
    return row


def run_whatif(
    config: SpacecraftConfig,
    duration_s: float,
    step_s: float,
    out_dir: Path,
    seed: int = 0,
    progress: bool = True,
) -> WhatIfResult:
    """Run the spacecraft under :class:`~hwsim.whatif_control.WhatIfController` (which drives
    it through the device API, before every step) and write ``whatif.csv``/``.png``."""
    if not duration_s > 0.0:
        raise ValueError("duration_s must be > 0")
    if not 0.0 < step_s <= duration_s:
        raise ValueError("step_s must be > 0 and not longer than duration_s")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sc = Spacecraft(config, seed=seed)
    law = WhatIfController(sc)
    n_loops = len(config.loops)
    n_steps = math.ceil(duration_s / step_s - 1e-9)
    every = max(1, round(30.0 / step_s))
    rows = [_row(sc, n_loops)]
    bar = tqdm(
        total=n_steps,
        disable=not progress,
        file=sys.stderr,
        unit="step",
        desc=f"what-if {config.name}",
        mininterval=0.5,
    )
    chunk = 0
    try:
        for k in range(1, n_steps + 1):
            dt = min(step_s, duration_s - (k - 1) * step_s)
            law.act()
            sc.step(dt)
            chunk += 1
            if k % every == 0 or k == n_steps:
                rows.append(_row(sc, n_loops))
                if chunk >= 2000 or k == n_steps:
                    bar.update(chunk)
                    chunk = 0
    finally:
        bar.close()
    csv_path = out_dir / "whatif.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    png_path = out_dir / "whatif.png"
    _plot(rows, n_loops, png_path, config.name)
    e = sc.truth()["energy_j"]
    summary = {
        "min_battery_soc": min(r["battery_soc"] for r in rows),
        "final_battery_soc": rows[-1]["battery_soc"],
        "max_radiator_temp_k": max(r["radiator_temp_max_k"] for r in rows),
        "min_radiator_temp_k": min(r["radiator_temp_mean_k"] for r in rows),
        "max_die_temp_k": max(r["die_temp_max_k"] for r in rows),
        "eclipse_fraction": sum(r["eclipse"] for r in rows) / len(rows),
        "array_energy_kwh": e["array_j"] / 3.6e6,
        "load_energy_kwh": e["load_j"] / 3.6e6,
        "compute_energy_kwh": e["compute_heat_j"] / 3.6e6,
        "uncorrectable_errors": float(rows[-1]["uncorrectable_total"]),
    }
    return WhatIfResult(
        csv_path=csv_path,
        png_path=png_path,
        duration_s=duration_s,
        step_s=step_s,
        steps=n_steps,
        rows=len(rows),
        summary=summary,
    )


def _plot(rows: list[dict[str, Any]], n_loops: int, path: Path, name: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t_h = [r["time_s"] / 3600.0 for r in rows]
    fig, axes = plt.subplots(4, 1, sharex=True, figsize=(11, 10))
    ax = axes[0]
    ax.plot(t_h, [r["array_power_w"] / 1e3 for r in rows], label="array (used)")
    ax.plot(t_h, [r["load_power_w"] / 1e3 for r in rows], label="loads")
    ax.plot(t_h, [r["compute_power_w"] / 1e3 for r in rows], label="compute")
    ax.set_ylabel("power [kW]")
    ax = axes[1]
    ax.plot(t_h, [r["battery_soc"] for r in rows], color="tab:green")
    ax.set_ylabel("battery SoC")
    ax.set_ylim(0, 1.02)
    ax = axes[2]
    for li in range(n_loops):
        ax.plot(t_h, [r[f"loop{li + 1}_supply_temp_k"] for r in rows], label=f"L{li + 1} supply")
        ax.plot(t_h, [r[f"loop{li + 1}_return_temp_k"] for r in rows], label=f"L{li + 1} return")
    ax.set_ylabel("coolant [K]")
    ax = axes[3]
    ax.plot(t_h, [r["radiator_temp_mean_k"] for r in rows], label="radiator mean")
    ax.plot(t_h, [r["radiator_temp_max_k"] for r in rows], label="radiator max")
    ax.plot(t_h, [r["die_temp_max_k"] for r in rows], label="die max")
    ax.set_ylabel("temperature [K]")
    ax.set_xlabel("mission time [h]")
    # eclipse shading on every panel
    start = None
    spans: list[tuple[float, float]] = []
    for t, r in zip(t_h, rows, strict=True):
        if r["eclipse"] and start is None:
            start = t
        elif not r["eclipse"] and start is not None:
            spans.append((start, t))
            start = None
    if start is not None:
        spans.append((start, t_h[-1]))
    for ax in axes:
        for a, b in spans:
            ax.axvspan(a, b, color="0.85", zorder=0)
        ax.grid(True, alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper right", fontsize=8)
    fig.suptitle(f"{name} what-if (grey: eclipse)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ------------------------------------------------------------------------------------------ CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``computesat hwsim run``."""
    parser.add_argument("--config", type=Path, default=None, help="spacecraft TOML (default AI1)")
    parser.add_argument("--duration", default="1d", help="mission time to run: 3600s, 90m, 2h, 1d")
    parser.add_argument("--step", default="1s", help="physics step (default 1s)")
    parser.add_argument(
        "--speed", default="max", help="clock speed; only 'max' (stepped, as fast as possible)"
    )
    parser.add_argument("--out", type=Path, default=Path("out/whatif"), help="output directory")
    parser.add_argument("--seed", type=int, default=0, help="random seed (sensor noise, upsets)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def main(args: argparse.Namespace) -> int:
    """Run a what-if from parsed arguments; 0 on success, 2 on bad input."""
    try:
        if str(args.speed) != "max":
            raise ValueError(
                f"unsupported --speed {args.speed!r}: what-if runs use the stepped clock; "
                "only 'max' is supported"
            )
        duration_s = parse_duration(args.duration)
        step_s = parse_duration(args.step)
        if step_s > duration_s:
            raise ValueError("--step must not be longer than --duration")
        if args.seed < 0:
            raise ValueError("--seed must be >= 0")
        config = load_config(args.config) if args.config else default_config()
    except (ValueError, ConfigError) as err:
        print(f"computesat hwsim run: {err}", file=sys.stderr)
        return 2
    result = run_whatif(
        config,
        duration_s,
        step_s,
        args.out,
        seed=args.seed,
        progress=not getattr(args, "no_progress", False),
    )
    print(f"wrote {result.csv_path} ({result.rows} rows) and {result.png_path}")
    for k, v in result.summary.items():
        print(f"  {k}: {v:.4g}")
    return 0
