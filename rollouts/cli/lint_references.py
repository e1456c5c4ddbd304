"""Cross-object checks of ``lint``: does each Rollout fit the Services, Ingress, VirtualService,
DestinationRule and AnalysisTemplates that sit beside it in the same file?

A GitOps repository usually keeps a Rollout and the objects it names together. The API server
cannot check one object against another, so a typo in ``stableService`` or a VirtualService route
name is only found when the controller tries to shift traffic, mid-delivery. These checks find it
before merge. A reference is only checked when the file holds objects of the referenced kind (a
file without any Service may rely on Services applied from elsewhere).

Which objects a Rollout names comes from the same declarations the controller watches and
observes (:func:`rollouts.controller.reads.references_of`): a dangling name is found here for
every reference, whatever its kind. What a named object must hold is each router's own offline
check (``TrafficRouter.lint``), so this module knows no router.

Where every template an analysis block names is in the file, the block's AnalysisRun is also
built with the engine's own :func:`~rollouts.engine.analysis_runs.build_analysis_run`, so an
unknown argument, one metric name in two templates, conflicting defaults or a ``fieldRef`` to
nothing is found as the controller would find it (only what the cluster alone can tell is left
out: :mod:`rollouts.cli.offline_runs`). A ``{{args.NAME}}`` in a metric's count, limits or
durations is filled with the values the Rollout passes, and a value the field cannot take is the
Rollout's problem; one the template gets wrong by itself (an undeclared name, a bad default) is
reported on the template only (:mod:`rollouts.engine.template_checks`). The engine stops at the first
problem of a block; an argument already reported as missing is given a placeholder first, so it
is not reported twice.

Each check returns :class:`Finding` values pinned to the document that has to change: a dangling
name is the Rollout's field to fix; a route or a selector that does not fit is the other object's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from rollouts.api import (
    AnalysisTemplate,
    ClusterAnalysisTemplate,
    InvalidObjectError,
    Rollout,
    parse_object,
)
from rollouts.api.rollout_analysis import AnalysisRunArgument
from rollouts.cli.manifests import Document, Manifest, find_document
from rollouts.cli.offline_runs import run_error
from rollouts.cli.workloads import workload_template
from rollouts.engine.analysis_runs import MetricFieldError, Template
from rollouts.engine.references import (
    ANALYSIS_TEMPLATE,
    CLUSTER_ANALYSIS_TEMPLATE,
    SERVICE,
    AnalysisReference,
    analysis_references,
    strategy_references,
)
from rollouts.engine.shared_fields import overwrite_consequence
from rollouts.traffic import RouterError, references_of, router_for
from rollouts.traffic.router import at, items

__all__ = ["Finding", "check_references"]


@dataclass(frozen=True, kw_only=True)
class Finding:
    """One problem: the document to change, the field path in it, and what to do. A ``note`` is
    advice that does not fail lint."""

    document: Document
    path: str
    message: str
    note: bool = False


@dataclass(frozen=True, kw_only=True)
class _Context:
    """One Rollout being checked, and the file it is checked against."""

    rollout: Rollout
    document: Document
    manifest: Manifest

    def peers(self, kind: str) -> list[Document]:
        """Documents of ``kind`` in the Rollout's namespace (a document without one matches any)."""
        return [doc for doc in self.manifest.of_kind(kind) if doc.in_namespace(self.document.namespace)]

    def find_document(self, kind: str, name: str) -> Document | None:
        return find_document(self.manifest.documents, kind, name, namespace=self.document.namespace)

    # FileObjects, for the routers' offline checks
    def has(self, kind: str) -> bool:
        return bool(self.peers(kind))

    def find(self, kind: str, name: str) -> Mapping[str, Any] | None:
        found = self.find_document(kind, name)
        return found.body if found is not None and isinstance(found.body, Mapping) else None

    def missing(self, *, path: str, kind: str, name: str, hint: str = "") -> Finding:
        names = ", ".join(sorted(doc.name for doc in self.peers(kind)))
        return Finding(
            document=self.document,
            path=path,
            message=f"{kind} {name!r} is not in this file ({kind}s in it: {names}); "
            f"fix the name or add the {kind}{hint}",
        )


