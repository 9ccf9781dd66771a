"""Safeguarding through the whole app: help first, staff told, the chat carries on, answers coded.

A parent chats on Telegram (the real SDK against the fake Bot API) with the real Rasa. The staff
webhook is a small HTTPS-shaped receiver on 127.0.0.1 that checks the signature like a real one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.channels.staff import SIGNATURE_HEADER, signature
from storage.models import Answer, OutboxItem, SafeguardingAlert
from tests.conversation import Parent, new_chat_id
from tests.fakes.loopback import LoopbackServer
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.harness import STAFF_CHAT_ID, Clock, RunningApp, free_port, make_config

SECRET = "staff-webhook-secret-synthetic"


class StaffInbox:
    """Receives staff alerts; answers 503 to the first one, as a real endpoint sometimes does."""

    def __init__(self) -> None:
        self.alerts: list[dict[str, str]] = []
        self.bad_signatures = 0
        self.refused_once = False

    async def receive(self, request: Request) -> Response:
        body = await request.body()
        if request.headers.get(SIGNATURE_HEADER) != signature(SECRET, body):
            self.bad_signatures += 1
            return Response(status_code=401)
        if not self.refused_once:
            self.refused_once = True
            return Response(status_code=503)
        self.alerts.append(json.loads(body))
        return Response(status_code=204)


@pytest.fixture
async def staff_inbox() -> AsyncIterator[tuple[StaffInbox, str]]:
    inbox = StaffInbox()
    server = LoopbackServer(
        Starlette(routes=[Route("/alerts", inbox.receive, methods=["POST"])]), "staff webhook"
    )
    await server.start()
    try:
        yield inbox, f"http://127.0.0.1:{server.port}/alerts"
    finally:
        await server.stop()


@pytest.fixture
async def safeguarding_app(
    session_dir: Path,
    rasa_server: str,
    rasa_token: str,
    actions_host: RunningApp,
    telegram_api: FakeTelegramAPI,
    staff_inbox: tuple[StaffInbox, str],
) -> AsyncIterator[RunningApp]:
    tmp = session_dir / "safeguarding"
    tmp.mkdir(exist_ok=True)
    config = make_config(
        tmp,
        db_url=f"sqlite:///{tmp / f'pv-{free_port()}.db'}",
        port=free_port(),
        rasa_url=rasa_server,
        rasa_token=rasa_token,
        telegram_api=telegram_api.base_url,
        pseudonym_key="test-pseudonym-key-safeguarding-0123",
        extra_env={
            "PARENTVOICE__SAFEGUARDING__STAFF_WEBHOOK_URL": staff_inbox[1],
            "PARENTVOICE__SAFEGUARDING__STAFF_WEBHOOK_SECRET": SECRET,
            "PARENTVOICE__SAFEGUARDING__HELPLINES": json.dumps({"samaritans": "116 999 (test)"}),
        },
    )
    running = RunningApp(config, Clock())
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def _until(condition, seconds: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


async def test_disclosure_mid_form_gets_help_first_staff_are_told_and_the_chat_goes_on(
    safeguarding_app: RunningApp,
    telegram_api: FakeTelegramAPI,
    staff_inbox: tuple[StaffInbox, str],
) -> None:
    parent = Parent(safeguarding_app, telegram_api, new_chat_id())
    inbox, _ = staff_inbox

    async def say(text: str, replies: int) -> list[str]:
        before = len(parent.replies())
        response = await parent.say(text)
        assert response.status_code == 200
        return await parent.expect_replies(before, replies)

    await say("hi", 3)
    await say("yes", 1)  # takes part
    assert "what went well" in (await say("1", 1))[0].lower()
    went_well = await say("she was kind and listened to me", 1)
    assert "could have been better" in went_well[0].lower()

    # Zayn's name is redacted everywhere; the help comes before the next question.
    got = await say("zayn is fine but i keep thinking everyone would be better off without me", 2)
    assert "not watched in real time" in got[0] and "116 999 (test)" in got[0]
    assert "did you know where to go" in got[1].lower()

    # The staff chat and the webhook both hear about it: category, pseudonym, redacted text.
    who = parent.pseudonym[:12]
    await _until(
        lambda: any(m["chat_id"] == STAFF_CHAT_ID and who in m["text"] for m in telegram_api.sent)
    )
    await _until(lambda: len(inbox.alerts) == 1, seconds=15.0)
    staff_text = next(
        m["text"] for m in telegram_api.sent if m["chat_id"] == STAFF_CHAT_ID and who in m["text"]
    )
    assert "self harm" in staff_text and "[PERSON_1]" in staff_text and "zayn" not in staff_text
    assert inbox.alerts[0]["event"] == "safeguarding_alert"
    assert inbox.alerts[0]["text"] == staff_text
    assert inbox.bad_signatures == 0 and inbox.refused_once  # retried after the 503

    sessions = safeguarding_app.runtime.pipeline._sessions
    for _ in range(200):  # the receiver has it; the sender records "sent" just after
        async with sessions() as session:
            alerts = list(await session.scalars(select(SafeguardingAlert)))
            staff_rows = list(
                await session.scalars(select(OutboxItem).where(OutboxItem.kind == "staff_alert"))
            )
            answer = await session.scalar(select(Answer).where(Answer.question_id == "went_well"))
        if len(staff_rows) == 2 and all(r.status == "sent" for r in staff_rows):
            break
        await asyncio.sleep(0.05)
    assert len(alerts) == 1 and alerts[0].categories and "self_harm" in alerts[0].categories
    assert "zayn" not in alerts[0].redacted_text
    assert sorted(r.channel for r in staff_rows) == ["staff_telegram", "staff_webhook"]
    assert all(r.status == "sent" for r in staff_rows)
    # The earlier free-text answer was coded as it was stored.
    assert answer is not None and answer.sentiment == "positive"
    assert "communication_parent_as_expert" in [t for t, _ in answer.themes or []]

    # The flow carries on normally after the disclosure.
    got = await say("yes the leaflet was clear", 1)
    assert "did staff listen" in got[0].lower()


@pytest.fixture
async def rasa_layer_app(
    session_dir: Path,
    rasa_server: str,
    rasa_token: str,
    actions_host: RunningApp,
    telegram_api: FakeTelegramAPI,
) -> AsyncIterator[RunningApp]:
    """The app with its own classifier switched off, so only patterns and Rasa's NLU can fire."""
    tmp = session_dir / "safeguarding-rasa"
    tmp.mkdir(exist_ok=True)
    config = make_config(
        tmp,
        db_url=f"sqlite:///{tmp / f'pv-{free_port()}.db'}",
        port=free_port(),
        rasa_url=rasa_server,
        rasa_token=rasa_token,
        telegram_api=telegram_api.base_url,
        pseudonym_key="test-pseudonym-key-safeguarding-rasa-01",
        extra_env={"PARENTVOICE__SAFEGUARDING__CLASSIFIER": "false"},
    )
    running = RunningApp(config, Clock())
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


