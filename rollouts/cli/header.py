"""The header of ``get rollout``: where the Rollout stands, in a block of aligned ``Field: value`` lines."""

from __future__ import annotations

from rollouts.cli.facts import RolloutFacts
from rollouts.cli.style import PLAIN, Style

__all__ = ["render_header"]


def render_header(facts: RolloutFacts, *, style: Style = PLAIN) -> str:
    """Name, namespace, status with icon, message, strategy, step and weights, images, pod counts."""
    lines: list[tuple[str, str]] = [
        ("Name:", facts.name),
        ("Namespace:", facts.namespace),
        ("Status:", style.status(facts.phase)),
    ]
    if facts.message:
        lines.append(("Message:", facts.message))
    lines.append(("Strategy:", facts.strategy))
    if facts.strategy == "Canary":
        lines += [
            ("  Step:", facts.step),
            ("  SetWeight:", facts.set_weight),
            ("  ActualWeight:", facts.actual_weight),
        ]
        if facts.ping_pong:
            lines.append(("  PingPong:", facts.ping_pong))
        if facts.routes:
            lines.append(("  Routes:", facts.routes))
        if facts.experiment is not None:
            name, phase = facts.experiment
            lines.append(("  Experiment:", f"{name} ({style.status(phase)})"))
    images = [(image, "stable") for image in facts.stable_images]
    images += [
        (image, "canary" if facts.strategy == "Canary" else "preview") for image in facts.canary_images
    ]
    for index, (image, role) in enumerate(images):
        lines.append(("Images:" if index == 0 else "", f"{image} ({style.paint(role, 'cyan')})"))
    if not images:
        lines.append(("Images:", "-"))
    lines += [
        ("Replicas:", ""),
        ("  Desired:", str(facts.desired)),
        ("  Current:", str(facts.current)),
        ("  Updated:", str(facts.updated)),
        ("  Ready:", str(facts.ready)),
        ("  Available:", str(facts.available)),
    ]
    width = max(len(label) for label, _ in lines) + 1
    return "".join(f"{label.ljust(width)}{value}".rstrip() + "\n" for label, value in lines)
