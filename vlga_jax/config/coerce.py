"""Typed fields: a config field's value coerced to its annotated type, with an error that
names the field and what it accepts.

Every field is coerced before its range is checked, the same way whether it comes from
Python, a JSON file or ``--set`` text: numpy scalars become Python numbers; an integral
float becomes an int; booleans are parsed from true/false, yes/no, on/off or 1/0
(anything else is refused: "no" never becomes True); a scalar is accepted where a tuple
is meant (``channels=16`` -> (16,), ``activations="relu"`` -> ("relu",), ``resize=8`` ->
(8, 8)); a string where a tuple is meant is split on commas (``"8,16"``,
``"crop,flip"``), and a string where a number or tuple is meant is parsed (``"1e-3"``,
``"(8, 16)"``, ``"units:0.15,dropout:0.1"`` for gene rates).
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import math
import types
import typing

import numpy as np

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")
_NONE = ("none", "null")

# What a field accepts, where the type alone says too little.
_ACCEPTS = {
    "ga.gene_rates": "pairs (gene name, rate in [0, 1]): e.g. (('units', 0.15),), "
                     "{'units': 0.15} or, in text, 'units:0.15,dropout:0.1'",
    "data.resize": "None, one size for both sides (8) or (height, width)",
}


def coerce_fields(obj, section: str) -> None:
    """Coerce every field of the dataclass ``obj`` to its annotated type, in place; the
    errors name fields as ``<section>.<field>``."""
    hints = _hints(type(obj))
    for f in dataclasses.fields(obj):
        value = coerce(f"{section}.{f.name}", getattr(obj, f.name), hints[f.name])
        object.__setattr__(obj, f.name, value)


@functools.cache
def _hints(cls) -> dict:
    return typing.get_type_hints(cls)


def coerce(name: str, value, tp):
    """``value`` as type ``tp`` (see the module docstring); ValueError naming ``name``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):  # X | None
        if value is None:
            return None
        inner = next(a for a in args if a is not type(None))
        if isinstance(value, str) and inner is not str and value.strip().lower() in _NONE:
            return None
        try:
            return coerce(name, value, inner)
        except ValueError:
            raise _bad(name, value, tp) from None
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, np.generic):
        value = value.item()
    if tp is str:
        if not isinstance(value, str):
            raise _bad(name, value, tp)
        return str(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE + _FALSE:
            return value.strip().lower() in _TRUE
        raise _bad(name, value, tp)
    if tp is int:
        if isinstance(value, str):
            value = _literal(name, value, tp)
        if isinstance(value, bool):
            raise _bad(name, value, tp)
        if isinstance(value, int):
            return value
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            return int(value)
        raise _bad(name, value, tp)
    if tp is float:
        if isinstance(value, str):
            value = _literal(name, value, tp)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _bad(name, value, tp)
        if not math.isfinite(value):
            raise _bad(name, value, tp)
        return float(value)
    if origin is tuple:
        return _coerce_tuple(name, value, tp, args)
    raise TypeError(f"{name}: no coercion for type {tp}")  # a bug in this module


def describe(tp) -> str:
    """What a field of type ``tp`` accepts, in words."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        return f"None or {describe(inner[0])}"
    if tp is bool:
        return "a boolean (true/false, yes/no, 1/0)"
    if tp is int:
        return "an integer"
    if tp is float:
        return "a finite number"
    if tp is str:
        return "a string"
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"{describe(args[0])} or a list of them (in text: comma-separated)"
        if len(set(args)) == 1:
            return f"{describe(args[0])} or {len(args)} of them"
        return "(" + ", ".join(describe(a) for a in args) + ")"
    return str(tp)


def _bad(name: str, value, tp) -> ValueError:
    return ValueError(f"{name} must be {_ACCEPTS.get(name) or describe(tp)}, got {value!r}")


def _names(value) -> tuple:
    """A tuple of names from a tuple/list or one comma-separated string ("crop,flip")."""
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(value)


def _literal(name: str, text: str, tp):
    """A number (or tuple) from text; ValueError naming ``name`` when it is none."""
    text = text.strip()
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        try:
            return float(text)  # "nan", "inf": refused by the caller's range checks
        except ValueError:
            raise _bad(name, text, tp) from None


def _coerce_tuple(name: str, value, tp, args):
    if isinstance(value, str):
        text = value.strip()
        if text and text[0] in "([{":
            try:
                value = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                raise _bad(name, value, tp) from None
        elif typing.get_origin(args[0]) is tuple:  # "units:0.15,dropout:0.1"
            value = [tuple(p.strip().strip("'\"") for p in item.split(":", 1))
                     for item in _names(text)]
        else:
            value = tuple(v.strip("'\"") for v in
                          _names(text.replace("x", ",") if args[0] is int else text))
    if isinstance(value, dict):
        value = tuple(value.items())
    if isinstance(value, np.ndarray):
        value = value.tolist()
    variable = len(args) == 2 and args[1] is Ellipsis
    element = args[0]
    nested = typing.get_origin(element) is tuple
    if not isinstance(value, tuple | list) or (nested and value and not isinstance(
            value[0], tuple | list)):
        value = (value,)  # a scalar (or one pair) where a tuple is meant
    kinds = args if not variable else (element,) * len(value)
    if not variable and len(value) == 1 and len(set(args)) == 1:
        value = tuple(value) * len(args)  # one size for both sides
    if len(value) != len(kinds):
        raise _bad(name, value, tp)
    try:
        return tuple(coerce(name, v, a) for v, a in zip(value, kinds, strict=True))
    except ValueError:
        raise _bad(name, value, tp) from None
