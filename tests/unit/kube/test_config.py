"""Reading a kubeconfig without the kubernetes package: what works, and what the errors say."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rollouts.kube import ConfigError, load_config


def write(
    tmp_path: Path, user: dict[str, object], *, server: str = "https://k.test:6443", **cluster: object
) -> Path:
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server, **cluster}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u", "namespace": "shop"}}],
        "current-context": "ctx",
    }
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_token_and_namespace_come_from_the_current_context(tmp_path: Path) -> None:
    config = load_config(
        kubeconfig=str(write(tmp_path, {"token": "abc"}, **{"insecure-skip-tls-verify": True}))
    )
    assert config.server == "https://k.test:6443" and config.token == "abc" and config.namespace == "shop"


def test_plain_http_needs_no_tls(tmp_path: Path) -> None:
    config = load_config(kubeconfig=str(write(tmp_path, {}, server="http://127.0.0.1:8080")))
    assert config.ssl_context is False


def test_exec_plugins_are_refused_with_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"exec/auth-provider plugin.*client certificate or a token"):
        load_config(
            kubeconfig=str(
                write(tmp_path, {"exec": {"command": "aws"}}, **{"insecure-skip-tls-verify": True})
            )
        )


def test_unknown_context_names_the_context(tmp_path: Path) -> None:
    path = write(tmp_path, {"token": "x"})
    with pytest.raises(ConfigError, match="context 'nope' is not defined"):
        load_config(kubeconfig=str(path), context="nope")


def test_missing_file_says_how_to_point_at_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist: set KUBECONFIG"):
        load_config(kubeconfig=str(tmp_path / "missing"))
