"""Plain JSON values: the one place that decides how values JSON lacks are written.

Decision (issue 9): a float that is not finite (NaN, +inf, -inf) is written as JSON ``null``,
never as the non-standard ``NaN``/``Infinity`` tokens that strict readers (and
``json.dumps(..., allow_nan=False)``) refuse. Readers get ``None`` back; ``np.asarray(values,
dtype=float)`` turns it into NaN again. Fractions become ``"p/q"`` strings, numpy arrays and
scalars plain lists and numbers, tuples lists, enum members their value. Optionally, floats are
rounded to a number of significant digits (byte-stable committed files).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

__all__ = ["to_jsonable", "json_text", "round_significant"]


def round_significant(value: float, digits: int | None) -> float:
    """``value`` rounded to ``digits`` significant digits (unchanged when ``digits`` is None).

    Rounds through the decimal text ``f"{value:.{digits}g}"``, so the result is the float
    nearest to a number with at most ``digits`` significant decimal digits.
    """
    if digits is None or not math.isfinite(value):
        return value
    return float(f"{value:.{digits}g}")


def to_jsonable(obj: Any, significant_digits: int | None = None) -> Any:
    """``obj`` with every value turned into a plain JSON value (see the module docstring);
    with ``significant_digits``, floats are rounded by :func:`round_significant`.

    Raises
    ------
    TypeError
        For a value with no JSON form.
    """
    d = significant_digits
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v, d) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v, d) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist(), d)
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        return round_significant(value, d) if math.isfinite(value) else None
    if obj is None or isinstance(obj, str):
        return obj
    if hasattr(obj, "numerator") and hasattr(obj, "denominator"):
        return f"{obj.numerator}/{obj.denominator}"
    if hasattr(obj, "value") and isinstance(obj.value, str):  # Enum members
        return obj.value
    raise TypeError(f"cannot convert {type(obj).__name__} to JSON")


def json_text(obj: Any, indent: int | None = None,
              significant_digits: int | None = None) -> str:
    """Strict JSON text of ``to_jsonable(obj, significant_digits)`` with a final newline;
    compact separators without ``indent``. Floats are written as the ``repr`` of the float64,
    the same text for the same value on every platform."""
    separators = (",", ":") if indent is None else (",", ": ")
    return json.dumps(to_jsonable(obj, significant_digits), indent=indent,
                      separators=separators, allow_nan=False) + "\n"
