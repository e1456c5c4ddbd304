"""The functions and operators the condition language adds to CEL, and value conversions.

Kept apart from ``expressions.py`` (parsing, checking, evaluating) because this is the part a
reader changes to add a function. Every function returns a CEL error value instead of raising, as
celpy expects, so ``&&``/``||`` can absorb an error on the side that does not decide the outcome
(``len(result) > 0 && result[0] < 0.5`` is simply false on an empty vector).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from celpy import celtypes
from celpy.evaluation import CELEvalError, base_functions

__all__ = ["FUNCTIONS", "from_cel", "kind", "short", "to_cel"]


# --- values -----------------------------------------------------------------------------------------


def to_cel(value: Any) -> Any:
    """Convert a measurement value to CEL values (bool before int: a bool is an int in Python)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    if isinstance(value, int):
        # Beyond int64 CEL has no int; a JSON number that large is a double in Go (and in Argo) too.
        return celtypes.IntType(value) if -(2**63) <= value < 2**63 else celtypes.DoubleType(value)
    if isinstance(value, float):
        return celtypes.DoubleType(value)
    if isinstance(value, str):
        return celtypes.StringType(value)
    if isinstance(value, Mapping):
        return celtypes.MapType({celtypes.StringType(str(k)): to_cel(v) for k, v in value.items()})
    if isinstance(value, Sequence):
        return celtypes.ListType([to_cel(v) for v in value])
    raise TypeError(f"a measurement value cannot be a {type(value).__name__}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_mixed(left: Any, right: Any) -> bool:
    """Two numbers of different CEL kinds (int/uint/double), which CEL would refuse to combine."""
    return _is_number(left) and _is_number(right) and type(left) is not type(right)


# --- operators --------------------------------------------------------------------------------------

_Function = Callable[..., Any]


def _comparison(name: str, compare: Callable[[float, float], bool]) -> _Function:
    original = base_functions[name]

    def operator(left: Any, right: Any) -> Any:
        if _is_mixed(left, right):
            return celtypes.BoolType(compare(float(left), float(right)))
        return original(left, right)

    return operator


def _arithmetic(name: str, combine: Callable[[float, float], float]) -> _Function:
    original = base_functions[name]

    def operator(left: Any, right: Any) -> Any:
        if _is_mixed(left, right):
            return celtypes.DoubleType(combine(float(left), float(right)))
        return original(left, right)

    return operator


def _divide(left: Any, right: Any) -> Any:
    """Real division for any two numbers, IEEE on a zero divisor (as Argo's expr, a Go float)."""
    if not (_is_number(left) and _is_number(right)):
        return base_functions["_/_"](left, right)
    numerator, denominator = float(left), float(right)
    if denominator == 0.0:
        if numerator == 0.0 or math.isnan(numerator):
            return celtypes.DoubleType(math.nan)
        return celtypes.DoubleType(math.copysign(math.inf, numerator) * math.copysign(1.0, denominator))
    return celtypes.DoubleType(numerator / denominator)


# --- functions --------------------------------------------------------------------------------------


def _error(message: str) -> CELEvalError:
    return CELEvalError(message)


def _len(value: Any) -> Any:
    if isinstance(value, celtypes.ListType | celtypes.MapType | celtypes.StringType):
        return celtypes.IntType(len(value))
    return _error(f"len() needs a list, map or string, got {kind(value)}")


def _is_nan(value: Any) -> Any:
    if _is_number(value):
        return celtypes.BoolType(isinstance(value, float) and math.isnan(value))
    return _error(f"isNaN() needs a number, got {kind(value)}; for a vector use isNaN(result[0])")


def _is_inf(value: Any) -> Any:
    if _is_number(value):
        return celtypes.BoolType(isinstance(value, float) and math.isinf(value))
    return _error(f"isInf() needs a number, got {kind(value)}; for a vector use isInf(result[0])")


def _is_nil(value: Any) -> Any:
    return celtypes.BoolType(value is None)


def _default(value: Any, fallback: Any) -> Any:
    """``value`` unless it is null (no value at all), as in Argo Rollouts; NaN is kept as NaN."""
    return fallback if value is None else value


def _as_int(value: Any) -> Any:
    try:
        if isinstance(value, celtypes.StringType):
            return celtypes.IntType(int(str(value).strip()))
        if _is_number(value):
            return celtypes.IntType(int(value))
    except (ValueError, OverflowError):
        pass
    return _error(f"asInt() cannot convert {kind(value)} {short(value)} to an integer")


def _as_float(value: Any) -> Any:
    try:
        if isinstance(value, celtypes.StringType):
            return celtypes.DoubleType(float(str(value).strip()))
        if _is_number(value):
            return celtypes.DoubleType(float(value))
    except ValueError:
        pass
    return _error(f"asFloat() cannot convert {kind(value)} {short(value)} to a number")


def kind(value: Any) -> str:
    if value is None:
        return "null"
    names = {
        celtypes.BoolType: "bool",
        celtypes.IntType: "int",
        celtypes.UintType: "uint",
        celtypes.DoubleType: "double",
        celtypes.StringType: "string",
        celtypes.ListType: "list",
        celtypes.MapType: "map",
    }
    return names.get(type(value), type(value).__name__)


def short(value: Any, limit: int = 120) -> str:
    text = repr(from_cel(value))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def from_cel(value: Any) -> Any:
    """Plain Python for messages: celpy's reprs (``DoubleType(0.5)``) mean nothing to users."""
    if isinstance(value, celtypes.BoolType):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        return {from_cel(k): from_cel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_cel(v) for v in value]
    return value


FUNCTIONS: Final[dict[str, _Function]] = {
    "_<_": _comparison("_<_", lambda a, b: a < b),
    "_<=_": _comparison("_<=_", lambda a, b: a <= b),
    "_>_": _comparison("_>_", lambda a, b: a > b),
    "_>=_": _comparison("_>=_", lambda a, b: a >= b),
    "_==_": _comparison("_==_", lambda a, b: a == b),
    "_!=_": _comparison("_!=_", lambda a, b: a != b),
    "_+_": _arithmetic("_+_", lambda a, b: a + b),
    "_-_": _arithmetic("_-_", lambda a, b: a - b),
    "_*_": _arithmetic("_*_", lambda a, b: a * b),
    "_/_": _divide,
    "len": _len,
    "isNaN": _is_nan,
    "isInf": _is_inf,
    "isNil": _is_nil,
    "default": _default,
    "asInt": _as_int,
    "asFloat": _as_float,
}
