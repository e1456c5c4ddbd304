"""The table of ``list rollouts``: one row per Rollout, the columns Argo Rollouts users know."""

from __future__ import annotations

from rollouts.cli.facts import RolloutFacts
from rollouts.cli.style import PLAIN, Style

__all__ = ["render_table"]


def render_table(rows: list[RolloutFacts], *, all_namespaces: bool = False, style: Style = PLAIN) -> str:
    """NAME, STRATEGY, STATUS, STEP, SET-WEIGHT, READY, DESIRED, UP-TO-DATE, AVAILABLE (NAMESPACE with -A)."""
    header = [
        "NAME",
        "STRATEGY",
        "STATUS",
        "STEP",
        "SET-WEIGHT",
        "READY",
        "DESIRED",
        "UP-TO-DATE",
        "AVAILABLE",
    ]
    table = [header]
    statuses = ["STATUS"]
    for facts in sorted(rows, key=lambda f: (f.namespace, f.name)):
        table.append(
            [
                facts.name,
                facts.strategy,
                facts.phase,
                facts.step,
                facts.set_weight,
                f"{facts.ready}/{facts.desired}",
                str(facts.desired),
                str(facts.updated),
                str(facts.available),
            ]
        )
        statuses.append(style.status(facts.phase))
    if all_namespaces:
        namespaces = ["NAMESPACE", *(f.namespace for f in sorted(rows, key=lambda f: (f.namespace, f.name)))]
        table = [[ns, *row] for ns, row in zip(namespaces, table, strict=True)]
    status_col = 3 if all_namespaces else 2
    widths = [max(len(row[i]) for row in table) for i in range(len(header) + all_namespaces)]
    widths[status_col] += 2  # the icon and its space
    lines = []
    for index, row in enumerate(table):
        cells = list(row)
        shown = statuses[index] if index else row[status_col]
        plain_width = len(row[status_col]) + (2 if index else 0)
        cells[status_col] = shown + " " * (widths[status_col] - plain_width)
        for i, cell in enumerate(cells):
            if i != status_col:
                cells[i] = cell.ljust(widths[i])
        line = "  ".join(cells).rstrip()
        lines.append(style.bold(line) if index == 0 else line)
    return "\n".join(lines) + "\n"
