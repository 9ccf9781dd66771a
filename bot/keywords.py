"""SMS keywords that carriers and Twilio treat specially. They are honoured exactly, before any
language understanding: STOP must always stop, whatever else the message could mean."""

from __future__ import annotations

import re
from typing import Literal

Keyword = Literal["stop", "start", "help"]

_KEYWORDS: dict[str, Keyword] = {
    "stop": "stop", "stopall": "stop", "unsubscribe": "stop", "cancel": "stop", "end": "stop",
    "quit": "stop", "start": "start", "unstop": "start", "help": "help", "info": "help",
}  # fmt: skip
# YES is one of Twilio's opt-in words, but here it answers our questions, so it is not a keyword.
_TRIM = re.compile(r"^[\s\W_]+|[\s\W_]+$")


def sms_keyword(text: str) -> Keyword | None:
    """The keyword a whole SMS is (case, spaces and punctuation aside), or None."""
    return _KEYWORDS.get(_TRIM.sub("", text).lower())
