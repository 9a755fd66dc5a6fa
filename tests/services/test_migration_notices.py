"""Migration 0010: officers' unseen notices are carried over as undispatched domain events (so the officer is sent
them once through the ledger); seen ones go with the table."""

from __future__ import annotations

import sqlite3

from tsm.adapters.db.migrate import upgrade


def test_unseen_officer_notices_become_events_and_seen_ones_go(tmp_path):
    path = tmp_path / "old.db"
    url = f"sqlite:///{path}"
    upgrade(url, "0009")
    with sqlite3.connect(path) as con:
        con.executemany(
            "INSERT INTO officer_notice (officer_id, meeting_id, kind, text, created_at, seen_at) VALUES (?,?,?,?,?,?)",
            [
                (
                    1,
                    7,
                    "calendar_failed",
                    "The TSM could not be added to your Outlook calendar",
                    "2026-11-30 10:00:00",
                    None,
                ),
                (1, 8, "deleted_in_outlook", "The TSM was deleted in Outlook", "2026-11-30 11:00:00", None),
                (1, 9, "move_refused", "Shown already", "2026-11-29 09:00:00", "2026-11-29 10:00:00"),
            ],
        )
    upgrade(url)
    with sqlite3.connect(path) as con:
        rows = con.execute(
            "SELECT kind, meeting_id, actor, at, json_extract(data, '$.notice'), "
            "json_extract(data, '$.text'), dispatched_at FROM domain_event ORDER BY meeting_id"
        ).fetchall()
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert rows == [
        (
            "calendar_failed",
            7,
            "system:outlook",
            "2026-11-30 10:00:00.000000",
            "calendar_failed",
            "The TSM could not be added to your Outlook calendar",
            None,
        ),
        (
            "outlook_change",
            8,
            "system:outlook",
            "2026-11-30 11:00:00.000000",
            "deleted_in_outlook",
            "The TSM was deleted in Outlook",
            None,
        ),
    ]
    assert "officer_notice" not in tables
