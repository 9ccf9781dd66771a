"""Direct housekeeping on Rasa's SQL tracker store: erasure, expiry, and moving a re-keyed
participant's events to their new sender id.

Rasa 3.6 has no API to delete a conversation, so the app deletes rows from Rasa's ``events`` table
itself (the table layout of rasa.core.tracker_store.SQLTrackerStore). Rasa reads the table afresh
on every message, so a deleted sender simply starts from nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from storage.db import sync_url

# Where Rasa keeps its trackers: a SQLite file (one Rasa), or the URL of a PostgreSQL database
# that several Rasa workers share.
TrackerDB = Path | str
T = TypeVar("T")


def _engine(db: TrackerDB):  # type: ignore[no-untyped-def]
    if isinstance(db, Path):
        return create_engine(f"sqlite:///{db}")
    return create_engine(sync_url(db), pool_pre_ping=True)


def _absent(db: TrackerDB) -> bool:
    """True if the SQLite file is not there yet (nothing stored). A database URL is always
    tried: its missing table is caught where it is read."""
    return isinstance(db, Path) and not db.exists()


def _in_transaction(db: TrackerDB, work: Callable[[Connection], T], nothing: T) -> T:
    """``work`` in one transaction on the tracker store, or ``nothing`` if Rasa has stored nothing
    there yet (no file, or no table: Rasa makes it when it starts)."""
    if _absent(db):
        return nothing
    engine = _engine(db)
    try:
        with engine.begin() as conn:
            return work(conn)
    except (OperationalError, ProgrammingError) as exc:
        if _no_table(exc):
            return nothing
        raise
    finally:
        engine.dispose()


def _no_table(exc: OperationalError | ProgrammingError) -> bool:
    """Rasa has not made its table yet (SQLite, PostgreSQL)."""
    message = str(exc.orig)
    return "no such table" in message or 'relation "events" does not exist' in message


def delete_sender(db: TrackerDB, sender_id: str) -> int:
    """Delete every tracker event of one sender; returns the number of rows removed."""
    statement = text("DELETE FROM events WHERE sender_id = :s")
    return _in_transaction(
        db, lambda conn: int(conn.execute(statement, {"s": sender_id}).rowcount or 0), 0
    )


def move_senders(db: TrackerDB, moves: Mapping[str, str]) -> int:
    """Give each old sender id's events to its new one (pseudonym key rotation), in one
    transaction; returns the number of rows moved."""
    statement = text("UPDATE events SET sender_id = :new WHERE sender_id = :old")

    def move(conn: Connection) -> int:
        return sum(
            int(conn.execute(statement, {"old": old, "new": new}).rowcount or 0)
            for old, new in moves.items()
        )

    return _in_transaction(db, move, 0) if moves else 0


def purge_older_than(db: TrackerDB, cutoff_timestamp: float) -> int:
    """Delete every tracker of a sender whose latest event is older than the cutoff (epoch seconds)."""
    statement = text(
        "DELETE FROM events WHERE sender_id IN (SELECT sender_id FROM events "
        "GROUP BY sender_id HAVING MAX(timestamp) < :cutoff)"
    )
    return _in_transaction(
        db, lambda conn: int(conn.execute(statement, {"cutoff": cutoff_timestamp}).rowcount or 0), 0
    )


def all_text(db: TrackerDB) -> str:
    """Every stored value of the tracker store as one string (tests scan it for personal data)."""

    def read(conn: Connection) -> str:
        rows = conn.execute(text("SELECT * FROM events")).fetchall()
        return "\n".join(" ".join(str(v) for v in row) for row in rows)

    return _in_transaction(db, read, "")
