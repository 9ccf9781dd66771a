"""Bad requests get a clear HTTP status; nothing crashes, nothing is stored, nothing is lost."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select

from storage.models import InboxItem
from tests.conversation import SECRET_HEADER, Parent, new_chat_id
from tests.fakes.telegram_api import FakeTelegramAPI, make_text_update
from tests.harness import RunningApp, rasa_unreachable


async def _inbox_count(app: RunningApp) -> int:
    async with app.runtime.pipeline._sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(InboxItem)) or 0)


async def test_bad_requests_get_clear_statuses_and_store_nothing(
    app: RunningApp, telegram_api: FakeTelegramAPI
) -> None:
    secret = app.config.channels.telegram.webhook_secret
    update = make_text_update(990_001, new_chat_id(), "hello")
    before = await _inbox_count(app)
    async with httpx.AsyncClient(base_url=app.url, timeout=10) as client:
        wrong = await client.post(
            "/webhooks/telegram", json=update, headers={SECRET_HEADER: "nope"}
        )
        missing = await client.post("/webhooks/telegram", json=update)
        malformed = await client.post(
            "/webhooks/telegram",
            content=b'{"update_id": 1, "message": ',
            headers={SECRET_HEADER: secret, "Content-Type": "application/json"},
        )
        not_update = await client.post(
            "/webhooks/telegram", json=[1, 2], headers={SECRET_HEADER: secret}
        )
        huge = await client.post(
            "/webhooks/telegram",
            content=b'{"update_id": 2, "pad": "' + b"x" * 1_000_000 + b'"}',
            headers={SECRET_HEADER: secret, "Content-Type": "application/json"},
        )

        async def chunks():  # no Content-Length: the limit must still hold
            for _ in range(20):
                yield b"x" * 65536

        streamed = await client.post(
            "/webhooks/telegram", content=chunks(), headers={SECRET_HEADER: secret}
        )
        actions_unauth = await client.post(
            "/rasa/actions/webhook", json={"next_action": "action_pv_control"}
        )
    assert wrong.status_code == 403
    assert missing.status_code == 403
    assert malformed.status_code == 400
    assert not_update.status_code == 400
    assert huge.status_code == 413
    assert streamed.status_code == 413
    assert actions_unauth.status_code == 401
    assert "error" in wrong.json() and "error" in huge.json()
    assert await _inbox_count(app) == before

    # The app is still fine: a real message right after is answered.
    parent = Parent(app, telegram_api, new_chat_id())
    response = await parent.say("hi")
    assert response.status_code == 200
    assert len(await parent.expect_replies(0, 3)) == 3


async def test_healthz_reports_app_database_and_rasa(app: RunningApp) -> None:
    async with httpx.AsyncClient(base_url=app.url) as client:
        response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"app": "ok", "database": "ok", "rasa": "ok"}


async def test_rasa_outage_keeps_the_message_and_answers_it_later(
    app: RunningApp, telegram_api: FakeTelegramAPI
) -> None:
    pipeline = app.runtime.pipeline
    parent = Parent(app, telegram_api, new_chat_id())
    async with rasa_unreachable(app):
        response = await parent.say("hi")
        assert response.status_code == 200  # acknowledged: it is safely in the inbox
        await asyncio.sleep(0.3)
        assert parent.replies() == []
        async with pipeline._sessions() as session:
            pending = await session.scalar(
                select(func.count()).where(InboxItem.status == "pending")
            )
        assert pending and pending >= 1
    await pipeline.retry_pending()
    assert len(await parent.expect_replies(0, 3)) == 3


async def test_delivery_retries_after_telegram_429_and_500(
    app: RunningApp, telegram_api: FakeTelegramAPI
) -> None:
    parent = Parent(app, telegram_api, new_chat_id())
    telegram_api.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    telegram_api.fail_next("sendMessage", 500, "Internal Server Error")
    await parent.say("hi")
    replies = await parent.expect_replies(0, 3, timeout=15)
    assert len(replies) == 3
    assert "We would like to hear" in replies[1]  # order kept despite the failures


async def test_telegram_failing_for_a_while_still_gets_every_reply_through_once_in_order(
    app: RunningApp, telegram_api: FakeTelegramAPI
) -> None:
    """Five failures in a row (two 502s, then three 429s asking for a second each): the welcome
    arrives whole, in order, each message once; the next turn is answered as usual."""
    parent = Parent(app, telegram_api, new_chat_id())
    telegram_api.fail_next("sendMessage", 502, "Bad Gateway", times=2)
    telegram_api.fail_next(
        "sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1, times=3
    )
    await parent.say("hi")
    replies = await parent.settled_replies(0, 3, timeout=30)
    assert len(replies) == 3, replies
    assert "We would like to hear" in replies[1] and "We keep your answers" in replies[2]
    await parent.say("yes")
    assert "Which service" in (await parent.settled_replies(3, 1))[0]
