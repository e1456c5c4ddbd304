"""Label selectors as the API server reads them, for what an informer keeps of its own writes.

A watch with a label selector only ever delivers matching objects; the answer to one of our own
writes (``Informer.remember``) can be one that no longer matches (its labels were changed by
someone else meanwhile), and keeping it would put an object into the cache that its watch will
never remove. :func:`selector_matches` is the server's rule for the equality forms (``k``,
``!k``, ``k=v``, ``k==v``, ``k!=v``) and the set forms (``k in (a,b)``, ``k notin (a,b)``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["selector_matches"]

_REQUIREMENT = re.compile(
    r"""\s*(?:
        (?P<not>!)\s*(?P<absent>[^\s,!=()]+)
      | (?P<setkey>[^\s,!=()]+)\s+(?P<op>in|notin)\s*\((?P<values>[^)]*)\)
      | (?P<key>[^\s,!=()]+)\s*(?:(?P<eq>==|=|!=)\s*(?P<value>[^\s,!=()]*))?
    )\s*(?:,|$)""",
    re.VERBOSE,
)


def selector_matches(selector: str | None, labels: Mapping[str, str] | None) -> bool:
    """Whether ``labels`` satisfy ``selector`` (``None`` or empty: everything matches). A selector
    this parser cannot read matches (the server, which did read it, is the judge then)."""
    if not selector or not selector.strip():
        return True
    found = labels or {}
    position = 0
    while position < len(selector):
        m = _REQUIREMENT.match(selector, position)
        if m is None or m.end() == position:
            return True
        position = m.end()
        if m["absent"] is not None:
            ok = m["absent"] not in found
        elif m["setkey"] is not None:
            values = {v.strip() for v in m["values"].split(",") if v.strip()}
            present = m["setkey"] in found and found[m["setkey"]] in values
            ok = present if m["op"] == "in" else not present
        elif m["eq"] is None:
            ok = m["key"] in found
        elif m["eq"] == "!=":
            ok = found.get(m["key"]) != m["value"]
        else:
            ok = m["key"] in found and found[m["key"]] == m["value"]
        if not ok:
            return False
    return True
