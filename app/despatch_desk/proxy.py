"""Which proxy the SortedPRO client goes through: decided by the desk, never silently by the environment.

The ``proxy`` setting is ``system`` (the default), ``none`` or ``http://[USER@]HOST:PORT``;
``DESPATCH_DESK_PROXY`` overrides it for a session, as ``DESPATCH_DESK_API_URL`` overrides the address.
``system`` means what :func:`urllib.request.getproxies` reads: ``HTTPS_PROXY``/``ALL_PROXY`` on every OS,
else the Windows registry (Internet Options) or macOS System Configuration; ``NO_PROXY`` and the OS
bypass list apply through :func:`urllib.request.proxy_bypass`. httpx itself runs with
``trust_env=False``: this module is the only place a proxy comes from, and :meth:`ProxyRoute.describe`
says which one is in use.

Rules: loopback is never proxied, and plain http (loopback only) never goes through a proxy. HTTPS goes
through the proxy as a CONNECT tunnel: the proxy sees ``CONNECT host:port`` and ciphertext, never the key.
Proxy credentials: the user name in the setting (``http://alice@proxy.corp:3128``), the password in the
keyring (:class:`~despatch_desk.credentials.ProxyPasswords`), never in a file; from the environment
(``HTTPS_PROXY=http://alice:pw@…``) they are used as given. Addresses are shown without any password.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

from .errors import EXIT_USAGE, DeskError

log = logging.getLogger("despatch_desk.proxy")

ENV_PROXY = "DESPATCH_DESK_PROXY"  # the same name settings.py reads
FROM_SETTING = "setting"
REFUSED_407 = "the company proxy refused the desk: proxy credentials needed or wrong"


class ProxyProblem(DeskError):
    """The proxy cannot be used as configured (a password in the settings file, a SOCKS proxy, ...)."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True, slots=True)
class ProxyRoute:
    """The proxy decision for one API address. ``url`` is None when calls go direct (``direct_because``)."""

    setting: str                     # "system", "none" or the address asked for (shown without password)
    source: str = FROM_SETTING       # FROM_SETTING or ENV_PROXY
    url: str | None = None           # http://host:port of the proxy in use, without credentials
    direct_because: str = ""
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def shown(self) -> str:
        """The proxy in use as it may be shown: the user name at most, never a password."""
        if self.url is None:
            return "none"
        if not self.username:
            return self.url
        scheme, rest = self.url.split("://", 1)
        return f"{scheme}://{quote(self.username, safe='')}@{rest}"

    @property
    def via(self) -> str:
        """`` through the proxy http://…`` for a sentence about a call, or nothing when direct."""
        return f" through the proxy {self.shown}" if self.url else ""

    @property
    def auth(self) -> tuple[str, str] | None:
        return (self.username, self.password or "") if self.url and self.username else None

    def describe(self) -> str:
        """``Proxy: system (http://proxy.corp:3128)``, ``Proxy: none``, ``Proxy: DESPATCH_DESK_PROXY=…``."""
        text = f"Proxy: {ENV_PROXY}={self.setting}" if self.source == ENV_PROXY else f"Proxy: {self.setting}"
        if self.setting == "system" and self.url:
            text += f" ({self.shown})"
        if self.url is None and self.direct_because and self.setting != "none":
            text += f" (direct: {self.direct_because})"
        return text

    def refused_words(self, detail: str, origin: str) -> str:
        """Plain words for a proxy that would not open the tunnel (``detail``: httpcore's ``"407 …"``)."""
        status = detail.split(" ", 1)[0]
        status = status if status.isdigit() else "?"
        if status == "407":
            if not self.username:
                hint = (" Set the proxy to http://USER@HOST:PORT and store the password in the keyring "
                        "(README: Behind a company proxy).")
            elif not self.password:
                hint = f" No password is stored in the keyring for {self.shown}."
            else:
                hint = f" Check the user name and the password stored for {self.shown}."
            return f"The request to {origin} was not sent: {REFUSED_407} (HTTP 407).{hint}"
        # The proxy's own reason phrase is not repeated: a hostile proxy could echo credentials in it.
        return (f"The company proxy {self.shown} would not connect the desk to {origin} (HTTP {status}). "
                "Nothing was sent.")


def choose(setting: str | None) -> tuple[str, str]:
    """(the proxy setting in force, where it comes from): ``DESPATCH_DESK_PROXY`` wins over the setting."""
    override = os.environ.get(ENV_PROXY, "").strip()
    if override:
        return override, ENV_PROXY
    return (setting or "system").strip() or "system", FROM_SETTING


