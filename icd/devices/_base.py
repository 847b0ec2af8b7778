"""Building blocks of the typed device interface (private): register and command models,
their descriptions, and the errors that name the offending field."""

from __future__ import annotations

import enum
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.fields import FieldInfo

__all__ = [
    "ArgSpec",
    "CommandArgs",
    "CommandArgsInvalid",
    "CommandSpec",
    "DeviceDescription",
    "DeviceKind",
    "DeviceRegisters",
    "NoArgs",
    "RegisterSpec",
    "RegisterValue",
    "RegistersInvalid",
    "arg",
    "parse_result",
    "reg",
]

M = TypeVar("M", bound=BaseModel)

RegisterValue = float | int | bool | str
"""What a register is on the wire (msgpack): a number, a flag or a text/enum value."""

ValueType = Literal["float", "int", "bool", "str", "enum"]


def reg(unit: str, description: str, **bounds: Any) -> Any:
    """A register field: unit ('' for dimensionless, counts, flags, text and enums), what it
    reports, and bounds (ge/le/gt/lt) where the hardware guarantees them."""
    return Field(description=description, json_schema_extra={"unit": unit}, **bounds)


def arg(unit: str, description: str, default: Any = ..., **bounds: Any) -> Any:
    """A command argument field: unit, meaning, range (ge/le/gt/lt); no default = required."""
    return Field(default, description=description, json_schema_extra={"unit": unit}, **bounds)


class RegisterSpec(BaseModel):
    """One register as ``describe`` and the dictionary report it (derived from the model)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    unit: str = Field(description="Unit of the value ('' for dimensionless, flags, text, enums)")
    description: str = Field(description="What the register reports")
    type: ValueType = Field(description="Wire type: float, int, bool, str or enum (a str)")
    values: list[str] | None = Field(None, description="The values an enum register takes")
    minimum: int | float | None = Field(None, description="Inclusive lower bound")
    maximum: int | float | None = Field(None, description="Inclusive upper bound")
    exclusive_minimum: int | float | None = Field(None, description="Exclusive lower bound")
    exclusive_maximum: int | float | None = Field(None, description="Exclusive upper bound")


class ArgSpec(RegisterSpec):
    """One command argument: a register-like spec plus whether it must be given."""

    required: bool = Field(True, description="The argument must be given")
    default: RegisterValue | None = Field(None, description="Value used when not given")


class CommandSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    description: str = Field(description="What the command does and what it returns")
    args: dict[str, ArgSpec] = Field(default_factory=dict, description="Arguments by name")


class DeviceDescription(BaseModel):
    """The answer to ``describe``: generated from the ICD models, never written by hand."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    device_id: str = Field(description="Device id, e.g. pump.L1.A")
    kind: str = Field(description="Device kind, a key of icd.devices.DEVICE_KINDS")
    registers: dict[str, RegisterSpec] = Field(description="Telemetry registers of read()")
    commands: dict[str, CommandSpec] = Field(description="Commands accepted by command()")


def _value_spec(info: FieldInfo) -> dict[str, Any]:
    annotation = info.annotation
    if get_origin(annotation) in (Union, types.UnionType):
        annotation = next(a for a in get_args(annotation) if a is not type(None))
    out: dict[str, Any] = {}
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        out["type"] = "enum"
        out["values"] = [str(m.value) for m in annotation]
    elif annotation is bool:
        out["type"] = "bool"
    elif annotation is int:
        out["type"] = "int"
    elif annotation is float:
        out["type"] = "float"
    else:
        out["type"] = "str"
    for meta in info.metadata:
        if isinstance(meta, annotated_types.Ge):
            out["minimum"] = meta.ge
        elif isinstance(meta, annotated_types.Le):
            out["maximum"] = meta.le
        elif isinstance(meta, annotated_types.Gt):
            out["exclusive_minimum"] = meta.gt
        elif isinstance(meta, annotated_types.Lt):
            out["exclusive_maximum"] = meta.lt
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    out["unit"] = str(extra.get("unit", ""))
    out["description"] = info.description or ""
    return out


def field_specs(model: type[BaseModel]) -> dict[str, RegisterSpec]:
    return {name: RegisterSpec(**_value_spec(f)) for name, f in model.model_fields.items()}


