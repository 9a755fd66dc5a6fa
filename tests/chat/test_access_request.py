"""Unknown users can ask for access (issue 14, item 6): instead of the same paragraph on every turn with no way
forward, someone the bot does not know gets a button that tells the LA's admins their name, email and tenant (once a
week at most), and an admin adds them as a school contact in two presses; then the bot knows them."""

from __future__ import annotations

from chatkit import Person, input_values, text_of, titles, told

from tsm.chat.router import Who
from tsm.messaging import Recipient

ASHCOMBE = 990001  # Alex Carter's school; Alex Carter is the demo's LA admin


def stranger(email: str | None = "pat.new@ashcombe.example") -> Person:
    return Person(
        Who(email=email, name="Pat New", aad_object_id="aad-stranger", tenant_id="t-school"),
        0,
        "Pat New",
        email or "",
    )


async def test_an_unknown_person_asks_for_access_the_admin_adds_them_and_the_bot_then_knows_them(chat):
    pat = stranger()
    hello = await chat.say(pat, "hi")
    assert hello.error and "I can't find you" in text_of(hello)
    assert titles(hello.card) == ["Ask the LA for access"]
    await told(chat)  # what the demo's loading told people is not this test's
    asked = await chat.press(pat, hello, "Ask the LA for access")
    assert not asked.error and "your request is with your LA's attendance team" in text_of(asked)
    sent = [(r, m) for r, m in await told(chat) if "asks for access" in m.text]
    alex = await chat.officer_of(ASHCOMBE)
    assert [r for r, _ in sent] == [Recipient("officer", alex.id)]  # the LA's admins, not every officer
    card = sent[0][1].card
    assert "pat.new@ashcombe.example" in str(card) and "t-school" in str(card)

    # Two presses for the admin: the school (the role is preselected) and Add as contact.
    school = await chat.school(ASHCOMBE)
    from chatkit import button

    add = button(card, "Add as contact")
    data = {
        **{k: v for k, v in add["data"].items() if k != "verb"},
        **input_values(card),
        "urn": str(school.urn),
    }
    done = await chat.act(alex, "contact.add", data)
    assert not done.error and "Pat New added to Ashcombe Primary School" in text_of(done)
    known = await chat.say(pat, "my meetings")
    assert not known.error and "I can't find you" not in text_of(known)


async def test_asking_again_within_a_week_does_not_reach_the_admins_twice(chat):
    pat = stranger()
    await told(chat)
    first = await chat.act(pat, "access.request", {})
    again = await chat.act(pat, "access.request", {})
    assert "your request is with" in text_of(first) and "already with your LA's attendance team" in text_of(
        again
    )
    assert len([1 for _, m in await told(chat) if "asks for access" in m.text]) == 1


async def test_without_an_email_there_is_nothing_to_pass_on_and_a_known_person_already_has_access(chat):
    nobody = stranger(email=None)
    hello = await chat.say(nobody, "hi")
    assert hello.error and not titles(hello.card)
    r = await chat.act(nobody, "access.request", {})
    assert r.error and "did not give me your email address" in text_of(r)
    lead = await chat.contact(ASHCOMBE)
    r = await chat.act(lead, "access.request", {})
    assert "You already have access" in text_of(r)
