"""Fuzzing every webhook with Hypothesis: whatever arrives, the app answers below 500 and stores
nothing from a malformed request (and stays well: a real message right after is answered).

Each example is one real HTTP request to the running app (uvicorn on 127.0.0.1, the session's
database). The tests are plain functions driving the session's event loop, because Hypothesis
runs each example itself; the loop is idle between tests, so running it here is safe.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import string
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from storage.models import InboxItem, Participant
from tests.conversation import SECRET_HEADER, new_chat_id
from tests.fakes.telegram_api import FakeTelegramAPI, make_text_update
from tests.fakes.twilio_api import new_sid, signed_form, sms_params, whatsapp_params
from tests.harness import RunningApp

T = TypeVar("T")
UPDATE_IDS = itertools.count(70_000_000)
FUZZ = settings(
    max_examples=150,
    deadline=None,  # each example is a real request; timing is not what is tested here
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,  # the same examples every run: a failure here is a bug, never luck
)
E164 = re.compile(r"\+[1-9]\d{6,14}")

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
wrong_types = st.one_of(
    st.none(), st.text(max_size=10), st.lists(st.integers(), max_size=2), st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False), st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.integers(min_value=2**63, max_value=2**70),
)  # fmt: skip
# Fields of a real text update, by path, each of which a malformed update may get wrong.
UPDATE_FIELDS = [
    ("update_id",), ("message",), ("message", "message_id"), ("message", "date"),
    ("message", "chat"), ("message", "chat", "id"), ("message", "chat", "type"),
    ("message", "text"), ("message", "from"), ("message", "from", "id"),
]  # fmt: skip


def run(app: RunningApp, coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on the session's loop, where the app is served."""
    assert app._task is not None
    return app._task.get_loop().run_until_complete(coro)


async def _stored(app: RunningApp) -> tuple[int, int]:
    async with app.runtime.pipeline._sessions() as session:
        inbox = await session.scalar(select(func.count()).select_from(InboxItem))
        people = await session.scalar(select(func.count()).select_from(Participant))
        return int(inbox or 0), int(people or 0)


async def _post(app: RunningApp, path: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=app.url, timeout=15) as client:
        return await client.post(path, **kwargs)


def _corrupt(update: dict[str, Any], path: tuple[str, ...], value: Any, drop: bool) -> None:
    target = update
    for key in path[:-1]:
        target = target[key]
    if drop:
        del target[path[-1]]
    else:
        target[path[-1]] = value


def _malformed_update_is_rejected(update: dict[str, Any], path: tuple[str, ...]) -> bool:
    """Some "corruptions" leave a valid update (Telegram itself omits ``from`` in channels):
    those may be stored. Everything else must not be."""
    return path not in {("message", "from"), ("message", "from", "id")}


def _check(
    app: RunningApp, response: httpx.Response, before: tuple[int, int], stored_ok: bool
) -> None:
    assert response.status_code < 500, (response.status_code, response.text)
    if not stored_ok:
        assert run(app, _stored(app)) == before, "a malformed request left something stored"


# -- Telegram --------------------------------------------------------------------------------


@FUZZ
@given(body=json_values)
def test_telegram_any_json(app: RunningApp, body: Any) -> None:
    before = run(app, _stored(app))
    secret = app.config.channels.telegram.webhook_secret
    response = run(
        app, _post(app, "/webhooks/telegram", json=body, headers={SECRET_HEADER: secret})
    )
    _check(app, response, before, stored_ok=False)


@FUZZ
@given(
    path=st.sampled_from(UPDATE_FIELDS),
    value=wrong_types,
    drop=st.booleans(),
)
def test_telegram_update_with_one_field_wrong(
    app: RunningApp, path: tuple[str, ...], value: Any, drop: bool
) -> None:
    update_id = next(UPDATE_IDS)  # new each call: a replay of an id is ignored, not re-checked
    update = make_text_update(update_id, 650_000_000 + update_id % 1000, "fuzzed hello")
    update["message"]["from"] = {"id": 650_000_000 + update_id % 1000, "is_bot": False,
                                 "first_name": "Synthetic"}  # fmt: skip
    _corrupt(update, path, value, drop)
    before = run(app, _stored(app))
    secret = app.config.channels.telegram.webhook_secret
    response = run(
        app, _post(app, "/webhooks/telegram", json=update, headers={SECRET_HEADER: secret})
    )
    _check(app, response, before, stored_ok=not _malformed_update_is_rejected(update, path))


