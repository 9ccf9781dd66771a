"""A fake Twilio Messages API on 127.0.0.1, driven through the real twilio SDK; plus webhook builders.

    async with FakeTwilioAPI(ACCOUNT_SID, AUTH_TOKEN) as api:
        channel = TwilioChannel("sms", TwilioSettings(..., api_base_url=api.base_url))
        await channel.start()
        sid = await channel.send("+447700900123", Outbound("Hello"))
        (sent,) = await api.wait_for_sent(1)        # {"To": ..., "From": ..., "Body": "Hello"}

It serves ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` as Twilio does: form-encoded
To, From, MessagingServiceSid, Body, ContentSid, ContentVariables, StatusCallback; HTTP Basic
auth with the account SID and auth token (401, error 20003, otherwise); a 201 Message resource
(``sid`` "SM" + 32 hex, ``status`` "queued", or "accepted" when a Messaging Service picks the
sender); and Twilio's legacy error JSON ``{"code", "message", "more_info", "status"}`` for the
checks Twilio makes up front (missing To/From/Body, bad numbers, mixed channels, 1600 characters).

- ``requests``: every request, answered or not; ``sent``: the form fields of each created message;
  ``messages``: the Message resources returned, by sid; ``unexpected``: requests to paths the fake
  does not implement (answered 404); assert it is empty;
- ``fail_next(status, code, message, ...)`` programs one fault; ``fail_for(seconds)`` an outage;
  ``opted_out`` holds numbers that texted STOP (sending to them is error 21610);
- ``latency`` delays every answer; ``peak_in_flight`` is the most requests served at once;
- ``reset()`` clears everything, so one fake can serve a whole module or session.

Inbound webhooks are built, not served: ``sms_params``, ``whatsapp_params`` and ``status_params``
give the form fields Twilio posts, and ``signed_form(url, params, auth_token)`` the headers and
body, signed with the SDK's own ``RequestValidator``, to post to the app.

The server runs as a task in the current event loop (pytest-asyncio's session loop); the test
controls must be called from that loop's thread. All data is synthetic: Ofcom's drama numbers
(+447700900000 to +447700900999), invented SIDs and names.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from twilio.request_validator import RequestValidator

from tests.fakes.loopback import LoopbackServer

__all__ = [
    "ACCOUNT_SID",
    "AUTH_TOKEN",
    "MESSAGING_SERVICE_SID",
    "SMS_NUMBER",
    "WHATSAPP_NUMBER",
    "FakeTwilioAPI",
    "RecordedRequest",
    "new_sid",
    "signed_form",
    "sms_params",
    "status_params",
    "whatsapp_params",
]

JSONDict = dict[str, Any]

# Synthetic account and senders (drama numbers), for tests that need no particular values.
ACCOUNT_SID = "AC" + "5ea1" * 8
AUTH_TOKEN = "synthetic-auth-token-0123456789ab"
MESSAGING_SERVICE_SID = "MG" + "a11e" * 8
SMS_NUMBER = "+447700900001"
WHATSAPP_NUMBER = "+447700900002"

_API_VERSION = "2010-04-01"
_MESSAGES_PATH = re.compile(r"/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")
_SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")
_MAX_BODY = 1600  # characters, Twilio's limit for one (concatenated) message
_WHATSAPP = "whatsapp:"
# Twilio's usual error codes for whole-request failures, by HTTP status.
_STATUS_ERRORS = {
    401: (20003, "Authenticate"),
    404: (20404, "The requested resource was not found"),
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    503: (20503, "Service Unavailable"),
}


@dataclass(frozen=True)
class RecordedRequest:
    """One HTTP request as the fake received it."""

    method: str
    path: str
    form: dict[str, str]
    authorized: bool
    headers: dict[str, str] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)  # arrival, for rate checks


@dataclass
class _Fault:
    status: int
    code: int
    message: str
    retry_after: float | None
    times: int


class FakeTwilioAPI:
    """The Messages resource of one Twilio account, recording what the SDK asks of it."""

    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        """Serve ``account_sid``; requests with other credentials are answered 401."""
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.requests: list[RecordedRequest] = []
        self.sent: list[dict[str, str]] = []
        self.messages: dict[str, JSONDict] = {}
        self.unexpected: list[RecordedRequest] = []
        self.opted_out: set[str] = set()
        self.latency = 0.0  # seconds to wait before each answer
        self.peak_in_flight = 0
        self._in_flight = 0
        self._faults: list[_Fault] = []
        self._outage_until = 0.0
        self._outage_status = 500
        self._changed = asyncio.Event()
        self._http = LoopbackServer(
            Starlette(routes=[Route("/{path:path}", self._endpoint, methods=["GET", "POST"])]),
            "FakeTwilioAPI",
        )

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> FakeTwilioAPI:
        """Start serving on a free port of 127.0.0.1."""
        await self._http.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop serving."""
        await self._http.stop()

    @property
    def base_url(self) -> str:
        """The API root to give the channel as ``api_base_url``, e.g. ``http://127.0.0.1:54321``."""
        return self._http.base_url()

    # -- test controls -----------------------------------------------------------------------

    def fail_next(
        self,
        status: int,
        code: int,
        message: str,
        times: int = 1,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next ``times`` authorised message requests with a Twilio error.

        E.g. ``fail_next(400, 21610, "Attempt to send to unsubscribed recipient")`` or
        ``fail_next(429, 20429, "Too Many Requests", retry_after=7)`` (sets Retry-After).
        """
        self._faults.append(_Fault(status, code, message, retry_after, times))

    def fail_for(self, seconds: float, status: int = 500) -> None:
        """Answer every request with ``status`` for the next ``seconds`` (an outage)."""
        self._outage_until = asyncio.get_running_loop().time() + seconds
        self._outage_status = status

    def reset(self) -> None:
        """Forget requests, messages, faults, opt-outs and latency, as if just started."""
        self.requests.clear()
        self.sent.clear()
        self.messages.clear()
        self.unexpected.clear()
        self.opted_out.clear()
        self.latency = 0.0
        self.peak_in_flight = 0
        self._faults.clear()
        self._outage_until = 0.0
        self._notify()

    async def wait_for_sent(self, count: int, timeout: float = 5.0) -> list[dict[str, str]]:
        """Wait until at least ``count`` messages were created; return all created so far."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(self.sent) < count:
            self._changed.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"expected {count} sent message(s) within {timeout} s, got {len(self.sent)}"
                )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
        return list(self.sent)

    # -- HTTP --------------------------------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()

    async def _endpoint(self, request: Request) -> JSONResponse:
        self._in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            return await self._answer(request)
        finally:
            self._in_flight -= 1

    async def _answer(self, request: Request) -> JSONResponse:
        # Parsed by hand: Starlette's request.form() needs python-multipart, which we do not use.
        form = dict(parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True))
        path = request.url.path
        match = _MESSAGES_PATH.fullmatch(path)
        authorized = self._authorized(request.headers.get("authorization", ""))
        recorded = RecordedRequest(
            method=request.method,
            path=path,
            form=form,
            authorized=authorized and match is not None and match["account"] == self.account_sid,
            headers={k: v for k, v in request.headers.items() if k.lower() != "authorization"},
        )
        self.requests.append(recorded)
        self._notify()

        if asyncio.get_running_loop().time() < self._outage_until:
            return _status_error(self._outage_status)
        if match is not None and request.method == "GET" and recorded.authorized:
            return self._list_messages(request.query_params.get("To", ""))
        if match is None or request.method != "POST":
            self.unexpected.append(recorded)
            return _status_error(404)
        if not recorded.authorized:
            return _status_error(401)
        if self._faults:
            fault = self._faults[0]
            fault.times -= 1
            if fault.times <= 0:
                self._faults.pop(0)
            return _error(fault.status, fault.code, fault.message, fault.retry_after)
        return self._create_message(form)

    def _list_messages(self, to: str) -> JSONResponse:
        """GET Messages.json: the messages created so far (newest first), optionally to one number."""
        found = [m for m in reversed(self.messages.values()) if not to or m.get("to") == to]
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        return JSONResponse(
            {
                "messages": found,
                "page": 0,
                "page_size": max(len(found), 50),
                "start": 0,
                "end": max(len(found) - 1, 0),
                "uri": uri,
                "first_page_uri": uri,
                "next_page_uri": None,
                "previous_page_uri": None,
            }  # fmt: skip
        )

    def _authorized(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return user == self.account_sid and password == self.auth_token

    def _create_message(self, form: dict[str, str]) -> JSONResponse:
        """Twilio's up-front checks, then a 201 Message resource."""
        to = form.get("To", "")
        sender = form.get("From", "")
        service = form.get("MessagingServiceSid", "")
        body = form.get("Body", "")
        content_sid = form.get("ContentSid", "")
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        if not sender and not service:
            return _error(400, 21603, "A 'From' phone number is required.")
        if service and not _SERVICE_SID.fullmatch(service):
            return _error(400, 21701, f"The Messaging Service Sid {service} is invalid.")
        if sender and to.startswith(_WHATSAPP) != sender.startswith(_WHATSAPP):
            return _error(
                400,
                21910,
                "Invalid From and To pair. From and To should be of the same channel",
            )
        number = to.removeprefix(_WHATSAPP)
        if not _E164.fullmatch(number):
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if number in self.opted_out:
            return _error(400, 21610, "Attempt to send to unsubscribed recipient")
        if not body and not content_sid and "MediaUrl" not in form:
            return _error(400, 21602, "Message body is required.")
        if len(body) > _MAX_BODY:
            return _error(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        if content_sid and not _CONTENT_SID.fullmatch(content_sid):
            return _error(400, 21655, "The ContentSid is Invalid.")
        if "ContentVariables" in form:
            try:
                variables = json.loads(form["ContentVariables"])
            except ValueError:
                variables = None
            if not content_sid or not isinstance(variables, dict):
                return _error(400, 21656, "The ContentVariables Parameter is invalid.")

        sid = new_sid("SM")
        now = format_datetime(datetime.now(UTC), usegmt=False)
        uri = f"/{_API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        resource: JSONDict = {
            "account_sid": self.account_sid,
            "api_version": _API_VERSION,
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            # With a Messaging Service and no From, Twilio picks the sender later.
            "from": sender or None,
            "messaging_service_sid": service or None,
            "num_media": "0",
            "num_segments": str(_segments(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued" if sender else "accepted",
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": to,
            "uri": f"{uri}.json",
        }
        self.sent.append(form)
        self.messages[sid] = resource
        self._notify()
        return JSONResponse(resource, status_code=201, headers=_request_id())


def _error(status: int, code: int, message: str, retry_after: float | None = None) -> JSONResponse:
    """Twilio's (legacy) error body, which the SDK turns into a TwilioRestException."""
    headers = _request_id()
    if retry_after is not None:
        headers["Retry-After"] = f"{retry_after:g}"
    return JSONResponse(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status_code=status,
        headers=headers,
    )


def _status_error(status: int) -> JSONResponse:
    code, message = _STATUS_ERRORS.get(status, (20500, "Internal Server Error"))
    return _error(status, code, message)


def _request_id() -> dict[str, str]:
    return {"Twilio-Request-Id": new_sid("RQ")}


def _segments(body: str) -> int:
    """SMS segments, roughly: ASCII as GSM-7 (160, or 153 per part), anything else UCS-2."""
    single, part = (160, 153) if body.isascii() else (70, 67)
    if len(body) <= single:
        return 1
    return -(-len(body) // part)


# -- building inbound webhooks -----------------------------------------------------------------


def new_sid(prefix: str = "SM") -> str:
    """A random Twilio-shaped SID: two letters and 32 hex digits."""
    return prefix + uuid.uuid4().hex


def signed_form(
    url: str, params: Mapping[str, str], auth_token: str = AUTH_TOKEN
) -> tuple[dict[str, str], bytes]:
    """Headers and body of a webhook POST to ``url``, signed as Twilio signs it.

    ``url`` is the full URL Twilio requests, query string included; the signature covers it
    and the form fields (X-Twilio-Signature: HMAC-SHA1 with the auth token, base64).
    """
    signature = RequestValidator(auth_token).compute_signature(url, dict(params))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature,
        "User-Agent": "TwilioProxy/1.1",
        "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
    }
    return headers, urlencode(dict(params)).encode("utf-8")


def sms_params(
    message_sid: str,
    from_: str,
    body: str,
    to: str = SMS_NUMBER,
    num_media: int = 0,
    account_sid: str = ACCOUNT_SID,
) -> dict[str, str]:
    """The form fields Twilio posts for an incoming SMS (or MMS when ``num_media`` > 0)."""
    params = {
        "ToCountry": "GB",
        "ToState": "",
        "SmsMessageSid": message_sid,
        "NumMedia": str(num_media),
        "ToCity": "",
        "FromZip": "",
        "SmsSid": message_sid,
        "FromState": "",
        "SmsStatus": "received",
        "FromCity": "",
        "Body": body,
        "FromCountry": "GB",
        "To": to,
        "ToZip": "",
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": message_sid,
        "AccountSid": account_sid,
        "From": from_,
        "ApiVersion": _API_VERSION,
    }
    params.update(_media(message_sid, num_media, account_sid))
    return params


def whatsapp_params(
    message_sid: str,
    from_: str,
    body: str,
    to: str = WHATSAPP_NUMBER,
    profile_name: str = "Robin Synthetic",
    num_media: int = 0,
    account_sid: str = ACCOUNT_SID,
) -> dict[str, str]:
    """The form fields Twilio posts for an incoming WhatsApp message; numbers in E.164."""
    params = {
        "SmsMessageSid": message_sid,
        "NumMedia": str(num_media),
        "ProfileName": profile_name,
        "MessageType": "image" if num_media else "text",
        "SmsSid": message_sid,
        "WaId": from_.removeprefix("+"),
        "SmsStatus": "received",
        "Body": body,
        "To": f"{_WHATSAPP}{to}",
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": message_sid,
        "AccountSid": account_sid,
        "From": f"{_WHATSAPP}{from_}",
        "ApiVersion": _API_VERSION,
    }
    params.update(_media(message_sid, num_media, account_sid))
    return params


def status_params(
    message_sid: str,
    status: str,
    error_code: int | None = None,
    to: str = "+447700900123",
    from_: str = SMS_NUMBER,
    whatsapp: bool = False,
    account_sid: str = ACCOUNT_SID,
) -> dict[str, str]:
    """The form fields of a status callback for a message we sent (ErrorCode only on failure)."""
    prefix = _WHATSAPP if whatsapp else ""
    params = {
        "SmsSid": message_sid,
        "SmsStatus": status,
        "MessageStatus": status,
        "To": f"{prefix}{to}",
        "MessageSid": message_sid,
        "AccountSid": account_sid,
        "From": f"{prefix}{from_}",
        "ApiVersion": _API_VERSION,
    }
    if error_code is not None:
        params["ErrorCode"] = str(error_code)
    return params


def _media(message_sid: str, num_media: int, account_sid: str) -> dict[str, str]:
    base = f"https://api.twilio.com/{_API_VERSION}/Accounts/{account_sid}/Messages/{message_sid}"
    fields: dict[str, str] = {}
    for index in range(num_media):
        fields[f"MediaContentType{index}"] = "image/jpeg"
        fields[f"MediaUrl{index}"] = f"{base}/Media/{new_sid('ME')}"
    return fields
