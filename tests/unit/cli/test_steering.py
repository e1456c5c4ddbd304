"""What each steering verb writes: status-subresource requests, spec changes, and the refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from rollouts.cli import edits, steering
from rollouts.cli.errors import CliError
from rollouts.cli.steering import Patch
from rollouts.engine.hashing import pod_template_hash

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
TEMPLATE: dict[str, Any] = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "web", "image": "web:2"}, {"name": "proxy", "image": "envoy:1"}]},
}


def rollout(*, paused: bool = False, blue_green: bool = False, **status: Any) -> dict[str, Any]:
    strategy = (
        {"blueGreen": {"activeService": "a"}}
        if blue_green
        else {"canary": {"steps": [{"setWeight": 20}, {"pause": {}}, {"setWeight": 60}]}}
    )
    return {
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"paused": paused, "template": TEMPLATE, "strategy": strategy},
        "status": {"currentPodHash": "new", "stableRS": "old", **status},
    }


def test_promote_clears_pause_conditions_in_the_status_only() -> None:
    steer = steering.promote(rollout(pauseConditions=[{"reason": "CanaryPauseStep"}], currentStepIndex=1))
    assert steer.patches == (Patch(body={"status": {"pauseConditions": None}}, status=True),)


def test_promote_of_a_user_paused_rollout_also_lifts_spec_paused() -> None:
    steer = steering.promote(rollout(paused=True, pauseConditions=[{"reason": "CanaryPauseStep"}]))
    assert steer.patches[1] == Patch(body={"spec": {"paused": False}})


def test_promote_skips_a_step_that_is_not_a_pause() -> None:
    steer = steering.promote(rollout(currentStepIndex=0))
    assert steer.patches == (Patch(body={"status": {"currentStepIndex": 1}}, status=True),)
    assert "step 0 skipped" in steer.message


def test_promote_full_sets_promote_full() -> None:
    assert steering.promote(rollout(currentStepIndex=0), full=True).patches == (
        Patch(body={"status": {"promoteFull": True}}, status=True),
    )


def test_nothing_to_promote_on_a_finished_rollout() -> None:
    done = rollout(currentPodHash="old", currentStepIndex=3)
    with pytest.raises(CliError, match="not paused and has no step left to skip"):
        steering.promote(done)
    with pytest.raises(CliError, match="not updating"):
        steering.promote(done, full=True)


def test_abort_stamps_abortedAt_for_the_engine() -> None:
    steer = steering.abort(rollout(), now=NOW)
    assert steer.patches == (
        Patch(body={"status": {"abort": True, "abortedAt": "2024-05-01T12:00:00Z"}}, status=True),
    )


def test_abort_without_an_update_is_refused() -> None:
    with pytest.raises(CliError, match="rollout web has no update in progress"):
        steering.abort(rollout(currentPodHash="old"), now=NOW)


def test_retry_clears_abort_and_keeps_aborted_at() -> None:
    steer = steering.retry(rollout(abort=True, abortedAt="2024-05-01T11:00:00Z"), now=NOW)
    assert steer.patches[0].body == {"status": {"abort": False, "abortedAt": "2024-05-01T11:00:00Z"}}
    with pytest.raises(CliError, match="is not aborted"):
        steering.retry(rollout(), now=NOW)


def test_pause_resume_and_restart_change_the_spec() -> None:
    assert steering.pause(rollout()).patches == (Patch(body={"spec": {"paused": True}}),)
    assert steering.pause(rollout(paused=True)).patches == ()
    assert steering.resume(rollout(paused=True)).patches == (Patch(body={"spec": {"paused": False}}),)
    hint = steering.resume(rollout(pauseConditions=[{"reason": "CanaryPauseStep"}]))
    assert hint.patches == () and "kubectl rollouts promote web" in hint.message
    assert steering.restart(rollout(), at=NOW).patches == (
        Patch(body={"spec": {"restartAt": "2024-05-01T12:00:00Z"}}),
    )


def test_set_image_tests_the_container_name_before_replacing_its_image() -> None:
    steer = edits.set_image(rollout(), [("proxy", "envoy:2")])
    assert steer.patches[0].type == "json"
    assert steer.patches[0].body == [
        {"op": "test", "path": "/spec/template/spec/containers/1/name", "value": "proxy"},
        {"op": "replace", "path": "/spec/template/spec/containers/1/image", "value": "envoy:2"},
    ]


def test_set_image_star_sets_every_container() -> None:
    body = edits.set_image(rollout(), [("*", "x:1")]).patches[0].body
    assert [op["path"] for op in body if op["op"] == "replace"] == [
        "/spec/template/spec/containers/0/image",
        "/spec/template/spec/containers/1/image",
    ]


def test_set_image_of_an_unknown_container_names_the_real_ones() -> None:
    with pytest.raises(CliError, match=r"no container named 'db' \(its containers: web, proxy\)"):
        edits.set_image(rollout(), [("db", "pg:16")])
    with pytest.raises(CliError, match="is not CONTAINER=IMAGE"):
        edits.parse_assignments(["web"])


def _rs(revision: int, template: dict[str, Any]) -> dict[str, Any]:
    pod_hash = pod_template_hash(template)
    server_copy = {
        "metadata": {
            "labels": {**template["metadata"]["labels"], "rollouts-pod-template-hash": pod_hash},
            "creationTimestamp": None,
        },
        "spec": {
            **template["spec"],
            "containers": [
                {**c, "imagePullPolicy": "IfNotPresent", "terminationMessagePath": "/dev/termination-log",
                 "terminationMessagePolicy": "File", "resources": {}}
                for c in template["spec"]["containers"]
            ],
            "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "schedulerName": "default-scheduler",
            "securityContext": {}, "terminationGracePeriodSeconds": 30,
        },
    }  # fmt: skip
    return {
        "metadata": {"name": f"web-{pod_hash}", "labels": {"rollouts-pod-template-hash": pod_hash},
                     "annotations": {"rollouts.dev/revision": str(revision)}},
        "spec": {"template": server_copy},
    }  # fmt: skip


def test_undo_restores_the_previous_template_exactly_so_its_hash_is_the_old_revisions() -> None:
    old_template = {**TEMPLATE, "spec": {"containers": [{"name": "web", "image": "web:1"}]}}
    current = rollout(currentPodHash=pod_template_hash(TEMPLATE))
    replica_sets = [_rs(1, old_template), _rs(2, TEMPLATE)]
    steer = edits.undo(current, replica_sets, to_revision=None)
    test, replace = steer.patches[0].body
    assert test == {"op": "test", "path": "/spec/template", "value": TEMPLATE}
    assert replace["value"] == old_template
    assert steer.message == "rollout 'web' rolled back to revision 1"


def test_undo_to_a_missing_or_the_current_revision_is_refused() -> None:
    current = rollout(currentPodHash=pod_template_hash(TEMPLATE))
    with pytest.raises(CliError, match=r"no revision 7 \(revisions kept: 2\)"):
        edits.undo(current, [_rs(2, TEMPLATE)], to_revision=7)
    with pytest.raises(CliError, match="already runs revision 2"):
        edits.undo(current, [_rs(2, TEMPLATE)], to_revision=2)
    with pytest.raises(CliError, match="no earlier revision"):
        edits.undo(current, [_rs(2, TEMPLATE)], to_revision=None)
