"""English local authority codes (GIAS's "LA (code)"): an import names its LA by one, and a typo (9266 for 926)
must be refused, not counted as another LA. The list is data, ``tsm/data/english-la-codes.csv`` (where it comes
from is written at its top)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from functools import cache
from importlib import resources

LA_CODES_FILE = "english-la-codes.csv"


@dataclass(frozen=True)
class LACode:
    code: str
    name: str
    current: bool
    replaced_by: tuple[str, ...] = ()


@cache
def english_la_codes() -> dict[str, LACode]:
    text = resources.files("tsm").joinpath("data", LA_CODES_FILE).read_text(encoding="utf-8")
    rows = csv.DictReader(
        io.StringIO("".join(line for line in text.splitlines(keepends=True) if not line.startswith("#")))
    )
    return {
        r["code"].strip(): LACode(
            r["code"].strip(),
            r["name"].strip(),
            r["status"].strip() == "current",
            tuple((r.get("replaced_by") or "").split()),
        )
        for r in rows
    }


def _one_edit_apart(a: str, b: str) -> bool:
    """One character substituted, added or dropped (the same code is not a typo of itself)."""
    if len(a) == len(b):
        return (
            sum(x != y for x, y in zip(a, b, strict=True)) == 1
        )  # equivalent-mutant[constant]: equal lengths
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def la_code_problem(code: str, *, also_allowed: tuple[str, ...] = ()) -> str | None:
    """Why ``code`` is not a current English LA code (None when it is one, or is ``also_allowed``: a made-up LA's
    code its own profile declares, like the demo's 999)."""
    code = (code or "").strip()
    if code in also_allowed:
        return None
    known = english_la_codes()
    found = known.get(code)
    if found is not None and found.current:
        return None
    if found is not None:
        now = ", ".join(f"{c} ({known[c].name})" for c in found.replaced_by if c in known)
        return f"LA code {code} ({found.name}) is no longer an English local authority" + (
            f": its schools are now under {now}." if now else "."
        )
    near = [c for c in known.values() if c.current and _one_edit_apart(code, c.code)]
    hint = f" Did you mean {' or '.join(f'{c.code} ({c.name})' for c in near)}?" if near else ""
    return (
        f"LA code '{code}' is not an English local authority code (GIAS's three-digit LA number, e.g. 926 "
        f"Norfolk, 886 Kent).{hint} Nothing was imported."
    )
