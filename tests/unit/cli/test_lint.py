"""`kubectl rollouts lint`: examples pass; each broken manifest fails with where, which field and the fix."""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from rollouts.api import validation_errors
from rollouts.cli import manifests
from tests.unit.cli.cli import Result, cli
from tests.unit.volume.bounds import bounded

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples"
MANIFESTS = Path(__file__).parent / "manifests"


def test_examples_pass_with_one_ok_line_per_object() -> None:
    result = cli("lint", "-f", str(EXAMPLES), "--no-color")
    assert result.code == 0, result.out
    ok_lines = [line for line in result.out.splitlines() if line.startswith("ok ")]
    assert len(ok_lines) == 28
    assert any("(document 4, Rollout web)" in line for line in ok_lines)
    assert result.out.splitlines()[-1] == "28 documents, no problems"


def test_a_file_with_its_template_checks_the_template_reference() -> None:
    result = cli("lint", "-f", str(MANIFESTS / "nginx-with-template.yaml"))
    assert result.code == 0, result.out
    assert "AnalysisTemplate success-rate" in result.out


INVALID = sorted((EXAMPLES / "invalid").glob("*.yaml"))


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_each_invalid_example_fails_with_the_controllers_own_messages(path: Path) -> None:
    result = cli("lint", "-f", str(path))
    assert result.code == 1
    errors = [line for line in result.out.splitlines() if line.startswith("error")]
    assert errors, result.out
    assert f"{path}:3 (document 1, " in errors[0]
    # the same words the controller and the tests get from rollouts.api, minus the object prefix
    (body,) = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    for problem in validation_errors(body):
        assert problem.split(": ", 1)[1] in result.out


CROSS_OBJECT = [
    (
        "stable-service-typo.yaml",
        "(document 4, Rollout web): `spec.strategy.canary.stableService`: "
        "Service 'web-stabel' is not in this file (Services in it: web-canary, web-stable); "
        "fix the name or add the Service",
    ),
    (
        "service-selects-other-pods.yaml",
        "(document 2, Service web-canary): `spec.selector`: "
        "{app: webb} does not select the pods of Rollout web",
    ),
    (
        "ingress-without-stable-backend.yaml",
        "(document 3, Ingress web): `spec.rules[].http.paths[].backend.service.name`: "
        "no path routes to Service 'web-stable'",
    ),
    (
        "template-name-typo.yaml",
        "`spec.strategy.canary.steps[2].analysis.templates[0].templateName`: "
        "AnalysisTemplate 'succes-rate' is not in this file (AnalysisTemplates in it: success-rate)",
    ),
    (
        "template-arg-missing.yaml",
        "`spec.strategy.canary.steps[2].analysis.args`: "
        "AnalysisTemplate success-rate needs argument 'service-name'",
    ),
    (
        "istio-route-typo.yaml",
        "`spec.strategy.canary.trafficRouting.istio.virtualService.routes[0]`: "
        "route 'primay' is not an http route of VirtualService shop (its routes: primary)",
    ),
    (
        "istio-missing-canary-subset.yaml",
        "(document 3, DestinationRule shop): `spec.subsets`: has no subset named 'canary'",
    ),
    (
        "istio-missing-canary-subset.yaml",
        "(document 2, VirtualService shop): `spec.http[0].route`: "
        "route 'primary' has no destination with subset 'canary'",
    ),
    (
        "istio-tls-selector-typo.yaml",
        "`spec.strategy.canary.trafficRouting.istio.virtualService.tlsRoutes[0]`: selects no tls route of "
        "VirtualService payments (none has a match on port 8443 and sniHosts payments.example.com)",
    ),
    ("argo-api-version.yaml", "change it to rollouts.dev/v1alpha1"),
]


@pytest.mark.parametrize(("name", "expected"), CROSS_OBJECT, ids=[c[0] for c in CROSS_OBJECT])
def test_cross_object_problems_name_the_document_to_change(name: str, expected: str) -> None:
    result = cli("lint", "-f", str(MANIFESTS / name))
    assert result.code == 1
    assert expected in result.out, result.out


def test_a_dangling_service_is_reported_once_on_the_rollout() -> None:
    result = cli("lint", "-f", str(MANIFESTS / "stable-service-typo.yaml"))
    assert [line for line in result.out.splitlines() if line.startswith("error")] == [
        line
        for line in result.out.splitlines()
        if "(document 4, Rollout web)" in line and line.startswith("error")
    ]


def test_references_are_not_checked_against_kinds_the_file_does_not_hold(tmp_path: Path) -> None:
    rollout_only = (EXAMPLES / "canary-nginx.yaml").read_text().split("---")[-1]
    path = tmp_path / "rollout.yaml"
    path.write_text(rollout_only)
    result = cli("lint", "-f", str(path))
    assert result.code == 0, result.out


