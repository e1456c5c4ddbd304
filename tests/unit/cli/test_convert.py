"""``kubectl rollouts convert``: Argo kinds change their apiVersion in place, everything else stays,
and what lint finds in the result heads it as comments."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
        ("apiVersion: argoproj.io/v1alpha1", "apiVersion: rollouts.dev/v1alpha1"),
    ]
    kinds = [(d["kind"], d["apiVersion"]) for d in yaml.safe_load_all(result.out)]
    assert kinds == [
        ("Service", "v1"),
        ("AnalysisTemplate", "rollouts.dev/v1alpha1"),
        ("Rollout", "rollouts.dev/v1alpha1"),
        ("Experiment", "rollouts.dev/v1alpha1"),
    ]


def test_what_needs_a_hand_is_reported_in_comments_and_exits_1() -> None:
    result = cli("convert", "-f", str(ARGO))
    assert result.code == 1
    header = [line for line in result.out.splitlines() if line.startswith("# ")][:3]
    assert "`spec.strategy.canary.pingPong`: pingPong needs Istio trafficRouting" in header[1]
    assert header[2] == "# lint: 1 problem in 1 of 4 documents"


def test_a_kind_kube_rollouts_does_not_have_is_left_as_it_is(tmp_path: Path) -> None:
    source = tmp_path / "other.yaml"
    source.write_text("apiVersion: argoproj.io/v1alpha1\nkind: RolloutSet\nmetadata:\n  name: x\n")
    result = cli("convert", "-f", str(source))
    assert "kube-rollouts has no RolloutSet; left as it is" in result.out
    assert "apiVersion: argoproj.io/v1alpha1" in result.out.splitlines()


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


FLAGGER = Path(__file__).parent / "manifests" / "flagger"


def _converted(path: Path, tmp_path: Path) -> tuple[int, list[dict[str, object]], Path]:
    target = tmp_path / f"converted-{path.name}"
    result = cli("convert", "-f", str(path), "-o", str(target))
    return result.code, [d for d in yaml.safe_load_all(target.read_text()) if d], target


def _by_kind(docs: list[dict[str, object]]) -> dict[tuple[str, str], dict[str, object]]:
    return {(str(d["kind"]), str(d["metadata"]["name"])): d for d in docs}  # type: ignore[index]


def test_a_flagger_nginx_canary_becomes_a_rollout_with_services_and_templates_that_pass_lint(
    tmp_path: Path,
) -> None:
    code, docs, target = _converted(FLAGGER / "shop-nginx.yaml", tmp_path)
    assert code == 0
    assert cli("lint", "-f", str(target)).code == 0
    kinds = _by_kind(docs)
    assert set(kinds) == {
        ("Ingress", "storefront"),  # the user's, kept as it is
        ("Service", "storefront"),
        ("Service", "storefront-canary"),
        ("AnalysisTemplate", "storefront-request-success-rate"),
        ("AnalysisTemplate", "storefront-request-duration"),
        ("AnalysisTemplate", "storefront-checkout-errors"),
        ("Rollout", "storefront"),
        ("HorizontalPodAutoscaler", "storefront"),
    }  # the Canary, the Deployment and the MetricTemplate are replaced
    rollout: Any = kinds[("Rollout", "storefront")]
    assert rollout["apiVersion"] == "rollouts.dev/v1alpha1"
    assert (rollout["spec"]["replicas"], rollout["spec"]["minReadySeconds"]) == (4, 5)
    assert rollout["spec"]["progressDeadlineSeconds"] == 120
    canary = rollout["spec"]["strategy"]["canary"]
    assert (canary["stableService"], canary["canaryService"]) == ("storefront", "storefront-canary")
    assert canary["trafficRouting"] == {"nginx": {"stableIngress": "storefront"}}
    # stepWeight 15 up to maxWeight 30, each held for one analysis interval
    assert canary["steps"] == [
        {"setWeight": 15},
        {"pause": {"duration": "30s"}},
        {"setWeight": 30},
        {"pause": {"duration": "30s"}},
    ]
    assert [t["templateName"] for t in canary["analysis"]["templates"]] == [
        "storefront-request-success-rate",
        "storefront-request-duration",
        "storefront-checkout-errors",
    ]
    success: Any = kinds[("AnalysisTemplate", "storefront-request-success-rate")]
    metric = success["spec"]["metrics"][0]
    assert (metric["interval"], metric["failureLimit"]) == ("1m", 2)  # threshold 3: the third failure
    assert metric["successCondition"] == "len(result) > 0 && result[0] >= 99"
    assert 'canary!=""' in metric["provider"]["prometheus"]["query"]
    assert "[1m]" in metric["provider"]["prometheus"]["query"]  # the metric's own interval
    custom: Any = kinds[("AnalysisTemplate", "storefront-checkout-errors")]
    prometheus = custom["spec"]["metrics"][0]["provider"]["prometheus"]
    assert prometheus == {
        "query": 'sum(rate(checkout_failures_total{namespace="{{args.namespace}}", app="storefront"}[30s]))',
        "address": "http://prometheus.monitoring:9090",
    }
    hpa: Any = kinds[("HorizontalPodAutoscaler", "storefront")]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "Rollout",
        "name": "storefront",
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (4, 12)
    service: Any = kinds[("Service", "storefront")]
    assert "selector" not in service["spec"]  # kube-rollouts writes it
    assert service["spec"]["ports"] == [{"name": "http", "port": 80, "targetPort": 8080}]


def test_a_flagger_istio_canary_gets_a_virtual_service_and_its_step_weights(tmp_path: Path) -> None:
    code, docs, target = _converted(FLAGGER / "api-istio.yaml", tmp_path)
    assert code == 0 and cli("lint", "-f", str(target)).code == 0
    kinds = _by_kind(docs)
    vs: Any = kinds[("VirtualService", "quotes")]
    assert vs["spec"]["hosts"] == ["quotes.internal.example.com"]
    assert vs["spec"]["gateways"] == ["mesh", "edge/public"]
    assert vs["spec"]["http"][0]["route"] == [
        {"destination": {"host": "quotes"}, "weight": 100},
        {"destination": {"host": "quotes-canary"}, "weight": 0},
    ]
    canary = kinds[("Rollout", "quotes")]["spec"]["strategy"]["canary"]  # type: ignore[index]
    assert [s["setWeight"] for s in canary["steps"] if "setWeight" in s] == [2, 10, 40]
    assert canary["trafficRouting"] == {
        "istio": {"virtualService": {"name": "quotes", "routes": ["primary"]}}
    }


def test_what_a_flagger_canary_has_no_counterpart_for_is_reported_and_exits_1(tmp_path: Path) -> None:
    text = (FLAGGER / "api-istio.yaml").read_text()
    text = text.replace(
        "    threshold: 1\n", "    threshold: 1\n    iterations: 10\n    match:\n    - headers: {}\n"
    )
    source = tmp_path / "ab.yaml"
    source.write_text(text)
    result = cli("convert", "-f", str(source))
    assert result.code == 1
    assert "spec.analysis.iterations has no kube-rollouts counterpart; left out" in result.out
    assert "spec.analysis.match has no kube-rollouts counterpart; left out" in result.out


def test_a_flagger_canary_without_its_deployment_in_the_file_is_left_and_reported(tmp_path: Path) -> None:
    text = (FLAGGER / "api-istio.yaml").read_text().split("---\n", 1)[1]
    source = tmp_path / "canary-only.yaml"
    source.write_text(text)
    result = cli("convert", "-f", str(source))
    assert result.code == 1
    assert "Deployment quotes (spec.targetRef) is not in this file" in result.out
    assert [d["kind"] for d in yaml.safe_load_all(result.out) if d] == ["Canary"]  # left as it is


def test_argos_shard_label_becomes_ours_in_place_with_advice_for_the_controller(tmp_path: Path) -> None:
    source = tmp_path / "sharded.yaml"
    source.write_text(
        "apiVersion: argoproj.io/v1alpha1\n"
        "kind: Rollout\n"
        "metadata:\n"
        "  name: web\n"
        "  labels:\n"
        "    app: web\n"
        "    'argo-rollouts.argoproj.io/controller-instance': blue   # team shard\n"
        "spec:\n"
        "  selector: {matchLabels: {app: web}}\n"
        "  template:\n"
        "    metadata: {labels: {app: web}}\n"
        "    spec: {containers: [{name: web, image: web:1}]}\n"
        "  strategy: {canary: {steps: [{setWeight: 50}]}}\n"
    )
    result = cli("convert", "-f", str(source))
    assert "    'rollouts.dev/instance': blue   # team shard\n" in result.out
    assert "run the controller that serves it with --instance-id blue" in result.out
    (rollout,) = yaml.safe_load_all(result.out)
    assert rollout["metadata"]["labels"] == {"app": "web", "rollouts.dev/instance": "blue"}
