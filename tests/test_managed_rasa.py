"""`parentvoice serve` with rasa.manage: the app starts Rasa itself (as `make run` does), reports it
in /healthz, and starts it again if it dies."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from dataclasses import replace
from pathlib import Path

import httpx

from tests.harness import Clock, RunningApp, free_port, make_config


async def _health(url: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=url, timeout=5) as client:
        return (await client.get("/healthz")).json()


async def _wait_rasa(url: str, state: str, timeout: float = 120) -> None:
    for _ in range(int(timeout / 0.5)):
        if (await _health(url)).get("rasa") == state:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"rasa never became {state!r}: {await _health(url)}")


async def _chat(url: str, session: str, text: str, expect: int) -> list[str]:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        posted = await client.post(
            "/chat/api/messages",
            json={"session": session, "text": text, "client_id": str(uuid.uuid4())},
        )
        assert posted.status_code == 202
        got: list[str] = []
        for _ in range(40):
            poll = await client.get(
                "/chat/api/messages", params={"session": session, "after": 0, "wait": 2}
            )
            got = [m["text"] for m in poll.json()["messages"]]
            if len(got) >= expect:
                break
        return got


async def test_app_runs_rasa_itself_and_restarts_it(tmp_path: Path, rasa_token: str) -> None:
    port = free_port()
    config = make_config(
        tmp_path / "app", db_url=f"sqlite:///{tmp_path / 'app.db'}", port=port,
        rasa_url=f"http://127.0.0.1:{free_port()}", rasa_token=rasa_token,
        telegram_api="http://127.0.0.1:9", pseudonym_key="test-pseudonym-key-managed-0123456789",
    )  # fmt: skip
    config = replace(
        config,
        rasa=replace(config.rasa, manage=True, tracker_db=tmp_path / "managed" / "rasa-tracker.db"),
        channels=replace(
            config.channels, telegram=replace(config.channels.telegram, enabled=False)
        ),
    )
    app = RunningApp(config, Clock())
    await app.start()
    try:
        session = str(uuid.uuid4())
        # A message sent before Rasa is up is kept and answered once it is.
        early = asyncio.create_task(_chat(app.url, session, "hello", 3))
        await _wait_rasa(app.url, "ok")
        assert "We would like to hear" in (await early)[1]
        assert (tmp_path / "managed" / "rasa.log").exists()

        server = app.runtime.rasa_server
        assert server is not None and server._proc is not None
        os.kill(server._proc.pid, signal.SIGKILL)
        await _wait_rasa(app.url, "unavailable", timeout=20)
        await _wait_rasa(app.url, "ok")
        replies = await _chat(app.url, session, "yes", 4)  # the whole chat so far
        assert "Which service was it?" in replies[3]
    finally:
        await app.stop()
    assert not app.runtime.rasa_server.running  # stopped with the app
