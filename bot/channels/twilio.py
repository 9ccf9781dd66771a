"""Twilio channels, SMS and WhatsApp: verify and parse Twilio webhooks; send through the twilio SDK.

One ``TwilioChannel`` per channel name ("sms" or "whatsapp"). Each wraps its own
``twilio.rest.Client`` (never a subclass) on the SDK's aiohttp transport, so sending never blocks
the event loop. The adapter only translates:

- inbound: once ``verify()`` has checked ``X-Twilio-Signature``, the form fields of Twilio's
  incoming-message webhook become an ``Inbound`` and those of a status callback a ``StatusUpdate``;
- outbound: an ``Outbound`` becomes one ``Messages.create`` call (a WhatsApp template outside
  the 24-hour window another), and SDK exceptions become ``RetryableDelivery`` /
  ``TwilioPermanent`` in one place (``_delivery_error``).

Message text, phone numbers, WhatsApp ids and profile names are never logged. Twilio's error
messages can quote the number ("The 'To' number +44... is not a valid phone number"), so digits
are masked before such a message becomes an error's text, which the outbox stores and logs.
The SDK logs request URLs (with the account SID, no personal data) and headers at INFO on the
``twilio`` loggers; keep them at WARNING with the other chatty libraries.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot.channels.base import Inbound, InboundKind, Outbound
from bot.errors import (
    ConfigError,
    DeliveryError,
    PermanentDelivery,
    RetryableDelivery,
    WebhookRejected,
)

__all__ = [
    "INVALID_TO",
    "NOT_MOBILE",
    "OUTSIDE_WHATSAPP_WINDOW",
    "SIGNATURE_HEADER",
    "UNSUBSCRIBED",
    "StatusUpdate",
    "TwilioChannel",
    "TwilioPermanent",
    "TwilioSettings",
]

_LOGGER = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"

# Twilio error codes the outbox may want to act on (https://www.twilio.com/docs/api/errors).
UNSUBSCRIBED = 21610  # the parent texted STOP: never send again until they text START
INVALID_TO = 21211
NOT_MOBILE = 21614
# Usually reported by the status callback, not by the create call: Twilio accepts the message
# and fails it later. Either way the fix is ``send_template``.
OUTSIDE_WHATSAPP_WINDOW = 63016
# A 400 that is temporary by nature: the sender's queue is full (too many queued messages).
_RETRYABLE_CODES = frozenset({21611})

_WHATSAPP = "whatsapp:"
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_SERVICE_SID = re.compile(r"MG[0-9a-fA-F]{32}")
_MESSAGE_SID = re.compile(r"[A-Za-z0-9]{2,64}")  # ours to store as platform_id, so kept tame
_STATUS = re.compile(r"[a-z_]{1,32}")
# Digit runs long enough to be (part of) a phone number; SIDs and error codes are shorter runs.
_NUMBER_LIKE = re.compile(r"\+?[0-9][0-9 ()-]{5,}[0-9]")
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

# Twilio's reserved SMS keywords (Advanced Opt-Out defaults). Twilio also reads YES as START;
# our questions take "yes" as an answer, so it is not treated as one here.


@dataclass(frozen=True)
class TwilioSettings:
    """Twilio account and senders, loaded once by the config module."""

    account_sid: str
    auth_token: str
    messaging_service_sid: str  # "" to send from the numbers below instead
    sms_from: str  # E.164, e.g. "+447700900001"
    whatsapp_from: str  # E.164, with or without the "whatsapp:" prefix
    api_base_url: str = "https://api.twilio.com"  # tests point it at a fake on 127.0.0.1
    status_callback_url: str = ""  # full URL of POST /webhooks/twilio/status, or "" for none
    request_timeout: float = 10.0  # seconds for one API call, connect to last byte


@dataclass(frozen=True)
class StatusUpdate:
    """A delivery report from Twilio's status callback for a message we sent."""

    message_id: str  # the MessageSid that ``send`` returned
    status: str  # queued, sent, delivered, undelivered, failed, read... (lower case)
    error_code: int | None  # e.g. 63016 (outside the WhatsApp window); None unless it failed

    @property
    def failed(self) -> bool:
        """Whether Twilio gave up on the message (it will not be delivered)."""
        return self.status in ("failed", "undelivered")


