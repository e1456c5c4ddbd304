"""An async client for namespaced (and cluster) objects of any kind, built on one httpx client.

Objects are plain dicts (``KubeObject``) exactly as the API server speaks them: no generated
models, so custom kinds (Rollout, VirtualService, ...) and built-in ones are handled alike and a
router can copy an Ingress without a schema. Every failure raises a :class:`~rollouts.kube.errors.KubeError`
subclass naming the request (kind, namespace/name).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from rollouts.kube.config import ClusterConfig, load_config
from rollouts.kube.credentials import CredentialsAuth
from rollouts.kube.errors import KubeError, NotFound, Unavailable, error_for
from rollouts.kube.resources import Resource, known_resource

__all__ = ["FIELD_MANAGER", "KubeClient", "KubeObject", "ObjectList", "PatchType", "WatchEvent"]

KubeObject = dict[str, Any]
PatchType = Literal["merge", "json", "strategic"]
FIELD_MANAGER = "kube-rollouts"

_PATCH_CONTENT = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
}


@dataclass(frozen=True, kw_only=True)
class ObjectList:
    """A LIST answer: the items and the collection's resourceVersion (where a watch starts)."""

    items: list[KubeObject]
    resource_version: str


@dataclass(frozen=True, kw_only=True)
class WatchEvent:
    """One watch event: ``type`` is ADDED, MODIFIED, DELETED or BOOKMARK."""

    type: str
    object: KubeObject


def _describe(resource: Resource, namespace: str | None, name: str | None) -> str:
    where = f"{namespace}/{name}" if namespace and name else (name or namespace or "all namespaces")
    return f"{resource.kind} {where}"


