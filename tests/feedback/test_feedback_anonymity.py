"""Issue 12 B9: an anonymous evaluation was shown to officers with its school's name, which names the author
when about two people attend (Low Primary School: its lead answered by name, its head anonymously). The school of
an anonymous comment is shown only when the school gave at least the policy's
``evaluation.min_answers_to_name_school`` answers (3 by default); named comments keep theirs."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest
from test_feedback_reports import seeded  # noqa: F401 - the fixture, used by name

from tsm.domain.errors import PolicyError
from tsm.domain.policy import Policy, parse_policy
from tsm.services import reports as rep
from tsm.services.actors import Actor


async def test_an_anonymous_comment_of_a_school_with_few_answers_does_not_name_the_school(env, seeded):  # noqa: F811
    r = await env.reports.evaluations(Actor("admin"), "current")
    [anon] = [c for c in r.comments if c.author == "Anonymous"]
    assert anon.text == "Too long" and anon.school == rep.HIDDEN_SCHOOL
    assert "Low Primary School" not in [c.school for c in r.comments if c.author == "Anonymous"]
    assert all(
        "Low Primary School,Anonymous" not in line for line in rep.evaluation_comments_csv(r).splitlines()
    )
    # The named answer of the same school keeps its school: its author is named anyway.
    assert ("Low Primary School", "Lead of Low Primary School") in [(c.school, c.author) for c in r.comments]
    mine = await env.reports.evaluations(env.world.officer("ann"), "current")  # the officer's own view too
    assert [c.school for c in mine.comments if c.author == "Anonymous"] == [rep.HIDDEN_SCHOOL]


async def test_the_minimum_is_the_policy_s(env, seeded, monkeypatch):  # noqa: F811
    real = env.reports.ref.policy_for_la

    async def two(s, la_id) -> tuple[Policy, object]:
        policy, tz = await real(s, la_id)
        return dataclasses.replace(policy, min_answers_to_name_school=2), tz

    monkeypatch.setattr(env.reports.ref, "policy_for_la", two)
    r = await env.reports.evaluations(Actor("admin"), "current")
    assert [c.school for c in r.comments if c.author == "Anonymous"] == ["Low Primary School"]


def test_the_policy_reads_and_checks_the_minimum():
    raw = tomllib.loads((Path(__file__).parents[2] / "tsm/policies/demo.toml").read_text())
    assert (
        parse_policy("demo", raw).min_answers_to_name_school == 3
        and parse_policy("demo", raw).max_invitees == 12
    )
    assert (
        parse_policy(
            "demo", {**raw, "evaluation": {"min_answers_to_name_school": 5}}
        ).min_answers_to_name_school
        == 5
    )
    with pytest.raises(PolicyError):
        parse_policy("demo", {**raw, "evaluation": {"min_answers_to_name_school": 0}})
    with pytest.raises(PolicyError):
        parse_policy("demo", {**raw, "booking": {**raw["booking"], "max_invitees": True}})
