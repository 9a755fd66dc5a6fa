"""How many schools each officer holds, against the LA profile's ``officer_capacity`` (issue 13, item 11): read by
the link-officer import, "my schools" and the coverage report."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import select

from ..adapters.db.directory import Officer, School


@dataclass(frozen=True)
class OfficerLoad:
    """How many open schools an officer holds, against the LA profile's ``officer_capacity``."""

    officer_id: int
    name: str
    schools: int
    capacity: int

    @property
    def over(self) -> bool:
        return self.schools > self.capacity

    def warning(self) -> str:
        return (
            f"{self.name} has {self.schools} schools, more than the {self.capacity} one officer can hold TSMs "
            "with in a term (the LA's officer_capacity)"
        )


async def officer_loads(s, la_id: int, capacity: int) -> list[OfficerLoad]:
    """Every active officer of the LA with the number of open schools linked to them (one grouped read)."""
    rows = await s.exec(
        select(Officer.id, Officer.name, func.count(School.id))
        .join(School, (School.link_officer_id == Officer.id) & (School.open == True), isouter=True)  # noqa: E712
        .where(Officer.la_id == la_id, Officer.active == True)  # noqa: E712
        .group_by(Officer.id, Officer.name)
        .order_by(Officer.name)
    )
    return [OfficerLoad(i, name, n, capacity) for i, name, n in rows]
