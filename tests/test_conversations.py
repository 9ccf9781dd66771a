"""Table-driven conversation cases (tests/flows/<flow>.cases.yaml) through Telegram and real Rasa."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import load_config
from flows.spec import load_flows
from tests.conversation import CHANNELS, Parent, new_chat_id, stored
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.fakes.twilio_api import FakeTwilioAPI
from tests.harness import ROOT, STAFF_CHAT_ID, RunningApp

CASES_DIR = Path(__file__).parent / "flows"


def _load_cases() -> list[Any]:
    params = []
    for path in sorted(CASES_DIR.glob("*.cases.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for case in data["cases"]:
            params.append(pytest.param(data["flow"], case, id=f"{data['flow']}: {case['name']}"))
    return params


def _flatten(steps: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for step in steps:
        out.extend(_flatten(step) if isinstance(step, list) else [step])
    return out


def test_every_flow_has_conversation_cases() -> None:
    config = load_config(ROOT / "config.yaml")
    for flow_id in load_flows(config.flows.dir).flows:
        path = CASES_DIR / f"{flow_id}.cases.yaml"
        assert path.exists(), f"flow {flow_id!r} has no conversation cases ({path})"
        assert yaml.safe_load(path.read_text())["cases"], f"{path} has no cases"


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize(("flow_id", "case"), _load_cases())
async def test_conversation_case(
    app: RunningApp,
    telegram_api: FakeTelegramAPI,
    twilio_api: FakeTwilioAPI,
    channel: str,
    flow_id: str,
    case: dict[str, Any],
) -> None:
    assert flow_id == app.config.flows.default  # one flow so far; starting others comes later
    parent = Parent(app, telegram_api, new_chat_id(), channel=channel, twilio=twilio_api)
    for number, step in enumerate(_flatten(case["steps"]), 1):
        where = f"step {number} {step}"
        if "advance_hours" in step:
            app.clock.advance(hours=step["advance_hours"])
            continue
        before = len(parent.replies())
        if "send" in step:
            response = await parent.say(str(step["send"]))
        elif step.get("sticker"):
            response = await parent.sticker()
        elif step.get("photo"):
            response = await parent.photo()
        elif "send_long" in step:
            text = ("we waited a long time and nobody explained why " * 200)[: step["send_long"]]
            response = await parent.say(text)
        elif step.get("resend_last"):
            assert parent.last_update is not None
            response = await parent.post(parent.last_update)
        else:
            raise AssertionError(f"unknown step {step}")
        assert response.status_code == 200, where
        expected = step["replies"]
        got = await parent.expect_replies(before, len(expected))
        assert len(got) == len(expected), f"{where}: expected {len(expected)} replies, got {got}"
        for want, text in zip(expected, got, strict=True):
            assert want.lower() in text.lower(), f"{where}: {want!r} not in {text!r}"
    await asyncio.sleep(0.1)
    expect = case.get("expect", {})
    _check_stored(await stored(app, parent.pseudonym), expect)
    if "staff_alerts" in expect:  # the safeguarding lead's chat heard about this parent
        staff = [
            m for m in telegram_api.sent
            if m["chat_id"] == STAFF_CHAT_ID and parent.pseudonym[:12] in m["text"]
        ]  # fmt: skip
        for _ in range(40):
            if len(staff) >= expect["staff_alerts"]:
                break
            await asyncio.sleep(0.05)
            staff = [
                m for m in telegram_api.sent
                if m["chat_id"] == STAFF_CHAT_ID and parent.pseudonym[:12] in m["text"]
            ]  # fmt: skip
        assert len(staff) == expect["staff_alerts"], staff
    assert not telegram_api.unexpected
    assert not twilio_api.unexpected


def _check_stored(actual: dict[str, Any], expect: dict[str, Any]) -> None:
    if expect.get("erased"):
        assert actual["participant"] is None, "participant should be erased"
        return
    participant = actual["participant"]
    assert participant is not None
    if "status" in expect:
        assert actual["status"] == expect["status"]
    if "conversations" in expect:
        assert actual["conversations"] == expect["conversations"]
    if "answers" in expect:
        if expect["answers"] == {}:
            assert actual["answers"] == {}
        for question, value in expect["answers"].items():
            assert actual["answers"].get(question) == value, (
                f"answer {question}: {actual['answers']}"
            )
    for question, length in expect.get("answer_lengths", {}).items():
        assert actual["answer_lengths"].get(question) == length
    for key in ("messages", "messages_in", "alerts", "alert_categories"):
        if key in expect:
            assert actual[key] == expect[key], f"{key}: {actual[key]}"
    for key, value in expect.get("participant", {}).items():
        if key == "opted_out":
            assert (participant.opted_out_at is not None) == value
        else:
            assert getattr(participant, key) == value, key
