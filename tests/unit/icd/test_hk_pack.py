"""``pack_hk_report`` (one layout per structure, the bitmap as one integer) packs exactly what
the parameter-by-parameter packing it replaces packed: every structure of the dictionary, on
the parameter values of a real hwsim's devices, with parameters valid, invalid (None) and
never acquired (absent), and integers given as floats."""

from __future__ import annotations

import random
import struct
from collections.abc import Mapping
from typing import Any

import pytest

from flightsw.services.devices import registers_to_parameters
from hwsim.config import simple_config
from hwsim.spacecraft import Spacecraft
from icd import dictionary as dic
from icd.devices import parse_registers


def _reference(structure: dic.HkStructure, pool: Mapping[str, float | None]) -> bytes:
    """The packing before (kept here as the reference)."""
    values: list[Any] = []
    bitmap = bytearray(structure.validity_bytes)
    for index, parameter in enumerate(structure.parameters):
        value = pool.get(parameter.name)
        if value is None:
            value = 0
        else:
            bitmap[index // 8] |= 0x80 >> (index % 8)
        values.append(float(value) if parameter.fmt.startswith("f") else int(value))
    return struct.pack(structure.struct_format, structure.sid, bytes(bitmap), *values)


@pytest.fixture(scope="module")
def device_values() -> dict[str, float]:
    sc = Spacecraft(simple_config(), seed=1)
    sc.run(5.0, 1.0)
    values: dict[str, float] = {}
    for device in sc.device_ids():
        values.update(registers_to_parameters(device, parse_registers(device, sc.read(device))))
    return values


def test_every_structure_packs_as_before(device_values: dict[str, float]):
    rng = random.Random(7)
    names = sorted({p.name for s in dic.HK_STRUCTURES.values() for p in s.parameters})
    hk_from_devices = [n for n in names if n in device_values]
    assert len(hk_from_devices) >= 40  # the platform, thermal and power structures' devices
    for trial in range(200):
        pool: dict[str, float | None] = {}
        for name in names:
            roll = rng.random()
            if roll < 0.15:
                continue  # never acquired
            if roll < 0.3:
                pool[name] = None  # its source stopped answering
            elif name in device_values:
                pool[name] = device_values[name] * rng.choice((1.0, 0.5, 2.0))
            else:
                pool[name] = float(rng.randrange(0, 200))  # counters, states: floats on the bus
        for structure in dic.HK_STRUCTURES.values():
            packed = dic.pack_hk_report(structure, pool)
            assert packed == _reference(structure, pool), (trial, structure.sid)
            sid, decoded = dic.unpack_hk_report(packed)
            assert sid == structure.sid
            assert [v is not None for v in decoded.values()] == [
                pool.get(p.name) is not None for p in structure.parameters
            ]


def test_all_valid_and_all_invalid_reports_pack_as_before():
    for structure in dic.HK_STRUCTURES.values():
        full = {p.name: 1.0 for p in structure.parameters}
        for pool in ({}, full, dict.fromkeys(full)):
            assert dic.pack_hk_report(structure, pool) == _reference(structure, pool)
