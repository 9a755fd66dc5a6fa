"""Every card the bot can send, drawn as Teams draws it (issue 14's must-show): all card snapshots
(``tests/chat/snapshots/``, built from ``tests/chat/card_samples.py``: one or more samples of every card builder), the
largest cards real data makes (``big_samples``), the feedback cards (evaluation, TSM record, report menu) and cards as
they come back after a refusal (the message beside the field), rendered by Microsoft's ``adaptivecards`` JavaScript renderer
with Teams' light host config in Debian's headless chromium at 320 px (a phone) and 500 px wide.

A card fails on any button title or text cut with an ellipsis (Teams never wraps a button's title), a button pushed
out of its row, a drop-down choice wider than the drop-down, any parse or validation warning of the renderer, and a
card over 28 KB. See ``tests/browser/cardrender.py`` for how each is measured.

Needs npm (``npm ci`` in tests/browser installs the pinned renderer) and chromium; skipped only when chromium is absent
and CI is unset.
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "browser"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chat"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "feedback"))
import cardrender as cr  # noqa: E402
from card_samples import FACTS, OFFER, SLOTS, big_samples, samples  # noqa: E402
from test_feedback_cards import START, big_record, ev_view  # noqa: E402

from cards import booking as b  # noqa: E402
from cards.evaluation import evaluation_card  # noqa: E402
from cards.notifications import with_errors  # noqa: E402
from cards.record import record_card, record_form  # noqa: E402
from cards.report import MenuView, TermChoice, report_menu  # noqa: E402
from tsm.domain.feedback import Finding  # noqa: E402
from tsm.services.records import RecordView  # noqa: E402

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def feedback_cards() -> dict[str, dict]:
    """The feedback cards (cards/evaluation.py, record.py, report.py), which have no snapshots of their own; the
    report cards' tables are TextBlocks and FactSets, the menu is their only buttons."""
    big = big_record()  # the feedback tests' size stress (words of 500 letters): here, long actions in words
    rec = replace(
        big,
        actions=tuple(
            replace(
                a,
                text=" ".join(["Agree the attendance plan with the family"] * 11),
                owner_detail="Early Help and the Education Welfare Service",
            )
            for a in big.actions
        ),
    )
    empty = RecordView(1, "Low Primary School", "Ann Officer", START, START, "Europe/London", False)
    return {
        "fb_evaluation": evaluation_card(ev_view()),
        "fb_evaluation_saved": evaluation_card(
            ev_view(
                ratings={"usefulness": 4, "working_together": 5, "clarity": 3, "overall": 4},
                comments="Helpful",
                answered=True,
                saved_now=True,
            )
        ),
        "fb_evaluation_answered_elsewhere": evaluation_card(ev_view(answered=True)),
        "fb_record": record_card(rec),
        "fb_record_empty": record_card(empty),
        "fb_record_form": record_form(rec),
        "fb_record_form_warning": record_form(
            rec, draft={"notes": "Jane Smith"}, findings=[Finding("name", "Jane Smith")]
        ),
        "fb_report_menu": report_menu(
            MenuView("the whole LA", tuple(TermChoice(i, f"Term {i}") for i in range(9)))
        ),
    }


def refused_cards() -> dict[str, dict]:
    """Cards as they come back after a refusal (item 2): the message beside the field."""
    return {
        "err_cancel_reason": with_errors(
            b.cancel_reason(b.CancelView(1, FACTS, "no")),
            {"reason": b.REASON_ERROR + " It goes to the other side with the cancellation."},
        ),
        "err_proposal": with_errors(
            b.proposal(b.ProposalView(1, "Priya Shah", FACTS, OFFER, SLOTS)),
            {"start": "Please choose a time: nothing was changed."},
        ),
        "err_evaluation": with_errors(
            evaluation_card(ev_view()),
            {"working_together": "Please rate “How well did the school and the LA work together?” (1 to 5)."},
        ),
    }


def _cards() -> dict[str, dict]:
    cards = cr.snapshots()
    cards.update({f"big_{k}": b(v) for k, (b, v) in big_samples().items()})
    cards.update(feedback_cards())
    cards.update(refused_cards())
    return cards


CARDS = _cards()


@pytest.fixture(scope="module")
def reports():
    if not os.path.exists(cr.CHROMIUM):
        if CI:
            pytest.fail(
                f"{cr.CHROMIUM} is not installed (tests/browser/install-chromium.sh); required under CI=true"
            )
        pytest.skip(
            f"{cr.CHROMIUM} is not installed (tests/browser/install-chromium.sh); set CI=true to fail instead"
        )
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
    assert len(CARDS) == len(samples()) + len(big_samples()) + len(feedback_cards()) + len(refused_cards())


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
        "long_button": card(
            [{"type": "TextBlock", "text": "x"}], [act("Can't attend Wednesday 2 December 10:00–11:00")]
        ),
        "four_buttons": card(
            [{"type": "TextBlock", "text": "x"}],
            [act("My meetings"), act("Cancel"), act("Add a colleague"), act("Book a TSM")],
        ),
        "long_choice": card(
            [
                {
                    "type": "Input.ChoiceSet",
                    "id": "a",
                    "label": "A",
                    "choices": [
                        {
                            "title": "St Very Long Name Church of England Voluntary Aided Primary School",
                            "value": "1",
                        }
                    ],
                }
            ],
            [act("Go")],
        ),
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
