"""The settings dialog's words: status lines with a colour and a symbol, keyring names, API errors with
the key masked. Everything here is plain text (a server's words are never rendered as HTML).
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QLabel,
)

from .. import api
from ..credentials import CredentialError, KeyStore
from ..present import error_words
from ..desk import DeskNotReady

log = logging.getLogger("despatch_desk.gui.settings")

ENVIRONMENT_CHOICES = (
    ("production", "Production (api.electioapp.com)"),
    ("sandbox", "Sandbox test account (apisandbox.electioapp.com)"),
    ("custom", "Custom address"),
)

GROUPS_REFUSED = ("Your API key is not allowed to list service groups: add them by hand "
                  "(Settings > Carrier Service Groups in SortedPRO shows the codes).")

# Tones for status lines: colour is never the only signal, every tone also has a symbol.
_TONES = {
    "ok": ("#1E7B34", "✓ "),
    "error": ("#B71C1C", "✕ "),
    "warn": ("#7A4A00", "! "),
    "busy": ("#37474F", "… "),
    "info": ("#37474F", ""),
}


def set_status(label: QLabel, text: str, tone: str = "info") -> None:
    """Show ``text`` in ``label`` with a colour *and* a symbol; empty text hides the label."""
    colour, symbol = _TONES.get(tone, _TONES["info"])
    label.setTextFormat(Qt.TextFormat.PlainText)  # the words may quote a server: never rendered as HTML
    label.setText(f"{symbol}{text}" if text else "")
    label.setStyleSheet(f"color: {colour};" if text else "")
    label.setProperty("tone", tone if text else "")
    label.setVisible(bool(text))


def keyring_words(keystore: KeyStore) -> str:
    """"the Windows Credential Manager" rather than a class path. May touch the keyring: not on the GUI thread."""
    try:
        backend = keystore.backend()
    except CredentialError:
        return "the system keyring"
    inner = getattr(backend, "backends", None)
    leaves = list(inner) if isinstance(inner, (list, tuple)) and inner else [backend]
    path = f"{type(leaves[0]).__module__}.{type(leaves[0]).__qualname__}"
    for needle, words in (("Windows", "the Windows Credential Manager"), ("macOS", "the macOS Keychain"),
                          ("SecretService", "the Secret Service keyring"), ("libsecret", "the Secret Service keyring"),
                          ("kwallet", "KWallet")):
        if needle.lower() in path.lower():
            return words
    name = getattr(leaves[0], "name", None)
    return f"the keyring ({name})" if isinstance(name, str) and name else f"the keyring ({type(leaves[0]).__name__})"


def plain_api_error(exc: BaseException, origin: str, secret: str | None = None) -> str:
    """An error of a background call in words an operator understands; the key is masked."""
    if isinstance(exc, api.Unauthorized):
        if exc.status == 403:
            text = "SortedPRO refused this API key access (HTTP 403). Check that the key is for this environment."
        else:
            text = (f"SortedPRO refused this API key (HTTP {exc.status}). Check that it is the key for {origin} "
                    "and that it was pasted whole.")
    elif isinstance(exc, api.NotSent):
        text = f"{exc.message} Check the address and this computer's network connection."
    elif isinstance(exc, api.ApiError):
        text = exc.message
    elif isinstance(exc, DeskNotReady):
        text = exc.message
    else:
        text = error_words(exc)
    return api.mask_secret(text, secret)


class _Masked(Exception):
    """Carries an API error out of a worker with the key it was called with, so words can mask it."""

    def __init__(self, error: api.ApiError, key: str) -> None:
        super().__init__(error.message)
        self.error = error
        self.key = key


def _unmask(exc: BaseException, origin: str) -> str:
    if isinstance(exc, _Masked):
        return plain_api_error(exc.error, origin, exc.key)
    return plain_api_error(exc, origin)
