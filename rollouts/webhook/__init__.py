"""Admission: a validating webhook, served and configured by kopf, that refuses at apply time what
``kubectl rollouts lint`` reports on one object, and a Rollout whose pod template the API server
refuses as a ReplicaSet.

``python -m rollouts.webhook`` (the ``kube-rollouts-webhook`` script) is the process;
:func:`~rollouts.webhook.review.review` is the decision on one object, without kopf.
"""

from __future__ import annotations

from rollouts.webhook.review import Verdict, review

__all__ = ["Verdict", "review"]
