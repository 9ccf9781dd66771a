"""Driving a conversation through the fake Telegram Bot API and reading what the app stored."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select

from bot.pseudonym import pseudonym
from storage.models import Answer, Conversation, Message, Participant, SafeguardingAlert
from tests.fakes.telegram_api import (
    FakeTelegramAPI,
    make_photo_update,
    make_sticker_update,
    make_text_update,
)
from tests.harness import RunningApp

_update_ids = itertools.count(1000)
_chat_ids = itertools.count(700_000_001)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def new_chat_id() -> int:
    """A chat id no other test uses."""
    return next(_chat_ids)


@dataclass
class Parent:
    """One synthetic parent chatting with the bot on Telegram."""

    app: RunningApp
    api: FakeTelegramAPI
    chat_id: int
    last_update: dict[str, Any] | None = None

    @property
    def pseudonym(self) -> str:
        return pseudonym(self.app.config.security.pseudonym_key, "telegram", str(self.chat_id))

    def replies(self) -> list[str]:
        """Every text the bot has sent this parent so far."""
        return [m["text"] for m in self.api.sent if str(m.get("chat_id")) == str(self.chat_id)]

    async def post(self, update: dict[str, Any], secret: str | None = None) -> httpx.Response:
        """Deliver an update to the app's webhook as Telegram would."""
        self.last_update = update
        headers = {SECRET_HEADER: secret or self.app.config.channels.telegram.webhook_secret}
        async with httpx.AsyncClient(base_url=self.app.url, timeout=30) as client:
            return await client.post("/webhooks/telegram", json=update, headers=headers)

    async def say(self, text: str) -> httpx.Response:
        return await self.post(make_text_update(next(_update_ids), self.chat_id, text))

    async def sticker(self) -> httpx.Response:
        return await self.post(make_sticker_update(next(_update_ids), self.chat_id))

    async def photo(self) -> httpx.Response:
        return await self.post(make_photo_update(next(_update_ids), self.chat_id))

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
        alerts = await session.scalar(
            select(func.count()).where(SafeguardingAlert.participant_id == participant.id)
        )
        return {
            "alerts": int(alerts or 0),
            "participant": participant,
            "conversations": len(convs),
            "status": latest.status if latest else None,
            "answers": answers,
            "answer_lengths": lengths,
            "messages": messages,
            "messages_in": messages_in,
        }
