// The browser <-> server link: ticket, WebSocket, heartbeats, reconnect with backoff, acks for commands.

import { backoffDelay, newId } from "./backoff.js";

export const PING_EVERY_MS = 10000;
const MISSED_PONGS_LIMIT = 2;
const ACK_TIMEOUT_MS = 60000; // the server retries a daemon command for up to 5 x 8 s before it gives up

export class SignedOutError extends Error {}

export function readCookie(name) {
  for (const part of document.cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return "";
}

async function fetchTicket() {
  const response = await fetch("/api/ws-ticket", {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-CSRF-Token": readCookie("imcodes_csrf") },
  });
  if (response.status === 401 || response.status === 403) throw new SignedOutError("not signed in");
  if (!response.ok) throw new Error(`ticket request failed (${response.status})`);
  const body = await response.json();
  if (typeof body.ticket !== "string") throw new Error("ticket response without a ticket");
  return body.ticket;
}

/**
 * handlers: onFrame(frame), onBinary(arrayBuffer), onOpen(), onStatus({state, retryAt?, error?}) where state is
 * "connecting" | "open" | "down" | "signed_out".
 */
export function createConnection(handlers) {
  let socket = null;
  let attempt = 0;
  let missedPongs = 0;
  let pingTimer = null;
  let retryTimer = null;
  let stopped = false;
  const pending = new Map(); // id -> {frame, resolve, timer}: resent with the same id after a reconnect

  const status = (s) => handlers.onStatus?.(s);

  function clearTimers() {
    clearInterval(pingTimer);
    clearTimeout(retryTimer);
    pingTimer = retryTimer = null;
  }

  function dropVolatile() {
    // keystrokes are not worth replaying minutes later: fail them now, keep the durable commands
    for (const [id, p] of pending) {
      if (p.keep) continue;
      pending.delete(id);
      clearTimeout(p.timer);
      p.resolve({ type: "error", code: "offline", message: "connection lost before the server answered", ref: id });
    }
  }

  function scheduleReconnect(error) {
    clearTimers();
    dropVolatile();
    if (stopped) return;
    const delay = backoffDelay(attempt++);
    status({ state: "down", retryAt: Date.now() + delay, error });
    retryTimer = setTimeout(connect, delay);
  }

  async function connect() {
    clearTimers();
    if (stopped) return;
    status({ state: "connecting" });
    let ticket;
    try {
      ticket = await fetchTicket();
    } catch (err) {
      if (err instanceof SignedOutError) {
        stopped = true;
        status({ state: "signed_out" });
        return;
      }
      scheduleReconnect(err.message);
      return;
    }
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const ws = new WebSocket(`${scheme}//${location.host}/ws/client?ticket=${encodeURIComponent(ticket)}`);
    ws.binaryType = "arraybuffer";
    socket = ws;
    ws.onopen = () => {
      attempt = 0;
      missedPongs = 0;
      status({ state: "open" });
      pingTimer = setInterval(heartbeat, PING_EVERY_MS);
      handlers.onOpen?.();
      for (const { frame } of pending.values()) ws.send(JSON.stringify(frame));
    };
    ws.onmessage = (msg) => {
      missedPongs = 0; // any traffic proves the link is alive
      if (typeof msg.data !== "string") {
        handlers.onBinary?.(msg.data);
        return;
      }
      let frame;
      try {
        frame = JSON.parse(msg.data);
      } catch {
        return; // the server only sends JSON text frames; ignore anything else rather than break the page
      }
      if (frame.type === "pong") return;
      if ((frame.type === "ack" || frame.type === "error") && frame.ref && pending.has(frame.ref)) {
        const p = pending.get(frame.ref);
        pending.delete(frame.ref);
        clearTimeout(p.timer);
        p.resolve(frame); // the requester reports its own failure: no second, generic message
        return;
      }
      handlers.onFrame?.(frame);
    };
    ws.onclose = (event) => {
      if (socket !== ws) return;
      socket = null;
      const why = event.code === 4401 ? "ticket refused" : `closed (${event.code})`;
      scheduleReconnect(why);
    };
  }

  function heartbeat() {
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    if (missedPongs >= MISSED_PONGS_LIMIT) {
      // two pings unanswered: the link is stale even if the socket looks open
      const stale = socket;
      socket = null;
      stale.onclose = null;
      stale.close();
      scheduleReconnect("no answer to pings");
      return;
    }
    missedPongs += 1;
    socket.send(JSON.stringify({ v: 1, type: "ping", t: Date.now() / 1000 }));
  }

  const isOpen = () => socket !== null && socket.readyState === WebSocket.OPEN;

  return {
    start: connect,
    isOpen,
    /** Fire and forget (subscribe, resize): false when the link is down. */
    send(frame) {
      if (!isOpen()) return false;
      socket.send(JSON.stringify({ v: 1, ...frame }));
      return true;
    },
    /**
     * A command with an id: resolves with the server's `ack` or `error` frame (never rejects). Kept across
     * reconnects and resent with the same id (the receiver deduplicates).
     */
    request(frame, { keep = true } = {}) {
      const full = { v: 1, id: newId(frame.type.split(".")[0]), ...frame };
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          pending.delete(full.id);
          resolve({ type: "error", code: "timeout", message: "no answer from the server", ref: full.id });
        }, ACK_TIMEOUT_MS);
        if (keep || isOpen()) pending.set(full.id, { frame: full, resolve, timer, keep });
        if (isOpen()) socket.send(JSON.stringify(full));
        else if (!keep) {
          clearTimeout(timer);
          resolve({ type: "error", code: "offline", message: "not connected to the server", ref: full.id });
        }
      });
    },
    /** Reconnect now (network came back, tab became visible) instead of waiting for the backoff. */
    nudge() {
      if (!stopped && socket === null && retryTimer !== null) connect();
    },
  };
}
