"""``kubectl rollouts convert``: Argo kinds change their apiVersion in place, everything else stays,
and what lint finds in the result heads it as comments."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.unit.cli.cli import cli

ARGO = Path(__file__).parent / "manifests" / "argo" / "checkout.yaml"
EXAMPLES = Path(__file__).parents[3] / "examples"


def test_only_the_api_version_lines_of_argo_kinds_change() -> None:
    result = cli("convert", "-f", str(ARGO))
    original = ARGO.read_text().splitlines()
    body = [line for line in result.out.splitlines() if not line.startswith("# kubectl rollouts convert")]
    body = [line for line in body if not line.startswith(("# /", "# lint:"))]
    changed = [(a, b) for a, b in zip(original, body, strict=True) if a != b]
    assert changed == [
        (
            "apiVersion: argoproj.io/v1alpha1   # keep this comment",
            "apiVersion: rollouts.dev/v1alpha1   # keep this comment",
        ),
        ('apiVersion: "argoproj.io/v1alpha1"', 'apiVersion: "rollouts.dev/v1alpha1"'),
    ]
    kinds = [(d["kind"], d["apiVersion"]) for d in yaml.safe_load_all(result.out)]
    assert kinds == [
        ("Service", "v1"),
        ("AnalysisTemplate", "rollouts.dev/v1alpha1"),
        ("Rollout", "rollouts.dev/v1alpha1"),
        ("Experiment", "argoproj.io/v1alpha1"),  # no such kind here: left for Argo
    ]


def test_what_needs_a_hand_is_reported_in_comments_and_exits_1() -> None:
    result = cli("convert", "-f", str(ARGO))
    assert result.code == 1
    header = [line for line in result.out.splitlines() if line.startswith("# ")][:4]
    assert "kube-rollouts has no Experiment; left as it is" in header[1]
    assert "`spec.strategy.canary.pingPong` is not supported yet" in header[2]
    assert header[3] == "# lint: 1 problem in 1 of 3 documents"


def test_a_manifest_that_converts_cleanly_exits_0_and_passes_lint(tmp_path: Path) -> None:
    text = ARGO.read_text()
    text = text.replace(
        "      pingPong:\n        pingService: checkout-ping\n        pongService: checkout-pong\n", ""
    )
    text = text.split("---\napiVersion: argoproj.io/v1alpha1\nkind: Experiment")[0]
    source = tmp_path / "argo.yaml"
    source.write_text(text)
    target = tmp_path / "converted.yaml"
    result = cli("convert", "-f", str(source), "-o", str(target))
    assert result.code == 0 and result.out == ""
    assert cli("lint", "-f", str(target)).code == 0
    assert target.read_text().splitlines()[1] == "# lint: 3 documents, no problems"


def test_one_output_file_for_several_inputs_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    target = tmp_path / "out.yaml"
    result = cli("convert", "-f", str(ARGO), "-f", str(ARGO), "-o", str(target))
    assert result.code != 0 and not target.exists()
    assert "is one file but 2 files were given; name a directory" in result.err
