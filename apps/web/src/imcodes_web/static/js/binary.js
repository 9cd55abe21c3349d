// Binary terminal frames (imcodes_core/protocol/binary.py): version byte, kind byte, 2-byte big-endian stream name
// length, the stream name (UTF-8), then the payload. Pure: no DOM, tested with node.

export const BINARY_VERSION = 1;
export const Kind = Object.freeze({ OUTPUT: 1, SNAPSHOT: 2, RESET: 3 });
const HEADER = 4;
const MAX_STREAM_NAME = 256;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Decode one frame; throws an Error with a short reason for anything malformed. */
export function decodeBinaryFrame(data) {
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  if (bytes.length < HEADER) throw new Error("binary frame shorter than its header");
  const version = bytes[0];
  const kind = bytes[1];
  const nameLength = (bytes[2] << 8) | bytes[3];
  if (version !== BINARY_VERSION) throw new Error(`unsupported binary frame version ${version}`);
  if (kind !== Kind.OUTPUT && kind !== Kind.SNAPSHOT && kind !== Kind.RESET) {
    throw new Error(`unknown binary frame kind ${kind}`);
  }
  if (nameLength === 0 || nameLength > MAX_STREAM_NAME || bytes.length < HEADER + nameLength) {
    throw new Error("bad stream name length");
  }
  let stream;
  try {
    stream = utf8.decode(bytes.subarray(HEADER, HEADER + nameLength));
  } catch {
    throw new Error("stream name is not UTF-8");
  }
  return { kind, stream, payload: bytes.subarray(HEADER + nameLength) };
}

/** Browser streams are named "<machine>/<session>" (machine and session names never contain a slash). */
export function streamName(machine, session) {
  return `${machine}/${session}`;
}

export function splitStream(stream) {
  const slash = stream.indexOf("/");
  if (slash <= 0 || slash === stream.length - 1) return null;
  return { machine: stream.slice(0, slash), session: stream.slice(slash + 1) };
}

/** The inverse of decodeBinaryFrame, for tests and tools. */
export function encodeBinaryFrame(kind, stream, payload) {
  const name = new TextEncoder().encode(stream);
  const out = new Uint8Array(HEADER + name.length + payload.length);
  out[0] = BINARY_VERSION;
  out[1] = kind;
  out[2] = name.length >> 8;
  out[3] = name.length & 0xff;
  out.set(name, HEADER);
  out.set(payload, HEADER + name.length);
  return out;
}
