"""Logging in from a kubeconfig as kubectl does: merged KUBECONFIG lists, exec credential plugins (real
scripts here), refresh and a new login on 401, and no key material left on disk. Against the real API
server in tests/integration/kube/test_login.py."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from rollouts.kube import ConfigError, KubeClient, load_config


def kubeconfig(tmp_path: Path, user: dict[str, object], *, name: str = "config", **cluster: object) -> Path:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://k.test:6443", **cluster}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u", "namespace": "shop"}}],
        "current-context": "ctx",
    }
    path = tmp_path / name
    path.write_text(yaml.safe_dump(doc))
    return path


INSECURE = {"insecure-skip-tls-verify": True}


def exec_plugin(tmp_path: Path, *tokens: str, expired: bool = False, api: str = "v1") -> dict[str, object]:
    """A real exec credential plugin: prints the next of ``tokens`` on each run (the last one repeats),
    and records the KUBERNETES_EXEC_INFO it was given."""
    script = tmp_path / "plugin.py"
    script.write_text(
        f"""import json, os, sys
state = {str(tmp_path / "runs")!r}
runs = int(open(state).read()) if os.path.exists(state) else 0
open(state, "w").write(str(runs + 1))
open({str(tmp_path / "exec-info.json")!r}, "w").write(os.environ.get("KUBERNETES_EXEC_INFO", ""))
tokens = {list(tokens)!r}
status = {{"token": tokens[min(runs, len(tokens) - 1)]}}
if {expired!r}:
    status["expirationTimestamp"] = "2000-01-01T00:00:00Z"
print(json.dumps({{"apiVersion": "client.authentication.k8s.io/{api}", "kind": "ExecCredential",
                  "status": status}}))
