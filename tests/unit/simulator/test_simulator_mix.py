"""The request mix: the plain class takes what tagged classes leave, classes are checked and named, and
the command line (`--request-class`, key=value items or JSON) and the launcher carry them."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

import pytest

from e2e.simulator import PLAIN, NamespaceObjects, RequestClass, Simulation, parse_request_class, request_mix
from e2e.simulator.__main__ import parse
from e2e.simulator.launcher import command
from tests.unit.simulator.objects import ingress, pods, service


def test_without_tagged_classes_every_request_is_plain() -> None:
    assert request_mix() == (PLAIN,)
    assert PLAIN.share == 1.0 and PLAIN.labels() == {} and PLAIN.method == "GET" and PLAIN.path == "/"
    assert PLAIN.header("cookie") is None


def test_the_plain_class_takes_what_the_tagged_ones_leave() -> None:
    mix = request_mix([RequestClass(share=0.2, headers={"x": "1"}), RequestClass(share=0.3, name="b")])
    assert [(rc.name, rc.share) for rc in mix] == [("", pytest.approx(0.5)), ("class-1", 0.2), ("b", 0.3)]
    assert [rc.labels() for rc in mix] == [{}, {"request_class": "class-1"}, {"request_class": "b"}]


def test_shares_adding_up_to_one_leave_no_plain_requests() -> None:
    assert [rc.name for rc in request_mix([RequestClass(share=0.5), RequestClass(share=0.5)])] == [
        "class-1",
        "class-2",
    ]


@pytest.mark.parametrize(
    ("classes", "error"),
    [
        ([RequestClass(share=0)], "share must be in"),
        ([RequestClass(share=1.5)], "share must be in"),
        ([RequestClass(share=0.6), RequestClass(share=0.6)], "more than 1"),
        ([RequestClass(share=0.1, name="a"), RequestClass(share=0.1, name="a")], "used twice"),
        ([RequestClass(share=0.1, name="a b")], "letters, digits"),
        ([RequestClass(share=0.1, method="GE T")], "not an HTTP method"),
        ([RequestClass(share=0.1, path="api")], "must start with"),
    ],
)
def test_a_bad_mix_is_refused(classes: list[RequestClass], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        request_mix(classes)
    with pytest.raises(ValueError, match=error):
        Simulation(request_classes=tuple(classes))


def test_headers_are_case_insensitive_and_cookies_travel_in_the_cookie_header() -> None:
    rc = RequestClass(share=0.1, headers={"X-Beta": "yes"}, cookies={"beta": "always", "id": "7"})
    assert rc.header("x-beta") == rc.header("X-BETA") == "yes"
    assert rc.header("cookie") == "beta=always; id=7"
    assert rc.cookie("beta") == "always" and rc.cookie("id") == "7" and rc.cookie("other") is None
    assert RequestClass(share=0.1, method="post").method == "POST"


def test_the_key_value_syntax() -> None:
    rc = parse_request_class(
        "share=0.2, name=beta, method=post, path=/api/x, header:X-Beta=yes, cookie:beta=always"
    )
    assert rc == RequestClass(
        share=0.2,
        name="beta",
        method="POST",
        path="/api/x",
        headers={"x-beta": "yes"},
        cookies={"beta": "always"},
    )
    assert parse_request_class("share=0.1,header:x-v=a=b").header("x-v") == "a=b"  # only the first '=' splits


def test_the_json_syntax_and_the_round_trip() -> None:
    spec = '{"share": 0.2, "name": "beta", "headers": {"x-beta": "a,b"}, "cookies": {"beta": "never"}}'
    rc = parse_request_class(spec)
    assert rc.header("x-beta") == "a,b" and rc.cookie("beta") == "never" and rc.path == "/"
    assert parse_request_class(rc.to_spec()) == rc
    assert json.loads(rc.to_spec())["headers"] == {"x-beta": "a,b"}


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("name=beta", "share is required"),
        ("share=lots", "not a number"),
        ("share=0.1,colour=red", "unknown key"),
        ("share=0.1,query:a=b", "unknown key"),
        ("share=0.1,beta", "not key=value"),
        ('{"share": 0.1, "colour": "red"}', "unknown field"),
        ('{"share": 0.1', "not JSON"),
        ('{"share": 0.1, "headers": ["x"]}', "must be an object"),
    ],
)
def test_a_bad_spec_is_refused(spec: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_request_class(spec)


def test_the_command_line_takes_repeated_request_classes() -> None:
    settings = parse(
        [
            "-n",
            "demo",
            "--request-class",
            "share=0.2,name=beta,header:x-beta=yes",
            "--request-class",
            '{"share": 0.1}',
        ]
    )
    assert [rc.name for rc in settings.request_classes] == ["beta", ""]
    assert settings.request_classes[0].header("x-beta") == "yes"
    assert parse(["-n", "demo"]).request_classes == ()


def test_the_command_line_refuses_a_bad_mix(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse(["-n", "demo", "--request-class", "share=0.7", "--request-class", "share=0.7"])
    assert "--request-class: request class shares add up to 1.4" in capsys.readouterr().err


@dataclass(frozen=True)
class _Target:
    kubeconfig: str = "/k"
    prometheus_url: str = "http://p"
    prometheus_targets_dir: str = "/t"


def test_the_launcher_passes_each_class_as_json() -> None:
    beta = RequestClass(share=0.2, name="beta", headers={"x-beta": "a,b"})
    argv = command(_Target(), name="sim", namespaces=["demo"], rate=50, request_classes=[beta])
    assert argv[0] == sys.executable
    at = argv.index("--request-class")
    assert parse_request_class(argv[at + 1]) == beta
    assert parse(argv[3:]).request_classes == (beta,)
    assert "--request-class" not in command(_Target(), name="sim", namespaces=["demo"], rate=50)


def test_a_tagged_class_takes_its_share_of_the_rate_and_the_plain_class_keeps_its_series() -> None:
    objects = NamespaceObjects(
        namespace="shop",
        services=(service("web", app="web"),),
        pods=tuple(pods("web", "aaa", image="web:1", ready=2)),
        ingresses=(ingress("web", service_name="web"),),
    )
    plain_only = Simulation(rate=50)
    plain_only.observe([objects])
    mixed = Simulation(rate=50, request_classes=(RequestClass(share=0.3, name="beta"),))
    mixed.observe([objects])
    ingress_streams = [s for s in mixed.streams if s.family == "nginx"]
    rates = {s.label("request_class"): s.rate for s in ingress_streams}
    assert rates == pytest.approx({"": 35, "beta": 15})
    [plain] = [s for s in plain_only.streams if s.family == "nginx"]
    assert {s.labels for s in ingress_streams if not s.label("request_class")} == {plain.labels}
