"""What-if runner: durations, CLI validation, outputs."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import pytest

from hwsim.whatif import add_arguments, main, parse_duration, run_whatif


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1d", 86400.0),
        ("90m", 5400.0),
        ("3600s", 3600.0),
        ("2h", 7200.0),
        ("42", 42.0),
        ("0.5h", 1800.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "1y", "-5s", "0s", "h", "1.2.3m", "1 d x"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(text)


def test_run_writes_csv_and_png(ai1, tmp_path: Path) -> None:
    res = run_whatif(ai1, 3 * 3600.0, 10.0, tmp_path, seed=1, progress=False)
    assert res.csv_path.exists() and res.png_path.stat().st_size > 10_000
    rows = list(csv.DictReader(res.csv_path.open()))
    assert len(rows) == res.rows == 3 * 3600 // 30 + 1
    assert float(rows[-1]["time_s"]) == 3 * 3600.0
    assert {"battery_soc", "loop1_supply_temp_k", "radiator_temp_max_k", "eclipse"} <= set(rows[0])
    # the built-in law sheds compute in eclipse, so the battery stays well above its floor
    assert res.summary["min_battery_soc"] > ai1.battery.min_soc + 0.2
    eclipse_compute = [float(r["compute_power_w"]) for r in rows[1:] if r["eclipse"] == "1"]
    assert eclipse_compute and max(eclipse_compute[3:]) < 25e3


def _args(*argv: str) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    add_arguments(p)
    return p.parse_args(list(argv))


def test_cli_validates_speed_and_duration(tmp_path: Path, capsys) -> None:
    assert main(_args("--speed", "10", "--out", str(tmp_path))) == 2
    assert "only 'max'" in capsys.readouterr().err
    assert main(_args("--duration", "1y", "--out", str(tmp_path))) == 2
    assert "bad duration" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("name = 1\n")
    assert main(_args("--config", str(bad), "--out", str(tmp_path))) == 2
    assert "invalid spacecraft configuration" in capsys.readouterr().err


def test_cli_runs(tmp_path: Path, capsys) -> None:
    rc = main(_args("--duration", "30m", "--step", "5s", "--out", str(tmp_path), "--no-progress"))
    assert rc == 0
    assert (tmp_path / "whatif.csv").exists()
    assert "min_battery_soc" in capsys.readouterr().out
