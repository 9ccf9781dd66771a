"""Retention: transcripts are kept for a set time, and a parent's address only while it is needed.
Never commits.

- A conversation that ended more than ``transcript_days`` ago is deleted with its messages and
  answers. Safeguarding alerts stay (they are staff's record of what was done), detached from it.
- A sealed address is deleted once nothing needs it:
  - without follow-up consent (never given, withdrawn, or STOP), as soon as the parent has
    nothing in progress: no open conversation, no message waiting to be sent, and nothing
    heard from them for ``idle_days`` (a "thanks" soon after finishing still gets its reply);
  - with follow-up consent, ``followup_days`` after the last message heard from them, by which
    time the outcomes they agreed to hear about have gone.

A parent who writes again afterwards is known by their pseudonym, and their address is stored
again (storage/participants.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.conversations import OPEN
from storage.models import (
    Answer,
    Contact,
    Conversation,
    Message,
    OutboxItem,
    Participant,
    SafeguardingAlert,
)


@dataclass(frozen=True)
class Retained:
    """What one pass removed."""

    conversations: int
    contacts: int


async def apply(
    session: AsyncSession,
    now: datetime,
    *,
    transcript_days: int,
    idle_days: int,
    followup_days: int,
) -> Retained:
    """One retention pass; 0 days for transcripts keeps them for ever."""
    removed = 0
    if transcript_days > 0:
        old = select(Conversation.id).where(
            Conversation.status.not_in(OPEN),
            Conversation.ended_at.is_not(None),
            Conversation.ended_at < now - timedelta(days=transcript_days),
        )
        ids = list(await session.scalars(old))
        if ids:
            await session.execute(
                update(SafeguardingAlert)
                .where(SafeguardingAlert.conversation_id.in_(ids))
                .values(conversation_id=None)
            )
            for model in (Answer, Message):
                await session.execute(delete(model).where(model.conversation_id.in_(ids)))
            await session.execute(delete(Conversation).where(Conversation.id.in_(ids)))
        removed = len(ids)

    in_progress = exists().where(
        Conversation.participant_id == Participant.id, Conversation.status.in_(OPEN)
    )
    waiting = exists().where(
        OutboxItem.participant_id == Participant.id, OutboxItem.status.in_(("pending", "sending"))
    )
    heard = func.coalesce(Participant.last_inbound_at, Participant.created_at)
    no_consent = or_(
        Participant.consent_followup.is_not(True), Participant.opted_out_at.is_not(None)
    )
    done_with = select(Participant.id).where(
        ~in_progress,
        ~waiting,
        or_(
            and_(no_consent, heard < now - timedelta(days=idle_days)),
            heard < now - timedelta(days=followup_days),
        ),
    )
    result = await session.execute(delete(Contact).where(Contact.participant_id.in_(done_with)))
    return Retained(conversations=removed, contacts=int(getattr(result, "rowcount", 0) or 0))