def check_references(*, rollout: Rollout, document: Document, manifest: Manifest) -> list[Finding]:
    """Every cross-object problem of one (valid) Rollout with the rest of its file. With a
    workloadRef, the Rollout is checked running the Deployment's template, when the file has it."""
    workload = workload_template(rollout, manifest.documents)
    found: list[Finding] = []
    if workload.deployment is not None and workload.problem is not None:
        found.append(Finding(document=workload.deployment, path="spec.template", message=workload.problem))
    elif workload.deployment is not None and _scale_down(rollout) == "never":
        found.append(
            Finding(
                document=workload.deployment,
                path="spec.replicas",
                message=f"Rollout {document.name} runs this Deployment's pod template beside the "
                "Deployment's own pods (workloadRef scaleDown: never); scale the Deployment to 0 once "
                "the Rollout is Healthy, or set scaleDown: progressively",
                note=True,
            )
        )
    resolved = (workload.rollout or rollout).with_service_roles()  # pingPong: as the controller sees it
    ctx = _Context(rollout=resolved, document=document, manifest=manifest)
    services = _services(ctx) if ctx.rollout.spec.template is not None else iter(())
    return [*found, *_dangling(ctx), *services, *_written(ctx), *_router(ctx), *_analysis(ctx)]


def _scale_down(rollout: Rollout) -> str | None:
    ref = rollout.spec.workload_ref
    return None if ref is None else ref.scale_down


def _dangling(ctx: _Context) -> Iterator[Finding]:
    """A name the Rollout gives that the file does not hold (templates: see :func:`_analysis`)."""
    for ref in references_of(ctx.rollout):
        if (
            ref.created
            or ref.kind in (ANALYSIS_TEMPLATE, CLUSTER_ANALYSIS_TEMPLATE)
            or not ctx.peers(ref.kind.kind)
        ):
            continue
        if ctx.find_document(ref.kind.kind, ref.name) is None:
            yield ctx.missing(path=ref.path, kind=ref.kind.kind, name=ref.name)


def _router(ctx: _Context) -> Iterator[Finding]:
    try:
        router = router_for(ctx.rollout)
    except RouterError:
        return  # the Rollout's own validation says so
    for problem in router.lint(ctx.rollout, ctx) if router is not None else []:
        target = ctx.document
        if problem.kind is not None and problem.name is not None:
            target = ctx.find_document(problem.kind, problem.name) or ctx.document
        yield Finding(document=target, path=problem.path, message=problem.message, note=problem.note)


# --- Services ---------------------------------------------------------------------------------------


def _services(ctx: _Context) -> Iterator[Finding]:
    """Do the Services the strategy names select the Rollout's pods?

    A Service without a selector is the GitOps form: the controller writes it whole (the Rollout's
    ``selector.matchLabels`` and the revision label) and is its only owner (see :func:`_written`).
    """
    if not ctx.peers("Service"):
        return
    labels = ctx.rollout.spec.template_labels
    for ref in strategy_references(ctx.rollout):
        service = ctx.find_document(SERVICE.kind, ref.name)
        if service is None:
            continue  # reported by _dangling
        selector = at(service.body, "spec", "selector")
        if isinstance(selector, Mapping) and any(labels.get(key) != value for key, value in selector.items()):
            yield Finding(
                document=service,
                path="spec.selector",
                message=f"{_labels(selector)} does not select the pods of Rollout {ctx.document.name} "
                f"(their labels: {_labels(labels)}); use labels from its spec.template.metadata.labels, "
                "or leave spec.selector out and kube-rollouts writes it",
            )


def _written(ctx: _Context) -> Iterator[Finding]:
    """A note on each field the controller writes that the file sets too (``Kind.writes``): its
    GitOps agent and the controller then share one atomic field (:mod:`rollouts.engine.shared_fields`)."""
    for ref in references_of(ctx.rollout):
        written = ref.kind.writes
        found = ctx.find_document(ref.kind.kind, ref.name) if written is not None else None
        if written is None or found is None or not at(found.body, *written.keys):
            continue
        yield Finding(
            document=found,
            path=written.path,
            message=f"{overwrite_consequence(written.path)}; {written.fix}",
            note=True,
        )


