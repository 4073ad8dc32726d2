"""The API key, kept in the operating system's keyring and nowhere else.

Service ``despatch-desk``, user name = the API origin (``https://api.electioapp.com``), so the
production and sandbox keys live side by side. ``DESPATCH_DESK_API_KEY`` overrides the keyring for
automation. A failing or "null" backend (headless Linux without a Secret Service) is refused
with a plain message: never a silent plain-text fallback, never a silently dropped write.
"""

from __future__ import annotations

import os
import threading
import unicodedata
from dataclasses import dataclass

from . import APP_ID
from .errors import EXIT_KEY, DeskError

SERVICE = APP_ID
ENV_API_KEY = "DESPATCH_DESK_API_KEY"
MAX_KEY_LENGTH = 1000  # Windows Credential Manager caps secrets near 1,280 characters

# Backends that do not keep anything: refuse them.
_UNUSABLE_BACKENDS = {"keyring.backends.fail.Keyring", "keyring.backends.null.Keyring"}

_lock = threading.Lock()  # some backends (Secret Service over D-Bus) are not thread-safe


class CredentialError(DeskError):
    """Key storage or key format problem, in plain words for the operator (exit code 3)."""

    exit_code = EXIT_KEY


@dataclass(frozen=True, slots=True)
class KeyStatus:
    source: str | None     # "environment", "keyring" or None (no key)
    backend: str           # class path of the keyring backend, or a reason it has none
    problem: str | None    # plain words when the keyring cannot be used


def validate_key(text: str) -> str | None:
    """Plain words for what is wrong with a pasted key, or None when it looks like a key.

    Surrounding spaces and line breaks are ignored (they come with copy and paste). The words
    name the character and its position, never the key itself."""
    key = text.strip()
    if not key:
        return "The API key is empty."
    if len(key) > MAX_KEY_LENGTH:
        return f"That is {len(key)} characters: not an API key (they are much shorter)."
    problems = [(i, ch) for i, ch in enumerate(key, start=1) if not ("!" <= ch <= "~")]
    if not problems:
        return None
    position, ch = problems[0]
    more = f" (and {len(problems) - 1} more such characters)" if len(problems) > 1 else ""
    return (f"The key contains {_describe(ch)} at position {position}{more}. API keys are plain letters and "
            "digits, without spaces or control characters: copy it again from SortedPRO, or type it.")


def _describe(ch: str) -> str:
    code = f"U+{ord(ch):04X}"
    category = unicodedata.category(ch)
    name = unicodedata.name(ch, "").lower()
    if ch == " ":
        return "a space"
    if ch in "\r\n\u2028\u2029\x85":
        return f"a line break ({code})"
    if ch == "\t":
        return f"a tab ({code})"
    if category == "Cf" or ch in "\u115f\u1160\u3164\uffa0":  # zero-width, BOM, direction marks, fillers
        return f"an invisible character ({code}{', ' + name if name else ''})"
    if category in ("Cc", "Cs", "Co", "Cn"):
        return f"a control or undefined character ({code})"
    if ch.isspace():
        return f"a space-like character ({code}{', ' + name if name else ''})"
    return f"a character that is not plain ASCII ({code})"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def check_key_format(key: str) -> str:
    """Trim a pasted key and return it, or raise :class:`CredentialError` in plain words."""
    problem = validate_key(key)
    if problem:
        raise CredentialError(problem)
    return key.strip()


def _class_path(obj: object) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


