"""TwilioChannel through the real twilio SDK (async, aiohttp) against a fake Messages API on 127.0.0.1.

All data is synthetic: Ofcom drama numbers (+447700900xxx), invented SIDs, tokens and names.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl

import aiohttp
import pytest
from twilio.base.exceptions import TwilioRestException

from bot.channels.base import InboundKind, Outbound, Sender
from bot.channels.twilio import (
    OUTSIDE_WHATSAPP_WINDOW,
    UNSUBSCRIBED,
    StatusUpdate,
    TwilioChannel,
    TwilioPermanent,
    TwilioSettings,
)
from bot.errors import ConfigError, PermanentDelivery, RetryableDelivery, WebhookRejected
from bot.keywords import sms_keyword

# Import the fakes as conftest.py does when the repo root is importable (`python -m pytest`),
# so there is one copy of the guard's state; under `.venv/bin/pytest` only tests/ itself is on
# sys.path. mypy is shown one spelling, or it sees the file twice.
if TYPE_CHECKING:
    from tests.fakes import network as guard
    from tests.fakes import twilio_api as fake_api
else:
    try:
        from tests.fakes import network as guard
        from tests.fakes import twilio_api as fake_api
    except ModuleNotFoundError:
        from fakes import network as guard
        from fakes import twilio_api as fake_api

FakeTwilioAPI = fake_api.FakeTwilioAPI
ACCOUNT_SID = fake_api.ACCOUNT_SID
AUTH_TOKEN = fake_api.AUTH_TOKEN
MESSAGING_SERVICE_SID = fake_api.MESSAGING_SERVICE_SID
SMS_NUMBER = fake_api.SMS_NUMBER
WHATSAPP_NUMBER = fake_api.WHATSAPP_NUMBER
new_sid = fake_api.new_sid
signed_form = fake_api.signed_form
sms_params = fake_api.sms_params
status_params = fake_api.status_params
whatsapp_params = fake_api.whatsapp_params

PARENT = "+447700900123"
RECEIVED = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
WEBHOOK_URL = "https://parentvoice.example/webhooks/twilio/sms?channel=sms&site=north"
STATUS_URL = "https://parentvoice.example/webhooks/twilio/status"
TEMPLATE_SID = "HX" + "7e3a" * 8
SID_SHAPE = r"SM[0-9a-f]{32}"


def _settings(base_url: str = "https://api.twilio.com", **changes: Any) -> TwilioSettings:
    settings = TwilioSettings(
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        messaging_service_sid="",
        sms_from=SMS_NUMBER,
        whatsapp_from=WHATSAPP_NUMBER,
        api_base_url=base_url,
    )
    return replace(settings, **changes)


@pytest.fixture(autouse=True)
def _offline() -> Iterator[None]:
    """Nothing here may leave 127.0.0.1, whether or not a conftest installed the guard."""
    guard.clear_blocked_attempts()
    with guard.network_guard():
        yield
    assert guard.blocked_attempts() == [], "a test tried to reach the network"


@pytest.fixture(scope="module")
async def _running_api() -> AsyncIterator[fake_api.FakeTwilioAPI]:
    with guard.network_guard():
        async with FakeTwilioAPI(ACCOUNT_SID, AUTH_TOKEN) as fake:
            yield fake


@pytest.fixture
async def api(_running_api: fake_api.FakeTwilioAPI) -> AsyncIterator[fake_api.FakeTwilioAPI]:
    _running_api.reset()
    yield _running_api
    assert _running_api.unexpected == [], "the SDK called something the fake does not expect"


async def _started(
    settings: TwilioSettings, name: Literal["sms", "whatsapp"] = "sms"
) -> TwilioChannel:
    channel = TwilioChannel(name, settings)
    await channel.start()
    return channel


@pytest.fixture
async def sms(api: fake_api.FakeTwilioAPI) -> AsyncIterator[TwilioChannel]:
    channel = await _started(_settings(api.base_url), "sms")
    yield channel
    await channel.stop()


@pytest.fixture
async def whatsapp(api: fake_api.FakeTwilioAPI) -> AsyncIterator[TwilioChannel]:
    channel = await _started(_settings(api.base_url), "whatsapp")
    yield channel
    await channel.stop()


@pytest.fixture
def offline_sms() -> TwilioChannel:
    """Verifying and parsing webhooks needs no HTTP session, so this one is never started."""
    return TwilioChannel("sms", _settings())


@pytest.fixture
def offline_whatsapp() -> TwilioChannel:
    return TwilioChannel("whatsapp", _settings())


# -- construction -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"account_sid": "ACnot-a-sid"},
        {"auth_token": ""},
        {"sms_from": "07700 900001"},
        {"sms_from": ""},
        {"messaging_service_sid": "MG-typo"},
        {"api_base_url": "ftp://api.twilio.com"},
        {"api_base_url": "http://api.twilio.com"},  # the auth token would travel in clear
        {"status_callback_url": "/webhooks/twilio/status"},
        {"request_timeout": 0},
    ],
)
def test_unusable_settings_are_refused_up_front(changes: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="twilio"):
        TwilioChannel("sms", _settings(**changes))


def test_a_messaging_service_stands_in_for_the_from_numbers() -> None:
    settings = _settings(sms_from="", whatsapp_from="", messaging_service_sid=MESSAGING_SERVICE_SID)
    TwilioChannel("sms", settings)
    TwilioChannel("whatsapp", settings)


def test_both_channels_are_outbox_senders() -> None:
    senders: list[Sender] = [
        TwilioChannel("sms", _settings()),
        TwilioChannel("whatsapp", _settings()),
    ]
    assert [sender.name for sender in senders] == ["sms", "whatsapp"]


def test_only_sms_and_whatsapp_exist() -> None:
    with pytest.raises(ConfigError, match="unknown channel"):
        TwilioChannel("mms", _settings())  # type: ignore[arg-type]


async def test_send_before_start_is_a_programming_error() -> None:
    with pytest.raises(RuntimeError, match="start"):
        await TwilioChannel("sms", _settings()).send(PARENT, Outbound("Hello"))


async def test_stop_is_safe_twice_and_without_start() -> None:
    channel = TwilioChannel("sms", _settings())
    await channel.stop()
    await channel.start()
    await channel.stop()
    await channel.stop()


# -- sending ----------------------------------------------------------------------------------


async def test_send_sms_from_our_number(api: fake_api.FakeTwilioAPI, sms: TwilioChannel) -> None:
    sid = await sms.send(PARENT, Outbound("How was your visit?\n1. Good\n2. Not good"))

    assert re.fullmatch(SID_SHAPE, sid)
    assert sid in api.messages
    assert api.messages[sid]["status"] == "queued"
    assert api.sent == [
        {"To": PARENT, "From": SMS_NUMBER, "Body": "How was your visit?\n1. Good\n2. Not good"}
    ]
    (request,) = api.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert request.headers["user-agent"].startswith("twilio-python/9.")


async def test_choices_add_nothing_to_the_text(
    api: fake_api.FakeTwilioAPI, sms: TwilioChannel
) -> None:
    await sms.send(PARENT, Outbound("Was it easy to park?\n1. Yes\n2. No", ("Yes", "No")))
    assert api.sent[0]["Body"] == "Was it easy to park?\n1. Yes\n2. No"


async def test_send_through_a_messaging_service_with_status_callbacks(
    api: fake_api.FakeTwilioAPI,
) -> None:
    settings = _settings(
        api.base_url, messaging_service_sid=MESSAGING_SERVICE_SID, status_callback_url=STATUS_URL
    )
    channel = await _started(settings, "sms")
    try:
        sid = await channel.send(PARENT, Outbound("Thank you"))
    finally:
        await channel.stop()

    assert api.sent == [
        {
            "To": PARENT,
            "MessagingServiceSid": MESSAGING_SERVICE_SID,
            "Body": "Thank you",
            "StatusCallback": STATUS_URL,
        }
    ]
    assert api.messages[sid]["status"] == "accepted"  # the service picks the sender later


async def test_send_whatsapp_prefixes_both_numbers(
    api: fake_api.FakeTwilioAPI, whatsapp: TwilioChannel
) -> None:
    await whatsapp.send(PARENT, Outbound("Hello from ParentVoice"))
    assert api.sent == [
        {
            "To": f"whatsapp:{PARENT}",
            "From": f"whatsapp:{WHATSAPP_NUMBER}",
            "Body": "Hello from ParentVoice",
        }
    ]


async def test_a_whatsapp_from_may_already_carry_its_prefix(api: fake_api.FakeTwilioAPI) -> None:
    channel = await _started(
        _settings(api.base_url, whatsapp_from=f"whatsapp:{WHATSAPP_NUMBER}"), "whatsapp"
    )
    try:
        await channel.send(PARENT, Outbound("Hello"))
    finally:
        await channel.stop()
    assert api.sent[0]["From"] == f"whatsapp:{WHATSAPP_NUMBER}"


async def test_send_template_carries_content_and_variables_but_no_body(
    api: fake_api.FakeTwilioAPI, whatsapp: TwilioChannel
) -> None:
    sid = await whatsapp.send_template(PARENT, TEMPLATE_SID, {"1": "Robin", "2": "12 March"})

    assert sid in api.messages
    (sent,) = api.sent
    assert "Body" not in sent
    assert sent["ContentSid"] == TEMPLATE_SID
    assert json.loads(sent["ContentVariables"]) == {"1": "Robin", "2": "12 March"}
    assert sent["To"] == f"whatsapp:{PARENT}"


async def test_a_template_without_variables_uses_its_defaults(
    api: fake_api.FakeTwilioAPI, whatsapp: TwilioChannel
) -> None:
    await whatsapp.send_template(PARENT, TEMPLATE_SID, {})
    assert "ContentVariables" not in api.sent[0]


@pytest.mark.parametrize("address", ["07700900123", "whatsapp:+447700900123", "", "+44 7700"])
async def test_an_address_that_is_not_e164_is_permanent(
    api: fake_api.FakeTwilioAPI, sms: TwilioChannel, address: str
) -> None:
    with pytest.raises(PermanentDelivery, match="E.164"):
        await sms.send(address, Outbound("Hello"))
    assert api.requests == []


# -- delivery failures, mapped in one place ---------------------------------------------------


async def test_429_is_retryable_with_the_wait_twilio_asked_for(
    api: fake_api.FakeTwilioAPI, sms: TwilioChannel
) -> None:
    api.fail_next(429, 20429, "Too Many Requests", retry_after=7)
    with pytest.raises(RetryableDelivery, match="HTTP 429, error 20429") as caught:
        await sms.send(PARENT, Outbound("Hello"))
    assert caught.value.retry_after == 7.0
    assert isinstance(caught.value.__cause__, TwilioRestException)

    api.fail_next(429, 20429, "Too Many Requests")  # Twilio usually sends no Retry-After
    with pytest.raises(RetryableDelivery) as caught:
        await sms.send(PARENT, Outbound("Hello"))
    assert caught.value.retry_after is None
    assert api.sent == []


async def test_each_concurrent_send_sees_its_own_retry_after(
    api: fake_api.FakeTwilioAPI, sms: TwilioChannel
) -> None:
    api.latency = 0.02  # so the sends are in flight together
    api.fail_next(429, 20429, "Too Many Requests", retry_after=3)
    api.fail_next(503, 20503, "Service Unavailable")
    results = await asyncio.gather(
        *(sms.send(f"+4477009003{n:02d}", Outbound("Hello")) for n in range(10)),
        return_exceptions=True,
    )

    failures = sorted(
        (str(r.retry_after) for r in results if isinstance(r, RetryableDelivery)),
    )
    assert failures == ["3.0", "None"]
    assert len(api.sent) == 8


@pytest.mark.parametrize(("status", "code"), [(500, 20500), (503, 20503)])
async def test_server_errors_are_retryable(
    api: fake_api.FakeTwilioAPI, sms: TwilioChannel, status: int, code: int
) -> None:
    api.fail_next(status, code, "Service trouble")
    with pytest.raises(RetryableDelivery, match=f"HTTP {status}") as caught:
        await sms.send(PARENT, Outbound("Hello"))
    assert caught.value.retry_after is None
    assert not isinstance(caught.value, PermanentDelivery)

    # the fault is used up: the next attempt goes through
    assert await sms.send(PARENT, Outbound("Hello")) in api.messages


async def test_an_outage_is_retryable_until_it_ends(
    api: fake_api.FakeTwilioAPI, sms: TwilioChannel
) -> None:
    api.fail_for(0.3)
    for _ in range(3):
        with pytest.raises(RetryableDelivery, match="HTTP 500"):
            await sms.send(PARENT, Outbound("Hello"))
    await asyncio.sleep(0.35)
    await sms.send(PARENT, Outbound("Hello"))
    assert len(api.sent) == 1


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (UNSUBSCRIBED, "Attempt to send to unsubscribed recipient"),
        (21211, f"The 'To' number {PARENT} is not a valid phone number."),
        (21614, f"'To' number {PARENT} is not a valid mobile number"),
        (OUTSIDE_WHATSAPP_WINDOW, "Twilio is unable to process the Content"),
        (21408, "Permission to send an SMS has not been enabled for the region"),
    ],
)
async def test_refusals_are_permanent_and_keep_twilios_code(
    api: fake_api.FakeTwilioAPI, sms: TwilioChannel, code: int, message: str
) -> None:
    api.fail_next(400, code, message)
    with pytest.raises(TwilioPermanent) as caught:
        await sms.send(PARENT, Outbound("Hello"))

    assert caught.value.code == code
    assert caught.value.unsubscribed is (code == UNSUBSCRIBED)  # the outbox opts them out
    assert isinstance(caught.value.__cause__, TwilioRestException)
    assert f"error {code}" in str(caught.value)
    assert PARENT not in str(caught.value)  # the outbox stores and logs this text


async def test_the_fakes_own_checks_arrive_as_permanent_errors(
    api: fake_api.FakeTwilioAPI, sms: TwilioChannel
) -> None:
    api.opted_out.add(PARENT)
    with pytest.raises(TwilioPermanent) as caught:
        await sms.send(PARENT, Outbound("Hello"))
    assert caught.value.code == UNSUBSCRIBED

    with pytest.raises(TwilioPermanent) as caught:
        await sms.send("+447700900124", Outbound("x" * 1601))
    assert caught.value.code == 21617


async def test_a_wrong_auth_token_is_permanent(api: fake_api.FakeTwilioAPI) -> None:
    channel = await _started(_settings(api.base_url, auth_token="not-the-token"))
    try:
        with pytest.raises(TwilioPermanent, match="HTTP 401") as caught:
            await channel.send(PARENT, Outbound("Hello"))
    finally:
        await channel.stop()
    assert caught.value.code == 20003
    assert "not-the-token" not in str(caught.value)
    assert [request.authorized for request in api.requests] == [False]


async def test_an_unreachable_api_is_retryable() -> None:
    async with FakeTwilioAPI() as fake:
        base_url = fake.base_url
    channel = await _started(_settings(base_url))  # nothing listens there any more
    try:
        with pytest.raises(RetryableDelivery, match="could not reach") as caught:
            await channel.send(PARENT, Outbound("Hello"))
    finally:
        await channel.stop()
    assert isinstance(caught.value.__cause__, aiohttp.ClientError)


async def test_a_slow_api_times_out_as_retryable(api: fake_api.FakeTwilioAPI) -> None:
    api.latency = 1.0
    channel = await _started(_settings(api.base_url, request_timeout=0.2))
    started = time.monotonic()
    try:
        with pytest.raises(RetryableDelivery) as caught:
            await channel.send(PARENT, Outbound("Hello"))
    finally:
        await channel.stop()
    assert time.monotonic() - started < 0.9
    assert isinstance(caught.value.__cause__, TimeoutError)


async def test_sends_run_concurrently_without_blocking_the_loop(
    api: fake_api.FakeTwilioAPI, sms: TwilioChannel
) -> None:
    api.latency = 0.05
    await sms.send(PARENT, Outbound("warm-up"))  # opens the first connection
    started = time.monotonic()
    await sms.send(PARENT, Outbound("one"))
    single = time.monotonic() - started

    ticks = 0

    async def heartbeat(stop: asyncio.Event) -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.005)

    stop = asyncio.Event()
    beating = asyncio.create_task(heartbeat(stop))
    started = time.monotonic()
    sids = await asyncio.gather(
        *(sms.send(f"+4477009002{n:02d}", Outbound(f"Hello {n}")) for n in range(50))
    )
    elapsed = time.monotonic() - started
    stop.set()
    await beating

    assert len(set(sids)) == 50  # single is ~0.05 s; all 50 together take ~0.1 s
    assert api.peak_in_flight >= 25, "the sends did not overlap"
    assert elapsed < 10 * single, f"50 sends took {elapsed:.2f} s; one took {single:.2f} s"
    # The fake API shares this loop, so it is busy, not free; a send that blocked the loop would
    # leave the heartbeat one or two ticks, far below this.
    assert ticks >= elapsed / 0.005 / 10, "the event loop was blocked while sending"


async def test_a_region_in_the_environment_does_not_escape_api_base_url(
    api: fake_api.FakeTwilioAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SDK reads TWILIO_REGION/TWILIO_EDGE itself and rewrites the host; we rebase after it.
    monkeypatch.setenv("TWILIO_REGION", "ie1")
    monkeypatch.setenv("TWILIO_EDGE", "dublin")
    channel = await _started(_settings(api.base_url))
    try:
        await channel.send(PARENT, Outbound("Hello"))
    finally:
        await channel.stop()
    assert len(api.sent) == 1


async def test_the_sdk_cannot_reach_the_real_twilio() -> None:
    channel = await _started(_settings())  # the default, real api.twilio.com
    try:
        with pytest.raises(guard.NetworkBlocked):
            await channel.send(PARENT, Outbound("Hello"))
    finally:
        await channel.stop()
    assert any("api.twilio.com" in attempt for attempt in guard.blocked_attempts())
    guard.clear_blocked_attempts()  # the attempt above was on purpose


# -- verifying webhooks -----------------------------------------------------------------------


def _form(body: bytes) -> dict[str, str]:
    return dict(parse_qsl(body.decode(), keep_blank_values=True))


def test_a_correctly_signed_request_is_accepted(offline_sms: TwilioChannel) -> None:
    headers, body = signed_form(WEBHOOK_URL, sms_params(new_sid(), PARENT, "Hello"), AUTH_TOKEN)
    offline_sms.verify(WEBHOOK_URL, _form(body), headers["X-Twilio-Signature"])


def test_a_signature_made_with_the_port_is_accepted(offline_sms: TwilioChannel) -> None:
    # Twilio sometimes signs https://host:443/...; the SDK checks both forms.
    with_port = WEBHOOK_URL.replace("parentvoice.example", "parentvoice.example:443")
    headers, body = signed_form(with_port, status_params(new_sid(), "delivered"), AUTH_TOKEN)
    offline_sms.verify(WEBHOOK_URL, _form(body), headers["X-Twilio-Signature"])


@pytest.mark.parametrize(
    "forgery",
    ["missing", "empty", "garbage", "other token", "other url", "other query", "tampered body"],
)
def test_a_forged_or_missing_signature_is_403(offline_sms: TwilioChannel, forgery: str) -> None:
    params = sms_params(new_sid(), PARENT, "Hello")
    headers, body = signed_form(WEBHOOK_URL, params, AUTH_TOKEN)
    url, form = WEBHOOK_URL, _form(body)
    signature: str | None = headers["X-Twilio-Signature"]
    if forgery == "missing":
        signature = None
    elif forgery == "empty":
        signature = ""
    elif forgery == "garbage":
        signature = "bm90IGEgc2lnbmF0dXJl"
    elif forgery == "other token":
        signature = signed_form(url, params, "another-synthetic-token")[0]["X-Twilio-Signature"]
    elif forgery == "other url":
        url = WEBHOOK_URL.replace("parentvoice.example", "attacker.example")
    elif forgery == "other query":
        url = WEBHOOK_URL.replace("site=north", "site=south")
    else:
        form["Body"] = "Something else"

    with pytest.raises(WebhookRejected) as caught:
        offline_sms.verify(url, form, signature)
    assert caught.value.status == 403


# -- parsing webhooks -------------------------------------------------------------------------


def test_an_sms_becomes_a_text_inbound(offline_sms: TwilioChannel) -> None:
    sid = new_sid()
    inbound = offline_sms.parse_inbound(sms_params(sid, PARENT, "The nurse was kind"), RECEIVED)

    assert inbound is not None
    assert inbound.channel == "sms"
    assert inbound.address == PARENT
    assert inbound.platform_id == f"twilio:{sid}"
    assert inbound.kind is InboundKind.TEXT
    assert inbound.text == "The nurse was kind"
    assert inbound.received_at == RECEIVED
    assert inbound.language_hint is None


def test_a_whatsapp_message_becomes_a_text_inbound_without_its_prefix(
    offline_whatsapp: TwilioChannel,
) -> None:
    sid = new_sid()
    inbound = offline_whatsapp.parse_inbound(whatsapp_params(sid, PARENT, "2"), RECEIVED)

    assert inbound is not None
    assert (inbound.channel, inbound.address, inbound.text) == ("whatsapp", PARENT, "2")
    assert inbound.platform_id == f"twilio:{sid}"


@pytest.mark.parametrize("body", ["", "look at this"])
def test_media_becomes_a_media_inbound_without_text(
    offline_sms: TwilioChannel, offline_whatsapp: TwilioChannel, body: str
) -> None:
    sms_inbound = offline_sms.parse_inbound(
        sms_params(new_sid("MM"), PARENT, body, num_media=1), RECEIVED
    )
    whatsapp_inbound = offline_whatsapp.parse_inbound(
        whatsapp_params(new_sid(), PARENT, body, num_media=2), RECEIVED
    )
    for inbound in (sms_inbound, whatsapp_inbound):
        assert inbound is not None
        assert (inbound.kind, inbound.text) == (InboundKind.MEDIA, "")


def test_a_whatsapp_location_is_media(offline_whatsapp: TwilioChannel) -> None:
    params = whatsapp_params(new_sid(), PARENT, "")
    params.update({"MessageType": "location", "Latitude": "51.5", "Longitude": "-0.12"})
    inbound = offline_whatsapp.parse_inbound(params, RECEIVED)
    assert inbound is not None and inbound.kind is InboundKind.MEDIA


def test_a_message_with_nothing_to_read_is_ignored(offline_sms: TwilioChannel) -> None:
    assert offline_sms.parse_inbound(sms_params(new_sid(), PARENT, "  "), RECEIVED) is None


@pytest.mark.parametrize("broken", ["no sid", "empty sid", "odd sid", "no from", "bad media"])
def test_a_malformed_inbound_is_400(offline_sms: TwilioChannel, broken: str) -> None:
    params = sms_params(new_sid(), PARENT, "Hello")
    if broken == "no sid":
        del params["MessageSid"]
    elif broken == "empty sid":
        params["MessageSid"] = ""
    elif broken == "odd sid":
        params["MessageSid"] = "SM'; DROP TABLE"
    elif broken == "no from":
        del params["From"]
    else:
        params["NumMedia"] = "one"
    with pytest.raises(WebhookRejected) as caught:
        offline_sms.parse_inbound(params, RECEIVED)
    assert caught.value.status == 400


def test_a_message_for_the_other_channel_is_400(
    offline_sms: TwilioChannel, offline_whatsapp: TwilioChannel
) -> None:
    with pytest.raises(WebhookRejected) as caught:
        offline_sms.parse_inbound(whatsapp_params(new_sid(), PARENT, "Hello"), RECEIVED)
    assert caught.value.status == 400
    with pytest.raises(WebhookRejected) as caught:
        offline_whatsapp.parse_inbound(sms_params(new_sid(), PARENT, "Hello"), RECEIVED)
    assert caught.value.status == 400


def test_a_sender_that_is_not_a_phone_number_is_400(offline_sms: TwilioChannel) -> None:
    with pytest.raises(WebhookRejected) as caught:
        offline_sms.parse_inbound(sms_params(new_sid(), "NHSTrust", "Hello"), RECEIVED)
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        (status_params("SM" + "1" * 32, "queued"), StatusUpdate("SM" + "1" * 32, "queued", None)),
        (
            status_params("SM" + "2" * 32, "delivered"),
            StatusUpdate("SM" + "2" * 32, "delivered", None),
        ),
        (
            status_params("SM" + "3" * 32, "undelivered", 30003),
            StatusUpdate("SM" + "3" * 32, "undelivered", 30003),
        ),
        (
            status_params("SM" + "4" * 32, "failed", OUTSIDE_WHATSAPP_WINDOW, whatsapp=True),
            StatusUpdate("SM" + "4" * 32, "failed", OUTSIDE_WHATSAPP_WINDOW),
        ),
        (
            status_params("SM" + "5" * 32, "read", whatsapp=True),
            StatusUpdate("SM" + "5" * 32, "read", None),
        ),
    ],
)
def test_status_callbacks_become_status_updates(
    offline_sms: TwilioChannel, params: dict[str, str], expected: StatusUpdate
) -> None:
    update = offline_sms.parse_status(params)
    assert update == expected
    assert update.failed is (expected.status in ("failed", "undelivered"))


@pytest.mark.parametrize("broken", ["MessageSid", "MessageStatus", "ErrorCode"])
def test_a_malformed_status_callback_is_400(offline_sms: TwilioChannel, broken: str) -> None:
    params = status_params(new_sid(), "failed", 30008)
    if broken == "ErrorCode":
        params["ErrorCode"] = "thirty"
    else:
        del params[broken]
    with pytest.raises(WebhookRejected) as caught:
        offline_sms.parse_status(params)
    assert caught.value.status == 400


async def test_texts_numbers_and_names_never_reach_our_logs(
    api: fake_api.FakeTwilioAPI,
    sms: TwilioChannel,
    offline_whatsapp: TwilioChannel,
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret_words = "my daughter Eliza-Synthetic was seen late"
    with caplog.at_level(logging.DEBUG):
        offline_whatsapp.parse_inbound(
            whatsapp_params(new_sid(), PARENT, secret_words, profile_name="Eliza Synthetic"),
            RECEIVED,
        )
        offline_whatsapp.parse_inbound(whatsapp_params(new_sid(), PARENT, " "), RECEIVED)
        await sms.send(PARENT, Outbound(secret_words))
        api.fail_next(400, 21211, f"The 'To' number {PARENT} is not a valid phone number.")
        with pytest.raises(PermanentDelivery):
            await sms.send(PARENT, Outbound(secret_words))

    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("bot."))
    assert ours, "expected some debug lines from the adapter"
    for private in (secret_words, PARENT, PARENT.removeprefix("+"), "Eliza Synthetic"):
        assert private not in ours
    sdk = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("twilio"))
    assert secret_words not in sdk and PARENT not in sdk


# -- opt-out keywords -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "keyword"),
    [
        (" Stop ", "stop"),
        ("stop.", "stop"),
        ("STOP!", "stop"),
        ("STOPALL", "stop"),
        ("unsubscribe", "stop"),
        ("Cancel", "stop"),
        ("end", "stop"),
        ("quit\n", "stop"),
        ("start", "start"),
        ("unstop", "start"),
        ("help", "help"),
        ("Info?", "help"),
        ("yes", None),  # Twilio reads YES as START; for us it answers a question
        ("please stop texting me", None),  # Rasa's job
        ("stop stop", None),
        ("stopping", None),
        ("", None),
        ("1", None),
    ],
)
def test_sms_keywords(text: str, keyword: str | None) -> None:
    assert sms_keyword(text) == keyword
