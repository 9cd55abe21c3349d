// Wiring: the connection feeds the store and the terminal; the store drives the sidebar and the top bar.

import { decodeBinaryFrame, splitStream } from "./binary.js";
import { createChatView } from "./chat-view.js";
import { createConnection } from "./connection.js";
import { setupDialogs } from "./dialogs.js";
import { $, describeFailure, toast } from "./dom.js";
import { chunkInput, createStickyCtrl, keyBytes } from "./keys.js";
import { renderSidebar, sessionTitle } from "./sidebar.js";
import { createStore, sessionKey, stateClass, stateReason } from "./store.js";
import { createTerminalView } from "./terminal-view.js";
import { api, setupSecurity } from "./security.js";
import { applyViewOnly, isViewOnly } from "./sharing.js";
import { createTimelines } from "./timeline.js";

const SEEN_STORAGE = "imcodes.seen";
const INITIAL_HISTORY = 200; // timeline events fetched when a session is first opened in this page

function loadSeen() {
  try {
    return new Map(Object.entries(JSON.parse(localStorage.getItem(SEEN_STORAGE) || "{}")));
  } catch {
    return new Map();
  }
}

function main() {
  const seen = loadSeen();
  let saveTimer = null;
  const store = createStore({
    seen,
    onSeen: () => {
      clearTimeout(saveTimer);
      saveTimer = setTimeout(() => localStorage.setItem(SEEN_STORAGE, JSON.stringify(Object.fromEntries(seen))), 500);
    },
  });
  const timelines = createTimelines();
  let current = null; // {machine, session}
  let view = null;
  let link = { state: "connecting" };

  // Which role each shared session gives me: the machines frame has one role per machine, the shares say per session.
  // Asked again on every machines frame (the server re-sends it whenever a share is made or revoked).
  let sharesAsked = 0;
  async function loadShares() {
    const asked = ++sharesAsked;
    const result = await api("GET", "/api/shares");
    if (asked !== sharesAsked) return; // a newer answer is on its way
    if (result.ok) store.applyShares(result.body?.shared_with_me ?? []);
    // on failure the old answer stays, capped by the machines frame's roles (the server refuses the rest anyway)
  }

  const chat = createChatView({
    request: (frame) => connection.request(frame, { keep: false }),
    target: () => (current ? { ...current } : null),
    sessionInfo: () => current && store.session(current.machine, current.session),
    events: () => (current ? timelines.events(sessionKey(current.machine, current.session)) : []),
    viewOnly: () => isViewOnly(store, current),
  });
  const ctrl = createStickyCtrl((armed) => {
    $("#ctrl-key").setAttribute("aria-pressed", String(armed));
  });

  function notice(text) {
    const el = $("#terminal-notice");
    el.textContent = text;
    el.hidden = !text;
  }

  function sendInput(data) {
    if (!current || !data || isViewOnly(store, current)) return; // a viewer watches: nothing is sent
    const target = current;
    for (const chunk of chunkInput(data)) {
      connection.request({ type: "terminal.input", ...target, data: chunk }, { keep: false }).then((answer) => {
        if (answer.type === "error" || answer.ok === false) toast(`Input not delivered: ${describeFailure(answer)}`, "error");
      });
    }
  }

  function ensureView() {
    if (view) return view;
    view = createTerminalView($("#terminal"), {
      onInput: (data) => sendInput(ctrl.consume(data)),
      onResize: (cols, rows) => {
        if (current && !isViewOnly(store, current)) connection.send({ type: "terminal.resize", ...current, cols, rows });
      },
    });
    return view;
  }

  function requestReplay(key) {
    const target = splitStream(key);
    if (!target || !timelines.beginReplay(key)) return;
    const { epoch, seq } = timelines.cursor(key);
    const sent = connection.send({ type: "timeline.replay", ...target, epoch, after_seq: seq, limit: 1000 });
    if (!sent) timelines.endReplay(key, false);
  }

  function subscribe() {
    if (!current) return;
    const target = current;
    view.reset();
    notice("");
    connection.request({ type: "terminal.subscribe", ...target }, { keep: false }).then((answer) => {
      const failed = answer.type === "error" || answer.ok === false;
      if (failed && answer.code !== "timeout" && current === target) notice(`Terminal unavailable: ${describeFailure(answer)}`);
    });
    view.announceSize();
  }

  function openSession(machine, session) {
    if (current && (current.machine !== machine || current.session !== session)) {
      connection.send({ type: "terminal.unsubscribe", ...current });
    }
    current = { machine, session };
    store.view(machine, session);
    history.replaceState(null, "", `#/${encodeURIComponent(machine)}/${encodeURIComponent(session)}`);
    $("#empty").hidden = true;
    $("#terminal-wrap").hidden = false;
    applyViewOnly(store, current);
    setSidebar(false);
    ensureView();
    subscribe();
    const key = sessionKey(machine, session);
    const info = store.session(machine, session);
    if (info) timelines.startAt(key, info.epoch ?? 1, Math.max(0, (info.seq ?? 0) - INITIAL_HISTORY));
    requestReplay(key);
    chat.applyMode();
    if (chat.mode === "terminal") view.focus();
  }

  function closeSession(reason) {
    current = null;
    store.view(null, null);
    history.replaceState(null, "", "#");
    $("#terminal-wrap").hidden = true;
    $("#keybar").hidden = true;
    $("#empty").hidden = false;
    chat.applyMode();
    if (reason) toast(reason);
  }

  const connection = createConnection({
    onStatus(status) {
      link = status;
      $("#signed-out").hidden = status.state !== "signed_out";
      renderIndicator();
    },
    onOpen() {
      timelines.resetInFlight();
      if (current) subscribe();
      for (const key of timelines.keys()) requestReplay(key);
    },
    onBinary(data) {
      let frame;
      try {
        frame = decodeBinaryFrame(data);
      } catch (err) {
        console.warn("dropped a bad terminal frame:", err.message);
        return;
      }
      const target = splitStream(frame.stream);
      if (view && current && target && target.machine === current.machine && target.session === current.session) {
        view.handleFrame(frame.kind, frame.payload);
      }
    },
    onFrame(frame) {
      switch (frame.type) {
        case "machines":
          store.applyMachines(frame.machines ?? []);
          if (store.machines().some((m) => m.role !== "owner")) loadShares();
          if (current && !store.session(current.machine, current.session)) closeSession("That session is gone.");
          if (!current) openFromHash();
          break;
        case "session.updated":
          if (frame.machine && frame.session) store.applySessionUpdated(frame.machine, frame.session);
          break;
        case "session.removed":
          store.applySessionRemoved(frame.machine, frame.session);
          if (current && current.machine === frame.machine && current.session === frame.session) {
            closeSession("The session was removed.");
          }
          break;
        case "link.status":
          store.applyLinkStatus(frame.machine, frame.daemon_online);
          break;
        case "timeline.event": {
          if (!frame.machine || !frame.event) break;
          const key = sessionKey(frame.machine, frame.event.session);
          const verdict = timelines.offer(key, frame.event);
          if (verdict === "accepted") store.noteEvent(frame.machine, frame.event);
          if (verdict === "accepted") chat.refresh();
          else if (verdict === "gap") requestReplay(key);
          break;
        }
        case "timeline.replayed": {
          const key = sessionKey(frame.machine, frame.session);
          if (timelines.endReplay(key, frame.more)) requestReplay(key);
          break;
        }
        case "error":
          toast(frame.message || frame.code, "error");
          break;
        default:
          break; // frames a newer server adds are ignored, not fatal
      }
    },
  });

  function openFromHash() {
    const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
    if (parts.length === 2 && store.session(parts[0], parts[1])) openSession(parts[0], parts[1]);
  }

  // --- rendering ------------------------------------------------------------------------------------------------

  let renderQueued = false;
  function render() {
    renderQueued = false;
    renderSidebar($("#machines"), store, { onOpen: openSession });
    const session = current && store.session(current.machine, current.session);
    $("#session-title").textContent = session ? sessionTitle(session) : "imcodes";
    const badge = $("#session-state");
    badge.hidden = !session;
    if (session) {
      const state = stateClass(session.state);
      const reason = stateReason(session);
      badge.textContent = session.state.replace("_", " ");
      badge.className = `session-state state-${state}`;
      badge.title = reason || session.state;
    }
    $("#session-actions").hidden = !session;
    applyViewOnly(store, session ? current : null);
    chat.refresh();
    renderIndicator();
  }
  store.subscribe(() => {
    if (!renderQueued) {
      renderQueued = true;
      requestAnimationFrame(render);
    }
  });

  function renderIndicator() {
    const el = $("#connection");
    const text = $("#connection-text");
    let hop = "ok";
    let message = "Connected";
    if (link.state === "signed_out") {
      hop = "signed-out";
      message = "Signed out";
    } else if (link.state === "connecting") {
      hop = "connecting";
      message = "Connecting…";
    } else if (link.state === "down") {
      hop = "browser-server";
      const seconds = Math.max(0, Math.ceil((link.retryAt - Date.now()) / 1000));
      message = `browser–server down · retry in ${seconds}s`;
    } else {
      const machine = current ? store.machine(current.machine) : null;
      const offline = store.machines().filter((m) => !m.online);
      if (machine && !machine.online) {
        hop = "server-daemon";
        message = `server–daemon down · ${machine.hostname || machine.machine} offline`;
      } else if (!machine && offline.length && offline.length === store.machines().length) {
        hop = "server-daemon";
        message = "server–daemon down · no machine online";
      }
    }
    el.dataset.hop = hop;
    el.title = link.error ? `${message} (${link.error})` : message;
    text.textContent = message;
  }
  setInterval(() => link.state === "down" && renderIndicator(), 1000);

  // --- controls -------------------------------------------------------------------------------------------------

  function setSidebar(open) {
    $("#app").dataset.sidebar = open ? "open" : "closed";
    $("#sidebar-toggle").setAttribute("aria-expanded", String(open));
    $("#scrim").hidden = !open;
  }
  $("#sidebar-toggle").addEventListener("click", () => setSidebar($("#app").dataset.sidebar !== "open"));
  $("#scrim").addEventListener("click", () => setSidebar(false));

  const dialogs = setupDialogs({ store, connection, openSession, current: () => current });
  $("#new-session").addEventListener("click", () => {
    setSidebar(false);
    dialogs.openNewSession();
  });
  $("#empty-new-session").addEventListener("click", () => dialogs.openNewSession());
  $("#rename-session").addEventListener("click", dialogs.openRename);
  $("#stop-session").addEventListener("click", dialogs.openStop);
  const security = setupSecurity({ store });
  $("#open-security").addEventListener("click", () => {
    setSidebar(false);
    security.open();
  });

  const keybar = $("#keybar");
  // keep the focus (and the phone's keyboard) in the terminal while the key bar is tapped
  keybar.addEventListener("pointerdown", (e) => e.target.closest("button") && e.preventDefault());
  keybar.addEventListener("click", (e) => {
    const key = e.target.closest("button")?.dataset.key;
    if (!key || !view) return;
    if (key === "ctrl") ctrl.toggle();
    else sendInput(keyBytes(key, { appCursor: view.appCursorMode(), ctrl: ctrl.take() }));
    view.focus();
  });

  window.addEventListener("online", () => connection.nudge());
  document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && connection.nudge());

  // read-only handle for end-to-end tests and debugging from the console
  window.imcodes = {
    store,
    timeline: (machine, session) => timelines.events(sessionKey(machine, session)),
    screenText: () => (view ? view.screenText() : ""),
    link: () => ({ ...link }),
    current: () => (current ? { ...current } : null),
  };

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {
      // no offline shell (e.g. served from a path without the worker): the app works the same online
    });
  }

  render();
  connection.start();
}

main();
