"""docs/migration.md lists exactly the Argo Rollouts fields the API models refuse as unsupported.

Each model's ``UNSUPPORTED`` set is what users get "`field` is not supported yet" for; the page's
table row for that model (``(ModelName)`` in its first cell) must name the same fields, so adding
or implementing a field without updating the page fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import rollouts.api  # noqa: F401  (imports every model module)
from rollouts.api.common import ApiModel

PAGE = Path(__file__).resolve().parents[2] / "docs" / "migration.md"


def _models_with_unsupported() -> dict[str, frozenset[str]]:
    found: dict[str, frozenset[str]] = {}
    pending = list(ApiModel.__subclasses__())
    while pending:
        model = pending.pop()
        pending += model.__subclasses__()
        if model.__dict__.get("UNSUPPORTED"):
            found[model.__name__] = model.UNSUPPORTED
    return found


def _table_rows() -> dict[str, set[str]]:
    rows: dict[str, set[str]] = {}
    for line in PAGE.read_text().splitlines():
        match = re.match(r"\|[^|]*\(([A-Z]\w+)\)\s*\|([^|]*)\|\s*$", line)
        if match:
            rows[match.group(1)] = set(re.findall(r"`(\w+)`", match.group(2)))
    return rows


def test_the_page_lists_every_unsupported_field_of_every_model() -> None:
    expected = {name: set(fields) for name, fields in _models_with_unsupported().items()}
    assert expected, "no model declares UNSUPPORTED fields: the walk found nothing"
    assert _table_rows() == expected
