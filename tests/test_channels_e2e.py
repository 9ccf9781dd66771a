"""The web chat and Telegram polling go through the same pipeline as the Telegram webhook."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace

import httpx

from tests.fakes.telegram_api import FakeTelegramAPI, make_text_update
from tests.harness import Clock, RunningApp, free_port


async def test_web_chat_talks_to_the_bot(app: RunningApp) -> None:
    session = str(uuid.uuid4())
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
        page = await client.get("/chat")
        assert page.status_code == 200 and "ParentVoice" in page.text
        sent = await client.post(
            "/chat/api/messages",
            json={"session": session, "text": "hello", "client_id": str(uuid.uuid4())},
        )
        assert sent.status_code == 202
        got: list[dict[str, object]] = []
        for _ in range(20):  # long-poll as the page does, from the last message seen
            after = int(str(got[-1]["seq"])) if got else 0
            poll = await client.get(
                "/chat/api/messages", params={"session": session, "after": after, "wait": 2}
            )
            got += poll.json()["messages"]
            if len(got) >= 3:
                break
        assert str(got[0]["text"]).startswith("Choose your language")
        assert "We would like to hear" in str(got[1]["text"])
        assert got[2]["choices"] == ["Yes", "No"]


async def test_telegram_polling_mode(app: RunningApp, telegram_api: FakeTelegramAPI) -> None:
    """`parentvoice serve --telegram-polling`: no public URL, updates fetched with getUpdates."""
    port = free_port()
    config = replace(
        app.config,
        server=replace(app.config.server, port=port, public_url=f"http://127.0.0.1:{port}"),
    )
    polling = RunningApp(config, Clock(), telegram_polling=True)
    await polling.start()
    try:
        chat_id = 880_000_123
        telegram_api.push_update(make_text_update(55_001, chat_id, "hi"))
        for _ in range(200):
            if len([m for m in telegram_api.sent if str(m["chat_id"]) == str(chat_id)]) >= 3:
                break
            await asyncio.sleep(0.05)
        texts = [m["text"] for m in telegram_api.sent if str(m["chat_id"]) == str(chat_id)]
        assert len(texts) == 3 and "We would like to hear" in texts[1]
    finally:
        await polling.stop()
