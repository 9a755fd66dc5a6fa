"""Cards: exact snapshots, Adaptive Card 1.5 rules, sizes, and the verb registry (every verb a card emits has
exactly one handler; every handler's verb is emitted by some card).

Regenerate the snapshots after a deliberate change with ``TSM_UPDATE_SNAPSHOTS=1 pytest tests/chat``.
"""

from __future__ import annotations

import inspect
import json
import os
import re
from pathlib import Path

import pytest
from card_samples import NOTIFICATION_BUILDERS, big_samples, samples
from cardtree import walk

from cards import booking, notifications
from tsm.chat.app import build_router

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("TSM_UPDATE_SNAPSHOTS", "") not in ("", "0")
MAX_BYTES = 28 * 1024
ELEMENTS = {
    "TextBlock",
    "FactSet",
    "Container",
    "ActionSet",
    "Input.ChoiceSet",
    "Input.Text",
    "ColumnSet",
    "Column",
    "Image",
}
ACTIONS = {"Action.Execute", "Action.Submit", "Action.OpenUrl"}


# Dates and times written any other way than tsm.domain.text writes them ("Tuesday 1 December", "10:00",
# "Tuesday 1 December 10:00–11:00"): short days or months, zero-padded days, ISO dates, a comma before the time.
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
OTHER_DATES = re.compile(
    r"\b(?:Mon|Tue|Tues|Wed|Thu|Thur|Thurs|Fri|Sat|Sun)\b"
    r"|\b\d{1,2} (?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\b"
    rf"|\b0\d (?:{_MONTHS})\b"
    r"|\b20\d\d-\d\d-\d\d\b"
    rf"|(?:{_MONTHS})(?: \d{{4}})?, \d\d:\d\d"
)


def dates_written_another_way(words: str) -> list[str]:
    return OTHER_DATES.findall(words)


def card_words(card: dict) -> list[str]:
    """What a person reads on a card: its text, facts, choices, inputs' labels and buttons."""
    out: list[str] = []
    for n in walk(card):
        kind = str(n.get("type", ""))
        if kind == "TextBlock":
            out.append(n["text"])
        elif kind == "FactSet":
            out += [w for f in n["facts"] for w in (f["title"], f["value"])]
        elif kind == "Input.ChoiceSet":
            out += [c["title"] for c in n.get("choices", [])]
        if kind.startswith("Action."):
            out.append(n.get("title", ""))
        if kind.startswith("Input."):
            out += [n[k] for k in ("label", "placeholder", "errorMessage") if n.get(k)]
    return out


def emitted_verbs(card: dict) -> set[str]:
    out = set()
    for node in walk(card):
        if node.get("type") == "Action.Execute":
            out.add(node["verb"])
    return out


def rendered() -> dict[str, dict]:
    return {name: builder(view) for name, (builder, view) in samples().items()}


def test_every_card_builder_has_a_sample():
    covered = {builder for builder, _ in samples().values()}
    assert covered == set(booking.BUILDERS) | set(NOTIFICATION_BUILDERS)
    # and every public card function of both modules is listed as a builder
    for module, listed in ((booking, set(booking.BUILDERS)), (notifications, set(NOTIFICATION_BUILDERS))):
        public = {
            f
            for name, f in inspect.getmembers(module, inspect.isfunction)
            if f.__module__ == module.__name__
            and not name.startswith("_")
            and str(inspect.signature(f).return_annotation).startswith(("dict", "<class 'dict"))
            and len(inspect.signature(f).parameters) == 1
        }
        assert public == listed, public ^ listed


