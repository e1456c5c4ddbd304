"""``kubectl rollouts lint -f FILE``: check manifests offline, before they are merged.

Every rollouts.dev object goes through :func:`rollouts.engine.object_checks.check_object`, the
checks of one object that the controller, the CRDs and the admission webhook apply too (the API
models, compiled conditions, each template's ``{{args.NAME}}`` in metric counts, limits and
durations against its own args); then each valid Rollout is checked against the Services,
Ingress, VirtualService, DestinationRule and AnalysisTemplates in the same file
(:mod:`rollouts.cli.lint_references`), and each analysis block whose templates are all in the
file has its AnalysisRun built as the controller builds it. Each problem is one line naming the
file, line, document number, kind and name, the field path and the fix. Exit 1 on any problem;
otherwise one ``ok`` line per object.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from typing import TextIO

from rollouts.api import KINDS, Rollout
from rollouts.api.experiment import Experiment
from rollouts.cli.errors import EXIT_ERROR, EXIT_OK
from rollouts.cli.lint_experiments import check_experiment, check_experiment_steps
from rollouts.cli.lint_references import Finding, check_references
from rollouts.cli.manifests import Document, Manifest, read_manifests
from rollouts.cli.options import add_filename_flag
from rollouts.cli.style import PLAIN, Style, color_wanted
from rollouts.engine.object_checks import ARGO_GROUP, check_object
from rollouts.traffic import declared_kinds

__all__ = ["DocumentResult", "lint_manifest", "register", "render_results"]

#: Kinds the cross-object checks read; they are reported as checked (``ok``) rather than skipped.
_REFERENCED = frozenset(kind.kind for kind in declared_kinds())
"""Kinds a Rollout can name: checked against the Rollouts of the file, not skipped."""


@dataclass(kw_only=True)
class DocumentResult:
    """What lint found in one document; ``checked`` is False for kinds lint does not know.

    ``notes`` are advice (a field shared with a GitOps agent) and do not fail lint."""

    document: Document
    checked: bool = True
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def lint_manifest(manifest: Manifest) -> list[DocumentResult]:
    """Lint every document of one file, then check each valid Rollout against its neighbours."""
    results = {doc.index: DocumentResult(document=doc) for doc in manifest.documents}
    findings: list[Finding] = []
    for doc in manifest.documents:
        result = results[doc.index]
        if doc.kind in KINDS or doc.api_version.startswith(("rollouts.dev/", ARGO_GROUP)):
            check = check_object(doc.body)
            result.problems = list(check.problems)
            if isinstance(check.parsed, Rollout):
                findings += check_references(rollout=check.parsed, document=doc, manifest=manifest)
                findings += check_experiment_steps(check.parsed, doc, manifest)
            elif isinstance(check.parsed, Experiment):
                findings += check_experiment(check.parsed, doc, manifest)
        elif doc.kind not in _REFERENCED:
            result.checked = False
    for finding in findings:
        target = results[finding.document.index]
        (target.notes if finding.note else target.problems).append(f"`{finding.path}`: {finding.message}")
    return [results[doc.index] for doc in manifest.documents]


def render_results(results: list[DocumentResult], *, style: Style = PLAIN) -> tuple[str, bool]:
    """The report text (one line per object or problem, and a summary) and whether all is well."""
    lines: list[str] = []
    errors = sum(len(r.problems) for r in results)
    for result in results:
        where = result.document.where
        if result.problems:
            lines.extend(f"{style.paint('error', 'red')}  {where}: {p}" for p in result.problems)
        elif result.checked:
            lines.append(f"{style.paint('ok', 'green')}     {where}")
        else:
            lines.append(f"{style.paint('skip', 'gray')}   {where}: not a kind lint checks")
        lines.extend(f"{style.paint('note', 'yellow')}   {where}: {n}" for n in result.notes)
    bad = sum(1 for r in results if r.problems)
    if errors:
        lines.append(f"{errors} problem{'s' if errors != 1 else ''} in {bad} of {len(results)} documents")
    else:
        lines.append(f"{len(results)} document{'s' if len(results) != 1 else ''}, no problems")
    return "\n".join(lines) + "\n", errors == 0


def run(args: argparse.Namespace, *, out: TextIO) -> int:
    results = [result for manifest in read_manifests(args.filename) for result in lint_manifest(manifest)]
    text, ok = render_results(results, style=Style(color=color_wanted(no_color=args.no_color, stream=out)))
    out.write(text)
    return EXIT_OK if ok else EXIT_ERROR


def register(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = verbs.add_parser(
        "lint",
        parents=[common],
        help="validate Rollouts, Experiments, AnalysisTemplates and the objects they reference, offline",
        description="Validate every Rollout, Experiment, AnalysisTemplate and ClusterAnalysisTemplate in "
        "the files with the controller's rules, and check each Rollout (and Experiment) against the "
        "Services, Ingress, VirtualService, DestinationRule and templates in the same file. Exit 1 on "
        "any problem.",
    )
    add_filename_flag(parser)
    parser.set_defaults(run=run)
