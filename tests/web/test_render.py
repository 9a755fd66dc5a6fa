"""Adaptive Cards as HTML (tsm/web/render.py): every card the product builds renders, with labelled fields and
escaped text; a button posts its verb and data; the inputs come back as Teams would send them."""

from __future__ import annotations

import json

from pagekit import Page

from cards import booking as cards
from tsm.web.render import action_payload, form_data, render_card, render_text


def _html(card: dict) -> str:
    return render_card(card, action_url="/web/act", hidden={"csrf": "t" * 64})


def test_text_is_escaped_and_only_bold_and_lists_are_markup():
    card = {
        "type": "AdaptiveCard",
        "body": [
            {"type": "TextBlock", "text": '<script>alert(1)</script> **bold** & "quoted"'},
            {"type": "TextBlock", "text": "- one\n- <b>two</b>"},
            {"type": "FactSet", "facts": [{"title": "<i>t</i>", "value": 'v" onmouseover="x'}]},
            {"type": "Image", "url": "javascript:alert(1)", "altText": "x"},
        ],
        "actions": [
            {"type": "Action.OpenUrl", "title": "bad", "url": "javascript:alert(1)"},
            {"type": "Action.OpenUrl", "title": "Join", "url": 'https://teams.example/join?a=1&b="2"'},
        ],
    }
    html = _html(card)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<strong>bold</strong>" in html and "&amp; &quot;quoted&quot;" in html
    assert "<li>&lt;b&gt;two&lt;/b&gt;</li>" in html
    assert 'onmouseover="x' not in html
    assert "javascript:" not in html  # neither the image nor the link
    assert 'href="https://teams.example/join?a=1&amp;b=&quot;2&quot;"' in html
    assert (
        render_text("a <b>\n\n- x\n- **y**")
        == "<p>a &lt;b&gt;</p><ul><li>x</li><li><strong>y</strong></li></ul>"
    )


def test_every_input_has_a_label_and_buttons_carry_their_verb_and_data():
    card = cards.add_colleague(cards.AddColleagueView(7, (("When", "Tuesday"),), (cards.Choice("Ann", "3"),)))
    page = Page(_html(card))
    html = page.html
    for field_id in ("i.contactId", "i.name", "i.email"):
        assert f'name="{field_id}"' in html
    # each control's id has a <label for=...>
    import re

    ids = re.findall(r'<(?:input|select|textarea)[^>]* id="(f\d+)"', html)
    assert ids and all(f'<label for="{i}"' in html for i in ids)
    assert 'type="email"' in html and 'autocomplete="email"' in html
    add = page.button(verb="meeting.add_colleague")
    assert add.action == {
        "verb": "meeting.add_colleague",
        "data": {"verb": "meeting.add_colleague", "meetingId": 7},
        "inputs": True,
    }
    back = page.button(verb="meeting.list")
    assert back.action["inputs"] is False and "formnovalidate" in html
    assert page.forms[0].fields["csrf"] == ["t" * 64]


def test_inputs_come_back_as_teams_sends_them():
    action = {"verb": "eval.submit", "data": {"verb": "eval.submit", "meetingId": 4}, "inputs": True}
    form = {
        "i.q1": ["4"],
        "i.colleagues": ["3", "5"],
        "t.anonymous": ["false"],
        "csrf": ["x"],
        "action": [json.dumps(action)],
        "i.comments": ["fine"],
    }
    assert form_data(action, form) == {
        "verb": "eval.submit",
        "meetingId": 4,
        "q1": "4",
        "colleagues": "3,5",
        "anonymous": "false",
        "comments": "fine",
    }
    form["i.anonymous"] = ["true"]
    assert form_data(action, form)["anonymous"] == "true"
    # a button without inputs sends only its data, whatever the form holds
    assert form_data({**action, "inputs": False}, form) == {"verb": "eval.submit", "meetingId": 4}
    # the card's own fields cannot overwrite the action's verb: the page sets it from the button
    assert action_payload({"type": "Action.Execute", "verb": "a.b", "data": {"verb": "x.y"}})["verb"] == "a.b"
    assert action_payload({"type": "Action.Submit", "data": {"verb": "x.y"}})["verb"] == "x.y"
    assert action_payload({"type": "Action.Submit", "data": {}}) is None


def test_every_card_builder_renders():
    """The card samples of the chat tests (one per builder, and the largest) all render: every button of the card
    becomes a submit button with its verb, every input a named field."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "chat"))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from card_samples import big_samples, samples
    from cardtree import walk

    for name, (builder, view) in {**samples(), **big_samples()}.items():
        card = builder(view)
        page = Page(_html(card))
        executes = [n for n in walk(card) if n.get("type") == "Action.Execute"]
        assert len(page.buttons) == len(executes), name
        assert [b.verb for b in page.buttons] == [a["verb"] for a in executes], name
        inputs = {n["id"] for n in walk(card.get("body", [])) if str(n.get("type", "")).startswith("Input.")}
        assert inputs <= {
            k[2:] for k in {**page.forms[0].fields, **page.forms[0].choices} if k.startswith("i.")
        }, name
