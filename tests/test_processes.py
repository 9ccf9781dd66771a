"""Real app processes (`parentvoice serve`) delivering through the fake Twilio API:
- kill -9 in the middle of a burst: after a restart every queued message arrives, each exactly
  once (the sender asks Twilio about any send the crash cut short);
- two processes on one PostgreSQL share the queue: each message sent exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

from bot.config import load_config
from bot.vault import Vault
from storage.db import make_engine, make_sessionmaker, migrate
from tests.fakes.twilio_api import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioAPI
from tests.harness import ROOT, free_port
from tests.queued import drama_number, queue_messages

MESSAGES = 200
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def app_env(db_url: str, twilio_url: str, tmp: Path) -> dict[str, str]:
    port = free_port()
    return os.environ | {
        "PARENTVOICE__DATABASE__URL": db_url,
        "PARENTVOICE__SERVER__PORT": str(port),
        "PARENTVOICE__SERVER__PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PARENTVOICE__RASA__MANAGE": "false",
        "PARENTVOICE__RASA__URL": f"http://127.0.0.1:{free_port()}",  # not needed to send
        "PARENTVOICE__RASA__TRACKER_DB": str(tmp / "tracker.db"),
        "PARENTVOICE__CHANNELS__TWILIO__ENABLED": "true",
        "PARENTVOICE__CHANNELS__TWILIO__ACCOUNT_SID": ACCOUNT_SID,
        "PARENTVOICE__CHANNELS__TWILIO__AUTH_TOKEN": AUTH_TOKEN,
        "PARENTVOICE__CHANNELS__TWILIO__SMS_FROM": "+447700900001",
        "PARENTVOICE__CHANNELS__TWILIO__API_BASE_URL": twilio_url,
        "PARENTVOICE__CHANNELS__TWILIO__PER_SECOND": "60",
        "PARENTVOICE__LOGGING__FILE": "",
        "PARENTVOICE__LOGGING__LEVEL": "WARNING",
    }


async def queue_sms(db_url: str, count: int, prefix: str) -> None:
    """``count`` SMS waiting in the outbox, one per (synthetic) participant."""
    await asyncio.to_thread(migrate, db_url)
    engine = make_engine(db_url)
    await queue_messages(
        make_sessionmaker(engine), vault=Vault(load_config(ROOT / "config.yaml", environ={}).security.vault_key),
        participants=count, each=1, channel="sms", address=drama_number,
        text=lambda p, _: f"{prefix} {p}", now=datetime.now(UTC),
    )  # fmt: skip
    await engine.dispose()


def serve(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "serve"], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


async def test_kill_9_mid_burst_then_restart_delivers_each_message_once(
    tmp_path: Path, twilio_api: FakeTwilioAPI
) -> None:
    db_url = f"sqlite:///{tmp_path / 'crash.db'}"
    await queue_sms(db_url, MESSAGES, "crash test")
    twilio_api.reset()
    twilio_api.latency = 0.05  # a few sends are always in flight
    env = app_env(db_url, twilio_api.base_url, tmp_path)

    def ours() -> Counter[str]:
        return Counter(
            m["Body"] for m in twilio_api.sent if m.get("Body", "").startswith("crash test")
        )

    first = serve(env)
    try:
        for _ in range(600):
            if sum(ours().values()) >= 60:
                break
            await asyncio.sleep(0.05)
        os.kill(first.pid, signal.SIGKILL)
        await asyncio.to_thread(first.wait)
        delivered_before = sum(ours().values())
        assert 0 < delivered_before < MESSAGES, "the kill should land mid-burst"
    finally:
        if first.poll() is None:
            first.kill()
    second = serve(env)
    try:
        for _ in range(1200):
            if len(ours()) >= MESSAGES:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # anything sent twice would arrive now
    finally:
        second.terminate()
        await asyncio.to_thread(second.wait, 15)
        twilio_api.latency = 0.0
    counts = ours()
    assert len(counts) == MESSAGES, f"{MESSAGES - len(counts)} messages never arrived"
    assert [body for body, n in counts.items() if n > 1] == [], "sent twice"


async def test_two_app_processes_on_postgresql_send_each_message_once(
    tmp_path: Path, twilio_api: FakeTwilioAPI
) -> None:
    name = f"pv_procs_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        await asyncio.to_thread(migrate, db_url)  # first: two processes must not race to migrate
        twilio_api.reset()
        twilio_api.latency = 0.005
        urls = []
        for number in (
            "+447700900011",
            "+447700900012",
        ):  # a sender number each, to tell them apart
            env = app_env(db_url, twilio_api.base_url, tmp_path)
            env["PARENTVOICE__CHANNELS__TWILIO__PER_SECOND"] = "1000"
            env["PARENTVOICE__CHANNELS__TWILIO__SMS_FROM"] = number
            processes.append(serve(env))
            urls.append(env["PARENTVOICE__SERVER__PUBLIC_URL"])
        # Both up before there is work: otherwise the first to start can take it all.
        async with httpx.AsyncClient(timeout=2) as http:
            for url in urls:
                for _ in range(600):
                    with contextlib.suppress(httpx.HTTPError):
                        if (await http.get(f"{url}/healthz")).status_code in (200, 503):
                            break
                    await asyncio.sleep(0.1)
        await queue_sms(db_url, 1000, "shared")

        def shared() -> Counter[str]:
            return Counter(
                m["Body"] for m in twilio_api.sent if m.get("Body", "").startswith("shared")
            )

        for _ in range(1200):
            if len(shared()) >= 1000:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            await asyncio.to_thread(process.wait, 15)
        twilio_api.latency = 0.0
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    counts = shared()
    assert len(counts) == 1000, f"{1000 - len(counts)} messages never arrived"
    assert [body for body, n in counts.items() if n > 1] == [], "sent twice"
    by_process = Counter(
        m.get("From") for m in twilio_api.sent if m.get("Body", "").startswith("shared")
    )
    assert set(by_process) == {"+447700900011", "+447700900012"}, (
        f"both processes should send: {by_process}"
    )
