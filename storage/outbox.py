"""The outbox: messages to deliver, written with the decision that caused them. Never commits."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import OutboxItem

# Kinds still delivered to someone who has opted out: the confirmation of that very request.
FINAL_KINDS = ("stop_confirmation", "erase_confirmation")


def enqueue(
    session: AsyncSession,
    *,
    participant_id: int,
    channel: str,
    kind: str,
    text: str,
    choices: tuple[str, ...] = (),
    now: datetime,
) -> OutboxItem:
    """Add one pending outbound message."""
    item = OutboxItem(
        participant_id=participant_id,
        channel=channel,
        kind=kind,
        text=text,
        choices=list(choices),
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(item)
    return item


async def due(session: AsyncSession, now: datetime, limit: int = 200) -> list[OutboxItem]:
    """Pending items due now, at most one per participant: the oldest, so order is kept."""
    earlier = aliased(OutboxItem)
    blocked = (
        select(earlier.id)
        .where(
            and_(
                earlier.participant_id == OutboxItem.participant_id,
                earlier.status.in_(("pending", "sending")),
                earlier.id < OutboxItem.id,
            )
        )
        .exists()
    )
    rows = await session.scalars(
        select(OutboxItem)
        .where(OutboxItem.status == "pending", OutboxItem.next_attempt_at <= now, ~blocked)
        .order_by(OutboxItem.id)
        .limit(limit)
    )
    return list(rows)


async def cancel_pending(session: AsyncSession, participant_id: int) -> None:
    """Drop undelivered messages of a participant (they said stop, or asked to be erased)."""
    await session.execute(
        delete(OutboxItem).where(
            OutboxItem.participant_id == participant_id, OutboxItem.status == "pending"
        )
    )


async def pending_count(session: AsyncSession) -> int:
    """How many messages wait to be delivered."""
    return int(
        await session.scalar(select(func.count()).where(OutboxItem.status == "pending")) or 0
    )


def backoff(attempts: int, retry_after: float | None) -> timedelta:
    """Wait before the next attempt: what the platform asked, else 1, 2, 4 ... up to 300 s."""
    if retry_after is not None:
        return timedelta(seconds=max(retry_after, 0.5))
    return timedelta(seconds=min(2 ** max(attempts - 1, 0), 300))
