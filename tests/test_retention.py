"""Retention (storage/retention.py), on SQLite and PostgreSQL: old transcripts go, safeguarding
alerts stay; an address goes once nothing needs it, and comes back if the parent writes again."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.vault import Vault
from storage import outbox, participants, retention
from storage.db import make_engine, make_sessionmaker
from storage.models import (
    Answer,
    Contact,
    Conversation,
    Message,
    Participant,
    SafeguardingAlert,
)
from tests.databases import migrated_database

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
VAULT = Vault(b"ZGV2LW9ubHktdmF1bHQta2V5LWNoYW5nZS1tZS0wMDA=")
KEEP = {"transcript_days": 730, "idle_days": 7, "followup_days": 365}


@pytest.fixture(params=["sqlite", "postgresql"])
async def sessions(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with migrated_database(request.param, tmp_path, "retention") as url:
        engine = make_engine(url)
        yield make_sessionmaker(engine)
        await engine.dispose()


async def parent(
    session: AsyncSession,
    *,
    heard_days_ago: float,
    status: str = "completed",
    followup: bool | None = None,
    ended_days_ago: float | None = None,
    **state: datetime,
) -> int:
    """A synthetic parent with one conversation (a message, an answer) and a sealed address."""
    heard = NOW - timedelta(days=heard_days_ago)
    person = Participant(
        pseudonym=uuid.uuid4().hex * 2, channel="sms", language="en", created_at=heard,
        last_inbound_at=heard, redaction_state={}, consent_followup=followup, **state,
    )  # fmt: skip
    person.contact = Contact(address_encrypted=VAULT.seal("+447700900123"), created_at=heard)
    session.add(person)
    await session.flush()
    ended = (
        None if status in retention.OPEN else NOW - timedelta(days=ended_days_ago or heard_days_ago)
    )
    conversation = Conversation(
        public_id=uuid.uuid4().hex[:16], participant_id=person.id, flow_id="hcp_experience",
        flow_version=1, channel="sms", language="en", status=status, current_question=None,
        started_at=heard, updated_at=heard, ended_at=ended,
    )  # fmt: skip
    session.add(conversation)
    await session.flush()
    session.add(Message(conversation_id=conversation.id, participant_id=person.id, direction="in",
                        kind="text", text="the clinic was lovely", created_at=heard))  # fmt: skip
    session.add(Answer(conversation_id=conversation.id, participant_id=person.id,
                       question_id="went_well", value="the clinic was lovely", created_at=heard))  # fmt: skip
    return person.id


async def count(session: AsyncSession, model: type, **where: object) -> int:
    query = select(func.count()).select_from(model)
    for column, value in where.items():
        query = query.where(getattr(model, column) == value)
    return int(await session.scalar(query) or 0)


async def test_old_transcripts_go_and_their_safeguarding_alerts_stay(sessions) -> None:  # type: ignore[no-untyped-def]
    async with sessions.begin() as session:
        old = await parent(session, heard_days_ago=800)
        recent = await parent(session, heard_days_ago=400)
        conversation_id = await session.scalar(
            select(Conversation.id).where(Conversation.participant_id == old)
        )
        session.add(SafeguardingAlert(
            participant_id=old, conversation_id=conversation_id, category="self_harm",
            categories=["self_harm"], redacted_text="(synthetic)", created_at=NOW - timedelta(days=800),
        ))  # fmt: skip
    async with sessions.begin() as session:
        gone = await retention.apply(session, NOW, **KEEP)
    assert gone.conversations == 1
    async with sessions() as session:
        for model in (Conversation, Message, Answer):
            assert await count(session, model, participant_id=old) == 0, model
            assert await count(session, model, participant_id=recent) == 1, model
        alert = await session.scalar(select(SafeguardingAlert))
        assert alert is not None and alert.conversation_id is None  # kept, detached
    async with sessions.begin() as session:  # 0 keeps transcripts for ever
        assert (
            await retention.apply(session, NOW, **KEEP | {"transcript_days": 0})
        ).conversations == 0


async def test_an_address_goes_once_nothing_needs_it(sessions) -> None:  # type: ignore[no-untyped-def]
    async with sessions.begin() as session:
        ids = {
            # No follow-up consent: kept a week after the last message, then gone.
            "finished_no_followup_8_days": await parent(session, heard_days_ago=8, followup=False),
            "finished_no_followup_2_days": await parent(session, heard_days_ago=2, followup=False),
            "stopped_8_days": await parent(
                session, heard_days_ago=8, followup=True, opted_out_at=NOW - timedelta(days=8)
            ),  # fmt: skip
            # Follow-up consent: kept for outcomes for a year.
            "followup_200_days": await parent(session, heard_days_ago=200, followup=True),
            "followup_400_days": await parent(session, heard_days_ago=400, followup=True),
            # Something in progress keeps it whatever the dates say.
            "paused_30_days": await parent(session, heard_days_ago=30, status="paused"),
            "reply_waiting": await parent(session, heard_days_ago=30, followup=False),
        }
        person = await session.get(Participant, ids["reply_waiting"])
        assert person is not None
        outbox.enqueue(session, participant_id=person.id, channel="sms", kind="reply",
                       text="(synthetic)", choices=(), now=NOW)  # fmt: skip
    async with sessions.begin() as session:
        gone = await retention.apply(session, NOW, **KEEP)
    async with sessions() as session:
        kept = {name for name, pid in ids.items() if await session.get(Contact, pid) is not None}
    assert kept == {"finished_no_followup_2_days", "followup_200_days", "paused_30_days",
                    "reply_waiting"}  # fmt: skip
    assert gone.contacts == 3

    # Writing again: known by their pseudonym, and their address is kept again.
    async with sessions.begin() as session:
        person = await session.get(Participant, ids["finished_no_followup_8_days"])
        assert person is not None
        await participants.get_or_create(
            session, pseudonym=person.pseudonym, channel="sms", language="en",
            sealed_address=VAULT.seal("+447700900123"), now=NOW,
        )  # fmt: skip
    async with sessions() as session:
        contact = await session.get(Contact, ids["finished_no_followup_8_days"])
        assert contact is not None and VAULT.open(contact.address_encrypted) == "+447700900123"
        assert await count(session, Participant) == len(ids)  # not a new participant
