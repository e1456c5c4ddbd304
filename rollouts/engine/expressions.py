"""The condition language of ``successCondition`` / ``failureCondition``.

A condition is a boolean expression over ``result``, the value one measurement returned (a
Prometheus vector arrives as a list of floats, a scalar as a float; the web provider may give
ints, strings, lists or maps)::

    result[0] >= 0.95
    len(result) > 0 && result[0] < 0.5
    isNaN(result)  ||  default(result, 0) > 1
    result > 0.9 and not isNaN(result)

Why CEL (cel-python), with a thin layer, rather than a hand-written parser
--------------------------------------------------------------------------
CEL is the language Kubernetes itself uses for validation rules, it is side-effect free and
terminates, and cel-python is a maintained, pure-Python implementation with a tree-walking
interpreter (``InterpretedRunner``: no Python ``eval``/``exec``; its transpiling runner is not
used). Trying the expressions above against celpy 0.5 (see ``test_expressions.py``, which pins
each finding) showed what it accepts as-is and what needs a layer:

* accepted as-is: comparisons, ``&&``/``||``/``!``, arithmetic, indexing, map fields,
  ``size()``, string literals, short-circuiting over errors (``len(result) > 0 && result[0]``
  does not fail on an empty vector);
* ``and``/``or``/``not`` are a parse error in CEL. Argo Rollouts' language (expr) treats them as
  exact synonyms of ``&&``/``||``/``!``, precedence included, so :func:`rewrite_keywords`
  substitutes them token by token (never inside string literals or after a ``.``), padding to
  the same length so the columns in error messages still point into the user's text;
* ``len``, ``isNaN``, ``isInf``, ``isNil``, ``default``, ``asInt``, ``asFloat`` do not exist:
  they are registered as functions, and ``nil`` is provided as a name for ``null``;
* CEL keeps int and double apart: in celpy 0.5 ``result == 1`` with a float result and
  ``1 < result`` are "no such overload" errors while ``result >= 1`` happens to work. Users
  (and Argo's expr) expect numbers to compare as numbers, so the comparison and arithmetic
  operators are replaced by versions that promote a mixed int/double pair to double, and ``/``
  divides as real numbers (``7 / 2`` is 3.5, ``x / 0`` is an IEEE infinity or NaN, as in Argo);
* celpy checks names only when it evaluates; an unknown function or a misspelt ``results``
  would surface as an Error measurement minutes later, so :func:`compile_condition` walks the
  parsed tree and rejects unknown names at once, pointing at them.

Compiled conditions are cached (the same template condition is judged at every measurement of
every run), and evaluation never raises anything but :class:`ConditionError`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import celpy
import lark
from celpy import celtypes
from celpy.celparser import CELParseError
from celpy.evaluation import CELEvalError, base_functions

from rollouts.engine.expression_library import FUNCTIONS, from_cel, kind, short, to_cel

__all__ = [
    "Condition",
    "ConditionError",
    "MeasurementValue",
    "compile_condition",
    "evaluate",
    "rewrite_keywords",
]

MeasurementValue = float | int | bool | str | None | Sequence[Any] | Mapping[str, Any]
"""What a metric provider hands to a condition as ``result``."""


class ConditionError(ValueError):
    """A condition that cannot be compiled, or that failed on one measurement's result.

    The message quotes the expression and says where and why, so it can go straight into an
    Event, a measurement message or ``kubectl rollouts lint`` output.
    """

    def __init__(self, message: str, *, expression: str, column: int | None = None) -> None:
        super().__init__(message)
        self.expression = expression
        self.column = column


# --- and / or / not ---------------------------------------------------------------------------------

_TOKEN: Final = re.compile(
    r"""(?P<string>[rR]?[bB]?[rR]?("""
    r'"""(?:\\.|[^\\])*?"""'
    r"|'''(?:\\.|[^\\])*?'''"
    r'|"(?:\\.|[^"\\\n])*"'
    r"|'(?:\\.|[^'\\\n])*')"
    r")|(?P<word>[A-Za-z_][A-Za-z0-9_]*)|(?P<other>\s+|.)"
    "",
    re.DOTALL,
)
_KEYWORDS: Final = {"and": "&& ", "or": "||", "not": "!  "}


def rewrite_keywords(text: str) -> str:
    """Turn ``and``/``or``/``not`` into ``&&``/``||``/``!``, keeping every column in place.

    Only whole words count, never inside a string literal, never a field named after a keyword
    (``result.or``). ``x not in list`` (expr's negated membership) has no CEL form written the
    same way, so it is rejected with the fix instead of silently meaning something else.
    """
    out: list[str] = []
    previous = ""  # last significant token
    tokens = [m for m in _TOKEN.finditer(text)]
    for index, match in enumerate(tokens):
        piece = match.group(0)
        word = match.group("word")
        if word in _KEYWORDS and previous != ".":
            if word == "not" and _next_word(tokens, index) == "in":
                raise ConditionError(
                    f'condition "{text}": "not in" is not supported at column {match.start() + 1};'
                    " write !(x in list) instead",
                    expression=text,
                    column=match.start() + 1,
                )
            piece = _KEYWORDS[word]
        out.append(piece)
        if not piece.isspace():
            previous = match.group(0)
    return "".join(out)


def _next_word(tokens: Sequence[re.Match[str]], index: int) -> str | None:
    for match in tokens[index + 1 :]:
        if not match.group(0).isspace():
            return match.group("word")
    return None


_CALLABLE_NAMES: Final = frozenset(
    {name for name in (*base_functions, *FUNCTIONS) if name[0].isalpha()} | {"has", "dyn"}
)
_MACROS: Final = frozenset({"all", "exists", "exists_one", "map", "filter"})
_TYPE_NAMES: Final = frozenset(
    {"bool", "bytes", "double", "int", "uint", "list", "map", "string", "null_type", "type"}
)
_VARIABLES: Final = frozenset({"result", "nil"})
_ENVIRONMENT: Final = celpy.Environment()


# --- compile and evaluate ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Condition:
    """A compiled condition: the user's text and the program that evaluates it."""

    text: str
    program: Any  # a celpy Runner; celpy's own types are too loose to be worth spelling out


@functools.lru_cache(maxsize=1024)
def compile_condition(text: str) -> Condition:
    """Parse and check ``text`` once; raise :class:`ConditionError` pointing at the problem."""
    if not text.strip():
        raise ConditionError(
            "condition is empty; write an expression such as result[0] >= 0.95", expression=text
        )
    rewritten = rewrite_keywords(text)
    try:
        tree = _ENVIRONMENT.compile(rewritten)
    except CELParseError as exc:
        raise _syntax_error(text, exc) from None
    except RecursionError:
        raise ConditionError(f'condition "{text}" is nested too deeply', expression=text) from None
    _check_names(text, tree)
    return Condition(text=text, program=_ENVIRONMENT.program(tree, functions=FUNCTIONS))


def evaluate(condition: Condition, result: MeasurementValue) -> bool:
    """Evaluate ``condition`` with ``result`` bound; True or False, or :class:`ConditionError`.

    Every failure (a type mismatch, an index past the end of the vector, a non-boolean outcome,
    and anything unexpected inside the interpreter) becomes a ConditionError whose message quotes
    the expression and the result, so the analysis can record an Error measurement.
    """
    try:
        activation = {"result": to_cel(result), "nil": None}
    except (TypeError, ValueError, OverflowError) as exc:
        raise ConditionError(f'condition "{condition.text}": {exc}', expression=condition.text) from None
    try:
        value = condition.program.evaluate(activation)
    except CELEvalError as exc:
        reason = _eval_reason(exc)
        raise ConditionError(
            f'condition "{condition.text}" failed on result {short(to_cel(result))}: {reason}',
            expression=condition.text,
        ) from None
    except Exception as exc:  # the interpreter must never take the controller down
        raise ConditionError(
            f'condition "{condition.text}" failed on result {short(to_cel(result))}: '
            f"{type(exc).__name__}: {exc}",
            expression=condition.text,
        ) from None
    if not isinstance(value, celtypes.BoolType):
        raise ConditionError(
            f'condition "{condition.text}" must give true or false, but gave {kind(value)} '
            f"{short(value)} for result {short(to_cel(result))}",
            expression=condition.text,
        )
    return bool(value)


_OPERATORS: Final = {
    "relation_lt": "<",
    "relation_le": "<=",
    "relation_gt": ">",
    "relation_ge": ">=",
    "relation_eq": "==",
    "relation_ne": "!=",
    "relation_in": "in",
    "addition_add": "+",
    "addition_sub": "-",
    "multiplication_mul": "*",
    "multiplication_div": "/",
    "multiplication_mod": "%",
    "unary_neg": "unary -",
    "unary_not": "!",
}
_OVERLOAD: Final = re.compile(r"no matching overload for Token\('RULE', '(\w+)'\) applied to '\((.*)\)'")
_CLASS: Final = re.compile(r"<class '(?:[\w.]*\.)?(\w+?)(?:Type)?'>")


def _eval_reason(exc: CELEvalError) -> str:
    """Turn celpy's error (message, exception class, args) into one readable sentence."""
    message = str(exc.args[0]) if exc.args else "evaluation error"
    cause = exc.args[1] if len(exc.args) > 1 else None
    details = exc.args[2] if len(exc.args) > 2 else None
    if cause is IndexError:
        return "index out of range (the vector has fewer elements; guard with len(result) > 0)"
    if cause is KeyError and message == "no such key" and details:
        return f"no such key {from_cel(details[0])!r}"
    overload = _OVERLOAD.search(message)
    if overload:
        operator = _OPERATORS.get(overload.group(1), overload.group(1))
        kinds = [
            _CLASS.sub(lambda m: m.group(1).lower(), part.strip()) for part in overload.group(2).split(",")
        ]
        kinds = ["null" if kind == "none" else kind for kind in kinds if kind]
        return f"type mismatch: {operator!r} cannot apply to {' and '.join(kinds)}"
    return message


def _syntax_error(text: str, exc: CELParseError) -> ConditionError:
    column = exc.column
    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, lark.exceptions.UnexpectedToken) and cause.token.type == "$END":
        problem = "the expression ends too early"
        column = len(text.rstrip()) + 1
    elif isinstance(cause, lark.exceptions.UnexpectedToken):
        problem = f"unexpected {str(cause.token)!r}"
    elif isinstance(cause, lark.exceptions.UnexpectedCharacters) and column is not None:
        bad = text[column - 1] if 0 < column <= len(text) else "?"
        problem = f"unexpected {bad!r}" + (" (use == to compare)" if bad == "=" else "")
    else:
        problem = "syntax error"
    where = f" at column {column}" if column else ""
    caret = f"\n    {text}\n    {' ' * ((column or 1) - 1)}^" if column else ""
    return ConditionError(
        f'condition "{text}" is not valid: {problem}{where}{caret}', expression=text, column=column
    )


def _check_names(text: str, tree: lark.Tree[Any]) -> None:
    """Reject unknown functions and names now rather than at the first measurement."""
    bound: set[str] = set()
    for node in tree.iter_subtrees():
        if node.data == "member_dot_arg" and str(node.children[1]) in _MACROS:
            args = node.children[2]
            if isinstance(args, lark.Tree) and args.children:
                bound.update(
                    str(t) for t in args.children[0].scan_values(lambda v: isinstance(v, lark.Token))
                )
    for node in tree.iter_subtrees():
        if node.data == "ident_arg":
            name = node.children[0]
            if str(name) not in _CALLABLE_NAMES:
                known = ", ".join(sorted(n for n in FUNCTIONS if n[0].isalpha()))
                raise _name_error(text, name, f"unknown function {str(name)!r}", f"available: {known}, size")
        elif node.data == "ident":
            name = node.children[0]
            if str(name) not in _VARIABLES | _TYPE_NAMES | bound:
                hint = "the measurement is called 'result'"
                raise _name_error(text, name, f"unknown name {str(name)!r}", hint)


def _name_error(text: str, token: Any, problem: str, hint: str) -> ConditionError:
    column = getattr(token, "column", None)
    where = f" at column {column}" if column else ""
    return ConditionError(
        f'condition "{text}" is not valid: {problem}{where} ({hint})', expression=text, column=column
    )
