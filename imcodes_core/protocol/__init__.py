"""Wire protocol shared by the daemon, the server and the clients.

Control frames are JSON objects ``{"v": 1, "type": ..., "id": ..., ...}`` validated on receipt with
:func:`parse_frame`; terminal bytes travel in binary frames (:mod:`imcodes_core.protocol.binary`).
"""

from imcodes_core.protocol.binary import BinaryFrame, BinaryKind, decode_binary, encode_binary
from imcodes_core.protocol.frames import (
    MAX_TEXT_FRAME_BYTES,
    PROTOCOL_VERSION,
    Frame,
    FrameError,
    encode_frame,
    error_frame,
    parse_frame,
)

__all__ = [
    "MAX_TEXT_FRAME_BYTES",
    "PROTOCOL_VERSION",
    "BinaryFrame",
    "BinaryKind",
    "Frame",
    "FrameError",
    "decode_binary",
    "encode_binary",
    "encode_frame",
    "error_frame",
    "parse_frame",
]
