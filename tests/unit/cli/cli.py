"""Run the plugin in-process, as ``kubectl rollouts ...`` would, capturing its output and exit code."""

from __future__ import annotations

import io
from dataclasses import dataclass

from rollouts.cli.__main__ import run


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


def cli(*argv: str) -> Result:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out=out, err=err)
    return Result(code=code, out=out.getvalue(), err=err.getvalue())
