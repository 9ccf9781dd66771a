"""Every error ParentVoice raises on purpose, in one tree.

    ParentVoiceError
    ├── ConfigError            config.yaml or an environment override is wrong (operator mistake)
    ├── FlowError              a flow file fails validation; names the flow and the question
    ├── RasaError              the Rasa server is unreachable or answered badly
    │   └── RasaUnavailable    it could not be reached at all (retry later)
    ├── WebhookRejected        an inbound request failed verification or parsing; carries an HTTP status
    ├── OutcomeError           staff asked for an outcome that cannot be (bot.outcomes)
    └── DeliveryError          a channel refused or failed to take an outbound message
        ├── RetryableDelivery  try again later (network, 5xx, 429); may carry retry_after seconds
        └── PermanentDelivery  never retry (blocked by the user, unknown chat, invalid request)

Problems inside a conversation are not errors: they become replies the parent is told about kindly.
Third-party exceptions are converted at the adapter with ``raise ... from exc``.
"""

from __future__ import annotations


class ParentVoiceError(Exception):
    """Base class of every error raised on purpose by ParentVoice."""


class ConfigError(ParentVoiceError):
    """The configuration is invalid; the message says which key and why."""


class FlowError(ParentVoiceError):
    """A flow definition is invalid.

    ``problems`` lists every problem found, each already naming the flow and the question.
    """

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class RasaError(ParentVoiceError):
    """The Rasa server answered with an error or with something we cannot read."""


class RasaUnavailable(RasaError):
    """The Rasa server could not be reached; the message is kept and retried."""


class WebhookRejected(ParentVoiceError):
    """An inbound webhook request is refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


class DeliveryError(ParentVoiceError):
    """A channel did not accept an outbound message."""


class RetryableDelivery(DeliveryError):
    """A temporary failure; ``retry_after`` is the wait the platform asked for, if any (seconds)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PermanentDelivery(DeliveryError):
    """A failure that retrying cannot fix, e.g. the parent blocked the bot.

    ``unsubscribed`` is True when the platform says the person opted out of messages from us (for
    example by texting STOP to the carrier): they are then opted out of everything.
    """

    def __init__(self, reason: str, unsubscribed: bool = False) -> None:
        super().__init__(reason)
        self.unsubscribed = unsubscribed
