"""PostgreSQL restarted in the middle of traffic, under a real `parentvoice serve` process.

Parents text in on SMS and Telegram, one every SPACING seconds; once some are answered, the
database server is stopped for OUTAGE seconds and started again (its own throw-away cluster, on
the same port). The app is never restarted. The platforms behave as they do: a webhook not
acknowledged with a 2xx is delivered again, with the same MessageSid or update_id, until it is.
Then: no message is acknowledged while the database is down (503), /healthz says so, and once
the database is back every parent is answered exactly once and every queued reply is delivered.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from storage.db import migrate
from tests.conversation import SECRET_HEADER, new_chat_id, new_phone
from tests.databases import ThrowAwayCluster, throwaway_cluster
from tests.fakes.telegram_api import FakeTelegramAPI, make_text_update
from tests.fakes.twilio_api import FakeTwilioAPI, new_sid, signed_form, sms_params
from tests.harness import ROOT, config_env, free_port, wait_healthy

SMS_PARENTS, TELEGRAM_PARENTS = 24, 8
SPACING = 0.3  # seconds between two parents' first messages: about 10 s of traffic
ANSWERED_BEFORE_OUTAGE = 6  # parents answered before the database goes down
OUTAGE = 8.0  # seconds the database is down
REDELIVERY = 1.0  # seconds before a platform delivers an unacknowledged webhook again
WELCOME = ("Choose your language", "We would like to hear", "We keep your answers")
_update_ids = iter(range(9_100_000, 9_200_000))


@dataclass
class Delivery:
    """One parent's first message, as the platform keeps delivering it until acknowledged."""

    channel: str  # "sms" or "telegram"
    address: str  # the phone number or the chat id
    payload: dict[str, Any]  # the same form or update on every attempt
    # (started, finished, status) of each attempt, loop time; status None: no HTTP answer.
    attempts: list[tuple[float, float, int | None]] = field(default_factory=list)

    @property
    def acknowledged(self) -> bool:
        return any(status == 200 for _, _, status in self.attempts)

    async def post(self, client: httpx.AsyncClient, public_url: str) -> int | None:
        """One delivery attempt, as the platform makes it; the HTTP status, or None."""
        try:
            if self.channel == "telegram":
                headers = {SECRET_HEADER: "test-webhook-secret"}
                response = await client.post(
                    "/webhooks/telegram", json=self.payload, headers=headers
                )
            else:
                path = "/webhooks/twilio/sms"
                headers, body = signed_form(f"{public_url}{path}", self.payload)
                response = await client.post(path, content=body, headers=headers)
        except httpx.HTTPError:
            return None
        return response.status_code


@pytest.mark.parametrize("stop", ["fast", "immediate"])  # a clean restart; a crash and recovery
async def test_postgresql_restart_mid_traffic_loses_nothing_and_answers_each_message_once(
    stop: str,
    session_dir: Path,
    twilio_api: FakeTwilioAPI,
    telegram_api: FakeTelegramAPI,
    rasa_server: str,
    rasa_token: str,
    actions_host: object,
) -> None:
    tmp = session_dir / f"pg-restart-{stop}"
    tmp.mkdir(exist_ok=True)
    deliveries = [_sms(new_phone()) for _ in range(SMS_PARENTS)]
    deliveries += [_telegram(new_chat_id()) for _ in range(TELEGRAM_PARENTS)]
    deliveries = deliveries[::2] + deliveries[1::2]  # the two channels interleaved
    twilio_api.reset()
    twilio_api.latency = 0.05
    telegram_unexpected = len(telegram_api.unexpected)  # the fake serves the whole session

    async with throwaway_cluster() as cluster:
        db_url = await cluster.create_database("parentvoice")
        await asyncio.to_thread(migrate, db_url)
        port = free_port()
        env = os.environ | config_env(
            tmp, db_url=db_url, port=port, rasa_url=rasa_server, rasa_token=rasa_token,
            telegram_api=telegram_api.base_url, twilio_api=twilio_api.base_url,
            pseudonym_key="test-pseudonym-key-pg-restart-0123456789",
            extra_env={
                "PARENTVOICE__SERVER__PER_SENDER_PER_MINUTE": "0",
                # Slow enough that replies queue up: the outage finds the outbox non-empty.
                "PARENTVOICE__CHANNELS__TWILIO__PER_SECOND": "8",
            },
        )  # fmt: skip
        url, log_file = f"http://127.0.0.1:{port}", tmp / f"app-{port}.log"
        with log_file.with_suffix(".stderr").open("wb") as stderr:
            app = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "serve"], cwd=ROOT, env=env,
                stdout=subprocess.DEVNULL, stderr=stderr,
            )  # fmt: skip
        try:
            await wait_healthy(url)
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                traffic = asyncio.create_task(_traffic(client, url, deliveries))
                try:
                    outage = await _restart_midway(cluster, stop, client, deliveries, traffic)
                    await asyncio.wait_for(traffic, 120)
                finally:
                    traffic.cancel()
                health_after = await _wait_database_ok(client)

                def answered() -> bool:
                    return all(len(_replies(d, twilio_api, telegram_api)) >= 3 for d in deliveries)

                for _ in range(1200):  # 60 s at most, once every webhook is acknowledged
                    if answered():
                        break
                    await asyncio.sleep(0.05)
                await asyncio.sleep(2.0)  # anything answered twice would arrive now
            inbox, outbox = await asyncio.to_thread(_stored, cluster)
        finally:
            app.terminate()
            await asyncio.to_thread(app.wait, 15)
            twilio_api.latency = 0.0

    context = _log_tail(log_file)
    assert outage.backlog > 0, "the outage should find replies waiting in the outbox"
    assert outage.health == (503, "unavailable"), (outage.health, context)
    assert health_after == 200, context
    # Nothing was acknowledged while the database was down: there was nowhere to record it.
    down_from, down_to = outage.down
    acked_while_down = [
        d.address
        for d in deliveries
        for started, finished, status in d.attempts
        if status == 200 and started > down_from + 0.2 and finished < down_to - 0.2
    ]
    assert acked_while_down == [], acked_while_down
    statuses = Counter(status for d in deliveries for _, _, status in d.attempts)
    assert set(statuses) <= {200, 503}, (statuses, context)
    assert statuses[503] >= 3, f"the outage should have turned webhooks away: {statuses}"
    unacknowledged = [d.address for d in deliveries if not d.acknowledged]
    assert unacknowledged == [], unacknowledged
    for d in deliveries:
        got = _replies(d, twilio_api, telegram_api)
        assert len(got) == 3 and all(
            want in text for want, text in zip(WELCOME, got, strict=True)
        ), (d.channel, d.address, [text[:30] for text in got], inbox, outbox, context)
    # Each message recorded once and answered; every reply delivered, none left or given up.
    assert inbox == {"done": len(deliveries)}, (inbox, context)
    assert outbox == {"sent": 3 * len(deliveries)}, (outbox, context)
    assert twilio_api.unexpected == [] and telegram_api.unexpected[telegram_unexpected:] == []


