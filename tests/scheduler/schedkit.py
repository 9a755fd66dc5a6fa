"""The scheduler's test world: the jobs, the ledger and the booking service on one database and a fixed clock,
without the APScheduler service (the scheduler tests, and the tests of other parts that drive its sweeps)."""

from __future__ import annotations

from datetime import timedelta

from fakes.messenger import ScriptedMessenger

from scheduler.jobs import Jobs, JobSettings
from scheduler.ledger import Ledger
from tsm.adapters.calendar_local import LocalCalendar
from tsm.adapters.db.engine import Database
from tsm.clock import FixedClock
from tsm.services.booking import BookingService
from tsm.services.calendar_sync import CalendarSync
from tsm.services.reference import ReferenceData


class Env:
    def __init__(
        self, db: Database, clock: FixedClock, messenger: ScriptedMessenger, worker: str = "w1"
    ) -> None:
        cal = LocalCalendar(db)
        self.db, self.clock, self.messenger = db, clock, messenger
        self.ref = ReferenceData(db)
        self.booking = BookingService(db, cal, self.ref, clock=clock, sync=CalendarSync(db, cal, clock=clock))
        self.ledger = Ledger(db, worker, clock=clock, lease=timedelta(minutes=5))
        self.jobs = Jobs(
            db=db,
            messenger=messenger,
            booking=self.booking,
            reference=self.ref,
            ledger=self.ledger,
            clock=clock,
            settings=JobSettings(),
        )

    def restart(self, worker: str = "w1") -> Env:
        """A new process on the same database: nothing survives but the database."""
        return Env(self.db, self.clock, self.messenger, worker)
