"""How cluster verbs reach the API: one session per command, through ``rollouts.kube`` only.

:func:`run_in_cluster` opens a :class:`Session` (kubeconfig, context, namespace, as kubectl would
choose them), runs one async operation with it, closes it, and turns every API failure into a
one-line :class:`CliError`: a missing Rollout, a missing CRD, a denied request (the server's
message names the verb, the resource and the user), an unreachable server, a rejected change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from rollouts.cli.errors import CliError
from rollouts.cli.facts import (
    EXPERIMENT_ANALYSIS_LABEL,
    EXPERIMENT_TEMPLATE_LABEL,
    ROLLOUT_LABEL,
    ExperimentObjects,
    RolloutObjects,
    dig,
)
from rollouts.cli.options import ClusterOptions
from rollouts.kube import (
    ConfigError,
    Forbidden,
    Invalid,
    KubeClient,
    KubeError,
    KubeObject,
    NotFound,
    Unavailable,
    is_owned_by,
    load_config,
)

__all__ = [
    "EXPERIMENT_API",
    "ROLLOUT_API",
    "Session",
    "fetch_experiment",
    "fetch_objects",
    "get_experiment",
    "get_rollout",
    "patch_rollout",
    "run_in_cluster",
    "transient",
]

ROLLOUT_API = ("rollouts.dev/v1alpha1", "Rollout")
EXPERIMENT_API = ("rollouts.dev/v1alpha1", "Experiment")
T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class Session:
    """One command's connection: the client, the namespace it works in, and where the server is."""

    client: KubeClient
    namespace: str
    server: str


def transient(exc: Exception) -> bool:
    """An API failure worth waiting out in a watch (unreachable, restarting, overloaded)."""
    return isinstance(exc, KubeError) and exc.retryable


def explain(exc: KubeError, *, server: str) -> CliError:
    """One line for a failed API request, saying what was refused and what to do."""
    if isinstance(exc, Forbidden):
        return CliError(f"access denied: {exc.message}; ask a cluster admin for that permission (RBAC)")
    if isinstance(exc, Unavailable):
        return CliError(
            f"cannot reach the Kubernetes API at {server}: {exc.message}; check that the cluster is "
            "running and that --kubeconfig/--context point at it"
        )
    if isinstance(exc, NotFound) and ("not served" in exc.message or "has no kind" in exc.message):
        return CliError(
            f"{exc.message} The rollouts.dev CRDs are not installed in this cluster: "
            "install them with `kubectl apply --server-side -f crds/`"
        )
    if isinstance(exc, Invalid):
        return CliError(f"the API server rejected the change: {exc.message}")
    return CliError(exc.message)


def run_in_cluster(options: ClusterOptions, operation: Callable[[Session], Awaitable[T]]) -> T:
    """Run ``operation`` with a fresh session; API errors become :class:`CliError`."""
    try:
        config = load_config(kubeconfig=options.kubeconfig, context=options.context)
    except ConfigError as exc:
        raise CliError(str(exc)) from None
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot use the kubeconfig: {exc}; check --kubeconfig and the file") from None

    async def main() -> T:
        client = KubeClient(config, timeout=15.0)
        try:
            session = Session(
                client=client, namespace=options.namespace or config.namespace, server=config.server
            )
            return await operation(session)
        except KubeError as exc:
            raise explain(exc, server=config.server) from None
        finally:
            await client.close()

    return asyncio.run(main())


async def get_rollout(session: Session, name: str) -> KubeObject:
    """The Rollout ``name`` in the session's namespace, or a CliError that says it is not there."""
    try:
        return await session.client.get(*ROLLOUT_API, namespace=session.namespace, name=name)
    except NotFound as exc:
        if "not served" in exc.message or "has no kind" in exc.message:
            raise
        raise CliError(
            f"rollout {name} not found in namespace {session.namespace}; "
            "check the name (kubectl rollouts list rollouts) or pass -n NAMESPACE"
        ) from None


async def get_experiment(session: Session, name: str) -> KubeObject:
    """The Experiment ``name`` in the session's namespace, or a CliError that says it is not there."""
    try:
        return await session.client.get(*EXPERIMENT_API, namespace=session.namespace, name=name)
    except NotFound as exc:
        if "not served" in exc.message or "has no kind" in exc.message:
            raise
        raise CliError(
            f"experiment {name} not found in namespace {session.namespace}; "
            "check the name (kubectl rollouts list experiments) or pass -n NAMESPACE"
        ) from None


