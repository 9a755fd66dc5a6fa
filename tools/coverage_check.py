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
    # Rounded down from the figures of the tests that reach them (tests/chat, scheduler, feedback, bot, web, mail,
    # graph, cli; a whole run adds more) on 2026-12-07 after issue 17's tests: booking.py 96.3% / 90.0% (18 branches
    # short: the next term's refusals, a contacted-directly school's refusal and undo, the offer card's booking
    # refused), notifications.py 95.8% / 89.5% (17 short: the web page's waiting proposals and next-term offer,
    # sign-in and invitation edges; _subject's "meeting or school gone" cannot happen while domain_event's foreign
    # keys hold). Each may only rise until it reaches 95%. tsm/chat/feedback.py (100/100) and officer.py left the list.
    # Raised to a whole run's figures less a little (make test at b40841f: booking.py 97.3% / 93.3%, notifications.py
    # 96.0% / 90.1%): what is left is branches, not lines.
    "tsm/chat/booking.py": (96.5, 92.5),
    "tsm/notifications.py": (95.5, 89.5),
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