def _labels(labels: Mapping[str, Any]) -> str:
    # a file's selector may have keys of any type (YAML reads `1:` as a number): sort them as text
    return "{" + ", ".join(f"{key}: {value}" for key, value in sorted(labels.items(), key=_as_text)) + "}"


def _as_text(item: tuple[Any, Any]) -> str:
    return str(item[0])


# --- AnalysisTemplates ------------------------------------------------------------------------------


def _analysis(ctx: _Context) -> Iterator[Finding]:
    """Do the templates each analysis block names exist, and would the controller start its run?"""
    for block in analysis_references(ctx.rollout):
        findings, missing_args, templates = _template_findings(ctx, block)
        yield from findings
        if templates is None:
            continue  # a template is not in the file (applied from elsewhere, reported or invalid)
        yield from _run_findings(ctx, block, templates, missing_args)


def _template_findings(
    ctx: _Context, block: AnalysisReference
) -> tuple[list[Finding], list[str], list[Template] | None]:
    """Missing templates and arguments without a value; the args reported, and every template the
    block names, parsed (``None`` unless all of them are in the file and valid)."""
    path, analysis = block.path, block.analysis
    given = {arg.name for arg in analysis.args or []}
    findings: list[Finding] = []
    reported: list[str] = []
    templates: list[Template] | None = []
    for index, ref in enumerate(analysis.templates):
        kind = "ClusterAnalysisTemplate" if ref.cluster_scope else "AnalysisTemplate"
        template = ctx.find_document(kind, ref.template_name) if ctx.peers(kind) else None
        parsed = _parse_template(template) if template is not None else None
        templates = None if templates is None or parsed is None else [*templates, parsed]
        if not ctx.peers(kind):
            continue
        if template is None:
            other = "false" if ref.cluster_scope else "true"
            findings.append(
                ctx.missing(
                    path=f"{path}.templates[{index}].templateName",
                    kind=kind,
                    name=ref.template_name,
                    hint=f" (or set clusterScope: {other} if it is the other kind)",
                )
            )
            continue
        for arg in items(at(template.body, "spec", "args")):
            name = at(arg, "name")
            needed = isinstance(name, str) and at(arg, "value") is None
            if needed and at(arg, "valueFrom") is None and name not in given:
                reported.append(name)
                findings.append(
                    Finding(
                        document=ctx.document,
                        path=f"{path}.args",
                        message=f"{kind} {ref.template_name} needs argument {name!r}, which has no "
                        f"default; add {{name: {name}, value: ...}} here",
                    )
                )
    return findings, reported, templates


def _parse_template(document: Document) -> Template | None:
    try:
        parsed = parse_object(document.body)
    except InvalidObjectError:
        return None  # its own problems are reported on its document
    return parsed if isinstance(parsed, AnalysisTemplate | ClusterAnalysisTemplate) else None


def _run_findings(
    ctx: _Context, block: AnalysisReference, templates: list[Template], missing_args: list[str]
) -> Iterator[Finding]:
    """The engine's own error for the run of ``block``, unless an argument reported missing above
    is all it is (each such argument gets a placeholder value first)."""
    analysis = block.analysis
    if missing_args:
        filled = [AnalysisRunArgument(name=name, value=f"<{name}>") for name in dict.fromkeys(missing_args)]
        analysis = analysis.model_copy(update={"args": [*(analysis.args or []), *filled]})
    error = run_error(
        rollout=ctx.rollout,
        kind=block.kind,
        step_index=block.step_index,
        analysis=analysis,
        templates=templates,
    )
    if error is None or (isinstance(error, MetricFieldError) and error.template_only):
        return  # a metric field its own template gets wrong is reported on the template (template_checks)
    message, prefix = str(error), f"Rollout {ctx.rollout.metadata.name!r} {block.path}"
    if message.startswith(prefix):  # the path is the finding's: say only what follows it
        message = message[len(prefix) :].removeprefix(".").removeprefix(": ")
    yield Finding(document=ctx.document, path=block.path, message=message)
