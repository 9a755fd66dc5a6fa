"""Per-module coverage floors, run by ``make test`` after the suite: every module of ``tsm/domain``, ``tsm/chat`` and
``tsm/notifications.py`` at >= 95% of its lines and >= 95% of its branches, each counted on its own.

coverage's ``fail_under`` is one figure for the whole report; this reads the same data (``.coverage``, or
``$COVERAGE_FILE``) through coverage's JSON report and checks each module. Exit 1 names the modules below.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import coverage

ROOT = Path(__file__).resolve().parent.parent
FLOOR = 95.0
MODULES = ("tsm/domain/*.py", "tsm/chat/*.py", "tsm/notifications.py")
# Modules not yet at the floor (issue 17), with the (lines, branches) they had when listed: each may not fall below
# its own figures, and leaves this list once it reaches 95% (the check says so). Tests, not this list, close a gap.
PENDING: dict[str, tuple[float, float]] = {
    # Empty since 2026-12-07 (issue 17): tsm/chat/booking.py and tsm/notifications.py reach 100% of lines and
    # branches from their own tests (tests/chat alone; tests/scheduler/test_notifications_edges.py with
    # test_notifications_rules.py alone), not only by the chance of a whole run (a CI run had measured notifications.py
    # 0.7 points lower than the run before it: lines reached only by races).
}


def main() -> int:
    cov = coverage.Coverage(data_file=os.environ.get("COVERAGE_FILE", str(ROOT / ".coverage")))
    cov.load()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "coverage.json"
        cov.json_report(outfile=str(out), include=[str(ROOT / m) for m in MODULES])
        files = json.loads(out.read_text())["files"]
    measured = {
        str(Path(f).resolve().relative_to(ROOT)) if Path(f).is_absolute() else f: v for f, v in files.items()
    }
    expected = sorted(str(p.relative_to(ROOT)) for m in MODULES for p in ROOT.glob(m) if p.stat().st_size)
    below = []
    print(f"\ncoverage floors ({FLOOR:.0f}% of lines and of branches):")
    for rel in expected:
        s = measured.get(rel, {}).get("summary")
        if s is None:
            below.append(rel)
            print(f"  {rel:34} not measured (no test imports it?)")
            continue
        lines = 100.0 * s["covered_lines"] / s["num_statements"] if s["num_statements"] else 100.0
        branches = 100.0 * s["covered_branches"] / s["num_branches"] if s["num_branches"] else 100.0
        ok = lines >= FLOOR and branches >= FLOOR
        note = "" if ok else "   BELOW"
        if rel in PENDING:
            was = PENDING[rel]
            if ok:
                note = "   at the floor now: take it off PENDING in tools/coverage_check.py"
            elif lines >= was[0] and branches >= was[1]:
                note = f"   below, pending (was {was[0]:.1f}% / {was[1]:.1f}%)"
                ok = True
            else:
                note = f"   FELL below its pending figures {was[0]:.1f}% / {was[1]:.1f}%"
        if not ok:
            below.append(rel)
        print(f"  {rel:34} lines {lines:5.1f}%  branches {branches:5.1f}%{note}")
    if below:
        print(f"coverage: {len(below)} module(s) below {FLOOR:.0f}%: {', '.join(below)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