@dataclass(frozen=True)
class Outage:
    down: tuple[float, float]  # loop time the server was stopped, and started again
    backlog: int  # replies waiting in the outbox when it went down
    health: tuple[int, str]  # /healthz while down: status and its database entry


async def _traffic(client: httpx.AsyncClient, url: str, deliveries: list[Delivery]) -> None:
    """Parents' messages arriving one every SPACING seconds, each redelivered until acknowledged
    (for two minutes at most)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120

    async def deliver(delivery: Delivery) -> None:
        while loop.time() < deadline:
            started = loop.time()
            status = await delivery.post(client, url)
            delivery.attempts.append((started, loop.time(), status))
            if status == 200:
                return
            await asyncio.sleep(REDELIVERY)

    arriving = []
    for delivery in deliveries:
        arriving.append(asyncio.create_task(deliver(delivery)))
        await asyncio.sleep(SPACING)
    await asyncio.gather(*arriving)


async def _restart_midway(
    cluster: ThrowAwayCluster,
    stop: str,
    client: httpx.AsyncClient,
    deliveries: list[Delivery],
    traffic: asyncio.Task[None],
) -> Outage:
    """Once a few parents are answered, stop the database for OUTAGE seconds, then start it."""
    loop = asyncio.get_running_loop()
    for _ in range(600):
        if sum(d.acknowledged for d in deliveries) >= ANSWERED_BEFORE_OUTAGE or traffic.done():
            break
        await asyncio.sleep(0.05)
    assert not traffic.done(), traffic
    backlog = await asyncio.to_thread(_outbox_backlog, cluster)
    await cluster.stop(stop)
    stopped = loop.time()
    await asyncio.sleep(1.0)
    response = await client.get("/healthz")
    health = (response.status_code, str(response.json().get("database")))
    await asyncio.sleep(max(0.0, stopped + OUTAGE - loop.time()))
    await cluster.start()
    return Outage(down=(stopped, loop.time()), backlog=backlog, health=health)


async def _wait_database_ok(client: httpx.AsyncClient, seconds: float = 30.0) -> int:
    """The app finds its database again by itself: /healthz back to 200 (its last status)."""
    status = 0
    for _ in range(int(seconds * 10)):
        response = await client.get("/healthz")
        status = response.status_code
        if status == 200 and response.json().get("database") == "ok":
            break
        await asyncio.sleep(0.1)
    return status


def _sms(phone: str) -> Delivery:
    return Delivery("sms", phone, sms_params(new_sid(), phone, "hi"))


def _telegram(chat_id: int) -> Delivery:
    return Delivery("telegram", str(chat_id), make_text_update(next(_update_ids), chat_id, "hi"))


def _replies(d: Delivery, twilio: FakeTwilioAPI, telegram: FakeTelegramAPI) -> list[str]:
    if d.channel == "telegram":
        return [m["text"] for m in telegram.sent if str(m.get("chat_id")) == d.address]
    return [m.get("Body", "") for m in twilio.sent if m.get("To") == d.address]


def _plain(cluster: ThrowAwayCluster) -> str:
    return f"postgresql://postgres@127.0.0.1:{cluster.port}/parentvoice"


def _outbox_backlog(cluster: ThrowAwayCluster) -> int:
    with psycopg.connect(_plain(cluster)) as conn:
        row = conn.execute(
            "SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')"
        ).fetchone()
    return int(row[0]) if row else 0


def _stored(cluster: ThrowAwayCluster) -> tuple[dict[str, int], dict[str, int]]:
    """Inbox and outbox rows by status."""
    with psycopg.connect(_plain(cluster)) as conn:
        inbox = conn.execute("SELECT status, count(*) FROM inbox GROUP BY status").fetchall()
        outbox = conn.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall()
    return dict(inbox), dict(outbox)


def _log_tail(log_file: Path, lines: int = 30) -> str:
    """The app's last log lines (pseudonyms and event kinds only), to explain a failure."""
    found = [p for p in (log_file, log_file.with_suffix(".stderr")) if p.exists()]
    return "\n".join("\n".join(p.read_text(errors="replace").splitlines()[-lines:]) for p in found)
