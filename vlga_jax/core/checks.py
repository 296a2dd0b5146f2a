"""Validation at the border, one set for every layer: each check raises
``ValueError("<field> must be <allowed>, got <value>")``, naming the field the user set
(``ga.mutation_rate``, ``rate``, ``subset``) and what it may hold.

Plain Python and NumPy values only: a JAX array may be traced, so callers leave those
alone.
"""

from __future__ import annotations

import numbers

import numpy as np


def require(ok: bool, field: str, allowed: str, value) -> None:
    """ValueError "<field> must be <allowed>, got <value!r>" unless ``ok``."""
    if not ok:
        raise ValueError(f"{field} must be {allowed}, got {value!r}")


def is_number(value) -> bool:
    """True for a Python or NumPy scalar (not a JAX array, which may be traced)."""
    return isinstance(value, numbers.Number | np.generic)


def rate(field: str, value) -> float:
    """``value`` in [0, 1] as a float (NaN and booleans are refused)."""
    ok = (isinstance(value, numbers.Real | np.floating | np.integer)
          and not isinstance(value, bool | np.bool_)
          and 0.0 <= float(value) <= 1.0)  # False for NaN
    require(ok, field, "in [0, 1]", value)
    return float(value)


def integer(field: str, value, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum`` (booleans and floats are refused)."""
    ok = (isinstance(value, numbers.Integral | np.integer)
          and not isinstance(value, bool | np.bool_) and int(value) >= minimum)
    require(ok, field, f"an integer >= {minimum}", value)
    return int(value)


def choice(field: str, value, choices: tuple) -> None:
    """``value`` is one of ``choices``."""
    require(value in choices, field, f"one of {tuple(choices)}", value)
