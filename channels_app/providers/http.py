"""One HTTP call for provider adapters, with a total deadline and an honest account of failure.

A socket timeout bounds each read, not the call: a server that drips its headers a byte at a
time keeps a per-read timeout happy for ever. Here a watchdog shuts the socket down when the
deadline passes, whatever the call is doing. And a failure says which side of the line it fell:
`NotSent` (no connection, or the request was not fully written: the provider cannot have acted
on it, so it may be sent again) or `Ambiguous` (the request was written and the answer is lost:
the provider may have accepted it)."""

from __future__ import annotations

import http.client
import socket
import threading
import time
import urllib.parse


class NotSent(Exception):
    """The request did not reach the provider whole: safe to send again."""


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
    cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = cls(parts.hostname, parts.port, timeout=remaining)
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
