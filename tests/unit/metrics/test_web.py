"""The web provider through httpx.MockTransport: request as configured, value read, failures as Errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from rollouts.api import Metric
from rollouts.api.enums import AnalysisPhase
from rollouts.metrics.provider import Measurement
from rollouts.metrics.web import WebProvider, read_json_path
from tests.unit.metrics.tls import serve_self_signed

URL = "http://checks.example/api/health"


def metric(*, success: str | None = "result >= 0.95", **web: Any) -> Metric:
    body: dict[str, Any] = {"name": "health", "provider": {"web": {"url": URL, **web}}}
    if success:
        body["successCondition"] = success
    return Metric.model_validate(body)


def measure(m: Metric, handler: Callable[[httpx.Request], httpx.Response]) -> Measurement:
    return WebProvider(transport=httpx.MockTransport(handler)).measure(m)


def test_request_carries_method_headers_and_body_and_value_is_read_by_json_path() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"data": {"ratio": 0.99, "ok": True}})

    m = metric(
        method="POST",
        headers=[{"key": "Authorization", "value": "Bearer t0k"}],
        body='{"service": "web"}',
        jsonPath="{$.data.ratio}",
    )
    result = measure(m, handler)
    assert result.phase is AnalysisPhase.SUCCESSFUL and result.value == 0.99
    request = seen[0]
    assert request.method == "POST" and str(request.url) == URL
    assert request.headers["Authorization"] == "Bearer t0k"
    assert json.loads(request.content) == {"service": "web"}


def test_value_keeps_its_json_type() -> None:
    ok = measure(
        metric(success="result == true", jsonPath="$.ok"), lambda r: httpx.Response(200, json={"ok": True})
    )
    assert ok.value is True and ok.phase is AnalysisPhase.SUCCESSFUL
    text = measure(
        metric(success='result == "1"', jsonPath="{$.v}"), lambda r: httpx.Response(200, json={"v": "1"})
    )
    assert text.value == "1" and text.phase is AnalysisPhase.SUCCESSFUL


def test_failing_value_is_failed() -> None:
    result = measure(metric(jsonPath="{$.r}"), lambda r: httpx.Response(200, json={"r": 0.5}))
    assert result.phase is AnalysisPhase.FAILED and "0.5" in (result.message or "")


@pytest.mark.parametrize(
    ("path", "document", "expected"),
    [
        (None, 3, 3),
        ("{$}", [1, 2], [1, 2]),
        ("{$.items[1].v}", {"items": [{"v": 1}, {"v": 2}]}, 2),
        ("$.items[-1].v", {"items": [{"v": 1}, {"v": 2}]}, 2),
        ("{$.labels['app.kubernetes.io/name']}", {"labels": {"app.kubernetes.io/name": "web"}}, "web"),
        ("data.value", {"data": {"value": 7}}, 7),
    ],
)
def test_json_path_forms(path: str | None, document: Any, expected: Any) -> None:
    assert read_json_path(document, path) == expected


def test_missing_path_is_an_error_naming_the_field_and_url() -> None:
    result = measure(metric(jsonPath="{$.data.ratio}"), lambda r: httpx.Response(200, json={"data": {}}))
    assert result.phase is AnalysisPhase.ERROR
    assert "no field 'ratio'" in (result.message or "") and f"GET {URL}" in (result.message or "")


def test_not_json_is_an_error() -> None:
    result = measure(metric(), lambda r: httpx.Response(200, text="<html>oops</html>"))
    assert result.phase is AnalysisPhase.ERROR and "not JSON" in (result.message or "")


def test_http_error_status_is_an_error_with_the_body() -> None:
    result = measure(metric(), lambda r: httpx.Response(503, text="overloaded"))
    assert result.phase is AnalysisPhase.ERROR
    assert "HTTP 503" in (result.message or "") and "overloaded" in (result.message or "")


def test_unauthorized_points_at_the_secret() -> None:
    result = measure(metric(), lambda r: httpx.Response(401, text="no"))
    assert result.phase is AnalysisPhase.ERROR and "Secret" in (result.message or "")


def test_timeout_is_an_error_naming_the_limit() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    result = measure(metric(timeoutSeconds=3), slow)
    assert result.phase is AnalysisPhase.ERROR and "within 3s (timeout)" in (result.message or "")


def test_unreachable_is_an_error() -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    result = measure(metric(), refused)
    assert result.phase is AnalysisPhase.ERROR
    assert "unreachable" in (result.message or "") and URL in (result.message or "")


def test_null_value_is_no_data_not_success() -> None:
    result = measure(
        metric(success="result == nil || result > 0", jsonPath="{$.v}"),
        lambda r: httpx.Response(200, json={"v": None}),
    )
    assert result.phase is AnalysisPhase.ERROR and "no data" in (result.message or "")


def test_timeout_seconds_reaches_the_client() -> None:
    seen: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json=1)

    measure(metric(timeoutSeconds=4), handler)
    assert seen[0]["read"] == 4.0


def test_json_body_is_sent_as_json_with_its_args_filled() -> None:
    from rollouts.engine.analysis_args import substitute_args

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"ok": 1})

    m = metric(
        success="result == 1",
        method="POST",
        jsonPath="{$.ok}",
        jsonBody={"service": "{{args.svc}}", "tags": ["{{args.svc}}", 3]},
    )
    result = measure(substitute_args(m, {"svc": "web-canary"}), handler)
    assert result.phase is AnalysisPhase.SUCCESSFUL
    assert json.loads(seen[0].content) == {"service": "web-canary", "tags": ["web-canary", 3]}
    assert seen[0].headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("web", "problem"),
    [
        ({"body": "x", "jsonBody": {"a": 1}, "method": "POST"}, "set body or jsonBody, not both"),
        ({"jsonBody": {"a": 1}}, "a jsonBody needs method POST or PUT"),
    ],
)
def test_json_body_rules_name_the_field(web: dict[str, Any], problem: str) -> None:
    from rollouts.api import validation_errors

    template = {
        "apiVersion": "rollouts.dev/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "t"},
        "spec": {"metrics": [{"name": "m", "provider": {"web": {"url": URL, **web}}}]},
    }
    errors = validation_errors(template)
    assert any("spec.metrics[0].provider.web.jsonBody" in e and problem in e for e in errors), errors


def test_insecure_skips_the_certificate_check_of_a_real_tls_endpoint() -> None:
    # A real HTTPS server on loopback with a self-signed certificate: refused as unverifiable
    # unless the metric says insecure.
    import http.server
    import threading

    class Answer(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b'{"ok": 1}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    serve_self_signed(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"https://127.0.0.1:{server.server_address[1]}/health"
    provider = WebProvider()
    try:
        refused = provider.measure(metric(success="result == 1", url=url, jsonPath="{$.ok}"))
        assert refused.phase is AnalysisPhase.ERROR and "CERTIFICATE_VERIFY_FAILED" in refused.message
        trusted = provider.measure(metric(success="result == 1", url=url, jsonPath="{$.ok}", insecure=True))
        assert trusted.phase is AnalysisPhase.SUCCESSFUL, trusted.message
    finally:
        provider.close()
        server.shutdown()
        server.server_close()
