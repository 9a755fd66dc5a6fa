"""Figures the production tests print and keep in var/production-figures.json, for the closing note."""

from __future__ import annotations

import json
from pathlib import Path

FIGURES = Path(__file__).resolve().parents[2] / "var" / "production-figures.json"


def record_figures(section: str, figures: dict) -> None:
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    data[section] = figures
    FIGURES.write_text(json.dumps(data, indent=2, sort_keys=True))
    print(f"\n[{section}] " + json.dumps(figures, sort_keys=True))
