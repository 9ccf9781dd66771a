"""A fake Telegram Bot API on 127.0.0.1, driven through the real python-telegram-bot SDK.

    async with FakeTelegramAPI(TOKEN) as api:
        channel = TelegramChannel(TOKEN, SECRET, api_base_url=api.base_url)
        await channel.start()
        await channel.send("4242", Outbound("Hello"))
        (sent,) = await api.wait_for_sent(1)

It serves ``/bot<token>/<method>`` (GET or POST; JSON, form or query parameters, as the SDK
sends them) for getMe, sendMessage, setWebhook, deleteWebhook, getWebhookInfo and getUpdates,
with realistic ``{"ok": true, "result": ...}`` answers and Telegram's own error shapes.

- ``calls``: every authorised call as ``(method, params)``, faulted ones included;
- ``sent``: each delivered message as ``{"chat_id", "text", "reply_markup", "message_id"}``;
- ``unexpected``: calls to methods the fake does not implement (answered 404); assert it is empty;
- ``push_update(update)`` queues an update for getUpdates (long polling honours ``offset``
  and ``timeout``); ``fail_next(method, status, description, ...)`` programs a fault;
- ``reset()`` clears everything, so one fake can serve a whole module or session.

The server runs as a task in the current event loop, so it works under pytest-asyncio with a
session-scoped loop; ``push_update`` and ``fail_next`` must be called from that loop's thread.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.loopback import LoopbackServer

__all__ = [
    "FakeTelegramAPI",
    "make_photo_update",
    "make_sticker_update",
    "make_text_update",
]

JSONDict = dict[str, Any]

_MAX_TEXT_UNITS = 4096
_EPOCH = 1_700_000_000  # a fixed, synthetic "now" for built updates
_PARENT_FIRST_NAME = "Robin"  # invented

# How Bot API parameters arrive in a form or query string: every value is a string, and the SDK
# JSON-encodes the non-string ones. Telegram decodes them by the method's signature; so do we.
_INT_PARAMS = frozenset({"offset", "limit", "timeout", "max_connections", "message_thread_id"})
_BOOL_PARAMS = frozenset(
    {"drop_pending_updates", "disable_notification", "protect_content", "allow_paid_broadcast"}
)
_JSON_PARAMS = frozenset(
    {"reply_markup", "allowed_updates", "entities", "reply_parameters", "link_preview_options"}
)


@dataclass
class _Fault:
    status: int
    description: str
    retry_after: int | None
    times: int


class FakeTelegramAPI:
    """A Bot API server for one bot token, recording what the SDK asks of it."""

    def __init__(self, token: str, bot_first_name: str = "ParentVoice Test") -> None:
        """Serve the bot ``token``; any other token is answered 401 Unauthorized."""
        self.token = token
        self.bot_user: JSONDict = {
            "id": _bot_id(token),
            "is_bot": True,
            "first_name": bot_first_name,
            "username": "parentvoice_test_bot",
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.calls: list[tuple[str, JSONDict]] = []
        self.sent: list[JSONDict] = []
        self.unexpected: list[tuple[str, JSONDict]] = []
        self.unauthorized: list[str] = []  # methods called with a wrong token
        self.webhook_url = ""
        self.webhook_secret: str | None = None
        self.webhook_allowed_updates: list[str] | None = None
        self._updates: list[JSONDict] = []
        self._faults: dict[str, list[_Fault]] = {}
        self._next_message_id = 1
        self._changed = asyncio.Event()
        self._closing = False
        self._http = LoopbackServer(self._app(), "FakeTelegramAPI")

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> FakeTelegramAPI:
        """Start serving on a free port of 127.0.0.1."""
        await self._http.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop serving; pending long polls answer at once with no updates."""
        self._closing = True
        self._notify()
        await self._http.stop()

    @property
    def base_url(self) -> str:
        """The Bot API root to give the SDK, e.g. ``http://127.0.0.1:54321``."""
        return self._http.base_url()

    # -- test controls -----------------------------------------------------------------------

    def push_update(self, update: JSONDict) -> None:
        """Queue a Bot API update (see ``make_text_update``) for getUpdates."""
        if not isinstance(update.get("update_id"), int):
            raise ValueError("an update needs an integer update_id")
        self._updates.append(update)
        self._notify()

    def fail_next(
        self,
        method: str,
        status: int,
        description: str,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` with a Bot API error.

        E.g. ``fail_next("sendMessage", 429, "Too Many Requests: retry after 7", retry_after=7)``
        or ``fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")``.
        """
        self._faults.setdefault(method.lower(), []).append(
            _Fault(status, description, retry_after, times)
        )

    def reset(self) -> None:
        """Forget all calls, messages, updates, faults and the webhook, as if just started.

        Lets one running fake serve many tests (start-up and shut-down take ~0.2 s each).
        """
        self.calls.clear()
        self.sent.clear()
        self.unexpected.clear()
        self.unauthorized.clear()
        self.webhook_url = ""
        self.webhook_secret = None
        self.webhook_allowed_updates = None
        self._updates.clear()
        self._faults.clear()
        self._next_message_id = 1
        self._notify()

    def methods_called(self) -> list[str]:
        """The names of all authorised calls, in order."""
        return [method for method, _params in self.calls]

    @property
    def pending_update_count(self) -> int:
        """Updates queued and not yet confirmed by a getUpdates offset."""
        return len(self._updates)

    async def wait_for_sent(self, count: int, timeout: float = 5.0) -> list[JSONDict]:
        """Wait until at least ``count`` messages were sent; return all sent so far."""
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.sent) < count:
            if not await self._wait_changed(deadline):
                texts = [message["text"][:40] for message in self.sent]
                raise AssertionError(
                    f"expected {count} sent message(s) within {timeout} s, got {len(self.sent)}: "
                    f"{texts}"
                )
        return list(self.sent)

    # -- HTTP --------------------------------------------------------------------------------

    def _app(self) -> Starlette:
        return Starlette(
            routes=[Route("/{path:path}", self._endpoint, methods=["GET", "POST"])],
        )

    async def _endpoint(self, request: Request) -> JSONResponse:
        path = request.url.path
        head, _, method = path.rpartition("/")
        if not head.startswith("/bot") or not method:
            self.unexpected.append((path, {}))
            return _error(404, "Not Found")
        if head[len("/bot") :] != self.token:
            self.unauthorized.append(method)
            return _error(401, "Unauthorized")
        try:
            params = await _read_params(request)
        except ValueError as exc:
            self.unexpected.append((method, {"_error": str(exc)}))
            return _error(400, f"Bad Request: {exc}")
        self.calls.append((method, params))
        self._notify()

        fault = self._take_fault(method)
        if fault is not None:
            return _error(fault.status, fault.description, fault.retry_after)
        handler = {
            "getme": self._get_me,
            "sendmessage": self._send_message,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
        }.get(method.lower())
        if handler is not None:
            return handler(params)
        if method.lower() == "getupdates":
            return await self._get_updates(params)
        self.unexpected.append((method, params))
        return _error(404, "Not Found")

    def _take_fault(self, method: str) -> _Fault | None:
        queue = self._faults.get(method.lower())
        if not queue:
            return None
        fault = queue[0]
        fault.times -= 1
        if fault.times <= 0:
            queue.pop(0)
        return fault

    def _get_me(self, params: JSONDict) -> JSONResponse:
        return _ok(self.bot_user)

    def _send_message(self, params: JSONDict) -> JSONResponse:
        chat_id = params.get("chat_id")
        text = params.get("text")
        if chat_id is None or chat_id == "":
            return _error(400, "Bad Request: chat_id is empty")
        if not isinstance(chat_id, int):
            return _error(400, "Bad Request: chat not found")
        if not isinstance(text, str) or not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if len(text.encode("utf-16-le")) // 2 > _MAX_TEXT_UNITS:
            return _error(400, "Bad Request: message is too long")
        markup = params.get("reply_markup")
        if markup is not None and not isinstance(markup, dict):
            return _error(400, "Bad Request: can't parse reply keyboard markup JSON object")
        message_id = self._next_message_id
        self._next_message_id += 1
        self.sent.append(
            {"chat_id": chat_id, "text": text, "reply_markup": markup, "message_id": message_id}
        )
        self._notify()
        return _ok(
            {
                "message_id": message_id,
                "from": self.bot_user,
                "chat": {"id": chat_id, "first_name": _PARENT_FIRST_NAME, "type": "private"},
                "date": int(time.time()),
                "text": text,
            }
        )

    def _set_webhook(self, params: JSONDict) -> JSONResponse:
        url = params.get("url")
        if not isinstance(url, str) or not url:
            return _error(400, "Bad Request: bad webhook: HTTPS url must be provided for webhook")
        self.webhook_url = url
        self.webhook_secret = params.get("secret_token")
        self.webhook_allowed_updates = params.get("allowed_updates")
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return _ok(True, description="Webhook was set")

    def _delete_webhook(self, params: JSONDict) -> JSONResponse:
        was_set = bool(self.webhook_url)
        self.webhook_url = ""
        self.webhook_secret = None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return _ok(
            True, description="Webhook was deleted" if was_set else "Webhook is already deleted"
        )

    def _get_webhook_info(self, params: JSONDict) -> JSONResponse:
        return _ok(
            {
                "url": self.webhook_url,
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }
        )

    async def _get_updates(self, params: JSONDict) -> JSONResponse:
        if self.webhook_url:
            return _error(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = params.get("offset")
        if isinstance(offset, int) and offset > 0:
            # An offset confirms every update below it: Telegram forgets them.
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        limit = params.get("limit") or 100
        timeout = params.get("timeout") or 0
        deadline = asyncio.get_running_loop().time() + float(timeout)
        while not self._updates and not self._closing:
            if not await self._wait_changed(deadline):
                break
        return _ok(list(self._updates[: int(limit)]))

    # -- plumbing ----------------------------------------------------------------------------

    def _notify(self) -> None:
        """Wake everything waiting for a change (a new update, a sent message, shutdown)."""
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def _wait_changed(self, deadline: float) -> bool:
        """Wait for the next change until ``deadline`` (loop time); False if it passed."""
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            return False
        try:
            await asyncio.wait_for(self._changed.wait(), remaining)
        except TimeoutError:
            return False
        return True


async def _read_params(request: Request) -> JSONDict:
    """Bot API parameters from the query string and a JSON or url-encoded body."""
    params: JSONDict = {key: _decode(key, value) for key, value in request.query_params.items()}
    body = await request.body()
    if not body:
        return params
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        data = json.loads(body)
        if not isinstance(data, dict):
            raise ValueError("JSON body is not an object")
        params.update(data)
        if isinstance(params.get("chat_id"), str):  # Telegram accepts "123" as well as 123
            params["chat_id"] = _decode("chat_id", params["chat_id"])
    elif content_type == "application/x-www-form-urlencoded":
        for key, value in parse_qsl(body.decode("utf-8"), keep_blank_values=True):
            params[key] = _decode(key, value)
    else:
        # multipart is only used to upload files, which ParentVoice never does
        raise ValueError(f"unsupported content type {content_type!r} in the fake")
    return params


def _decode(key: str, value: str) -> Any:
    """Decode one form value as Telegram would for that parameter."""
    if key == "chat_id":
        return int(value) if value.lstrip("-").isdigit() else value
    if key in _INT_PARAMS:
        return int(value)
    if key in _BOOL_PARAMS:
        return value.lower() in ("true", "1")
    if key in _JSON_PARAMS:
        return json.loads(value)
    return value


def _ok(result: Any, description: str | None = None) -> JSONResponse:
    payload: JSONDict = {"ok": True, "result": result}
    if description is not None:
        payload["description"] = description
    return JSONResponse(payload)


def _error(status: int, description: str, retry_after: int | None = None) -> JSONResponse:
    payload: JSONDict = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        payload["parameters"] = {"retry_after": retry_after}
    return JSONResponse(payload, status_code=status)


def _bot_id(token: str) -> int:
    """A real token starts with the bot's numeric id ("123456:ABC..."); fall back to a constant."""
    prefix = token.split(":", 1)[0]
    return int(prefix) if prefix.isdigit() else 777_000_001


# -- update builders ---------------------------------------------------------------------------


def _private_message(
    update_id: int, chat_id: int, language_code: str | None, date: int | None
) -> JSONDict:
    user: JSONDict = {"id": chat_id, "is_bot": False, "first_name": _PARENT_FIRST_NAME}
    if language_code is not None:
        user["language_code"] = language_code
    return {
        "message_id": 100 + update_id,
        "from": user,
        "chat": {"id": chat_id, "first_name": _PARENT_FIRST_NAME, "type": "private"},
        "date": _EPOCH + update_id if date is None else date,
    }


def make_text_update(
    update_id: int,
    chat_id: int,
    text: str,
    language_code: str | None = "en",
    date: int | None = None,
) -> JSONDict:
    """A Bot API update: a parent typed ``text`` in a private chat with the bot."""
    message = _private_message(update_id, chat_id, language_code, date)
    message["text"] = text
    if text.startswith("/"):
        command = text.split(maxsplit=1)[0]
        message["entities"] = [{"offset": 0, "length": len(command), "type": "bot_command"}]
    return {"update_id": update_id, "message": message}


def make_sticker_update(
    update_id: int,
    chat_id: int,
    emoji: str = "\U0001f44d",
    language_code: str | None = "en",
    date: int | None = None,
) -> JSONDict:
    """A Bot API update: a parent sent a sticker."""
    message = _private_message(update_id, chat_id, language_code, date)
    message["sticker"] = {
        "file_id": f"CAACAgIAAxkBAAI{update_id:06d}",
        "file_unique_id": f"AgAD{update_id:06d}",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "emoji": emoji,
        "set_name": "SyntheticStickers",
        "file_size": 23456,
    }
    return {"update_id": update_id, "message": message}


def make_photo_update(
    update_id: int,
    chat_id: int,
    caption: str | None = None,
    language_code: str | None = "en",
    date: int | None = None,
) -> JSONDict:
    """A Bot API update: a parent sent a photo (in Telegram's usual sizes), maybe captioned."""
    message = _private_message(update_id, chat_id, language_code, date)
    message["photo"] = [
        {
            "file_id": f"AgACAgQAAxkBAAI{update_id:06d}{size}",
            "file_unique_id": f"AQAD{update_id:06d}{size}",
            "width": width,
            "height": height,
            "file_size": width * height // 10,
        }
        for size, (width, height) in enumerate(((90, 67), (320, 240), (800, 600)))
    ]
    if caption is not None:
        message["caption"] = caption
    return {"update_id": update_id, "message": message}
