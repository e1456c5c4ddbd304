"""kube-rollouts: progressive delivery (canary, blue-green) for Kubernetes."""

__version__ = "0.1.0"
