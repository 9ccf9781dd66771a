"""Driving a conversation through the fake Telegram Bot API and reading what the app stored."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import func, select

from bot.pseudonym import pseudonym
from storage.models import (
    Answer,
    Conversation,
    InboxItem,
    Message,
    OutboxItem,
    Participant,
    SafeguardingAlert,
)
from tests.fakes.telegram_api import (
    FakeTelegramAPI,
    make_photo_update,
    make_sticker_update,
    make_text_update,
)
from tests.fakes.twilio_api import FakeTwilioAPI, new_sid, signed_form, sms_params, whatsapp_params
from tests.harness import RunningApp

_update_ids = itertools.count(1000)
_chat_ids = itertools.count(700_000_001)
# Ofcom's ranges for drama, which are never anyone's number: mobiles 07700 900000-900999 (from
# 100: lower ones are the fakes' and fixed tests'), then London 020 7946 0000-0999 and Manchester
# 0161 496 0000-0999. (Leeds, 0113 496 0xxx, is left for tests that pick their own numbers.)
_PHONES = itertools.chain(
    (f"+447700900{n:03d}" for n in range(100, 1000)),
    (f"+442079460{n:03d}" for n in range(1000)),
    (f"+441614960{n:03d}" for n in range(1000)),
)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
CHANNELS = ("telegram", "sms", "whatsapp")


def new_chat_id() -> int:
    """A chat id no other test uses."""
    return next(_chat_ids)


def new_phone() -> str:
    """A synthetic UK number no other test uses (Ofcom's ranges for drama)."""
    found = next(_PHONES, None)
    assert found is not None, "out of synthetic numbers"
    return found


@dataclass
class Parent:
    """One synthetic parent chatting with the bot on Telegram, SMS or WhatsApp, through each
    platform's webhook as the platform would call it; replies are read from the fake APIs."""

    app: RunningApp
    api: FakeTelegramAPI
    chat_id: int
    channel: str = "telegram"
    twilio: FakeTwilioAPI | None = None
    phone: str = field(default_factory=new_phone)
    last_update: dict[str, Any] | None = None

    @property
    def address(self) -> str:
        """What the channel knows them by: a Telegram chat id or a phone number."""
        return str(self.chat_id) if self.channel == "telegram" else self.phone

    @property
    def pseudonym(self) -> str:
        return pseudonym(self.app.config.security.pseudonym_key, self.channel, self.address)

    def replies(self) -> list[str]:
        """Every text the bot has sent this parent so far (a template shows as its variables)."""
        if self.channel == "telegram":
            return [m["text"] for m in self.api.sent if str(m.get("chat_id")) == str(self.chat_id)]
        assert self.twilio is not None
        to = self.phone if self.channel == "sms" else f"whatsapp:{self.phone}"
        return [
            m.get("Body") or f"[template] {m.get('ContentVariables', '')}"
            for m in self.twilio.sent
            if m.get("To") == to
        ]

    async def post(self, update: dict[str, Any], secret: str | None = None) -> httpx.Response:
        """Deliver an update (Telegram) or form (Twilio) to the app's webhook, as the platform would."""
        self.last_update = update
        async with httpx.AsyncClient(base_url=self.app.url, timeout=30) as client:
            if self.channel == "telegram":
                headers = {
                    SECRET_HEADER: secret or self.app.config.channels.telegram.webhook_secret
                }
                return await client.post("/webhooks/telegram", json=update, headers=headers)
            path = f"/webhooks/twilio/{self.channel}"
            headers, body = signed_form(f"{self.app.config.server.public_url}{path}", update)
            return await client.post(path, content=body, headers=headers)

    def _twilio_params(self, text: str, num_media: int = 0) -> dict[str, str]:
        make = sms_params if self.channel == "sms" else whatsapp_params
        return make(new_sid(), self.phone, text, num_media=num_media)

    async def say(self, text: str) -> httpx.Response:
        if self.channel != "telegram":
            return await self.post(self._twilio_params(text))
        return await self.post(make_text_update(next(_update_ids), self.chat_id, text))

    async def sticker(self) -> httpx.Response:
        if self.channel != "telegram":
            return await self.post(self._twilio_params("", num_media=1))
        return await self.post(make_sticker_update(next(_update_ids), self.chat_id))

    async def photo(self) -> httpx.Response:
        if self.channel != "telegram":
            return await self.post(self._twilio_params("", num_media=1))
        return await self.post(make_photo_update(next(_update_ids), self.chat_id))

    async def settled_replies(self, before: int, count: int, timeout: float = 10.0) -> list[str]:
        """The replies since ``before`` once the app has nothing left to do for this parent:
        every message answered, every reply handed to the platform (faster and stricter than
        waiting a fixed moment for extras)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if len(self.replies()) >= before + count and not await self._busy():
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.02)
        return self.replies()[before:]

    async def _busy(self) -> bool:
        """True while a message of this parent's awaits an answer, or a reply awaits sending."""
        async with self.app.runtime.pipeline._sessions() as session:
            participant_id = await session.scalar(
                select(Participant.id).where(Participant.pseudonym == self.pseudonym)
            )
            if participant_id is None:
                return False
            waiting = await session.scalar(
                select(func.count())
                .select_from(InboxItem)
                .where(InboxItem.participant_id == participant_id, InboxItem.status == "pending")
            )
            sending = await session.scalar(
                select(func.count())
                .select_from(OutboxItem)
                .where(
                    OutboxItem.participant_id == participant_id,
                    OutboxItem.status.in_(("pending", "sending")),
                )
            )
            return bool(waiting or sending)

    async def expect_replies(self, before: int, count: int, timeout: float = 10.0) -> list[str]:
        """Wait for exactly ``count`` new replies (and a moment more, to catch extras)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.replies()) < before + count:
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        return self.replies()[before:]


async def stored(app: RunningApp, who: str) -> dict[str, Any]:
    """What the app stored about one participant, in plain values."""
    sessions = app.runtime.pipeline._sessions
    async with sessions() as session:
        participant = await session.scalar(select(Participant).where(Participant.pseudonym == who))
        if participant is None:
            return {"participant": None}
        convs = list(
            await session.scalars(
                select(Conversation)
                .where(Conversation.participant_id == participant.id)
                .order_by(Conversation.id)
            )
        )
        latest = convs[-1] if convs else None
        answers = {}
        lengths = {}
        messages = messages_in = 0
        if latest is not None:
            for answer in await session.scalars(
                select(Answer).where(Answer.conversation_id == latest.id)
            ):
                answers[answer.question_id] = answer.value
                lengths[answer.question_id] = len(answer.value)
            messages = int(
                await session.scalar(
                    select(func.count()).where(Message.conversation_id == latest.id)
                )
                or 0
            )
            messages_in = int(
                await session.scalar(
                    select(func.count()).where(
                        Message.conversation_id == latest.id, Message.direction == "in"
                    )
                )
                or 0
            )
        alert_rows = list(
            await session.scalars(
                select(SafeguardingAlert).where(SafeguardingAlert.participant_id == participant.id)
            )
        )
        return {
            "alerts": len(alert_rows),
            "alert_categories": sorted({c for a in alert_rows for c in (a.categories or [])}),
            "participant": participant,
            "conversations": len(convs),
            "status": latest.status if latest else None,
            "answers": answers,
            "answer_lengths": lengths,
            "messages": messages,
            "messages_in": messages_in,
        }
