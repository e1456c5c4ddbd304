"""``lint`` of templates whose metric count, limits and durations are ``{{args.NAME}}``: a migrated Argo
manifest passes; an undeclared name or a bad default is the template's problem, a bad value the
Rollout passes is the Rollout's, and each is reported once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.unit.cli.cli import cli

MANIFESTS = Path(__file__).parent / "manifests"
ARGO = MANIFESTS / "argo-templated-args.yaml"


def migrated() -> list[dict[str, Any]]:
    """The Argo manifest with only its apiVersion changed."""
    text = ARGO.read_text().replace("apiVersion: argoproj.io/v1alpha1", "apiVersion: rollouts.dev/v1alpha1")
    return [doc for doc in yaml.safe_load_all(text) if doc]


def lint(tmp_path: Path, docs: list[dict[str, Any]]) -> tuple[int, list[str]]:
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    result = cli("lint", "-f", str(path), "--no-color")
    return result.code, [line for line in result.out.splitlines() if line.startswith("error")]


def template_metric(docs: list[dict[str, Any]]) -> dict[str, Any]:
    metric: dict[str, Any] = docs[1]["spec"]["metrics"][0]
    return metric


def test_an_argo_template_with_templated_count_and_interval_passes_after_the_api_version_change(
    tmp_path: Path,
) -> None:
    before = cli("lint", "-f", str(ARGO), "--no-color")
    assert before.code == 1
    errors = [line for line in before.out.splitlines() if line.startswith("error")]
    assert len(errors) == 2 and all("`apiVersion` is argoproj.io/v1alpha1" in e for e in errors), before.out
    docs = migrated()
    assert template_metric(docs)["count"] == "{{args.count}}"
    assert template_metric(docs)["interval"] == "{{args.interval}}"
    assert lint(tmp_path, docs) == (0, [])


def test_plan_measures_with_the_values_the_run_gets(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump_all(migrated(), sort_keys=False))
    result = cli("plan", "-f", str(path), "--no-color")
    assert result.code == 0, result.out + result.err
    # step 1 passes count 4, interval 2m; step 3 uses the defaults 10 and 1m; both wait 30s first
    assert "analysis: error-budget" in result.out and "6m30s" in result.out and "9m30s" in result.out


def test_a_template_alone_passes_when_its_placeholders_name_its_args(tmp_path: Path) -> None:
    docs = migrated()[1:]
    for arg in docs[0]["spec"]["args"]:
        arg.pop("value", None)  # no defaults: every value will come from the Rollouts
    assert lint(tmp_path, docs) == (0, [])


def test_a_placeholder_naming_no_argument_of_the_template_is_an_error_on_the_template(tmp_path: Path) -> None:
    docs = migrated()
    template_metric(docs)["failureLimit"] = "{{args.failure-limt}}"
    code, errors = lint(tmp_path, docs)
    assert code == 1
    assert len(errors) == 1, errors
    assert errors[0].endswith(
        "(document 2, AnalysisTemplate error-budget): `spec.metrics[0].failureLimit`: "
        "'{{args.failure-limt}}' names argument 'failure-limt', which this template does not declare "
        "(its args: service, count, interval, warmup-seconds, failure-limit); add "
        "{name: failure-limt} to spec.args, or fix the name"
    )


def test_a_bad_default_is_an_error_on_the_template_only(tmp_path: Path) -> None:
    docs = migrated()
    docs[1]["spec"]["args"][4]["value"] = "one"  # failure-limit; neither analysis block passes another
    code, errors = lint(tmp_path, docs)
    assert code == 1
    assert len(errors) == 1, errors
    assert "(document 2, AnalysisTemplate error-budget): `spec.metrics[0].failureLimit`: " in errors[0]
    assert (
        "'{{args.failure-limit}}' gives 'one' (set in spec.args[4]), which is not a whole number" in errors[0]
    )


def test_a_count_without_interval_is_checked_with_each_value(tmp_path: Path) -> None:
    docs = migrated()
    del template_metric(docs)["interval"]
    code, errors = lint(tmp_path, docs)
    assert code == 1 and len(errors) == 2, errors
    # the 4 step 1 passes; and the template's default (10), which step 3 uses: reported once, there
    assert "Rollout checkout): `spec.strategy.canary.steps[1].analysis`: AnalysisTemplate" in errors[0]
    assert "count '{{args.count}}' gives '4'" in errors[0]
    assert "AnalysisTemplate error-budget): `spec.metrics[0].count`: '{{args.count}}' gives '10'" in errors[1]
    assert all("but interval is not set; set an interval such as 1m" in e for e in errors)


def test_a_bad_value_the_rollout_passes_is_an_error_on_the_rollout(tmp_path: Path) -> None:
    docs = migrated()
    docs[0]["spec"]["strategy"]["canary"]["steps"][1]["analysis"]["args"][2]["value"] = "2 minutes"
    code, errors = lint(tmp_path, docs)
    assert code == 1
    assert errors == [
        f"error  {tmp_path / 'm.yaml'}:1 (document 1, Rollout checkout): "
        "`spec.strategy.canary.steps[1].analysis`: AnalysisTemplate 'error-budget' metric 'error-ratio': "
        "interval '{{args.interval}}' gives '2 minutes' (set in the Rollout's "
        "spec.strategy.canary.steps[1].analysis.args[2]), which is not a duration; make the value of "
        "interval a duration such as 30s, 5m or 1h"
    ]


def test_a_secret_cannot_fill_a_count(tmp_path: Path) -> None:
    docs = migrated()
    docs[1]["spec"]["args"][1] = {"name": "count", "valueFrom": {"secretKeyRef": {"name": "s", "key": "n"}}}
    code, errors = lint(tmp_path, docs)
    assert code == 1
    # on the template; the first block passes its own count, the second uses the Secret: not reported again
    assert len(errors) == 1, errors
    assert (
        "AnalysisTemplate error-budget): `spec.metrics[0].count`: '{{args.count}}' names argument"
        in errors[0]
    )
    assert "a Secret's value is never written into an AnalysisRun" in errors[0]


def test_a_missing_argument_used_by_a_count_is_reported_once(tmp_path: Path) -> None:
    docs = migrated()
    del docs[1]["spec"]["args"][1]["value"]  # count: the second analysis block does not pass it
    code, errors = lint(tmp_path, docs)
    assert code == 1 and len(errors) == 1, errors
    assert (
        "`spec.strategy.canary.steps[3].analysis.args`: AnalysisTemplate error-budget needs argument "
        in errors[0]
    )


def test_a_count_from_a_field_only_the_cluster_knows_is_not_checked_offline(tmp_path: Path) -> None:
    docs = migrated()
    docs[1]["spec"]["args"][1] = {
        "name": "count",
        "valueFrom": {"fieldRef": {"fieldPath": "metadata.annotations['checks']"}},
    }
    assert lint(tmp_path, docs) == (0, [])
