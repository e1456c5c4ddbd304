"""Breaking valid objects: the wrong values users write, and junk, at every place of them.

Two ways: :func:`mutated` (a Hypothesis strategy) makes one to three mutations, generic ones
anywhere in the document (wrong type, null, a missing or unknown field, huge numbers, unicode,
deeply nested junk) or field-aware ones that give a known field the wrong values users write
(:data:`BY_FIELD`: a bad duration at ``duration``/``interval``, a bad quantity at a resource, a
broken expression at a condition, out-of-range numbers at weights and counts);
:func:`every_field_broken` does every such field-aware break of one object, exhaustively.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Iterator
from typing import Any

from hypothesis import strategies as st

from tests.unit.volume.valid import Body

Path = tuple[str | int, ...]


def nested(depth: int) -> Any:
    """Junk nested ``depth`` levels deep, alternating lists and maps."""
    value: Any = "leaf"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def nested_lists(depth: int) -> list[Any]:
    """A list of a list of ... ``depth`` levels: junk whose path reads ``[0][0][0]...``."""
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def laughs(levels: int) -> list[Any]:
    """YAML's "billion laughs": lists of the same list, ``9 ** levels`` paths to a few objects."""
    value: list[Any] = ["lol"] * 9
    for _ in range(levels):
        value = [value] * 9
    return value


BAD_DURATIONS = ["5x", "1h30", "-1s", "9" * 400 + "h", "1e5s", "", " ", "∞", "1.5.5s", "10 s", "PT5M", "s"]
BAD_QUANTITIES = ["1.2.3", "Mi", "1 Gi", "--1", "1Gb", "", "0x10", "½"]
BAD_CONDITIONS = [
    "result[0] >=",
    "results[0] > 1",
    "result not in [1]",
    "(" * 300 + "result" + ")" * 300,
    "result[0] >= {{args.threshold}}",
    "unknownFn(result)",
    "result > 1 &&",
    " ",
    "'unterminated",
    "result\x00 > 1",
    "result" + " > 1" * 2000,
    "ünïcödé > 1",
]
BAD_PLACEHOLDERS = [
    "{{args.nope}}",
    "{{args.count}}x",
    "{{ args.count }}",
    "{{args.}}",
    "{{args.service}}m",
    "5",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([2**31, 2**63, -1, 10**30, -(10**30)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "ü" * 300,
            "\u202e\u0000",
            "\U0001d568\U0001d556\U0001d553",
            "{{args.service}}",
            "25%",
            "101%",
        ]
    ),
)
junk = st.one_of(
    scalars,
    st.lists(scalars, max_size=4),
    st.dictionaries(st.text(max_size=10), scalars, max_size=4),
    st.integers(1, 200).map(nested),
)
yaml_only = st.sampled_from([dt.date(2024, 5, 1), dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)])
"""Values YAML gives that JSON does not (only `lint` reads YAML)."""
DEEP = 5000
"""Levels of junk no JSON or YAML text could carry to this code (both readers stop near 1000), only
a caller holding the dict: the code must still not recurse into it."""
deep_junk = st.sampled_from([DEEP, 2 * DEEP]).map(nested)

