"""Adaptive Cards as server-rendered HTML: the cards the product already builds (``cards/``), shown in a browser.

The subset the cards use: TextBlock (with **bold** and "- " lists), FactSet, Container, ColumnSet/Column, Image (our
own ``data:image/png`` charts only), ActionSet, Input.Text/ChoiceSet/Date/Toggle, and the actions Action.Execute,
Action.Submit, Action.ShowCard and Action.OpenUrl (http and https only).

A card becomes one ``<form method="post">``: its inputs become labelled form fields, and each button is a submit
button whose value is the action's verb and data as JSON (the same data a Teams client would send). Everything is
escaped; nothing in a card can add markup or script. The server treats what comes back as untrusted, as it does
for Teams: the router re-checks every value, offer and role (see ``tsm/web/page.py``).
"""

from __future__ import annotations

import json
import re
from html import escape
from itertools import count
from typing import Any

from ..domain.text import hold_escapes, release_escapes

INPUT_PREFIX = "i."  # form field names of a card's inputs: i.<input id>
TOGGLE_PREFIX = "t."  # hidden "value when off" of a toggle: t.<input id>
ACTION_FIELD = "action"
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_ITALIC = re.compile(r"(?<![\w&])_(?=\S)(.+?)(?<=\S)_(?!\w)")
_IDS = count(1)


def _md(text: str) -> str:
    """The markdown the cards use: **bold**, _italics_ and line breaks, on escaped text; what someone typed
    (escaped by tsm.domain.text.plain) shows as they typed it, never as emphasis."""
    html = _ITALIC.sub(r"<em>\1</em>", _BOLD.sub(r"<strong>\1</strong>", escape(hold_escapes(text))))
    return release_escapes(html.replace("  \n", "\n").replace("\n", "<br>"), html=True)


def _uid(prefix: str) -> str:
    return f"{prefix}{next(_IDS)}"


