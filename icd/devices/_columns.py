"""Columnar register groups (private): the PDU's switches and the backplane's slots on the wire.

A device with many like members (160 PDU switches, 150 board slots) sends one typed list per
register instead of one map entry per member and register: ``{"<ids>": [member ids],
"<register>": [one value per member, in the order of the ids], ...}``. That is a fraction of
the bytes (no repeated ``slot.001.`` keys) and validates as typed lists in pydantic-core (no
Python per entry), while the model still offers the members as objects (``PduRegisters
.switches``, ``BackplaneRegisters.slots``), built on first use from the validated columns.

The columns are generated from the member model (``PduSwitch``, ``BackplaneSlot``): a register
added to the member is a column at once, with its type, bounds and description.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from functools import lru_cache
from typing import Annotated, Any

from pydantic import BaseModel, Field

__all__ = [
    "check_rows",
    "column_fields",
    "column_runs",
    "columns_from_members",
    "flat_columns",
    "member_rows",
    "name_of_column_error",
]


def column_fields(member: type[BaseModel]) -> dict[str, Any]:
    """``create_model`` field definitions: one typed list per register of ``member`` (the
    element keeps the register's type, bounds and strictness)."""
    out: dict[str, Any] = {}
    for name, info in member.model_fields.items():
        element = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
        out[name] = (
            list[element],  # type: ignore[valid-type]
            Field(description=f"{info.description} (one per member)", json_schema_extra=extra),
        )
    return out


def columns_from_members(
    ids_field: str, member: type[BaseModel], members: Mapping[str, Any]
) -> dict[str, Any]:
    """The columns of ``members`` (member id -> member model or register map): the legacy
    construction form ``Model(switches={...})`` / ``Model(slots={...})``."""
    names = list(member.model_fields)
    out: dict[str, Any] = {ids_field: list(members)}
    rows = [m.__dict__ if isinstance(m, BaseModel) else m for m in members.values()]
    for name in names:
        out[name] = [row[name] if name in row else _MISSING for row in rows]
    return out


class _Missing:
    """A register a member of the legacy form lacks: fails the column's element type."""

    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


def check_rows(ids: Sequence[str], columns: Mapping[str, Sequence[Any]], what: str) -> None:
    """Every column has one value per member id (a ValueError naming the first that has not)."""
    n = len(ids)
    if len(set(ids)) != n:
        raise ValueError(f"{what}: duplicate member ids")
    for name, column in columns.items():
        if len(column) != n:
            raise ValueError(f"{what}: column {name!r} has {len(column)} values for {n} members")


def member_rows(
    member: type[BaseModel], ids: Sequence[str], columns: Mapping[str, Sequence[Any]]
) -> dict[str, Any]:
    """Member id -> member model, from validated columns (no second validation: every value
    already has the member's type and bounds; the models are frozen, so they share one
    fields-set)."""
    names = tuple(member.model_fields)
    fields_set = set(names)
    out: dict[str, Any] = {}
    new = object.__new__
    setattr_ = object.__setattr__
    for member_id, row in zip(ids, zip(*(columns[n] for n in names), strict=True), strict=True):
        obj = new(member)
        setattr_(obj, "__dict__", dict(zip(names, row, strict=True)))
        setattr_(obj, "__pydantic_fields_set__", fields_set)
        setattr_(obj, "__pydantic_extra__", None)
        setattr_(obj, "__pydantic_private__", None)
        out[member_id] = obj
    return out


def flat_columns(
    ids: Sequence[str],
    columns: Mapping[str, Sequence[Any]],
    names: Sequence[str],
    wire_name: Callable[[str, str], str],
) -> dict[str, Any]:
    """``wire_name(member, register)`` -> value for every member and register (enums as their
    values): the flat register map ``describe`` names, for parameters and tables."""
    out: dict[str, Any] = {}
    key_ids = tuple(ids)
    for name in names:
        column = columns[name]
        if column and isinstance(column[0], Enum):
            column = [v.value for v in column]
        out.update(zip(_keys(key_ids, name, wire_name), column, strict=True))
    return out


def column_runs(
    ids: Sequence[str],
    columns: Mapping[str, Sequence[Any]],
    names: Sequence[str],
    wire_name: Callable[[str, str], str],
) -> list[tuple[tuple[str, ...], Sequence[Any]]]:
    """:func:`flat_columns` as runs, one per register: its wire names (the same tuple object
    from one call to the next while the members are the same) and its column as validated
    (enum members where ``flat_columns`` has their values), without building the flat map."""
    key_ids = tuple(ids)
    return [(_keys(key_ids, name, wire_name), columns[name]) for name in names]


@lru_cache(maxsize=256)
def _keys(ids: tuple[str, ...], name: str, wire_name: Callable[[str, str], str]) -> tuple[str, ...]:
    return tuple(wire_name(member_id, name) for member_id in ids)


def name_of_column_error(
    ids_field: str, raw: Any, wire_name: Callable[[str, str], str]
) -> Callable[[tuple[Any, ...]], str]:
    """Names a validation error location ``(column, index)`` as the member's register
    (``wire_name(member id, register)``), e.g. ``slot.007.fault_reason``."""
    ids = raw.get(ids_field) if isinstance(raw, Mapping) else None

    def name_of(loc: tuple[Any, ...]) -> str:
        if (
            len(loc) >= 2
            and isinstance(loc[1], int)
            and isinstance(ids, list)
            and 0 <= loc[1] < len(ids)
            and loc[0] != ids_field
        ):
            return wire_name(str(ids[loc[1]]), str(loc[0]))
        return ".".join(str(p) for p in loc)

    return name_of