def test_unknown_kinds_are_skipped_not_failed(tmp_path: Path) -> None:
    path = tmp_path / "cm.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n")
    result = cli("lint", "-f", str(path))
    assert result.code == 0
    assert "skip" in result.out and "ConfigMap settings" in result.out


def test_broken_yaml_is_one_line_with_file_and_line() -> None:
    result = cli("lint", "-f", str(MANIFESTS / "not-yaml.yaml"))
    assert result.code == 1
    assert result.out == ""
    assert result.err.startswith(f"error: {MANIFESTS / 'not-yaml.yaml'}:5: not valid YAML")
    assert len(result.err.splitlines()) == 1


@pytest.mark.parametrize(
    ("loader", "depth", "expected"),
    [
        (
            "SafeLoader",
            600,
            "{path}: document 2 nests too deeply to read (hundreds of levels of lists or maps)",
        ),
        ("CSafeLoader", 3000, "{path}:3: not valid YAML (exceeded maximum nesting depth)"),
    ],
)
def test_yaml_nested_too_deeply_is_one_line_naming_the_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loader: str, depth: int, expected: str
) -> None:
    # found by tests/unit/volume: PyYAML's RecursionError ended lint as "a bug in kubectl-rollouts",
    # after 10 s of reading 3000 levels of "["; libyaml (used when PyYAML has it) refuses them at once
    if not hasattr(yaml, loader):
        pytest.skip(f"this PyYAML has no {loader}")
    monkeypatch.setattr(manifests, "_LOADER", getattr(yaml, loader))
    path = tmp_path / "deep.yaml"
    path.write_text("kind: Service\n---\nspec: " + "[" * depth + "]" * depth + "\n")
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 400)  # the pure-Python reader fails at 600 levels
    try:
        result = cli("lint", "-f", str(path))
    finally:
        sys.setrecursionlimit(limit)
    assert result.code == 1 and result.out == ""
    assert result.err.startswith("error: " + expected.format(path=path)), result.err
    assert len(result.err.splitlines()) == 1


def test_missing_file_is_one_line() -> None:
    result = cli("lint", "-f", "/nonexistent/rollout.yaml")
    assert (result.code, result.err) == (
        1,
        "error: /nonexistent/rollout.yaml: no such file; pass an existing file with -f\n",
    )


def test_lint_needs_a_file() -> None:
    result = cli("lint")
    assert result.code == 2
    assert "the following arguments are required: -f/--filename" in result.err


# --- the AnalysisRun of each analysis block, as the engine builds it ---------------------------------

ENGINE = [
    (
        "analysis-arg-typo.yaml",
        "(document 1, Rollout api): `spec.strategy.canary.steps[1].analysis`: args[0]: 'sevice' is not "
        "an argument of the referenced templates (they declare: service); fix the name or declare it "
        "in a template's args",
    ),
    (
        "analysis-duplicate-metric.yaml",
        "(document 1, Rollout api): `spec.strategy.canary.steps[1].analysis`: metric 'error-rate' is "
        "defined by both AnalysisTemplate 'error-rate' and AnalysisTemplate 'latency'; rename it in one "
        "of them",
    ),
    (
        "analysis-field-ref-typo.yaml",
        "(document 1, Rollout api): `spec.strategy.canary.steps[1].analysis`: "
        "args[1].valueFrom.fieldRef.fieldPath: fieldPath 'spec.template.spec.containers[0].imag': "
        "spec.template.spec.containers[0] has no field 'imag'",
    ),
]


@pytest.mark.parametrize(("name", "expected"), ENGINE, ids=[e[0] for e in ENGINE])
def test_a_run_the_controller_would_refuse_is_one_problem_on_the_rollout(name: str, expected: str) -> None:
    result = cli("lint", "-f", str(MANIFESTS / name), "--no-color")
    assert result.code == 1
    errors = [line for line in result.out.splitlines() if line.startswith("error")]
    assert len(errors) == 1, result.out
    assert expected in errors[0]


def test_fields_only_the_cluster_knows_are_not_problems() -> None:
    # metadata.namespace and a tool's label (absent from the file), status.observedGeneration, and
    # podTemplateHashValue: Stable (a run only ever starts once a revision is stable)
    result = cli("lint", "-f", str(MANIFESTS / "analysis-valid.yaml"), "--no-color")
    assert result.code == 0, result.out
    assert result.out.splitlines()[-1] == "3 documents, no problems"