class TwilioPermanent(PermanentDelivery):
    """A failure that retrying cannot fix, with Twilio's error code (e.g. 21610) when it gave one.

    ``unsubscribed`` is True for 21610: the parent texted STOP, so the outbox opts them out.
    """

    def __init__(self, reason: str, code: int | None) -> None:
        super().__init__(reason)
        self.code = code
        # Set as an attribute rather than passed up, so this works whether or not
        # PermanentDelivery's constructor takes ``unsubscribed``.
        self.unsubscribed = code == UNSUBSCRIBED


@dataclass
class _ResponseProbe:
    """What the transport saw of the last response that matters to error mapping."""

    retry_after: float | None = None


# The SDK's TwilioRestException carries neither the response nor its headers, and one transport
# serves concurrent sends; so each send puts a fresh probe in its own context (asyncio tasks do
# not share contexts) and the transport fills in the Retry-After it saw.
_PROBE: contextvars.ContextVar[_ResponseProbe | None] = contextvars.ContextVar(
    "twilio_response_probe", default=None
)


class _RebasedHttpClient(AsyncTwilioHttpClient):  # type: ignore[misc]  # twilio has no type hints
    """The SDK's own aiohttp transport, sending every request to ``base_url``.

    Why here: ``Client.request_async`` builds the absolute URL (the domain's hard-coded
    "https://api.twilio.com" + path), lets ``get_hostname`` rewrite its host for an edge or
    region (which the SDK also reads from TWILIO_EDGE / TWILIO_REGION in the environment), and
    only then hands it to ``http_client.request``, the SDK's documented extension point. Rebasing
    at that last step works whatever the SDK did before it, so ``api_base_url`` is the single
    source of truth. The alternative, assigning ``client.api.base_url``, touches one lazily built
    domain object and is then still subject to the edge/region rewrite.

    Every request goes to ``base_url``: right because this channel only calls the Messages
    resource of the api.twilio.com domain; do not reuse this for other Twilio domains.

    Also fixes two traps of ``AsyncTwilioHttpClient``: it stores ``timeout`` but never uses it,
    passing the per-call ``timeout=None`` on to aiohttp, which then turns off even its own
    default; and it authenticates in a way aiohttp 3.14 deprecates.
    """

    def __init__(self, base_url: str, timeout: float) -> None:
        # pool_connections: one aiohttp session for all sends (it needs a running event loop,
        # hence this is built in TwilioChannel.start). No max_retries: aiohttp_retry would retry
        # a POST on 5xx and could send twice; the outbox owns retries.
        super().__init__(pool_connections=True, timeout=timeout)
        parts = urlsplit(base_url)
        self._scheme, self._netloc, self._prefix = (
            parts.scheme,
            parts.netloc,
            parts.path.rstrip("/"),
        )

    def rebase(self, url: str) -> str:
        """``url`` with its scheme and host replaced by ``base_url``'s (path prefix added)."""
        parts = urlsplit(url)
        return urlunsplit(
            (self._scheme, self._netloc, self._prefix + parts.path, parts.query, parts.fragment)
        )

    async def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Any:
        """Send one SDK request to ``base_url``; note Retry-After for the caller's probe."""
        if auth is not None:
            # The parent hands ``auth`` to aiohttp as BasicAuth / ``auth=``, both deprecated
            # (warnings now, gone in aiohttp 4); the header is what they would have produced.
            headers = {**(headers or {}), "Authorization": aiohttp.encode_basic_auth(*auth)}
        response = await super().request(
            method,
            self.rebase(url),
            params=params,
            data=data,
            headers=headers,
            auth=None,
            timeout=self.timeout if timeout is None else timeout,
            allow_redirects=allow_redirects,
        )
        probe = _PROBE.get()
        if probe is not None:
            probe.retry_after = _retry_after(response.headers)
        return response