class CardRenderer:
    """Renders one card. ``action_url`` is where its form posts; ``hidden`` fields go into the form (the CSRF
    token)."""

    def __init__(self, *, action_url: str, hidden: dict[str, str]) -> None:
        self.action_url = action_url
        self.hidden = hidden

    def card(self, card: dict[str, Any], *, heading_level: int = 2) -> str:
        self.heading_level = heading_level
        body = "".join(self._element(e) for e in card.get("body") or [] if isinstance(e, dict))
        actions = self._actions(card.get("actions") or [])
        hidden = "".join(
            f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in self.hidden.items()
        )
        return (
            f'<form class="card" method="post" action="{escape(self.action_url)}">{hidden}{body}{actions}'
            "</form>"
        )

    # ------------------------------------------------------------------ elements

    def _element(self, e: dict[str, Any]) -> str:
        kind = e.get("type")
        sep = " sep" if e.get("separator") else ""
        if kind == "TextBlock":
            return self._text(e)
        if kind == "FactSet":
            facts = [f for f in e.get("facts") or [] if isinstance(f, dict)]
            rows = "".join(
                f'<div class="fact"><dt>{_md(str(f.get("title", "")))}</dt>'
                f"<dd>{_md(str(f.get('value', '')))}</dd></div>"
                for f in facts
            )
            return f'<dl class="facts{sep}">{rows}</dl>'
        if kind == "Container":
            style = e.get("style")
            cls = f"container{sep}" + (
                f" style-{escape(str(style))}"
                if style in ("warning", "attention", "good", "emphasis")
                else ""
            )
            inner = "".join(self._element(i) for i in e.get("items") or [] if isinstance(i, dict))
            return f'<div class="{cls}">{inner}</div>'
        if kind == "ColumnSet":
            cols = "".join(
                '<div class="column">'
                + "".join(self._element(i) for i in c.get("items") or [] if isinstance(i, dict))
                + "</div>"
                for c in e.get("columns") or []
                if isinstance(c, dict)
            )
            return f'<div class="columns{sep}">{cols}</div>'
        if kind == "Image":
            url = str(e.get("url", ""))
            if not url.startswith("data:image/png;base64,"):
                return ""
            return f'<img class="image" src="{escape(url)}" alt="{escape(str(e.get("altText", "")))}">'
        if kind == "ActionSet":
            return self._actions(e.get("actions") or [])
        if kind == "Input.Text":
            return self._input_text(e)
        if kind == "Input.ChoiceSet":
            return self._choices(e)
        if kind == "Input.Date":
            return self._field(e, "date")
        if kind == "Input.Toggle":
            return self._toggle(e)
        return ""

    def _text(self, e: dict[str, Any]) -> str:
        text = str(e.get("text", ""))
        classes = ["text"]
        if e.get("isSubtle"):
            classes.append("subtle")
        if e.get("size") == "Small":
            classes.append("small")
        color = e.get("color")
        if color in ("Attention", "Good", "Warning"):
            classes.append(f"color-{color.lower()}")
        if e.get("separator"):
            classes.append("sep")
        if e.get("weight") == "Bolder" and e.get("size") in ("Medium", "Large", "ExtraLarge"):
            level = self.heading_level
            return f'<h{level} class="{" ".join(classes)}">{_md(text)}</h{level}>'
        lines = text.split("\n")
        if all(ln.startswith("- ") for ln in lines if ln.strip()):
            items = "".join(f"<li>{_md(ln[2:])}</li>" for ln in lines if ln.strip())
            return f'<ul class="{" ".join(classes)}">{items}</ul>'
        if e.get("weight") == "Bolder":
            classes.append("bold")
        return f'<p class="{" ".join(classes)}">{_md(text)}</p>'

    # ------------------------------------------------------------------ inputs

    @staticmethod
    def _label(e: dict[str, Any], for_id: str) -> str:
        label = str(e.get("label") or e.get("title") or e.get("placeholder") or e.get("id") or "")
        req = ' <span class="req" aria-hidden="true">*</span>' if e.get("isRequired") else ""
        return f'<label for="{for_id}">{escape(label)}{req}</label>'

    @staticmethod
    def _common(e: dict[str, Any], for_id: str) -> str:
        out = f' id="{for_id}" name="{INPUT_PREFIX}{escape(str(e.get("id", "")))}"'
        if e.get("isRequired"):
            out += ' required aria-required="true"'
        return out

    def _input_text(self, e: dict[str, Any]) -> str:
        fid = _uid("f")
        attrs = self._common(e, fid)
        max_len = e.get("maxLength")
        if isinstance(max_len, int) and max_len > 0:
            attrs += f' maxlength="{max_len}"'
        if e.get("placeholder"):
            attrs += f' placeholder="{escape(str(e["placeholder"]))}"'
        value = escape(str(e.get("value") or ""))
        if e.get("isMultiline"):
            control = f'<textarea{attrs} rows="4">{value}</textarea>'
        else:
            kind = {"Email": "email", "Tel": "tel", "Url": "url"}.get(str(e.get("style", "")), "text")
            auto = ' autocomplete="email"' if kind == "email" else ""
            control = f'<input type="{kind}"{attrs}{auto} value="{value}">'
        return f'<div class="field">{self._label(e, fid)}{control}</div>'

    def _field(self, e: dict[str, Any], kind: str) -> str:
        fid = _uid("f")
        value = escape(str(e.get("value") or ""))
        return (
            f'<div class="field">{self._label(e, fid)}<input type="{kind}"{self._common(e, fid)} '
            f'value="{value}"></div>'
        )

    def _choices(self, e: dict[str, Any]) -> str:
        choices = [c for c in e.get("choices") or [] if isinstance(c, dict)]
        name = f"{INPUT_PREFIX}{escape(str(e.get('id', '')))}"
        value = str(e.get("value") or "")
        multi = bool(e.get("isMultiSelect"))
        chosen = set(value.split(",")) if multi else {value}
        label = escape(str(e.get("label") or e.get("id") or ""))
        req = ' <span class="req" aria-hidden="true">*</span>' if e.get("isRequired") else ""
        if multi or e.get("style") == "expanded":
            kind = "checkbox" if multi else "radio"
            required = " required" if e.get("isRequired") and not multi else ""
            options = []
            for c in choices:
                oid = _uid("o")
                v = str(c.get("value", ""))
                checked = " checked" if v in chosen else ""
                options.append(
                    f'<div class="option"><input type="{kind}" id="{oid}" name="{name}" '
                    f'value="{escape(v)}"{checked}{required}><label for="{oid}">'
                    f"{escape(str(c.get('title', v)))}</label></div>"
                )
            return f'<fieldset class="field"><legend>{label}{req}</legend>{"".join(options)}</fieldset>'
        fid = _uid("f")
        opts = "" if e.get("isRequired") and value else '<option value="">(choose)</option>'
        for c in choices:
            v = str(c.get("value", ""))
            selected = " selected" if v == value else ""
            opts += f'<option value="{escape(v)}"{selected}>{escape(str(c.get("title", v)))}</option>'
        return f'<div class="field">{self._label(e, fid)}<select{self._common(e, fid)}>{opts}</select></div>'

    def _toggle(self, e: dict[str, Any]) -> str:
        fid = _uid("f")
        on, off = str(e.get("valueOn", "true")), str(e.get("valueOff", "false"))
        checked = " checked" if str(e.get("value", off)) == on else ""
        ident = escape(str(e.get("id", "")))
        legend = escape(str(e.get("label") or ""))
        return (
            f'<fieldset class="field toggle">{f"<legend>{legend}</legend>" if legend else ""}'
            f'<input type="hidden" name="{TOGGLE_PREFIX}{ident}" value="{escape(off)}">'
            f'<div class="option"><input type="checkbox" id="{fid}" name="{INPUT_PREFIX}{ident}" '
            f'value="{escape(on)}"{checked}><label for="{fid}">{escape(str(e.get("title", "")))}</label></div>'
            "</fieldset>"
        )

    # ------------------------------------------------------------------ actions

    def _actions(self, actions: list[Any]) -> str:
        out = []
        for a in actions:
            if not isinstance(a, dict):
                continue
            html = self._action(a)
            if html:
                out.append(html)
        return f'<div class="actions">{"".join(out)}</div>' if out else ""

    def _action(self, a: dict[str, Any]) -> str:
        kind = a.get("type")
        title = escape(str(a.get("title") or "OK"))
        style = a.get("style")
        cls = "button" + (f" {style}" if style in ("positive", "destructive") else "")
        if kind == "Action.OpenUrl":
            url = str(a.get("url", ""))
            if not re.match(r"^https?://", url):
                return ""
            return f'<a class="{cls} link" href="{escape(url)}" rel="noopener noreferrer">{title}</a>'
        if kind == "Action.ShowCard":
            inner = a.get("card") if isinstance(a.get("card"), dict) else {}
            body = "".join(self._element(e) for e in inner.get("body") or [] if isinstance(e, dict))
            return (
                f'<details class="showcard"><summary class="button">{title}</summary>{body}'
                f"{self._actions(inner.get('actions') or [])}</details>"
            )
        if kind in ("Action.Execute", "Action.Submit"):
            payload = action_payload(a)
            if payload is None:
                return ""
            return (
                f'<button type="submit" class="{cls}" name="{ACTION_FIELD}" '
                f'value="{escape(json.dumps(payload, separators=(",", ":")))}"'
                f"{' formnovalidate' if not payload['inputs'] else ''}>{title}</button>"
            )
        return ""


