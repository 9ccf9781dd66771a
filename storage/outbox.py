"""The outbox: messages to deliver, written with the decision that caused them. Never commits."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from storage.models import OutboxItem

# Delivered even to someone who has opted out: help in a crisis, and the answers to their own
# stop or erasure request. Never cancelled by a later STOP or erasure either.
ALWAYS_DELIVERED = (
    "safeguarding", "stop_confirmation", "erase_question", "erase_confirmation", "keyword_reply",
    "staff_alert",
)  # fmt: skip
# A row claimed for sending that has not settled within this time is taken to have been lost
# (the process died, or its settle failed) and becomes due again.
SENDING_LEASE = timedelta(minutes=2)


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


async def due(session: AsyncSession, now: datetime, limit: int = 500) -> list[OutboxItem]:
    """Items due now, at most one per participant and channel: the oldest, so order is kept. A row whose
    sending lease ran out counts as due again."""
    earlier = aliased(OutboxItem)
    blocked = (
        select(earlier.id)
        .where(
            and_(
                earlier.participant_id == OutboxItem.participant_id,
                # A staff notification never waits for the parent's replies, nor they for it.
                earlier.channel == OutboxItem.channel,
                earlier.status.in_(("pending", "sending")),
                earlier.id < OutboxItem.id,
            )
        )
        .exists()
    )
    rows = await session.scalars(
        select(OutboxItem)
        .where(
            OutboxItem.status.in_(("pending", "sending")),
            OutboxItem.next_attempt_at <= now,
            ~blocked,
        )
        .order_by(OutboxItem.id)
        .limit(limit)
        # Several app processes on PostgreSQL: each claims different rows, none waits for another.
        # (SQLite, the single-process default, renders no FOR UPDATE.)
        .with_for_update(skip_locked=True, of=OutboxItem)
    )
    return list(rows)


async def cancel_pending(session: AsyncSession, participant_id: int) -> None:
    """Drop undelivered messages of a participant (they said stop, or asked to be erased), except
    those that must always reach them (safeguarding signposting)."""
    await session.execute(
        delete(OutboxItem).where(
            OutboxItem.participant_id == participant_id,
            OutboxItem.status == "pending",
            OutboxItem.kind.not_in(ALWAYS_DELIVERED),
        )
    )


def claim(item: OutboxItem, now: datetime, claimant: str) -> None:
    """Mark an item as being sent by ``claimant``, with a lease after which it is due again."""
    item.status = "sending"
    item.claimed_by = claimant
    item.next_attempt_at = now + SENDING_LEASE


def backoff(attempts: int, retry_after: float | None, jitter: float = 0.0) -> timedelta:
    """Wait before the next attempt: what the platform asked, else 1, 2, 4 ... up to 300 s; plus
    up to 25% ``jitter`` (0..1) so that many messages held back together do not retry together."""
    base = max(retry_after, 0.5) if retry_after is not None else min(2 ** max(attempts - 1, 0), 300)
    return timedelta(seconds=base * (1 + 0.25 * jitter))


# Later in a message's life is higher. A failure outranks "sent" but not "delivered": a late
# "failed" for a message the phone already confirmed is a platform hiccup, not news.
_STATUS_RANK = {"accepted": 0, "scheduled": 0, "queued": 0, "sending": 1, "sent": 2,
                "undelivered": 3, "failed": 3, "delivered": 4, "read": 5}  # fmt: skip


async def record_delivery_status(
    session: AsyncSession,
    platform_message_id: str,
    status: str,
    error_code: int | None,
    now: datetime,
) -> OutboxItem | None:
    """Record a platform's report on a message we sent; a repeat or an older report changes
    nothing. Returns the message, or None if it is not ours (or was erased since)."""
    item = (
        await session.execute(
            select(OutboxItem).where(OutboxItem.platform_message_id == platform_message_id)
        )
    ).scalar_one_or_none()
    if item is None:
        return None
    rank = _STATUS_RANK.get(status)
    if rank is None:
        return item
    if item.delivery_status is None or rank > _STATUS_RANK.get(item.delivery_status, -1):
        item.delivery_status, item.delivery_status_at = status, now
        if error_code is not None:
            item.delivery_error_code = error_code
    return item