@FUZZ
@given(body=st.binary(max_size=300), content_type=st.sampled_from(
    ["application/json", "text/plain", "application/x-www-form-urlencoded", ""]
))  # fmt: skip
def test_telegram_raw_bytes(app: RunningApp, body: bytes, content_type: str) -> None:
    before = run(app, _stored(app))
    secret = app.config.channels.telegram.webhook_secret
    headers = {SECRET_HEADER: secret, "Content-Type": content_type}
    response = run(app, _post(app, "/webhooks/telegram", content=body, headers=headers))
    _check(app, response, before, stored_ok=False)


# -- Twilio (SMS and WhatsApp) -----------------------------------------------------------------

form_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)


@st.composite
def malformed_twilio_forms(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    """A signed incoming-message form with MessageSid or From missing or wrong, or NumMedia
    not a number; other fields arbitrary."""
    channel = draw(st.sampled_from(["sms", "whatsapp"]))
    make = sms_params if channel == "sms" else whatsapp_params
    params = make(new_sid(), "+447700900555", draw(form_text))
    params |= draw(st.dictionaries(form_text, form_text, max_size=3))
    fault = draw(st.sampled_from(["no_sid", "no_from", "bad_from", "other_channel", "bad_media"]))
    if fault == "no_sid":
        params.pop("MessageSid", None)
        params.pop("SmsMessageSid", None)
    elif fault == "no_from":
        params.pop("From", None)
    elif fault == "bad_from":
        bad = draw(form_text.filter(lambda t: not E164.fullmatch(t.removeprefix("whatsapp:"))))
        params["From"] = bad
    elif fault == "other_channel":
        params["From"] = "whatsapp:+447700900555" if channel == "sms" else "+447700900555"
    else:
        # (blank counts as none, as Twilio omits it for some messages)
        params["NumMedia"] = draw(form_text.filter(lambda t: t.strip() and not t.strip().isdigit()))
    return channel, params


@FUZZ
@given(form=malformed_twilio_forms())
def test_twilio_signed_but_malformed(app: RunningApp, form: tuple[str, dict[str, str]]) -> None:
    channel, params = form
    path = f"/webhooks/twilio/{channel}"
    headers, body = signed_form(f"{app.config.server.public_url}{path}", params)
    before = run(app, _stored(app))
    response = run(app, _post(app, path, content=body, headers=headers))
    _check(app, response, before, stored_ok=False)


@FUZZ
@given(
    channel=st.sampled_from(["sms", "whatsapp", "status", "nope"]),
    body=st.binary(max_size=300),
    signature=st.one_of(
        st.none(), st.text(string.ascii_letters + string.digits + "+/=", max_size=40)
    ),
)
def test_twilio_unsigned_or_garbage(
    app: RunningApp, channel: str, body: bytes, signature: str | None
) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    before = run(app, _stored(app))
    response = run(app, _post(app, f"/webhooks/twilio/{channel}", content=body, headers=headers))
    _check(app, response, before, stored_ok=False)


# -- the web chat and the action endpoint ------------------------------------------------------


@FUZZ
@given(body=json_values)
def test_web_chat_any_json(app: RunningApp, body: Any) -> None:
    before = run(app, _stored(app))
    response = run(app, _post(app, "/chat/api/messages", json=body))
    # A well-formed chat message with a valid session is a real message: only count others.
    valid = (
        isinstance(body, dict)
        and isinstance(body.get("text"), str)
        and bool(body["text"].strip())
        and response.status_code == 200
    )
    _check(app, response, before, stored_ok=valid)


@FUZZ
@given(body=json_values)
def test_rasa_action_endpoint_any_json(app: RunningApp, body: Any) -> None:
    headers = {"Authorization": f"Bearer {app.config.rasa.token}"}
    before = run(app, _stored(app))
    response = run(app, _post(app, "/rasa/actions/webhook", json=body, headers=headers))
    _check(app, response, before, stored_ok=False)


def test_still_answering_after_the_fuzzing(app: RunningApp, telegram_api: FakeTelegramAPI) -> None:
    """After all that, an ordinary message is answered as usual."""
    secret = app.config.channels.telegram.webhook_secret
    chat_id = new_chat_id()  # a parent no other test (or database round) has used
    update = make_text_update(next(UPDATE_IDS), chat_id, "hi")
    response = run(
        app, _post(app, "/webhooks/telegram", json=update, headers={SECRET_HEADER: secret})
    )
    assert response.status_code == 200
    for _ in range(200):
        if len([m for m in telegram_api.sent if str(m.get("chat_id")) == str(chat_id)]) >= 3:
            break
        run(app, asyncio.sleep(0.05))
    texts = [m["text"] for m in telegram_api.sent if str(m.get("chat_id")) == str(chat_id)]
    assert len(texts) == 3 and "We would like to hear" in texts[1]
