"""The condition language: what users write in successCondition/failureCondition."""

from __future__ import annotations

import math
from typing import Any

import celpy
import pytest
from celpy import celtypes
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError
from hypothesis import given
from hypothesis import strategies as st

from rollouts.engine.expressions import ConditionError, compile_condition, evaluate, rewrite_keywords

NAN = math.nan
INF = math.inf


def check(text: str, result: Any) -> bool:
    return evaluate(compile_condition(text), result)


# --- why a layer over CEL: the findings on plain celpy 0.5 that the module docstring relies on ------


def _plain_cel(text: str, result: Any) -> Any:
    env = celpy.Environment()
    return env.program(env.compile(text)).evaluate({"result": result})


def test_plain_cel_has_no_and_or_not() -> None:
    with pytest.raises(CELParseError):
        _plain_cel("result > 0.9 and result < 1.0", celtypes.DoubleType(0.95))


def test_plain_cel_has_no_len() -> None:
    with pytest.raises(CELEvalError):
        _plain_cel("len(result) > 0", celtypes.ListType([]))


def test_plain_cel_refuses_int_double_equality() -> None:
    with pytest.raises(CELEvalError):
        _plain_cel("result == 1", celtypes.DoubleType(1.0))
    with pytest.raises(CELEvalError):
        _plain_cel("1 < result", celtypes.DoubleType(1.5))


# --- the expressions users write ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "result", "expected"),
    [
        # the examples from the issue
        ("result[0] >= 0.95", [0.97], True),
        ("result[0] >= 0.95", [0.94], False),
        ("len(result) > 0 && result[0] < 0.5", [0.2], True),
        ("len(result) > 0 && result[0] < 0.5", [], False),  # the guard short-circuits the index
        ("isNaN(result)", NAN, True),
        ("isNaN(result)", 0.5, False),
        ("default(result, 0) > 1", None, False),
        ("default(result, 0) > 1", 2.5, True),
        ("result > 0.9 and not isNaN(result)", 0.95, True),
        ("result > 0.9 and not isNaN(result)", NAN, False),
        # int literals against float results, in every position
        ("result[0] >= 1", [0.97], False),
        ("result[0] >= 1", [1.5], True),
        ("result == 1", 1.0, True),
        ("result != 1", 1.0, False),
        ("1 < result", 1.5, True),
        ("1 <= result", 1.0, True),
        ("result == 0", 0, True),
        ("result > 0.5", 1, True),  # an int result against a double literal
        # arithmetic, mixed kinds promote to double; / is real division as in Argo
        ("2 * result > 1", 1.0, True),
        ("result * 2 == 3", 1.5, True),
        ("result + 1 == 2.5", 1.5, True),
        ("1 - result == 0.5", 0.5, True),
        ("result[0] / result[1] < 0.05", [1.0, 100.0], True),
        ("7 / 2 == 3.5", None, True),
        ("result / 2 == 1.5", 3, True),
        ("isInf(result / 0)", 1.0, True),
        ("isNaN(result / 0)", 0.0, True),
        ("result % 2 == 1", 3, True),
        ("-result < 0", 2.0, True),
        # boolean operators, both spellings, with the usual precedence
        ("result > 1 && result < 3", 2.0, True),
        ("result < 1 || result > 3", 2.0, False),
        ("!(result < 1)", 2.0, True),
        ("result < 1 or result > 3", 4.0, True),
        ("not (result < 1)", 2.0, True),
        ("result > 0 and result < 1 or result == 5", 5.0, True),
        ("result > 0 && (result < 1 || result == 5)", 5.0, True),
        # the helper functions
        ("isInf(result)", INF, True),
        ("isInf(result)", -INF, True),
        ("isInf(result)", 1.0, False),
        ("isNil(result)", None, True),
        ("isNil(result)", [], False),
        ("result == nil", None, True),
        ("result != nil && result > 1", None, False),
        ("default(result, 0.5) == 0.5", None, True),
        ("isNaN(default(result, 0))", NAN, True),  # NaN is a value, not a missing one
        ("asInt(result) == 3", "3", True),
        ("asInt(result) == 3", 3.9, True),
        ("asFloat(result) > 0.5", "0.7", True),
        ("asFloat(result) == 2", 2, True),
        ("len(result) == 3", "abc", True),
        ("len(result) == 2", {"a": 1, "b": 2}, True),
        ("size(result) == 2", [1.0, 2.0], True),
        # web-provider shapes: maps, strings, bools, macros
        ("result.status == 'ok'", {"status": "ok"}, True),
        ("result['p99'] < 250", {"p99": 120}, True),
        ("result.healthy", {"healthy": True}, True),
        ("result == true", True, True),
        ("result == 'and or not'", "and or not", True),
        ("result == 'ok' or result == 'fine'", "fine", True),
        ("result.all(v, v < 0.5)", [0.1, 0.2], True),
        ("result.exists(v, isNaN(v))", [0.1, NAN], True),
        ("'ok' in result", ["ok", "degraded"], True),
        ("result[-1] > 0.5", [0.1, 0.9], True),
        ("result > 1", 2**70, True),  # beyond int64: carried as a double
    ],
)
def test_conditions(text: str, result: Any, expected: bool) -> None:
    assert check(text, result) is expected


# --- errors at evaluation: a message, never a crash --------------------------------------------------


