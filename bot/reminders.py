"""The one gentle reminder to a parent who stopped part-way through a conversation.

Worked out from stored state on every pass (``Conversation.reminded_at`` marks the one sent), so
nothing is lost on a restart and no one is reminded twice. Who is reminded: a parent who agreed
to take part (the first question), paused or went quiet at least ``after`` ago, has not said STOP
or asked to be erased, did not say no to being messaged later, and is still reachable. Never
inside quiet hours: a pass then does nothing, and the first pass after them sends what is due.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.quiet_hours import QuietHours
from storage import conversations, outbox
from storage.models import Conversation, Participant

OUTBOX_KIND = "reminder"
BATCH = 500  # conversations per pass; the next pass takes the rest


async def send_due(
    session: AsyncSession,
    *,
    now: datetime,
    after: timedelta,
    quiet: QuietHours,
    text_for: Callable[[Participant, Conversation], str],
) -> int:
    """Queue the reminders due now, marking each conversation; returns how many were queued."""
    if quiet.contains(now):
        return 0
    rows = await session.execute(
        select(Conversation, Participant)
        .join(Participant, Participant.id == Conversation.participant_id)
        .where(
            Conversation.status.in_(conversations.OPEN),
            Conversation.reminded_at.is_(None),
            Conversation.consented_at.is_not(None),
            Conversation.updated_at <= now - after,
            Participant.opted_out_at.is_(None),
            Participant.erase_asked_at.is_(None),
            Participant.erase_requested_at.is_(None),
            Participant.unreachable_at.is_(None),
            Participant.consent_followup.is_not(False),
        )
        .order_by(Conversation.updated_at)
        .limit(BATCH)
    )
    count = 0
    for conversation, participant in rows.tuples():
        conversation.reminded_at = now
        outbox.enqueue(
            session,
            participant_id=participant.id,
            channel=participant.channel,
            kind=OUTBOX_KIND,
            text=text_for(participant, conversation),
            now=now,
        )
        count += 1
    return count
