// The structured chat view of a session: its timeline events as a conversation, a prompt box that sends
// session.prompt, buttons that answer permission questions, and an Interrupt button while the agent works.
// Switched with the raw terminal (the choice is remembered). Text goes in through textContent only (dom.h).

import { $, describeFailure, h } from "./dom.js";

const MODE_STORAGE = "imcodes.view";
const BUSY = new Set(["working", "waiting_permission"]);
const QUIET = new Set(["output", "resized"]); // terminal-only events: they do not split a streamed message
const CLIP = 4000; // characters of one tool result / thinking block shown

/** Turn timeline events into chat items (pure: consecutive assistant deltas become one message). */
export function chatItems(events) {
  const items = [];
  let streaming = null;
  let lastUser = null; // the prompt of the turn in progress
  const answered = new Set();
  for (const event of events) {
    if (event.kind === "permission.answered") answered.add(event.data?.request_id ?? event.data?.question ?? "");
  }
  for (const event of events) {
    const data = event.data || {};
    if (event.kind !== "assistant.delta" && !QUIET.has(event.kind)) streaming = null;
    if (event.kind.startsWith("assistant.") || event.kind === "session.started") lastUser = null;
    switch (event.kind) {
      case "user.prompt":
      case "input": {
        // The same prompt is often told twice: by the daemon that delivered it and by the agent's own channel
        // (a hook, an event stream). Until an answer comes, the same text again is the same prompt.
        const text = String(data.text ?? "");
        if (lastUser && lastUser.text.trim() === text.trim()) break;
        lastUser = { kind: "user", text, typed: event.kind === "input" };
        items.push(lastUser);
        break;
      }
      case "assistant.delta":
        if (streaming && streaming.id === (data.message_id ?? streaming.id)) streaming.text += String(data.text ?? "");
        else {
          streaming = { kind: "assistant", text: String(data.text ?? ""), id: data.message_id ?? null, partial: true };
          items.push(streaming);
        }
        break;
      case "assistant.final": {
        const last = items[items.length - 1];
        if (last && last.kind === "assistant" && last.partial) {
          last.text = String(data.text ?? last.text);
          last.partial = false;
        } else items.push({ kind: "assistant", text: String(data.text ?? ""), partial: false });
        break;
      }
      case "thinking":
        items.push({ kind: "thinking", text: String(data.text ?? "") });
        break;
      case "tool.call":
      case "tool.result":
        items.push({ kind: "tool", event: event.kind, data });
        break;
      case "permission.requested": {
        const choices = (data.choices || []).map((c) => ({ key: String(c.key), label: String(c.label ?? c.key) }));
        for (const o of data.options || []) choices.push({ key: String(o.id), label: String(o.name ?? o.id) });
        const id = data.request_id ?? data.question ?? "";
        const last = items[items.length - 1];
        // One question told twice: by a machine channel (tool and input, no choices) and read off the screen
        // (the question and the keys that answer it). Shown as one card with both.
        if (last && last.kind === "permission" && last.open && (!last.choices.length || !choices.length)) {
          last.data = { ...last.data, ...Object.fromEntries(Object.entries(data).filter(([, v]) => v !== "" && v != null)) };
          if (!last.choices.length) last.choices = choices;
          if (id && answered.has(id)) last.open = false;
          break;
        }
        items.push({ kind: "permission", data, choices, open: !answered.has(id) });
        break;
      }
      case "permission.answered":
        items.push({ kind: "note", text: `Answered: ${data.label ?? data.option_id ?? data.choice ?? "?"}` });
        break;
      case "state.changed":
        items.push({ kind: "state", state: String(data.state ?? "?"), reason: String(data.reason ?? "") });
        break;
      case "session.started":
      case "session.exited":
        items.push({ kind: "note", text: event.kind === "session.started" ? "Session started" : "Session exited" });
        break;
      default:
        break; // output, resized... are the terminal's business
    }
  }
  // only the newest question can still be answered: older open ones were dealt with in the terminal
  let newest = true;
  for (let i = items.length - 1; i >= 0; i--) {
    if (items[i].kind !== "permission") continue;
    if (!newest) items[i].open = false;
    newest = false;
  }
  return items;
}

function clip(text) {
  return text.length > CLIP ? `${text.slice(0, CLIP)}…` : text;
}

function toolCard(item) {
  const d = item.data;
  const title = d.title || d.tool || d.name || d.tool_kind || "tool";
  const body = item.event === "tool.call" ? (d.input ? JSON.stringify(d.input) : (d.locations || []).join(" ")) : d.output;
  const status = item.event === "tool.result" ? (d.ok === false ? "failed" : "done") : d.status || "called";
  return h(
    "div",
    { class: `chat-tool chat-tool-${status}` },
    h("div", { class: "chat-tool-head" }, h("span", { text: title }), h("span", { class: "chat-tool-status", text: status })),
    body ? h("pre", { class: "chat-tool-body", text: clip(typeof body === "string" ? body : JSON.stringify(body)) }) : null,
  );
}

