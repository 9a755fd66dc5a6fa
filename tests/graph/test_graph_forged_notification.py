"""Issue 12 B6: a forged "deleted" change notification (the right clientState, a real subscription and event id:
what a leaked secret or a replay gives) once cancelled a meeting whose Outlook event still existed. Now every
notification is only a hint: the event is read back from Graph (the emulator here) and only what Graph answers
is applied."""

from __future__ import annotations

import json

import aiohttp
import pytest
from graph_stack import ANN, CLIENT_STATE
from test_graph_watcher import GET_EVENT, subscribed_booking

pytestmark = [
    pytest.mark.filterwarnings("ignore:This class is deprecated:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:GetQueryParameters is deprecated:DeprecationWarning"),
]


async def forge(stack, event_id: str, change_type: str = "deleted") -> int:
    sub = next(s for s in stack.emulator.subscriptions() if s["resource"] == f"users/{ANN}/events")
    body = {
        "value": [
            {
                "subscriptionId": sub["id"],
                "clientState": CLIENT_STATE,
                "changeType": change_type,
                "resource": f"users/{ANN}/events/{event_id}",
                "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "id": event_id},
            }
        ]
    }
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            stack.notification_url, data=json.dumps(body), headers={"Content-Type": "application/json"}
        ) as r,
    ):
        status = r.status
    await stack.receiver.drain()
    return status


async def test_a_forged_deleted_notification_does_not_cancel_a_meeting_whose_event_exists(stack):
    result, event_id = await subscribed_booking(stack)
    reads = stack.emulator.count("GET", GET_EVENT)
    assert await forge(stack, event_id) == 202
    assert stack.emulator.count("GET", GET_EVENT) == reads + 1  # the event was read back...
    meeting = await stack.meeting(result.meeting.id)
    assert meeting.status == "booked"  # ...found, and the meeting stands
    assert stack.emulator.event(ANN, event_id) is not None


async def test_a_real_deletion_is_still_applied_when_graph_confirms_it(stack):
    result, event_id = await subscribed_booking(stack)
    before = len(stack.emulator.notifications)
    stack.emulator.delete_event(ANN, event_id)
    await stack.settle(before + 1)
    assert (await stack.meeting(result.meeting.id)).status == "cancelled"
