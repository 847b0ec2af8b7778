"""One settings model per process, and the CLI flags derived from it.

Each field of a process's frozen pydantic settings model becomes ``--field-name`` with the
field's description as help and its default shown; values are validated by the model, so a
bad flag gets the same clear error as a bad config file.
"""

from __future__ import annotations

import argparse
import types
from enum import Enum
from typing import Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

__all__ = ["SettingsError", "add_settings_arguments", "settings_from_args"]

M = TypeVar("M", bound=BaseModel)


class SettingsError(ValueError):
    """A setting failed validation; the message names the flag and what is allowed."""


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_settings_arguments(parser: argparse.ArgumentParser, model: type[BaseModel]) -> None:
    for name, field in model.model_fields.items():
        annotation = field.annotation
        origin = get_origin(annotation)
        kwargs: dict[str, Any] = {"dest": name, "default": argparse.SUPPRESS}
        default = field.get_default(call_default_factory=True)
        help_text = f"{field.description or ''} (default: {default})".strip()
        if annotation is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif origin is Literal:
            kwargs["choices"] = [str(c) for c in get_args(annotation)]
        elif isinstance(annotation, type) and issubclass(annotation, Enum):
            kwargs["choices"] = [str(e.value) for e in annotation]
        elif origin in (Union, types.UnionType):
            kwargs["metavar"] = name.upper()
        parser.add_argument(_flag(name), help=help_text, **kwargs)


def settings_from_args(model: type[M], namespace: argparse.Namespace, **overrides: Any) -> M:
    values = {k: v for k, v in vars(namespace).items() if k in model.model_fields}
    values.update(overrides)
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            location = ".".join(str(p) for p in error["loc"])
            flag = _flag(location) if location in model.model_fields else location
            problems.append(f"{flag}: {error['msg']} (got {error.get('input')!r})")
        raise SettingsError("; ".join(problems)) from None
