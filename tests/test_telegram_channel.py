"""TelegramChannel through the real python-telegram-bot SDK against a fake Bot API on 127.0.0.1.

All data is synthetic: invented names, chat ids and a made-up token.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from starlette.datastructures import Headers
from telegram.error import TelegramError
from telegram.warnings import PTBDeprecationWarning

from bot.channels import telegram as telegram_module
from bot.channels.base import Inbound, InboundKind, Outbound
from bot.channels.telegram import MAX_TEXT_UNITS, TelegramChannel, split_text
from bot.errors import (
    ConfigError,
    ParentVoiceError,
    PermanentDelivery,
    RetryableDelivery,
    WebhookRejected,
)

# Import the fakes as conftest.py does when the repo root is importable (`python -m pytest`,
# as `make test` runs), so there is one copy of the guard's state; under `.venv/bin/pytest`
# only tests/ itself is on sys.path. mypy is shown one spelling, or it sees the file twice.
if TYPE_CHECKING:
    from tests.fakes import network as guard
    from tests.fakes import telegram_api as fake_api
else:
    try:
        from tests.fakes import network as guard
        from tests.fakes import telegram_api as fake_api
    except ModuleNotFoundError:
        from fakes import network as guard
        from fakes import telegram_api as fake_api

FakeTelegramAPI = fake_api.FakeTelegramAPI
make_photo_update = fake_api.make_photo_update
make_sticker_update = fake_api.make_sticker_update
make_text_update = fake_api.make_text_update
blocked_attempts = guard.blocked_attempts
clear_blocked_attempts = guard.clear_blocked_attempts
install_network_guard = guard.install_network_guard
network_guard = guard.network_guard
network_guard_installed = guard.network_guard_installed
uninstall_network_guard = guard.uninstall_network_guard

TOKEN = "123456789:AAF-synthetic_token_for_tests_only"
SECRET = "synthetic-webhook-secret_42"
CHAT_ID = 4_242_001
RECEIVED = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
GOOD_HEADERS = {"X-Telegram-Bot-Api-Secret-Token": SECRET}


@pytest.fixture(autouse=True)
def _offline() -> Iterator[None]:
    """Nothing here may leave 127.0.0.1, whether or not a conftest installed the guard."""
    clear_blocked_attempts()
    with network_guard():
        yield
    assert blocked_attempts() == [], "a test tried to reach the network"


@pytest.fixture(scope="module")
async def _running_api() -> AsyncIterator[FakeTelegramAPI]:
    with network_guard():
        async with FakeTelegramAPI(TOKEN) as fake:
            yield fake


@pytest.fixture
async def api(_running_api: FakeTelegramAPI) -> AsyncIterator[FakeTelegramAPI]:
    _running_api.reset()
    yield _running_api
    assert _running_api.unexpected == [], "the SDK called a method the fake does not expect"


@pytest.fixture
async def channel(api: FakeTelegramAPI) -> AsyncIterator[TelegramChannel]:
    telegram_channel = TelegramChannel(TOKEN, SECRET, api_base_url=api.base_url)
    await telegram_channel.start()
    yield telegram_channel
    await telegram_channel.stop()


@pytest.fixture
def offline_channel() -> TelegramChannel:
    """Parsing webhooks needs no HTTP client, so this one is never started."""
    return TelegramChannel(TOKEN, SECRET)


def _body(update: dict[str, Any]) -> bytes:
    return json.dumps(update).encode()


# -- construction and start -----------------------------------------------------------------


async def test_start_checks_the_token_with_get_me(
    api: FakeTelegramAPI, channel: TelegramChannel
) -> None:
    assert api.methods_called() == ["getMe"]


async def test_a_rejected_token_is_a_config_error_that_does_not_leak_it(
    api: FakeTelegramAPI,
) -> None:
    wrong = "987654321:AAF-some_other_synthetic_token"
    telegram_channel = TelegramChannel(wrong, SECRET, api_base_url=api.base_url)
    with pytest.raises(ConfigError, match="token was rejected") as caught:
        await telegram_channel.start()
    assert wrong not in str(caught.value)
    assert api.unauthorized == ["getMe"]
    await telegram_channel.stop()


@pytest.mark.parametrize(
    ("token", "secret"),
    [("", SECRET), (TOKEN, ""), (TOKEN, "has spaces"), (TOKEN, "x" * 257)],
)
def test_an_unusable_token_or_secret_is_refused_up_front(token: str, secret: str) -> None:
    with pytest.raises(ConfigError):
        TelegramChannel(token, secret)


async def test_send_before_start_is_a_programming_error() -> None:
    with pytest.raises(RuntimeError, match="start"):
        await TelegramChannel(TOKEN, SECRET).send(str(CHAT_ID), Outbound("Hello"))


# -- sending --------------------------------------------------------------------------------


async def test_send_plain_text_removes_any_keyboard(
    api: FakeTelegramAPI, channel: TelegramChannel
) -> None:
    message_id = await channel.send(str(CHAT_ID), Outbound("Thank you for telling us."))

    (sent,) = await api.wait_for_sent(1)
    assert sent == {
        "chat_id": CHAT_ID,
        "text": "Thank you for telling us.",
        "reply_markup": {"remove_keyboard": True},
        "message_id": 1,
    }
    assert message_id == "1"


async def test_send_with_choices_shows_a_one_time_reply_keyboard(
    api: FakeTelegramAPI, channel: TelegramChannel
) -> None:
    await channel.send(str(CHAT_ID), Outbound("Was the wait OK?", ("Yes", "No", "Not sure")))

    (sent,) = await api.wait_for_sent(1)
    assert sent["reply_markup"] == {
        "keyboard": [[{"text": "Yes"}], [{"text": "No"}], [{"text": "Not sure"}]],
        "one_time_keyboard": True,
        "resize_keyboard": True,
    }


async def test_message_ids_come_from_telegram(
    api: FakeTelegramAPI, channel: TelegramChannel
) -> None:
    first = await channel.send(str(CHAT_ID), Outbound("One"))
    second = await channel.send(str(CHAT_ID), Outbound("Two"))
    assert (first, second) == ("1", "2")


async def test_a_long_text_is_split_on_paragraphs_with_the_keyboard_last(
    api: FakeTelegramAPI, channel: TelegramChannel
) -> None:
    paragraphs = [f"Paragraph {n}. " + "The nurse was kind. " * 120 for n in range(1, 4)]
    text = "\n\n".join(paragraph.strip() for paragraph in paragraphs)
    assert len(text) > MAX_TEXT_UNITS

    message_id = await channel.send(str(CHAT_ID), Outbound(text, ("Yes", "No")))

    sent = await api.wait_for_sent(2)
    assert [part["text"] for part in sent] == [
        paragraphs[0].strip(),
        paragraphs[1].strip(),
        paragraphs[2].strip(),
    ]
    assert [part["reply_markup"] is None for part in sent] == [True, True, False]
    assert sent[-1]["reply_markup"]["keyboard"] == [[{"text": "Yes"}], [{"text": "No"}]]
    assert message_id == str(sent[-1]["message_id"])


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short enough", 20, ["short enough"]),
        ("First one. Second one. Third.", 24, ["First one. Second one.", "Third."]),
        ("Line one\nline two\nline three", 20, ["Line one\nline two", "line three"]),
        ("Para one.\n\nPara two is here.", 22, ["Para one.", "Para two is here."]),
        ("abcdefghij" * 3, 12, ["abcdefghijab", "cdefghijabcd", "efghij"]),
        # an emoji is two UTF-16 units, which is how Telegram counts
        ("\U0001f600" * 5, 4, ["\U0001f600\U0001f600", "\U0001f600\U0001f600", "\U0001f600"]),
    ],
)
def test_split_text(text: str, limit: int, expected: list[str]) -> None:
    assert split_text(text, limit) == expected


# -- delivery failures, mapped in one place -------------------------------------------------


@pytest.mark.parametrize("ptb_timedelta", [False, True])
async def test_429_is_retryable_with_the_wait_telegram_asked_for(
    api: FakeTelegramAPI,
    channel: TelegramChannel,
    monkeypatch: pytest.MonkeyPatch,
    ptb_timedelta: bool,
) -> None:
    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)
    if ptb_timedelta:
        monkeypatch.setenv("PTB_TIMEDELTA", "true")
        with pytest.raises(RetryableDelivery) as caught:
            await channel.send(str(CHAT_ID), Outbound("Hello"))
    else:
        # PTB 22 warns inside its own RetryAfter constructor unless PTB_TIMEDELTA is set.
        monkeypatch.delenv("PTB_TIMEDELTA", raising=False)
        with (
            pytest.warns(PTBDeprecationWarning, match="retry_after"),
            pytest.raises(RetryableDelivery) as caught,
        ):
            await channel.send(str(CHAT_ID), Outbound("Hello"))

    assert caught.value.retry_after == 7.0
    assert isinstance(caught.value.__cause__, TelegramError)
    assert api.sent == []


@pytest.mark.parametrize(
    ("status", "description", "error"),
    [
        (500, "Internal Server Error", RetryableDelivery),
        (502, "Bad Gateway", RetryableDelivery),
        (403, "Forbidden: bot was blocked by the user", PermanentDelivery),
        (403, "Forbidden: user is deactivated", PermanentDelivery),
        (400, "Bad Request: chat not found", PermanentDelivery),
        (401, "Unauthorized", PermanentDelivery),
    ],
)
async def test_delivery_failures_are_mapped(
    api: FakeTelegramAPI,
    channel: TelegramChannel,
    status: int,
    description: str,
    error: type[Exception],
) -> None:
    api.fail_next("sendMessage", status, description)

    # PTB drops Telegram's "Bad Request: " prefix and lower-cases the rest of such descriptions
    with pytest.raises(error, match=f"(?i){description.removeprefix('Bad Request: ')}") as caught:
        await channel.send(str(CHAT_ID), Outbound("Hello"))
    assert isinstance(caught.value.__cause__, TelegramError)
    if isinstance(caught.value, RetryableDelivery):
        assert caught.value.retry_after is None

    # the fault is used up: the next attempt goes through
    assert await channel.send(str(CHAT_ID), Outbound("Hello")) == "1"


async def test_an_unreachable_api_is_retryable() -> None:
    async with FakeTelegramAPI(TOKEN) as fake:
        telegram_channel = TelegramChannel(TOKEN, SECRET, api_base_url=fake.base_url)
        await telegram_channel.start()
    try:
        with pytest.raises(RetryableDelivery):
            await telegram_channel.send(str(CHAT_ID), Outbound("Hello"))
    finally:
        await telegram_channel.stop()


async def test_an_address_that_is_not_a_chat_id_is_permanent(
    api: FakeTelegramAPI, channel: TelegramChannel
) -> None:
    with pytest.raises(PermanentDelivery):
        await channel.send("not-a-chat", Outbound("Hello"))
    assert api.sent == []


async def test_set_webhook_registers_url_secret_and_message_updates_only(
    api: FakeTelegramAPI, channel: TelegramChannel
) -> None:
    await channel.set_webhook("https://parentvoice.example/telegram/webhook")

    assert api.webhook_url == "https://parentvoice.example/telegram/webhook"
    assert api.webhook_secret == SECRET
    assert api.webhook_allowed_updates == ["message"]
    assert api.calls[-1][1]["drop_pending_updates"] is False


async def test_a_refused_webhook_is_a_config_error(
    api: FakeTelegramAPI, channel: TelegramChannel
) -> None:
    api.fail_next("setWebhook", 400, "Bad Request: bad webhook: HTTPS url must be provided")
    with pytest.raises(ConfigError, match="(?i)HTTPS url must be provided"):
        await channel.set_webhook("http://parentvoice.example/telegram/webhook")


# -- parsing webhooks -----------------------------------------------------------------------


def test_a_text_message_becomes_an_inbound(offline_channel: TelegramChannel) -> None:
    body = _body(make_text_update(501, CHAT_ID, "The clinic was lovely", language_code="cy"))

    inbound = offline_channel.parse_webhook(GOOD_HEADERS, body, RECEIVED)

    assert inbound == Inbound(
        channel="telegram",
        address=str(CHAT_ID),
        platform_id="update:501",
        kind=InboundKind.TEXT,
        text="The clinic was lovely",
        received_at=RECEIVED,
        language_hint="cy",
    )


def test_the_secret_header_is_case_insensitive(offline_channel: TelegramChannel) -> None:
    headers = Headers(raw=[(b"x-telegram-bot-api-secret-token", SECRET.encode())])
    body = _body(make_text_update(502, CHAT_ID, "hello", language_code=None))

    inbound = offline_channel.parse_webhook(headers, body, RECEIVED)

    assert inbound is not None
    assert inbound.language_hint is None


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Telegram-Bot-Api-Secret-Token": ""},
        {"X-Telegram-Bot-Api-Secret-Token": "synthetic-webhook-secret_43"},
        {"X-Telegram-Bot-Api-Secret-Token": SECRET + "x"},
        {"X-Telegram-Bot-Api-Secret-Token": "sécret"},
    ],
)
def test_a_missing_or_wrong_secret_is_403(
    offline_channel: TelegramChannel, headers: dict[str, str]
) -> None:
    # an unparseable body too: the secret is checked first
    with pytest.raises(WebhookRejected) as caught:
        offline_channel.parse_webhook(headers, b"not json", RECEIVED)
    assert caught.value.status == 403


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"\xff\xfe\x00",
        b"[1, 2, 3]",
        b'"update"',
        b"{}",
        b'{"message": {}}',
        b'{"update_id": "5"}',
        b'{"update_id": true}',
        b'{"update_id": 5.5}',
        b'{"update_id": 5, "message": {"message_id": 1}}',
        b"[" * 100_000,
    ],
)
def test_a_body_that_is_not_an_update_is_400(offline_channel: TelegramChannel, body: bytes) -> None:
    with pytest.raises(WebhookRejected) as caught:
        offline_channel.parse_webhook(GOOD_HEADERS, body, RECEIVED)
    assert caught.value.status == 400


@pytest.mark.parametrize(
    "update",
    [
        make_sticker_update(601, CHAT_ID),
        make_photo_update(602, CHAT_ID),
        make_photo_update(603, CHAT_ID, caption="our appointment letter"),
    ],
    ids=["sticker", "photo", "captioned photo"],
)
def test_media_becomes_a_media_inbound_without_text(
    offline_channel: TelegramChannel, update: dict[str, Any]
) -> None:
    inbound = offline_channel.parse_webhook(GOOD_HEADERS, _body(update), RECEIVED)

    assert inbound is not None
    assert (inbound.kind, inbound.text) == (InboundKind.MEDIA, "")
    assert inbound.platform_id == f"update:{update['update_id']}"


def _edited(update: dict[str, Any]) -> dict[str, Any]:
    message = dict(update["message"], edit_date=update["message"]["date"] + 60)
    return {"update_id": update["update_id"], "edited_message": message}


def _in_group(update: dict[str, Any]) -> dict[str, Any]:
    chat = {"id": -1_001_234_567, "title": "Synthetic parents group", "type": "group"}
    return {"update_id": update["update_id"], "message": dict(update["message"], chat=chat)}


def _as_channel_post(update: dict[str, Any]) -> dict[str, Any]:
    chat = {"id": -1_009_876_543, "title": "Synthetic channel", "type": "channel"}
    post = {key: value for key, value in update["message"].items() if key != "from"}
    return {"update_id": update["update_id"], "channel_post": dict(post, chat=chat)}


def _service_message(update: dict[str, Any]) -> dict[str, Any]:
    message = {key: value for key, value in update["message"].items() if key != "text"}
    return {"update_id": update["update_id"], "message": dict(message, write_access_allowed={})}


_TEXT = make_text_update(701, CHAT_ID, "edited words")
_USER = _TEXT["message"]["from"]
_PRIVATE_CHAT = _TEXT["message"]["chat"]


@pytest.mark.parametrize(
    "update",
    [
        _edited(_TEXT),
        _in_group(_TEXT),
        _as_channel_post(_TEXT),
        _service_message(_TEXT),
        {
            "update_id": 702,
            "callback_query": {
                "id": "4382bfdwdsb323b2d9",
                "from": _USER,
                "chat_instance": "-1234567890",
                "data": "yes",
            },
        },
        {
            "update_id": 703,
            "my_chat_member": {
                "chat": _PRIVATE_CHAT,
                "from": _USER,
                "date": 1_700_000_703,
                "old_chat_member": {"status": "member", "user": _USER},
                "new_chat_member": {"status": "kicked", "user": _USER, "until_date": 0},
            },
        },
    ],
    ids=["edited", "group", "channel post", "service", "callback query", "blocked bot"],
)
def test_updates_we_do_not_use_are_ignored(
    offline_channel: TelegramChannel, update: dict[str, Any]
) -> None:
    assert offline_channel.parse_webhook(GOOD_HEADERS, _body(update), RECEIVED) is None


async def test_text_and_chat_ids_never_reach_our_logs(
    api: FakeTelegramAPI, channel: TelegramChannel, caplog: pytest.LogCaptureFixture
) -> None:
    secret_words = "my daughter Eliza-Synthetic was seen late"
    with caplog.at_level(logging.DEBUG):
        channel.parse_webhook(GOOD_HEADERS, _body(make_text_update(801, CHAT_ID, "x")), RECEIVED)
        channel.parse_webhook(
            GOOD_HEADERS, _body(_edited(make_text_update(802, CHAT_ID, secret_words))), RECEIVED
        )
        await channel.send(str(CHAT_ID), Outbound(secret_words))
        api.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
        with pytest.raises(PermanentDelivery):
            await channel.send(str(CHAT_ID), Outbound(secret_words))

    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("bot."))
    assert secret_words not in ours
    assert str(CHAT_ID) not in ours


# -- polling --------------------------------------------------------------------------------


class _Collector:
    """A ``handle`` for poll() that records what arrives and stops after ``until`` messages."""

    def __init__(self, stop: asyncio.Event, until: int, fail_first: int = 0) -> None:
        self.stop = stop
        self.until = until
        self.fail_first = fail_first
        self.attempts: list[str] = []
        self.handled: list[Inbound] = []

    async def __call__(self, inbound: Inbound) -> None:
        self.attempts.append(inbound.platform_id)
        if len(self.attempts) <= self.fail_first:
            raise RuntimeError("synthetic handler failure")
        self.handled.append(inbound)
        if len(self.handled) >= self.until:
            self.stop.set()


async def test_poll_delivers_pushed_updates_in_order_then_stops(
    api: FakeTelegramAPI, channel: TelegramChannel
) -> None:
    api.push_update(make_text_update(1, CHAT_ID, "first"))
    api.push_update(make_sticker_update(2, CHAT_ID))
    api.push_update(_edited(make_text_update(3, CHAT_ID, "ignored edit")))
    api.push_update(make_text_update(4, CHAT_ID, "second", language_code="pl"))
    stop = asyncio.Event()
    collector = _Collector(stop, until=3)

    await asyncio.wait_for(channel.poll(collector, stop, lambda: RECEIVED), timeout=5)

    assert [(i.platform_id, i.kind, i.text) for i in collector.handled] == [
        ("update:1", InboundKind.TEXT, "first"),
        ("update:2", InboundKind.MEDIA, ""),
        ("update:4", InboundKind.TEXT, "second"),
    ]
    assert collector.handled[-1].language_hint == "pl"
    assert all(i.received_at == RECEIVED for i in collector.handled)
    methods = api.methods_called()
    assert methods[:3] == ["getMe", "deleteWebhook", "getUpdates"]
    # on stop, everything handled is confirmed to Telegram so it is not delivered again
    last_method, last_params = api.calls[-1]
    assert (last_method, last_params["offset"]) == ("getUpdates", 5)
    assert api.pending_update_count == 0


async def test_poll_removes_a_webhook_first(api: FakeTelegramAPI, channel: TelegramChannel) -> None:
    await channel.set_webhook("https://parentvoice.example/telegram/webhook")
    api.push_update(make_text_update(11, CHAT_ID, "hello"))
    stop = asyncio.Event()
    collector = _Collector(stop, until=1)

    await asyncio.wait_for(channel.poll(collector, stop, lambda: RECEIVED), timeout=5)

    assert [i.platform_id for i in collector.handled] == ["update:11"]
    assert api.webhook_url == ""


async def test_poll_stops_promptly_during_a_long_poll(
    api: FakeTelegramAPI, channel: TelegramChannel
) -> None:
    stop = asyncio.Event()
    collector = _Collector(stop, until=1)
    polling = asyncio.create_task(channel.poll(collector, stop, lambda: RECEIVED))
    while "getUpdates" not in api.methods_called():
        await asyncio.sleep(0.01)

    stop.set()

    await asyncio.wait_for(polling, timeout=1)
    get_updates = [params for method, params in api.calls if method == "getUpdates"]
    assert get_updates[0]["timeout"] == 25
    assert get_updates[0]["allowed_updates"] == ["message"]
    assert collector.handled == []


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Back off in milliseconds rather than 1 s doubling to 30 s."""
    monkeypatch.setattr(telegram_module, "_BACKOFF_INITIAL", 0.01)
    monkeypatch.setattr(telegram_module, "_BACKOFF_MAX", 0.04)


