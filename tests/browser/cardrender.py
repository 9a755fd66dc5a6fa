"""Adaptive Cards drawn as Teams draws them: Microsoft's ``adaptivecards`` JavaScript renderer (npm, pinned in
``tests/browser/package.json``, with ``markdown-it`` for the TextBlocks' markdown, as the designer uses) with Teams'
light host config and card CSS (``tests/browser/teams-host/``, copied from ``adaptivecards-designer``) in Debian's
headless chromium, driven by Python Playwright. No network: the page is
built from local files and every request the page makes is refused.

What a card is checked for, at a given width (the card's own width in CSS pixels: 320 is a phone):

- **parse**: every event the renderer's parser logs (unknown or forbidden types, invalid values, properties newer
  than Adaptive Cards 1.5) and every failure of its validation (too many actions for Teams' ``maxActions``, duplicate
  ids, required inputs without a label or an error message);
- **cut**: every element the renderer draws with ``text-overflow: ellipsis`` whose text is wider than its box (button
  titles, which Teams never wraps; TextBlocks without ``wrap``; expanded choices without ``wrap``), a TextBlock whose
  text overflows its box (a long unbreakable word), a button pushed out of its row, and a drop-down (compact
  Input.ChoiceSet) one of whose choices is wider than the closed box shows;
- **size**: the card's JSON over 28 KB.

``python tests/browser/cardrender.py OUT_DIR [NAME ...]`` writes PNG screenshots of card snapshots at 320 px
(``make card-screenshots`` writes the main cards into ``docs/cards/``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
E2E = Path(__file__).resolve().parent
HOST = E2E / "teams-host"
RENDERER = E2E / "node_modules" / "adaptivecards" / "dist" / "adaptivecards.min.js"
# Markdown in TextBlocks (**bold**, lists, links), as Teams shows it: the renderer uses window.markdownit when present,
# as the designer does.
MARKDOWN = E2E / "node_modules" / "markdown-it" / "dist" / "browser" / "markdown-it.umd.min.js"
SNAPSHOTS = ROOT / "tests" / "chat" / "snapshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MAX_BYTES = 28 * 1024
WIDTHS = (320, 500)


def install_renderer() -> None:
    """``npm ci`` in tests/browser when node_modules does not match the lock (as the Playground test does, same stamp)."""
    lock = E2E / "package-lock.json"
    stamp = E2E / "node_modules" / ".tsm-installed"
    if RENDERER.exists() and stamp.exists() and stamp.read_text() == lock.read_text():
        return
    if shutil.which("npm") is None:
        raise RuntimeError(
            "npm is not installed: it is needed to install the adaptivecards renderer (npm ci)"
        )
    cache = Path(os.environ.get("TSM_NPM_CACHE", Path.home() / ".cache" / "tsm-e2e-npm"))
    done = subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--cache", str(cache)],
        cwd=E2E,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if done.returncode != 0:
        raise RuntimeError(f"npm ci failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    stamp.write_text(lock.read_text())


def snapshots() -> dict[str, dict]:
    """Every card snapshot (tests/chat/snapshots: one per sample of every card builder), by name."""
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(SNAPSHOTS.glob("*.json"))}


def card_bytes(card: dict) -> int:
    return len(json.dumps(card, ensure_ascii=False).encode())


@dataclass
class Report:
    name: str
    width: int
    parse: list[str] = field(default_factory=list)
    cut: list[str] = field(default_factory=list)
    buttons: int = 0

    @property
    def problems(self) -> list[str]:
        """Each distinct problem once, with how often it occurs (a list of 60 schools repeats one cut 60 times)."""
        out: dict[str, int] = {}
        for p in [f"parse: {p}" for p in self.parse] + [f"cut: {c}" for c in self.cut]:
            out[p] = out.get(p, 0) + 1
        return [p if n == 1 else f"{p} (x{n})" for p, n in out.items()]


# The page's side: render one card into a box of the given width, then measure.
_JS = r"""
([cards, hostConfig, width]) => {
  const AC = window.AdaptiveCards;
  const out = [];
  const canvas = document.createElement("canvas").getContext("2d");
  document.body.innerHTML = "";
  for (const [name, json] of cards) {
    const box = document.createElement("div");
    box.className = "teams-card";
    box.style.width = width + "px";
    box.style.boxSizing = "border-box";
    box.style.marginBottom = "24px";
    box.dataset.name = name;
    document.body.appendChild(box);
    const parse = [], cut = [];
    const card = new AC.AdaptiveCard();
    card.hostConfig = new AC.HostConfig(hostConfig);
    const ctx = new AC.SerializationContext(AC.Versions.v1_5);
    card.parse(json, ctx);
    for (let i = 0; i < ctx.eventCount; i++) {
      const e = ctx.getEventAt(i);
      parse.push(`${AC.ValidationEvent[e.event]}: ${e.message}`);
    }
    const validation = card.validateProperties();
    for (const e of validation.validationEvents) {
      parse.push(`${AC.ValidationEvent[e.event]}: ${e.message}`);
    }
    const el = card.render();
    if (!el) { parse.push("the renderer drew nothing"); out.push({name, parse, cut, buttons: 0}); continue; }
    box.appendChild(el);
    const boxRect = box.getBoundingClientRect();
    const what = (node) => node.closest(".ac-pushButton") ? "button" :
      node.closest(".ac-choiceSetInput-expanded, .ac-choiceSetInput-multiSelect") ? "choice" : "text";
    for (const node of box.querySelectorAll("*")) {
      const cs = getComputedStyle(node);
      const text = (node.innerText || "").trim();
      if (!text || node.children.length > 0 && !node.classList.contains("ac-textBlock")) continue;
      if (cs.textOverflow === "ellipsis" && node.scrollWidth > node.clientWidth + 0.5) {
        cut.push(`${what(node)} "${text}" needs ${node.scrollWidth}px, has ${node.clientWidth}px`);
      } else if (node.classList.contains("ac-textBlock") && node.scrollWidth > node.clientWidth + 0.5) {
        cut.push(`text "${text.slice(0, 80)}" overflows: ${node.scrollWidth}px in ${node.clientWidth}px`);
      }
    }
    const buttons = box.querySelectorAll(".ac-pushButton");
    for (const b of buttons) {
      const r = b.getBoundingClientRect();
      if (r.right > boxRect.right + 0.5 || r.width < 8) {
        cut.push(`button "${b.innerText.trim()}" is pushed out of the card (${Math.round(r.width)}px wide)`);
      }
    }
    for (const sel of box.querySelectorAll("select")) {
      const cs = getComputedStyle(sel);
      canvas.font = `${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
      // the closed box shows the chosen title beside the arrow (about 20px)
      const room = sel.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) - 20;
      for (const o of sel.options) {
        const w = canvas.measureText(o.text).width;
        if (w > room) cut.push(`choice "${o.text}" needs ${Math.ceil(w)}px, the drop-down shows ${Math.floor(room)}px`);
      }
    }
    out.push({name, parse, cut, buttons: buttons.length});
  }
  return out;
}
"""


class Renderer:
    """One chromium page with the renderer loaded; ``check`` and ``screenshot`` use it."""

    def __init__(self, page) -> None:
        self.page = page
        self.host_config = json.loads((HOST / "microsoft-teams-light.json").read_text(encoding="utf-8"))

    @classmethod
    async def open(cls, browser) -> Renderer:
        page = await browser.new_page(viewport={"width": 1200, "height": 800})
        await page.route("**/*", lambda route: route.abort())  # nothing leaves the machine
        css = (HOST / "teams-container-light.css").read_text(encoding="utf-8")
        # box-sizing: border-box is the stand-in for Teams' own stylesheet (its web client sizes boxes so): without
        # it, the renderer's width: 100% on a markdown list plus the list's indent pushes every bullet 40 px past the
        # card's edge, which Teams does not do.
        await page.set_content(
            "<!doctype html><html><head><meta charset='utf-8'><style>body{margin:8px;"
            "background:#fff} *,*::before,*::after{box-sizing:border-box}</style></head>"
            "<body></body></html>"
        )
        await page.add_style_tag(content=css)
        await page.add_script_tag(content=MARKDOWN.read_text(encoding="utf-8"))
        await page.add_script_tag(content=RENDERER.read_text(encoding="utf-8"))
        assert await page.evaluate("typeof window.AdaptiveCards.AdaptiveCard") == "function"
        assert await page.evaluate("typeof window.markdownit") == "function"
        return cls(page)

    async def check(self, cards: dict[str, dict], width: int) -> dict[str, Report]:
        raw = await self.page.evaluate(_JS, [list(cards.items()), self.host_config, width])
        out = {}
        for r in raw:
            rep = Report(r["name"], width, r["parse"], r["cut"], r["buttons"])
            size = card_bytes(cards[r["name"]])
            if size > MAX_BYTES:
                rep.parse.append(f"the card is {size} bytes, over {MAX_BYTES}")
            out[r["name"]] = rep
        return out

    async def screenshot(self, name: str, card: dict, width: int, path: Path) -> Report:
        rep = (await self.check({name: card}, width))[name]
        await self.page.locator(".teams-card").first.screenshot(path=str(path))
        return rep


async def _launch(playwright):
    return await playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)


# The cards the README shows (docs/cards/): the school's booking, my meetings, the refusals, the officer's cards.
MAIN_CARDS = (
    "help_school",
    "book_start",
    "pick_attendees_book",
    "pick_date",
    "pick_time",
    "done_booked",
    "meetings",
    "cancel_reason",
    "proposal",
    "help_officer",
    "officer_week",
    "officer_schools",
    "n_next_tsm_offer",
    "n_unbooked",
)


async def write_screenshots(out: Path, names: tuple[str, ...] | list[str], width: int = 320) -> list[Report]:
    from playwright.async_api import async_playwright

    cards = snapshots()
    reports = []
    async with async_playwright() as p:
        browser = await _launch(p)
        try:
            r = await Renderer.open(browser)
            for name in names:
                reports.append(await r.screenshot(name, cards[name], width, out / f"{name}.png"))
        finally:
            await browser.close()
    return reports


def _main(argv: list[str]) -> int:
    import asyncio

    if not argv:
        print(__doc__)
        return 2
    out, names = Path(argv[0]), argv[1:] or [n for n in MAIN_CARDS if (SNAPSHOTS / f"{n}.json").exists()]
    install_renderer()
    out.mkdir(parents=True, exist_ok=True)
    reports = asyncio.run(write_screenshots(out, names))
    bad = 0
    for rep in reports:
        print(
            f"{out / (rep.name + '.png')}"
            + ("" if not rep.problems else "  PROBLEMS: " + "; ".join(rep.problems))
        )
        bad += bool(rep.problems)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
