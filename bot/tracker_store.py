"""Direct housekeeping on Rasa's SQL tracker store: erasure and expiry.

Rasa 3.6 has no API to delete a conversation, so the app deletes rows from Rasa's ``events`` table
itself (the table layout of rasa.core.tracker_store.SQLTrackerStore). Rasa reads the table afresh
on every message, so a deleted sender simply starts from nothing.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError


def _engine(db: Path):  # type: ignore[no-untyped-def]
    return create_engine(f"sqlite:///{db}")


def delete_sender(db: Path, sender_id: str) -> int:
    """Delete every tracker event of one sender; returns the number of rows removed."""
    if not db.exists():
        return 0
    engine = _engine(db)
    try:
        with engine.begin() as conn:
            result = conn.execute(text("DELETE FROM events WHERE sender_id = :s"), {"s": sender_id})
            return int(result.rowcount or 0)
    except OperationalError as exc:
        if _no_table(exc):  # Rasa has not created its table yet: nothing stored
            return 0
        raise
    finally:
        engine.dispose()


def _no_table(exc: OperationalError) -> bool:
    return "no such table" in str(exc.orig)


def purge_older_than(db: Path, cutoff_timestamp: float) -> int:
    """Delete every tracker of a sender whose latest event is older than the cutoff (epoch seconds)."""
    if not db.exists():
        return 0
    engine = _engine(db)
    try:
        with engine.begin() as conn:
            result = conn.execute(
                text(
                    "DELETE FROM events WHERE sender_id IN (SELECT sender_id FROM events "
                    "GROUP BY sender_id HAVING MAX(timestamp) < :cutoff)"
                ),
                {"cutoff": cutoff_timestamp},
            )
            return int(result.rowcount or 0)
    except OperationalError as exc:
        if _no_table(exc):
            return 0
        raise
    finally:
        engine.dispose()


def all_text(db: Path) -> str:
    """Every stored value of the tracker store as one string (tests scan it for personal data)."""
    if not db.exists():
        return ""
    engine = _engine(db)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT * FROM events")).fetchall()
        return "\n".join(" ".join(str(v) for v in row) for row in rows)
    except OperationalError:
        return ""
    finally:
        engine.dispose()
