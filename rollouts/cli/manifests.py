"""Read the manifests ``lint`` and ``plan`` work on: multi-document YAML files, each document numbered.

Every document keeps its position (1-based index in its file, and the line it starts on), so a
message can say exactly where the problem is: ``web.yaml:31 (document 4, Rollout web)``. Files may
be given as paths, as directories (every ``*.yaml``/``*.yml`` in them, sorted) or as ``-`` (stdin).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from rollouts.cli.errors import CliError

__all__ = ["Document", "Manifest", "find_document", "parse_manifest", "read_manifests", "read_texts"]


@dataclass(frozen=True, kw_only=True)
class Document:
    """One YAML document of a file: its content and where it is."""

    source: str
    index: int
    line: int
    body: Any

    @property
    def kind(self) -> str:
        kind = self.body.get("kind") if isinstance(self.body, Mapping) else None
        return kind if isinstance(kind, str) and kind else "(no kind)"

    @property
    def api_version(self) -> str:
        value = self.body.get("apiVersion") if isinstance(self.body, Mapping) else None
        return value if isinstance(value, str) else ""

    @property
    def name(self) -> str:
        metadata = self.body.get("metadata") if isinstance(self.body, Mapping) else None
        name = metadata.get("name") if isinstance(metadata, Mapping) else None
        return name if isinstance(name, str) and name else "(unnamed)"

    @property
    def namespace(self) -> str | None:
        metadata = self.body.get("metadata") if isinstance(self.body, Mapping) else None
        namespace = metadata.get("namespace") if isinstance(metadata, Mapping) else None
        return namespace if isinstance(namespace, str) and namespace else None

    def in_namespace(self, namespace: str | None) -> bool:
        """Whether this document can be in ``namespace``: a document or a namespace left unset
        (applied with ``-n``) matches any."""
        return self.namespace is None or namespace is None or self.namespace == namespace

    @property
    def where(self) -> str:
        """``file.yaml:12 (document 3, Rollout web)``: how every message locates the document."""
        return f"{self.source}:{self.line} (document {self.index}, {self.kind} {self.name})"


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """The documents of one file (empty documents, such as a trailing ``---``, are left out)."""

    source: str
    documents: tuple[Document, ...]

    def of_kind(self, *kinds: str) -> list[Document]:
        return [doc for doc in self.documents if doc.kind in kinds]


#: libyaml's loader where PyYAML has it (its wheels do): the pure-Python one takes time quadratic in
#: the nesting of a flow collection (10 s for 3000 levels of ``[``) and then raises RecursionError;
#: libyaml reads the same in milliseconds and refuses nesting past its limit with a YAMLError.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def find_document(
    documents: Iterable[Document], kind: str, name: str, *, namespace: str | None
) -> Document | None:
    """The first document of ``kind`` named ``name`` that can be in ``namespace``."""
    return next(
        (doc for doc in documents if doc.kind == kind and doc.name == name and doc.in_namespace(namespace)),
        None,
    )


def _documents(source: str, text: str) -> Iterator[Document]:
    loader = _LOADER(text)
    index = 0
    try:
        while loader.check_node():
            index += 1
            node = loader.get_node()
            if node is None:
                continue
            body = loader.construct_document(node)
            if body is None:
                continue
            yield Document(source=source, index=index, line=node.start_mark.line + 1, body=body)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark is not None else source
        problem = getattr(exc, "problem", None) or str(exc)
        raise CliError(f"{where}: not valid YAML ({problem}); fix the syntax of that document") from None
    except RecursionError:  # PyYAML composes recursively: a RecursionError, not a YAMLError
        raise CliError(
            f"{source}: document {index} nests too deeply to read (hundreds of levels of lists or "
            "maps); no manifest is that deep: fix that document"
        ) from None
    finally:
        loader.dispose()


def parse_manifest(source: str, text: str) -> Manifest:
    """The documents of ``text``, located as in file ``source``."""
    return Manifest(source=source, documents=tuple(_documents(source, text)))


def _read_text(source: str) -> tuple[str, str]:
    if source == "-":
        return "<stdin>", sys.stdin.read()
    try:
        return source, Path(source).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CliError(f"{source}: no such file; pass an existing file with -f") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"{source}: cannot read it ({exc}); pass a readable UTF-8 YAML file") from None


def read_texts(sources: list[str]) -> list[tuple[str, str]]:
    """(name, text) of every file named in ``sources`` (directories expand to their YAML files, sorted)."""
    texts: list[tuple[str, str]] = []
    for source in sources:
        path = Path(source)
        if source != "-" and path.is_dir():
            files = sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
            if not files:
                raise CliError(f"{source}: directory has no .yaml or .yml files; point -f at manifests")
            texts.extend(_read_text(str(p)) for p in files)
        else:
            texts.append(_read_text(source))
    return texts


def read_manifests(sources: list[str]) -> list[Manifest]:
    """Read every file named in ``sources`` (directories expand to their YAML files, sorted)."""
    return [parse_manifest(source, text) for source, text in read_texts(sources)]
