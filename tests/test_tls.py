"""The bot reaches Telegram and WeCom over TLS even on a host without the system's bundle."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import cast

import pytest

from bot.transports.tls import trusted


@pytest.fixture
def bare_host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """OpenSSL finds no authorities of the system's, as in a slim container."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "none.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    trusted.cache_clear()
    yield
    trusted.cache_clear()


@pytest.mark.usefixtures("bare_host")
def test_the_public_authorities_are_trusted_without_the_systems_bundle() -> None:
    subjects = {
        str(value)
        for cert in trusted().get_ca_certs()
        for entry in cast(tuple[tuple[tuple[str, str], ...], ...], cert["subject"])
        for key, value in entry
        if key == "commonName"
    }
    assert {"ISRG Root X1", "DigiCert Global Root G2"} <= subjects
