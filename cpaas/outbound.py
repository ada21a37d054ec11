"""Outbound HTTP to addresses that users configure (a journey's webhook URL, a channel's provider
API base): the one check against server-side request forgery, shared by every app.

The host is resolved at call time and every address it resolves to must be globally routable
(not private, shared 100.64/10, loopback, link-local, unique-local, multicast, reserved or
unspecified); an IPv6 form that embeds an IPv4 address is judged by the IPv4 inside it (6to4,
NAT64, IPv4-mapped), and Teredo, NAT64 local-use, IPv4-compatible and IPv4-translated
addresses are refused outright. Networks in the caller's allowlist pass (tests allow
127.0.0.1). The connection then goes to the address that was checked (`PinnedHTTP(S)`), so a
rebinding DNS cannot answer differently the second time."""

from __future__ import annotations

import http.client
import ipaddress
import socket
import urllib.parse


class Refused(Exception):
    """The URL may not be called (scheme, or an address that is not public)."""


# A host may route these IPv6 forms to the IPv4 inside them (a 6to4 or NAT64 gateway, a
# dual-stack socket); Python's is_global calls 6to4 global even when it wraps 127.0.0.1.
NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")  # DNS64 answers these on IPv6-only hosts
# Refused whatever they carry: NAT64's local-use prefix (RFC 8215, never global; its layout hides
# the IPv4 around the u-octet), Teredo (relayed, its client IPv4 obfuscated), IPv4-compatible
# (deprecated by RFC 4291) and IPv4-translated (SIIT) addresses.
ALWAYS_REFUSED_V6 = [
    ipaddress.ip_network(n) for n in ("64:ff9b:1::/48", "2001::/32", "::/96", "::ffff:0:0:0/96")
]


def is_public(ip) -> bool:
    """Globally routable (IANA's special-purpose ranges excluded) and not multicast; an IPv6
    address that embeds an IPv4 address is judged by that IPv4 address too."""
    if ip.version == 6:
        if any(ip in net for net in ALWAYS_REFUSED_V6):
            return False
        if ip.ipv4_mapped is not None:
            return is_public(ip.ipv4_mapped)
        if ip in NAT64_WELL_KNOWN:
            return is_public(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if ip.sixtofour is not None and not is_public(ip.sixtofour):
            return False
    special = ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
    return ip.is_global and not special and not ip.is_unspecified


def networks(cidrs) -> list:
    return [ipaddress.ip_network(n, strict=False) for n in cidrs or []]


def literal_problem(url: str, *, allowed: list) -> str | None:
    """What is wrong with a URL before any lookup (for a form: scheme, a private IP literal,
    localhost), or None. Host names are checked when called, by `resolve_checked`."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "Must be an http:// or https:// URL."
    host = parts.hostname.rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return f"{parts.hostname} is this machine: only public addresses may be called."
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    if not is_public(ip) and not any(ip in net for net in allowed):
        return f"{ip} is a private, loopback or link-local address: only public addresses may be called."
    return None


def resolve_checked(url: str, *, allowed: list, setting: str) -> tuple[str, int, str]:
    """(host, port, the address to connect to) for an http(s) URL whose host resolves only to
    addresses that may be called; Refused otherwise (`setting` names the allowlist to extend)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused(f"refused: only http and https URLs can be called ({url[:80]})")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise Refused(f"refused: {exc} ({url[:80]})") from None
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise Refused(f"could not resolve {parts.hostname}: {exc}") from exc
    addresses = []
    for info in infos:
        ip = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if not is_public(ip) and not any(ip in net for net in allowed):
            raise Refused(
                f"refused: {parts.hostname} resolves to {ip}, a private, loopback or link-local address "
                f"(allow it with {setting})"
            )
        addresses.append(str(ip))
    return parts.hostname, port, addresses[0]


class PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to `address` (checked) for a URL naming `host`."""

    def __init__(self, *args, address: str, **kwargs):
        super().__init__(*args, **kwargs)
        self._address = address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout, self.source_address)


class PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, *args, address: str, **kwargs):
        super().__init__(*args, **kwargs)
        self._address = address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout, self.source_address)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # the name is still verified
