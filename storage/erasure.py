"""Erasure of one participant ("delete my data"). Never commits.

Everything about them is deleted at once, except the participant row, its sealed address and
messages still to go that must be delivered (the confirmation among them), which live until the
confirmation "we have deleted everything" is delivered; the sender then deletes them too (ON
DELETE CASCADE removes anything left). tests/test_erasure_complete.py walks every table to prove it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
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
    """Delete every conversation, message, answer, alert, inbox and outbox row of a participant,
    except messages still to go that must reach them or staff (``outbox.ALWAYS_DELIVERED``:
    safeguarding signposting, and the erasure confirmation queued next)."""
    pid = participant.id
    for model in (
        SafeguardingAlert, OutcomeReply, OutcomeDelivery, Answer, Message, Conversation, InboxItem,
    ):  # fmt: skip
        await session.execute(delete(model).where(model.participant_id == pid))
    await outbox.cancel_pending(session, pid)
    # What was already sent goes too: our replies to them, and staff alerts quoting their words.
    await session.execute(
        delete(OutboxItem).where(
            OutboxItem.participant_id == pid, OutboxItem.status.not_in(("pending", "sending"))
        )
    )
    participant.redaction_state = {}
    participant.consent_research_at = None
    participant.consent_followup = None
    participant.consent_followup_at = None
    participant.erase_requested_at = now
    participant.opted_out_at = now
    # The audit trail records that an erasure happened, never whose.
    session.add(AuditEntry(at=now, actor="participant", action="erase", detail={}))


async def forget_when_all_sent(session: AsyncSession, participant_id: int) -> bool:
    """The last step of erasure, once nothing is left to send for a participant who asked to be
    erased: the erasure confirmation has gone (or cannot go), and so has any staff alert about
    them still waiting (a safeguarding alert is never dropped because the parent asked to be
    forgotten). True if they were deleted."""
    participant = await session.get(Participant, participant_id)
    if participant is None or participant.erase_requested_at is None:
        return False
    waiting = await session.scalar(
        select(OutboxItem.id)
        .where(
            OutboxItem.participant_id == participant_id,
            OutboxItem.status.in_(("pending", "sending")),
        )
        .limit(1)
    )
    if waiting is not None:
        return False
    await delete_participant(session, participant_id)
    return True


async def delete_participant(session: AsyncSession, participant_id: int) -> None:
    """The last step of erasure: the participant row, its vault entry and outbox rows."""
    await session.execute(delete(OutboxItem).where(OutboxItem.participant_id == participant_id))
    await session.execute(delete(Participant).where(Participant.id == participant_id))
