"""Durations, int-or-percent and label selectors, as Kubernetes and Argo Rollouts define them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rollouts.api import LabelSelector, parse_duration, scaled_value


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (0, 0),
        (30, 30),
        ("0", 0),
        ("30s", 30),
        ("5m", 300),
        ("1h", 3600),
        ("1h30m", 5400),
        ("1m30s", 90),
        ("500ms", 0.5),
        ("1.5h", 5400),
    ],
)
def test_durations_parse(value: int | str, seconds: float) -> None:
    assert parse_duration(value) == timedelta(seconds=seconds)


@pytest.mark.parametrize("value", ["", "5", "5 m", "m", "1d", "-5s", "5m junk", -1, True])
def test_bad_durations_say_which_forms_work(value: int | str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


@pytest.mark.parametrize("value", [10**30, 2**63, "9" * 400 + "h", "2562048h", "99999999999999999999s"])
def test_durations_past_gos_longest_are_refused_not_overflowed(value: int | str) -> None:
    # Found by tests/unit/volume: these raised OverflowError out of lint and the controller's parse.
    with pytest.raises(ValueError, match=r"longer than the longest duration \(2562047h"):
        parse_duration(value)


def test_gos_longest_duration_itself_parses() -> None:
    assert parse_duration("2562047h").total_seconds() == 2562047 * 3600


@pytest.mark.parametrize(
    ("value", "total", "round_up", "expected"),
    [
        (3, 10, True, 3),
        (3, 10, False, 3),
        (0, 10, True, 0),
        ("25%", 10, True, 3),
        ("25%", 10, False, 2),
        ("20%", 10, True, 2),
        ("20%", 10, False, 2),
        ("0%", 10, True, 0),
        ("100%", 7, False, 7),
        ("1%", 1, True, 1),
        ("1%", 1, False, 0),
        ("33%", 3, True, 1),
        ("33%", 3, False, 0),
        ("150%", 4, True, 6),
        (" 50% ", 5, True, 3),
        ("25%", 0, True, 0),
    ],
)
def test_scaled_value_rounds_like_kubernetes(
    value: int | str, total: int, round_up: bool, expected: int
) -> None:
    assert scaled_value(value, total, round_up=round_up) == expected


@pytest.mark.parametrize("value", ["3", "abc%", "-5%", -1, "2.5%", True, ""])
def test_scaled_value_rejects_what_kubernetes_rejects(value: int | str) -> None:
    with pytest.raises(ValueError, match=r"percentage|negative"):
        scaled_value(value, 10, round_up=True)


def test_label_selector_matching_and_string_form() -> None:
    selector = LabelSelector.model_validate(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["front", "edge"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "team", "operator": "Exists"},
                {"key": "env", "operator": "NotIn", "values": ["dev"]},
            ],
        }
    )
    assert selector.matches({"app": "web", "tier": "front", "team": "a"})
    assert not selector.matches({"app": "web", "tier": "front", "team": "a", "canary": "1"})
    assert not selector.matches({"app": "web", "tier": "back", "team": "a"})
    assert not selector.matches({"app": "web", "tier": "front", "team": "a", "env": "dev"})
    assert not selector.matches({"app": "api", "tier": "front", "team": "a"})
    assert selector.to_selector_string() == "app=web,tier in (edge,front),!canary,team,env notin (dev)"
    assert LabelSelector().is_empty()
