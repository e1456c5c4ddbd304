"""Label selectors read as the API server reads them (what an informer keeps of its own writes)."""

from __future__ import annotations

import pytest

from rollouts.kube.selectors import selector_matches

LABELS = {"app": "web", "tier": "front", "rollouts.dev/instance": "a"}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        (None, True),
        ("", True),
        ("app", True),
        ("missing", False),
        ("!missing", True),
        ("!app", False),
        ("app=web", True),
        ("app==web", True),
        ("app=api", False),
        ("app!=api", True),
        ("app!=web", False),
        ("missing!=x", True),
        ("app in (api, web)", True),
        ("app in (api)", False),
        ("app notin (api)", True),
        ("missing notin (api)", True),
        ("app notin (web,api)", False),
        ("app=web,tier=front", True),
        ("app=web, tier=back", False),
        ("rollouts.dev/instance=a", True),
        ("!rollouts.dev/instance", False),
        ("app=web,!rollouts.dev/instance", False),
    ],
)
def test_equality_and_set_requirements_all_hold(selector: str | None, expected: bool) -> None:
    assert selector_matches(selector, LABELS) is expected


def test_no_labels_match_only_absence_and_inequality() -> None:
    assert selector_matches("!rollouts.dev/instance", None)
    assert selector_matches("app!=web", {})
    assert not selector_matches("app", None)
    assert not selector_matches("app in (web)", {})
