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


WHAT_IS_A_TSM = (
    "A Targeting Support Meeting (TSM) is a short termly conversation between your school's attendance leads (with "
    "a senior leader) and your local authority's link officer for attendance: the trends in your attendance data, "
    "agreed plans for severely absent pupils, joined-up support for persistently absent ones, and who leads on what. "
    "It is one of the four services every LA offers schools free under the DfE's statutory guidance *Working "
    "together to improve school attendance*. It is not an inspection, and no pupil-level data is handed over.")


async def what_is_a_tsm(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    reply = await help_reply(ctx, heading="What a TSM is")
    return Reply(text=WHAT_IS_A_TSM, card=reply.card)


async def who_is_my_officer(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    """School staff: their link officer, with how to reach them; an officer: they are one, and where their list is."""
    if ctx.actor.is_officer:
        text = "You are a link officer: say **my schools** for the schools you hold TSMs with."
    elif ctx.actor.school_id is None:
        text = "I can't tell which school you are with: please ask your LA's attendance team."
    else:
        info = await ctx.services.conversation.school_info(ctx.actor, ctx.actor.school_id)
        text = (f"Your link officer for {info.name} is **{info.officer_name}** ({info.officer_email})."
                if info.officer_name else f"{info.name} has no link officer yet: please ask your LA's attendance team.")
    reply = await help_reply(ctx, heading="Your link officer" if not ctx.actor.is_officer else "Link officers")
    return Reply(text=text, card=reply.card)


def register(router: Router) -> None:
    global _router
    _router = router
    router.command("what is a tsm", "what's a tsm", "whats a tsm", "what is tsm", "what are tsms",
                   help="What a Targeting Support Meeting is")(what_is_a_tsm)
    router.command("who is my link officer", "who's my link officer", "whos my link officer", "who is my officer",
                   "my link officer", "link officer", help="Who your LA link officer is")(who_is_my_officer)
    router.command("help", "hi", "hello", "start", "menu", help="What I can do")(show_help)
    router.verb("help.show")(show_help)
    router.fallback = not_understood
