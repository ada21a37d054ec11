"""A local server that plays Meta's Graph API for the WhatsApp Cloud API adapter: bearer-token
auth (error 190), appsecret_proof (error 100), the phone number, its account's numbers and
templates, and POST /<phone-number-id>/messages answered with Meta's shapes (fixtures/, each
with its source in fixtures/SOURCES.md). Used by the tests and by `make run`'s test mode
(`manage.py fake_provider meta --webhook-url <callback URL>`), where it also plays the contact's phone: each accepted message gets
signed `sent` and `delivered` status webhooks, as Meta sends them, at `webhook_url`.

It keeps every request, like Meta's own log. `script` answers the next sends in order (status,
headers, body); `fault` misbehaves after reading a send, as a real network does: "slow" answers
after `fault_s`, "reset" drops the connection with a TCP reset."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import socket
import struct
import threading
import time
import urllib.parse
import urllib.request
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"
ACCESS_TOKEN = "EAAG-fake-system-user-token-0123456789"
APP_SECRET = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"
DISPLAY_NUMBER = "+15550001234"


def credentials() -> dict:
    """What to type into the channel form to use the fake (`manage.py fake_provider meta`)."""
    return {
        "access_token": ACCESS_TOKEN,
        "app_secret": APP_SECRET,
        "phone_number_id": PHONE_NUMBER_ID,
        "waba_id": WABA_ID,
        "number": DISPLAY_NUMBER,
    }


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def signature(body: bytes, secret: str = APP_SECRET) -> str:
    """The X-Hub-Signature-256 header Meta puts on a webhook POST."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def status_webhook(
    wamid: str, status: str, *, reference: str = "", at: int | None = None, error: dict | None = None
) -> bytes:
    """A status webhook body from the fixture, for one message."""
    body = json.loads(fixture("webhook_status.json"))
    entry = body["entry"][0]["changes"][0]["value"]["statuses"][0]
    entry.update(id=wamid, status=status, timestamp=str(at if at is not None else int(time.time())))
    entry["biz_opaque_callback_data"] = reference
    if error:
        entry["errors"] = [error]
        entry.pop("pricing", None)
    return json.dumps(body).encode()


class FakeGraph:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, webhook_url: str = ""):
        self.requests: list[dict] = []
        self.script: deque = deque()
        self.fault = ""
        self.fault_s = 2.0
        self.webhook_url = webhook_url  # where to post status webhooks ("" = none)
        self.receipt_delay_s = 0.3
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status: int, body: bytes, headers: dict | None = None):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _authorised(self, query: dict) -> bool:
                if self.headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
                    self._answer(401, fixture("error_190.json"))
                    return False
                proof = query.get("appsecret_proof")
                expected = hmac.new(APP_SECRET.encode(), ACCESS_TOKEN.encode(), hashlib.sha256).hexdigest()
                if proof is not None and not hmac.compare_digest(proof, expected):
                    self._answer(400, fixture("error_appsecret_proof.json"))
                    return False
                return True

            def do_GET(self):
                parts = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(parts.query))
                if not self._authorised(query):
                    return
                path = parts.path.split("/", 2)[-1]  # drop /<version>/
                if path == PHONE_NUMBER_ID:
                    self._answer(200, fixture("phone_number.json"))
                elif path == f"{WABA_ID}/phone_numbers":
                    self._answer(200, fixture("phone_numbers.json"))
                elif path == f"{WABA_ID}/message_templates":
                    body = json.loads(fixture("message_templates.json"))
                    body["paging"].pop("next", None)  # one page
                    self._answer(200, json.dumps(body).encode())
                elif path == WABA_ID:
                    self._answer(200, json.dumps({"name": "Demo Bank", "id": WABA_ID}).encode())
                else:
                    self._answer(
                        400,
                        json.dumps(
                            {
                                "error": {
                                    "message": f"Unsupported get request. Object with ID '{path}' does not exist",
                                    "type": "GraphMethodException",
                                    "code": 100,
                                }
                            }
                        ).encode(),
                    )

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not self._authorised({}):
                    return
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                record = {"path": urllib.parse.urlsplit(self.path).path, "body": body}
                with fake.lock:
                    fake.requests.append(record)
                    scripted = fake.script.popleft() if fake.script else None
                try:
                    if fake.fault == "slow":
                        time.sleep(fake.fault_s)
                    elif fake.fault == "reset":  # SO_LINGER 0: close() sends RST, not FIN
                        self.connection.setsockopt(
                            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                        )
                        self.connection.close()
                        self.close_connection = True
                        self.wfile = open("/dev/null", "wb")
                        return
                    if scripted is not None:
                        status, headers, answer = scripted
                        self._answer(status, answer, headers)
                        return
                    if not record["path"].endswith(f"/{PHONE_NUMBER_ID}/messages") or not isinstance(
                        body, dict
                    ):
                        self._answer(
                            400,
                            json.dumps(
                                {
                                    "error": {
                                        "message": "(#100) Invalid parameter",
                                        "type": "OAuthException",
                                        "code": 100,
                                    }
                                }
                            ).encode(),
                        )
                        return
                    answer = json.loads(fixture("send_ok.json"))
                    wamid = "wamid." + secrets.token_urlsafe(36)
                    answer["messages"][0]["id"] = wamid
                    answer["contacts"][0].update(
                        input=body.get("to", ""), wa_id=str(body.get("to", "")).lstrip("+")
                    )
                    record["wamid"] = wamid
                    self._answer(200, json.dumps(answer).encode())
                    if fake.webhook_url:
                        threading.Thread(target=fake._receipts, args=(wamid, body), daemon=True).start()
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def _receipts(self, wamid: str, body: dict) -> None:
        """Play the contact's phone: `sent`, then `delivered`, signed as Meta signs them."""
        for status in ("sent", "delivered"):
            time.sleep(self.receipt_delay_s)
            payload = status_webhook(wamid, status, reference=str(body.get("biz_opaque_callback_data", "")))
            request = urllib.request.Request(
                self.webhook_url,
                data=payload,
                headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature(payload)},
            )
            try:
                urllib.request.urlopen(request, timeout=5).read()  # noqa: S310 (a local test URL)
            except OSError:
                pass

    def start(self) -> FakeGraph:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer_next(self, status: int, fixture_name: str, headers: dict | None = None) -> None:
        self.script.append((status, headers or {}, fixture(fixture_name)))

    def sends(self) -> list[dict]:
        return [r["body"] for r in self.requests if r["path"].endswith("/messages")]
