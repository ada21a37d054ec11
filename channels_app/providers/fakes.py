"""The base of the local servers that play a provider's REST API (each provider's `fake.py`):
used by the tests, and importable by the app so a workspace's "test mode" can point a channel at
one. A subclass says who is authorised and how each request is answered, in the provider's own
documented shapes; this class keeps every request it received (like the provider's own log),
plays scripted answers first (`answer_next`: 429 with Retry-After, 5xx, refusals, odd shapes),
and misbehaves on demand after it has read and accepted a send, as a real network does:

- `fault = "slow"`: answers after `fault_s` seconds;
- `fault = "reset"`: drops the connection with a TCP reset instead of answering;
- `fault = "drip"`: sends its answer one byte every `fault_s` seconds.

`answered` counts the answers it finished writing (a client that kept its deadline left first).

With `play_phone` (test mode, `manage.py fake_provider`) it also plays the contact's phone: after
accepting a send it posts the receipts the provider would (`receipts(record, answer)`: sent, then
delivered), authenticated as the provider does, to the status URL the send named."""

from __future__ import annotations

import json
import logging
import socket
import struct
import threading
import time
import urllib.parse
import urllib.request
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeServer:
    """Subclass: `authorised(record)`, `unauthorised()`, `route(record)`; each returns or takes a
    record dict {method, path, headers (lower-case), body (bytes), json}."""

    def __init__(self, *, port: int = 0, play_phone: bool = False, receipt_delay_s: float = 1.0):
        self.play_phone = play_phone
        self.webhook_origin = ""  # when set, receipts go to this origin instead of the named URL's
        self.receipt_delay_s = receipt_delay_s
        self.requests: list[dict] = []
        self.script: deque = deque()  # (status, headers, body bytes), answered to sends in order
        self.fault = ""
        self.fault_s = 2.0
        self.answered = 0
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status: int, headers: dict, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    parsed = json.loads(raw) if raw else None
                except ValueError:
                    parsed = None
                record = {
                    "method": method,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": raw,
                    "json": parsed,
                }
                try:
                    if not fake.authorised(record):
                        self._answer(*fake.unauthorised())
                        return
                    sending = method == "POST"
                    with fake.lock:
                        fake.requests.append(record)
                        scripted = fake.script.popleft() if (sending and fake.script) else None
                    if sending and fake.fault:
                        self._misbehave(record)
                        return
                    answer = scripted or fake.route(record)
                    self._answer(*answer)
                    with fake.lock:
                        fake.answered += 1
                    if sending and fake.play_phone and 200 <= answer[0] < 300:
                        threading.Thread(
                            target=fake._post_receipts, args=(record, answer[2]), daemon=True
                        ).start()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the caller left while we answered

            def do_GET(self):
                self._handle("GET")

            def do_POST(self):
                self._handle("POST")

            def _misbehave(self, record: dict) -> None:
                if fake.fault == "slow":
                    time.sleep(fake.fault_s)
                    self._answer(*fake.route(record))
                    with fake.lock:
                        fake.answered += 1
                elif fake.fault == "reset":  # SO_LINGER 0: close() sends RST, not FIN
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                    self.wfile = open("/dev/null", "wb")  # nothing left to flush
                elif fake.fault == "drip":
                    status, _, body = fake.route(record)
                    head = (
                        f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
                        f"Content-Length: {len(body)}\r\n\r\n"
                    )
                    for byte in head.encode() + body:
                        time.sleep(fake.fault_s)
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                    self.close_connection = True
                    with fake.lock:
                        fake.answered += 1

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    # --- what a subclass decides -------------------------------------------------------------

    def authorised(self, record: dict) -> bool:
        return True

    def unauthorised(self) -> tuple[int, dict, bytes]:
        return 401, {}, b'{"error": "unauthorised"}'

    def route(self, record: dict) -> tuple[int, dict, bytes]:
        return 404, {}, b"{}"

    def receipts(self, record: dict, answer: bytes) -> list[tuple[str, bytes, dict]]:
        """(url, body, headers) of the webhooks the provider posts after accepting this send."""
        return []

    def _post_receipts(self, record: dict, answer: bytes) -> None:
        for url, body, headers in self.receipts(record, answer):
            if self.webhook_origin:  # the app listens elsewhere than its public URL says (tests)
                parts = urllib.parse.urlsplit(url)
                url = (
                    self.webhook_origin.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
                )
            time.sleep(self.receipt_delay_s)
            request = urllib.request.Request(
                url, data=body, headers={"Content-Type": "application/json", **headers}, method="POST"
            )
            try:
                urllib.request.urlopen(request, timeout=5).read()  # noqa: S310 (the app's own webhook URL)
            except OSError as exc:
                logging.getLogger(__name__).warning("fake receipt to %s failed: %s", url, exc)

    # --- driving it --------------------------------------------------------------------------

    def start(self):
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer_next(self, status: int, body: bytes | dict | list, headers: dict | None = None) -> None:
        """The next send gets this answer instead of the documented success."""
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.script.append((status, headers or {}, raw))

    def sends(self) -> list[dict]:
        """The JSON bodies of the POSTs it received, in order."""
        return [r["json"] for r in self.requests if r["method"] == "POST"]

    @staticmethod
    def reply(status: int, body: dict | list, headers: dict | None = None) -> tuple[int, dict, bytes]:
        return status, headers or {}, json.dumps(body).encode()
