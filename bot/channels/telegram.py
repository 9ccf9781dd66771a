"""Telegram channel: verify and parse Bot API updates; send replies through python-telegram-bot.

The adapter wraps a ``telegram.Bot`` (never subclasses it) and only translates:

- inbound: a webhook request or a polled update becomes an ``Inbound`` (private chats' new
  messages only; everything else is ignored);
- outbound: an ``Outbound`` becomes one or more ``sendMessage`` calls, and SDK exceptions
  become ``RetryableDelivery`` / ``PermanentDelivery`` in one place (``_delivery_error``).

Message text and chat ids are never logged. Note that the SDK and httpx log on their own:
``telegram.Bot`` logs request parameters (text, chat id) at DEBUG and ``httpx`` logs every URL,
which contains the bot token, at INFO; the logging setup must keep both loggers at WARNING.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import re
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

import telegram
from telegram.constants import ChatType
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from bot.channels.base import Inbound, InboundKind, Outbound
from bot.errors import (
    ConfigError,
    DeliveryError,
    ParentVoiceError,
    PermanentDelivery,
    RetryableDelivery,
    WebhookRejected,
)

__all__ = ["MAX_TEXT_UNITS", "SECRET_HEADER", "TelegramChannel", "split_text"]

_LOGGER = logging.getLogger(__name__)
_T = TypeVar("_T")

SECRET_HEADER = "x-telegram-bot-api-secret-token"
# Telegram's own rule for secret_token; checking it here turns a typo into a startup error.
_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{1,256}")
_ALLOWED_UPDATES = ["message"]

# Telegram counts the limit in UTF-16 code units (an emoji counts twice); we do too, to be safe.
MAX_TEXT_UNITS = 4096
_POLL_TIMEOUT = 25  # seconds Telegram holds a getUpdates request open
_BACKOFF_INITIAL = 1.0
_BACKOFF_MAX = 30.0
_CONFIRM_TIMEOUT = 5.0

# Boundaries to split a long text on, best first, each with whether to cut after the match.
_PARAGRAPH = re.compile(r"\n[ \t]*\n")
_LINE = re.compile(r"\n")
_SENTENCE = re.compile(r"[.!?\u2026]+[\"'\u201d\u2019)\]]*(?=\s)")
_SPACE = re.compile(r"\s")
_STRONG_BOUNDARIES: tuple[tuple[re.Pattern[str], bool], ...] = (
    (_PARAGRAPH, False),  # cut before the blank line
    (_LINE, False),
    (_SENTENCE, True),  # cut after the full stop
)


class TelegramChannel:
    """The Telegram Bot API as a channel: webhook or long polling in, sendMessage out."""

    name = "telegram"

    def __init__(
        self, token: str, webhook_secret: str, api_base_url: str = "https://api.telegram.org"
    ) -> None:
        """Build the SDK client; no network call happens until ``start()``.

        ``api_base_url`` is the Bot API root; tests point it at a fake on 127.0.0.1.
        """
        if not token:
            raise ConfigError("telegram: the bot token is empty")
        if not _SECRET_RE.fullmatch(webhook_secret):
            raise ConfigError(
                "telegram: the webhook secret must be 1-256 characters of A-Z, a-z, 0-9, _ and -"
            )
        self._token = token
        self._secret = webhook_secret.encode("ascii")
        self._started = False
        self._bot = telegram.Bot(
            token,
            # PTB appends the token to base_url itself: "<root>/bot" + token + "/" + method.
            base_url=f"{api_base_url.rstrip('/')}/bot",
            base_file_url=f"{api_base_url.rstrip('/')}/file/bot",
            request=HTTPXRequest(
                connect_timeout=5.0, read_timeout=10.0, write_timeout=10.0, pool_timeout=5.0
            ),
            # PTB adds getUpdates' long-poll ``timeout`` to this read timeout (10 + 25 s).
            get_updates_request=HTTPXRequest(
                connection_pool_size=1,
                connect_timeout=5.0,
                read_timeout=10.0,
                write_timeout=10.0,
                pool_timeout=5.0,
            ),
        )

    async def start(self) -> None:
        """Open the HTTP clients and check the token (getMe)."""
        try:
            await self._bot.initialize()
        except TelegramError as exc:
            await self._bot.shutdown()  # the HTTP clients were opened before getMe failed
            raise self._setup_error(exc, "checking the bot token (getMe)") from exc
        self._started = True

    async def stop(self) -> None:
        """Close the HTTP clients. Safe to call more than once."""
        self._started = False
        await self._bot.shutdown()

    def parse_webhook(
        self, headers: Mapping[str, str], body: bytes, received_at: datetime
    ) -> Inbound | None:
        """Verify and parse one webhook request from Telegram.

        Returns ``None`` for updates we ignore (edits, group chats, service messages...), which
        the web layer should still answer with 200 so Telegram does not redeliver them.
        Raises ``WebhookRejected`` with 403 for a missing or wrong secret token and 400 for a body
        that is not a Bot API update.
        """
        given = _header(headers, SECRET_HEADER)
        if given is None:
            raise WebhookRejected(403, "missing secret token header")
        if not hmac.compare_digest(given.encode("utf-8"), self._secret):
            raise WebhookRejected(403, "wrong secret token")
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as exc:
            raise WebhookRejected(400, "body is not JSON") from exc
        if not isinstance(data, dict):
            raise WebhookRejected(400, "body is not a JSON object")
        update_id = data.get("update_id")
        if not isinstance(update_id, int) or not _is_id(update_id) or update_id < 0:
            raise WebhookRejected(400, "update_id is missing or not an integer")
        if "message" in data:
            _check_message(update_id, data["message"])
        try:
            update = telegram.Update.de_json(data, self._bot)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise WebhookRejected(400, f"update {update_id} is not a valid Bot API update") from exc
        return self.parse_update(update, received_at)

    def parse_update(self, update: telegram.Update, received_at: datetime) -> Inbound | None:
        """Normalise one update (from the webhook or from polling); ``None`` if we ignore it."""
        message = update.message
        if message is None or message.chat.type != ChatType.PRIVATE:
            _LOGGER.debug("telegram update %d ignored: not a private message", update.update_id)
            return None
        if message.text is not None:
            kind, text = InboundKind.TEXT, message.text
        elif _has_media(message):
            kind, text = InboundKind.MEDIA, ""  # a caption goes with the media, not as text
        else:
            _LOGGER.debug("telegram update %d ignored: service message", update.update_id)
            return None
        user = message.from_user
        return Inbound(
            channel=self.name,
            address=str(message.chat.id),
            platform_id=f"update:{update.update_id}",
            kind=kind,
            text=text,
            received_at=received_at,
            language_hint=user.language_code if user is not None else None,
        )

    async def send(self, address: str, message: Outbound) -> str:
        """Send ``message`` to the chat ``address``; return the (last) Telegram message id.

        A text over Telegram's limit goes as several messages, split on paragraph, line or
        sentence boundaries; the keyboard goes with the last one. If a later part fails, the
        earlier parts have been delivered and a retry sends them again.
        """
        self._require_started()
        try:
            chat_id = int(address)
        except ValueError as exc:
            raise PermanentDelivery("telegram: address is not a chat id") from exc
        markup: telegram.ReplyKeyboardMarkup | telegram.ReplyKeyboardRemove
        if message.choices:
            markup = telegram.ReplyKeyboardMarkup(
                [[telegram.KeyboardButton(choice)] for choice in message.choices],
                one_time_keyboard=True,
                resize_keyboard=True,
            )
        else:
            markup = telegram.ReplyKeyboardRemove()
        parts = split_text(message.text)
        message_id = ""
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            try:
                sent = await self._bot.send_message(
                    chat_id=chat_id, text=part, reply_markup=markup if last else None
                )
            except TelegramError as exc:
                raise self._delivery_error(exc) from exc
            message_id = str(sent.message_id)
        return message_id

    async def set_webhook(self, url: str) -> None:
        """Ask Telegram to deliver new messages to ``url``, signed with our secret token."""
        self._require_started()
        try:
            await self._bot.set_webhook(
                url,
                secret_token=self._secret.decode("ascii"),
                allowed_updates=_ALLOWED_UPDATES,
                drop_pending_updates=False,
            )
        except TelegramError as exc:
            raise self._setup_error(exc, "setting the webhook") from exc

    async def poll(
        self,
        handle: Callable[[Inbound], Awaitable[None]],
        stop: asyncio.Event,
        clock: Callable[[], datetime],
    ) -> None:
        """Receive messages by long polling until ``stop`` is set (local use, no public URL).

        Removes any webhook first (Telegram refuses getUpdates while one is set). Each message is
        awaited through ``handle`` before its update is confirmed, so a crash re-delivers it
        rather than losing it; the pipeline recognises the replay by ``platform_id``. Network
        errors, and a failing ``handle``, back off (1 s doubling to 30 s) and retry; nothing
        but cancellation ends the loop early.
        """
        self._require_started()
        offset: int | None = None  # next update_id to ask for; all below it are handled
        confirmed: int | None = None  # the offset Telegram has last been told about
        current: int | None = None  # the update being handled, for the log
        webhook_removed = False
        backoff = _BACKOFF_INITIAL
        while not stop.is_set():
            try:
                if not webhook_removed:
                    await self._bot.delete_webhook(drop_pending_updates=False)
                    webhook_removed = True
                updates = await _unless_stopped(
                    self._bot.get_updates(
                        offset=offset, timeout=_POLL_TIMEOUT, allowed_updates=_ALLOWED_UPDATES
                    ),
                    stop,
                )
                if updates is None:
                    break
                confirmed = offset
                for update in updates:
                    if stop.is_set():
                        break
                    current = update.update_id
                    inbound = self.parse_update(update, clock())
                    if inbound is not None:
                        await handle(inbound)
                    offset = update.update_id + 1
                backoff = _BACKOFF_INITIAL  # only now: a message that keeps failing backs off
                continue
            except RetryAfter as exc:
                delay = _retry_after_seconds(exc) or backoff
                _LOGGER.warning("telegram polling rate-limited; waiting %.0f s", delay)
            except TelegramError as exc:
                delay, backoff = backoff, min(backoff * 2, _BACKOFF_MAX)
                _LOGGER.warning(
                    "telegram polling failed (%s: %s); retrying in %.0f s",
                    type(exc).__name__,
                    self._redact(str(exc)),
                    delay,
                )
            except Exception:
                # Most likely the handler: the update is not confirmed, so it comes back later.
                delay, backoff = backoff, min(backoff * 2, _BACKOFF_MAX)
                _LOGGER.exception(
                    "telegram polling: update %s could not be handled; retrying in %.0f s",
                    current,
                    delay,
                )
            await _sleep_unless_stopped(delay, stop)
        if offset is not None and offset != confirmed:
            await self._confirm(offset)

    async def _confirm(self, offset: int) -> None:
        """Tell Telegram every update below ``offset`` is handled (best effort, on stop)."""
        try:
            await asyncio.wait_for(
                self._bot.get_updates(
                    offset=offset, timeout=0, limit=1, allowed_updates=_ALLOWED_UPDATES
                ),
                _CONFIRM_TIMEOUT,
            )
        except (TelegramError, TimeoutError) as exc:
            # Harmless: the handled updates come again next time and are recognised as replays.
            _LOGGER.warning("telegram polling: could not confirm updates (%s)", type(exc).__name__)

    def _require_started(self) -> None:
        if not self._started:
            raise RuntimeError("TelegramChannel.start() must be awaited first")

    def _redact(self, text: str) -> str:
        """Remove the bot token from an SDK message (PTB puts it in some, e.g. InvalidToken)."""
        return text.replace(self._token, "<token>")

    def _delivery_error(self, exc: TelegramError) -> DeliveryError:
        """The one place SDK exceptions become delivery errors (callers ``raise ... from exc``)."""
        reason = f"telegram: {self._redact(exc.message)}"
        # Order matters: BadRequest and TimedOut are NetworkError subclasses.
        if isinstance(exc, RetryAfter):
            return RetryableDelivery(reason, retry_after=_retry_after_seconds(exc))
        if isinstance(exc, Forbidden | BadRequest | InvalidToken | ChatMigrated | EndPointNotFound):
            return PermanentDelivery(reason)
        if isinstance(exc, TimedOut | NetworkError | Conflict):
            return RetryableDelivery(reason)
        # Anything else (e.g. an unreadable answer): let the outbox's retry limit decide.
        return RetryableDelivery(reason)

    def _setup_error(self, exc: TelegramError, action: str) -> ParentVoiceError:
        """Convert a failure of start() or set_webhook() for the operator."""
        reason = self._redact(exc.message)
        if isinstance(exc, InvalidToken):
            return ConfigError(f"telegram: the bot token was rejected while {action}")
        if isinstance(exc, Forbidden | BadRequest):
            return ConfigError(f"telegram: refused {action}: {reason}")
        return ParentVoiceError(f"telegram: failed {action}: {reason}")


def split_text(text: str, limit: int = MAX_TEXT_UNITS) -> list[str]:
    """Split ``text`` into parts of at most ``limit`` UTF-16 code units, on natural boundaries.

    A text that fits is returned unchanged. Otherwise each part ends at a paragraph break, line
    break or sentence end if there is one, else at a space, and only as a last resort mid-word;
    whitespace around a cut is dropped.
    """
    if _utf16_len(text) <= limit:
        return [text]
    parts: list[str] = []
    rest = text
    while _utf16_len(rest) > limit:
        cut = _best_cut(rest, _fitting_prefix(rest, limit))
        head, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        if head:
            parts.append(head)
    if rest:
        parts.append(rest)
    return parts


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _fitting_prefix(text: str, limit: int) -> int:
    """The number of code points of ``text`` whose UTF-16 length is at most ``limit``."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def _best_cut(text: str, window: int) -> int:
    """Where to end the head of ``text``, at most ``window`` code points in.

    A paragraph, line or sentence end in the second half of the window is best; then one
    anywhere (a short part beats a cut mid-sentence); then the last space; then mid-word.
    """
    for lowest, boundaries in (
        (window // 2, _STRONG_BOUNDARIES),
        (1, _STRONG_BOUNDARIES),
        (1, ((_SPACE, False),)),
    ):
        for pattern, after_match in boundaries:
            cuts = [
                m.end() if after_match else m.start()
                for m in pattern.finditer(text, lowest, window + 1)
            ]
            cuts = [cut for cut in cuts if lowest <= cut <= window]
            if cuts:
                return cuts[-1]
    return window


def _has_media(message: telegram.Message) -> bool:
    """Whether the parent sent something other than text that we cannot read."""
    return any(
        (
            message.sticker,
            message.photo,
            message.voice,
            message.video,
            message.video_note,
            message.document,
            message.animation,
            message.audio,
            message.location,
            message.venue,
            message.contact,
            message.dice,
            message.poll,
            message.story,
        )
    )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Read a header from a case-insensitive mapping, or from a plain dict of any case."""
    value = headers.get(name)
    if value is not None:
        return value
    for key, candidate in headers.items():
        if key.lower() == name:
            return candidate
    return None


def _retry_after_seconds(exc: RetryAfter) -> float | None:
    """RetryAfter's wait in seconds; PTB 22 returns int or timedelta and warns about the change."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value: int | float | timedelta = exc.retry_after
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    return seconds if seconds > 0 else None


async def _unless_stopped(call: Coroutine[Any, Any, _T], stop: asyncio.Event) -> _T | None:
    """Await ``call`` unless ``stop`` is set first, in which case cancel it and return None."""
    task = asyncio.ensure_future(call)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        if not task.done():
            task.cancel()
            # asyncio.wait, unlike awaiting the task, lets our own cancellation through.
            await asyncio.wait({task})
    if task.cancelled():
        return None
    return task.result()


async def _sleep_unless_stopped(delay: float, stop: asyncio.Event) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=delay)


def _is_id(value: object) -> bool:
    """An integer as the Bot API sends ids and dates (at most 52 bits; never a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**53


def _check_message(update_id: int, message: object) -> None:
    """The fields of a message we rely on have the types the Bot API gives them; otherwise the
    body is not a real update (python-telegram-bot takes whatever it is given)."""
    if not isinstance(message, dict):
        raise WebhookRejected(400, f"update {update_id}: message is not an object")
    chat, sender = message.get("chat"), message.get("from")
    problems = [
        not _is_id(message.get("message_id")) and "message_id",
        not _is_id(message.get("date")) and "date",
        not (isinstance(chat, dict) and _is_id(chat.get("id"))) and "chat.id",
        not (isinstance(chat, dict) and isinstance(chat.get("type"), str)) and "chat.type",
        "text" in message and not isinstance(message["text"], str) and "text",
        sender is not None
        and not (isinstance(sender, dict) and _is_id(sender.get("id")))
        and "from",
    ]
    wrong = [name for name in problems if name]
    if wrong:
        raise WebhookRejected(400, f"update {update_id}: {', '.join(wrong)} missing or malformed")
