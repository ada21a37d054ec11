"""A local HTTP server that plays Twilio's REST API for the adapter under test: basic auth,
form-encoded Messages and Calls, Twilio's JSON answers (recorded in payloads/), and scripted
429 / 5xx answers. It keeps every request it received, like Twilio's own message log.

`fault` makes it misbehave after it has read (and accepted) a message, as a real network does:
"slow" answers after `fault_s`; "reset" drops the connection with a TCP reset instead of
answering; "drip" sends its answer one byte every `fault_s`. `answered` counts answers it
finished writing (a client that kept its deadline left before that)."""

from __future__ import annotations

import json
import secrets
import socket
import struct
import threading
import time
import urllib.parse
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PAYLOADS = Path(__file__).parent / "payloads"
ACCOUNT_SID = "AC00000000000000000000000000000001"
AUTH_TOKEN = "f0a1b2c3d4e5f60718293a4b5c6d7e8f"


def payload(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


class FakeTwilio:
    def __init__(self):
        self.requests: list[dict] = []
        self.script: deque = deque()  # (status, headers, body bytes) answered in order, then 201s
        self.on_request = None  # called with each request record before the answer
        self.fault = ""  # "slow" | "reset" | "drip"
        self.fault_s = 2.0
        self.answered = 0
        self.lookups: list[str] = []  # GETs of a message resource
        self.resource_status = "delivered"  # what a GET of a message resource says
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
                import base64

                expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
                if self.headers.get("Authorization") == expected:
                    return True
                self._answer(
                    401, {}, json.dumps({"code": 20003, "message": "Authenticate", "status": 401}).encode()
                )
                return False

            def do_GET(self):
                if not self._authorised():
                    return
                messages = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/"
                if self.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}.json":
                    self._answer(200, {}, payload("account.json"))
                elif self.path.startswith(f"/2010-04-01/Accounts/{ACCOUNT_SID}/IncomingPhoneNumbers.json"):
                    # shape of https://www.twilio.com/docs/phone-numbers/api/incomingphonenumber-resource
                    self._answer(200, {}, payload("incoming_phone_numbers.json"))
                elif self.path.startswith(messages) and self.path.endswith(".json"):
                    fake.lookups.append(self.path)
                    body = json.loads(payload("message_created.json"))
                    body["sid"] = self.path[len(messages) : -len(".json")]
                    body["status"] = fake.resource_status
                    self._answer(200, {}, json.dumps(body).encode())
                else:
                    self._answer(404, {}, b'{"code": 20404, "message": "Not found", "status": 404}')

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                if not self._authorised():
                    return
                form = urllib.parse.parse_qs(raw.decode(), keep_blank_values=True)
                record = {
                    "path": self.path,
                    "form": {k: v[0] if len(v) == 1 else v for k, v in form.items()},
                    "content_type": self.headers.get("Content-Type"),
                }
                with fake.lock:
                    fake.requests.append(record)
                    scripted = fake.script.popleft() if fake.script else None
                try:
                    if fake.on_request is not None:
                        fake.on_request(record)
                    if fake.fault:
                        self._misbehave(record)
                        return
                    if scripted is not None:
                        self._answer(*scripted)
                        return
                    self._created(record)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the caller died while we answered (the killed-worker test)

            def _misbehave(self, record):
                if fake.fault == "slow":
                    time.sleep(fake.fault_s)
                    self._created(record)
                elif fake.fault == "reset":  # SO_LINGER 0: close() sends RST, not FIN
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                    self.wfile = open("/dev/null", "wb")  # nothing left to flush
                elif fake.fault == "drip":
                    body = json.loads(payload("message_created.json"))
                    body["sid"] = "SM" + secrets.token_hex(16)
                    raw = json.dumps(body).encode()
                    head = f"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: {len(raw)}\r\n\r\n"
                    for byte in head.encode() + raw:
                        time.sleep(fake.fault_s)
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                    self.close_connection = True
                    with fake.lock:
                        fake.answered += 1

            def _created(self, record):
                is_call = self.path.endswith("/Calls.json")
                body = json.loads(payload("call_created.json" if is_call else "message_created.json"))
                body["sid"] = ("CA" if is_call else "SM") + secrets.token_hex(16)
                body["to"] = record["form"].get("To", "")
                body["body"] = record["form"].get("Body", "")
                self._answer(201, {}, json.dumps(body).encode())
                with fake.lock:
                    fake.answered += 1

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> FakeTwilio:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def answer_next(self, status: int, body_file: str, headers: dict | None = None) -> None:
        self.script.append((status, headers or {}, payload(body_file)))

    def messages(self) -> list[dict]:
        return [r["form"] for r in self.requests if r["path"].endswith("/Messages.json")]
