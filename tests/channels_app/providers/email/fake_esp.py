"""Local HTTP servers that play Mailgun's and Postmark's sending APIs for the email adapters:
their authentication, request shapes and answers (payloads/, from their docs: SOURCES.md), and
scripted answers (429, 5xx, refusals) or a slow answer. Each keeps every request it received,
parsed (Mailgun: the multipart form; Postmark: the JSON), like the ESP's own activity log."""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
import uuid
from collections import deque
from email import message_from_bytes
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PAYLOADS = Path(__file__).parent / "payloads"
MAILGUN_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
MAILGUN_SIGNING_KEY = "c0a1b2c3d4e5f60718293a4b5c6d7e8f"
POSTMARK_TOKEN = "server-token-6c3bd2c1-0000-4000-8000-000000000001"
DOMAIN = "mail.demobank.example"


def payload(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def _form(content_type: str, raw: bytes) -> dict:
    """Mailgun's form (urlencoded, or multipart/form-data with attachments) as {field: [values]}."""
    if content_type.startswith("application/x-www-form-urlencoded"):
        return urllib.parse.parse_qs(raw.decode(), keep_blank_values=True)
    message = message_from_bytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw, policy=HTTP)
    fields: dict[str, list[str]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        fields.setdefault(name, []).append(
            part.get_content() if part.get_content_maintype() == "text" else ""
        )
    return fields


class FakeESP:
    def __init__(self, esp: str):
        assert esp in ("mailgun", "postmark")
        self.esp = esp
        self.requests: list[dict] = []
        self.script: deque = deque()  # (status, headers, body bytes), then successes
        self.slow_s = 0.0  # answer this late (after reading and accepting the request)
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status, headers, body):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _authorised(self) -> bool:
                if fake.esp == "mailgun":
                    good = (
                        self.headers.get("Authorization")
                        == "Basic " + base64.b64encode(f"api:{MAILGUN_KEY}".encode()).decode()
                    )
                    if not good:
                        self._answer(401, {"Content-Type": "text/plain"}, b"Forbidden")
                    return good
                good = self.headers.get("X-Postmark-Server-Token") == POSTMARK_TOKEN
                if not good:
                    self._answer(
                        401,
                        {},
                        b'{"ErrorCode": 10, "Message": "The Server Token you provided in the X-Postmark-Server-Token request header was invalid."}',
                    )
                return good

            def do_GET(self):
                if not self._authorised():
                    return
                if fake.esp == "mailgun" and self.path == f"/v3/domains/{DOMAIN}":
                    self._answer(200, {}, payload("mailgun_domain.json"))
                elif fake.esp == "mailgun" and self.path.startswith("/v3/domains/"):
                    self._answer(404, {}, b'{"message": "Domain not found"}')
                elif fake.esp == "postmark" and self.path == "/server":
                    self._answer(200, {}, payload("postmark_server.json"))
                else:
                    self._answer(404, {}, b'{"message": "Not found"}')

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not self._authorised():
                    return
                if fake.esp == "mailgun":
                    record = {"path": self.path, "form": _form(self.headers["Content-Type"], raw)}
                else:
                    record = {"path": self.path, "json": json.loads(raw)}
                with fake.lock:
                    fake.requests.append(record)
                    scripted = fake.script.popleft() if fake.script else None
                try:
                    if fake.slow_s:
                        time.sleep(fake.slow_s)
                    if scripted is not None:
                        self._answer(*scripted)
                    elif fake.esp == "mailgun" and self.path == f"/v3/{DOMAIN}/messages":
                        body = json.loads(payload("mailgun_send_ok.json"))
                        body["id"] = f"<{uuid.uuid4().hex}@{DOMAIN}>"
                        self._answer(200, {}, json.dumps(body).encode())
                    elif fake.esp == "postmark" and self.path == "/email":
                        body = json.loads(payload("postmark_send_ok.json"))
                        body["MessageID"], body["To"] = str(uuid.uuid4()), record["json"]["To"]
                        self._answer(200, {}, json.dumps(body).encode())
                    else:
                        self._answer(404, {}, b'{"message": "Not found"}')
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> FakeESP:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer_next(self, status: int, body: bytes | str, headers: dict | None = None) -> None:
        if isinstance(body, str):
            body = payload(body)
        self.script.append((status, headers or {}, body))
