"""The command line itself: flags anywhere, one-line errors with an exit code, never a traceback."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from rollouts.cli.__main__ import build_parser
from tests.unit.cli.cli import cli


def test_cluster_flags_work_before_and_after_the_verb() -> None:
    before = build_parser().parse_args(["-n", "shop", "--context", "prod", "get", "rollout", "web"])
    after = build_parser().parse_args(["get", "rollout", "web", "-n", "shop", "--context", "prod"])
    assert (before.namespace, before.context) == (after.namespace, after.context) == ("shop", "prod")


def test_bad_flag_is_one_line_and_exit_2() -> None:
    result = cli("promote", "web", "--bogus")
    assert result.code == 2
    assert (
        result.err
        == "error: kubectl rollouts: unrecognized arguments: --bogus (see 'kubectl rollouts --help')\n"
    )


def test_bad_output_format_is_refused() -> None:
    result = cli("plan", "-f", "x.yaml", "-o", "xml")
    assert result.code == 2
    assert "invalid choice: 'xml'" in result.err


def test_version() -> None:
    result = cli("version")
    assert result.code == 0
    assert result.out.startswith("kubectl-rollouts v0.1.0 (API rollouts.dev/v1alpha1")


def test_missing_kubeconfig_is_one_line(tmp_path: Path) -> None:
    result = cli("get", "rollout", "web", "--kubeconfig", str(tmp_path / "none"))
    assert result.code == 1
    assert (
        result.err
        == f"error: kubeconfig {tmp_path / 'none'} does not exist: set KUBECONFIG or pass --kubeconfig\n"
    )


def test_unreachable_cluster_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: k, cluster: {{server: 'http://127.0.0.1:{port}'}}}}]\n"
        "contexts: [{name: c, context: {cluster: k, namespace: shop}}]\nusers: []\n"
    )
    for argv in (["get", "rollout", "web"], ["list", "rollouts"], ["promote", "web"], ["status", "web"]):
        result = cli(*argv, "--kubeconfig", str(kubeconfig))
        assert result.code == 1, argv
        assert result.err.startswith(
            f"error: cannot reach the Kubernetes API at http://127.0.0.1:{port}: "
        ), result.err
        assert "Traceback" not in result.err and len(result.err.splitlines()) == 1


def test_status_watches_by_default_and_no_watch_prints_once() -> None:
    parse = build_parser().parse_args
    assert parse(["status", "web"]).watch is True
    assert parse(["status", "web", "-w", "--timeout", "60s"]).watch is True
    assert parse(["status", "web", "--no-watch"]).watch is False


def test_status_no_watch_with_a_timeout_is_a_usage_error() -> None:
    result = cli("status", "web", "--no-watch", "--timeout", "60s")
    assert result.code == 2
    assert result.err == (
        "error: --timeout 60s has no effect with --no-watch (it prints the phase once); drop one of them\n"
    )


def test_status_exit_codes_are_distinct_and_in_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    from rollouts.cli.status import EXIT_CODES

    codes = [code for code, _ in EXIT_CODES]
    assert codes == sorted(set(codes)) == [0, 1, 2, 3, 4, 5]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["status", "--help"])
    help_text = capsys.readouterr().out
    for code, meaning in EXIT_CODES:
        assert f"  {code}  {meaning}\n" in help_text
