// The terminal pane: one xterm.js instance, fitted to its container, fed by binary frames of the open session.

import { FitAddon } from "../vendor/addon-fit/addon-fit.mjs";
import { Terminal } from "../vendor/xterm/xterm.mjs";
import { Kind } from "./binary.js";

const THEME = { background: "#0f1115", foreground: "#d8dee9", cursor: "#f0c674", selectionBackground: "#3b4252" };

/**
 * callbacks: onInput(data) for what the user typed, onResize(cols, rows) after a fit changed the size.
 * The view never talks to the network itself.
 */
export function createTerminalView(container, { onInput, onResize }) {
  const narrow = window.matchMedia("(max-width: 700px)").matches;
  const term = new Terminal({
    allowProposedApi: false,
    convertEol: false,
    cursorBlink: true,
    fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
    fontSize: narrow ? 12 : 14,
    scrollback: 5000,
    theme: THEME,
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(container);
  term.onData((data) => onInput(data));

  let size = { cols: 0, rows: 0 };
  let waitingSnapshot = false;
  let frameRequested = false;

  function refit() {
    frameRequested = false;
    if (container.clientWidth === 0 || container.clientHeight === 0) return; // hidden: nothing to measure
    const dims = fit.proposeDimensions();
    if (!dims || !Number.isFinite(dims.cols) || !Number.isFinite(dims.rows)) return;
    const cols = Math.max(2, dims.cols);
    const rows = Math.max(2, dims.rows);
    if (cols !== term.cols || rows !== term.rows) term.resize(cols, rows);
    if (cols !== size.cols || rows !== size.rows) {
      size = { cols, rows };
      onResize(cols, rows);
    }
  }

  const observer = new ResizeObserver(() => {
    if (!frameRequested) {
      frameRequested = true;
      requestAnimationFrame(refit);
    }
  });
  observer.observe(container);

  return {
    term,
    get size() {
      return { ...size };
    },
    get waitingSnapshot() {
      return waitingSnapshot;
    },
    /** A new session is shown: clear the screen and wait for its snapshot. */
    reset() {
      term.reset();
      waitingSnapshot = true;
      size = { cols: 0, rows: 0 };
      refit();
    },
    /** Size to report to the server after (re)subscribing, forcing a fresh measure. */
    announceSize() {
      size = { cols: 0, rows: 0 };
      refit();
    },
    handleFrame(kind, payload) {
      if (kind === Kind.SNAPSHOT) {
        term.reset();
        waitingSnapshot = false;
        term.write(payload);
      } else if (kind === Kind.OUTPUT) {
        term.write(payload);
      } else if (kind === Kind.RESET) {
        // we fell behind: clear and wait for the fresh snapshot the server sends next
        term.reset();
        waitingSnapshot = true;
      }
    },
    appCursorMode: () => Boolean(term.modes?.applicationCursorKeysMode),
    focus: () => term.focus(),
    /** Text currently on screen (for tests and copy): the visible rows of the active buffer. */
    screenText() {
      const buffer = term.buffer.active;
      const lines = [];
      for (let i = 0; i < term.rows; i++) {
        lines.push(buffer.getLine(buffer.viewportY + i)?.translateToString(true) ?? "");
      }
      return lines.join("\n");
    },
  };
}
