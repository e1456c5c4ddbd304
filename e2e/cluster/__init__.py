"""The local control plane every test and the demo run against.

etcd, kube-apiserver (TLS, RBAC), kube-controller-manager, kube-scheduler and KWOK (which plays the
kubelet for a few fake nodes), plus a real Prometheus with a file-based service-discovery folder.
Binaries come from `build.sh` (built from Go modules, cached by version); state lives in
`.local/cluster/` of the repo (or `$KUBE_ROLLOUTS_CLUSTER_DIR`).

Use: `python -m e2e.cluster up|down|status`, or `ensure_up()` from Python (the pytest fixtures).
"""

from __future__ import annotations

from e2e.cluster.control_plane import Cluster, down, ensure_up, status
from e2e.cluster.processes import ClusterError

__all__ = ["Cluster", "ClusterError", "down", "ensure_up", "status"]
