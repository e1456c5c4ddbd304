"""``lint``'s checks of Experiments against the file: the templates their analyses name, and the runs.

Two things run an Experiment's analyses: a standalone ``Experiment`` (``spec.analyses``) and a
Rollout's experiment step (``steps[i].experiment.analyses``), whose Experiment the Rollout builds
when it reaches the step. Both name AnalysisTemplates as an analysis block does, so the same rule
holds as in :mod:`rollouts.cli.lint_references`: a name is only checked when the file holds
templates of its kind (in the object's namespace, or without one; ClusterAnalysisTemplates
anywhere). Where every template an experiment needs is in the file, it is built as the
controllers build it (the step's Experiment with
:func:`~rollouts.engine.rollout_experiments.build_experiment`, each analysis's AnalysisRun with
:func:`~rollouts.engine.analysis_runs.build_experiment_analysis_run`), so an argument the
templates do not declare, one without a value, or a ``{{templates.X.podTemplateHash}}`` the step
cannot fill is reported before the delivery meets it. Offline, what only the cluster knows gets
the placeholders of :mod:`rollouts.cli.offline_runs`.

An experiment that nobody ends (no duration, no ``requiredForCompletion`` analysis) is valid but
worth knowing about: it is a note, not a problem.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from rollouts.api import InvalidObjectError, Rollout, parse_object
from rollouts.api.experiment import Experiment
from rollouts.cli.lint_references import Finding
from rollouts.cli.manifests import Document, Manifest, find_document
from rollouts.cli.offline_runs import (
    PLACEHOLDER_STABLE_HASH,
    PLACEHOLDER_UID,
    offline_rollout,
    offline_template,
)
from rollouts.engine.analysis_runs import AnalysisRunError, Template, build_experiment_analysis_run
from rollouts.engine.hashing import pod_template_hash
from rollouts.engine.rollout_experiments import build_experiment

__all__ = ["check_experiment", "check_experiment_steps"]

_Named = tuple[int, str, bool]
"""(index, templateName, clusterScope) of one analysis."""


def _kind(cluster_scope: bool) -> str:
    return "ClusterAnalysisTemplate" if cluster_scope else "AnalysisTemplate"


def _templates(
    analyses: Sequence[_Named], document: Document, manifest: Manifest, *, path: str
) -> tuple[list[Finding], list[Template] | None]:
    """A finding per template named but missing from a file that holds its kind, and every named
    template parsed (``None`` unless all are in the file and valid)."""
    findings: list[Finding] = []
    found: list[Template] | None = []
    for index, name, cluster_scope in analyses:
        kind = _kind(cluster_scope)
        namespace = None if cluster_scope else document.namespace
        peers = [doc for doc in manifest.of_kind(kind) if doc.in_namespace(namespace)]
        doc = find_document(manifest.documents, kind, name, namespace=namespace) if peers else None
        template = _parse(doc) if doc is not None else None
        found = None if found is None or template is None else [*found, template]
        if peers and doc is None:
            other = "false" if cluster_scope else "true"
            names = ", ".join(sorted(d.name for d in peers))
            findings.append(
                Finding(
                    document=document,
                    path=f"{path}[{index}].templateName",
                    message=f"{kind} {name!r} is not in this file ({kind}s in it: {names}); fix the name "
                    f"or add the {kind} (or set clusterScope: {other} if it is the other kind)",
                )
            )
    return findings, found


def _parse(document: Document) -> Template | None:
    try:
        parsed = parse_object(document.body)
    except InvalidObjectError:
        return None  # its own problems are reported on its document
    return parsed if isinstance(parsed, Template) else None


def _run_findings(
    experiment: Experiment, templates: list[Template], document: Document, *, path: str
) -> Iterator[Finding]:
    """The engine's own error for each analysis's AnalysisRun, at the analysis's path."""
    offline = [offline_template(t) for t in templates]
    for index, analysis in enumerate(experiment.spec.analyses or []):
        try:
            build_experiment_analysis_run(
                experiment=experiment, analysis=analysis, name=f"{experiment.metadata.name}-offline",
                templates=offline,
            )  # fmt: skip
        except AnalysisRunError as exc:
            message = str(exc).removeprefix(f"Experiment {experiment.metadata.name!r} ").removeprefix(": ")
            yield Finding(document=document, path=f"{path}[{index}]", message=message)


