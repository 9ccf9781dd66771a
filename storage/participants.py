"""Participants and the contact vault. Functions take a session and never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Contact, Participant


async def by_pseudonym(
    session: AsyncSession, pseudonym: str, former: Sequence[str] = ()
) -> Participant | None:
    """The participant with this pseudonym or, while the pseudonym key is being rotated, the one
    still known by a pseudonym made with an older key (``former``, newest first)."""
    for candidate in (pseudonym, *former):
        stmt = select(Participant).where(Participant.pseudonym == candidate)
        found = (await session.execute(stmt)).scalar_one_or_none()
        if found is not None:
            return found
    return None


async def get_or_create(
    session: AsyncSession,
    *,
    pseudonym: str,
    channel: str,
    language: str,
    sealed_address: bytes,
    now: datetime,
    former_pseudonyms: Sequence[str] = (),
) -> Participant:
    """Find the participant or create them with their sealed address in the vault.

    A participant found by one of ``former_pseudonyms`` (a key rotation is under way) keeps it
    here; the caller re-keys them with ``rekey``.

    Two app processes can take a new parent's first two messages at once: each inserts with ON
    CONFLICT DO NOTHING (PostgreSQL makes the second wait for the first), then reads the one row.
    """
    participant = await by_pseudonym(session, pseudonym, former_pseudonyms)
    if participant is None:
        await session.execute(
            _insert(session, Participant)
            .values(
                pseudonym=pseudonym,
                channel=channel,
                language=language,
                created_at=now,
                redaction_state={},
            )  # fmt: skip
            .on_conflict_do_nothing(index_elements=["pseudonym"])
        )
        participant = await by_pseudonym(session, pseudonym)
        assert participant is not None
    if await session.get(Contact, participant.id) is None:
        # New, or their address was purged (storage/retention.py) and they have written again.
        await session.execute(
            _insert(session, Contact)
            .values(participant_id=participant.id, address_encrypted=sealed_address, created_at=now)
            .on_conflict_do_nothing(index_elements=["participant_id"])
        )
    participant.last_inbound_at = now
    participant.unreachable_at = None  # they just wrote to us: we can reach them again
    return participant


async def rekey(
    session: AsyncSession, participant_id: int, old: str, new: str, now: datetime
) -> bool:
    """Replace a participant's pseudonym ``old`` by ``new`` (made with the current key); True if
    this call did. Conditional, so that the command and an inbound message re-keying the same
    parent at once change the row once. Not while a process holds their lease: it is asking Rasa
    about them under the old sender id right now (their next message, or the next run, does it).
    """
    result = await session.execute(
        update(Participant)
        .where(
            Participant.id == participant_id,
            Participant.pseudonym == old,
            or_(Participant.processing_until.is_(None), Participant.processing_until < now),
        )
        .values(pseudonym=new)
        .execution_options(synchronize_session="fetch")  # a loaded Participant sees ``new``
    )
    return bool(getattr(result, "rowcount", 0))


def _insert(session: AsyncSession, model: type[Participant] | type[Contact]) -> Any:
    """INSERT for this database, with ON CONFLICT (PostgreSQL's or SQLite's)."""
    bind = session.bind
    dialect = bind.dialect.name if bind is not None else "sqlite"
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(model)


async def claim(
    session: AsyncSession, participant_id: int, instance: str, now: datetime, lease: timedelta
) -> bool:
    """Take the lease on answering this participant: True if no other process holds it (or
    theirs has run out, as when a process dies mid-way)."""
    result = await session.execute(
        update(Participant)
        .where(
            Participant.id == participant_id,
            or_(
                Participant.processing_until.is_(None),
                Participant.processing_until < now,
                Participant.processing_by == instance,
            ),
        )
        .values(processing_by=instance, processing_until=now + lease)
    )
    return bool(getattr(result, "rowcount", 0))


async def release(session: AsyncSession, participant_id: int, instance: str) -> None:
    """Give the lease back (only our own)."""
    await session.execute(
        update(Participant)
        .where(Participant.id == participant_id, Participant.processing_by == instance)
        .values(processing_by=None, processing_until=None)
    )


async def for_sending(
    session: AsyncSession, participant_ids: list[int]
) -> dict[int, tuple[Participant, bytes | None]]:
    """Participants with their sealed addresses, in one query (the sender reads a whole pass)."""
    if not participant_ids:
        return {}
    rows = await session.execute(
        select(Participant, Contact.address_encrypted)
        .outerjoin(Contact, Contact.participant_id == Participant.id)
        .where(Participant.id.in_(set(participant_ids)))
    )
    return {participant.id: (participant, sealed) for participant, sealed in rows.tuples()}
