"""Participants and the contact vault. Functions take a session and never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Contact, Participant


async def by_pseudonym(session: AsyncSession, pseudonym: str) -> Participant | None:
    """The participant with this pseudonym, if any."""
    stmt = select(Participant).where(Participant.pseudonym == pseudonym)
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_or_create(
    session: AsyncSession,
    *,
    pseudonym: str,
    channel: str,
    language: str,
    sealed_address: bytes,
    now: datetime,
) -> Participant:
    """Find the participant or create them with their sealed address in the vault."""
    participant = await by_pseudonym(session, pseudonym)
    if participant is None:
        participant = Participant(
            pseudonym=pseudonym,
            channel=channel,
            language=language,
            created_at=now,
            redaction_state={},
        )
        participant.contact = Contact(address_encrypted=sealed_address, created_at=now)
        session.add(participant)
        await session.flush()
    participant.last_inbound_at = now
    participant.unreachable_at = None  # they just wrote to us: we can reach them again
    return participant


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
