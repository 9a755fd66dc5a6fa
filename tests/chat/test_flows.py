"""The booking flows as data (tsm/chat/flows.py): every kind of offer the chat writes has one flow, and each flow's
verbs are verbs the router handles, so a renamed verb or a new kind without its flow fails here, not on a card."""

from __future__ import annotations

import ast
from pathlib import Path

from tsm.chat.app import build_router
from tsm.chat.flows import BOOKING_KINDS, FLOWS, MOVING_KINDS, PROPOSAL, Next, booking_flow, flow_of
from tsm.services.conversation import FLOW_TTL, PROPOSAL_TTL

ROOT = Path(__file__).resolve().parents[2]


def test_every_flows_verbs_are_handled_by_the_router():
    verbs = build_router().verbs
    for flow in FLOWS.values():
        assert flow.pick_verb in verbs, flow
        assert flow.confirm_verb in verbs, flow


def test_a_proposal_is_for_the_schools_staff_and_lasts_three_weeks_the_rest_are_the_persons_for_three_days():
    assert [f.kind for f in FLOWS.values() if f.for_school_staff] == ["proposal"]
    assert PROPOSAL.ttl == PROPOSAL_TTL
    assert {f.ttl for f in FLOWS.values() if f is not PROPOSAL} == {FLOW_TTL}


def test_booking_flows_book_and_moving_flows_move():
    assert set(BOOKING_KINDS) == {"book", "officer_book"} and set(MOVING_KINDS) == {"move", "proposal"}
    assert booking_flow(officer=False).next is Next.ATTENDEES  # the school chooses who attends
    assert booking_flow(officer=True).next is Next.CONFIRM_BOOKING
    assert all(flow_of(k).next is Next.CONFIRM_MOVE for k in MOVING_KINDS)


def test_every_offer_kind_written_anywhere_has_a_flow():
    """save_offer(actor, KIND, ...) calls in the product name their kind through a flow, never a bare string."""
    bare = []
    for path in [*ROOT.joinpath("tsm").rglob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "save_offer"
                and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant)
            ):
                bare.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.args[1].value!r}")
    assert bare == []
