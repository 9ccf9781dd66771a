"""How fast the outbox sender can deliver, and whether it keeps to the configured rate.

Against the fake Twilio API on 127.0.0.1 through the real twilio SDK, in one run:
  1. unlimited: N queued SMS to N participants, time until all are delivered (the software's
     own ceiling; the goal is >= 500 messages/s, so it is never the bottleneck below Twilio's
     own per-number limits);
  2. limited: the same with the channel's rate set in config; the busiest 1-second window seen
     at the fake API must not exceed it.
Each message must arrive exactly once. Usage: .venv/bin/python bench/sender_rate.py [--messages 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bot.channels.twilio import TwilioChannel, TwilioSettings  # noqa: E402
from bot.sender import OutboxSender  # noqa: E402
from bot.vault import Vault  # noqa: E402
from storage.db import make_engine, make_sessionmaker, migrate  # noqa: E402
from storage.models import OutboxItem  # noqa: E402
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioAPI  # noqa: E402
from tests.queued import drama_number, queue_messages  # noqa: E402

VAULT = Vault(b"ZGV2LW9ubHktdmF1bHQta2V5LWNoYW5nZS1tZS0wMDA=")


def now() -> datetime:
    return datetime.now(UTC)


async def run_round(
    api: FakeTwilioAPI, db_url: str, messages: int, rate: float
) -> dict[str, float]:
    await asyncio.to_thread(migrate, db_url)
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    await queue_messages(
        sessions, vault=VAULT, participants=messages, each=1, channel="sms", address=drama_number,
        text=lambda p, _: f"msg {p}", now=now(),
    )  # fmt: skip
    channel = TwilioChannel(
        "sms",
        TwilioSettings(ACCOUNT_SID, AUTH_TOKEN, "", "+447700900001", "", api_base_url=api.base_url),
    )
    await channel.start()
    sender = OutboxSender(
        sessions=sessions, senders={"sms": channel}, vault=VAULT, clock=now, max_attempts=8,
        per_second=rate, channel_rates={"sms": rate},
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
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    stop.set()
    await task
    await channel.stop()
    await engine.dispose()
    bodies = Counter(m["Body"] for m in api.sent)
    arrivals = sorted(r.at for r in api.requests if r.path.endswith("/Messages.json"))
    busiest = (
        max(bisect.bisect_left(arrivals, t + 1.0) - i for i, t in enumerate(arrivals))
        if arrivals
        else 0
    )
    return {
        "messages": messages,
        "delivered": len(bodies),
        "duplicates": sum(c - 1 for c in bodies.values()),
        "seconds": round(elapsed, 2),
        "per_second": round(messages / elapsed, 1),
        "busiest_1s_window": busiest,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument(
        "--rate", type=float, default=100.0, help="configured rate for the limited round"
    )
    args = parser.parse_args()
    async with FakeTwilioAPI() as api:
        with tempfile.TemporaryDirectory(prefix="pv-sender-") as tmp:
            unlimited = await run_round(api, f"sqlite:///{tmp}/a.db", args.messages, 1_000_000)
            limited_n = int(args.rate * 5)
            limited = await run_round(api, f"sqlite:///{tmp}/b.db", limited_n, args.rate)
    print(
        f"\n{'round':24} {'messages':>9} {'delivered':>10} {'dupes':>6} {'seconds':>8} {'msg/s':>8} {'max in 1 s':>11}"
    )
    for name, r in (("unlimited", unlimited), (f"limited to {args.rate:g}/s", limited)):
        print(f"{name:24} {r['messages']:>9} {r['delivered']:>10} {r['duplicates']:>6} {r['seconds']:>8} "
              f"{r['per_second']:>8} {r['busiest_1s_window']:>11}")  # fmt: skip
    ok = (
        limited["busiest_1s_window"] <= args.rate
        and not unlimited["duplicates"]
        and not limited["duplicates"]
    )
    print(f"\nrate kept and each message sent once: {'yes' if ok else 'NO'}; "
          f"ceiling {unlimited['per_second']} msg/s (goal >= 500)\n")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