@pytest.mark.parametrize("name", sorted(samples()))
def test_card_snapshot(name):
    card = rendered()[name]
    text = json.dumps(card, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    path = SNAPSHOTS / f"{name}.json"
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no snapshot for {name}: run with TSM_UPDATE_SNAPSHOTS=1 to write it"
    assert path.read_text(encoding="utf-8") == text, (
        f"card {name} changed; regenerate with TSM_UPDATE_SNAPSHOTS=1"
    )


def test_no_stale_snapshots():
    assert {p.stem for p in SNAPSHOTS.glob("*.json")} == set(samples())


@pytest.mark.parametrize(
    "name, card", [*rendered().items(), *{f"big_{k}": b(v) for k, (b, v) in big_samples().items()}.items()]
)
def test_cards_follow_adaptive_cards_1_5(name, card):
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert len(json.dumps(card, ensure_ascii=False).encode()) < MAX_BYTES
    ids = []
    for node in walk(card["body"]):
        if "type" in node and not node["type"].startswith("Action."):
            assert node["type"] in ELEMENTS, node["type"]
        if str(node.get("type", "")).startswith("Input."):
            ids.append(node["id"])
            assert node.get("label"), f"input {node['id']} has no label"
        if node.get("type") == "Input.ChoiceSet":
            assert all(set(c) == {"title", "value"} and isinstance(c["value"], str) for c in node["choices"])
    assert len(ids) == len(set(ids)), "input ids must be unique on a card"
    has_way_on = False
    for node in walk(card):
        t = node.get("type")
        if t in ACTIONS or str(t).startswith("Action."):
            assert t in ACTIONS, t
            has_way_on = True
        if t == "Action.Execute":
            assert node["verb"] and node["data"]["verb"] == node["verb"]
            fb = node["fallback"]
            assert (
                fb["type"] == "Action.Submit" and fb["data"] == node["data"] and fb["title"] == node["title"]
            )
            assert node.get("associatedInputs", "auto") in ("auto", "none")
            assert "verb" not in ids
    # no dead ends: every card of the conversation offers a next step (the scheduler's plain notices excepted)
    if not name.startswith(("n_reminder_confirm", "n_agenda", "n_next_tsm_offer_officer")):
        assert has_way_on, f"{name} has no button"


def card_modules():
    import importlib
    import pkgutil

    import cards

    for info in pkgutil.iter_modules(cards.__path__):
        module = importlib.import_module(f"cards.{info.name}")
        if hasattr(module, "VERBS"):
            yield module


def test_every_verb_has_exactly_one_handler_and_every_handler_a_card():
    router = build_router()
    emitted: set[str] = set()
    for card in rendered().values():
        emitted |= emitted_verbs(card)
    # the cards sampled here emit exactly the verbs their modules declare...
    assert emitted == booking.VERBS | notifications.VERBS
    # ...every verb any card module declares has a handler, and every handler's verb is on some card
    declared = set().union(*(m.VERBS for m in card_modules()))
    assert declared <= router.verbs, f"verbs emitted with no handler: {sorted(declared - router.verbs)}"
    assert router.verbs <= declared, f"handlers no card emits: {sorted(router.verbs - declared)}"


def test_a_second_handler_for_a_verb_is_refused():
    router = build_router()

    async def other(ctx, data):  # pragma: no cover - never called
        raise AssertionError

    for verb in sorted(booking.VERBS | notifications.VERBS):
        with pytest.raises(ValueError, match="already has a handler"):
            router.verb(verb)(other)


def test_every_manifest_command_is_a_registered_command():
    manifest = json.loads(
        (Path(__file__).parents[2] / "appmanifest" / "manifest.template.json")
        .read_text(encoding="utf-8")
        .replace("{{", "")
        .replace("}}", "")
    )
    titles = {c["title"] for cl in manifest["bots"][0]["commandLists"] for c in cl["commands"]}
    router = build_router()
    words = {w for c in router._commands for w in c.words}
    assert titles <= words, titles - words


def test_every_card_writes_dates_and_times_one_way():
    """Issue 14 item 7d: "Wed 09 Dec 09:00" on one card and "Wednesday 9 December" on another. Every card sample
    (the snapshots) writes them as tsm.domain.text does; the checker itself catches each other way."""
    found = {
        name: bad
        for name, card in rendered().items()
        if (bad := dates_written_another_way("\n".join(card_words(card))))
    }
    assert found == {}
    for other in (
        "Wed 09 Dec 09:00",
        "9 Dec 2026",
        "09 December",
        "2026-12-09",
        "Wednesday 9 December, 09:00",
    ):
        assert dates_written_another_way(other), other
    assert not dates_written_another_way(
        "Wednesday 9 December 2026 09:00–10:00. May 2027: Monday 3 May 10:00"
    )
