"""The request mix: plain requests, plus classes of tagged requests that header and mirror routes catch.

By default every simulated request is *plain*: `GET /`, no headers, no cookies, exactly what the
simulator always sent. A `RequestClass` adds requests with a method, a path, headers and cookies of
their own, taking `share` (0..1) of every router's `rate`; the plain class takes what the tagged ones
leave (a mix whose shares add up to 1 sends no plain request at all).

    RequestClass(share=0.2, name="beta", path="/api/x", headers={"x-beta": "yes"}, cookies={"beta": "always"})

Each router decides per class where its requests go (`nginx`: header, then cookie, then weight;
`istio`: the first http route whose match matches). Series of a tagged class carry one more label,
`request_class="<name>"`; plain series carry none, so they are exactly what they always were and a
query tells the classes apart with `request_class=""` (plain) or `request_class="beta"`. Without a
`name`, a tagged class is called `class-<n>`, n counting tagged classes from 1 in the order given.

On the command line (`--request-class`, repeatable) a class is either comma-separated items

    share=0.2,name=beta,method=GET,path=/api/x,header:x-beta=yes,cookie:beta=always

(`share` is required; a value cannot hold a comma there) or the same fields as a JSON object

    {"share": 0.2, "name": "beta", "path": "/api/x", "headers": {"x-beta": "yes"}, "cookies": {"b": "1"}}
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

CLASS_LABEL = "request_class"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
_METHOD = re.compile(r"^[A-Z]+$")
_FIELDS = ("share", "name", "method", "path", "headers", "cookies")


def _pairs(values: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> tuple[tuple[str, str], ...]:
    items = values.items() if isinstance(values, Mapping) else (values or ())
    return tuple((str(k), str(v)) for k, v in items)


@dataclass(frozen=True)
class RequestClass:
    """`share` of each router's requests sent as `method path` with these headers and cookies.

    Header names are kept lower-case (HTTP header names are case-insensitive, Istio's match keys are
    lower-case); cookies also travel as a `cookie` header (`a=1; b=2`), which is what an Istio
    header match on `cookie` sees."""

    share: float
    method: str = "GET"
    path: str = "/"
    headers: Mapping[str, str] | tuple[tuple[str, str], ...] = ()
    cookies: Mapping[str, str] | tuple[tuple[str, str], ...] = ()
    name: str = ""
    _headers: dict[str, str] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        headers = tuple((k.lower(), v) for k, v in _pairs(self.headers))
        cookies = _pairs(self.cookies)
        object.__setattr__(self, "headers", headers)
        object.__setattr__(self, "cookies", cookies)
        object.__setattr__(self, "method", str(self.method).upper())
        sent = dict(headers)
        if cookies and "cookie" not in sent:
            sent["cookie"] = "; ".join(f"{k}={v}" for k, v in cookies)
        object.__setattr__(self, "_headers", sent)

    @property
    def is_plain(self) -> bool:
        """The plain class has no name (`request_mix` names every tagged class)."""
        return self.name == ""

    def header(self, name: str) -> str | None:
        """The value of request header `name` (any case), None when the request does not carry it."""
        return self._headers.get(name.lower())

    def cookie(self, name: str) -> str | None:
        """The value of cookie `name`, read from the request's `cookie` header as a proxy reads it."""
        for part in (self.header("cookie") or "").split(";"):
            key, sep, value = part.strip().partition("=")
            if sep and key == name:
                return value
        return None

    @property
    def uri_path(self) -> str:
        return self.path.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.path.split("?", 1)[1] if "?" in self.path else ""

    def labels(self) -> dict[str, str]:
        """The extra series labels of this class's requests: none for plain ones."""
        return {} if self.is_plain else {CLASS_LABEL: self.name}

    def to_spec(self) -> str:
        """This class as a `--request-class` argument (JSON, so any value survives)."""
        body: dict[str, Any] = {"share": self.share, "method": self.method, "path": self.path}
        if self.name:
            body["name"] = self.name
        if self.headers:
            body["headers"] = dict(self.headers)  # type: ignore[arg-type]
        if self.cookies:
            body["cookies"] = dict(self.cookies)  # type: ignore[arg-type]
        return json.dumps(body, separators=(",", ":"))


PLAIN = RequestClass(share=1.0)


def request_mix(classes: Iterable[RequestClass] = ()) -> tuple[RequestClass, ...]:
    """The classes every router splits its `rate` over: the plain class first (with the share the
    tagged ones leave, dropped when that is nothing), then each tagged class, named and checked.

    With no tagged class the mix is `(PLAIN,)` with share exactly 1, so every stream is what it was.
    Raises ValueError for a share outside (0, 1], shares adding up to more than 1, a bad or repeated
    name, a method that is not an upper-case word, or a path that does not start with `/`."""
    tagged: list[RequestClass] = []
    for i, given in enumerate(classes, start=1):
        rc = given if given.name else replace(given, name=f"class-{i}")
        if not 0 < rc.share <= 1:
            raise ValueError(f"request class {rc.name}: share must be in (0, 1], got {rc.share}")
        if not _NAME.match(rc.name):
            raise ValueError(f"request class name {rc.name!r}: use letters, digits, '_', '.', ':', '-'")
        if any(t.name == rc.name for t in tagged):
            raise ValueError(f"request class name {rc.name!r} is used twice")
        if not _METHOD.match(rc.method):
            raise ValueError(f"request class {rc.name}: method {rc.method!r} is not an HTTP method")
        if not rc.path.startswith("/"):
            raise ValueError(f"request class {rc.name}: path {rc.path!r} must start with '/'")
        tagged.append(rc)
    if not tagged:
        return (PLAIN,)
    left = 1.0 - sum(t.share for t in tagged)
    if left < -1e-9:
        raise ValueError(f"request class shares add up to {1 - left:g}, more than 1")
    plain = () if left <= 1e-9 else (replace(PLAIN, share=left),)
    return (*plain, *tagged)


def parse_request_class(spec: str) -> RequestClass:
    """A `--request-class` argument (see the module docstring) as a RequestClass; ValueError if bad."""
    spec = spec.strip()
    if spec.startswith("{"):
        try:
            body = json.loads(spec)
        except json.JSONDecodeError as exc:
            raise ValueError(f"request class {spec!r}: not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise ValueError(f"request class {spec!r}: expected a JSON object")
    else:
        body = {}
        for item in filter(None, (part.strip() for part in spec.split(","))):
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"request class {spec!r}: {item!r} is not key=value")
            kind, colon, name = key.partition(":")
            if colon and kind in ("header", "cookie") and name:
                body.setdefault(f"{kind}s", {})[name] = value
            elif colon or key not in _FIELDS:
                raise ValueError(
                    f"request class {spec!r}: unknown key {key!r} "
                    "(share, name, method, path, header:NAME, cookie:NAME)"
                )
            else:
                body[key] = value
    unknown = set(body) - set(_FIELDS)
    if unknown:
        raise ValueError(f"request class {spec!r}: unknown field(s) {', '.join(sorted(unknown))}")
    if "share" not in body:
        raise ValueError(f"request class {spec!r}: share is required")
    try:
        share = float(body["share"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"request class {spec!r}: share {body['share']!r} is not a number") from exc
    for key in ("headers", "cookies"):
        if not isinstance(body.get(key, {}), dict):
            raise ValueError(f"request class {spec!r}: {key} must be an object of name: value")
    return RequestClass(
        share=share,
        name=str(body.get("name", "")),
        method=str(body.get("method", "GET")),
        path=str(body.get("path", "/")),
        headers=body.get("headers", {}),
        cookies=body.get("cookies", {}),
    )