class KeyStore:
    def __init__(self, backend: object | None = None) -> None:
        self._backend = backend

    # -- backend
    def backend(self):
        import keyring
        import keyring.errors

        if self._backend is not None:
            return self._backend
        try:
            return keyring.get_keyring()
        except Exception as exc:  # a broken backend configuration raises odd things
            raise CredentialError(f"The system keyring could not be opened: {_words(exc)}") from None

    def backend_name(self) -> str:
        try:
            return describe_backend(self.backend())
        except CredentialError as exc:
            return f"unavailable ({exc})"

    def _usable_backend(self):
        backend = self.backend()
        for leaf in _leaves(backend):
            if _class_path(leaf) not in _UNUSABLE_BACKENDS:
                return backend
        raise CredentialError(
            "This computer has no secure key storage (no system keyring is running). "
            "The API key cannot be saved; on Linux start a Secret Service such as GNOME Keyring, "
            f"or set {ENV_API_KEY} for this session."
        )

    def check_usable(self) -> None:
        """:class:`CredentialError` in plain words when this keyring cannot keep a key (before asking for one)."""
        self._usable_backend()

    # -- key operations
    def get(self, origin: str) -> str | None:
        env = os.environ.get(ENV_API_KEY)
        if env and env.strip():
            problem = validate_key(env)
            if problem:
                raise CredentialError(f"The key in {ENV_API_KEY} cannot be used: {_lower_first(problem)}")
            return env.strip()
        import keyring.errors

        backend = self._usable_backend()
        with _lock:
            try:
                stored = backend.get_password(SERVICE, origin)
            except keyring.errors.KeyringLocked:
                raise CredentialError("The system keyring is locked. Unlock it and try again.") from None
            except keyring.errors.KeyringError as exc:
                raise CredentialError(f"The API key could not be read from the keyring: {_words(exc)}") from None
            except Exception as exc:  # D-Bus and OS errors surface as many types
                raise CredentialError(f"The API key could not be read from the keyring: {_words(exc)}") from None
        if stored is not None and not isinstance(stored, str):
            raise CredentialError("The keyring gave back something that is not text for the API key; store it again.")
        if stored:
            problem = validate_key(stored)
            if problem:  # stored by an older version that did not check
                raise CredentialError(f"The API key stored for {origin} cannot be used: {_lower_first(problem)} "
                                      "Store it again (Settings, or 'despatch-desk key set').")
            return stored.strip()
        return stored

    def set(self, origin: str, key: str) -> None:
        key = check_key_format(key)
        import keyring.errors

        backend = self._usable_backend()
        with _lock:
            try:
                backend.set_password(SERVICE, origin, key)
            except keyring.errors.KeyringLocked:
                raise CredentialError("The system keyring is locked. Unlock it and try again.") from None
            except keyring.errors.PasswordSetError as exc:
                raise CredentialError(f"The keyring refused to store the API key: {_words(exc)}") from None
            except Exception as exc:
                raise CredentialError(f"The API key could not be saved in the keyring: {_words(exc)}") from None
            try:
                stored = backend.get_password(SERVICE, origin)
            except Exception:
                stored = None
        if stored != key:
            # A backend that accepts writes and keeps nothing must not fool the operator.
            raise CredentialError("The keyring accepted the API key but did not keep it. The key was not saved.")

    def delete(self, origin: str) -> bool:
        """Remove the stored key; False if there was none."""
        import keyring.errors

        backend = self._usable_backend()
        with _lock:
            try:
                backend.delete_password(SERVICE, origin)
                return True
            except keyring.errors.PasswordDeleteError:
                return False
            except keyring.errors.KeyringLocked:
                raise CredentialError("The system keyring is locked. Unlock it and try again.") from None
            except Exception as exc:
                raise CredentialError(f"The API key could not be removed from the keyring: {_words(exc)}") from None

    def status(self, origin: str) -> KeyStatus:
        env = os.environ.get(ENV_API_KEY, "")
        if env.strip():
            problem = validate_key(env)
            return KeyStatus("environment", self.backend_name(),
                             f"The key in {ENV_API_KEY} cannot be used: {_lower_first(problem)}" if problem else None)
        try:
            key = self.get(origin)
        except CredentialError as exc:
            return KeyStatus(None, self.backend_name(), str(exc))
        return KeyStatus("keyring" if key else None, self.backend_name(), None)


def describe_backend(backend: object) -> str:
    leaves = _leaves(backend)
    if len(leaves) == 1 and leaves[0] is backend:
        return _class_path(backend)
    return f"{_class_path(backend)}[{', '.join(_class_path(b) for b in leaves)}]"


def _leaves(backend: object) -> list[object]:
    inner = getattr(backend, "backends", None)
    if isinstance(inner, (list, tuple)):
        return list(inner)
    return [backend]


def _words(exc: Exception) -> str:
    text = str(exc).strip()
    return text[:200] if text else type(exc).__name__


PROXY_SERVICE = f"{APP_ID}-proxy"


class ProxyPasswords:
    """Company-proxy passwords in the keyring, never in a file: service ``despatch-desk-proxy``, user name
    = the proxy's address with its user (``http://alice@proxy.corp:3128``, as in the ``proxy`` setting)."""

    def __init__(self, keystore: KeyStore | None = None) -> None:
        self._keystore = keystore or KeyStore()

    def get(self, proxy: str) -> str | None:
        backend = self._keystore._usable_backend()
        with _lock:
            try:
                stored = backend.get_password(PROXY_SERVICE, proxy)
            except Exception as exc:  # KeyringError, D-Bus and OS errors
                raise CredentialError(f"the keyring could not be read: {_words(exc)}") from None
        return stored if isinstance(stored, str) and stored else None

    def set(self, proxy: str, password: str) -> None:
        if not password or len(password) > MAX_KEY_LENGTH or any(ch in password for ch in "\r\n\x00"):
            raise CredentialError("A proxy password must be 1 to 1000 characters on one line.")
        backend = self._keystore._usable_backend()
        with _lock:
            try:
                backend.set_password(PROXY_SERVICE, proxy, password)
                kept = backend.get_password(PROXY_SERVICE, proxy) == password
            except Exception as exc:
                raise CredentialError(f"The proxy password could not be saved in the keyring: {_words(exc)}") from None
        if not kept:
            raise CredentialError("The keyring accepted the proxy password but did not keep it. It was not saved.")

    def delete(self, proxy: str) -> bool:
        import keyring.errors

        backend = self._keystore._usable_backend()
        with _lock:
            try:
                backend.delete_password(PROXY_SERVICE, proxy)
                return True
            except keyring.errors.PasswordDeleteError:
                return False
            except Exception as exc:
                raise CredentialError(f"The proxy password could not be removed: {_words(exc)}") from None
