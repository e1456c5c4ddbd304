"""How a simulated version behaves: its error rate and latency, chosen by its container image.

KWOK pods run no containers, so the simulator decides from the image reference alone how a version
would answer. The rule is one small table, checked top to bottom against the tag of every container
image of a pod (the first row whose word appears in any tag wins):

| tag contains | 5xx share | median latency | what it stands for                               |
|--------------|-----------|----------------|--------------------------------------------------|
| `bad`        | 30 %      | 400 ms         | a broken release: analysis must catch it         |
| `slow`       | 0.1 %     | 900 ms         | a release that answers, but too slowly           |
| `shaky`      | 1.1 %     | 25 ms          | 1 point more errors than healthy: a threshold    |
|              |           |                | on the canary alone hardly sees it, the judge's  |
|              |           |                | comparison with the stable does                 |
| (anything)   | 0.1 %     | 25 ms          | a healthy release (a little background noise)   |

Requests that find no ready pod behind their Service are answered by the proxy itself with a 503 after
about a millisecond: that is what a user sees when weight points at a version that is not up.

Latency is log-normal around the median (spread `sigma`), which gives the duration histograms the
long right tail real services have.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Profile:
    """The behaviour of one version: share of 5xx answers, and its latency distribution."""

    name: str
    error_rate: float
    median_seconds: float
    sigma: float = 0.5
    error_status: str = "500"

    def latency_cdf(self, seconds: float) -> float:
        """Share of requests answered within `seconds` (log-normal around the median)."""
        if seconds <= 0:
            return 0.0
        z = (math.log(seconds) - math.log(self.median_seconds)) / (self.sigma * math.sqrt(2))
        return 0.5 * (1 + math.erf(z))

    @property
    def mean_seconds(self) -> float:
        """The expected latency, for the histograms' `_sum` series."""
        return self.median_seconds * math.exp(self.sigma**2 / 2)


# Checked in order; the first row whose word appears in an image tag decides.
PROFILE_TABLE: tuple[tuple[str, Profile], ...] = (
    ("bad", Profile(name="bad", error_rate=0.30, median_seconds=0.400)),
    ("slow", Profile(name="slow", error_rate=0.001, median_seconds=0.900)),
    ("shaky", Profile(name="shaky", error_rate=0.011, median_seconds=0.025)),
)
HEALTHY = Profile(name="healthy", error_rate=0.001, median_seconds=0.025)
# The proxy's own answer when no ready endpoint exists behind the route.
NO_ENDPOINTS = Profile(
    name="no-endpoints", error_rate=1.0, median_seconds=0.001, sigma=0.2, error_status="503"
)


def image_tag(image: str) -> str:
    """The tag of an image reference ("" when it has none); a digest counts as the tag."""
    name = image.rsplit("/", 1)[-1]
    if "@" in name:
        return name.split("@", 1)[1]
    return name.split(":", 1)[1] if ":" in name else ""


def profile_for(images: tuple[str, ...] | list[str]) -> Profile:
    """The behaviour of a pod running these container images (see the table above)."""
    tags = [image_tag(image).lower() for image in images]
    for word, profile in PROFILE_TABLE:
        if any(word in tag for tag in tags):
            return profile
    return HEALTHY