def check_experiment(experiment: Experiment, document: Document, manifest: Manifest) -> list[Finding]:
    """A (valid) standalone Experiment against the templates of its file."""
    spec = experiment.spec
    named = [(i, a.template_name, a.cluster_scope) for i, a in enumerate(spec.analyses or [])]
    findings, templates = _templates(named, document, manifest, path="spec.analyses")
    if templates is not None and named:
        with_uid = experiment.metadata.model_copy(update={"uid": experiment.metadata.uid or PLACEHOLDER_UID})
        experiment = experiment.model_copy(update={"metadata": with_uid})
        findings += _run_findings(experiment, templates, document, path="spec.analyses")
    if spec.duration is None and not any(a.required_for_completion for a in spec.analyses or []):
        findings.append(
            Finding(
                document=document,
                path="spec",
                message="no duration and no requiredForCompletion analysis: it runs until someone sets "
                "spec.terminate: true (kubectl patch experiment.rollouts.dev ... --type=merge -p "
                '\'{"spec":{"terminate":true}}\')',
                note=True,
            )
        )
    return findings


def check_experiment_steps(rollout: Rollout, document: Document, manifest: Manifest) -> list[Finding]:
    """Each experiment step of a (valid) Rollout: its templates, the Experiment and runs it builds."""
    canary = rollout.spec.strategy.canary
    findings: list[Finding] = []
    for index, step in enumerate((canary.steps or []) if canary is not None else []):
        if step.experiment is None:
            continue
        path = f"spec.strategy.canary.steps[{index}].experiment"
        analyses = step.experiment.analyses or []
        named = [(i, a.template_name, a.cluster_scope) for i, a in enumerate(analyses)]
        found, templates = _templates(named, document, manifest, path=f"{path}.analyses")
        findings += found
        if templates is not None and named and rollout.spec.template is not None:
            findings += _built(rollout, index, templates, document, path=path)
        if step.experiment.open_ended:
            findings.append(
                Finding(
                    document=document,
                    path=path,
                    message="no duration and no requiredForCompletion analysis: the experiment runs until "
                    f"someone promotes (the Rollout pauses here; kubectl rollouts promote {document.name})",
                    note=True,
                )
            )
    return findings


def _built(
    rollout: Rollout, index: int, templates: list[Template], document: Document, *, path: str
) -> list[Finding]:
    """Build the step's Experiment as the Rollout would (the file's pod template stands for the
    stable one), then its runs."""
    offline = offline_rollout(rollout)
    try:
        experiment = build_experiment(
            rollout=offline,
            name=f"{rollout.metadata.name}-offline-{index}",
            step_index=index,
            stable_template=offline.spec.pod_template,
            pod_template_hash=pod_template_hash(offline.spec.pod_template),
            stable_hash=PLACEHOLDER_STABLE_HASH,
            traffic_ports=({"port": 80},),  # the canary Service's, which the file may not hold
        )
    except AnalysisRunError as exc:
        prefix = f"Rollout {rollout.metadata.name!r} {path}"
        message = str(exc).removeprefix(prefix).removeprefix(".").removeprefix(": ")
        return [Finding(document=document, path=path, message=message)]
    metadata = experiment.metadata.model_copy(update={"uid": PLACEHOLDER_UID})
    experiment = experiment.model_copy(update={"metadata": metadata})
    return list(_run_findings(experiment, templates, document, path=f"{path}.analyses"))
