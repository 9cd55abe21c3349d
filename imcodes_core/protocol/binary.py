"""Binary frames: terminal output, snapshots and resets.

Layout: version byte (1), kind byte, 2-byte big-endian stream name length, the stream name (UTF-8, the session
name), then the payload. 4 bytes of header plus the name; no JSON, no base64, on the hot path.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

BINARY_VERSION = 1
MAX_STREAM_NAME = 256
MAX_BINARY_PAYLOAD = 4 * 1024 * 1024
_HEADER = struct.Struct(">BBH")


class BinaryKind(IntEnum):
    OUTPUT = 1  # live terminal bytes as tmux produced them
    SNAPSHOT = 2  # capture-pane -e of the whole screen: replace, don't append
    RESET = 3  # the viewer fell behind: clear and wait for a snapshot


@dataclass(frozen=True, slots=True)
class BinaryFrame:
    kind: BinaryKind
    stream: str
    payload: bytes


def encode_binary(kind: BinaryKind, stream: str, payload: bytes) -> bytes:
    name = stream.encode()
    if len(name) > MAX_STREAM_NAME:
        raise ValueError(f"stream name longer than {MAX_STREAM_NAME} bytes")
    return _HEADER.pack(BINARY_VERSION, kind, len(name)) + name + payload


def decode_binary(data: bytes) -> BinaryFrame:
    """Decode a binary frame; raises ``ValueError`` with a short reason for anything malformed."""
    if len(data) < _HEADER.size:
        raise ValueError("binary frame shorter than its header")
    version, kind, name_len = _HEADER.unpack_from(data)
    if version != BINARY_VERSION:
        raise ValueError(f"unsupported binary frame version {version}")
    try:
        parsed_kind = BinaryKind(kind)
    except ValueError:
        raise ValueError(f"unknown binary frame kind {kind}") from None
    if name_len == 0 or name_len > MAX_STREAM_NAME or len(data) < _HEADER.size + name_len:
        raise ValueError("bad stream name length")
    try:
        stream = data[_HEADER.size : _HEADER.size + name_len].decode()
    except UnicodeDecodeError:
        raise ValueError("stream name is not UTF-8") from None
    payload = data[_HEADER.size + name_len :]
    if len(payload) > MAX_BINARY_PAYLOAD:
        raise ValueError("binary payload too large")
    return BinaryFrame(parsed_kind, stream, bytes(payload))
