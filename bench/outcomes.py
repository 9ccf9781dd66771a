"""An outcome for 10,000 parents: how long enqueuing takes, and is each sent exactly once?

For SQLite (the embedded default) and PostgreSQL, side by side in one run:
  1. 10,000 synthetic parents who finished the flow and agreed to follow-up (plus 1,000 who did
     not, or said STOP, who must get nothing), each with a sealed Telegram chat id in the vault;
  2. the outcome fires twice at once (a double fire: two processes, or a retry racing the first),
     and the time until its outbox rows are committed is measured (goal: under 10 s);
  3. the outbox sender delivers them through python-telegram-bot to the fake Bot API on
     127.0.0.1; every chat must receive the message exactly once.

Usage: .venv/bin/python bench/outcomes.py [--recipients 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import func, insert, select  # noqa: E402

from bot import outcomes  # noqa: E402
from bot.channels.telegram import TelegramChannel  # noqa: E402
from bot.quiet_hours import QuietHours  # noqa: E402
from bot.sender import OutboxSender  # noqa: E402
from bot.vault import Vault  # noqa: E402
from flows.spec import load_flows  # noqa: E402
from storage.db import make_engine, make_sessionmaker, migrate  # noqa: E402
from storage.models import Contact, Conversation, OutboxItem, Participant  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramAPI  # noqa: E402

VAULT = Vault(b"ZGV2LW9ubHktdmF1bHQta2V5LWNoYW5nZS1tZS0wMDA=")
TOKEN = "123456:BENCH-token-synthetic"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
QUIET_OFF = QuietHours.parse("", "Europe/London")  # the bench runs whatever the hour
FIRST_CHAT = 800_000_000  # synthetic Telegram chat ids


def now() -> datetime:
    return datetime.now(UTC)


async def add_parents(sessions, count: int, left_out: int) -> None:  # type: ignore[no-untyped-def]
    """``count`` parents who should get the outcome and ``left_out`` who should not, in bulk."""
    at = now() - timedelta(days=3)
    people = []
    for n in range(count + left_out):
        people.append(
            {
                "pseudonym": uuid.uuid4().hex * 2,
                "channel": "telegram",
                "language": "en",
                "created_at": at,
                "redaction_state": {},
                # Of the rest, half said no to follow-up and half said yes but later STOP.
                "consent_followup": n < count or n % 2 == 1,
                "opted_out_at": None if n < count or n % 2 == 0 else at,
            }
        )
    async with sessions.begin() as session:
        ids = list(await session.scalars(insert(Participant).returning(Participant.id), people))
        await session.execute(
            insert(Contact),
            [
                {
                    "participant_id": pid,
                    "address_encrypted": VAULT.seal(str(FIRST_CHAT + n)),
                    "created_at": at,
                }
                for n, pid in enumerate(ids)
            ],
        )
        await session.execute(
            insert(Conversation),
            [
                {
                    "public_id": uuid.uuid4().hex[:16],
                    "participant_id": pid,
                    "flow_id": "hcp_experience",
                    "flow_version": 1,
                    "channel": "telegram",
                    "language": "en",
                    "status": "completed",
                    "consented_at": at,
                    "started_at": at,
                    "updated_at": at,
                    "ended_at": at,
                }
                for pid in ids
            ],
        )


async def run_round(api: FakeTelegramAPI, db_url: str, recipients: int) -> dict[str, float]:
    await asyncio.to_thread(migrate, db_url)
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    left_out = recipients // 10
    await add_parents(sessions, recipients, left_out)
    async with sessions.begin() as session:
        outcome, _ = await outcomes.create(
            session, flow_set=load_flows(ROOT / "flows"), flow_id="hcp_experience",
            texts={"en": "You said, we did: evening clinics start next month."},
            send_at=now(), quiet=QUIET_OFF, now=now(), default_language="en",
        )  # fmt: skip

    async def fire() -> outcomes.Enqueued:
        async with sessions.begin() as session:
            return await outcomes.enqueue(session, outcome.id, now(), QUIET_OFF, "en")

    started = time.perf_counter()
    fired = await asyncio.gather(fire(), fire())
    enqueue_seconds = time.perf_counter() - started
    async with sessions() as session:
        rows = await session.scalar(select(func.count(OutboxItem.id)))

    channel = TelegramChannel(TOKEN, "secret", api.base_url)
    await channel.start()
    sender = OutboxSender(
        sessions=sessions, senders={"telegram": channel}, vault=VAULT, clock=now,
        max_attempts=8, per_second=100_000,
    )  # fmt: skip
    api.reset()
    stop = asyncio.Event()
    started = time.perf_counter()
    task = asyncio.create_task(sender.run(stop, idle_seconds=0.01))
    while True:
        async with sessions() as session:
            left = await session.scalar(
                select(func.count()).where(OutboxItem.status.in_(("pending", "sending")))
            )
        if not left:
            break
        await asyncio.sleep(0.1)
    send_seconds = time.perf_counter() - started
    stop.set()
    await task
    await channel.stop()
    await engine.dispose()
    per_chat = Counter(int(m["chat_id"]) for m in api.sent)
    return {
        "fired": "+".join(sorted(f.status for f in fired)),  # type: ignore[dict-item]
        "rows": rows or 0,
        "enqueue_s": round(enqueue_seconds, 2),
        "received": len(per_chat),
        "duplicates": sum(c - 1 for c in per_chat.values()),
        "wrong": sum(1 for chat in per_chat if chat >= FIRST_CHAT + recipients),
        "send_s": round(send_seconds, 1),
        "per_s": round(len(api.sent) / send_seconds, 1),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recipients", type=int, default=10_000)
    args = parser.parse_args()
    results = {}
    pg_name = f"pv_bench_outcomes_{uuid.uuid4().hex[:8]}"
    async with FakeTelegramAPI(TOKEN) as api:
        with tempfile.TemporaryDirectory(prefix="pv-outcomes-") as tmp:
            results["sqlite"] = await run_round(api, f"sqlite:///{tmp}/bench.db", args.recipients)
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{pg_name}"')
        try:
            results["postgresql"] = await run_round(
                api, f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_name}", args.recipients
            )
        finally:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
    print(
        f"\noutcome for {args.recipients} parents (+{args.recipients // 10} who must get nothing)\n"
        f"{'database':11} {'double fire':>20} {'outbox rows':>12} {'enqueue s':>10} "
        f"{'received':>9} {'dupes':>6} {'wrong':>6} {'send s':>7} {'msg/s':>7}"
    )
    ok = True
    for name, r in results.items():
        print(
            f"{name:11} {r['fired']:>20} {r['rows']:>12} {r['enqueue_s']:>10} {r['received']:>9} "
            f"{r['duplicates']:>6} {r['wrong']:>6} {r['send_s']:>7} {r['per_s']:>7}"
        )
        ok &= (
            r["rows"] == args.recipients
            and r["received"] == args.recipients
            and not r["duplicates"]
            and not r["wrong"]
            and r["enqueue_s"] < 10
        )
    print(
        f"\nenqueued in under 10 s and each parent sent it exactly once: {'yes' if ok else 'NO'}\n"
    )
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    asyncio.run(main())
