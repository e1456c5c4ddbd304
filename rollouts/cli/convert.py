"""``kubectl rollouts convert -f FILE``: Argo Rollouts and Flagger manifests as kube-rollouts manifests.

The kinds are the same, so converting is changing ``apiVersion: argoproj.io/v1alpha1`` to
``rollouts.dev/v1alpha1`` in each Rollout, AnalysisTemplate, ClusterAnalysisTemplate and
AnalysisRun. The line is rewritten in place, so comments, key order and formatting stay as the
user wrote them (a GitOps diff shows one line per object); every other document is left as it is.
Argo's ``argo-rollouts.argoproj.io/controller-instance`` label (its ``--instance-id`` shards) is
renamed in place to ``rollouts.dev/instance``, our shard label, with its value kept.
A Flagger ``Canary`` and the Deployment it targets are replaced by generated documents (a Rollout,
its Services and AnalysisTemplates; see ``flagger.py``), appended after the documents kept.
The output then goes through ``lint``, and what lint finds (a field kube-rollouts does not
implement, a Service the Rollout names that is not in the file) heads the output as YAML
comments, so the converted file is still valid YAML. Exit 1 when lint found a problem, so a
script notices that the output needs a hand.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import TextIO

import yaml

from rollouts.api.common import ARGO_GROUP_VERSION, GROUP_VERSION
from rollouts.cli.errors import EXIT_ERROR, EXIT_OK, CliError
from rollouts.cli.flagger import FLAGGER_GROUP, convert_canaries
from rollouts.cli.lint import lint_manifest, render_results
from rollouts.cli.manifests import parse_manifest, read_texts
from rollouts.cli.options import add_filename_flag
from rollouts.engine.shards import INSTANCE_LABEL

__all__ = ["convert_text", "register"]

#: Argo kinds that kube-rollouts has under the same name and fields.
CONVERTED_KINDS = frozenset(
    {"Rollout", "AnalysisTemplate", "ClusterAnalysisTemplate", "AnalysisRun", "Experiment"}
)
ARGO_INSTANCE_LABEL = "argo-rollouts.argoproj.io/controller-instance"
_INSTANCE_LABEL_LINE = re.compile(r"^([ \t]*)(['\"]?)" + re.escape(ARGO_INSTANCE_LABEL) + r"\2([ \t]*:.*)$")
_API_VERSION_LINE = re.compile(
    r"^apiVersion:([ \t]*)(['\"]?)" + re.escape(ARGO_GROUP_VERSION) + r"\2([ \t]*(?:#.*)?)$"
)


def convert_text(source: str, text: str) -> tuple[str, list[str], list[str], set[int]]:
    """The converted text, a note for each document that needs a hand, advice for the switch-over,
    and the indexes of the Argo and Flagger documents left as they are."""
    lines = text.splitlines(keepends=True)
    documents = parse_manifest(source, text).documents
    starts = [doc.line - 1 for doc in documents] + [len(lines)]
    notes: list[str] = []
    advice: list[str] = []
    left: set[int] = set()
    for doc, start, end in zip(documents, starts, starts[1:], strict=False):
        if doc.api_version != ARGO_GROUP_VERSION:
            continue
        if doc.kind not in CONVERTED_KINDS:
            left.add(doc.index)
            notes.append(
                f"{doc.where}: kube-rollouts has no {doc.kind}; left as it is (remove it, or keep it "
                "for Argo Rollouts)"
            )
            continue
        instance = _argo_instance(doc.body)
        if instance is not None and not _rename_instance_label(lines, start, end):
            notes.append(
                f"{doc.where}: the label {ARGO_INSTANCE_LABEL} is not on a line of its own; rename "
                f"it to {INSTANCE_LABEL}"
            )
        elif instance is not None:
            advice.append(
                f"{doc.where}: its Argo shard label {ARGO_INSTANCE_LABEL}: {instance} is now "
                f"{INSTANCE_LABEL}: {instance}; run the controller that serves it with --instance-id "
                f"{instance} (chart value instanceId)"
            )
        for number in range(start, end):
            line = lines[number].rstrip("\r\n")
            match = _API_VERSION_LINE.match(line)
            if match:
                ending = lines[number][len(line) :]
                quote = match.group(2)
                lines[number] = (
                    f"apiVersion:{match.group(1)}{quote}{GROUP_VERSION}{quote}{match.group(3)}{ending}"
                )
                break
        else:
            notes.append(f"{doc.where}: apiVersion is not on a line of its own; change it to {GROUP_VERSION}")
    flagger = convert_canaries(documents)
    notes += flagger.notes
    advice += flagger.advice
    if not flagger.documents and not flagger.replaced:
        return "".join(lines), notes, advice, left
    kept = [
        "".join(lines[start:end]).strip("\n").removeprefix("---").removesuffix("---").strip("\n")
        for doc, start, end in zip(documents, starts, starts[1:], strict=False)
        if doc.index not in flagger.replaced
    ]
    generated = [yaml.safe_dump(body, sort_keys=False).rstrip("\n") for body in flagger.documents]
    left |= {
        doc.index
        for doc in documents
        if doc.index not in flagger.replaced and doc.api_version.startswith(FLAGGER_GROUP)
    }
    body = "\n---\n".join(part for part in [*kept, *generated] if part) + "\n"
    return body, notes, advice, left


def _argo_instance(body: object) -> str | None:
    """The value of Argo's shard label in a document's ``metadata.labels``, if it has one."""
    metadata = body.get("metadata") if isinstance(body, dict) else None
    labels = metadata.get("labels") if isinstance(metadata, dict) else None
    value = labels.get(ARGO_INSTANCE_LABEL) if isinstance(labels, dict) else None
    return None if value is None else str(value)


def _rename_instance_label(lines: list[str], start: int, end: int) -> bool:
    """Argo's shard label key renamed to ours on its line in ``lines[start:end]`` (the value, the
    quoting and any comment stay as written); whether there was such a line."""
    renamed = False
    for number in range(start, end):
        line = lines[number].rstrip("\r\n")
        match = _INSTANCE_LABEL_LINE.match(line)
        if match:
            indent, quote, rest = match.groups()
            lines[number] = f"{indent}{quote}{INSTANCE_LABEL}{quote}{rest}{lines[number][len(line) :]}"
            renamed = True
    return renamed


def run(args: argparse.Namespace, *, out: TextIO) -> int:
    ok = True
    texts = read_texts(args.filename)
    into_dir = bool(args.output) and Path(args.output).is_dir()
    if args.output and not into_dir and len(texts) > 1:
        raise CliError(
            f"-o {args.output} is one file but {len(texts)} files were given; name a directory "
            "(one converted file per input) or convert one file at a time"
        )
    for source, text in texts:
        converted, notes, advice, left = convert_text(source, text)
        results = lint_manifest(parse_manifest(source, converted))
        report, clean = render_results([r for r in results if r.document.index not in left])
        ok = ok and clean and not notes
        header = [f"kubectl rollouts convert -f {source}: Argo Rollouts and Flagger kinds as {GROUP_VERSION}"]
        header += (
            notes
            + advice
            + [f"lint: {line}" for line in report.splitlines() if not line.startswith(("ok ", "skip "))]
        )
        body = "".join(f"# {line}\n" for line in header) + converted
        if args.output:
            target = Path(args.output) / Path(source).name if into_dir else Path(args.output)
            target.write_text(body, encoding="utf-8")
        else:
            out.write(body if body.endswith("\n") else body + "\n")
    return EXIT_OK if ok else EXIT_ERROR


def register(
    verbs: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    parser = verbs.add_parser(
        "convert",
        parents=[common],
        help="turn Argo Rollouts manifests into kube-rollouts manifests, offline",
        description="Change apiVersion argoproj.io/v1alpha1 to rollouts.dev/v1alpha1 in every Rollout, "
        "AnalysisTemplate, ClusterAnalysisTemplate and AnalysisRun (in place: comments and formatting "
        "stay), then lint the result; what lint finds heads the output as comments. Exit 1 when the "
        "result needs a hand.",
    )
    add_filename_flag(parser)
    parser.add_argument(
        "-o", "--output", metavar="PATH",
        help="write here (a file, or a directory for one file per input) instead of to stdout",
    )  # fmt: skip
    parser.set_defaults(run=run)
