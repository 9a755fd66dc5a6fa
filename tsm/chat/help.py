"""Help: what this person can do (by role), and the answer to anything the bot did not understand.

"help" always works, whatever state a flow was left in: flows keep no state in memory.
"""

from __future__ import annotations

from typing import Any

from cards import booking as cards

from ..services.directory import request_access
from .router import ChatContext, Incoming, Reply, Router, unknown_user_text

_router: Router | None = None  # the router this module registered on (its command list is the help)

SCHOOL_BUTTONS = (cards.Button("Book a TSM", "book.start"), cards.Button("My meetings", "meeting.list"))
OFFICER_BUTTONS = (
    cards.Button("My week", "officer.week"),
    cards.Button("My schools", "officer.schools"),
    cards.Button("Book for a school", "officer.book_start"),
    cards.Button("Add contact", "contact.start"),
    cards.Button("My meetings", "meeting.list"),
)


async def help_reply(ctx: ChatContext, *, heading: str = "", text: str | None = None) -> Reply:
    role = ctx.actor.kind
    commands = tuple(_router.commands_for(role)) if _router is not None else ()
    officer = ctx.actor.is_officer
    first = (ctx.actor.name or "").split(" ")[0]
    buttons: tuple[cards.Button, ...] = OFFICER_BUTTONS if officer else SCHOOL_BUTTONS
    intro = (
        "I keep your Targeting Support Meetings (TSMs) with your schools: your week, your schools' status, "
        "booking on a school's behalf."
        if officer
        else "I book your school's termly Targeting Support Meeting (TSM) with your LA link officer, and help you "
        "move or cancel it."
    )
    if not officer and ctx.actor.school_id is not None:
        info = await ctx.services.conversation.school_info(ctx.actor, ctx.actor.school_id)
        if (
            not info.entitlement.may_book
        ):  # the LA contacts the school: no booking offered it cannot make (7g)
            who = info.officer_name or "Your LA's attendance team"
            intro = (
                f"{who} contacts your school to arrange its termly Targeting Support Meeting (TSM): you don't "
                "need to book. I show your TSMs and help you move or cancel one."
            )
            commands = tuple((word, line) for word, line in commands if word != "book")
            buttons = tuple(b for b in buttons if b.verb != "book.start")
    intro += " Type a command, or use a button."
    card = cards.help_card(
        cards.HelpView(heading or (f"Hello {first}" if first else "Hello"), intro, commands, buttons)
    )
    return Reply(text=text, card=card)


async def show_help(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    return await help_reply(ctx)


async def not_understood(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    return await help_reply(
        ctx,
        heading="Sorry, I didn't understand that",
        text="I didn't understand that. Here is what I can do.",
    )


WHAT_IS_A_TSM = (
    "A Targeting Support Meeting (TSM) is a short termly conversation between your school's attendance leads (with "
    "a senior leader) and your local authority's link officer for attendance: the trends in your attendance data, "
    "agreed plans for severely absent pupils, joined-up support for persistently absent ones, and who leads on what. "
    "It is one of the four services every LA offers schools free under the DfE's statutory guidance *Working "
    "together to improve school attendance*. It is not an inspection, and no pupil-level data is handed over."
)


async def what_is_a_tsm(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    reply = await help_reply(ctx, heading="What a TSM is")
    return Reply(text=WHAT_IS_A_TSM, card=reply.card)


async def who_is_my_officer(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    """School staff: their link officer, with how to reach them; an officer: they are one, and where their list is."""
    if ctx.actor.is_officer:
        text = "You are a link officer: say **my schools** for the schools you hold TSMs with."
    else:  # school staff: the directory only ever makes a contact with their school
        info = await ctx.services.conversation.school_info(ctx.actor, ctx.actor.school_id)
        text = (
            f"Your link officer for {info.name} is **{info.officer_name}** ({info.officer_email})."
            if info.officer_name
            else f"{info.name} has no link officer yet: please ask your LA's attendance team."
        )
    reply = await help_reply(
        ctx, heading="Your link officer" if not ctx.actor.is_officer else "Link officers"
    )
    return Reply(text=text, card=reply.card)


ACCESS_ANSWERS = {
    "sent": "Thank you: your request is with your LA's attendance team, with your name and email. When they have "
    "added you, say **hi** here again.",
    "already": "Your request is already with your LA's attendance team (one a week reaches them). When they have "
    "added you, say **hi** here again.",
    "no_email": "Teams did not give me your email address, so I can't pass your request on: please ask your school's "
    "LA link officer or your LA's attendance team to add you.",
    "no_la": "I can't tell which local authority to ask: please ask your school's LA link officer or your LA's "
    "attendance team to add you.",
}


async def unknown_user(incoming: Incoming, services: Any) -> Reply:
    """Someone the directory does not know: whom to ask, and a button that asks the LA's admins for them (issue 14,
    item 6); pressing it records the request once a week at most (``tsm.services.directory.request_access``)."""
    who = incoming.who
    if incoming.verb == "access.request" and services is not None:
        outcome = await request_access(
            services.db, services.clock, name=who.name, email=who.email, tenant_id=who.tenant_id
        )
        return Reply(
            text=ACCESS_ANSWERS[outcome],
            card=cards.done(
                cards.DoneView(
                    "Access requested" if outcome in ("sent", "already") else "Please ask your LA",
                    (),
                    note=ACCESS_ANSWERS[outcome],
                    buttons=(),
                )
            ),
            error=outcome not in ("sent", "already"),
        )
    text = unknown_user_text(who)
    if not who.email:
        return Reply(text=text, error=True)
    return Reply(
        text=text,
        card=cards.done(
            cards.DoneView(
                "I don't know you yet",
                (),
                note=text + " Or ask them from here: they get your name and email.",
                buttons=(cards.Button("Ask the LA for access", "access.request"),),
            )
        ),
        error=True,
    )


async def already_known(ctx: ChatContext, data: dict[str, Any]) -> Reply:
    """The "Ask the LA for access" button pressed by someone the bot knows (an old card): nothing to ask."""
    return await help_reply(
        ctx, heading="You already have access", text="You already have access: here is what you can do."
    )


def register(router: Router) -> None:
    global _router
    _router = router
    router.unknown_user = unknown_user
    router.verb("access.request")(already_known)
    router.command(
        "what is a tsm",
        "what's a tsm",
        "whats a tsm",
        "what is tsm",
        "what are tsms",
        help="What a Targeting Support Meeting is",
    )(what_is_a_tsm)
    router.command(
        "who is my link officer",
        "who's my link officer",
        "whos my link officer",
        "who is my officer",
        "my link officer",
        "link officer",
        help={"contact": "Who your LA link officer is"},  # an officer asking is told they are one, unlisted
    )(who_is_my_officer)
    router.command("help", "hi", "hello", "start", "menu", help="What I can do")(show_help)
    router.verb("help.show")(show_help)
    router.fallback = not_understood
