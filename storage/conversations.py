"""Conversations, messages and answers. Functions take a session and never commit."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Answer, Conversation, Message

if TYPE_CHECKING:
    from bot.insight import Coding

OPEN = ("active", "paused")


async def open_conversation(session: AsyncSession, participant_id: int) -> Conversation | None:
    """The participant's conversation still in progress (active or paused), if any."""
    return (
        await session.execute(
            select(Conversation)
            .where(Conversation.participant_id == participant_id, Conversation.status.in_(OPEN))
            .order_by(Conversation.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def latest_conversation(session: AsyncSession, participant_id: int) -> Conversation | None:
    """The participant's most recent conversation, whatever its status."""
    return (
        await session.execute(
            select(Conversation)
            .where(Conversation.participant_id == participant_id)
            .order_by(Conversation.id.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def start(
    session: AsyncSession,
    *,
    participant_id: int,
    flow_id: str,
    flow_version: int,
    channel: str,
    language: str,
    now: datetime,
) -> Conversation:
    """Create a new active conversation."""
    conversation = Conversation(
        public_id=secrets.token_hex(6),
        participant_id=participant_id,
        flow_id=flow_id,
        flow_version=flow_version,
        channel=channel,
        language=language,
        status="active",
        started_at=now,
        updated_at=now,
    )
    session.add(conversation)
    await session.flush()
    return conversation


def end(conversation: Conversation, status: str, now: datetime) -> None:
    """Close an open conversation with a final status (completed, stopped, declined, restarted,
    expired). A conversation already closed keeps the status it ended with."""
    if conversation.status not in OPEN:
        return
    conversation.status = status
    conversation.ended_at = now
    conversation.updated_at = now


def add_message(
    session: AsyncSession,
    conversation: Conversation,
    *,
    direction: str,
    kind: str,
    text: str,
    question_id: str | None,
    now: datetime,
    platform_id: str | None = None,
) -> Message:
    """Record one redacted message of a conversation."""
    message = Message(
        conversation_id=conversation.id,
        participant_id=conversation.participant_id,
        direction=direction,
        kind=kind,
        text=text,
        question_id=question_id,
        platform_id=platform_id,
        created_at=now,
    )
    session.add(message)
    return message


async def save_answer(
    session: AsyncSession,
    conversation: Conversation,
    question_id: str,
    value: str,
    now: datetime,
    coding: Coding | None = None,
) -> None:
    """Record (or replace) the answer to one question, with its themes and sentiment if coded."""
    answer = await session.scalar(
        select(Answer).where(
            Answer.conversation_id == conversation.id, Answer.question_id == question_id
        )
    )
    if answer is None:
        answer = Answer(
            conversation_id=conversation.id,
            participant_id=conversation.participant_id,
            question_id=question_id,
            value=value,
            created_at=now,
        )
        session.add(answer)
    else:
        answer.value, answer.created_at = value, now
    if coding is not None:
        answer.themes = [[theme, confidence] for theme, confidence in coding.themes]
        answer.sentiment = coding.sentiment
        answer.sentiment_confidence = coding.sentiment_confidence


async def expire_idle(session: AsyncSession, idle_since: datetime, now: datetime) -> int:
    """Close open conversations untouched since ``idle_since``; forget those never consented to."""
    stale = list(
        await session.scalars(
            select(Conversation).where(
                Conversation.status.in_(OPEN), Conversation.updated_at < idle_since
            )
        )
    )
    for conversation in stale:
        if conversation.consented_at is None:
            await forget_content(session, conversation)
        end(conversation, "expired", now)
    return len(stale)


async def forget_content(session: AsyncSession, conversation: Conversation) -> None:
    """Delete what a parent said in a conversation they declined (the row itself stays, for counts)."""
    await session.execute(delete(Message).where(Message.conversation_id == conversation.id))
    await session.execute(delete(Answer).where(Answer.conversation_id == conversation.id))