def test_a_missing_argument_is_reported_once_not_again_by_the_engine() -> None:
    result = cli("lint", "-f", str(MANIFESTS / "template-arg-missing.yaml"), "--no-color")
    errors = [line for line in result.out.splitlines() if line.startswith("error")]
    assert len(errors) == 1, result.out
    assert "needs argument 'service-name', which has no default" in errors[0]


def test_the_engine_still_checks_a_block_with_a_missing_argument(tmp_path: Path) -> None:
    docs = list(yaml.safe_load_all((MANIFESTS / "analysis-arg-typo.yaml").read_text()))
    del docs[1]["spec"]["args"][0]["value"]  # 'service' now needs a value, and 'sevice' is still a typo
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    result = cli("lint", "-f", str(path), "--no-color")
    errors = [line for line in result.out.splitlines() if line.startswith("error")]
    assert len(errors) == 2, result.out
    assert "needs argument 'service', which has no default" in errors[0]
    assert "args[0]: 'sevice' is not an argument" in errors[1]


def test_a_block_naming_a_template_applied_from_elsewhere_is_not_built(tmp_path: Path) -> None:
    docs = list(yaml.safe_load_all((MANIFESTS / "analysis-arg-typo.yaml").read_text()))
    docs[0]["spec"]["strategy"]["canary"]["steps"][1]["analysis"]["templates"].append(
        {"templateName": "shared", "clusterScope": True}  # no ClusterAnalysisTemplate in the file
    )
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    result = cli("lint", "-f", str(path), "--no-color")
    assert result.code == 0, result.out  # 'sevice' may be an argument of the shared template


def test_a_condition_that_does_not_parse_is_an_error_naming_the_field_and_column(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        "apiVersion: rollouts.dev/v1alpha1\nkind: AnalysisTemplate\nmetadata: {name: rate}\nspec:\n"
        "  metrics:\n  - name: errors\n    successCondition: 'result[0] >='\n"
        "    provider: {prometheus: {query: up}}\n"
    )
    result = cli("lint", "-f", str(path), "--no-color")
    assert result.code == 1
    assert (
        '`spec.metrics[0].successCondition`: condition "result[0] >=" is not valid: '
        "the expression ends too early at column 13" in result.out
    ), result.out


def test_a_service_the_manifest_gives_a_selector_gets_a_note_not_an_error() -> None:
    # The Argo Rollouts form declares {app: web}: it works, but a server-side re-apply fights the
    # controller over the atomic selector, and the note says how to leave it to the controller.
    result = cli("lint", "-f", str(MANIFESTS / "service-selects-other-pods.yaml"), "--no-color")
    notes = [line for line in result.out.splitlines() if line.startswith("note")]
    assert "(document 1, Service web-stable): `spec.selector`: kube-rollouts writes spec.selector" in notes[0]
    assert "leave spec.selector out of the Service's manifest" in notes[0]
    assert result.code == 1 and "error" in result.out  # web-canary's {app: webb}, not the notes


def test_services_without_a_selector_are_the_gitops_form() -> None:
    result = cli("lint", "-f", str(EXAMPLES / "canary-nginx.yaml"), "--no-color")
    assert result.code == 0 and "note" not in result.out and "error" not in result.out, result.out


def test_ping_pong_services_are_checked_and_the_alternating_weights_noted(tmp_path: Path) -> None:
    path = EXAMPLES / "canary-istio-ping-pong.yaml"
    result = cli("lint", "-f", str(path), "--no-color")
    notes = [
        line for line in result.out.splitlines() if "VirtualService cart" in line and line.startswith("note")
    ]
    assert result.code == 0, result.out
    assert any("alternates between cart-ping and cart-pong" in line for line in notes), notes
    broken = tmp_path / "broken.yaml"
    broken.write_text(path.read_text().replace("host: cart-pong", "host: cart-pang"))
    missing = cli("lint", "-f", str(broken), "--no-color")
    assert missing.code == 1 and "no destination with host 'cart-pong'" in missing.out, missing.out


# --- found by tests/unit/volume: a broken neighbour or name crashed lint, or hid the field ----------


def _lint_docs(tmp_path: Path, docs: list[Any]) -> Result:
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump_all(docs))
    return cli("lint", "-f", str(path), "--no-color")


def _with_template_file(name: str) -> list[Any]:
    return [doc for doc in yaml.safe_load_all((MANIFESTS / name).read_text()) if doc]


@pytest.mark.parametrize(
    "spec",
    [
        {"rules": "web"},
        {"rules": [True]},
        {"rules": [{"http": {"paths": 5}}]},
        {"rules": [{"http": []}]},
        None,
    ],
    ids=["rules a string", "rule a bool", "paths a number", "http a list", "no spec"],
)
def test_an_ingress_of_any_shape_is_reported_not_a_crash(tmp_path: Path, spec: Any) -> None:
    docs = _with_template_file("nginx-with-template.yaml")
    (ingress,) = [doc for doc in docs if doc["kind"] == "Ingress"]
    ingress["spec"] = spec
    result = _lint_docs(tmp_path, docs)
    assert result.code == 1 and not result.err, result.err  # was an AttributeError or TypeError
    assert "(document 3, Ingress web): `spec.rules[].http.paths[].backend.service.name`: no path routes" in (
        result.out
    )


