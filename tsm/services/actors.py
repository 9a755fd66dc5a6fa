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
    la_id: int | None = None  # the LA the person belongs to (an officer's LA, a contact's school's LA)
    national: bool = False  # a national admin: may see every LA's reports (acts only in their own LA)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}" if self.id is not None else self.kind

    @property
    def is_officer(self) -> bool:
        return self.kind in ("officer", "admin")

    @property
    def is_operator(self) -> bool:
        """The operator at the command line (``tsm`` without ``--as``): an admin who is no person. It is not built from
        anything a channel sends; every LA is theirs (they hold the database)."""
        return self.kind == "admin" and self.id is None

    @classmethod
    def system(cls) -> Actor:
        return cls("system", None, None, "TSM bot")

    @classmethod
    def operator(cls) -> Actor:
        return cls("admin", None, None, "cli")


class _OfficerLike(Protocol):
    id: int | None
    name: str
    la_id: int
    is_admin: bool
    national_admin: bool


def officer_actor(o: _OfficerLike) -> Actor:
    """An officer as the actor every channel's resolver builds (Teams, the CLI's ``--as``, the web page): an LA admin
    when ``is_admin``, with their LA, a national admin when granted."""
    return Actor("admin" if o.is_admin else "officer", o.id, None, o.name, o.la_id, bool(o.national_admin))


def contact_actor(contact_id: int | None, school_id: int, name: str, la_id: int) -> Actor:
    """A school contact as the actor every channel's resolver builds, with their school's LA."""
    return Actor("contact", contact_id, school_id, name, la_id)


# What an officer or LA admin is told about another LA's school or meeting: nothing of it (not even its name).
ANOTHER_LA = "That school is in another LA: you can only see and act for your own LA's schools."


class _SchoolLike(Protocol):
    id: int | None
    la_id: int
    link_officer_id: int | None


def in_la(actor: Actor, la_id: int | None) -> bool:
    """Whether ``la_id`` is within the actor's LA: the operator and the system everywhere, a person only in their own
    LA (a person whose LA is not known: nowhere)."""
    if actor.kind == "system" or actor.is_operator:
        return True
    return actor.la_id is not None and la_id == actor.la_id


def may_act_for(actor: Actor, schools: Iterable[_SchoolLike], officer_id: int | None) -> bool:
    """The one access rule: may ``actor`` act for these schools, whose officer is ``officer_id`` (for a school, its
    link officer; for a meeting, the officer holding it)?

    - the system and the operator at the command line: always;
    - an LA admin: for schools of their own LA only (a national admin too: seeing every LA's reports is
      :func:`may_report_on`, not acting);
    - an officer: only as that officer, and (their LA known, as every channel's resolver gives it) only for schools
      of their LA;
    - school staff: when their school is one of them (so a contact of one school in a trust's joint TSM sees it);
    - anyone else (an unknown kind): never.
    """
    if actor.kind == "system" or actor.is_operator:
        return True
    schools = list(schools)
    if actor.kind == "admin":
        return bool(schools) and all(in_la(actor, sc.la_id) for sc in schools)
    if actor.kind == "officer":
        return (
            officer_id is not None
            and officer_id == actor.id
            and (actor.la_id is None or all(sc.la_id == actor.la_id for sc in schools))
        )
    if actor.kind == "contact":
        return actor.school_id is not None and actor.school_id in {sc.id for sc in schools}
    return False


def may_report_on(actor: Actor, la_id: int | None) -> bool:
    """Whether ``actor`` may see the reports of LA ``la_id`` (None: every LA at once): a national admin and the
    operator any LA and all of them; an LA admin and an officer their own LA only (an officer: their own schools,
    which :mod:`tsm.services.reports` narrows to); school staff none."""
    if actor.kind == "system" or actor.is_operator or (actor.national and actor.kind in ("officer", "admin")):
        return True
    if actor.kind not in ("officer", "admin"):
        return False
    return la_id is not None and in_la(actor, la_id)


def elsewhere(actor: Actor, schools: Iterable[_SchoolLike]) -> bool:
    """Whether an officer or LA admin of a known LA is asking about a school of another LA (the refusal then says so,
    and nothing of that school)."""
    return (
        actor.kind in ("officer", "admin")
        and actor.la_id is not None
        and any(sc.la_id != actor.la_id for sc in schools)
    )


def check_school(actor: Actor, school: _SchoolLike) -> None:
    """:func:`may_act_for` one school (its link officer), refused with a sentence a person understands."""
    if not may_act_for(actor, (school,), school.link_officer_id):
        if elsewhere(actor, (school,)):
            raise NotAllowed(ANOTHER_LA)
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
    if elsewhere(actor, schools):
        raise NotAllowed(ANOTHER_LA)
    if actor.kind == "officer":
        raise NotAllowed(
            "That school is not on your list: only its link officer (or an LA admin) can do this."
        )
    raise NotAllowed("Unknown user.")