async def test_rasa_nlu_layer_catches_what_the_patterns_miss_first_message_and_mid_form(
    rasa_layer_app: RunningApp, telegram_api: FakeTelegramAPI
) -> None:
    from bot.safeguarding import patterns_match

    poisoning = "she drank white spirit from the shed"
    blue = "shes gone blue round her lips"
    assert not patterns_match(poisoning) and not patterns_match(blue)  # only Rasa can see these
    parent = Parent(rasa_layer_app, telegram_api, new_chat_id())

    async def say(text: str, replies: int) -> list[str]:
        before = len(parent.replies())
        assert (await parent.say(text)).status_code == 200
        return await parent.expect_replies(before, replies)

    # The very first message (no turn yet: Rasa's NLU is asked directly), then the intro.
    got = await say(poisoning, 4)
    assert "not watched in real time" in got[0] and "999" in got[0]
    assert got[1].startswith("Choose your language")  # a first message: the menu and the welcome
    assert "thank you for stopping by" in got[2].lower() and "happy to start" in got[3].lower()
    await say("yes", 1)
    await say("1", 1)
    # Mid-form: the action endpoint reports Rasa's disclosure intent; help comes first and the
    # message is still taken as the answer, so the next question follows.
    got = await say(blue, 2)
    assert "not watched in real time" in got[0] and "999" in got[0]
    assert "could have been better" in got[1].lower()

    async with rasa_layer_app.runtime.pipeline._sessions() as session:
        alerts = list(await session.scalars(select(SafeguardingAlert)))
    assert [a.categories for a in alerts] == [["medical_emergency"], ["medical_emergency"]]
