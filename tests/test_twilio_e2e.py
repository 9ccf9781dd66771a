"""SMS and WhatsApp end to end: the real twilio SDK against a fake Twilio API on 127.0.0.1, the
real app, Rasa and database."""

from __future__ import annotations

import asyncio
import json

import httpx
from sqlalchemy import func, select

from storage import outbox
from storage.models import InboxItem, OutboxItem, Participant
from tests.conversation import Parent, new_chat_id
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.twilio_api import FakeTwilioAPI, new_sid, signed_form, sms_params, status_params
from tests.harness import WHATSAPP_TEMPLATE_SID, RunningApp


def parent(
    app: RunningApp, telegram_api: FakeTelegramAPI, twilio_api: FakeTwilioAPI, channel: str
) -> Parent:
    return Parent(app, telegram_api, new_chat_id(), channel=channel, twilio=twilio_api)


async def talk(someone: Parent, script: list[tuple[str, int]]) -> None:
    for text, replies in script:
        before = len(someone.replies())
        response = await someone.say(text)
        assert response.status_code == 200, response.text
        got = await someone.expect_replies(before, replies)
        assert len(got) == replies, f"{text!r}: {got}"


async def queue_later_message(app: RunningApp, who: Parent, kind: str, text: str) -> None:
    """A message the app decides to send later (a reminder, an outcome), as a scheduler would."""
    sessions = app.runtime.pipeline._sessions
    async with sessions.begin() as session:
        p = await session.scalar(select(Participant).where(Participant.pseudonym == who.pseudonym))
        assert p is not None
        outbox.enqueue(
            session, participant_id=p.id, channel=p.channel, kind=kind, text=text, now=app.clock()
        )
    app.runtime.sender.wake()


async def inbox_count(app: RunningApp) -> int:
    async with app.runtime.pipeline._sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(InboxItem)) or 0)


