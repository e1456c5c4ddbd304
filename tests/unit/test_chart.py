"""The Helm chart ships exactly the generated CRDs (`make crds` copies them)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_chart_crds_are_the_generated_ones() -> None:
    generated = {p.name: p.read_text() for p in (REPO / "crds").glob("*.yaml")}
    shipped = {p.name: p.read_text() for p in (REPO / "charts" / "kube-rollouts" / "crds").glob("*.yaml")}
    assert shipped == generated, "charts/kube-rollouts/crds/ is stale: run `make crds`"
