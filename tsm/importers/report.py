"""What an import did: the one report every importer returns (and the CLI prints)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ImportReport:
    """Counts of what was written, and the rows that were not, as (line number, message).

    ``ok`` counts every item accepted, ``created`` and ``updated`` the ones that changed the
    database (so ``ok - created - updated`` were already up to date). Line 0 means an error
    that belongs to no one line of the input (e.g. a clash with data already stored).
    """

    ok: int = 0
    created: int = 0
    updated: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the import did besides its rows, in a sentence each

    @property
    def unchanged(self) -> int:
        return self.ok - self.created - self.updated

    def error(self, line: int, message: str) -> None:
        self.errors.append((line, message))

    def summary(self, what: str = "rows") -> str:
        head = (
            f"{self.ok} {what} imported ({self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged)"
        )
        notes = [f"  note: {n}" for n in self.notes]
        if not self.errors:
            return "\n".join([f"{head}; no errors", *notes])
        n = len(self.errors)
        lines = [f"{head}; {n} error{'' if n == 1 else 's'}:"]
        for line, message in sorted(self.errors, key=lambda e: e[0]):
            lines.append(f"  line {line}: {message}" if line else f"  {message}")
        return "\n".join([*lines, *notes])
