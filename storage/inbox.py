"""The inbox: every inbound delivery recorded before it is acknowledged. Never commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import InboxItem


async def seen(session: AsyncSession, channel: str, platform_id: str) -> bool:
    """True if this delivery was already recorded (a replay)."""
    found = await session.scalar(
        select(InboxItem.id).where(
            InboxItem.channel == channel, InboxItem.platform_id == platform_id
        )
    )
    return found is not None


def record(
    session: AsyncSession,
    *,
    participant_id: int,
    channel: str,
    platform_id: str,
    kind: str,
    text: str,
    safeguarding: str | None,
    now: datetime,
) -> InboxItem:
    """Add a pending inbox item (its text is already redacted)."""
    item = InboxItem(
        participant_id=participant_id,
        channel=channel,
        platform_id=platform_id,
        kind=kind,
        text=text,
        safeguarding=safeguarding,
        status="pending",
        attempts=0,
        received_at=now,
    )
    session.add(item)
    return item


async def pending_for(session: AsyncSession, participant_id: int) -> list[int]:
    """One participant's unanswered items, oldest first: processed in order, never overtaken."""
    rows = await session.scalars(
        select(InboxItem.id)
        .where(InboxItem.participant_id == participant_id, InboxItem.status == "pending")
        .order_by(InboxItem.id)
    )
    return list(rows)


async def waiting_since(session: AsyncSession, cutoff: datetime) -> list[int]:
    """Participants with a message pending since ``cutoff`` or before, not yet told it waits."""
    rows = await session.scalars(
        select(InboxItem.participant_id)
        .where(InboxItem.status == "pending")
        .group_by(InboxItem.participant_id)
        .having(func.min(InboxItem.received_at) <= cutoff)
        .having(func.count(InboxItem.held_notice_at) == 0)
    )
    return list(rows)


async def mark_held_notice(session: AsyncSession, participant_id: int, now: datetime) -> bool:
    """Note that this participant has been told their pending messages are waiting. False if
    another process got there first (its UPDATE holds the rows; ours then finds none unmarked)."""
    result = await session.execute(
        update(InboxItem)
        .where(
            InboxItem.participant_id == participant_id,
            InboxItem.status == "pending",
            InboxItem.held_notice_at.is_(None),
        )
        .values(held_notice_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


def done(item: InboxItem, now: datetime) -> None:
    """Mark an item answered. Its text is dropped: the messages table is the one record."""
    item.status = "done"
    item.text = ""
    item.processed_at = now