def member_specs(
    model: type[BaseModel], members: Sequence[str], wire_name: Callable[[str, str], str]
) -> dict[str, RegisterSpec]:
    """The flat wire registers of a group of like members (backplane slots, PDU switches):
    ``wire_name(member, register)`` names each, its description says which member."""
    specs: dict[str, RegisterSpec] = {}
    for member in members:
        for name, spec in field_specs(model).items():
            specs[wire_name(member, name)] = spec.model_copy(
                update={"description": f"{wire_name(member, '').rstrip('._')}: {spec.description}"}
            )
    return specs


def _describe_errors(exc: ValidationError, name_of: Any) -> tuple[list[str], str]:
    fields: list[str] = []
    parts: list[str] = []
    for err in exc.errors():
        name = name_of(tuple(err["loc"])) or "<reply>"
        fields.append(name)
        if err["type"] == "missing":
            parts.append(f"{name}: missing")
        elif err["type"] == "extra_forbidden":
            parts.append(f"{name}: not in the ICD")
        else:
            parts.append(f"{name}: {err['msg']} (got {err['input']!r})")
    return fields, "; ".join(parts)


class RegistersInvalid(ValueError):
    """A register set (or a command result) does not match its ICD model; ``fields`` names
    every offending one. ``what``: e.g. 'pump registers', 'identity result'."""

    def __init__(self, device: str, what: str, fields: list[str], detail: str) -> None:
        super().__init__(f"{device}: {what} invalid: {detail}")
        self.device = device
        self.what = what
        self.fields = fields


def parse_result(device: str, command: str, model: type[M], raw: Any) -> M:
    """Validate a command's result into ``model``; :class:`RegistersInvalid` names the fields."""
    what = f"{command} result"
    if not isinstance(raw, Mapping):
        raise RegistersInvalid(device, what, ["<reply>"], f"expected a map, got {type(raw)}")
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        fields, detail = _describe_errors(exc, lambda loc: ".".join(str(p) for p in loc))
        raise RegistersInvalid(device, what, fields, detail) from None


class CommandArgsInvalid(ValueError):
    """Command arguments do not match the command model; ``fields`` names the offending ones."""

    def __init__(self, where: str, fields: list[str], detail: str) -> None:
        super().__init__(f"{where}: {detail}")
        self.where = where
        self.fields = fields


