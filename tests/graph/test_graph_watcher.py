"""Outlook -> database: change notifications (emulator -> POST /api/graph/notifications -> GraphWatcher ->
CalendarChanges), subscriptions kept alive, and the calendarView/delta sweep when notifications were missed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import local, officer_notices
from graph_stack import ANN, BOB, CLIENT_STATE
from sqlmodel import select

from dev.graph_emulator._times import parse_iso
from tsm.adapters.db.calendars import GraphSubscription
from tsm.adapters.db.directory import Officer
from tsm.adapters.db.meetings import MeetingAttendee, MeetingSchool, OfficerBlock

pytestmark = [
    pytest.mark.filterwarnings("ignore:This class is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:GetQueryParameters is deprecated:DeprecationWarning"),
]

SCHEDULE = "/v1.0/users/{user}/calendar/getSchedule"
GET_EVENT = "/v1.0/users/{user}/events/{event}"
PATCH_EVENT = "/v1.0/users/{user}/events/{event}"
PATCH_SUB = "/v1.0/subscriptions/{subscription}"


async def responses(stack, meeting_id: int) -> dict[str, str]:
    async with stack.app.db.reader() as s:
        return {
            a.email: a.response
            for a in await s.exec(select(MeetingAttendee).where(MeetingAttendee.meeting_id == meeting_id))
        }


async def notices(stack, kind: str | None = None):
    return await officer_notices(stack.app, kind)


async def blocks(stack, meeting_id: int) -> list:
    async with stack.app.db.reader() as s:
        return sorted(
            b.block_start
            for b in await s.exec(select(OfficerBlock).where(OfficerBlock.meeting_id == meeting_id))
        )


async def subscribed_booking(stack, school: str = "low_primary", at=None, **kw):
    counts = await stack.watcher.renew_subscriptions()
    assert counts["created"] == 2
    result = await stack.book(school, at, **kw)
    await stack.settle()
    return result, (await stack.meeting(result.meeting.id)).calendar_event_id


# ---------------------------------------------------------------------- notifications end to end


async def test_a_declined_invitation_shows_on_the_meeting(any_stack):
    st = any_stack
    result, event_id = await subscribed_booking(st)
    head = "head@100001.sch.example"
    before = len(st.emulator.notifications)
    st.emulator.set_response(ANN, event_id, head, "declined")
    await st.settle(before + 1)
    assert st.emulator.notifications[-1]["status"] == 202
    answers = await responses(st, result.meeting.id)
    assert answers[head] == "declined" and answers["lead@100001.sch.example"] == "none"
    (notice,) = await notices(st, "attendee_declined")
    assert notice.officer_id == st.world.officers["ann"] and notice.meeting_id == result.meeting.id
    assert "Head of Low Primary School (Low Primary School) declined the TSM" in notice.text
    assert (await st.meeting(result.meeting.id)).status == "booked"  # the booking itself stands

    st.emulator.set_response(ANN, event_id, head, "accepted")  # and changes of mind are followed
    await st.settle(before + 2)
    assert (await responses(st, result.meeting.id))[head] == "accepted"
    assert len(await notices(st, "attendee_declined")) == 1


async def test_the_officer_moving_the_event_in_outlook_moves_the_meeting(stack):
    result, event_id = await subscribed_booking(stack)
    old_blocks = await blocks(stack, result.meeting.id)
    before = len(stack.emulator.notifications)
    stack.emulator.move_event(ANN, event_id, local(2026, 1, 9, 14), local(2026, 1, 9, 15))
    await stack.settle(before + 1)
    meeting = await stack.meeting(result.meeting.id)
    assert (meeting.start, meeting.end, meeting.status) == (
        local(2026, 1, 9, 14),
        local(2026, 1, 9, 15),
        "moved",
    )
    new_blocks = await blocks(stack, result.meeting.id)
    assert new_blocks and new_blocks != old_blocks and min(new_blocks) >= local(2026, 1, 9, 13)
    assert stack.emulator.count("PATCH", PATCH_EVENT) == 0  # nothing written back to Outlook
    # the old time is free again, the new one is not
    offer = await stack.app.booking.free_slots(
        stack.world.contact("secondary.lead"), stack.world.schools["secondary"]
    )
    starts = {s.start for s in offer.slots}
    assert local(2026, 1, 7, 10) in starts and local(2026, 1, 9, 14) not in starts


async def test_a_move_in_outlook_onto_another_tsm_is_refused_with_a_notice(stack):
    first, event_id = await subscribed_booking(stack)
    second = await stack.book("secondary", local(2026, 1, 8, 13), mode="on_site")
    await stack.settle()
    before = len(stack.emulator.notifications)
    stack.emulator.move_event(ANN, event_id, local(2026, 1, 8, 13, 30), local(2026, 1, 8, 14, 30))
    await stack.settle(before + 1)
    meeting = await stack.meeting(first.meeting.id)
    assert (meeting.start, meeting.status) == (local(2026, 1, 7, 10), "booked")
    (notice,) = await notices(stack, "move_refused")
    assert notice.meeting_id == first.meeting.id and "please move it through the TSM bot" in notice.text
    assert (await stack.meeting(second.meeting.id)).start == local(2026, 1, 8, 13)


async def test_the_officer_deleting_the_event_in_outlook_cancels_the_meeting(stack):
    result, event_id = await subscribed_booking(stack)
    before = len(stack.emulator.notifications)
    stack.emulator.delete_event(ANN, event_id)
    await stack.settle(before + 1)
    meeting = await stack.meeting(result.meeting.id)
    assert meeting.status == "cancelled"
    assert await blocks(stack, result.meeting.id) == []
    (notice,) = await notices(stack, "deleted_in_outlook")
    assert "was deleted in Outlook" in notice.text
    assert stack.emulator.cancellations == []  # Outlook already told the attendees: no /cancel from us
    again = await stack.book(at=local(2026, 1, 12, 10))  # the school may book this term again
    assert again.meeting.status == "booked"
    async with stack.app.db.reader() as s:
        old = (await s.exec(select(MeetingSchool).where(MeetingSchool.meeting_id == result.meeting.id))).one()
    assert old.active_term_id is None


async def test_our_own_writes_are_not_read_back_nor_flush_the_cache(stack):
    who, school = stack.world.contact("secondary.lead"), stack.world.schools["secondary"]
    await stack.app.booking.free_slots(who, school)
    listed = stack.emulator.count("POST", SCHEDULE)
    result, event_id = await subscribed_booking(stack, "secondary", local(2026, 1, 8, 13), mode="on_site")
    assert stack.receiver.stats["accepted"] >= 1  # the create's notification arrived...
    assert stack.emulator.count("GET", GET_EVENT) == 0  # ...and cost no read: it echoed our own write
    offer = await stack.app.booking.free_slots(
        stack.world.contact("low_primary.lead"), stack.world.schools["low_primary"]
    )
    assert stack.emulator.count("POST", SCHEDULE) == listed  # ...and left Ann's cached free/busy in place
    assert local(2026, 1, 8, 13) not in {
        s.start for s in offer.slots
    }  # the new TSM counts (from the database)
    await stack.app.booking.move(
        stack.world.contact("secondary.lead"), result.meeting.id, local(2026, 1, 9, 13)
    )
    await stack.settle()
    assert stack.emulator.count("GET", GET_EVENT) == 0
    assert (await stack.meeting(result.meeting.id)).start == local(2026, 1, 9, 13)


async def test_a_change_in_outlook_invalidates_the_cached_free_busy(stack):
    await stack.watcher.renew_subscriptions()
    who, school = stack.world.contact("low_primary.lead"), stack.world.schools["low_primary"]
    first = await stack.app.booking.free_slots(who, school)
    assert local(2026, 1, 14, 10) in {s.start for s in first.slots}
    calls = stack.emulator.count("POST", SCHEDULE)
    await stack.app.booking.free_slots(who, school)
    assert stack.emulator.count("POST", SCHEDULE) == calls  # fresh: no Graph call
    before = len(stack.emulator.notifications)
    stack.emulator.seed_event(ANN, start=local(2026, 1, 14, 10), end=local(2026, 1, 14, 11), subject="Panel")
    await stack.settle(before + 1)
    again = await stack.app.booking.free_slots(who, school)
    assert stack.emulator.count("POST", SCHEDULE) > calls
    assert local(2026, 1, 14, 10) not in {s.start for s in again.slots}


# ---------------------------------------------------------------------- subscriptions


async def subscription_rows(stack) -> dict[int, GraphSubscription]:
    async with stack.app.db.reader() as s:
        return {r.officer_id: r for r in await s.exec(select(GraphSubscription))}


async def test_subscriptions_are_created_then_renewed_before_they_expire(stack):
    emu = stack.emulator
    assert await stack.watcher.renew_subscriptions() == {
        "created": 2,
        "renewed": 0,
        "kept": 0,
        "deleted": 0,
        "failed": 0,
    }
    subs = {s["resource"].split("/")[1]: s for s in emu.subscriptions()}
    assert set(subs) == {ANN, BOB}
    assert all(
        s["clientState"] == CLIENT_STATE
        and s["notificationUrl"] == stack.notification_url
        and s["changeType"] == "created,updated,deleted"
        for s in subs.values()
    )
    rows = await subscription_rows(stack)
    first_expiry = rows[stack.world.officers["ann"]].expires_at
    assert timedelta(minutes=4190) < first_expiry - emu.now() <= timedelta(minutes=4230)

    assert (await stack.watcher.renew_subscriptions())["kept"] == 2  # plenty of life left: no call
    assert emu.count("PATCH", PATCH_SUB) == 0

    emu.advance_time(3000 * 60)  # under a third of the 4200 minutes left: renew, before expiry
    assert (await stack.watcher.renew_subscriptions())["renewed"] == 2
    assert emu.count("PATCH", PATCH_SUB) == 2
    rows = await subscription_rows(stack)
    renewed = rows[stack.world.officers["ann"]]
    assert renewed.expires_at - first_expiry > timedelta(minutes=2900)
    assert renewed.renewed_at is not None
    assert {s["id"] for s in emu.subscriptions()} == {
        s["id"] for s in subs.values()
    }  # the same subscriptions
    live = {s["id"]: parse_iso(s["expirationDateTime"]) for s in emu.subscriptions()}
    assert all(abs((live[r.subscription_id] - r.expires_at).total_seconds()) < 2 for r in rows.values())

    result = await stack.book()  # notifications still flow through the renewed subscription
    await stack.settle()
    event_id = (await stack.meeting(result.meeting.id)).calendar_event_id
    stack.emulator.set_response(ANN, event_id, "lead@100001.sch.example", "declined")
    await stack.settle()
    assert (await responses(stack, result.meeting.id))["lead@100001.sch.example"] == "declined"


async def test_an_expired_subscription_is_created_again_and_the_gap_swept(stack):
    result, event_id = await subscribed_booking(stack)
    old_ids = {s["id"] for s in stack.emulator.subscriptions()}
    stack.emulator.advance_time(4300 * 60)  # every subscription lapsed
    stack.emulator.move_event(ANN, event_id, local(2026, 1, 9, 14), local(2026, 1, 9, 15))  # nobody was told
    await stack.settle()
    assert (await stack.meeting(result.meeting.id)).start == local(2026, 1, 7, 10)
    counts = await stack.watcher.renew_subscriptions()
    assert counts["created"] == 2
    live = [s for s in stack.emulator.subscriptions() if s["id"] not in old_ids]
    assert len(live) == 2
    assert (await stack.meeting(result.meeting.id)).start == local(
        2026, 1, 9, 14
    )  # the catch-up sweep saw it


async def test_lifecycle_notifications_renew_or_forget_the_subscription(stack):
    await stack.watcher.renew_subscriptions()
    ann_row = (await subscription_rows(stack))[stack.world.officers["ann"]]
    before = len(stack.emulator.notifications)
    stack.emulator.send_lifecycle_event(ann_row.subscription_id, "reauthorizationRequired")
    await stack.settle(before + 1)
    assert stack.emulator.count("PATCH", PATCH_SUB) == 1
    assert (await subscription_rows(stack))[stack.world.officers["ann"]].renewed_at is not None

    stack.emulator.send_lifecycle_event(ann_row.subscription_id, "subscriptionRemoved")
    await stack.settle(before + 2)
    assert stack.world.officers["ann"] not in await subscription_rows(stack)
    assert (await stack.watcher.renew_subscriptions())["created"] == 1


async def test_an_inactive_officer_s_subscription_is_deleted(stack):
    await stack.watcher.renew_subscriptions()
    async with stack.app.db.transaction() as s:
        bob = await s.get(Officer, stack.world.officers["bob"])
        bob.active = False
        s.add(bob)
    counts = await stack.watcher.renew_subscriptions()
    assert counts["deleted"] == 1 and counts["kept"] == 1
    assert [s["resource"] for s in stack.emulator.subscriptions()] == [f"users/{ANN}/events"]


# ---------------------------------------------------------------------- the delta sweep


async def test_the_delta_sweep_catches_changes_without_notifications(stack):
    result = await stack.book()  # no subscriptions at all
    other = await stack.book("secondary", local(2026, 1, 8, 13), mode="on_site")
    first = await stack.watcher.sweep_delta()
    assert first["officers"] == 2 and first["failed"] == 0 and first["applied"] == 0  # all already known
    event_id = (await stack.meeting(result.meeting.id)).calendar_event_id
    other_id = (await stack.meeting(other.meeting.id)).calendar_event_id

    stack.emulator.move_event(ANN, event_id, local(2026, 1, 12, 14), local(2026, 1, 12, 15))
    stack.emulator.set_response(ANN, other_id, "head@100003.sch.example", "declined")
    counts = await stack.watcher.sweep_delta()
    assert counts["applied"] == 2
    assert (await stack.meeting(result.meeting.id)).start == local(2026, 1, 12, 14)
    assert (await responses(stack, other.meeting.id))["head@100003.sch.example"] == "declined"

    assert (await stack.watcher.sweep_delta())["changes"] == 0  # nothing new since the last deltaLink

    stack.emulator.expire_delta_tokens()  # Graph forgot the sync state (410): start over, no failure...
    stack.emulator.delete_event(ANN, other_id)
    counts = await stack.watcher.sweep_delta()
    assert counts["failed"] == 0
    # ...and the deletion made meanwhile is not lost although a full sync only lists what exists
    assert (await stack.meeting(other.meeting.id)).status == "cancelled"
    assert (await stack.meeting(result.meeting.id)).status == "moved"
