"""Help: what this person can do (by role), and the answer to anything the bot did not understand.

"help" always works, whatever state a flow was left in: flows keep no state in memory.
"""

from __future__ import annotations

from typing import Any

from cards import booking as cards

from .router import ChatContext, Reply, Router

_router: Router | None = None  # the router this module registered on (its command list is the help)

SCHOOL_BUTTONS = (cards.Button("Book a TSM", "book.start"), cards.Button("My meetings", "meeting.list"))
OFFICER_BUTTONS = (cards.Button("My week", "officer.week"), cards.Button("My schools", "officer.schools"),
                   cards.Button("Book for a school", "officer.book_start"),
                   cards.Button("Add contact", "contact.start"), cards.Button("My meetings", "meeting.list"))


async def help_reply(ctx: ChatContext, *, heading: str = "", text: str | None = None) -> Reply:
    role = ctx.actor.kind
    commands = tuple(_router.commands_for(role)) if _router is not None else ()
    officer = ctx.actor.is_officer
    first = (ctx.actor.name or "").split(" ")[0]
    intro = ("I keep your Targeting Support Meetings (TSMs) with your schools: your week, your schools' status, "
             "booking on a school's behalf." if officer else
             "I book your school's termly Targeting Support Meeting (TSM) with your LA link officer, and help you "
             "move or cancel it.")
    intro += " Type a command, or use a button."
    card = cards.help_card(cards.HelpView(heading or (f"Hello {first}" if first else "Hello"), intro, commands,
                                          OFFICER_BUTTONS if officer else SCHOOL_BUTTONS))
    return Reply(text=text, card=card)


async def show_help(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    return await help_reply(ctx)


async def not_understood(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    return await help_reply(ctx, heading="Sorry, I didn't understand that", text="I didn't understand that. "
                            "Here is what I can do.")


def register(router: Router) -> None:
    global _router
    _router = router
    router.command("help", "hi", "hello", "start", "menu", help="What I can do")(show_help)
    router.verb("help.show")(show_help)
    router.fallback = not_understood
