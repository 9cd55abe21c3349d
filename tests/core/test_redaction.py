from __future__ import annotations

import io
import logging

import pytest

from imcodes_core.redaction import MASK, RedactingFilter, SecretRegistry, install_redaction, redact

SECRETS = [
    ("Authorization: Bearer abcdefghijklmnop", "abcdefghijklmnop"),
    ("GET /ws/client?ticket=Zx9_secretTicketValue HTTP/1.1", "Zx9_secretTicketValue"),
    ("cookie: imcodes_session=s3cr3tcookie; imcodes_csrf=csrfvalue1", "s3cr3tcookie"),
    ("env ANTHROPIC_API_KEY=sk-ant-api03-abcdefghijklmnopqrstuvwxyz", "sk-ant-api03-abcdefghijklmnopqrstuvwxyz"),
    ("OPENAI key sk-proj-AAAAAAAAAAAAAAAAAAAAAAAA used", "AAAAAAAAAAAAAAAAAAAAAAAA"),
    ('{"token": "daemon-token-value-123"}', "daemon-token-value-123"),
    ("open http://127.0.0.1:8787/auth/link/oneTimeLinkToken123", "oneTimeLinkToken123"),
    ("totp seed=JBSWY3DPEHPK3PXP", "JBSWY3DPEHPK3PXP"),
]


@pytest.mark.parametrize(("text", "secret"), SECRETS)
def test_patterns_mask_credentials(text: str, secret: str) -> None:
    cleaned = redact(text)
    assert secret not in cleaned
    assert MASK in cleaned


def test_registered_values_are_masked_even_without_a_shape() -> None:
    registry = SecretRegistry()
    registry.add("plainvalue42", None, "abc")  # too short values are ignored, None is skipped
    assert redact("the value plainvalue42 leaked", registry) == f"the value {MASK} leaked"
    assert redact("abc stays", registry) == "abc stays"


def test_ordinary_text_is_untouched() -> None:
    text = "session shell-1a2b is idle after 3 turns; 200 OK"
    assert redact(text) == text


def test_filter_cleans_messages_args_and_tracebacks() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("imcodes.test.redaction")
    logger.propagate = False
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    registry = SecretRegistry()
    registry.add("tok_live_0123456789")
    install_redaction(registry, logger)
    try:
        logger.warning("daemon connected with %s", "tok_live_0123456789")
        try:
            raise RuntimeError("bad header Authorization: Bearer zzzzzzzzzzzz")
        except RuntimeError:
            logger.exception("link failed")
    finally:
        logger.removeHandler(handler)
    out = stream.getvalue()
    assert "tok_live_0123456789" not in out
    assert "zzzzzzzzzzzz" not in out
    assert out.count(MASK) >= 2
    assert any(isinstance(f, RedactingFilter) for f in handler.filters)
