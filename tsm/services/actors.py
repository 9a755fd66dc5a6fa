"""Who is acting. Built by the transport from a verified identity, never from card or message data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
