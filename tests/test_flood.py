"""Flood control: one sender writing 100 messages a minute is slowed to what a person could
type, a parent chatting at the same time notices nothing, and a disclosure or an SMS STOP in
the flood still gets through."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.flood import FloodControl
from storage.models import InboxItem, Participant
from tests.conversation import Parent, new_chat_id
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.harness import RunningApp


class _Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_the_refill_rate() -> None:
    clock = _Ticks()
    flood = FloodControl(20, clock=clock)
    assert [flood.allow("a") for _ in range(12)] == [True] * 10 + [False] * 2
    assert flood.allow("b")  # someone else is not affected
    clock.now += 3.0  # 20 a minute: one more every 3 seconds
    assert flood.allow("a") and not flood.allow("a")
    clock.now += 60.0
    assert sum(flood.allow("a") for _ in range(30)) == 10  # refills to the burst, no further
    assert flood.dropped == 2 + 1 + 20


def test_zero_turns_it_off() -> None:
    flood = FloodControl(0)
    assert all(flood.allow("a") for _ in range(1000))


async def _inbound_count(app: RunningApp, who: str) -> int:
    async with app.runtime.pipeline._sessions() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(InboxItem)
                .join(Participant, Participant.id == InboxItem.participant_id)
                .where(Participant.pseudonym == who)
            )
        )


async def test_one_sender_flooding_is_throttled_and_others_are_not(
    app: RunningApp, telegram_api: FakeTelegramAPI, twilio_api: FakeTwilioAPI
) -> None:
    pipeline = app.runtime.pipeline
    kept = pipeline._flood
    pipeline._flood = FloodControl(20)  # the default in config.yaml
    flooder = Parent(app, telegram_api, new_chat_id(), channel="sms", twilio=twilio_api)
    parent = Parent(app, telegram_api, new_chat_id())
    try:

        async def flood() -> list[int]:
            statuses = []
            for n in range(100):
                text = "i want to end my life" if n == 60 else f"spam {n}"
                statuses.append((await flooder.say(text)).status_code)
            statuses.append((await flooder.say("STOP")).status_code)
            return statuses

        async def chat() -> list[str]:
            said = []
            for text, replies in (("hi", 3), ("yes", 1), ("1", 1), ("she was kind", 1)):
                before = len(parent.replies())
                await parent.say(text)
                said += await parent.expect_replies(before, replies)
            return said

        statuses, said = await asyncio.gather(flood(), chat())
    finally:
        pipeline._flood = kept

    assert statuses == [200] * 101  # acknowledged, so the platform does not resend them
    # A burst of 10, a few more as the bucket refills, the disclosure and the STOP.
    kept_in = await _inbound_count(app, flooder.pseudonym)
    assert 12 <= kept_in <= 20, kept_in
    assert len(said) == 6 and said[-1].startswith("What could have been better")
    await asyncio.sleep(0.5)
    replies = flooder.replies()
    assert any("not watched in real time" in text for text in replies)  # the disclosure
    assert "We will not message you again" in replies[-1]  # STOP, honoured