def action_payload(a: dict[str, Any]) -> dict[str, Any] | None:
    """What a button sends: its verb, its data and whether the card's inputs go with it (Teams' rules: an
    Action.Execute's ``verb``; an Action.Submit's ``data.verb``; ``associatedInputs: none`` sends no inputs)."""
    data = a.get("data") if isinstance(a.get("data"), dict) else {}
    verb = a.get("verb") if a.get("type") == "Action.Execute" else data.get("verb")
    if not isinstance(verb, str) or not verb:
        return None
    return {"verb": verb, "data": data, "inputs": a.get("associatedInputs", "auto") != "none"}


def render_card(
    card: dict[str, Any], *, action_url: str, hidden: dict[str, str], heading_level: int = 2
) -> str:
    return CardRenderer(action_url=action_url, hidden=hidden).card(card, heading_level=heading_level)


def render_text(text: str) -> str:
    """A reply's text (the cards' markdown: **bold**, "- " lists, paragraphs)."""
    parts = []
    for para in re.split(r"\n\s*\n", text.strip()):
        lines = para.split("\n")
        if all(ln.startswith("- ") for ln in lines):
            parts.append("<ul>" + "".join(f"<li>{_md(ln[2:])}</li>" for ln in lines) + "</ul>")
        else:
            parts.append(f"<p>{_md(para)}</p>")
    return "".join(parts)


def form_data(action: dict[str, Any], form: dict[str, list[str]]) -> dict[str, Any]:
    """The data a pressed button sends, as Teams would: the action's data, with the card's inputs over it when the
    button takes inputs (a multi-select's values joined with commas; an unticked toggle its ``valueOff``)."""
    data = dict(action.get("data") or {})
    if not action.get("inputs"):
        return data
    inputs: dict[str, str] = {}
    for key, values in form.items():
        if key.startswith(TOGGLE_PREFIX):
            inputs.setdefault(key[len(TOGGLE_PREFIX) :], values[-1])
    for key, values in form.items():
        if key.startswith(INPUT_PREFIX):
            inputs[key[len(INPUT_PREFIX) :]] = ",".join(v for v in values if v != "")
    data.update(inputs)
    return data
