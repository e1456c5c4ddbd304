"""``kubectl rollouts lint -f FILE``: check manifests offline, before they are merged.

Every rollouts.dev object goes through the same validation the controller and the CRDs apply
(``rollouts.api.validation_errors``); each valid template's ``{{args.NAME}}`` in metric counts,
limits and durations are checked against its own args (:mod:`rollouts.cli.lint_templates`);
then each valid Rollout is checked against the Services,
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

from rollouts.api import (
    KINDS,
    AnalysisRun,
    AnalysisTemplate,
    ClusterAnalysisTemplate,
    InvalidObjectError,
    Rollout,
    parse_object,
)
from rollouts.api.validation import object_name
from rollouts.cli.errors import EXIT_ERROR, EXIT_OK
from rollouts.cli.lint_references import check_references
from rollouts.cli.lint_templates import check_template
from rollouts.cli.manifests import Document, Manifest, read_manifests
from rollouts.cli.style import PLAIN, Style, color_wanted
from rollouts.engine.conditions import condition_problems
from rollouts.traffic import declared_kinds

__all__ = ["DocumentResult", "lint_manifest", "register", "render_results"]

#: Kinds the cross-object checks read; they are reported as checked (``ok``) rather than skipped.
_REFERENCED = frozenset(kind.kind for kind in declared_kinds())
"""Kinds a Rollout can name: checked against the Rollouts of the file, not skipped."""
_ARGO_GROUP = "argoproj.io/"


@dataclass(kw_only=True)
class DocumentResult:
    """What lint found in one document; ``checked`` is False for kinds lint does not know."""

    document: Document
    checked: bool = True
    problems: list[str] = field(default_factory=list)


def _strip_object_name(message: str, doc: Document) -> str:
    """``validation_errors`` prefixes each line with the object's name; the location says it already.

    The prefix is cut as the validation wrote it (``object_name``), not rebuilt from the document:
    the two name a broken object differently (``metadata.name: 5`` is ``Rollout 5`` there and
    ``Rollout (unnamed)`` here), and a rebuilt prefix left ``Rollout 5:`` before the field.
    """
    return message.removeprefix(f"{object_name(doc.body)}: ")


def _validate(doc: Document) -> tuple[list[str], object | None]:
    if doc.api_version.startswith(_ARGO_GROUP):
        version = doc.api_version
        return [
            f"`apiVersion` is {version}, Argo Rollouts' group; change it to rollouts.dev/v1alpha1 "
            "(the field names are the same)"
        ], None
    try:
        parsed = parse_object(doc.body)
    except InvalidObjectError as exc:
        return [_strip_object_name(line, doc) for line in exc.errors], None
    if isinstance(parsed, AnalysisTemplate | ClusterAnalysisTemplate | AnalysisRun):
        return [f"`{p.path}`: {p.message}" for p in condition_problems(parsed.spec.metrics)], parsed
    return [], parsed


def lint_manifest(manifest: Manifest) -> list[DocumentResult]:
    """Lint every document of one file, then check each valid Rollout against its neighbours."""
    results = {doc.index: DocumentResult(document=doc) for doc in manifest.documents}
    rollouts: list[tuple[Document, Rollout]] = []
    for doc in manifest.documents:
        result = results[doc.index]
        if doc.kind in KINDS or doc.api_version.startswith(("rollouts.dev/", _ARGO_GROUP)):
            result.problems, parsed = _validate(doc)
            if isinstance(parsed, Rollout):
                rollouts.append((doc, parsed))
            elif isinstance(parsed, AnalysisTemplate | ClusterAnalysisTemplate):
                result.problems += [f"`{p.path}`: {p.message}" for p in check_template(parsed)]
        elif doc.kind not in _REFERENCED:
            result.checked = False
    for doc, rollout in rollouts:
        for finding in check_references(rollout=rollout, document=doc, manifest=manifest):
            results[finding.document.index].problems.append(f"`{finding.path}`: {finding.message}")
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
        help="validate Rollouts, AnalysisTemplates and the objects they reference, offline",
        description="Validate every Rollout, AnalysisTemplate and ClusterAnalysisTemplate in the files "
        "with the controller's rules, and check each Rollout against the Services, Ingress, "
        "VirtualService, DestinationRule and templates in the same file. Exit 1 on any problem.",
    )
    parser.add_argument(
        "-f",
        "--filename",
        action="append",
        required=True,
        metavar="FILE",
        help="YAML file (may hold many documents), directory, or - for stdin; repeatable",
    )
    parser.set_defaults(run=run)
