"""Who is acting. Built by the transport from a verified identity, never from card or message data."""

from __future__ import annotations

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


def check_school(actor: Actor, school: _SchoolLike) -> None:
    """Whether ``actor`` may act for ``school``: admins and the system for all, an officer for the schools on
    their list, school staff for their own school. The one rule the directory and the conversations share."""
    if actor.kind in ("admin", "system"):
        return
    if actor.kind == "officer" and school.link_officer_id == actor.id:
        return
    if actor.kind == "contact" and actor.school_id == school.id:
        return
    raise NotAllowed("That school is not on your list.")
