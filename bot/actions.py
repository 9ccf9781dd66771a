"""Rasa's custom actions, served by the app over Rasa's action-server protocol.

Why an endpoint of the app rather than rasa-sdk: the actions need the flow definitions and answer
rules the app already has (one source of truth, no third process, no SDK pinned to Rasa's old
dependencies). They are pure functions of the tracker Rasa sends: no database, no sending. What
happened is reported back to the app as ``custom`` payloads inside the bot's responses
(``{"pv": "answer" | "asking" | "completed" | "declined" | "paused" | "resumed" |
"stopped" | "restarted" | "started" | "erase_asked" | "erase_cancelled" | "erase" | "risk"}``),
which the pipeline turns into stored state in one transaction.
"""

from __future__ import annotations

import hmac
from typing import Any

from bot.answers import read_answer
from bot.safeguarding import rasa_categories
from flows.compile import LANGUAGE_SLOT, form_name, slot_name, split_slot
from flows.spec import Flow, FlowSet

Event = dict[str, Any]
Response = dict[str, Any]


def _slot(name: str, value: Any) -> Event:
    return {"event": "slot", "name": name, "value": value, "timestamp": None}


def _loop(name: str | None) -> Event:
    return {"event": "active_loop", "name": name, "timestamp": None}


def _followup(name: str) -> Event:
    return {"event": "followup", "name": name, "timestamp": None}


def _say(key: str) -> Response:
    return {"response": f"utter_pv_{key}"}


def _signal(kind: str, **fields: Any) -> Response:
    return {"custom": {"pv": kind, **fields}}


class ActionNotFound(Exception):
    """Rasa asked for an action this server does not know."""


