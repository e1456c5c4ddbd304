"""Counters and their exposition: whole, never-decreasing counts; histograms Prometheus accepts; the
image table; the scrape registration file."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest

from e2e.cluster.scrape import register_target
from e2e.simulator import HEALTHY, Profile, Simulation, profile_for
from e2e.simulator.counters import Counters
from e2e.simulator.profiles import image_tag
from e2e.simulator.streams import Stream, labels

BAD = profile_for(["web:bad"])
SLOW = profile_for(["web:slow"])


def _stream(profile: object = HEALTHY, rate: float = 50.0, family: str = "nginx") -> Stream:
    return Stream(family=family, labels=labels(ingress="web", canary=""), rate=rate, profile=profile)  # type: ignore[arg-type]


def _samples(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


@pytest.mark.parametrize(
    ("images", "profile"),
    [
        (["example.com/web:2.0-bad"], "bad"),
        (["registry:5000/web:BAD"], "bad"),
        (["web:slow-1", "sidecar:bad"], "bad"),  # the table's order decides, over all containers
        (["web:1.2-slow"], "slow"),
        (["web:v2-shaky"], "shaky"),
        (["web:1.27"], "healthy"),
        (["bad-registry.io/web:1.0"], "healthy"),  # only the tag counts, not the registry or name
        (["web"], "healthy"),
    ],
)
def test_image_table(images: list[str], profile: str) -> None:
    assert profile_for(images).name == profile


def test_image_tag() -> None:
    assert image_tag("localhost:5000/web:1.0") == "1.0"
    assert image_tag("web@sha256:abc") == "sha256:abc"
    assert image_tag("web") == ""


def test_shaky_has_one_point_more_errors_than_healthy_at_the_same_speed() -> None:
    shaky = profile_for(["web:v2-shaky"])
    assert shaky.error_rate - HEALTHY.error_rate == pytest.approx(0.01)
    assert shaky.median_seconds == HEALTHY.median_seconds


def test_bad_is_slower_than_healthy_and_slow_slower_still() -> None:
    assert HEALTHY.median_seconds < BAD.median_seconds < SLOW.median_seconds
    assert BAD.latency_cdf(BAD.median_seconds) == pytest.approx(0.5)


def test_counters_are_whole_numbers_that_follow_the_rate_and_never_decrease() -> None:
    sim = Simulation(rate=50)
    sim.streams = [_stream(BAD, rate=10)]
    seen: list[dict[str, float]] = []
    for step in range(50):
        sim.tick(step * 0.1)
        seen.append(_samples(sim.exposition()))
    ok = 'nginx_ingress_controller_requests{canary="",ingress="web",status="200"}'
    failed = 'nginx_ingress_controller_requests{canary="",ingress="web",status="500"}'
    assert seen[-1][ok] == 34 and seen[-1][failed] == 14  # 4.9 s of 10 req/s, 30% failing
    for before, after in itertools.pairwise(seen):
        assert all(after[k] >= v for k, v in before.items() if k in after)
        assert all(v == int(v) for k, v in after.items() if "_sum{" not in k), after


def test_histogram_buckets_are_cumulative_and_end_at_the_count() -> None:
    counters = Counters()
    counters.advance([_stream(HEALTHY, rate=100, family="istio")], 10)
    sim = Simulation(counters=counters)
    samples = _samples(sim.exposition())
    buckets = [
        (k, v)
        for k, v in samples.items()
        if "istio_request_duration_milliseconds_bucket" in k and 'response_code="200"' in k
    ]
    values = [v for _, v in buckets]
    assert values == sorted(values)
    assert buckets[-1][0].endswith('le="+Inf"}') and values[-1] == 999  # 1000 requests, 0.1% errors
    count = next(
        v
        for k, v in samples.items()
        if k.startswith("istio_request_duration_milliseconds_count") and '"200"' in k
    )
    assert count == values[-1]
    # the median healthy latency is 25 ms: about half the requests fall within the 25 ms bucket
    le25 = next(v for k, v in buckets if 'le="25"' in k)
    assert le25 == pytest.approx(count / 2, abs=2)


def test_exposition_is_valid_text_format() -> None:
    counters = Counters()
    counters.advance([Stream(family="nginx", labels=labels(path='/a"b\\c'), rate=1, profile=HEALTHY)], 5)
    text = Simulation(counters=counters).exposition()
    sample = re.compile(
        r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? -?[0-9.e+]+$'
    )
    for line in text.splitlines():
        assert line.startswith("# HELP ") or line.startswith("# TYPE ") or sample.match(line), line
    assert r'path="/a\"b\\c"' in text


def test_first_tick_starts_the_clock_and_observations_replace_streams() -> None:
    sim = Simulation(rate=50)
    sim.streams = [_stream(Profile(name="perfect", error_rate=0.0, median_seconds=0.01), rate=10)]
    sim.tick(100.0)
    assert sim.counters.total("nginx") == 0
    sim.tick(101.0)
    assert sim.counters.total("nginx") == 10
    sim.observe([])  # nothing routed any more: counters stay, no new requests
    sim.tick(105.0)
    assert sim.counters.total("nginx") == 10 and sim.streams == []


def test_register_target_writes_a_file_sd_entry_atomically(tmp_path: Path) -> None:
    path = register_target(tmp_path, name="sim-1", address="127.0.0.1:9400", labels={"simulator": "sim-1"})
    assert json.loads(path.read_text()) == [{"targets": ["127.0.0.1:9400"], "labels": {"simulator": "sim-1"}}]
    assert [p.name for p in tmp_path.iterdir()] == ["sim-1.json"]  # no temporary left behind
