"""One redaction filter for every log record and error text: secrets never reach logs.

Two layers: patterns that look like credentials wherever they appear (bearer tokens, ``token=`` query parameters,
cookies, provider API keys), and exact values registered at run time (a daemon's token, a session cookie) so even a
secret with no recognisable shape is masked.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

MASK = "[redacted]"

_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"(?i)(authorization\s*[:=]\s*(?:bearer|basic|token)\s+)[^\s,;\"']+"),
    re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"),
    re.compile(
        r"(?i)((?:token|ticket|secret|password|passwd|api[_-]?key|access[_-]?key|seed|otp|code)"
        r"[\"']?\s*[=:]\s*[\"']?)[^\s&,;\"']{4,}"
    ),
    re.compile(r"(?i)((?:set-)?cookie\s*:\s*)[^\r\n]+"),
    re.compile(r"(?i)\b((?:imcodes_session|imcodes_csrf)=)[^\s;,&]+"),
    re.compile(r"\b(sk-(?:ant-|proj-)?)[A-Za-z0-9_-]{16,}"),
    re.compile(r"\b(AIza)[A-Za-z0-9_-]{30,}"),
    re.compile(r"\b(gh[pousr]_)[A-Za-z0-9]{20,}"),
    re.compile(r"(/auth/link/)[A-Za-z0-9_-]{8,}"),
    re.compile(r"\b(imk_)[A-Za-z0-9_-]{8,}"),
)


class SecretRegistry:
    """Exact secret values known to this process. Thread-safe; values shorter than 6 characters are ignored."""

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def add(self, *values: str | None) -> None:
        with self._lock:
            self._values.update(v for v in values if v and len(v) >= 6)

    def discard(self, value: str) -> None:
        with self._lock:
            self._values.discard(value)

    def values(self) -> Iterable[str]:
        with self._lock:
            return sorted(self._values, key=len, reverse=True)


def redact(text: str, registry: SecretRegistry | None = None) -> str:
    """Mask every secret in ``text``."""
    if registry is not None:
        for value in registry.values():
            if value in text:
                text = text.replace(value, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites the formatted message (and exception text) of every record it sees."""

    def __init__(self, registry: SecretRegistry | None = None) -> None:
        super().__init__()
        self.registry = registry

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self.registry)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.registry)
        return True


def install_redaction(
    registry: SecretRegistry | None = None, logger: logging.Logger | None = None
) -> RedactingFilter:
    """Attach one filter to every handler of ``logger`` (the root logger by default), and return it.

    Filters on handlers (not on loggers) see records propagated from every child logger, including libraries'.
    """
    target = logger or logging.getLogger()
    existing = next((f for h in target.handlers for f in h.filters if isinstance(f, RedactingFilter)), None)
    flt = existing or RedactingFilter(registry)
    if registry is not None:
        flt.registry = registry
    for handler in target.handlers:
        if flt not in handler.filters:
            handler.addFilter(flt)
    return flt
