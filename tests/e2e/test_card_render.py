"""Every card the bot can send, drawn as Teams draws it (issue 14's must-show): all card snapshots
(``tests/chat/snapshots/``, built from ``tests/chat/card_samples.py``: one or more samples of every card builder) and
the largest cards real data makes (``big_samples``), rendered by Microsoft's ``adaptivecards`` JavaScript renderer
with Teams' light host config in Debian's headless chromium at 320 px (a phone) and 500 px wide.

A card fails on any button title or text cut with an ellipsis (Teams never wraps a button's title), a button pushed
out of its row, a drop-down choice wider than the drop-down, any parse or validation warning of the renderer, and a
card over 28 KB. See ``tests/e2e/cardrender.py`` for how each is measured.

Needs npm (``npm ci`` in tests/e2e installs the pinned renderer) and chromium; skipped only when chromium is absent
and CI is unset.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chat"))
import cardrender as cr  # noqa: E402
from card_samples import big_samples, samples  # noqa: E402

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _cards() -> dict[str, dict]:
    cards = cr.snapshots()
    cards.update({f"big_{k}": b(v) for k, (b, v) in big_samples().items()})
    return cards


CARDS = _cards()


@pytest.fixture(scope="module")
def reports():
    if not os.path.exists(cr.CHROMIUM):
        if CI:
            pytest.fail(f"{cr.CHROMIUM} is not installed (tests/e2e/install-chromium.sh); required under CI=true")
        pytest.skip(f"{cr.CHROMIUM} is not installed (tests/e2e/install-chromium.sh); set CI=true to fail instead")
    cr.install_renderer()
    import asyncio

    from playwright.async_api import async_playwright

    async def run():
        async with async_playwright() as p:
            browser = await cr._launch(p)
            try:
                r = await cr.Renderer.open(browser)
                return {w: await r.check(CARDS, w) for w in cr.WIDTHS}
            finally:
                await browser.close()

    return asyncio.run(run())


def test_every_snapshot_is_a_sample_and_rendered():
    # the snapshots are exactly the samples of every builder (tests/chat/test_chat_cards.py holds that), so
    # rendering the snapshots renders every card the bot can send
    assert set(cr.snapshots()) == set(samples())
    assert len(CARDS) == len(samples()) + len(big_samples())


@pytest.mark.parametrize("width", cr.WIDTHS)
@pytest.mark.parametrize("name", sorted(CARDS))
def test_card_reads_whole_in_teams(reports, name, width):
    rep = reports[width][name]
    assert not rep.problems, f"{name} at {width}px:\n  " + "\n  ".join(rep.problems)


def test_the_checks_catch_what_they_claim(reports):
    """The measurements themselves: a long button title, a long drop-down choice, an unknown element and a card over
    28 KB are each reported; a short title is not."""
    import asyncio

    from playwright.async_api import async_playwright

    def act(title):
        return {"type": "Action.Submit", "title": title, "data": {"verb": "x"}}

    def card(body, actions=()):
        return {"type": "AdaptiveCard", "version": "1.5", "body": body, "actions": list(actions)}

    bad = {
        "long_button": card([{"type": "TextBlock", "text": "x"}], [act("Can't attend Wednesday 2 December 10:00–11:00")]),
        "four_buttons": card([{"type": "TextBlock", "text": "x"}], [act("My meetings"), act("Cancel"),
                                                                    act("Add a colleague"), act("Book a TSM")]),
        "long_choice": card([{"type": "Input.ChoiceSet", "id": "a", "label": "A", "choices": [
            {"title": "St Very Long Name Church of England Voluntary Aided Primary School", "value": "1"}]}],
            [act("Go")]),
        "unknown": card([{"type": "Bogus.Element", "text": "x"}], [act("Go")]),
        "big": card([{"type": "TextBlock", "text": "x" * (29 * 1024), "wrap": True}], [act("Go")]),
        "short": card([{"type": "TextBlock", "text": "Fine", "wrap": True}], [act("Book"), act("Stop")]),
    }

    async def run():
        async with async_playwright() as p:
            browser = await cr._launch(p)
            try:
                return await (await cr.Renderer.open(browser)).check(bad, 320)
            finally:
                await browser.close()

    got = asyncio.run(run())
    assert any('button "Can\'t attend Wednesday 2 December 10:00–11:00"' in c for c in got["long_button"].cut)
    assert got["four_buttons"].cut, "four buttons in a row at 320 px must cut some title"
    assert any("drop-down" in c for c in got["long_choice"].cut)
    assert any("UnknownElementType" in p for p in got["unknown"].parse)
    assert any("over 28672" in p for p in got["big"].parse)
    assert got["short"].problems == [] and got["short"].buttons == 2
