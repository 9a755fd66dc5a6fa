"""Every command of the Teams manifest works for the people it is for; help is by role; and the whole booking
conversation runs on PostgreSQL as on SQLite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from chatkit import facts, inputs, make_chat, text_of, titles
from test_chat_booking import ASHCOMBE, book_through_chat

MANIFEST = Path(__file__).parents[2] / "appmanifest" / "manifest.template.json"
OFFICER_ONLY = {"my week", "my schools", "book for school", "add contact"}
SCHOOL_ONLY = {"add colleague", "senior leader unavailable"}
BROOKFIELD = 990002


def manifest_commands() -> set[str]:
    m = json.loads(MANIFEST.read_text(encoding="utf-8"))
    return {c["title"] for cl in m["bots"][0]["commandLists"] for c in cl["commands"]}


@pytest.mark.parametrize("command", sorted(manifest_commands()))
async def test_every_manifest_command_answers(chat, command):
    lead = await chat.contact(ASHCOMBE)
    await book_through_chat(chat, lead)  # so move/cancel/add colleague have a meeting to act on
    officer = await chat.officer_of(BROOKFIELD)
    person = officer if command in OFFICER_ONLY else lead
    r = await chat.say(person, command)
    assert not r.error, f"{command}: {text_of(r)}"
    assert r.card is not None and r.card["version"] == "1.5"
    assert "didn't understand" not in text_of(r)
    if command == "book for school":  # school staff typing it simply book their own school's TSM
        assert "Book your TSM" in text_of(await chat.say(lead, command))
    elif command in OFFICER_ONLY:
        refused = await chat.say(lead, command)
        assert refused.error and "not open to you" in text_of(refused)
    if command in SCHOOL_ONLY:
        refused = await chat.say(officer, command)
        assert refused.error and "not open to you" in text_of(refused)


async def test_help_is_by_role(chat):
    lead = await chat.contact(ASHCOMBE)
    officer = await chat.officer_of(BROOKFIELD)
    school_help = text_of(await chat.say(lead, "help"))
    officer_help = await chat.say(officer, "help")
    assert "book" in school_help and "my week" not in school_help
    assert "my week" in text_of(officer_help) and "senior leader unavailable" not in text_of(officer_help)
    assert {"My week", "My schools", "Book for a school", "Add contact"} <= set(titles(officer_help.card))
    assert "Hello Priya" in text_of(officer_help)


def help_lines(reply) -> dict[str, str]:
    """The help card's commands: {command: what it does}."""
    return {title.strip("*"): value for title, value in facts(reply).items()}


async def test_each_audiences_help_lists_only_its_own_actions(chat):
    """Issue 14 item 7h: the officer's help listed "add a colleague" (on "my meetings": a school's action), the
    school's "book" and "who is my link officer". Each help lists only what that person can do, and no command
    listed is refused to them for their role."""
    lead = await chat.contact(ASHCOMBE)
    await book_through_chat(chat, lead)
    officer = await chat.officer_of(BROOKFIELD)
    school_help = help_lines(await chat.say(lead, "help"))
    officer_help = help_lines(await chat.say(officer, "help"))
    assert "colleague" in school_help["my meetings"] and "add colleague" in school_help
    assert not any("colleague" in line or "senior leader" in line for line in officer_help.values()), (
        officer_help
    )
    assert "book" not in officer_help and "book for school" in officer_help
    assert "who is my link officer" not in officer_help and "who is my link officer" in school_help
    assert not set(officer_help) & SCHOOL_ONLY and not set(school_help) & OFFICER_ONLY
    for person, lines in ((lead, school_help), (officer, officer_help)):
        for command in lines:
            r = await chat.say(person, command)
            assert "not open to you" not in text_of(r) and "didn't understand" not in text_of(r), command


def test_a_commands_help_is_only_for_roles_that_may_use_it():
    from tsm.chat.router import Router

    router = Router()
    with pytest.raises(ValueError, match="contact"):
        router.command("later", help={"contact": "Later"}, roles=("officer",))(help_lines)
    router.command("both", help={"officer": "For officers"})(help_lines)
    assert (
        router.commands_for("officer") == [("both", "For officers")] and router.commands_for("contact") == []
    )


async def test_typed_commands_ignore_case_and_punctuation(chat):
    lead = await chat.contact(ASHCOMBE)
    r = await chat.say(lead, "  Book!  ")
    assert inputs(r.card)["mode"]["label"] == "How would you like to meet?"
    r = await chat.say(lead, "My Meetings.")
    assert "No upcoming TSMs" in text_of(r)


@pytest.mark.postgres
async def test_the_booking_conversation_on_postgres(pg_url, tmp_path):
    chat = await make_chat(pg_url, tmp_path)
    try:
        lead = await chat.contact(ASHCOMBE)
        done, start = await book_through_chat(chat, lead)
        assert not done.error, text_of(done)
        (m,) = await chat.meetings_of(ASHCOMBE)
        assert m.start.isoformat() == start
        again = await chat.say(lead, "book")
        nxt = await chat.press(lead, again, "More dates", mode="teams")
        assert "You already have the Autumn term 2026-27 TSM" in text_of(nxt)
    finally:
        await chat.app.close()
