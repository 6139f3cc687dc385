"""Where a webhook may be sent.

In production a receiver must resolve to public addresses only: private,
loopback, link-local, multicast, reserved and unspecified addresses are
refused after DNS resolution, and the connection goes to the very address
that was checked (so a second, different DNS answer cannot slip through).
Outside production, loopback and private receivers are allowed (local tests
and development), link-local ones (cloud metadata) never are.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _

from ..config import production_smoke_test

MAX_URL = 2000


class UnsafeURL(ValueError):
    """The URL cannot receive webhooks; the message says why, for people."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # the name, for Host and TLS (SNI, certificate check)
    port: int
    path: str  # path and query
    ip: str  # the checked address to connect to

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        return name if self.port == default else f"{name}:{self.port}"


def production() -> bool:
    # The CI smoke test (production settings on loopback) posts to a local receiver.
    config = current_app.config
    return config.get("LATCHKEY_ENV") == "production" and not production_smoke_test(config)


def address_refused(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, strict: bool) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_link_local or ip.is_multicast or ip.is_unspecified:
        return True
    if not strict:
        return False
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_reserved
        or not ip.is_global
        or (isinstance(ip, ipaddress.IPv6Address) and ip.sixtofour is not None)
        or (isinstance(ip, ipaddress.IPv6Address) and ip.teredo is not None)
    )


def parse(url: str) -> tuple[str, str, int, str]:
    """Check the URL's form; return (scheme, host, port, path)."""
    url = (url or "").strip()
    if not url or len(url) > MAX_URL:
        raise UnsafeURL(_("Enter a full web address starting with https://."))
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeURL(_("Enter a full web address starting with https://.")) from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise UnsafeURL(_("Enter a full web address starting with https://."))
    if parts.username or parts.password:
        raise UnsafeURL(_("Remove the user name and password from the address."))
    if any(ord(c) < 33 for c in url):
        raise UnsafeURL(_("The address cannot contain spaces or control characters."))
    host = parts.hostname
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80), path


def resolve(url: str, strict: bool | None = None) -> Target:
    """Check `url` and resolve it to one address allowed to receive webhooks.

    `strict` (production by default) refuses every non-public address; every
    address the name resolves to must pass, or the URL is refused.
    """
    strict = production() if strict is None else strict
    scheme, host, port, path = parse(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, OSError):
        raise UnsafeURL(_("The address %(host)s could not be found (DNS).", host=host)) from None
    addresses = []
    for info in infos:
        try:
            addresses.append(ipaddress.ip_address(info[4][0].split("%", 1)[0]))
        except ValueError:
            continue
    if not addresses:
        raise UnsafeURL(_("The address %(host)s could not be found (DNS).", host=host))
    for address in addresses:
        if address_refused(address, strict):
            raise UnsafeURL(
                _(
                    "%(host)s points to a private or reserved network address; "
                    "webhooks go to public addresses only.",
                    host=host,
                )
            )
    return Target(scheme, host, port, path, str(addresses[0]))


def check_url(url: str) -> str:
    """Validate a URL given by a person (form or API); return it stripped.

    In production the name is resolved and checked now too (and again at
    every delivery, since DNS answers change).
    """
    url = (url or "").strip()
    if production():
        resolve(url, strict=True)
    else:
        parse(url)
    return url
