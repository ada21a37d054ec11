"""One HTTP call for provider adapters, with a total deadline and an honest account of failure.

A socket timeout bounds each read, not the call: a server that drips its headers a byte at a
time keeps a per-read timeout happy for ever. Here a watchdog shuts the socket down when the
deadline passes, whatever the call is doing. And a failure says which side of the line it fell:
`NotSent` (no connection, or the request was not fully written: the provider cannot have acted
on it, so it may be sent again) or `Ambiguous` (the request was written and the answer is lost:
the provider may have accepted it). The address is checked first (`cpaas.outbound`): a URL whose
host is not public is refused as `NotSent`, and the connection goes to the checked address."""

from __future__ import annotations

import http.client
import socket
import threading
import time
import urllib.parse

from django.conf import settings

from cpaas import outbound


class NotSent(Exception):
    """The request did not reach the provider whole: safe to send again."""


class Refused(NotSent):
    """The URL's host is not a public address (SSRF): not sent, and asking again changes nothing."""


class Ambiguous(Exception):
    """The request reached the provider, the answer did not reach us."""


def _shut(conn: http.client.HTTPConnection) -> None:
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def call(
    method: str, url: str, *, headers: dict[str, str], body: bytes | None, deadline: float
) -> tuple[int, dict[str, str], bytes]:
    """(status, headers, body) of one request that is over by `deadline` (time.monotonic())."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise NotSent("no time left for the call")
    parts = urllib.parse.urlsplit(url)
    try:  # a channel's API base is typed by a workspace admin: public addresses only (SSRF)
        _, _, address = outbound.resolve_checked(
            url,
            allowed=outbound.networks(settings.CHANNELS_PROVIDER_ALLOWED_NETWORKS),
            setting="CHANNELS_PROVIDER_ALLOWED_NETWORKS",
        )
    except outbound.Refused as exc:
        raise Refused(str(exc)) from None
    cls = outbound.PinnedHTTPS if parts.scheme == "https" else outbound.PinnedHTTP
    conn = cls(parts.hostname, parts.port, timeout=remaining, address=address)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    watchdog = threading.Timer(remaining, _shut, [conn])
    watchdog.daemon = True
    watchdog.start()
    written = False
    try:
        try:
            conn.request(method, path, body=body, headers=headers)
            written = True
            response = conn.getresponse()
            data = response.read()
            return response.status, dict(response.getheaders()), data
        except (OSError, http.client.HTTPException) as exc:
            late = time.monotonic() >= deadline
            reason = "no complete answer within the deadline" if late else (str(exc) or type(exc).__name__)
            if not written:
                raise NotSent(reason) from None
            raise Ambiguous(reason) from None
    finally:
        watchdog.cancel()
        conn.close()