class DeviceRegisters(BaseModel):
    """Base of every register model. Strict: a register of the wrong type is an error,
    never coerced ("1.5" is not a number, 1 is not a flag); enums take their wire values."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    def wire(self) -> dict[str, RegisterValue]:
        """The flat register map ``read`` carries on the wire."""
        return self.model_dump(mode="json")

    @classmethod
    def register_specs(cls, members: Sequence[str] = ()) -> dict[str, RegisterSpec]:
        """Wire register name -> spec. ``members``: switch names / slot ids of the kinds whose
        register set depends on the configuration (pdu, backplane)."""
        return field_specs(cls)

    @classmethod
    def wire_name(cls, loc: tuple[Any, ...]) -> str:
        """The wire register name of a validation error location."""
        return ".".join(str(p) for p in loc)

    def flat(self) -> dict[str, RegisterValue]:
        """Register name -> value, one entry per register as ``describe`` names them
        (``<switch>_on``, ``slot.<nnn>.power_w``): parameters and tables. The wire form of
        kinds with member columns (pdu, backplane) is :meth:`wire`."""
        return self.wire()

    def flat_runs(self) -> Sequence[tuple[Sequence[str], Sequence[Any]]]:
        """:meth:`flat` as runs of (register names, values), in its order, the values as
        validated (enum members where :meth:`flat` has their values): for a reader of every
        register every cycle (the devices service's parameters), which takes a run of plain
        numbers whole (a PDU column of 160 switches) instead of entry by entry. A kind that
        overrides :meth:`flat` overrides this with it."""
        d = self.__dict__
        return ((tuple(d), tuple(d.values())),)

    def groups(self) -> dict[str, dict[str, BaseModel]]:
        """The member groups of the kinds that have them (``switches``, ``slots``)."""
        return {}

    @classmethod
    def parse(cls, device: str, kind: str, raw: Any) -> DeviceRegisters:
        return cls.parse_named(device, kind, raw, cls.wire_name)

    @classmethod
    def parse_named(
        cls, device: str, kind: str, raw: Any, name_of: Callable[[tuple[Any, ...]], str]
    ) -> DeviceRegisters:
        """:meth:`parse`, naming the offending registers with ``name_of(error location)``."""
        # Every polled device every second: a dict (what both transports deliver) goes to the
        # validator as it is (nothing mutates it), another mapping is copied into one.
        if type(raw) is not dict:
            if not isinstance(raw, Mapping):
                raise RegistersInvalid(
                    device,
                    f"{kind} registers",
                    ["<reply>"],
                    f"expected a register map, got {type(raw).__name__}",
                )
            raw = dict(raw)
        try:
            return cls.__pydantic_validator__.validate_python(raw)  # type: ignore[no-any-return]
        except ValidationError as exc:
            fields, detail = _describe_errors(exc, name_of)
            raise RegistersInvalid(device, f"{kind} registers", fields, detail) from None


class CommandArgs(BaseModel):
    """Base of every command model; the class docstring is the command's description."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)

    @classmethod
    def spec(cls) -> CommandSpec:
        args: dict[str, ArgSpec] = {}
        for name, f in cls.model_fields.items():
            required = f.is_required()
            default = None if required else f.default
            if isinstance(default, enum.Enum):
                default = default.value
            args[name] = ArgSpec(**_value_spec(f), required=required, default=default)
        doc = " ".join((cls.__doc__ or "").split())
        return CommandSpec(description=doc, args=args)

    @classmethod
    def parse(cls, where: str, raw: Any) -> CommandArgs:
        if not isinstance(raw, Mapping):
            raise CommandArgsInvalid(where, ["<args>"], "arguments must be a map")
        try:
            return cls.model_validate(dict(raw))
        except ValidationError as exc:
            fields, detail = _describe_errors(exc, lambda loc: ".".join(str(p) for p in loc))
            expected = ", ".join(_arg_range(n, s) for n, s in cls.spec().args.items()) or "none"
            raise CommandArgsInvalid(where, fields, f"{detail}; arguments: {expected}") from None


def _arg_range(name: str, spec: ArgSpec) -> str:
    lo = "" if spec.minimum is None else f"{spec.minimum} <= "
    lo = lo or ("" if spec.exclusive_minimum is None else f"{spec.exclusive_minimum} < ")
    hi = "" if spec.maximum is None else f" <= {spec.maximum}"
    hi = hi or ("" if spec.exclusive_maximum is None else f" < {spec.exclusive_maximum}")
    kind = "|".join(spec.values) if spec.values else spec.type
    unit = f" {spec.unit}" if spec.unit else ""
    optional = "" if spec.required else f" (optional, default {spec.default!r})"
    return f"{lo}{name}{hi} ({kind}{unit}){optional}"


class NoArgs(CommandArgs):
    """A command without arguments."""


@dataclass(frozen=True)
class DeviceKind:
    """One kind of device: its register model, its commands and what can go wrong with it."""

    name: str
    description: str
    ids: str  # the device ids of this kind, as a pattern for people
    registers: type[DeviceRegisters]
    commands: Mapping[str, type[CommandArgs]] = field(default_factory=dict)
    # commands whose result is not the device's registers: command -> result model
    results: Mapping[str, type[BaseModel]] = field(default_factory=dict)
    faults: type[enum.Enum] | None = None
    # placeholder member names for the dictionary of kinds whose registers depend on the config
    members: tuple[str, ...] = ()

    def command_specs(self) -> dict[str, CommandSpec]:
        return {name: model.spec() for name, model in self.commands.items()}

    def describe(self, device_id: str, members: Sequence[str] = ()) -> DeviceDescription:
        return DeviceDescription(
            device_id=device_id,
            kind=self.name,
            registers=self.registers.register_specs(members),
            commands=self.command_specs(),
        )

    def parse_args(self, device_id: str, command: str, raw: Any) -> CommandArgs:
        """Validate ``raw`` arguments of ``command`` (KeyError if the kind has no such command)."""
        return self.commands[command].parse(f"{device_id}.{command}", raw)

    def table(self) -> dict[str, Any]:
        """This kind for the exported dictionary."""
        return {
            "description": self.description,
            "ids": self.ids,
            "registers": {
                n: s.model_dump(mode="json", exclude_none=True)
                for n, s in self.registers.register_specs(self.members).items()
            },
            "commands": {
                n: s.model_dump(mode="json", exclude_none=True)
                | {"result": self.results[n].__name__ if n in self.results else None}
                for n, s in self.command_specs().items()
            },
            "faults": None
            if self.faults is None
            else {
                "enum": self.faults.__name__,
                "description": " ".join((self.faults.__doc__ or "").split()),
                "values": {m.name.lower(): m.value for m in self.faults},
            },
        }