async def test_forged_or_missing_signature_gets_403_and_stores_nothing(app: RunningApp) -> None:
    url = f"{app.config.server.public_url}/webhooks/twilio/sms"
    params = sms_params(new_sid(), "+447700900998", "hello")
    headers, body = signed_form(url, params, auth_token="not-our-token")
    before = await inbox_count(app)
    async with httpx.AsyncClient(base_url=app.url) as client:
        forged = await client.post("/webhooks/twilio/sms", content=body, headers=headers)
        missing = await client.post(
            "/webhooks/twilio/sms",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        tampered_headers, _ = signed_form(url, params)
        tampered = await client.post(
            "/webhooks/twilio/sms",
            content=body.replace(b"hello", b"hullo"),
            headers=tampered_headers,
        )
        status = await client.post("/webhooks/twilio/status", content=body, headers=headers)
    assert (forged.status_code, missing.status_code, tampered.status_code, status.status_code) == (
        403,
    ) * 4
    assert await inbox_count(app) == before


async def test_sms_stop_mid_flow_one_confirmation_then_nothing_ever(
    app: RunningApp, telegram_api: FakeTelegramAPI, twilio_api: FakeTwilioAPI
) -> None:
    someone = parent(app, telegram_api, twilio_api, "sms")
    await talk(someone, [("hi", 3), ("yes", 1), ("1", 1)])
    await talk(someone, [("STOP", 1)])
    assert "We will not message you again" in someone.replies()[-1]
    await talk(someone, [("stop", 0), ("hello?", 0), ("1", 0)])
    await queue_later_message(app, someone, "reminder", "Would you like to finish telling us?")
    await asyncio.sleep(1.5)
    assert len(someone.replies()) == 6  # the later message was not sent either
    async with app.runtime.pipeline._sessions() as session:
        last = (await session.scalars(select(OutboxItem).order_by(OutboxItem.id.desc()))).first()
    assert (
        last is not None and last.status == "failed" and last.last_error == "participant opted out"
    )


async def test_sms_start_after_stop_opts_back_in(
    app: RunningApp, telegram_api: FakeTelegramAPI, twilio_api: FakeTwilioAPI
) -> None:
    someone = parent(app, telegram_api, twilio_api, "sms")
    await talk(someone, [("hi", 3), ("STOP", 1), ("START", 2)])
    assert "Happy to start?" in someone.replies()[-1]


async def test_429_then_201_is_delivered_exactly_once(
    app: RunningApp, telegram_api: FakeTelegramAPI, twilio_api: FakeTwilioAPI
) -> None:
    someone = parent(app, telegram_api, twilio_api, "sms")
    twilio_api.fail_next(429, 20429, "Too Many Requests", retry_after=1)
    await talk(someone, [("hi", 3)])
    await asyncio.sleep(1.5)
    bodies = someone.replies()
    assert len(bodies) == 3 and len(set(bodies)) == 3
    assert "We would like to hear" in bodies[1]


async def test_500_for_30_seconds_is_delivered_after(
    app: RunningApp, telegram_api: FakeTelegramAPI, twilio_api: FakeTwilioAPI
) -> None:
    someone = parent(app, telegram_api, twilio_api, "sms")
    twilio_api.fail_for(30.0, status=500)
    await someone.say("hi")
    got = await someone.expect_replies(0, 3, timeout=75)
    assert len(got) == 3 and "We would like to hear" in got[1]


async def test_whatsapp_25_hours_after_last_message_goes_as_the_template(
    app: RunningApp, telegram_api: FakeTelegramAPI, twilio_api: FakeTwilioAPI
) -> None:
    someone = parent(app, telegram_api, twilio_api, "whatsapp")
    await talk(someone, [("hi", 3), ("yes", 1)])
    app.clock.advance(hours=25)
    await queue_later_message(app, someone, "reminder", "Would you like to finish telling us?")
    got = await someone.expect_replies(4, 1)  # after the menu, welcome, consent and next question
    assert len(got) == 1
    sent = [m for m in twilio_api.sent if m.get("To") == f"whatsapp:{someone.phone}"][-1]
    assert sent.get("ContentSid") == WHATSAPP_TEMPLATE_SID and "Body" not in sent
    assert json.loads(sent["ContentVariables"]) == {"1": "Would you like to finish telling us?"}


async def test_status_callbacks_in_any_order_or_twice(
    app: RunningApp, telegram_api: FakeTelegramAPI, twilio_api: FakeTwilioAPI
) -> None:
    someone = parent(app, telegram_api, twilio_api, "sms")
    await talk(someone, [("hi", 3)])
    sessions = app.runtime.pipeline._sessions
    async with sessions() as session:
        p = await session.scalar(
            select(Participant).where(Participant.pseudonym == someone.pseudonym)
        )
        assert p is not None
        first = (
            await session.scalars(
                select(OutboxItem).where(OutboxItem.participant_id == p.id).order_by(OutboxItem.id)
            )
        ).first()
    assert first is not None and first.platform_message_id
    url = f"{app.config.server.public_url}/webhooks/twilio/status"
    async with httpx.AsyncClient(base_url=app.url) as client:
        for status in ("delivered", "sent", "delivered", "queued"):
            headers, body = signed_form(url, status_params(first.platform_message_id, status))
            assert (
                await client.post("/webhooks/twilio/status", content=body, headers=headers)
            ).status_code == 204
        headers, body = signed_form(
            url, status_params("SM" + "0" * 32, "delivered")
        )  # not ours: ignored
        assert (
            await client.post("/webhooks/twilio/status", content=body, headers=headers)
        ).status_code == 204
    async with sessions() as session:
        item = await session.get(OutboxItem, first.id)
    assert item is not None and item.delivery_status == "delivered"


async def test_twilio_21610_means_opted_out(
    app: RunningApp, telegram_api: FakeTelegramAPI, twilio_api: FakeTwilioAPI
) -> None:
    someone = parent(app, telegram_api, twilio_api, "sms")
    twilio_api.fail_next(400, 21610, "Attempt to send to unsubscribed recipient")
    await someone.say("hi")
    await asyncio.sleep(1.5)
    async with app.runtime.pipeline._sessions() as session:
        p = await session.scalar(
            select(Participant).where(Participant.pseudonym == someone.pseudonym)
        )
    assert p is not None and p.opted_out_at is not None
    assert someone.replies() == []  # the second message was not tried either
