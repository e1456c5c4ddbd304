"""Timestamps read from raw objects, and the ownerReference every created object carries to its Rollout."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from rollouts.api import Rollout, parse_timestamp, rollout_owner_reference


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, tzinfo=UTC)),
        ("2024-05-01T14:00:00+02:00", datetime(2024, 5, 1, 14, tzinfo=timezone(timedelta(hours=2)))),
        ("2024-05-01T12:00:00.5Z", datetime(2024, 5, 1, 12, 0, 0, 500000, tzinfo=UTC)),
        ("2024-05-01T12:00:00", None),  # no zone: ambiguous, treated as missing
        ("tomorrow", None),
        ("", None),
        (None, None),
    ],
)
def test_timestamps_parse_or_read_as_missing(value: str | None, parsed: datetime | None) -> None:
    assert parse_timestamp(value) == parsed


def _rollout(**metadata: Any) -> Rollout:
    return Rollout.model_validate(
        {
            "metadata": metadata,
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "web:1"}]},
                },
                "strategy": {"canary": {}},
            },
        }
    )


def test_owner_reference_is_a_controller_reference_to_this_very_rollout() -> None:
    assert rollout_owner_reference(_rollout(name="web", namespace="shop", uid="u-1")) == {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "Rollout",
        "name": "web",
        "uid": "u-1",
        "controller": True,
        "blockOwnerDeletion": True,
    }


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"name": "web"}, r"Rollout 'web' has no metadata\.uid; .* as read from the API server"),
        ({"uid": "u-1"}, r"Rollout '\(unnamed\)' has no metadata\.name and metadata\.uid"),
    ],
)
def test_owner_reference_without_identity_says_what_is_missing(
    metadata: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        rollout_owner_reference(_rollout(**metadata))
