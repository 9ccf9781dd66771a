// ParentVoice local web chat. Plain script, no libraries, nothing loaded from elsewhere.
// Text from the parent and from the bot is only ever put on the page with textContent.
(function () {
  "use strict";

  // The API sits next to this file's folder, so the chat works wherever the server mounts it.
  var API = new URL("../api/messages", document.currentScript.src).href;
  var STORE_KEY = "parentvoice.chat.v1";
  var POLL_WAIT_SECONDS = 25;
  var MAX_TEXT = 10000;
  var MAX_KEPT = 300; // transcript entries kept in sessionStorage

  var log = document.getElementById("log");
  var hint = document.getElementById("hint");
  var statusLine = document.getElementById("status");
  var form = document.getElementById("composer");
  var box = document.getElementById("message");
  var restart = document.getElementById("restart");

  // ---- state, kept in sessionStorage so a reload carries on the same conversation ----

  function newUuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    // randomUUID needs a secure context; getRandomValues does not (a plain-HTTP LAN address).
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) {
      return (x + 0x100).toString(16).slice(1);
    }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" +
      h.slice(16, 20) + "-" + h.slice(20);
  }

  var UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

  function loadState() {
    try {
      var saved = JSON.parse(window.sessionStorage.getItem(STORE_KEY) || "null");
      if (saved && typeof saved.session === "string" && UUID_RE.test(saved.session) &&
          typeof saved.after === "number" && Array.isArray(saved.entries)) {
        return saved;
      }
    } catch (e) {
      // storage switched off or damaged: start a new chat
    }
    return { session: newUuid(), after: 0, entries: [] };
  }

  var state = loadState();

  function saveState() {
    if (state.entries.length > MAX_KEPT) {
      state.entries = state.entries.slice(state.entries.length - MAX_KEPT);
    }
    try {
      window.sessionStorage.setItem(STORE_KEY, JSON.stringify(state));
    } catch (e) {
      // the chat still works for this page view without storage
    }
  }

  // ---- rendering ----

  var userStates = {}; // client_id -> the element showing "Sending…" / "Sent"

  function setStatus(text, problem) {
    statusLine.textContent = text;
    statusLine.classList.toggle("problem", Boolean(problem));
  }

  function removeChoices() {
    var groups = log.querySelectorAll(".choices");
    for (var i = 0; i < groups.length; i++) {
      groups[i].remove();
    }
  }

  function renderChoices(bubble, choices) {
    var group = document.createElement("div");
    group.className = "choices";
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", "Choose an answer, or type your own");
    choices.forEach(function (choice) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "choice";
      button.textContent = choice;
      button.addEventListener("click", function (event) {
        send(choice);
        // Keyboard users (click with detail 0) carry on in the message box.
        if (event.detail === 0) {
          box.focus();
        }
      });
      group.appendChild(button);
    });
    bubble.appendChild(group);
  }

  function stateLabel(entry) {
    if (entry.state === "sending") return "Sending…";
    if (entry.state === "retrying") return "Not sent yet, trying again…";
    if (entry.state === "failed") return "Not sent: " + (entry.reason || "please try again");
    return "Sent";
  }

  function renderEntry(entry, withChoices) {
    var bubble = document.createElement("div");
    bubble.className = "msg " + (entry.who === "bot" ? "msg-bot" : "msg-user");

    var who = document.createElement("span");
    who.className = "msg-who";
    who.textContent = entry.who === "bot" ? "ParentVoice" : "You";
    bubble.appendChild(who);

    var text = document.createElement("p");
    text.className = "msg-text";
    text.textContent = entry.text;
    bubble.appendChild(text);

    if (entry.who === "user") {
      var label = document.createElement("span");
      label.className = "msg-state" + (entry.state === "failed" ? " failed" : "");
      // Progress is announced once through the status line, not on every change here.
      label.setAttribute("aria-hidden", "true");
      label.textContent = stateLabel(entry);
      bubble.appendChild(label);
      userStates[entry.clientId] = label;
    } else if (withChoices && entry.choices && entry.choices.length) {
      renderChoices(bubble, entry.choices);
    }

    log.appendChild(bubble);
    hint.hidden = true;
    return bubble;
  }

  function updateUserState(entry) {
    var label = userStates[entry.clientId];
    if (label) {
      label.textContent = stateLabel(entry);
      label.classList.toggle("failed", entry.state === "failed");
    }
  }

  function scrollToEnd(element) {
    if (element && typeof element.scrollIntoView === "function") {
      element.scrollIntoView({ block: "end" });
    }
  }

  function renderSaved() {
    // Choices only stay live on the newest bot message that has some, if not answered yet.
    var live = -1;
    for (var i = state.entries.length - 1; i >= 0; i--) {
      var e = state.entries[i];
      if (e.who === "user") break;
      if (e.choices && e.choices.length) {
        live = i;
        break;
      }
    }
    var last = null;
    state.entries.forEach(function (entry, index) {
      last = renderEntry(entry, index === live);
    });
    hint.hidden = state.entries.length > 0;
    scrollToEnd(last);
  }

  // ---- sending, one message at a time, retried with the same client_id ----

  var sending = false;

  function sleep(ms) {
    return new Promise(function (resolve) {
      window.setTimeout(resolve, ms);
    });
  }

  function findEntry(clientId) {
    for (var i = state.entries.length - 1; i >= 0; i--) {
      if (state.entries[i].clientId === clientId) return state.entries[i];
    }
    return null;
  }

  // Resolves to "sent", "retry" or {reason} (refused; retrying would not help).
  async function postOnce(entry) {
    var response;
    try {
      response = await fetch(API, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({
          session: state.session, text: entry.text, client_id: entry.clientId
        }),
        cache: "no-store",
        credentials: "same-origin"
      });
    } catch (e) {
      return "retry"; // network failure: the server may be restarting
    }
    if (response.ok) return "sent";
    if (response.status >= 500 || response.status === 429 || response.status === 408) {
      return "retry";
    }
    try {
      var body = await response.json();
      return { reason: (body && body.error) || "the message was refused" };
    } catch (e) {
      return { reason: "the message was refused" };
    }
  }

  function nextToSend() {
    for (var i = 0; i < state.entries.length; i++) {
      var e = state.entries[i];
      if (e.who === "user" && (e.state === "sending" || e.state === "retrying")) return e;
    }
    return null;
  }

  async function pump() {
    if (sending) return;
    sending = true;
    var backoff = 1000;
    try {
      for (var entry = nextToSend(); entry; entry = nextToSend()) {
        var result = await postOnce(entry);
        if (result === "retry") {
          entry.state = "retrying";
          setStatus("Your message has not gone yet. Trying again…", true);
          updateUserState(entry);
          saveState();
          await sleep(backoff);
          backoff = Math.min(backoff * 2, 30000);
          continue;
        }
        if (result === "sent") {
          entry.state = "sent";
          setStatus("", false);
        } else {
          entry.state = "failed";
          entry.reason = result.reason;
          setStatus("Your message could not be sent: " + result.reason, true);
        }
        backoff = 1000;
        updateUserState(entry);
        saveState();
      }
    } finally {
      sending = false;
    }
  }

  function send(text) {
    text = text.trim();
    if (!text) {
      setStatus("Type a message first.", true);
      box.focus();
      return false;
    }
    if (text.length > MAX_TEXT) {
      setStatus("That message is too long. Please keep it under 10,000 characters.", true);
      return false;
    }
    var entry = { who: "user", text: text, clientId: newUuid(), state: "sending" };
    state.entries.push(entry);
    saveState();
    removeChoices();
    scrollToEnd(renderEntry(entry, false));
    setStatus("Sending…", false);
    pump();
    return true;
  }

  // ---- receiving: long-poll for the bot's replies ----

  async function poll() {
    var backoff = 1000;
    var trouble = false;
    for (;;) {
      var url = API + "?session=" + encodeURIComponent(state.session) +
        "&after=" + encodeURIComponent(String(state.after)) + "&wait=" + POLL_WAIT_SECONDS;
      try {
        var response = await fetch(url, { cache: "no-store", credentials: "same-origin" });
        if (!response.ok) throw new Error("poll failed: " + response.status);
        var body = await response.json();
        if (trouble) {
          trouble = false;
          setStatus("", false);
        }
        backoff = 1000;
        receive((body && body.messages) || []);
      } catch (e) {
        trouble = true;
        setStatus("Lost touch with ParentVoice. Trying to reconnect…", true);
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 15000);
      }
    }
  }

  function receive(messages) {
    if (!messages.length) return;
    var last = null;
    messages.forEach(function (m) {
      if (typeof m.text !== "string") return;
      var choices = Array.isArray(m.choices) ? m.choices.filter(function (c) {
        return typeof c === "string";
      }) : [];
      if (choices.length) removeChoices();
      var entry = { who: "bot", text: m.text, choices: choices };
      state.entries.push(entry);
      last = renderEntry(entry, true);
    });
    // Numbering starts again if the server lost this chat (restart, an hour idle).
    state.after = messages[messages.length - 1].seq;
    saveState();
    scrollToEnd(last);
  }

  // ---- wiring ----

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (send(box.value)) {
      box.value = "";
    }
  });

  box.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.altKey && !event.ctrlKey &&
        !event.metaKey && !event.isComposing) {
      event.preventDefault();
      if (typeof form.requestSubmit === "function") {
        form.requestSubmit();
      } else {
        form.dispatchEvent(new Event("submit", { cancelable: true }));
      }
    }
  });

  restart.addEventListener("click", function (event) {
    event.preventDefault();
    try {
      window.sessionStorage.removeItem(STORE_KEY);
    } catch (e) {
      // nothing saved to clear
    }
    window.location.reload();
  });

  renderSaved();
  pump(); // resume anything a reload interrupted, with its original client_id
  poll();
}());
