"""Housekeeping on Rasa's tracker store: erasure by sender and expiry by age (real SQLite file,
the table as Rasa 3.6's SQLTrackerStore creates it)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot import tracker_store


def _make_store(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, "
            "type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), "
            "action_name VARCHAR(255), data TEXT)"
        )
        rows = [
            ("old-sender", "user", 1_000.0, '{"text": "[PERSON_1] was lovely"}'),
            ("old-sender", "bot", 1_005.0, '{"text": "thanks"}'),
            ("new-sender", "user", 1_000.0, '{"text": "hello"}'),
            ("new-sender", "user", 9_000.0, '{"text": "still here"}'),
            ("erased", "user", 9_000.0, '{"text": "delete my data"}'),
        ]
        db.executemany(
            "INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, ?, ?, ?)", rows
        )


def test_delete_sender_and_purge_by_last_activity(tmp_path: Path) -> None:
    store = tmp_path / "rasa-tracker.db"
    _make_store(store)
    assert tracker_store.delete_sender(store, "erased") == 1
    # new-sender's first event is old, but its latest is recent: the whole tracker is kept.
    assert tracker_store.purge_older_than(store, cutoff_timestamp=5_000.0) == 2
    remaining = tracker_store.all_text(store)
    assert "new-sender" in remaining and "old-sender" not in remaining and "erased" not in remaining


def test_missing_store_or_table_is_not_an_error(tmp_path: Path) -> None:
    assert tracker_store.delete_sender(tmp_path / "none.db", "x") == 0
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    assert tracker_store.purge_older_than(empty, 1.0) == 0
    assert tracker_store.all_text(empty) == ""