async def patch_rollout(
    session: Session, name: str, patch: Any, *, status: bool = False, patch_type: str = "merge"
) -> KubeObject:
    """Patch the Rollout's spec/metadata, or (``status=True``) its status subresource."""
    try:
        return await session.client.patch(
            *ROLLOUT_API,
            namespace=session.namespace,
            name=name,
            patch=patch,
            patch_type=patch_type,  # type: ignore[arg-type]
            subresource="status" if status else None,
        )
    except NotFound as exc:
        if "not served" in exc.message or "has no kind" in exc.message:
            raise
        raise CliError(f"rollout {name} not found in namespace {session.namespace}") from None


def _selector(rollout: KubeObject) -> str | None:
    labels = dig(rollout, "spec", "selector", "matchLabels")
    if not isinstance(labels, dict) or not labels:
        return None
    return ",".join(f"{key}={value}" for key, value in sorted(labels.items()))


def _has_experiment_step(rollout: KubeObject) -> bool:
    steps = dig(rollout, "spec", "strategy", "canary", "steps")
    return isinstance(steps, list) and any(dig(step, "experiment") is not None for step in steps)


async def fetch_objects(session: Session, rollout: KubeObject) -> RolloutObjects:
    """The Rollout's ReplicaSets (owned by it), their pods, its AnalysisRuns and, when it has an
    experiment step, the Experiments it started with what they own, read concurrently."""
    namespace = session.namespace
    name = str(dig(rollout, "metadata", "name"))
    selector = _selector(rollout)
    replica_sets, pods, runs, experiments = await asyncio.gather(
        session.client.list("apps/v1", "ReplicaSet", namespace=namespace, label_selector=selector),
        session.client.list("v1", "Pod", namespace=namespace, label_selector=selector),
        session.client.list(*_RUN_API, namespace=namespace, label_selector=f"{ROLLOUT_LABEL}={name}"),
        _experiments_of(session, rollout) if _has_experiment_step(rollout) else _nothing(),
    )
    owned = [rs for rs in replica_sets.items if is_owned_by(rs, rollout)]
    owned_pods = [pod for pod in pods.items if any(is_owned_by(pod, rs) for rs in owned)]
    return RolloutObjects(
        rollout=rollout,
        replica_sets=owned,
        pods=owned_pods,
        analysis_runs=[run for run in runs.items if is_owned_by(run, rollout)],
        experiments=experiments,
    )


async def _nothing() -> list[ExperimentObjects]:
    return []


async def _experiments_of(session: Session, rollout: KubeObject) -> list[ExperimentObjects]:
    name = str(dig(rollout, "metadata", "name"))
    found = await session.client.list(
        *EXPERIMENT_API, namespace=session.namespace, label_selector=f"{ROLLOUT_LABEL}={name}"
    )
    experiments = [e for e in found.items if is_owned_by(e, rollout)]
    if not experiments:
        return []
    return await _experiment_objects(session, experiments)


async def fetch_experiment(session: Session, experiment: KubeObject) -> ExperimentObjects:
    """The Experiment's ReplicaSets (owned by it), their pods and its AnalysisRuns."""
    (objects,) = await _experiment_objects(session, [experiment])
    return objects


async def _experiment_objects(session: Session, experiments: list[KubeObject]) -> list[ExperimentObjects]:
    """What each experiment owns, from one list per kind (by the labels the controller writes)."""
    namespace = session.namespace
    replica_sets, pods, runs = await asyncio.gather(
        session.client.list(
            "apps/v1", "ReplicaSet", namespace=namespace, label_selector=EXPERIMENT_TEMPLATE_LABEL
        ),
        session.client.list("v1", "Pod", namespace=namespace, label_selector=EXPERIMENT_TEMPLATE_LABEL),
        session.client.list(*_RUN_API, namespace=namespace, label_selector=EXPERIMENT_ANALYSIS_LABEL),
    )
    out = []
    for experiment in experiments:
        owned = [rs for rs in replica_sets.items if is_owned_by(rs, experiment)]
        out.append(
            ExperimentObjects(
                experiment=experiment,
                replica_sets=owned,
                pods=[pod for pod in pods.items if any(is_owned_by(pod, rs) for rs in owned)],
                analysis_runs=[run for run in runs.items if is_owned_by(run, experiment)],
            )
        )
    return out


_RUN_API = ("rollouts.dev/v1alpha1", "AnalysisRun")
