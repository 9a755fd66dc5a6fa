"""Driving the web page over HTTP without a browser: a signed-in client that reads the page's forms and presses its
buttons as a browser would (the browser itself drives it in tests/web/test_web_browser.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Button:
    text: str
    value: str  # the action's JSON (verb, data, inputs)
    form: int

    @property
    def action(self) -> dict:
        return json.loads(self.value)

    @property
    def verb(self) -> str:
        return self.action["verb"]


@dataclass
class Form:
    action: str
    fields: dict[str, list[str]] = field(default_factory=dict)  # hidden and prefilled fields
    choices: dict[str, list[str]] = field(default_factory=dict)  # select/radio/checkbox values offered


class Page(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.html = html
        self.forms: list[Form] = []
        self.buttons: list[Button] = []
        self.links: list[tuple[str, str]] = []  # (text, href)
        self._button: dict | None = None
        self._link: dict | None = None
        self._select: str | None = None
        self._text: list[str] = []
        self.feed(html)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self._text).split())

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append(Form(a.get("action", "")))
        elif tag == "input" and self.forms:
            f = self.forms[-1]
            name, kind = a.get("name"), a.get("type", "text")
            if not name:
                return
            if kind in ("radio", "checkbox"):
                f.choices.setdefault(name, []).append(a.get("value", ""))
                if "checked" in a:
                    f.fields.setdefault(name, []).append(a.get("value", ""))
            else:
                f.fields.setdefault(name, []).append(a.get("value", ""))
        elif tag == "textarea" and self.forms and a.get("name"):
            self.forms[-1].fields.setdefault(a["name"], []).append("")
        elif tag == "select" and self.forms:
            self._select = a.get("name")
        elif tag == "option" and self._select and self.forms:
            f = self.forms[-1]
            f.choices.setdefault(self._select, []).append(a.get("value", ""))
            if "selected" in a:
                f.fields[self._select] = [a.get("value", "")]
        elif tag == "button" and a.get("name") == "action":
            self._button = {"value": a.get("value", ""), "text": [], "form": len(self.forms) - 1}
        elif tag == "a":
            self._link = {"href": a.get("href", ""), "text": []}

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "button" and self._button is not None:
            b = self._button
            self.buttons.append(Button(" ".join("".join(b["text"]).split()), b["value"], b["form"]))
            self._button = None
        elif tag == "a" and self._link is not None:
            self.links.append((" ".join("".join(self._link["text"]).split()), self._link["href"]))
            self._link = None

    def handle_data(self, data):
        self._text.append(data)
        if self._button is not None:
            self._button["text"].append(data)
        if self._link is not None:
            self._link["text"].append(data)

    def button(self, text: str | None = None, *, verb: str | None = None, where=None) -> Button:
        found = [
            b
            for b in self.buttons
            if (text is None or b.text == text)
            and (verb is None or b.verb == verb)
            and (where is None or where(b.action.get("data", {})))
        ]
        assert found, f"no button {text or verb} among {[(b.text, b.verb) for b in self.buttons]}"
        return found[0]

    def verbs(self) -> set[str]:
        return {b.verb for b in self.buttons}


class WebUser:
    """One person in a browser-like client (aiohttp's TestClient keeps the cookies)."""

    def __init__(self, client) -> None:
        self.client = client
        self.page: Page | None = None
        self.status = 0

    async def get(self, path: str) -> Page:
        r = await self.client.get(path)
        self.status = r.status
        self.page = Page(await r.text())
        return self.page

    async def post(self, path: str, data: dict | list) -> Page:
        r = await self.client.post(path, data=data)
        self.status = r.status
        self.page = Page(await r.text())
        return self.page

    async def open_link(self, url: str) -> Page:
        path = "/" + url.split("://", 1)[1].split("/", 1)[1]
        page = await self.get(path)
        if self.status != 200:
            return page
        form = page.forms[-1]
        return await self.post(form.action, {k: v[0] for k, v in form.fields.items()})

    async def press(
        self, text: str | None = None, *, verb: str | None = None, values: dict | None = None, where=None
    ) -> Page:
        assert self.page is not None
        b = self.page.button(text, verb=verb, where=where)
        form = self.page.forms[b.form]
        data: list[tuple[str, str]] = []
        given = {f"i.{k}": v for k, v in (values or {}).items()}
        for name, vals in form.fields.items():
            if name in given:
                continue
            data += [(name, v) for v in vals]
        for name, v in given.items():
            data += [(name, x) for x in (v if isinstance(v, list) else [v])]
        data.append(("action", b.value))
        return await self.post(form.action, data)

    def csrf(self) -> str:
        assert self.page is not None
        for f in self.page.forms:
            if "csrf" in f.fields:
                return f.fields["csrf"][0]
        raise AssertionError("no CSRF token on the page")