@pytest.mark.parametrize(
    ("text", "result", "message"),
    [
        ("result[0] >= 0.95", [], "index out of range"),
        ("result[3] > 1", [1.0], "guard with len(result) > 0"),
        ("result > 1", None, "type mismatch: '>' cannot apply to null and int"),
        ("result > 'a'", 1.0, "type mismatch: '>' cannot apply to double and string"),
        ("result['p99'] < 1", {"p50": 1}, "no such key 'p99'"),
        ("result.p99 < 1", {"p50": 1}, "p99"),
        ("isNaN(result)", [1.0], "isNaN() needs a number, got list"),
        ("isInf(result)", "x", "isInf() needs a number, got string"),
        ("len(result) > 0", 1.0, "len() needs a list, map or string, got double"),
        ("asInt(result) > 0", "abc", "asInt() cannot convert string 'abc'"),
        ("asFloat(result) > 0", [1], "asFloat() cannot convert list"),
        ("result[0]", [1.0], "must give true or false, but gave double 1.0"),
        ("result % 2 == 1", 3.5, "type mismatch"),
    ],
)
def test_evaluation_errors_are_condition_errors(text: str, result: Any, message: str) -> None:
    with pytest.raises(ConditionError) as caught:
        check(text, result)
    assert message in str(caught.value)
    assert f'"{text}"' in str(caught.value)  # the expression is quoted
    assert caught.value.expression == text


@pytest.mark.parametrize(("result", "message"), [(object(), "cannot be a object"), (10**400, "too large")])
def test_unusable_result_is_a_condition_error(result: Any, message: str) -> None:
    with pytest.raises(ConditionError, match=message):
        check("result > 1", result)


@given(
    result=st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
        max_leaves=8,
    ),
    text=st.sampled_from(
        [
            "result[0] >= 0.95",
            "len(result) > 0 && result[0] < 0.5",
            "isNaN(result)",
            "default(result, 0) > 1",
            "result > 0.9 and not isNaN(result)",
            "asInt(result) + asFloat(result) > 1",
            "result.x == result['y']",
            "result / result == 1",
        ]
    ),
)
def test_any_result_gives_a_bool_or_a_condition_error(text: str, result: Any) -> None:
    try:
        outcome = check(text, result)
    except ConditionError:
        return
    assert isinstance(outcome, bool)


# --- errors at compile time: pointing at the problem -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("result > 0.9 &&", "ends too early at column 16", 16),
        ("(result > 1", "ends too early", 12),
        ("result = 1", "unexpected '=' (use == to compare) at column 8", 8),
        ("result >> 1", "unexpected '>' at column 9", 9),
        ("results[0] > 1", "unknown name 'results' at column 1 (the measurement is called 'result')", 1),
        ("foo(result) > 1", "unknown function 'foo' at column 1", 1),
        ("len(result) > 0 && average(result) > 1", "unknown function 'average' at column 20", 20),
        ("x not in result", '"not in" is not supported', 3),
    ],
)
def test_compile_errors_point_at_the_problem(text: str, message: str, column: int) -> None:
    with pytest.raises(ConditionError) as caught:
        compile_condition(text)
    assert message in str(caught.value)
    assert f'"{text}"' in str(caught.value)
    assert caught.value.column == column


def test_syntax_error_shows_a_caret_under_the_column() -> None:
    with pytest.raises(ConditionError) as caught:
        compile_condition("result = 1")
    lines = str(caught.value).splitlines()
    assert lines[-2].strip() == "result = 1"
    assert lines[-1].index("^") - lines[-2].index("r") == 7


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_condition_is_rejected(text: str) -> None:
    with pytest.raises(ConditionError, match="empty"):
        compile_condition(text)


def test_absurd_nesting_is_an_error_not_a_crash() -> None:
    text = " || ".join(["result > 1"] * 3000)
    with pytest.raises(ConditionError, match=r"RecursionError|nested too deeply"):
        evaluate(compile_condition(text), 2.0)


def test_macro_variables_are_not_unknown_names() -> None:
    assert check("result.filter(x, x > 1).size() == 1", [0.5, 2.0])


# --- the and/or/not rewrite --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a and b", "a && b"),
        ("a or b", "a || b"),
        ("not a", "!   a"),
        ("a and not b or c", "a &&  !   b || c"),
        ("'a and b' == x", "'a and b' == x"),  # never inside a string
        ('"not" == x or y', '"not" == x || y'),
        ("'it\\'s or' == x", "'it\\'s or' == x"),  # escaped quote inside a string
        ("'''and''' == x and y", "'''and''' == x &&  y"),  # triple-quoted string
        ("r'\\d or' == x", "r'\\d or' == x"),  # raw string
        ("result.or == 1", "result.or == 1"),  # a field, not a keyword
        ("android or band", "android || band"),  # whole words only
        ("(a)and(b)", "(a)&& (b)"),
    ],
)
def test_rewrite_keywords(text: str, expected: str) -> None:
    rewritten = rewrite_keywords(text)
    assert rewritten.replace(" ", "") == expected.replace(" ", "")
    assert len(rewritten) == len(text)  # columns in error messages stay true


# --- caching -----------------------------------------------------------------------------------------


def test_compiled_conditions_are_cached() -> None:
    assert compile_condition("result[0] >= 0.95") is compile_condition("result[0] >= 0.95")


def test_errors_are_not_cached_as_successes() -> None:
    for _ in range(2):
        with pytest.raises(ConditionError):
            compile_condition("result >")
