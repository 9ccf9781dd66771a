"""The outbox sender against real SQLite and PostgreSQL: order, exactly-once across processes,
restarts, unreachable participants. Channels here are counting fakes (the SDK-level fakes are
exercised in the channel and conversation tests)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.channels.base import Outbound
from bot.errors import PermanentDelivery, RetryableDelivery
from bot.sender import OutboxSender
from bot.vault import Vault
from storage import outbox
from storage.db import make_engine, make_sessionmaker
from storage.models import OutboxItem, Participant
from tests.databases import migrated_database
from tests.queued import queue_messages

VAULT = Vault(b"ZGV2LW9ubHktdmF1bHQta2V5LWNoYW5nZS1tZS0wMDA=")


class CountingChannel:
    """Records every delivery; can fail the first few sends to chosen addresses."""

    name = "fake"

    def __init__(self, delay: float = 0.0) -> None:
        self.delivered: list[tuple[str, str]] = []
        self.fail_retryable: Counter[str] = Counter()
        self.refuse: set[str] = set()
        self.delay = delay

    async def send(self, address: str, message: Outbound) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        if address in self.refuse:
            raise PermanentDelivery("Forbidden: bot was blocked by the user")
        if self.fail_retryable[address] > 0:
            self.fail_retryable[address] -= 1
            raise RetryableDelivery("429", retry_after=0.01)
        self.delivered.append((address, message.text))
        return f"m{len(self.delivered)}"


def clock() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with migrated_database(request.param, tmp_path, "outbox") as url:
        yield url


@pytest.fixture
async def pg_url(tmp_path: Path) -> AsyncIterator[str]:
    """Several app processes share one PostgreSQL (SQLite is the single-process default)."""
    async with migrated_database("postgresql", tmp_path, "outbox") as url:
        yield url


async def queue(sessions: async_sessionmaker[AsyncSession], participants: int, each: int) -> None:
    await queue_messages(
        sessions, vault=VAULT, participants=participants, each=each, channel="fake",
        address=lambda p: f"addr-{p}", text=lambda p, n: f"{p}:{n}", now=clock(),
    )  # fmt: skip


def sender(sessions: async_sessionmaker[AsyncSession], channel: CountingChannel) -> OutboxSender:
    return OutboxSender(
        sessions=sessions, senders={"fake": channel}, vault=VAULT, clock=clock, max_attempts=8,
        per_second=10_000,
    )  # fmt: skip


async def drain(
    senders: list[OutboxSender], sessions: async_sessionmaker[AsyncSession], timeout: float = 60
) -> None:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(s.run(stop, idle_seconds=0.05)) for s in senders]
    try:
        async with asyncio.timeout(timeout):
            while True:
                async with sessions() as session:
                    left = await session.scalar(
                        select(func.count()).where(OutboxItem.status.in_(("pending", "sending")))
                    )
                if not left:
                    return
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_each_message_sent_exactly_once_and_in_order(db_url: str) -> None:
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    channel = CountingChannel()
    channel.fail_retryable["addr-3"] = 2  # 429 twice, then accepted
    await queue(sessions, participants=20, each=5)
    await drain([sender(sessions, channel)], sessions)
    await engine.dispose()
    assert len(channel.delivered) == 100
    assert len(set(channel.delivered)) == 100
    for p in range(20):
        mine = [text for address, text in channel.delivered if address == f"addr-{p}"]
        assert mine == [f"{p}:{n}" for n in range(5)]


async def test_two_processes_share_the_queue_and_send_each_message_once(pg_url: str) -> None:
    """Two senders with their own engines (connection pools), as two app processes would have."""
    engines = [make_engine(pg_url), make_engine(pg_url)]
    pools = [make_sessionmaker(e) for e in engines]
    channel = CountingChannel(delay=0.001)
    await queue(pools[0], participants=200, each=5)
    await drain([sender(pools[0], channel), sender(pools[1], channel)], pools[0])
    for engine in engines:
        await engine.dispose()
    assert len(channel.delivered) == 1000
    assert len(set(channel.delivered)) == 1000, "a message was sent twice"
    for p in range(200):
        mine = [text for address, text in channel.delivered if address == f"addr-{p}"]
        assert mine == [f"{p}:{n}" for n in range(5)], "order within a conversation was lost"


async def test_pending_messages_survive_a_restart(db_url: str) -> None:
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    await queue(sessions, participants=10, each=2)
    async with sessions.begin() as session:  # the process died mid-send: rows left "sending"
        for item in await outbox.due(session, clock()):
            outbox.claim(item, clock(), "app")  # "app": the sender's default instance name
    restarted = sender(sessions, channel := CountingChannel())
    await restarted.recover()
    await drain([restarted], sessions)
    await engine.dispose()
    assert sorted(channel.delivered) == sorted(
        (f"addr-{p}", f"{p}:{n}") for p in range(10) for n in range(2)
    )


async def test_a_refusal_marks_the_participant_unreachable(db_url: str) -> None:
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    channel = CountingChannel()
    channel.refuse.add("addr-0")
    await queue(sessions, participants=2, each=3)
    await drain([sender(sessions, channel)], sessions)
    async with sessions() as session:
        people = list(await session.scalars(select(Participant).order_by(Participant.id)))
        failed = await session.scalar(select(func.count()).where(OutboxItem.status == "failed"))
    await engine.dispose()
    assert people[0].unreachable_at is not None and people[1].unreachable_at is None
    assert failed == 3  # the first was refused; the rest were not even tried
    assert [a for a, _ in channel.delivered] == ["addr-1"] * 3
