"""Filling the outbox for sender tests and benchmarks: synthetic participants, each with a sealed
address in the vault and messages waiting to go."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.vault import Vault
from storage import outbox
from storage.models import Contact, Participant


def drama_number(n: int) -> str:
    """A synthetic UK mobile from Ofcom's range for drama (07700 900000-900999)."""
    return f"+447700900{n % 1000:03d}"


async def queue_messages(
    sessions: async_sessionmaker[AsyncSession],
    *,
    vault: Vault,
    participants: int,
    each: int,
    channel: str,
    address: Callable[[int], str],
    text: Callable[[int, int], str],
    now: datetime,
) -> None:
    """``participants`` people on ``channel``, each with ``each`` messages pending, in one transaction."""
    async with sessions.begin() as session:
        for p in range(participants):
            participant = Participant(
                pseudonym=uuid.uuid4().hex * 2,
                channel=channel,
                language="en",
                created_at=now,
                redaction_state={},
            )
            participant.contact = Contact(address_encrypted=vault.seal(address(p)), created_at=now)
            session.add(participant)
            await session.flush()
            for n in range(each):
                outbox.enqueue(
                    session,
                    participant_id=participant.id,
                    channel=channel,
                    kind="reply",
                    text=text(p, n),
                    now=now,
                )
