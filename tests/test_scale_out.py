"""Scale-out on one machine: two `parentvoice serve` processes and two Rasa workers
(`parentvoice rasa run`) on one PostgreSQL, the workers sharing a PostgreSQL tracker store and a
Redis lock store. One worker is stopped part-way; its parents carry on with the other."""

from __future__ import annotations

import asyncio
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import psycopg
import redis

from bot import tracker_store
from bot.config import load_config
from bot.pseudonym import pseudonym
from bot.rasa import RasaClient
from tests.databases import create_pg_database, drop_pg_database
from tests.fakes.twilio_api import FakeTwilioAPI, new_sid, signed_form, sms_params
from tests.harness import ROOT, free_port
from tests.test_processes import _wait_for_inbox, app_env, serve, serving

LOCK_STORE = "redis://127.0.0.1:6379/3"  # a Redis database of its own, emptied before and after
SCRIPT = [("hi", "Choose your language"), ("yes", "Which service"), ("1", "What went well"),
          ("she was kind", "What could have been better"),
          ("the wait", "Did you know where to go"), ("yes the leaflet", "Did staff listen")]  # fmt: skip
STOP_WORKER_AFTER = 3  # messages each parent has sent when worker 0 stops


async def _worker_ready(url: str, process: subprocess.Popen[bytes], seconds: float = 240) -> None:
    async with httpx.AsyncClient(timeout=2) as probe:
        for _ in range(int(seconds * 2)):
            assert process.poll() is None, f"the Rasa worker at {url} exited"
            try:
                if (await probe.get(f"{url}/")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
    raise AssertionError(f"the Rasa worker at {url} did not start")


def _phones_for_both_workers(key: bytes, urls: str) -> list[str]:
    """Six drama numbers (Leeds), three taking their turns to each worker while both are up."""
    client = RasaClient(urls, "unused")
    homes: dict[int, list[str]] = {0: [], 1: []}
    for n in range(200, 400):
        phone = f"+441134960{n:03d}"
        home = homes[client.home(pseudonym(key, "sms", phone))]
        if len(home) < 3:
            home.append(phone)
    return homes[0] + homes[1]


async def test_two_apps_and_two_rasa_workers_share_the_work_and_survive_losing_a_worker(
    tmp_path: Path, twilio_api: FakeTwilioAPI
) -> None:
    app_db, tracker_db = create_pg_database("scale"), create_pg_database("scale_tracker")
    db_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{app_db}"
    tracker_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{tracker_db}"
    locks = redis.Redis.from_url(LOCK_STORE)
    locks.flushdb()
    token = secrets.token_urlsafe(16)
    rasa_ports = [free_port(), free_port()]
    rasa_urls = ",".join(f"http://127.0.0.1:{port}" for port in rasa_ports)
    key = load_config(ROOT / "config.yaml", environ={}).security.pseudonym_key
    phones = _phones_for_both_workers(key, rasa_urls)
    shared = {
        "PARENTVOICE__RASA__URL": rasa_urls,
        "PARENTVOICE__RASA__TOKEN": token,
        "PARENTVOICE__RASA__TRACKER_DB": tracker_url,
        "PARENTVOICE__RASA__LOCK_STORE": LOCK_STORE,
        "PARENTVOICE__CHANNELS__TWILIO__PER_SECOND": "1000",
        "PARENTVOICE__SERVER__PER_SENDER_PER_MINUTE": "0",
    }
    apps = [app_env(db_url, twilio_api.base_url, tmp_path) | shared for _ in range(2)]
    urls = [env["PARENTVOICE__SERVER__PUBLIC_URL"] for env in apps]
    workers: list[subprocess.Popen[bytes]] = []
    processes: list[subprocess.Popen[bytes]] = []
    try:
        twilio_api.reset()
        for n, port in enumerate(rasa_ports):
            # Each worker calls the actions of an app of its own (any app can answer them). The
            # first starts alone: Rasa makes the tracker table of a new database when it starts.
            command = [sys.executable, "-m", "bot.cli", "rasa", "run", f"--port={port}",
                       f"--actions-url={urls[n]}/rasa/actions/webhook"]  # fmt: skip
            log = (tmp_path / f"worker-{n}.out").open("wb")
            workers.append(subprocess.Popen(command, cwd=ROOT, env=apps[n], stdout=log, stderr=log))
            await _worker_ready(f"http://127.0.0.1:{port}", workers[-1])
        for env in apps:
            processes.append(serve(env))
        for url, process in zip(urls, processes, strict=True):
            await serving(url, process)

        def replies(phone: str) -> list[str]:
            return [m["Body"] for m in twilio_api.sent if m.get("To") == phone]

        async def answered(step: int) -> None:
            due = 3 + step  # the welcome is three messages, then one reply each
            for _ in range(1200):
                if all(len(replies(phone)) >= due for phone in phones):
                    return
                await asyncio.sleep(0.05)

        async with (
            httpx.AsyncClient(base_url=urls[0], timeout=30) as first,
            httpx.AsyncClient(base_url=urls[1], timeout=30) as second,
        ):
            clients = [first, second]
            for step, (text, _) in enumerate(SCRIPT):
                if step == STOP_WORKER_AFTER:
                    await answered(step - 1)
                    workers[0].send_signal(signal.SIGTERM)  # `parentvoice rasa run` stops Rasa
                    assert await asyncio.to_thread(workers[0].wait, 30) == 0
                posts = []
                for n, phone in enumerate(phones):
                    which = (step + n) % 2  # a parent's next message goes to the other app
                    path = "/webhooks/twilio/sms"
                    headers, body = signed_form(
                        f"{urls[which]}{path}", sms_params(new_sid(), phone, text)
                    )
                    posts.append(
                        asyncio.create_task(
                            clients[which].post(path, content=body, headers=headers)
                        )
                    )
                    await _wait_for_inbox(db_url, len(phones) * step + n + 1)
                responses = await asyncio.gather(*posts)
                assert [r.status_code for r in responses] == [200] * len(phones)
            await answered(len(SCRIPT) - 1)
            await asyncio.sleep(1.0)  # anything sent twice would arrive by now

        wanted = [SCRIPT[0][1], "We would like to hear", "We keep your answers"]
        wanted += [reply for _, reply in SCRIPT[1:]]
        for phone in phones:
            got = replies(phone)
            assert len(got) == len(wanted), (phone, [text[:30] for text in got])
            assert all(want in text for want, text in zip(wanted, got, strict=True)), (phone, got)
        # Every conversation is in the shared tracker store; erasure reaches it there too.
        senders = [pseudonym(key, "sms", phone) for phone in phones]
        with psycopg.connect(tracker_url.replace("+psycopg", "")) as conn:
            stored = {row[0] for row in conn.execute("SELECT DISTINCT sender_id FROM events")}
        assert set(senders) <= stored
        assert await asyncio.to_thread(tracker_store.delete_sender, tracker_url, senders[0]) > 0
        # The lock store is really Redis: the running worker holds a connection to its database,
        # and every conversation lock it took has been released.
        ours = locks.client_id()
        theirs = [c for c in locks.client_list() if int(c["db"]) == 3 and int(c["id"]) != ours]
        assert theirs, "the Rasa workers never used the Redis lock store"
        assert list(locks.scan_iter("parentvoice*")) == [], "a conversation lock was left held"
    finally:
        for process in [*processes, *workers]:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in [*processes, *workers]:
            try:
                await asyncio.to_thread(process.wait, 30)
            except subprocess.TimeoutExpired:
                process.kill()
        locks.flushdb()
        locks.close()
        drop_pg_database(app_db)
        drop_pg_database(tracker_db)