"""
    )
    return {
        "exec": {
            "apiVersion": f"client.authentication.k8s.io/{api}",
            "command": sys.executable,
            "args": [str(script)],
            "provideClusterInfo": True,
            "interactiveMode": "Never",
        }
    }


def runs(tmp_path: Path) -> int:
    return int((tmp_path / "runs").read_text())


def test_token_and_namespace_come_from_the_current_context(tmp_path: Path) -> None:
    config = load_config(kubeconfig=str(kubeconfig(tmp_path, {"token": "abc"}, **INSECURE)))
    assert config.server == "https://k.test:6443" and config.namespace == "shop"
    assert config.credentials is not None and config.credentials.token() == "abc"


def test_plain_http_needs_no_tls(tmp_path: Path) -> None:
    config = load_config(kubeconfig=str(kubeconfig(tmp_path, {}, server="http://127.0.0.1:8080")))
    assert config.ssl_context is False and config.credentials is None


@pytest.mark.parametrize("api", ["v1", "v1beta1"])
def test_an_exec_plugin_logs_in_and_is_given_the_cluster(tmp_path: Path, api: str) -> None:
    path = kubeconfig(tmp_path, exec_plugin(tmp_path, "from-plugin", api=api), **INSECURE)
    config = load_config(kubeconfig=str(path))
    assert config.credentials is not None and config.credentials.token() == "from-plugin"
    info = json.loads((tmp_path / "exec-info.json").read_text())
    assert info["apiVersion"] == f"client.authentication.k8s.io/{api}"
    assert info["spec"]["cluster"]["server"] == "https://k.test:6443"  # provideClusterInfo
    assert info["spec"]["interactive"] is False


def test_an_expired_exec_credential_is_fetched_again(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path, exec_plugin(tmp_path, "first", "second", expired=True), **INSECURE)
    credentials = load_config(kubeconfig=str(path)).credentials
    assert credentials is not None
    assert credentials.token() == "second"  # the first one had already expired when it was asked for
    assert runs(tmp_path) == 2


def test_a_401_logs_in_again_once_and_retries_with_the_new_token(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path, exec_plugin(tmp_path, "revoked", "fresh"), **INSECURE)
    seen: list[str] = []

    def api(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        if request.headers["Authorization"] != "Bearer fresh":
            return httpx.Response(401, json={"kind": "Status", "code": 401, "message": "Unauthorized"})
        return httpx.Response(200, json={"kind": "Namespace", "metadata": {"name": "shop"}})

    async def get() -> object:
        async with KubeClient(load_config(kubeconfig=str(path)), transport=httpx.MockTransport(api)) as c:
            return await c.get("v1", "Namespace", name="shop")

    assert asyncio.run(get())["metadata"]["name"] == "shop"
    assert seen == ["Bearer revoked", "Bearer fresh"] and runs(tmp_path) == 2


def test_a_failing_exec_plugin_is_an_error_with_its_own_words(tmp_path: Path) -> None:
    script = tmp_path / "fail.sh"
    script.write_text("#!/bin/sh\necho 'token expired: run aws sso login' >&2\nexit 1\n")
    script.chmod(0o755)
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1", "command": str(script)}}
    with pytest.raises(ConfigError) as err:
        load_config(kubeconfig=str(kubeconfig(tmp_path, user, **INSECURE)))
    assert f"the exec plugin '{script}' failed" in str(err.value)
    assert "run aws sso login" in str(err.value)


def test_an_interactive_only_plugin_without_a_terminal_says_so(tmp_path: Path) -> None:
    user = exec_plugin(tmp_path, "t")
    user["exec"]["interactiveMode"] = "Always"  # type: ignore[index]
    with pytest.raises(ConfigError, match="interactiveMode: Always and needs a terminal"):
        load_config(kubeconfig=str(kubeconfig(tmp_path, user, **INSECURE)))


def test_auth_provider_users_are_pointed_at_exec_plugins(tmp_path: Path) -> None:
    user = {"auth-provider": {"name": "gcp"}}
    with pytest.raises(ConfigError, match=r"auth-provider 'gcp'.*exec credential plugin"):
        load_config(kubeconfig=str(kubeconfig(tmp_path, user, **INSECURE)))


def test_a_kubeconfig_list_is_merged_as_kubectl_merges_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The cluster and context in one file, the user in another: kubectl takes the first file's
    # current-context and the first definition of each name.
    clusters = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://first.test", **INSECURE}}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "exec-user"}}],
        "current-context": "ctx",
    }
    users = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": "https://second.test"}}],
        "users": [{"name": "exec-user", "user": {"token": "from-second-file"}}],
        "contexts": [{"name": "other", "context": {"cluster": "c"}}],
        "current-context": "other",
    }
    (tmp_path / "a").write_text(yaml.safe_dump(clusters))
    (tmp_path / "b").write_text(yaml.safe_dump(users))
    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'missing'}:{tmp_path / 'a'}:{tmp_path / 'b'}")
    config = load_config()
    assert config.server == "https://first.test" and config.source.endswith("context ctx")
    assert config.credentials is not None and config.credentials.token() == "from-second-file"


def test_inline_key_material_never_stays_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-subj", "/CN=me", "-days", "1", "-keyout", "k.pem", "-out", "c.pem"],
        cwd=tmp_path, check=True, capture_output=True,
    )  # fmt: skip
    data = {n: base64.b64encode((tmp_path / f).read_bytes()).decode() for n, f in
            [("client-certificate-data", "c.pem"), ("client-key-data", "k.pem")]}  # fmt: skip
    cluster = {"certificate-authority-data": data["client-certificate-data"]}
    path = kubeconfig(tmp_path, data, **cluster)
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    config = load_config(kubeconfig=str(path))
    assert config.credentials is None and config.ssl_context
    assert list(temp.iterdir()) == [], "a login left files behind"


def test_unknown_context_names_the_context(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path, {"token": "x"})
    with pytest.raises(ConfigError, match="context 'nope' is not defined"):
        load_config(kubeconfig=str(path), context="nope")


def test_an_undefined_user_names_the_user(tmp_path: Path) -> None:
    doc = yaml.safe_load(kubeconfig(tmp_path, {}).read_text())
    doc["contexts"][0]["context"]["user"] = "exec-user"
    (tmp_path / "config").write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match="user 'exec-user' is not defined"):
        load_config(kubeconfig=str(tmp_path / "config"))


def test_missing_file_says_how_to_point_at_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist: set KUBECONFIG"):
        load_config(kubeconfig=str(tmp_path / "missing"))


def test_the_environment_is_not_changed_by_a_login(tmp_path: Path) -> None:
    before = dict(os.environ)
    load_config(kubeconfig=str(kubeconfig(tmp_path, exec_plugin(tmp_path, "t"), **INSECURE)))
    assert dict(os.environ) == before


def test_the_in_cluster_token_is_read_again_as_it_rotates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pod's projected token is rewritten by the kubelet: a 401 (or the minute's refresh) reads it again."""
    from rollouts.kube import config as kube_config

    sa = tmp_path / "serviceaccount"
    sa.mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-subj", "/CN=ca", "-days", "1", "-keyout", str(tmp_path / "ca.key"), "-out", str(sa / "ca.crt")],
        check=True, capture_output=True,
    )  # fmt: skip
    (sa / "token").write_text("first")
    (sa / "namespace").write_text("shop")
    monkeypatch.setattr(kube_config, "SERVICE_ACCOUNT_DIR", sa)
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.kube/config
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    config = load_config()
    assert config.server == "https://10.0.0.1:443" and config.namespace == "shop"
    assert config.credentials is not None and config.credentials.token() == "first"
    (sa / "token").write_text("rotated")
    assert config.credentials.refresh("first") == "rotated"
    assert config.credentials.token() == "rotated"