class Actions:
    """Runs one named action against a tracker; see the module docstring."""

    def __init__(self, flow_set: FlowSet, default_flow: str) -> None:
        self.flow_set = flow_set
        self.default_flow = default_flow

    def run(self, action: str, tracker: dict[str, Any]) -> dict[str, Any]:
        """Return ``{"events": [...], "responses": [...]}`` for ``action``."""
        if action == "action_pv_control":
            events, responses = self._control(tracker)
        elif action == "action_pv_submit":
            events, responses = self._submit(tracker)
        elif action.startswith("validate_") and action.endswith("_form"):
            flow = self.flow_set.flows.get(action[len("validate_") : -len("_form")])
            if flow is None:
                raise ActionNotFound(action)
            events, responses = self._validate(flow, tracker)
        else:
            raise ActionNotFound(action)
        if action != "action_pv_submit":  # the actions that answer the parent's latest message
            ranking = (tracker.get("latest_message") or {}).get("intent_ranking") or []
            categories = rasa_categories(ranking if isinstance(ranking, list) else [])
            if categories:
                # First, so the app can put the signposting before anything else this turn says.
                responses.insert(0, _signal("risk", categories=list(categories)))
        return {"events": events, "responses": responses}

    # -- helpers over the tracker ---------------------------------------------------------

    def _flow(self, tracker: dict[str, Any]) -> Flow | None:
        flow_id = tracker.get("slots", {}).get("pv_flow")
        return self.flow_set.flows.get(flow_id) if isinstance(flow_id, str) else None

    @staticmethod
    def _lang(tracker: dict[str, Any]) -> str:
        return str(tracker.get("slots", {}).get(LANGUAGE_SLOT) or "en")

    @staticmethod
    def _unfinished(flow: Flow | None, tracker: dict[str, Any]) -> bool:
        if flow is None:
            return False
        slots = tracker.get("slots", {})
        if slots.get(slot_name(flow.id, flow.questions[0].id)) == "no":
            return False  # declined
        return any(slots.get(slot_name(flow.id, q.id)) is None for q in flow.questions)

    @staticmethod
    def _intent(tracker: dict[str, Any]) -> str:
        latest = tracker.get("latest_message") or {}
        return str((latest.get("intent") or {}).get("name") or "inform")

    @staticmethod
    def _entity(tracker: dict[str, Any], name: str) -> str | None:
        for entity in (tracker.get("latest_message") or {}).get("entities") or []:
            if entity.get("entity") == name:
                return str(entity.get("value"))
        return None

    # -- actions ---------------------------------------------------------------------------

    def _validate(self, flow: Flow, tracker: dict[str, Any]) -> tuple[list[Event], list[Response]]:
        """Check the answers Rasa extracted this turn; re-ask kindly when one does not fit."""
        events: list[Event] = []
        responses: list[Response] = []
        lang = self._lang(tracker)
        for slot, value in _slots_set_this_turn(tracker).items():
            slot_flow, question_id = split_slot(slot)
            question = flow.question(question_id) if slot_flow == flow.id else None
            if question is None or value is None:
                continue
            reading = read_answer(question, str(value), lang)
            if reading.value is None:
                events.append(_slot(slot, None))
                responses.append(_say(reading.error or "invalid_choice"))
                continue
            events.append(_slot(slot, reading.value))
            responses.append(
                _signal("answer", flow=flow.id, question=question.id, value=reading.value)
            )
            if (
                question.type == "consent"
                and question.consent == "research"
                and reading.value == "no"
            ):
                events.append(_slot("requested_slot", None))  # ends the form; submit says goodbye
        return events, responses

    def _submit(self, tracker: dict[str, Any]) -> tuple[list[Event], list[Response]]:
        flow = self._flow(tracker)
        if flow is None:
            return [], [_say("finished")]
        consent = tracker.get("slots", {}).get(slot_name(flow.id, flow.questions[0].id))
        if consent == "no":
            return [], [_say("declined"), _signal("declined", flow=flow.id)]
        return [], [{"response": f"utter_pv_outro_{flow.id}"}, _signal("completed", flow=flow.id)]

    def _start(
        self, flow: Flow, tracker: dict[str, Any], kind: str
    ) -> tuple[list[Event], list[Response]]:
        lang = self._entity(tracker, "language") or self._lang(tracker)
        events = [
            _loop(None),
            {"event": "reset_slots", "timestamp": None},
            _slot("pv_flow", flow.id),
            _slot(LANGUAGE_SLOT, lang),
            _followup(form_name(flow.id)),
        ]
        # Written out here rather than as Rasa responses: Rasa renders an action's responses
        # with the tracker as it was before this action's events, so a response template would
        # come out in the previous conversation's language, not the one just set.
        texts = self.flow_set.messages
        responses = [{"text": texts.text("restarted", lang)}] if kind == "restarted" else []
        responses += [
            {"text": flow.intro.get(lang) or flow.intro["en"]},
            _signal(kind, flow=flow.id),
        ]
        return events, responses

    def _control(self, tracker: dict[str, Any]) -> tuple[list[Event], list[Response]]:
        """Everything a form does not handle: commands, and messages outside a running form."""
        intent = self._intent(tracker)
        flow = self._flow(tracker)
        slots = tracker.get("slots", {})
        unfinished = self._unfinished(flow, tracker)
        loop_active = bool((tracker.get("active_loop") or {}).get("name"))

        if intent == "pv_start":
            wanted = self._entity(tracker, "flow") or self.default_flow
            start = self.flow_set.flows.get(wanted) or self.flow_set.flows[self.default_flow]
            return self._start(start, tracker, "started")
        if intent == "pv_language":
            # The app switches language after the parent picked one from its menu: the current
            # question is asked again, now in that language (responses vary by this slot).
            lang = self._entity(tracker, "language") or self._lang(tracker)
            events = [_slot(LANGUAGE_SLOT, lang)]
            if unfinished and flow is not None:
                said: list[Response] = [_signal("resumed")]
                if slots.get(slot_name(flow.id, flow.questions[0].id)) is None:
                    # Picked from the menu that came with the welcome: welcome them again, in
                    # their language (written out: a template would render in the old one).
                    said.insert(0, {"text": flow.intro.get(lang) or flow.intro["en"]})
                return [*events, _followup(form_name(flow.id))], said
            return events, [_say("finished")]
        if intent == "stop":
            return (
                [
                    _loop(None),
                    {"event": "reset_slots", "timestamp": None},
                    _slot(LANGUAGE_SLOT, self._lang(tracker)),
                ],
                [_say("stopped"), _signal("stopped")],
            )
        if intent == "start_again":
            start = flow or self.flow_set.flows[self.default_flow]
            return self._start(start, tracker, "restarted")
        if slots.get("pv_delete_pending"):
            if intent in ("affirm", "delete_data"):
                return (
                    [_loop(None), {"event": "reset_slots", "timestamp": None}],
                    [_say("deleted"), _signal("erase")],
                )
            if intent == "deny":
                kept_events = [_slot("pv_delete_pending", False)]
                kept = [_say("delete_cancelled"), _signal("erase_cancelled")]
                if unfinished and flow is not None:
                    kept_events.append(_followup(form_name(flow.id)))
                    kept.append(_signal("resumed"))
                return kept_events, kept
            return [], [_say("confirm_delete"), _signal("erase_asked")]
        if intent == "delete_data":
            return (
                [_loop(None), _slot("requested_slot", None), _slot("pv_delete_pending", True)],
                [_say("confirm_delete"), _signal("erase_asked")],
            )
        if intent == "pause":
            if not unfinished:
                return [], [_say("finished")]
            return [_loop(None), _slot("requested_slot", None)], [_say("paused"), _signal("paused")]

        responses: list[Response] = []
        if intent == "help":
            responses.append(_say("help"))
        elif intent == "pv_media":
            responses.append(_say("media"))
        if not unfinished or flow is None:
            return [], responses or [_say("finished")]
        if not loop_active:
            if intent not in ("help", "pv_media"):
                responses.insert(0, _say("resumed"))
            responses.append(_signal("resumed"))
        return [_followup(form_name(flow.id))], responses


def _slots_set_this_turn(tracker: dict[str, Any]) -> dict[str, Any]:
    """Slot values set since the parent's latest message (what the form extracted this turn)."""
    found: dict[str, Any] = {}
    for event in reversed(tracker.get("events") or []):
        if event.get("event") == "user":
            break
        if event.get("event") == "slot" and event.get("name") not in ("requested_slot",):
            found.setdefault(event["name"], event.get("value"))
    return found


def token_ok(given: str | None, expected: str) -> bool:
    """Constant-time check of the token Rasa sends with every action call."""
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())  # type: ignore[union-attr]
