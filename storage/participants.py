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


async def sealed_address(session: AsyncSession, participant_id: int) -> bytes | None:
    """The encrypted address of a participant (for the sender only)."""
    return (
        await session.execute(
            select(Contact.address_encrypted).where(Contact.participant_id == participant_id)
        )
    ).scalar_one_or_none()