@pytest.mark.usefixtures("fast_backoff")
async def test_poll_backs_off_and_continues_after_a_server_error(
    api: FakeTelegramAPI, channel: TelegramChannel
) -> None:
    api.fail_next("getUpdates", 500, "Internal Server Error")
    api.push_update(make_text_update(21, CHAT_ID, "still here"))
    stop = asyncio.Event()
    collector = _Collector(stop, until=1)

    await asyncio.wait_for(channel.poll(collector, stop, lambda: RECEIVED), timeout=5)

    assert [i.text for i in collector.handled] == ["still here"]
    assert api.methods_called()[1:4] == ["deleteWebhook", "getUpdates", "getUpdates"]


@pytest.mark.usefixtures("fast_backoff")
async def test_poll_survives_a_failing_webhook_removal_and_rate_limits(
    api: FakeTelegramAPI, channel: TelegramChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    api.fail_next("deleteWebhook", 502, "Bad Gateway", times=2)
    api.fail_next("getUpdates", 429, "Too Many Requests: retry after 1", retry_after=1)
    api.push_update(make_text_update(41, CHAT_ID, "patient"))
    stop = asyncio.Event()
    collector = _Collector(stop, until=1)
    started = asyncio.get_running_loop().time()

    await asyncio.wait_for(channel.poll(collector, stop, lambda: RECEIVED), timeout=5)

    assert asyncio.get_running_loop().time() - started >= 0.9  # waited as asked, not backoff
    assert [i.text for i in collector.handled] == ["patient"]
    assert api.methods_called()[1:6] == ["deleteWebhook"] * 3 + ["getUpdates"] * 2


@pytest.mark.usefixtures("fast_backoff")
async def test_poll_redelivers_a_message_whose_handler_failed(
    api: FakeTelegramAPI, channel: TelegramChannel
) -> None:
    api.push_update(make_text_update(31, CHAT_ID, "one"))
    api.push_update(make_text_update(32, CHAT_ID, "two"))
    stop = asyncio.Event()
    collector = _Collector(stop, until=2, fail_first=3)

    await asyncio.wait_for(channel.poll(collector, stop, lambda: RECEIVED), timeout=5)

    assert collector.attempts == ["update:31"] * 4 + ["update:32"]
    assert [i.text for i in collector.handled] == ["one", "two"]


# -- the network guard ----------------------------------------------------------------------


def test_the_guard_blocks_everything_but_loopback(tmp_path: Path) -> None:
    assert network_guard_installed()

    with pytest.raises(RuntimeError, match="network access outside 127.0.0.1 blocked in tests"):
        socket.create_connection(("10.255.255.1", 80), timeout=0.5)
    with socket.socket() as sock, pytest.raises(RuntimeError, match="blocked in tests"):
        sock.connect(("10.255.255.1", 80))
    with socket.socket() as sock, pytest.raises(RuntimeError, match="blocked in tests"):
        sock.connect_ex(("10.255.255.1", 80))
    with pytest.raises(RuntimeError, match="blocked in tests"):
        socket.getaddrinfo("api.telegram.org", 443)
    with socket.socket(socket.AF_INET6) as sock, pytest.raises(RuntimeError):
        sock.connect(("2001:db8::1", 443))
    assert len(blocked_attempts()) == 5

    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            pass
        with socket.create_connection(("localhost", port), timeout=1):
            pass
    unix_path = str(tmp_path / "guard.sock")
    with socket.socket(socket.AF_UNIX) as server, socket.socket(socket.AF_UNIX) as client:
        server.bind(unix_path)
        server.listen()
        client.connect(unix_path)
    clear_blocked_attempts()  # the attempts above were on purpose


async def test_the_sdk_cannot_reach_the_real_telegram() -> None:
    telegram_channel = TelegramChannel(TOKEN, SECRET)  # the default, real api.telegram.org
    with pytest.raises(ParentVoiceError) as caught:
        await telegram_channel.start()
    await telegram_channel.stop()

    assert "blocked in tests" in str(caught.value)
    assert any("api.telegram.org" in attempt for attempt in blocked_attempts())
    clear_blocked_attempts()


def test_install_and_uninstall_are_idempotent() -> None:
    was_installed = network_guard_installed()
    real_connect = socket.socket.connect
    install_network_guard()
    assert socket.socket.connect is real_connect  # already installed: unchanged
    uninstall_network_guard()
    uninstall_network_guard()
    assert not network_guard_installed()
    assert socket.socket.connect is not real_connect
    install_network_guard()
    if not was_installed:
        uninstall_network_guard()