#: Values users get wrong at a field of that name.
BY_FIELD: dict[str, list[Any]] = {
    "duration": [*BAD_DURATIONS, -5, 10**30, 2**63, True, 1.5],
    "interval": [*BAD_DURATIONS, *BAD_PLACEHOLDERS],
    "initialDelay": [*BAD_DURATIONS, *BAD_PLACEHOLDERS],
    "cpu": BAD_QUANTITIES,
    "memory": BAD_QUANTITIES,
    "successCondition": BAD_CONDITIONS,
    "failureCondition": BAD_CONDITIONS,
    "setWeight": [-1, 101, 1000, 2**63, "50", "50%", 50.5],
    "weight": [-1, 101, 2**63, "50"],
    "replicas": [-1, 2**31, 2**63, 10**30, "3", 1.5],
    "count": [-1, 2**63, 10**30, "3", *BAD_PLACEHOLDERS],
    "failureLimit": [-1, 2**63, *BAD_PLACEHOLDERS],
    "consecutiveErrorLimit": [-1, 10**30, *BAD_PLACEHOLDERS],
    "maxSurge": ["-1%", "25", "1.5%", -1, "0%", 0, "2**70%"],
    "maxUnavailable": ["-1%", "25", -1, "0%", 0],
    "containerPort": [0, 65536, -1, "80", 2**63],
    "ports": [5, "80", {"containerPort": 80}, [None], [5]],
    "containers": [[], {}, "web", [None], [{"image": "x"}], [{"name": "Web_1", "image": "x"}]],
    "value": [5, "9" * 40, "", "-3", "1e400", "30", "{{args.service}}"],
    "templateName": ["", "missing", "ü" * 100],
    "fieldPath": ["", "spec.nope", "metadata.labels['nope']", "spec.strategy.canary.steps[99]", "[[["],
    "podTemplateHashValue": ["Stable", "Nope", ""],
    "startingStep": [-1, 99, 2**63],
    "restartAt": ["2024-05-01", "yesterday", "2024-13-01T00:00:00Z", "9999-12-31T23:59:59Z"],
    "apiVersion": ["argoproj.io/v1alpha1", "rollouts.dev/v1", "", "v1"],
    "kind": ["Rollout", "AnalysisTemplate", "ClusterAnalysisTemplate", "AnalysisRun", "Nope"],
    "query": ["", "{{args.nope}}", "{{args.service"],
    "method": ["DELETE", "get", ""],
    "name": [5, "", None, "ü" * 300, ["web"], {"web": 1}],
    "namespace": [5, "", None, ["default"]],
    "selector": [{}, {"matchLabels": {}}, {1: "web"}, {"app": ["web"]}, None, "app=web"],
    "labels": [{}, {"app": 5}, {1: "web", "app": "web"}, ["app"], None],
}
UNKNOWN_KEYS = st.sampled_from(
    ["bogus", "setweight", "experiment", "antiAffinity", "workloadRef", "alb", "kayenta", "dryRun", "ü", ""]
)


def paths(obj: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every place in ``obj`` a value sits at: map keys and list indexes, outermost first; not
    inside junk an earlier mutation nested deeper than any manifest."""
    if len(prefix) > 30:
        return
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield (*prefix, key)
            yield from paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            yield (*prefix, index)
            yield from paths(value, (*prefix, index))


def _parent(obj: Any, path: Path) -> Any:
    for part in path[:-1]:
        obj = obj[part]
    return obj


@st.composite
def mutated(draw: st.DrawFn, body: Body, *, yaml: bool = False, deep: bool = False) -> Body:
    """``body`` with one to three mutations, each at a place of it (or of an earlier mutation):
    with ``yaml``, values only YAML gives too; with ``deep``, junk :data:`DEEP` levels deep."""
    result = copy.deepcopy(body)
    values = st.one_of(junk, *([yaml_only] if yaml else []), *([deep_junk] if deep else []))
    for _ in range(draw(st.integers(1, 3))):
        places = list(paths(result))
        if not places:
            return result
        known = sorted({p[-1] for p in places if isinstance(p[-1], str) and p[-1] in BY_FIELD})
        if known and draw(st.integers(0, 2)):  # two in three: a value users get wrong at that field
            name = draw(st.sampled_from(known))  # each field as likely, however often it occurs
            path = draw(st.sampled_from([p for p in places if p[-1] == name]))
            _parent(result, path)[name] = draw(st.sampled_from(BY_FIELD[name]))
            continue
        path = draw(st.sampled_from(places))
        parent, last = _parent(result, path), path[-1]
        action = draw(st.sampled_from(["replace", "replace", "delete", "unknown", "wrap"]))
        if action == "replace":
            parent[last] = draw(values)
        elif action == "delete":
            del parent[last]
        elif action == "unknown" and isinstance(parent, dict):
            parent[draw(UNKNOWN_KEYS)] = draw(values)
        else:
            parent[last] = [parent[last]] if draw(st.booleans()) else {"value": parent[last]}
    return result


def every_field_broken(body: Body, *, deep: bool = False) -> Iterator[tuple[Path, Any, Body]]:
    """``body`` with each place of a known field given each bad value, and each place removed (with
    ``deep``, each place also given junk :data:`DEEP` levels deep and a "billion laughs"): (where,
    the value or its name, the broken copy). Exhaustive, so a regression of one field's handling
    fails every run, whatever the random search happens to try."""
    for path in paths(body):
        broken = copy.deepcopy(body)
        del _parent(broken, path)[path[-1]]
        yield path, "<removed>", broken
        if deep:
            for name, junk_value in (
                (f"<nested {DEEP} deep>", nested(DEEP)),
                ("<billion laughs>", laughs(9)),
            ):
                broken = copy.deepcopy(body)
                _parent(broken, path)[path[-1]] = junk_value
                yield path, name, broken
        for value in BY_FIELD.get(path[-1], []) if isinstance(path[-1], str) else []:
            broken = copy.deepcopy(body)
            _parent(broken, path)[path[-1]] = copy.deepcopy(value)
            yield path, value, broken