class TwilioChannel:
    """Twilio Programmable Messaging as one channel: "sms" or "whatsapp"."""

    def __init__(self, name: Literal["sms", "whatsapp"], settings: TwilioSettings) -> None:
        """Check the settings; no network call and no HTTP session until ``start()``."""
        if name not in ("sms", "whatsapp"):
            raise ConfigError(f"twilio: unknown channel {name!r}; expected 'sms' or 'whatsapp'")
        self.name: str = name  # plain str: the Sender protocol's attribute is a (mutable) str
        _check_settings(name, settings)
        self._settings = settings
        self._from = ""
        if not settings.messaging_service_sid:
            number = settings.sms_from if name == "sms" else settings.whatsapp_from
            self._from = self._channel_address(number.removeprefix(_WHATSAPP))
        self._validator = RequestValidator(settings.auth_token)
        self._http: _RebasedHttpClient | None = None
        self._client: Any = None  # twilio.rest.Client, untyped

    async def start(self) -> None:
        """Open the HTTP session. Nothing is sent: Twilio has no cheap "who am I" to check."""
        if self._http is not None:
            return
        self._http = _RebasedHttpClient(
            self._settings.api_base_url, timeout=self._settings.request_timeout
        )
        self._client = Client(
            self._settings.account_sid, self._settings.auth_token, http_client=self._http
        )

    async def stop(self) -> None:
        """Close the HTTP session. Safe to call more than once, or without ``start()``."""
        http, self._http, self._client = self._http, None, None
        if http is not None:
            await http.close()

    def verify(self, url: str, params: Mapping[str, str], signature: str | None) -> None:
        """Check that Twilio sent this webhook, signed with our auth token.

        ``url`` must be the full URL Twilio requested, query string included: the public one
        (as configured), not the one a proxy forwarded to us. ``params`` are the POST form
        fields. Raises ``WebhookRejected(403)`` if the signature is missing or does not match.
        """
        if not signature:
            raise WebhookRejected(403, f"missing {SIGNATURE_HEADER} header")
        if not self._validator.validate(url, params, signature):
            raise WebhookRejected(403, f"{SIGNATURE_HEADER} does not match")

    def parse_inbound(self, params: Mapping[str, str], received_at: datetime) -> Inbound | None:
        """Normalise the form fields of Twilio's incoming-message webhook (after ``verify``).

        Media (photos, voice notes...) and WhatsApp locations become ``MEDIA`` with no text,
        even when a caption came with them. Returns ``None`` for a message with nothing to
        read, which the web layer should still answer with 200. Raises ``WebhookRejected(400)``
        for a missing MessageSid or From, or a message from the other channel.
        """
        sid = _required(params, "MessageSid", "message")
        sender = _required(params, "From", f"message {sid}")
        if sender.startswith(_WHATSAPP) != (self.name == "whatsapp"):
            raise WebhookRejected(400, f"message {sid} is not a {self.name} message")
        address = sender.removeprefix(_WHATSAPP)
        if not _E164.fullmatch(address):
            raise WebhookRejected(400, f"message {sid}: From is not an E.164 number")
        num_media = _count(params, "NumMedia", sid)
        body = params.get("Body", "")
        if num_media > 0 or params.get("Latitude"):
            kind, text = InboundKind.MEDIA, ""  # a caption goes with the media, not as text
        elif body.strip():
            kind, text = InboundKind.TEXT, body
        else:
            _LOGGER.debug("twilio %s message %s ignored: nothing to read", self.name, sid)
            return None
        return Inbound(
            channel=self.name,
            address=address,
            platform_id=f"twilio:{sid}",
            kind=kind,
            text=text,
            received_at=received_at,
        )

    def parse_status(self, params: Mapping[str, str]) -> StatusUpdate:
        """Normalise the form fields of a status callback (after ``verify``).

        Raises ``WebhookRejected(400)`` for a missing MessageSid or MessageStatus, or an
        ErrorCode that is not a number.
        """
        sid = _required(params, "MessageSid", "status callback")
        status = _required(params, "MessageStatus", f"status callback for {sid}").lower()
        if not _STATUS.fullmatch(status):
            raise WebhookRejected(400, f"status callback for {sid}: unreadable MessageStatus")
        raw_code = params.get("ErrorCode", "").strip()
        if not raw_code:
            return StatusUpdate(message_id=sid, status=status, error_code=None)
        if not raw_code.isdigit():
            raise WebhookRejected(400, f"status callback for {sid}: ErrorCode is not a number")
        return StatusUpdate(message_id=sid, status=status, error_code=int(raw_code))

    async def send(self, address: str, message: Outbound) -> str:
        """Send ``message`` to the E.164 number ``address``; return Twilio's MessageSid.

        ``choices`` add nothing: the flow's text already numbers them, and a number is a fine
        answer on both SMS and WhatsApp. Raises ``RetryableDelivery`` or ``TwilioPermanent``.
        """
        fields = self._addressing(address)
        fields["body"] = message.text
        return await self._create(fields)

    async def send_template(
        self, address: str, content_sid: str, variables: Mapping[str, str]
    ) -> str:
        """Send the approved Content template ``content_sid`` (HX...) with ``variables``.

        What WhatsApp needs outside the 24-hour window since the parent last wrote; no body
        goes with it. Returns Twilio's MessageSid; raises as ``send`` does.
        """
        fields = self._addressing(address)
        fields["content_sid"] = content_sid
        if variables:  # none: Twilio fills in the template's defaults
            fields["content_variables"] = json.dumps(dict(variables))
        return await self._create(fields)

    async def find_sent(self, address: str, text: str, since: datetime) -> str | None:
        """The MessageSid of a message with exactly ``text`` sent to ``address`` since ``since``,
        if Twilio has one. Lets the outbox tell whether a send cut short by a crash went out."""
        if self._client is None:
            raise RuntimeError("TwilioChannel.start() must be awaited first")
        try:
            messages = await self._client.messages.list_async(
                to=self._channel_address(address), date_sent_after=since, limit=50
            )
        except (TwilioException, aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise _delivery_error(self.name, exc, None) from exc
        # Twilio filters by day only; an earlier identical text (the same question in another
        # conversation that day) must not count. One second of slack: Twilio keeps whole seconds.
        earliest = since - timedelta(seconds=1)
        for message in messages:
            created = message.date_created
            if message.body == text and message.sid and (created is None or created >= earliest):
                return str(message.sid)
        return None

    def _channel_address(self, number: str) -> str:
        """``number`` (E.164) as Twilio addresses it on this channel."""
        return f"{_WHATSAPP}{number}" if self.name == "whatsapp" else number

    def _addressing(self, address: str) -> dict[str, str]:
        """The create() arguments that say who sends to whom, and where status reports go."""
        if not _E164.fullmatch(address):
            raise TwilioPermanent(f"twilio {self.name}: address is not an E.164 number", None)
        fields = {"to": self._channel_address(address)}
        if self._settings.messaging_service_sid:
            fields["messaging_service_sid"] = self._settings.messaging_service_sid
        else:
            fields["from_"] = self._from
        if self._settings.status_callback_url:
            fields["status_callback"] = self._settings.status_callback_url
        return fields

    async def _create(self, fields: dict[str, str]) -> str:
        """One Messages.create call through the async client; SDK errors converted."""
        if self._client is None:
            raise RuntimeError("TwilioChannel.start() must be awaited first")
        probe = _ResponseProbe()
        token = _PROBE.set(probe)
        try:
            created = await self._client.messages.create_async(**fields)
        except (TwilioException, aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise _delivery_error(self.name, exc, probe.retry_after) from exc
        finally:
            _PROBE.reset(token)
        sid = created.sid
        if not isinstance(sid, str) or not sid:
            # Twilio may well have taken it; the outbox's retry limit bounds any duplicates.
            raise RetryableDelivery(f"twilio {self.name}: the answer carried no message sid")
        _LOGGER.debug("twilio %s: message %s %s", self.name, sid, created.status)
        return sid


def _delivery_error(channel: str, exc: Exception, retry_after: float | None) -> DeliveryError:
    """The one place SDK and transport exceptions become delivery errors (``raise ... from``)."""
    if isinstance(exc, TwilioRestException | TwilioServiceException):
        # TwilioServiceException (RFC 9457 problem details) is not a TwilioRestException.
        status: int = exc.status
        # With no code in the body the SDK puts the HTTP status there; that is not Twilio's code.
        code = exc.code if isinstance(exc.code, int) and exc.code != status else None
        detail = exc.msg if isinstance(exc, TwilioRestException) else f"{exc.title} {exc.detail}"
        reason = f"twilio {channel}: HTTP {status}"
        if code is not None:
            reason += f", error {code}"
        reason += f": {_NUMBER_LIKE.sub('<number>', str(detail))}"
        if status == 429 or status >= 500 or code in _RETRYABLE_CODES:
            return RetryableDelivery(reason, retry_after=retry_after)
        if 400 <= status < 500:  # 21610 unsubscribed, 21211 bad 'To', 20003 bad credentials...
            return TwilioPermanent(reason, code)
        return RetryableDelivery(reason)  # e.g. a redirect from a proxy: let the limit decide
    if isinstance(exc, aiohttp.ClientError | TimeoutError):
        return RetryableDelivery(
            f"twilio {channel}: could not reach the API ({type(exc).__name__})"
        )
    # TwilioException from the SDK itself, or a 2xx whose body is not JSON.
    return RetryableDelivery(f"twilio {channel}: unreadable answer ({type(exc).__name__})")


def _retry_after(headers: Any) -> float | None:
    """Seconds from a Retry-After header (delta-seconds form only), or None."""
    value = headers.get("Retry-After") if headers is not None else None
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP date: rare, and we would need the clock; back off as usual
    return seconds if seconds >= 0 else None


def _required(params: Mapping[str, str], key: str, what: str) -> str:
    value = params.get(key, "").strip()
    if not value:
        raise WebhookRejected(400, f"{what}: {key} is missing")
    if key == "MessageSid" and not _MESSAGE_SID.fullmatch(value):
        raise WebhookRejected(400, f"{what}: MessageSid is not a Twilio sid")
    return value


def _count(params: Mapping[str, str], key: str, sid: str) -> int:
    value = params.get(key, "0").strip() or "0"
    if not value.isdigit():
        raise WebhookRejected(400, f"message {sid}: {key} is not a number")
    return int(value)


def _check_settings(name: str, settings: TwilioSettings) -> None:
    """Turn a typo in the Twilio settings into a startup error naming the setting."""
    if not _ACCOUNT_SID.fullmatch(settings.account_sid):
        raise ConfigError("twilio: account_sid must be 'AC' followed by 32 hex digits")
    if not settings.auth_token:
        raise ConfigError("twilio: auth_token is empty")
    if settings.messaging_service_sid:
        if not _SERVICE_SID.fullmatch(settings.messaging_service_sid):
            raise ConfigError("twilio: messaging_service_sid must be 'MG' and 32 hex digits")
    else:
        key = "sms_from" if name == "sms" else "whatsapp_from"
        number = getattr(settings, key).removeprefix(_WHATSAPP)
        if not _E164.fullmatch(number):
            raise ConfigError(
                f"twilio: {key} must be an E.164 number (or set messaging_service_sid)"
            )
    base = urlsplit(settings.api_base_url)
    if base.scheme not in ("http", "https") or not base.hostname or base.query or base.fragment:
        raise ConfigError("twilio: api_base_url must be an http(s) URL with no query")
    if base.scheme == "http" and base.hostname not in _LOOPBACK_HOSTS:
        # Basic auth carries the auth token in every request: only in clear to this machine.
        raise ConfigError("twilio: api_base_url must use https unless it is on 127.0.0.1")
    if settings.status_callback_url:
        callback = urlsplit(settings.status_callback_url)
        if callback.scheme not in ("http", "https") or not callback.hostname:
            raise ConfigError("twilio: status_callback_url must be a full http(s) URL")
    if settings.request_timeout <= 0:
        raise ConfigError("twilio: request_timeout must be above 0 seconds")
