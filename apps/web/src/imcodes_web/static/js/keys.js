// The phone key bar: which bytes each key sends, and the sticky Ctrl modifier. Pure: tested with node.

const CURSOR_LETTER = { up: "A", down: "B", right: "C", left: "D" };

/**
 * Bytes for a key-bar key, as xterm itself would send them.
 * appCursor: the terminal is in application cursor mode (DECCKM), where arrows are ESC O x instead of ESC [ x.
 * ctrl: the sticky Ctrl is armed (Ctrl+arrow is ESC [ 1 ; 5 x; Ctrl+Tab has no byte form so it stays Tab).
 */
export function keyBytes(key, { appCursor = false, ctrl = false } = {}) {
  switch (key) {
    case "esc":
      return "\x1b";
    case "tab":
      return "\t";
    case "ctrl-c":
      return "\x03";
    case "ctrl-d":
      return "\x04";
    case "enter":
      return "\r";
    case "up":
    case "down":
    case "left":
    case "right": {
      const letter = CURSOR_LETTER[key];
      if (ctrl) return `\x1b[1;5${letter}`;
      return appCursor ? `\x1bO${letter}` : `\x1b[${letter}`;
    }
    default:
      throw new Error(`unknown key ${key}`);
  }
}

const CTRL_SYMBOLS = { "@": 0, " ": 0, "[": 27, "\\": 28, "]": 29, "^": 30, _: 31, "?": 127 };

/**
 * Apply Ctrl to the first character of typed text (what a physical Ctrl key would have produced), leaving the rest
 * as typed: "c" -> "\x03", "C" -> "\x03", "[" -> ESC. Characters without a control form are sent unchanged.
 */
export function applyCtrl(text) {
  if (!text) return text;
  const first = text[0];
  const rest = text.slice(1);
  const lower = first.toLowerCase();
  if (lower >= "a" && lower <= "z") return String.fromCharCode(lower.charCodeAt(0) - 96) + rest;
  if (first in CTRL_SYMBOLS) return String.fromCharCode(CTRL_SYMBOLS[first]) + rest;
  return text;
}

/** The sticky modifier: armed by the Ctrl key, consumed by the next key or typed character. */
export function createStickyCtrl(onChange = () => {}) {
  let armed = false;
  return {
    get armed() {
      return armed;
    },
    toggle() {
      armed = !armed;
      onChange(armed);
    },
    /** Transform typed data; disarms after one use. */
    consume(data) {
      if (!armed) return data;
      armed = false;
      onChange(armed);
      return applyCtrl(data);
    },
    /** Read and disarm for a key-bar key. */
    take() {
      const was = armed;
      if (armed) {
        armed = false;
        onChange(armed);
      }
      return was;
    },
  };
}

/** Split a large paste so every terminal.input stays under the protocol's limit. */
export function chunkInput(data, maxChars = 64 * 1024) {
  if (data.length <= maxChars) return [data];
  const chunks = [];
  let start = 0;
  while (start < data.length) {
    let end = Math.min(start + maxChars, data.length);
    const code = data.charCodeAt(end - 1);
    if (end < data.length && code >= 0xd800 && code <= 0xdbff) end -= 1; // never split a surrogate pair
    chunks.push(data.slice(start, end));
    start = end;
  }
  return chunks;
}
