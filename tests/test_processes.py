"""Real app processes (`parentvoice serve`) receiving and delivering through the fake Twilio API:
- kill -9 of the app while a burst of parents' messages arrives: every message is answered once;
- kill -9 in the middle of a burst: after a restart every queued message arrives, each exactly
  once (the sender asks Twilio about any send the crash cut short);
- two processes on one PostgreSQL share the queue: each message sent exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

from bot.config import load_config
from bot.vault import Vault
from storage.db import make_engine, make_sessionmaker, migrate
from tests.databases import create_pg_database, drop_pg_database
from tests.fakes.twilio_api import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FakeTwilioAPI,
    new_sid,
    signed_form,
    sms_params,
)
from tests.harness import ROOT, free_port, wait_healthy
from tests.queued import drama_number, queue_messages

MESSAGES = 200


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


_PRINTED: dict[int, Path] = {}  # process id → the file its stdout and stderr go to


def serve(env: dict[str, str]) -> subprocess.Popen[bytes]:
    fd, name = tempfile.mkstemp(prefix="parentvoice-serve-", suffix=".log")
    with os.fdopen(fd, "wb") as printed:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve"], cwd=ROOT, env=env,
            stdout=printed, stderr=subprocess.STDOUT,
        )  # fmt: skip
    _PRINTED[process.pid] = Path(name)
    return process


async def serving(url: str, process: subprocess.Popen[bytes], up: tuple[int, ...] = (200,)) -> None:
    """Until the app ``process`` at ``url`` is healthy; if it exits or never gets there, fail with
    the end of what it printed (a start-up crash is otherwise invisible)."""
    waiting = asyncio.create_task(wait_healthy(url, up))
    while not waiting.done() and process.poll() is None:
        await asyncio.sleep(0.1)
    if waiting.done() and waiting.exception() is None:
        return
    waiting.cancel()
    printed = _PRINTED[process.pid].read_text(errors="replace")[-3000:]
    state = "still running" if process.poll() is None else f"exited with {process.returncode}"
    raise AssertionError(f"the app at {url} did not become healthy ({state}):\n{printed}")


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
    name = create_pg_database("procs")
    db_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    processes: list[subprocess.Popen[bytes]] = []
    try:
        # No migration first: the two processes start together on a new database, so both
        # migrate it at once (the migration lock) and both start their scheduler (whose table the
        # migration makes: APScheduler making it itself, one of two processes failed to start).
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
        for url, process in zip(urls, processes, strict=True):
            await serving(url, process, up=(200, 503))  # Rasa is not needed to send
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
        drop_pg_database(name)
    counts = shared()
    assert len(counts) == 1000, f"{1000 - len(counts)} messages never arrived"
    assert [body for body, n in counts.items() if n > 1] == [], "sent twice"
    by_process = Counter(
        m.get("From") for m in twilio_api.sent if m.get("Body", "").startswith("shared")
    )
    assert set(by_process) == {"+447700900011", "+447700900012"}, (
        f"both processes should send: {by_process}"
    )


async def test_kill_9_of_the_receiving_app_mid_burst_every_acknowledged_message_answered_once(
    tmp_path: Path,
    twilio_api: FakeTwilioAPI,
    rasa_server: str,
    rasa_token: str,
    actions_host: object,
) -> None:
    """80 parents text at once; the app is killed with SIGKILL part-way. Every message it had
    acknowledged (200) is answered after the restart, and every one it had not is delivered
    again by the platform with the same MessageSid (Twilio's retry): each parent then has the
    whole welcome exactly once, never twice."""
    db_url = f"sqlite:///{tmp_path / 'inbound-crash.db'}"
    env = app_env(db_url, twilio_api.base_url, tmp_path) | {
        "PARENTVOICE__RASA__URL": rasa_server,
        "PARENTVOICE__RASA__TOKEN": rasa_token,
        "PARENTVOICE__RASA__TRACKER_DB": str(tmp_path.parent / "rasa-tracker.db"),
        "PARENTVOICE__SERVER__PER_SENDER_PER_MINUTE": "0",
    }
    url = env["PARENTVOICE__SERVER__PUBLIC_URL"]
    phones = [f"+441134960{n:03d}" for n in range(80)]  # Ofcom's drama range for Leeds
    forms = {phone: sms_params(new_sid(), phone, "hi") for phone in phones}
    twilio_api.reset()
    twilio_api.latency = 0.02

    async def post(client: httpx.AsyncClient, phone: str) -> bool:
        headers, body = signed_form(f"{url}/webhooks/twilio/sms", forms[phone])
        try:
            response = await client.post("/webhooks/twilio/sms", content=body, headers=headers)
        except httpx.HTTPError:
            return False  # the connection died with the app: not acknowledged
        return response.status_code == 200

    def replies(phone: str) -> list[str]:
        return [m["Body"] for m in twilio_api.sent if m.get("To") == phone]

    first = serve(env)
    try:
        await serving(url, first)
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            burst = [asyncio.create_task(post(client, phone)) for phone in phones]
            while sum(task.done() and task.result() for task in burst) < 20:
                await asyncio.sleep(0.01)
            os.kill(first.pid, signal.SIGKILL)
            acknowledged = dict(zip(phones, await asyncio.gather(*burst), strict=True))
        await asyncio.to_thread(first.wait)
    finally:
        if first.poll() is None:
            first.kill()
    assert 20 <= sum(acknowledged.values()) < len(phones), "the kill should land mid-burst"

    second = serve(env)
    try:
        await serving(url, second)
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            for phone, ok in acknowledged.items():
                if not ok:  # the platform tries again, with the same MessageSid
                    assert await post(client, phone)
        for _ in range(1200):
            if all(len(replies(phone)) >= 3 for phone in phones):
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.5)  # anything answered twice would arrive now
    finally:
        second.terminate()
        await asyncio.to_thread(second.wait, 15)
        twilio_api.latency = 0.0
    missing = [phone for phone in phones if len(replies(phone)) < 3]
    twice = [phone for phone in phones if len(replies(phone)) > 3]
    assert missing == [] and twice == [], (missing, twice)
    for phone in phones:
        got = replies(phone)
        assert got[0].startswith("Choose your language") and "We would like to hear" in got[1]


async def test_two_app_processes_answer_each_parent_in_order(
    tmp_path: Path,
    twilio_api: FakeTwilioAPI,
    rasa_server: str,
    rasa_token: str,
    actions_host: object,
) -> None:
    """Two `parentvoice serve` processes on one PostgreSQL behind one number. Six parents' messages
    arrive at the two by turns, each as soon as the one before is in the inbox, without waiting
    for answers, so each process keeps receiving messages of a parent the other is answering.
    Every parent is answered once per message, in order (the participant's lease), and their
    answers are stored in order."""
    name = create_pg_database("order")
    db_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    script = [("hi", "Choose your language"), ("yes", "Which service"), ("1", "What went well"),
              ("she was kind", "What could have been better"),
              ("the wait", "Did you know where to go"), ("yes the leaflet", "Did staff listen")]  # fmt: skip
    phones = [f"+441134960{n:03d}" for n in range(100, 106)]  # Ofcom's drama range for Leeds
    processes: list[subprocess.Popen[bytes]] = []
    try:
        await asyncio.to_thread(migrate, db_url)
        twilio_api.reset()
        twilio_api.latency = 0.005
        urls = []
        for _ in range(2):
            env = app_env(db_url, twilio_api.base_url, tmp_path) | {
                "PARENTVOICE__RASA__URL": rasa_server,
                "PARENTVOICE__RASA__TOKEN": rasa_token,
                "PARENTVOICE__RASA__TRACKER_DB": str(tmp_path.parent / "rasa-tracker.db"),
                "PARENTVOICE__CHANNELS__TWILIO__PER_SECOND": "1000",
                "PARENTVOICE__SERVER__PER_SENDER_PER_MINUTE": "0",
                "PARENTVOICE__LOGGING__FILE": str(tmp_path / f"order-{len(processes)}.log"),
            }
            processes.append(serve(env))
            urls.append(env["PARENTVOICE__SERVER__PUBLIC_URL"])
        for url, process in zip(urls, processes, strict=True):
            await serving(url, process)
        clients = [httpx.AsyncClient(base_url=url, timeout=30) for url in urls]
        try:
            posts = []
            for step, (text, _) in enumerate(script):
                for n, phone in enumerate(phones):
                    which = (step + n) % 2  # by turns: a parent's next message goes to the other
                    path, url = "/webhooks/twilio/sms", urls[which]
                    headers, body = signed_form(f"{url}{path}", sms_params(new_sid(), phone, text))
                    posts.append(
                        asyncio.create_task(
                            clients[which].post(path, content=body, headers=headers)
                        )
                    )
                # Next only once these are in the inbox (so arrival order is send order), but
                # without waiting for their answers: the two processes' work overlaps.
                await _wait_for_inbox(db_url, len(phones) * (step + 1))
            answered = await asyncio.gather(*posts)
            assert [r.status_code for r in answered] == [200] * len(posts), [
                r.text for r in answered if r.status_code != 200
            ][:3]

            def replies(phone: str) -> list[str]:
                return [m["Body"] for m in twilio_api.sent if m.get("To") == phone]

            expected = 3 + len(script) - 1  # the welcome is three messages
            for _ in range(600):
                if all(len(replies(phone)) >= expected for phone in phones):
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(1.0)
        finally:
            for client in clients:
                await client.aclose()
        for phone in phones:
            got = replies(phone)
            assert len(got) == expected, (phone, [text[:30] for text in got])
            wanted = [script[0][1], "We would like to hear", "We keep your answers"]
            wanted += [reply for _, reply in script[1:]]
            assert all(want in text for want, text in zip(wanted, got, strict=True)), (phone, got)
        with psycopg.connect(db_url.replace("+psycopg", "")) as conn:
            rows = conn.execute("SELECT question_id, value FROM answers ORDER BY id").fetchall()
        assert len([row for row in rows if row[0] == "went_well"]) == len(phones)
        assert {value for question, value in rows if question == "went_well"} == {"she was kind"}
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            await asyncio.to_thread(process.wait, 15)
        twilio_api.latency = 0.0
        drop_pg_database(name)


async def _wait_for_inbox(db_url: str, count: int) -> None:
    """Until the inbox holds ``count`` messages (recorded, not necessarily answered)."""
    plain = db_url.replace("+psycopg", "")
    for _ in range(600):
        with psycopg.connect(plain) as conn:
            row = conn.execute("SELECT count(*) FROM inbox").fetchone()
        if row is not None and row[0] >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the inbox never held {count} messages")
