"""A Rasa input channel for the ParentVoice app: Rasa's REST channel plus a bearer token.

Runs inside Rasa's own environment (.venv-rasa, Python 3.10). Rasa's stock REST channel accepts
anyone who can reach it; this one answers 401 unless the app presents the shared token, so the
dialogue engine can only be driven by the app (which has already redacted the text).
"""

import hmac
import os
from collections import OrderedDict
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse


class ParentVoiceInput(InputChannel):
    """POST /webhooks/parentvoice/webhook {"sender": ..., "message": ...} -> the bot's messages."""

    @classmethod
    def name(cls) -> Text:
        return "parentvoice"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "ParentVoiceInput":
        token = (credentials or {}).get("token") or os.environ.get("PARENTVOICE_RASA_TOKEN", "")
        if not token:
            raise ValueError("the parentvoice channel needs a token")
        return cls(str(token))

    # Senders whose last answer is remembered, so a retried message is not run twice.
    REMEMBERED_SENDERS = 10_000

    def __init__(self, token: Text) -> None:
        self.token = token
        self._last: "OrderedDict[str, tuple[str, list]]" = OrderedDict()

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:
        hook = Blueprint("parentvoice_webhook", __name__)

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            given = request.headers.get("Authorization", "")
            expected = f"Bearer {self.token}"
            if not hmac.compare_digest(given.encode(), expected.encode()):
                return response.json({"error": "unauthorised"}, status=401)
            body = request.json or {}
            sender, text = body.get("sender"), body.get("message")
            message_id = body.get("message_id")
            if not isinstance(sender, str) or not isinstance(text, str):
                return response.json({"error": "sender and message are required"}, status=400)
            # The app retries a turn whose answer it did not get (a timeout, a crash before it
            # stored the answer). Running it again would take the same text as the answer to the
            # next question, so the remembered answer is returned instead.
            if isinstance(message_id, str):
                remembered = self._last.get(sender)
                if remembered is not None and remembered[0] == message_id:
                    return response.json(remembered[1])
            collector = CollectingOutputChannel()
            await on_new_message(
                UserMessage(
                    text, collector, sender, input_channel=self.name(), metadata=None,
                    message_id=message_id if isinstance(message_id, str) else None,
                )
            )
            if isinstance(message_id, str):
                self._last[sender] = (message_id, collector.messages)
                self._last.move_to_end(sender)
                while len(self._last) > self.REMEMBERED_SENDERS:
                    self._last.popitem(last=False)
            return response.json(collector.messages)

        return hook
