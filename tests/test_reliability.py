"""Delivery and dialogue stay correct when things go wrong part-way."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.errors import ConfigError
from bot.pipeline import _for_rasa
from bot.rasa import BotTurn, RasaClient
from bot.sender import RateLimiter
from storage import conversations, erasure, outbox
from storage.db import make_engine, make_sessionmaker, migrate
from storage.models import Conversation, Message, OutboxItem, Participant
from tests.harness import RunningApp

NOW = datetime(2026, 3, 10, 2, 14, tzinfo=UTC)


async def _participant(session: AsyncSession, letter: str) -> Participant:
    participant = Participant(
        pseudonym=letter * 64, channel="web", language="en", created_at=NOW, redaction_state={}
    )
    session.add(participant)
    await session.flush()
    return participant


async def _conversation(
    session: AsyncSession, participant: Participant, now: datetime
) -> Conversation:
    return await conversations.start(
        session,
        participant_id=participant.id,
        flow_id="f",
        flow_version=1,
        channel="web",
        language="en",
        now=now,
    )


@pytest.fixture
async def sessions(tmp_path: Path):  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'r.db'}"
    await asyncio.to_thread(migrate, url)
    engine = make_engine(url)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def test_a_row_stuck_in_sending_comes_back_after_its_lease(sessions) -> None:  # type: ignore[no-untyped-def]
    async with sessions.begin() as session:
        participant = await _participant(session, "p")
        first = outbox.enqueue(
            session, participant_id=participant.id, channel="web", kind="reply", text="a", now=NOW
        )
        outbox.enqueue(
            session, participant_id=participant.id, channel="web", kind="reply", text="b", now=NOW
        )
        await session.flush()
        outbox.claim(first, NOW, "app-1")  # the process died before it settled
    async with sessions() as session:
        assert await outbox.due(session, NOW + timedelta(seconds=30)) == []  # b waits behind a
        again = await outbox.due(session, NOW + outbox.SENDING_LEASE + timedelta(seconds=1))
        assert [item.text for item in again] == ["a"]


async def test_stop_keeps_safeguarding_signposting_queued(sessions) -> None:  # type: ignore[no-untyped-def]
    async with sessions.begin() as session:
        participant = await _participant(session, "q")
        for kind in ("reply", "safeguarding", "reply"):
            outbox.enqueue(
                session, participant_id=participant.id, channel="web", kind=kind, text=kind, now=NOW
            )
        await session.flush()
        await outbox.cancel_pending(session, participant.id)
    async with sessions() as session:
        kinds = [item.kind for item in await session.scalars(select(OutboxItem))]
    assert kinds == ["safeguarding"]


async def test_an_erased_parent_is_forgotten_only_after_the_staff_alert_about_them_went(
    sessions,
) -> None:  # type: ignore[no-untyped-def]
    """Erasure must not silence safeguarding: a staff alert still waiting when the parent's
    erasure confirmation goes keeps the participant (and so the alert) until it is sent."""
    async with sessions.begin() as session:
        participant = await _participant(session, "e")
        alert = outbox.enqueue(
            session, participant_id=participant.id, channel="staff_webhook", kind="staff_alert",
            text="alert", now=NOW,
        )  # fmt: skip
        await erasure.erase_content(session, participant, NOW)
        told = outbox.enqueue(
            session, participant_id=participant.id, channel="web", kind="erase_confirmation",
            text="deleted", now=NOW,
        )  # fmt: skip
        await session.flush()
        pid = participant.id
        told.status = "sent"
        assert not await erasure.forget_when_all_sent(session, pid)  # the alert is still waiting
    async with sessions.begin() as session:
        assert await session.get(Participant, pid) is not None
        (await session.get(OutboxItem, alert.id)).status = "sent"  # type: ignore[union-attr]
        assert await erasure.forget_when_all_sent(session, pid)
    async with sessions() as session:
        assert await session.get(Participant, pid) is None
        assert list(await session.scalars(select(OutboxItem))) == []


async def test_idle_conversations_expire_and_unconsented_ones_keep_nothing(sessions) -> None:  # type: ignore[no-untyped-def]
    async with sessions.begin() as session:
        participant = await _participant(session, "r")
        kept = await _conversation(session, participant, NOW)
        kept.consented_at = NOW
        conversations.add_message(
            session, kept, direction="in", kind="text", text="lovely", question_id="q", now=NOW
        )
        unconsented = await _conversation(session, participant, NOW)
        conversations.add_message(
            session, unconsented, direction="in", kind="text", text="hi", question_id=None, now=NOW
        )
        fresh = await _conversation(session, participant, NOW + timedelta(days=6))
    later = NOW + timedelta(days=7, hours=1)
    async with sessions.begin() as session:
        assert await conversations.expire_idle(session, later - timedelta(days=7), later) == 2
    async with sessions() as session:
        statuses = {c.id: c.status for c in await session.scalars(select(Conversation))}
        texts = [m.text for m in await session.scalars(select(Message))]
    assert statuses == {kept.id: "expired", unconsented.id: "expired", fresh.id: "active"}
    assert texts == ["lovely"]


async def test_a_retried_turn_is_answered_from_rasas_memory_not_run_twice(
    rasa_server: str, rasa_token: str, actions_host: RunningApp
) -> None:
    client = RasaClient(rasa_server, rasa_token)
    sender = f"retry-{secrets.token_hex(6)}"
    try:
        await client.send(sender, '/pv_start{"flow": "hcp_experience"}', message_id="m1")
        first = await client.send(sender, "yes", message_id="m2")
        again = await client.send(sender, "yes", message_id="m2")  # the app did not get the answer
        assert first == again
        assert "Which service" in first.texts[0][0]
        nxt = await client.send(sender, "1", message_id="m3")
        assert "What went well" in nxt.texts[0][0]  # the repeat did not advance the form
    finally:
        await client.aclose()


def test_leading_slashes_and_spaces_are_removed_before_rasa() -> None:
    for raw in ("/stop", " /stop", "/ /stop", "\u00a0/stop", "//stop"):
        assert _for_rasa(raw) == "stop"
    assert _for_rasa("a/b") == "a/b"


async def test_rate_limiter_below_one_per_second_still_sends() -> None:
    clock = {"t": 0.0}
    limiter = RateLimiter(0.5, lambda: clock["t"])
    await limiter.acquire("sms")  # the first send is allowed at once
    waiter = asyncio.create_task(limiter.acquire("sms"))
    await asyncio.sleep(0.01)
    assert not waiter.done()
    clock["t"] = 2.0
    await asyncio.wait_for(waiter, 5)
    with pytest.raises(ConfigError):
        RateLimiter(0, lambda: 0.0)


async def test_a_burst_waits_in_the_app_not_in_rasa_where_it_would_time_out() -> None:
    """A Rasa that takes 0.1 s a turn, one at a time, and a 0.5 s timeout: 20 turns at once all
    time out after the first few when sent together, and are all answered when at most two are in
    Rasa at a time."""
    in_rasa, most = 0, 0
    one_at_a_time = asyncio.Lock()

    async def slow_rasa(request: httpx.Request) -> httpx.Response:
        nonlocal in_rasa, most
        in_rasa += 1
        most = max(most, in_rasa)
        began = asyncio.get_running_loop().time()
        try:
            async with one_at_a_time:
                await asyncio.sleep(0.1)
        finally:
            in_rasa -= 1
        # A mock transport has no clock of its own: time out as a real connection would.
        if asyncio.get_running_loop().time() - began > request.extensions["timeout"]["read"]:
            raise httpx.ReadTimeout("Rasa took too long", request=request)
        return httpx.Response(200, json=[{"recipient_id": "x", "text": "Thank you"}])

    async def burst(max_in_flight: int) -> list[str]:
        client = RasaClient(
            "http://rasa.test", "t", timeout=0.5, max_in_flight=max_in_flight,
            transport=httpx.MockTransport(slow_rasa),
        )  # fmt: skip
        try:
            turns = await asyncio.gather(
                *(client.send(f"p{n}", "hi") for n in range(20)), return_exceptions=True
            )
        finally:
            await client.aclose()
        return ["answered" if isinstance(t, BotTurn) else type(t).__name__ for t in turns]

    assert "RasaUnavailable" in await burst(max_in_flight=20)
    most = 0
    assert await burst(max_in_flight=2) == ["answered"] * 20
    assert most <= 2
