"""Persistence: SQLModel tables, the engine, and the unit of work used by the services.

The tables are grouped by what they hold (the schema itself is made only by the Alembic migrations in
``tsm/migrations``; which migration created a table does not decide where it lives):

- ``directory``: who and what an LA's data describes: the LA, officers, schools, school contacts, trusts, terms
  and their breaks;
- ``meetings``: a meeting and what hangs on it: its schools, attendees, status changes, the officer's time it
  holds (``officer_block``, ``officer_day_load``) and the "senior leader can't attend" mark;
- ``history``: what happened: domain events (turned into notifications) and the audit log;
- ``delivery``: what reaches people: the delivery ledger (``outbound``; officers' notices are domain events now);
- ``teams``: the Teams channel's own state: conversation references, activities already handled, files served;
- ``calendars``: officers' calendars and keeping them in step: the local calendar's events, the calendar outbox,
  Graph subscriptions and delta-sweep state;
- ``offers``: the times a card offered, kept server-side (``chat_offer``);
- ``signin``: the web page's single-use sign-in links and the sessions they open (hashes only);
- ``tenants``: the Microsoft 365 tenants allowed to talk to the bot, each tied to the LA, a trust or a school;
- ``feedback``: what comes out of a TSM: evaluations, receipts, the TSM record and its actions;
- ``columns``: the column types they share (UTC timestamps).

``engine`` is the database and its transactions; ``migrate`` runs the migrations.
"""
