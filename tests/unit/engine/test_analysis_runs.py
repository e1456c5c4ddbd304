"""Building the AnalysisRun a Rollout asks for: metrics, args, labels, owner, and every user error."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from rollouts.api import AnalysisRun, AnalysisTemplate, ClusterAnalysisTemplate, Rollout
from rollouts.api.analysis import DryRun, MeasurementRetention
from rollouts.api.enums import AnalysisPhase
from rollouts.api.rollout_analysis import AnalysisRunMetadata, RolloutAnalysis
from rollouts.engine.analysis_runs import (
    AnalysisRunError,
    build_analysis_run,
    observe_analysis_run,
)
from rollouts.engine.plan import CreateAnalysisRun
from rollouts.engine.snapshot import AnalysisRunKind, ObservedAnalysisRun

STABLE, LATEST = "stablehash1", "latesthash2"


def rollout(*, stable: str | None = STABLE) -> Rollout:
    body: dict[str, Any] = {
        "metadata": {"name": "web", "namespace": "shop", "uid": "uid-123", "labels": {"team": "payments"}},
        "spec": {
            "replicas": 4,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "web:2"}]},
            },
            "strategy": {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}]}},
        },
    }
    if stable:
        body["status"] = {"stableRS": stable}
    return Rollout.model_validate(body)


def metric(name: str, query: str = "up") -> dict[str, Any]:
    return {
        "name": name,
        "successCondition": "result[0] >= 0.95",
        "provider": {"prometheus": {"address": "http://prom:9090", "query": query}},
    }


def template(
    name: str, *metrics: dict[str, Any], args: list[dict[str, Any]] | None = None, **spec: Any
) -> Any:
    body: dict[str, Any] = {"metadata": {"name": name}, "spec": {"metrics": list(metrics), **spec}}
    if args is not None:
        body["spec"]["args"] = args
    return AnalysisTemplate.model_validate(body)


def cluster_template(name: str, *metrics: dict[str, Any]) -> ClusterAnalysisTemplate:
    return ClusterAnalysisTemplate.model_validate(
        {"metadata": {"name": name}, "spec": {"metrics": list(metrics)}}
    )


def action(
    *refs: str | tuple[str, bool],
    args: list[dict[str, Any]] | None = None,
    kind: AnalysisRunKind = AnalysisRunKind.STEP,
    step_index: int | None = 2,
) -> CreateAnalysisRun:
    templates = [
        {"templateName": r, "clusterScope": False}
        if isinstance(r, str)
        else {"templateName": r[0], "clusterScope": r[1]}
        for r in refs
    ]
    analysis = RolloutAnalysis.model_validate({"templates": templates, "args": args})
    return CreateAnalysisRun(
        name=f"web-{LATEST}-{kind.value}-1",
        kind=kind,
        pod_template_hash=LATEST,
        analysis=analysis,
        step_index=step_index,
    )


def dumped(run: AnalysisRun) -> dict[str, Any]:
    return run.model_dump(by_alias=True, exclude_none=True, mode="json")


def args_of(run: AnalysisRun) -> dict[str, Any]:
    return {a["name"]: a.get("value", a.get("valueFrom")) for a in dumped(run)["spec"].get("args", [])}


def test_run_has_name_namespace_labels_and_controller_owner() -> None:
    run = build_analysis_run(
        rollout=rollout(), action=action("rate"), templates=[template("rate", metric("m"))]
    )
    body = dumped(run)
    assert body["apiVersion"] == "rollouts.dev/v1alpha1" and body["kind"] == "AnalysisRun"
    assert body["metadata"]["name"] == f"web-{LATEST}-step-1"
    assert body["metadata"]["namespace"] == "shop"
    assert body["metadata"]["labels"] == {
        "rollouts-pod-template-hash": LATEST,
        "rollouts.dev/analysis-kind": "step",
        "rollouts.dev/step-index": "2",
        "rollouts.dev/rollout": "web",
    }
    assert body["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "rollouts.dev/v1alpha1",
            "kind": "Rollout",
            "name": "web",
            "uid": "uid-123",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    # What we create is what the API accepts back.
    assert AnalysisRun.model_validate(body) == run


@pytest.mark.parametrize("kind", [AnalysisRunKind.BACKGROUND, AnalysisRunKind.PRE, AnalysisRunKind.POST])
def test_non_step_runs_carry_their_kind_and_no_step_index(kind: AnalysisRunKind) -> None:
    run = build_analysis_run(
        rollout=rollout(),
        action=action("rate", kind=kind, step_index=None),
        templates=[template("rate", metric("m"))],
    )
    labels = run.metadata.labels or {}
    assert labels["rollouts.dev/analysis-kind"] == kind.value
    assert "rollouts.dev/step-index" not in labels


def test_metrics_of_several_templates_are_merged_in_reference_order() -> None:
    run = build_analysis_run(
        rollout=rollout(),
        action=action("a", ("shared", True)),
        templates=[
            template("a", metric("errors"), metric("latency")),
            cluster_template("shared", metric("saturation")),
        ],
    )
    assert [m.name for m in run.spec.metrics] == ["errors", "latency", "saturation"]


def test_duplicate_metric_across_templates_names_both_templates() -> None:
    with pytest.raises(AnalysisRunError) as err:
        build_analysis_run(
            rollout=rollout(),
            action=action("a", "b"),
            templates=[template("a", metric("errors")), template("b", metric("errors"))],
        )
    text = str(err.value)
    assert "'errors'" in text and "AnalysisTemplate 'a'" in text and "AnalysisTemplate 'b'" in text
    assert "spec.strategy.canary.steps[2].analysis" in text and "rename" in text


def test_missing_template_names_the_reference_and_the_fix() -> None:
    with pytest.raises(
        AnalysisRunError, match=r"templates\[0\]: AnalysisTemplate 'nope' does not exist.*clusterScope"
    ):
        build_analysis_run(
            rollout=rollout(), action=action("nope"), templates=[cluster_template("nope", metric("m"))]
        )


def test_cluster_scope_reference_does_not_pick_a_namespaced_template_of_the_same_name() -> None:
    with pytest.raises(AnalysisRunError, match="ClusterAnalysisTemplate 'rate' does not exist"):
        build_analysis_run(
            rollout=rollout(), action=action(("rate", True)), templates=[template("rate", metric("m"))]
        )


def test_args_resolved_from_rollout_value_hash_and_field() -> None:
    declared = [{"name": n} for n in ("service", "stable", "latest", "rollout", "team", "replicas")]
    run = build_analysis_run(
        rollout=rollout(),
        action=action(
            "rate",
            args=[
                {"name": "service", "value": "web-canary"},
                {"name": "stable", "valueFrom": {"podTemplateHashValue": "Stable"}},
                {"name": "latest", "valueFrom": {"podTemplateHashValue": "Latest"}},
                {"name": "rollout", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "team", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['team']"}}},
                {"name": "replicas", "valueFrom": {"fieldRef": {"fieldPath": "spec.replicas"}}},
            ],
        ),
        templates=[template("rate", metric("m"), args=declared)],
    )
    assert args_of(run) == {
        "service": "web-canary",
        "stable": STABLE,
        "latest": LATEST,
        "rollout": "web",
        "team": "payments",
        "replicas": "4",
    }


def test_template_defaults_apply_and_rollout_args_override_them() -> None:
    declared = [{"name": "window", "value": "5m"}, {"name": "quantile", "value": "0.99"}]
    run = build_analysis_run(
        rollout=rollout(),
        action=action("rate", args=[{"name": "window", "value": "1m"}]),
        templates=[template("rate", metric("m"), args=declared)],
    )
    assert args_of(run) == {"window": "1m", "quantile": "0.99"}


def test_secret_args_stay_references_for_the_analysis_run_controller() -> None:
    declared = [{"name": "token", "valueFrom": {"secretKeyRef": {"name": "prom-auth", "key": "token"}}}]
    run = build_analysis_run(
        rollout=rollout(), action=action("rate"), templates=[template("rate", metric("m"), args=declared)]
    )
    assert args_of(run) == {"token": {"secretKeyRef": {"name": "prom-auth", "key": "token"}}}


def test_template_field_ref_is_read_from_the_rollout() -> None:
    declared = [{"name": "ns", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}]
    run = build_analysis_run(
        rollout=rollout(), action=action("rate"), templates=[template("rate", metric("m"), args=declared)]
    )
    assert args_of(run) == {"ns": "shop"}


def test_arg_without_value_says_where_to_set_it() -> None:
    with pytest.raises(AnalysisRunError, match=r"argument 'service' has no value; add \{name: service"):
        build_analysis_run(
            rollout=rollout(),
            action=action("rate"),
            templates=[template("rate", metric("m"), args=[{"name": "service"}])],
        )


def test_rollout_arg_the_templates_do_not_declare_is_a_typo_error() -> None:
    with pytest.raises(AnalysisRunError, match=r"args\[0\]: 'sevice' is not an argument .*declare: service"):
        build_analysis_run(
            rollout=rollout(),
            action=action("rate", args=[{"name": "sevice", "value": "x"}]),
            templates=[template("rate", metric("m"), args=[{"name": "service", "value": "y"}])],
        )


def test_conflicting_defaults_across_templates_are_an_error() -> None:
    with pytest.raises(AnalysisRunError, match="argument 'window' has a different default"):
        build_analysis_run(
            rollout=rollout(),
            action=action("a", "b"),
            templates=[
                template("a", metric("m1"), args=[{"name": "window", "value": "1m"}]),
                template("b", metric("m2"), args=[{"name": "window", "value": "5m"}]),
            ],
        )


def test_same_arg_declared_by_two_templates_merges_when_they_agree() -> None:
    run = build_analysis_run(
        rollout=rollout(),
        action=action("a", "b"),
        templates=[
            template("a", metric("m1"), args=[{"name": "window"}]),
            template("b", metric("m2"), args=[{"name": "window", "value": "5m"}]),
        ],
    )
    assert args_of(run) == {"window": "5m"}


def test_stable_hash_before_any_stable_revision_is_an_error() -> None:
    with pytest.raises(AnalysisRunError, match="Stable but the Rollout has no stable revision"):
        build_analysis_run(
            rollout=rollout(stable=None),
            action=action("rate", args=[{"name": "h", "valueFrom": {"podTemplateHashValue": "Stable"}}]),
            templates=[template("rate", metric("m"), args=[{"name": "h"}])],
        )


def test_bad_field_path_names_the_arg_and_the_missing_part() -> None:
    with pytest.raises(AnalysisRunError, match=r"args\[0\]\.valueFrom\.fieldRef\.fieldPath.*no field 'nope'"):
        build_analysis_run(
            rollout=rollout(),
            action=action(
                "rate",
                args=[{"name": "h", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['nope']"}}}],
            ),
            templates=[template("rate", metric("m"), args=[{"name": "h"}])],
        )


def test_dry_run_and_retention_rules_are_carried_over() -> None:
    run = build_analysis_run(
        rollout=rollout(),
        action=action("rate"),
        templates=[
            template(
                "rate",
                metric("m"),
                dryRun=[{"metricName": "m"}],
                measurementRetention=[{"metricName": "m", "limit": 3}],
            )
        ],
    )
    assert [r.metric_name for r in run.spec.dry_run or []] == ["m"]
    assert [(r.metric_name, r.limit) for r in run.spec.measurement_retention or []] == [("m", 3)]


def test_ttl_strategy_is_carried_over_and_two_different_ones_are_refused() -> None:
    ttl = {"secondsAfterSuccess": 60}
    found = [template("rate", metric("m"), ttlStrategy=ttl), template("latency", metric("p99"))]
    run = build_analysis_run(rollout=rollout(), action=action("rate", "latency"), templates=found)
    assert run.spec.ttl_strategy is not None and run.spec.ttl_strategy.seconds_after_success == 60
    found[1] = template("latency", metric("p99"), ttlStrategy={"secondsAfterSuccess": 5})
    with pytest.raises(AnalysisRunError, match="set different ttlStrategy values"):
        build_analysis_run(rollout=rollout(), action=action("rate", "latency"), templates=found)


def test_the_rollouts_dry_run_retention_and_metadata_are_added_to_the_templates() -> None:
    act = action("rate")
    block = act.analysis.model_copy(
        update={
            "dry_run": [DryRun(metric_name="p99")],
            "measurement_retention": [MeasurementRetention(metric_name="m", limit=20)],
            "analysis_run_metadata": AnalysisRunMetadata(
                labels={"team": "pay"}, annotations={"ticket": "42"}
            ),
        }
    )
    tpl = template(
        "rate", metric("m"), metric("p99"), measurementRetention=[{"metricName": ".*", "limit": 3}]
    )
    run = build_analysis_run(rollout=rollout(), action=replace(act, analysis=block), templates=[tpl])
    assert [r.metric_name for r in run.spec.dry_run or []] == ["p99"]
    assert [(r.metric_name, r.limit) for r in run.spec.measurement_retention or []] == [("m", 20), (".*", 3)]
    assert run.metadata.labels is not None and run.metadata.labels["team"] == "pay"
    assert run.metadata.labels["rollouts.dev/rollout"] == "web"  # the controller's own labels stay
    assert run.metadata.annotations == {"ticket": "42"}


def test_analysis_run_metadata_may_not_take_the_controllers_labels() -> None:
    with pytest.raises(ValueError, match=r"labels \['rollouts.dev/rollout'\] are the controller's"):
        AnalysisRunMetadata(labels={"rollouts.dev/rollout": "other"})


def test_observe_reads_back_what_build_wrote() -> None:
    run = build_analysis_run(
        rollout=rollout(), action=action("rate"), templates=[template("rate", metric("m"))]
    )
    body = dumped(run)
    body["status"] = {"phase": "Failed", "message": 'metric "m" assessed Failed'}
    body["spec"]["terminate"] = True
    observed = observe_analysis_run(AnalysisRun.model_validate(body))
    assert observed == ObservedAnalysisRun(
        name=f"web-{LATEST}-step-1",
        kind=AnalysisRunKind.STEP,
        phase=AnalysisPhase.FAILED,
        pod_template_hash=LATEST,
        step_index=2,
        message='metric "m" assessed Failed',
        terminating=True,
    )


def test_observe_ignores_a_run_without_our_labels() -> None:
    hand_made = AnalysisRun.model_validate({"metadata": {"name": "x"}, "spec": {"metrics": [metric("m")]}})
    assert observe_analysis_run(hand_made) is None