class KubeClient:
    """Talks to one API server. Create with :meth:`from_config`; ``await close()`` when done.

    ``transport`` replaces the network (``httpx.MockTransport``) in unit tests.
    """

    def __init__(
        self,
        config: ClusterConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        field_manager: str = FIELD_MANAGER,
        timeout: float = 30.0,
        user_agent: str = "kube-rollouts",
    ) -> None:
        self.config = config
        self.field_manager = field_manager
        headers = {"Accept": "application/json", "User-Agent": user_agent}
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        common: dict[str, Any] = {
            "base_url": config.server,
            "headers": headers,
            "verify": config.ssl_context,
            "auth": CredentialsAuth(config.credentials, sni_hostname=config.tls_server_name),
            "proxy": config.proxy,
        }
        if transport is not None:
            common = {**common, "transport": transport}
        self._http = httpx.AsyncClient(
            **common, timeout=timeout, limits=httpx.Limits(max_connections=32, max_keepalive_connections=32)
        )
        # Watches hold their connection for minutes: a pool of their own so they never starve requests.
        self._watch_http = httpx.AsyncClient(**common, timeout=httpx.Timeout(timeout, read=None))
        self._discovered: dict[tuple[str, str], Resource] = {}
        self.requests: Counter[str] = Counter()
        """Requests sent so far by method and what they were about ("PUT Rollout", ...): the cost
        of a pass in API calls, which is what bounds the controller's speed under load."""

    @classmethod
    def from_config(cls, *, kubeconfig: str | None = None, context: str | None = None) -> KubeClient:
        return cls(load_config(kubeconfig=kubeconfig, context=context))

    async def close(self) -> None:
        await self._http.aclose()
        await self._watch_http.aclose()

    async def __aenter__(self) -> KubeClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- kinds ---------------------------------------------------------------------------------

    async def resource(self, api_version: str, kind: str) -> Resource:
        """The REST resource of a kind: from the built-in table, else from API discovery (cached)."""
        known = known_resource(api_version, kind) or self._discovered.get((api_version, kind))
        if known is not None:
            return known
        root = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        try:
            body = await self._request("GET", root, what=f"discovery of {api_version}", counted="discovery")
        except NotFound as exc:
            raise NotFound(
                f"API {api_version} is not served: is the CRD for {kind} installed?", status=404
            ) from exc
        for entry in body.get("resources", []):
            if entry.get("kind") == kind and "/" not in entry.get("name", ""):
                found = Resource(
                    api_version=api_version,
                    kind=kind,
                    plural=entry["name"],
                    namespaced=bool(entry.get("namespaced")),
                )
                self._discovered[(api_version, kind)] = found
                return found
        raise NotFound(f"API {api_version} has no kind {kind}: is its CRD installed?", status=404)

    # -- reads ---------------------------------------------------------------------------------

    async def get(
        self, api_version: str, kind: str, *, name: str, namespace: str | None = None
    ) -> KubeObject:
        res = await self.resource(api_version, kind)
        return await self._request(
            "GET",
            res.path(namespace=namespace, name=name),
            what=_describe(res, namespace, name),
            counted=res.kind,
        )

    async def get_or_none(
        self, api_version: str, kind: str, *, name: str, namespace: str | None = None
    ) -> KubeObject | None:
        try:
            return await self.get(api_version, kind, name=name, namespace=namespace)
        except NotFound:
            return None

    async def list(
        self,
        api_version: str,
        kind: str,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> ObjectList:
        """All objects of a kind in ``namespace`` (``None``: all namespaces)."""
        res = await self.resource(api_version, kind)
        params = {
            k: v for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector)) if v
        }
        body = await self._request(
            "GET",
            res.path(namespace=namespace),
            params=params,
            what=f"list {_describe(res, namespace, None)}",
            counted=f"{res.kind} list",
        )
        items = body.get("items") or []
        for item in items:  # LIST items carry no apiVersion/kind; make them whole objects.
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return ObjectList(
            items=items, resource_version=str(body.get("metadata", {}).get("resourceVersion", ""))
        )

    async def watch(
        self,
        api_version: str,
        kind: str,
        *,
        resource_version: str,
        namespace: str | None = None,
        label_selector: str | None = None,
        timeout_seconds: int = 300,
    ) -> AsyncIterator[WatchEvent]:
        """Stream changes after ``resource_version`` until the server ends the watch.

        Raises :class:`~rollouts.kube.errors.Gone` when the version is too old (list again).
        """
        res = await self.resource(api_version, kind)
        params: dict[str, str] = {
            "watch": "1",
            "resourceVersion": resource_version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(timeout_seconds),
        }
        if label_selector:
            params["labelSelector"] = label_selector
        what = f"watch {_describe(res, namespace, None)}"
        try:
            async with self._watch_http.stream(
                "GET", res.path(namespace=namespace), params=params
            ) as response:
                if response.status_code >= 400:
                    await response.aread()
                    raise error_for(response.status_code, _json_or_none(response.content), what=what)
                async for line in response.aiter_lines():
                    if not line:
                        continue
                    event = json.loads(line)
                    if event.get("type") == "ERROR":
                        status = event.get("object") or {}
                        raise error_for(int(status.get("code") or 500), status, what=what)
                    yield WatchEvent(type=str(event.get("type")), object=event.get("object") or {})
        except httpx.HTTPError as exc:
            raise Unavailable(f"{what}: {type(exc).__name__}: {exc}") from exc

    # -- writes --------------------------------------------------------------------------------

    async def create(
        self, obj: KubeObject, *, namespace: str | None = None, dry_run: bool = False
    ) -> KubeObject:
        """Create ``obj``; with ``dry_run`` the server validates and admits it but stores nothing."""
        res, ns, name = await self._locate(obj, namespace)
        return await self._request(
            "POST",
            res.path(namespace=ns),
            body=obj,
            params={"dryRun": "All"} if dry_run else None,
            what=f"{'dry-run ' if dry_run else ''}create {_describe(res, ns, name)}",
            counted=f"{res.kind} dry-run" if dry_run else res.kind,
        )

    async def replace(
        self, obj: KubeObject, *, namespace: str | None = None, subresource: str | None = None
    ) -> KubeObject:
        """PUT the whole object; with ``metadata.resourceVersion`` set, a stale copy raises Conflict."""
        res, ns, name = await self._locate(obj, namespace)
        path = res.path(namespace=ns, name=name, subresource=subresource)
        return await self._request(
            "PUT",
            path,
            body=obj,
            what=f"replace {_describe(res, ns, name)}",
            counted=_counted(res, subresource),
        )

    async def patch(
        self,
        api_version: str,
        kind: str,
        *,
        name: str,
        patch: Mapping[str, Any] | Sequence[Any],
        namespace: str | None = None,
        patch_type: PatchType = "merge",
        subresource: str | None = None,
    ) -> KubeObject:
        res = await self.resource(api_version, kind)
        return await self._request(
            "PATCH",
            res.path(namespace=namespace, name=name, subresource=subresource),
            body=patch,
            content_type=_PATCH_CONTENT[patch_type],
            what=f"patch {_describe(res, namespace, name)}",
            counted=_counted(res, subresource),
        )

    async def apply(
        self,
        obj: KubeObject,
        *,
        namespace: str | None = None,
        force: bool = False,
        subresource: str | None = None,
        field_manager: str | None = None,
    ) -> KubeObject:
        """Server-side apply ``obj`` (it must hold only the fields this manager owns).

        Without ``force`` a field owned by another manager with a different value raises Conflict,
        which is what tells a GitOps tool's fields from ours.
        """
        res, ns, name = await self._locate(obj, namespace)
        params = {"fieldManager": field_manager or self.field_manager}
        if force:
            params["force"] = "true"
        return await self._request(
            "PATCH",
            res.path(namespace=ns, name=name, subresource=subresource),
            body=obj,
            params=params,
            content_type="application/apply-patch+yaml",
            what=f"apply {_describe(res, ns, name)}",
            counted=f"{_counted(res, subresource)} apply",
        )

    async def delete(
        self,
        api_version: str,
        kind: str,
        *,
        name: str,
        namespace: str | None = None,
        missing_ok: bool = True,
        uid: str | None = None,
        propagation: Literal["Background", "Foreground", "Orphan"] = "Background",
    ) -> None:
        """Delete an object; ``uid`` makes it delete only that incarnation (a precondition)."""
        res = await self.resource(api_version, kind)
        body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        if uid:
            body["preconditions"] = {"uid": uid}
        try:
            await self._request(
                "DELETE",
                res.path(namespace=namespace, name=name),
                body=body,
                what=f"delete {_describe(res, namespace, name)}",
                counted=res.kind,
            )
        except NotFound:
            if not missing_ok:
                raise

    # -- plumbing ------------------------------------------------------------------------------

    async def _locate(
        self, obj: KubeObject, namespace: str | None
    ) -> tuple[Resource, str | None, str | None]:
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if not api_version or not kind:
            raise ValueError("object needs apiVersion and kind")
        meta = obj.get("metadata") or {}
        res = await self.resource(str(api_version), str(kind))
        ns = (namespace or meta.get("namespace")) if res.namespaced else None
        return res, ns, meta.get("name")

    async def _request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        counted: str,
        body: Any = None,
        params: Mapping[str, str] | None = None,
        content_type: str = "application/json",
    ) -> KubeObject:
        self.requests[f"{method} {counted}"] += 1
        content = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": content_type} if content is not None else None
        try:
            response = await self._http.request(method, path, params=params, content=content, headers=headers)
        except httpx.HTTPError as exc:
            raise Unavailable(f"{what}: API server unreachable ({type(exc).__name__}: {exc})") from exc
        payload = _json_or_none(response.content)
        if response.status_code >= 400:
            raise error_for(response.status_code, payload, what=what)
        if not isinstance(payload, dict):
            raise KubeError(f"{what}: unexpected answer {response.text[:200]!r}", status=response.status_code)
        return payload


def _counted(res: Resource, subresource: str | None) -> str:
    return f"{res.kind}/{subresource}" if subresource else res.kind


def _json_or_none(content: bytes) -> Any:
    try:
        return json.loads(content) if content else None
    except ValueError:
        return None
