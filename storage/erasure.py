"""Erasure of one participant ("delete my data"). Never commits.

Everything about them is deleted at once, except the participant row and its sealed address,
which live until the confirmation "we have deleted everything" is delivered; the sender then
deletes them too (ON DELETE CASCADE removes anything left).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from storage import outbox
from storage.models import (
    Answer,
    AuditEntry,
    Conversation,
    InboxItem,
    Message,
    OutboxItem,
    OutcomeDelivery,
    OutcomeReply,
    Participant,
    SafeguardingAlert,
)


async def erase_content(session: AsyncSession, participant: Participant, now: datetime) -> None:
    """Delete every conversation, message, answer, alert, inbox and pending outbox row of a
    participant (safeguarding signposting still goes out)."""
    pid = participant.id
    for model in (
        SafeguardingAlert, OutcomeReply, OutcomeDelivery, Answer, Message, Conversation, InboxItem,
    ):  # fmt: skip
        await session.execute(delete(model).where(model.participant_id == pid))
    await outbox.cancel_pending(session, pid)
    participant.redaction_state = {}
    participant.consent_research_at = None
    participant.consent_followup = None
    participant.consent_followup_at = None
    participant.erase_requested_at = now
    participant.opted_out_at = now
    # The audit trail records that an erasure happened, never whose.
    session.add(AuditEntry(at=now, actor="participant", action="erase", detail={}))


async def delete_participant(session: AsyncSession, participant_id: int) -> None:
    """The last step of erasure: the participant row, its vault entry and outbox rows."""
    await session.execute(delete(OutboxItem).where(OutboxItem.participant_id == participant_id))
    await session.execute(delete(Participant).where(Participant.id == participant_id))