export function createChatView({ request, target, sessionInfo, events, viewOnly = () => false }) {
  const wrap = $("#chat-wrap");
  const list = $("#chat-list");
  const form = $("#chat-form");
  const input = $("#chat-input");
  const send = $("#chat-send");
  const stop = $("#chat-interrupt");
  const error = $("#chat-error");
  let mode = localStorage.getItem(MODE_STORAGE) === "chat" ? "chat" : "terminal";
  let queued = false;
  let sending = false;

  function showError(text) {
    error.textContent = text || "";
    error.hidden = !text;
  }

  function applyMode() {
    const open = Boolean(target());
    wrap.hidden = !open || mode !== "chat";
    $("#terminal-wrap").hidden = !open || mode !== "terminal";
    $("#keybar").hidden = !open || mode !== "terminal" || viewOnly();
    for (const button of document.querySelectorAll("[data-view]")) {
      button.setAttribute("aria-pressed", String(button.dataset.view === mode));
    }
    if (open && mode === "chat") render();
  }

  async function answer(choice, buttons) {
    const where = target();
    if (!where) return;
    for (const b of buttons) b.disabled = true;
    const reply = await request({ type: "permission.answer", ...where, choice: choice.key });
    if (reply.type === "error" || reply.ok === false) {
      showError(`Answer not delivered: ${describeFailure(reply)}`);
      for (const b of buttons) b.disabled = false;
    } else showError("");
  }

  function permissionCard(item) {
    const d = item.data;
    const buttons = [];
    const card = h(
      "div",
      { class: "chat-permission" },
      h("div", { class: "chat-permission-question", text: d.question || d.title || "Permission requested" }),
      d.tool ? h("div", { class: "chat-permission-tool", text: d.tool }) : null,
      d.detail ? h("pre", { class: "chat-tool-body", text: clip(String(d.detail)) }) : null,
    );
    if (item.open) {
      const row = h("div", { class: "chat-choices" });
      for (const choice of item.choices) {
        const b = h("button", { type: "button", class: "chat-choice", text: choice.label, onclick: () => answer(choice, buttons) });
        b.disabled = viewOnly(); // a viewer may not answer (the server refuses it too)
        buttons.push(b);
        row.append(b);
      }
      card.append(row);
    }
    return card;
  }

  function node(item) {
    switch (item.kind) {
      case "user":
        return h("div", { class: `chat-msg chat-user${item.typed ? " chat-typed" : ""}`, text: item.text });
      case "assistant":
        return h("div", { class: `chat-msg chat-assistant${item.partial ? " chat-partial" : ""}`, text: item.text });
      case "thinking":
        return h("details", { class: "chat-thinking" }, h("summary", { text: "Thinking" }), h("div", { text: clip(item.text) }));
      case "tool":
        return toolCard(item);
      case "permission":
        return permissionCard(item);
      case "state":
        return h(
          "div",
          { class: `chat-state state-${item.state}`, title: item.reason },
          h("span", { text: item.state.replace("_", " ") }),
          item.reason ? h("span", { class: "chat-state-reason", text: item.reason }) : null,
        );
      default:
        return h("div", { class: "chat-note", text: item.text });
    }
  }

  function render() {
    queued = false;
    const where = target();
    if (!where || mode !== "chat") return;
    const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    list.replaceChildren(...chatItems(events()).map(node));
    if (atBottom) list.scrollTop = list.scrollHeight;
    const state = sessionInfo()?.state ?? "unknown";
    const busy = BUSY.has(state);
    const watching = viewOnly(); // shared with me as a viewer: nothing can be sent
    input.disabled = busy || sending || watching;
    send.disabled = busy || sending || watching;
    input.placeholder = watching ? "View only: shared with you as a viewer"
      : busy ? `The agent is ${state.replace("_", " ")}…` : "Message the agent (Enter sends)";
    stop.hidden = !busy;
    stop.disabled = watching;
  }

  async function submit() {
    const where = target();
    const text = input.value.trim();
    if (!where || !text || sending || viewOnly()) return;
    sending = true;
    showError("");
    render();
    const reply = await request({ type: "session.prompt", ...where, text });
    sending = false;
    if (reply.type === "error" || reply.ok === false) showError(`Not sent: ${describeFailure(reply)}`);
    else input.value = "";
    render();
    input.focus();
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submit();
  });
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      submit();
    }
  });
  stop.addEventListener("click", async () => {
    const where = target();
    if (!where || viewOnly()) return;
    const reply = await request({ type: "session.interrupt", ...where });
    if (reply.type === "error" || reply.ok === false) showError(`Interrupt failed: ${describeFailure(reply)}`);
  });
  for (const button of document.querySelectorAll("[data-view]")) {
    button.addEventListener("click", () => {
      mode = button.dataset.view === "chat" ? "chat" : "terminal";
      localStorage.setItem(MODE_STORAGE, mode);
      applyMode();
    });
  }

  return {
    get mode() {
      return mode;
    },
    /** A session was opened or closed: show the chosen view. */
    applyMode() {
      showError("");
      applyMode();
    },
    /** Events or state changed: redraw once per frame. */
    refresh() {
      if (!queued && mode === "chat" && target()) {
        queued = true;
        requestAnimationFrame(render);
      }
    },
  };
}
