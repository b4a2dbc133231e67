"""Secrets never shown: notifier URLs in apprise's privacy form, and configured secrets masked
in every log record, whatever logger emits them."""

from __future__ import annotations

import io
import logging

import pytest

from watcher.logs import SecretFilter, mask
from watcher.notify.masking import masked_url

TOKEN = "123456789:AAEexampleTOKENabcdefghijklmnopqrstu"


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        (f"tgram://{TOKEN}/-1001234567", TOKEN),
        ("mailto://desk:s3cretPassw0rd@smtp.example.org?to=desk@example.org", "s3cretPassw0rd"),
        ("json://user:hunter2hunter2@hooks.example.org/alerts", "hunter2hunter2"),
    ],
)
def test_masked_url_hides_the_secret_part(url: str, secret: str) -> None:
    shown = masked_url(url)
    assert secret not in shown
    assert shown.split("://")[0] == url.split("://")[0]  # still says which service


def test_masked_url_of_an_unusable_url_shows_only_its_scheme() -> None:
    assert masked_url("tgarm://secret-token/123") == "tgarm://****"


def test_mask_keeps_ends_of_long_secrets_and_hides_short_ones() -> None:
    text = f"POST https://api.telegram.org/bot{TOKEN}/sendMessage pw=abc"
    out = mask(text, [TOKEN, "abc"])
    assert TOKEN not in out and "pw=****" in out
    assert f"bot{TOKEN[0]}…{TOKEN[-1]}/sendMessage" in out


def test_mask_prefers_the_longest_secret_when_they_overlap() -> None:
    assert mask("secret-token-long", ["secret", "secret-token-long"]) == "s…g"


def test_filter_masks_arguments_of_any_logger() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    flt = SecretFilter()
    flt.secrets = frozenset({TOKEN})
    handler.addFilter(flt)
    logger = logging.getLogger("apprise.test-masking")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("failed to post to %s", f"https://api.telegram.org/bot{TOKEN}/x")
    finally:
        logger.removeHandler(handler)
    assert TOKEN not in stream.getvalue()
    assert "failed to post to https://api.telegram.org/bot1…u/x" in stream.getvalue()
