"""Faults the parent must not feel: while Rasa is unreachable, a message is kept, the parent hears
once that it is safe ("bear with us") when it has waited more than 30 seconds, and everything is
answered, in order, when Rasa is back."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.pipeline import HOLD_NOTICE_AFTER
from flows.spec import load_flows
from storage.models import InboxItem
from tests.conversation import Parent, new_chat_id
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.harness import ROOT, RunningApp, rasa_unreachable

HELD = load_flows(ROOT / "flows").messages.texts["held"]


async def _pending(app: RunningApp) -> int:
    async with app.runtime.pipeline._sessions() as session:
        return int(await session.scalar(select(func.count()).where(InboxItem.status == "pending")))


async def test_rasa_down_for_a_minute_one_bear_with_us_then_every_answer(
    app: RunningApp, telegram_api: FakeTelegramAPI
) -> None:
    pipeline = app.runtime.pipeline
    parent = Parent(app, telegram_api, new_chat_id())
    async with rasa_unreachable(app):
        assert (await parent.say("hi")).status_code == 200  # acknowledged: safe in the inbox
        app.clock.advance(seconds=HOLD_NOTICE_AFTER.total_seconds() - 10)
        await pipeline.retry_pending()
        assert await parent.expect_replies(0, 0) == []  # 20 s: nothing yet

        app.clock.advance(seconds=15)  # 35 s without an answer
        await pipeline.retry_pending()
        assert await parent.expect_replies(0, 1) == [HELD["en"]]

        assert (await parent.say("maybe")).status_code == 200
        app.clock.advance(seconds=30)  # a minute in all: still one notice for this wait
        await pipeline.retry_pending()
        assert await parent.expect_replies(1, 0) == []
        assert await _pending(app) >= 2

    await pipeline.retry_pending()  # Rasa is back: both messages answered, in order
    got = await parent.expect_replies(1, 5)
    assert got[0].startswith("Choose your language") and "We would like to hear" in got[1]
    assert got[2].startswith("We keep your answers")
    assert "YES or NO" in got[3] and got[4].startswith("We keep your answers")  # re-asked
    assert len(got) == 5


async def test_no_bear_with_us_after_stop(app: RunningApp, telegram_api: FakeTelegramAPI) -> None:
    pipeline = app.runtime.pipeline
    parent = Parent(app, telegram_api, new_chat_id())
    await parent.say("hi")
    await parent.expect_replies(0, 3)
    await parent.say("stop")
    assert len(await parent.expect_replies(3, 1)) == 1
    async with rasa_unreachable(app):
        await parent.say("why did you stop")
        app.clock.advance(minutes=2)
        assert await pipeline.hold_notices() == 0  # they asked for no more messages
    await pipeline.retry_pending()
    assert await parent.expect_replies(4, 0) == []
