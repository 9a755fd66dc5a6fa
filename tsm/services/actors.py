"""Who is acting. Built by the transport from a verified identity, never from card or message data."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from ..domain.errors import NotAllowed

ActorKind = Literal["contact", "officer", "admin", "system"]


@dataclass(frozen=True)
class Actor:
    kind: ActorKind
    id: int | None = None
    school_id: int | None = None  # a school contact's school
    name: str = ""

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}" if self.id is not None else self.kind

    @property
    def is_officer(self) -> bool:
        return self.kind in ("officer", "admin")

    @classmethod
    def system(cls) -> Actor:
        return cls("system", None, None, "TSM bot")


class _SchoolLike(Protocol):
    id: int | None
    link_officer_id: int | None


def may_act_for(actor: Actor, schools: Iterable[_SchoolLike], officer_id: int | None) -> bool:
    """The one access rule: may ``actor`` act for these schools, whose officer is ``officer_id`` (for a school, its
    link officer; for a meeting, the officer holding it)?

    - admins and the system: always;
    - an officer: only as that officer;
    - school staff: when their school is one of them (so a contact of one school in a trust's joint TSM sees it);
    - anyone else (an unknown kind): never.
    """
    if actor.kind in ("admin", "system"):
        return True
    if actor.kind == "officer":
        return officer_id is not None and officer_id == actor.id
    if actor.kind == "contact":
        return actor.school_id is not None and actor.school_id in {sc.id for sc in schools}
    return False


def check_school(actor: Actor, school: _SchoolLike) -> None:
    """:func:`may_act_for` one school (its link officer), refused with a sentence a person understands."""
    if not may_act_for(actor, (school,), school.link_officer_id):
        raise NotAllowed("That school is not on your list.")


def check_meeting(actor: Actor, schools: Sequence[_SchoolLike], officer_id: int | None) -> None:
    """:func:`may_act_for` a meeting (its schools, the officer holding it), refused with a sentence a person
    understands."""
    if may_act_for(actor, schools, officer_id):
        return
    if actor.kind == "contact":
        raise NotAllowed(
            "That is another school's meeting: you can only see and change your own school's TSMs."
        )
    if actor.kind == "officer":
        raise NotAllowed(
            "That school is not on your list: only its link officer (or an LA admin) can do this."
        )
    raise NotAllowed("Unknown user.")