@pytest.mark.parametrize(
    ("kind", "change"),
    [
        ("VirtualService", lambda vs: vs["spec"].update(http=7)),
        ("VirtualService", lambda vs: vs["spec"].update(http=["primary"])),
        ("VirtualService", lambda vs: vs["spec"]["http"][0].update(route=[{"destination": ["shop"]}])),
        ("DestinationRule", lambda dr: dr["spec"].update(subsets=[True, {"name": ["canary"]}])),
    ],
    ids=["http a number", "route a string", "destination a list", "subsets of junk"],
)
def test_istio_objects_of_any_shape_are_reported_not_a_crash(
    tmp_path: Path, kind: str, change: Callable[[Any], object]
) -> None:
    docs = _with_template_file("istio-route-typo.yaml")
    change(next(doc for doc in docs if doc["kind"] == kind))
    result = _lint_docs(tmp_path, docs)
    assert result.code == 1 and not result.err, result.err
    assert all("`" in line for line in result.out.splitlines() if line.startswith("error")), result.out


def test_a_service_selector_with_number_keys_is_reported_not_a_crash(tmp_path: Path) -> None:
    docs = _with_template_file("nginx-with-template.yaml")
    docs[0]["spec"]["selector"] = {1: "web", "app": "web"}  # `1: web` in YAML; sorting it crashed
    result = _lint_docs(tmp_path, docs)
    assert result.code == 1 and not result.err, result.err
    assert "`spec.selector`: {1: web, app: web} does not select the pods of Rollout web" in result.out


def test_a_name_that_is_no_string_is_not_repeated_before_the_field(tmp_path: Path) -> None:
    rollout = yaml.safe_load((EXAMPLES / "canary-nginx.yaml").read_text().split("---")[-1])
    rollout["metadata"]["name"] = 5
    result = _lint_docs(tmp_path, [rollout])
    # was "(document 1, Rollout (unnamed)): Rollout 5: `metadata.name` must be ..."
    assert "(document 1, Rollout (unnamed)): `metadata.name` must be a string (got 5)" in result.out


def test_yaml_aliases_of_aliases_are_read_in_a_moment(tmp_path: Path) -> None:
    # "billion laughs": 9^9 paths to a few lists; a walk of every path (the depth check, the enum
    # errors' repr of the input) hung lint
    laughs = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    laughs += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 9)]
    rollout = yaml.safe_load((EXAMPLES / "canary-nginx.yaml").read_text().split("---")[-1])
    text = yaml.safe_dump(rollout).replace(
        "spec:\n", "spec:\n  x-laughs:\n" + "".join(f"    {line}\n" for line in laughs), 1
    )
    path = tmp_path / "laughs.yaml"
    path.write_text(text)
    with bounded(10):
        result = cli("lint", "-f", str(path), "--no-color")
    assert "`spec.x-laughs.a8[0][0][0]` holds more than 100000 values once its YAML aliases are expanded" in (
        result.out
    )


WORKLOAD = MANIFESTS / "workload-ref.yaml"


def test_a_workload_ref_is_checked_with_the_deployments_template(tmp_path: Path) -> None:
    result = cli("lint", "-f", str(WORKLOAD), "--no-color")
    assert result.code == 0, result.out
    assert "runs this Deployment's pod template beside the Deployment's own pods" in result.out
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        WORKLOAD.read_text().replace("        app: orders\n    spec:", "        app: billing\n    spec:")
    )
    result = cli("lint", "-f", str(broken), "--no-color")
    assert result.code == 1
    assert (
        "(document 1, Deployment orders): `spec.template`: its spec.template cannot run as Rollout orders"
        in result.out
    )
    assert "does not match template.metadata.labels" in result.out


def test_plan_takes_the_pods_from_the_deployment_in_the_files(tmp_path: Path) -> None:
    result = cli("plan", "-f", str(WORKLOAD), "--no-color")
    assert result.code == 0, result.out
    assert "setWeight: 34" in result.out
    alone = tmp_path / "rollout.yaml"
    alone.write_text(WORKLOAD.read_text().split("---\n", 1)[1])
    result = cli("plan", "-f", str(alone), "--no-color")
    assert result.code != 0
    assert "Deployment 'orders' (spec.workloadRef) is not in the files" in result.err
