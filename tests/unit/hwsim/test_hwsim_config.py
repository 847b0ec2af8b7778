"""Configuration: the AI1 default and clear errors naming the field."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from pydantic import ValidationError

from hwsim.config import (
    ConfigError,
    default_config,
    default_config_path,
    load_config,
    parse_config,
    simple_config,
)


def ai1_dict() -> dict:
    return tomllib.loads(default_config_path().read_text())


def test_default_is_ai1() -> None:
    c = default_config()
    slots = c.compute.expanded_slots()
    assert len(slots) == 160
    # the default flies the three reference plug-in boards; ai1-simple.toml keeps 150 x 1 kW
    assert {s.board for s in slots} == {"ref-gpu", "ref-npu", "ref-cpu"}
    simple = simple_config().compute.expanded_slots()
    assert len(simple) == 150 and {s.board for s in simple} == {"simple"}
    assert abs(sum(s.peak_w for s in simple) - 150e3) < 1e-6
    assert sum(w.span_m for w in c.wings) == 70.0
    per_m2 = c.wings[0].efficiency * 1361.0
    assert 240.0 < per_m2 < 270.0
    area = sum(p.area_per_face_m2 for p in c.radiators.panels)
    assert area == 110.0 and all(p.faces == 2 for p in c.radiators.panels)
    assert all(len(lp.pumps) == 2 for lp in c.loops)
    assert c.orbit.altitude_km == 600.0 and c.orbit.beta_deg == 0.0
    with pytest.raises(ValidationError):
        c.orbit.altitude_km = 700.0  # frozen


def test_out_of_range_names_field_and_range(tmp_path: Path) -> None:
    d = ai1_dict()
    d["orbit"]["altitude_km"] = 50.0
    with pytest.raises(ConfigError) as e:
        parse_config(d)
    msg = str(e.value)
    assert "orbit.altitude_km" in msg and "150" in msg and "40000" in msg


def test_nested_list_field_path() -> None:
    d = ai1_dict()
    d["loops"][1]["pumps"][0]["max_speed_rpm"] = -1
    with pytest.raises(ConfigError, match=r"loops\.1\.pumps\.0\.max_speed_rpm"):
        parse_config(d)


def test_unknown_field_is_named() -> None:
    d = ai1_dict()
    d["battery"]["capacity_kwh"] = 30
    with pytest.raises(ConfigError, match=r"battery\.capacity_kwh: unknown field"):
        parse_config(d)


def test_bad_cross_reference() -> None:
    d = ai1_dict()
    d["cold_plates"][0]["loop_id"] = "L9"
    with pytest.raises(ConfigError, match="unknown loop 'L9'"):
        parse_config(d)


def test_toml_syntax_error_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[orbit\naltitude_km = 600\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


def test_round_trip_of_a_written_file(tmp_path: Path) -> None:
    p = tmp_path / "ai1.toml"
    p.write_text(default_config_path().read_text().replace("beta_deg = 0.0", "beta_deg = 70.0"))
    assert load_config(p).orbit.beta_deg == 70.0