def is_loopback(host: str | None) -> bool:
    """``localhost`` or a loopback IP: never proxied, and the only place plain http may go."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def route_for(base_url: str, setting: str | None = None, *, passwords: object | None = None) -> ProxyRoute:
    """The route the client takes to ``base_url`` for this proxy ``setting`` (None: ``system``).

    ``passwords``: where a proxy password for ``http://USER@HOST:PORT`` is looked up (default: the
    keyring). Raises :class:`ProxyProblem` in plain words when the proxy cannot be used."""
    value, source = choose(setting)
    lowered = value.lower()
    target = urlsplit(base_url)
    host = target.hostname or ""
    explicit = None if lowered in ("system", "none") else _parse(value, in_file=source == FROM_SETTING)
    shown_setting = lowered if explicit is None else _shown(explicit)
    if is_loopback(host) or target.scheme != "https":
        return ProxyRoute(shown_setting, source, direct_because=f"{host} is this computer; loopback is never proxied")
    if lowered == "none":
        return ProxyRoute("none", source, direct_because="set to none")
    if explicit is None:  # system
        found = _system_proxy(host)
        if isinstance(found, str):
            return ProxyRoute("system", source, direct_because=found)
        explicit = found
    url, username, password = explicit
    if username and password is None:
        password = _stored_password(_entry_name(url, username),
                                    passwords)
    return ProxyRoute(shown_setting, source, url=url, username=username, password=password)


def describe_setting(setting: str | None) -> str:
    """What the Settings page shows before any call: the setting in force and, for ``system``, the OS
    proxy for HTTPS (the bypass list is applied per call, by :func:`route_for`)."""
    value, source = choose(setting)
    if source == ENV_PROXY and value.lower() not in ("system", "none"):
        try:
            value = _shown(_parse(value, in_file=False))
        except ProxyProblem:
            value = "(not usable)"
        return f"Proxy: {ENV_PROXY}={value}"
    head = f"Proxy: {ENV_PROXY}=" if source == ENV_PROXY else "Proxy: "
    if value.lower() == "none":
        return f"{head}none"
    if value.lower() == "system":
        proxies = _getproxies()
        found = proxies.get("https") or proxies.get("all")
        if not found:
            return f"{head}system (none set: direct)"
        try:
            return f"{head}system ({_shown(_parse(found, in_file=False))})"
        except ProxyProblem:
            return f"{head}system (not usable: not an http:// proxy)"
    try:
        return f"Proxy: {_shown(_parse(value, in_file=True))}"
    except ProxyProblem as exc:
        return f"Proxy: not usable: {exc.message}"


# --------------------------------------------------------------------------- helpers


def _getproxies() -> dict[str, str]:
    try:
        return {k.lower(): v for k, v in urllib.request.getproxies().items() if v}
    except Exception as exc:  # a broken registry entry or System Configuration call
        log.warning("the system proxy settings could not be read: %s", type(exc).__name__)
        return {}


def _system_proxy(host: str) -> tuple[str, str | None, str | None] | str:
    """The OS proxy for HTTPS to ``host`` as (url, user, password), or why there is none."""
    proxies = _getproxies()
    found = proxies.get("https") or proxies.get("all")
    if not found:
        return "no system proxy is set"
    try:
        bypass = bool(urllib.request.proxy_bypass(host))
    except Exception:  # a bypass list the OS cannot evaluate: the proxy is used
        bypass = False
    if bypass:
        return f"NO_PROXY or the system's bypass list covers {host}"
    return _parse(found, in_file=False)


def _parse(text: str, *, in_file: bool) -> tuple[str, str | None, str | None]:
    """(``http://host:port``, user, password) from a proxy address, or :class:`ProxyProblem`."""
    text = text.strip()
    raw = text if "://" in text else f"http://{text}"  # the registry and some users omit the scheme
    shown = _without_password(raw)
    try:
        parts = urlsplit(raw)
        port = parts.port or 80
        host = parts.hostname
    except ValueError:
        raise ProxyProblem(f"The proxy address {shown} is not usable: it must look like http://proxy.example:3128.") from None
    if parts.scheme.lower().startswith("socks"):
        raise ProxyProblem(f"The proxy {shown} is a SOCKS proxy; the desk uses HTTP proxies only "
                           "(set proxy to an http:// address, or to none).")
    if parts.scheme.lower() == "https":
        raise ProxyProblem(f"The proxy {shown} is an https:// proxy; the desk talks to proxies over http:// "
                           "(the tunnel to SortedPRO inside is HTTPS either way). Use http://HOST:PORT.")
    if parts.scheme.lower() != "http" or not host or parts.query or parts.fragment or parts.path not in ("", "/"):
        raise ProxyProblem(f"The proxy address {shown} is not usable: it must look like http://proxy.example:3128.")
    if parts.password is not None and in_file:
        raise ProxyProblem("The proxy setting holds a password: passwords never go in the settings file. Set proxy "
                           "to http://USER@HOST:PORT and store the password in the keyring "
                           "(README: Behind a company proxy).")
    host_part = f"[{host}]" if ":" in host else host
    return (f"http://{host_part.lower()}:{port}", unquote(parts.username) if parts.username else None,
            unquote(parts.password) if parts.password is not None else None)


def _entry_name(url: str, username: str) -> str:
    """The keyring user name of a proxy password: ``http://USER@host:port`` (normalised)."""
    scheme, _, hostport = url.partition("://")
    return f"{scheme}://{quote(username, safe='')}@{hostport}"


def password_entry(address: str) -> str:
    """Where the password of the proxy ``address`` (``http://USER@HOST:PORT``) is kept in the keyring;
    :class:`ProxyProblem` in plain words when the address is not usable or names no user."""
    url, username, _password = _parse(address, in_file=False)
    if not username:
        raise ProxyProblem(f"The proxy address {_without_password(address)} names no user: write it as "
                           "http://USER@HOST:PORT.")
    return _entry_name(url, username)


def _without_password(raw: str) -> str:
    """An address as it may appear in words: userinfo cut to the user name."""
    scheme, sep, rest = raw.partition("://")
    userinfo, at, hostport = rest.rpartition("@")
    if not at:
        return raw[:200]
    return f"{scheme}{sep}{userinfo.split(':', 1)[0]}@{hostport}"[:200]


def _shown(parsed: tuple[str, str | None, str | None]) -> str:
    return ProxyRoute("", url=parsed[0], username=parsed[1]).shown


def _stored_password(proxy: str, passwords: object | None) -> str | None:
    from .credentials import CredentialError, ProxyPasswords

    store = passwords if passwords is not None else ProxyPasswords()
    try:
        return store.get(proxy)  # type: ignore[attr-defined]
    except CredentialError as exc:
        raise ProxyProblem(f"The password for the proxy {proxy} could not be read: {exc}") from None
