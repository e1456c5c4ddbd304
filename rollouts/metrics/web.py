"""Web: call an HTTP endpoint, read one JSON value from its answer, judge it.

One ``httpx.Client`` serves every web metric (connection reuse across measurements); it takes a
transport, so unit tests pass ``httpx.MockTransport`` and nothing else changes (DESIGN.md
section 6, "I/O behind a seam").

``jsonPath`` follows the Kubernetes JSONPath spelling Argo Rollouts documents
(``{$.data.ok}``, ``{$.items[0].value}``, ``$.a.b``, ``{$}``): a dotted path with list indexes
and quoted keys. The value keeps its JSON type (a number stays a number, a string a string);
Argo stringifies and re-parses it, which turns ``"1"`` into ``1`` behind the user's back.

Every failure is an Error measurement naming the cause and the method and URL: a connection
error, a timeout, a non-2xx status (with the start of the body), an answer that is not JSON, a
path that leads nowhere in it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

import httpx

from rollouts.api.analysis import Metric, WebMetric
from rollouts.engine.expressions import MeasurementValue
from rollouts.metrics.provider import Measurement, error, judged

__all__ = ["WebProvider", "read_json_path"]

_SEGMENT: Final = re.compile(r"""\.([A-Za-z0-9_-]+)|\[\s*(?:'([^']*)'|"([^"]*)"|(-?\d+))\s*\]""")


class JsonPathError(ValueError):
    """A jsonPath that cannot be parsed or leads nowhere in the answer."""


def _segments(path: str) -> list[str | int]:
    text = path.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    elif text and not text.startswith((".", "[")):
        text = "." + text
    segments: list[str | int] = []
    pos = 0
    while pos < len(text):
        match = _SEGMENT.match(text, pos)
        if match is None:
            raise JsonPathError(
                f"jsonPath {path!r} cannot be read at {text[pos:]!r}; write it like {{$.data.value}} "
                "or {$.items[0].ratio}"
            )
        name, single, double, index = match.groups()
        if index is not None:
            segments.append(int(index))
        else:
            segments.append(name if name is not None else (single if single is not None else double))
        pos = match.end()
    return segments


def read_json_path(document: Any, path: str | None) -> Any:
    """The value at ``path`` in ``document`` (the whole document when there is no path)."""
    current = document
    for segment in _segments(path or "{$}"):
        if isinstance(segment, int):
            if not isinstance(current, list) or not -len(current) <= segment < len(current):
                raise JsonPathError(f"jsonPath {path!r}: no item [{segment}] in the answer")
        elif not isinstance(current, dict) or segment not in current:
            raise JsonPathError(f"jsonPath {path!r}: no field {segment!r} in the answer")
        current = current[segment]
    return current


class WebProvider:
    """Measures ``provider.web`` metrics through one shared httpx client (and, made when a metric
    first asks for ``insecure``, a second one that skips the certificate check)."""

    def __init__(self, *, transport: httpx.BaseTransport | None = None) -> None:
        self._transport = transport
        self._client = httpx.Client(transport=transport, follow_redirects=True)
        self._insecure: httpx.Client | None = None

    def close(self) -> None:
        self._client.close()
        if self._insecure is not None:
            self._insecure.close()

    def _client_for(self, spec: WebMetric) -> httpx.Client:
        if not spec.insecure:
            return self._client
        if self._insecure is None:
            self._insecure = httpx.Client(transport=self._transport, follow_redirects=True, verify=False)
        return self._insecure

    def measure(self, metric: Metric) -> Measurement:
        spec = metric.provider.web
        if spec is None:
            return error(f"metric {metric.name!r} has no web provider")
        return self._call(metric, spec)

    def _call(self, metric: Metric, spec: WebMetric) -> Measurement:
        shown = f"{spec.method} {spec.url}"
        metadata: Mapping[str, str] = {"url": spec.url, "method": spec.method}
        if spec.json_path:
            metadata = {**metadata, "jsonPath": spec.json_path}
        headers = [(h.key, h.value) for h in spec.headers or []]
        content = spec.body.encode() if spec.body is not None else None
        if spec.json_body is not None:
            content = json.dumps(spec.json_body).encode()
            if not any(key.lower() == "content-type" for key, _ in headers):
                headers.append(("Content-Type", "application/json"))
        try:
            response = self._client_for(spec).request(
                spec.method, spec.url, headers=headers, content=content, timeout=float(spec.timeout_seconds)
            )
        except httpx.TimeoutException:
            return error(f"no answer within {spec.timeout_seconds}s (timeout); {shown}", metadata=metadata)
        except httpx.HTTPError as exc:
            return error(f"unreachable ({type(exc).__name__}: {exc}); {shown}", metadata=metadata)
        if not response.is_success:
            body = response.text[:200]
            hint = (
                "; check the Authorization header and the Secret it comes from"
                if response.status_code in (401, 403)
                else ""
            )
            return error(
                f"HTTP {response.status_code} {response.reason_phrase} ({body!r}){hint}; {shown}",
                metadata=metadata,
            )
        try:
            document = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            return error(f"the answer is not JSON ({response.text[:200]!r}); {shown}", metadata=metadata)
        try:
            value: MeasurementValue = read_json_path(document, spec.json_path)
        except JsonPathError as exc:
            return error(f"{exc} ({response.text[:200]!r}); {shown}", metadata=metadata)
        return judged(metric, value, shown=shown, metadata=metadata)
