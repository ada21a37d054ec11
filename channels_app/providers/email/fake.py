"""Local servers playing Mailgun's and Postmark's sending APIs (fixtures/ holds their documented
shapes, each file's source named in fixtures/SOURCES.md), on the shared `providers/fakes.py`:
their authentication (Mailgun: basic `api:<key>`; Postmark: `X-Postmark-Server-Token`), the send
(`POST /v3/<domain>/messages`, form-encoded or multipart; `POST /email`, JSON) answered with a
fresh message id, the account reads "Test connection" makes (`GET /v3/domains/<domain>`,
`GET /server`), scripted answers and faults. Used by the tests and by `make run`'s test mode
(`manage.py fake_provider mailgun|postmark --webhook-url <the channel's status URL>`): with
`play_phone` it then posts the ESP's `delivered` and `opened` tracking events, signed or
authenticated as the ESP does, to that URL (an ESP's webhooks are set in its console, not per send)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import urllib.parse
import uuid
from email import message_from_bytes
from email.policy import HTTP
from pathlib import Path

from ..fakes import FakeServer

FIXTURES = Path(__file__).parent / "fixtures"
DOMAIN = "mail.demobank.example"
MAILGUN_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
MAILGUN_SIGNING_KEY = "c0a1b2c3d4e5f60718293a4b5c6d7e8f"
POSTMARK_TOKEN = "server-token-6c3bd2c1-0000-4000-8000-000000000001"
POSTMARK_WEBHOOK_PASSWORD = "Tr0ub4dor-and-a-long-random-tail"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def form_of(record: dict) -> dict[str, list[str]]:
    """Mailgun's form (urlencoded, or multipart/form-data with attachments) as {field: [values]}."""
    content_type = record["headers"].get("content-type", "")
    if content_type.startswith("application/x-www-form-urlencoded"):
        return urllib.parse.parse_qs(record["body"].decode(), keep_blank_values=True)
    message = message_from_bytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + record["body"], policy=HTTP
    )
    fields: dict[str, list[str]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        fields.setdefault(name, []).append(
            part.get_content() if part.get_content_maintype() == "text" else ""
        )
    return fields


def mailgun_signed(body: dict, key: str = MAILGUN_SIGNING_KEY) -> dict:
    """The event with Mailgun's signature block: HMAC-SHA256 of timestamp + token."""
    timestamp, token = str(int(time.time())), secrets.token_hex(25)
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {**body, "signature": {"timestamp": timestamp, "token": token, "signature": signature}}


class _FakeESP(FakeServer):
    fixtures: dict[str, str] = {}

    def __init__(self, *, webhook_url: str = "", **kwargs):
        super().__init__(**kwargs)
        self.webhook_url = webhook_url

    def answer_next(self, status: int, body, headers: dict | None = None) -> None:
        """`body`: bytes, a dict, or the name of a fixture file."""
        super().answer_next(status, fixture(body) if isinstance(body, str) else body, headers)

    def tracking(self, name: str, message_id: str, reference: str, recipient: str) -> dict:
        raw = fixture(self.fixtures[name]).decode()
        raw = raw.replace("REF", reference).replace("MID", message_id.strip("<>"))
        return json.loads(raw.replace("ada@example.com", recipient))


class FakeMailgun(_FakeESP):
    fixtures = {"delivered": "mailgun_delivered.json", "opened": "mailgun_opened.json"}

    def authorised(self, record: dict) -> bool:
        expected = "Basic " + base64.b64encode(f"api:{MAILGUN_KEY}".encode()).decode()
        return record["headers"].get("authorization") == expected

    def unauthorised(self) -> tuple[int, dict, bytes]:
        return 401, {"Content-Type": "text/plain"}, b"Forbidden"

    def route(self, record: dict) -> tuple[int, dict, bytes]:
        if record["method"] == "GET" and record["path"] == f"/v3/domains/{DOMAIN}":
            return 200, {}, fixture("mailgun_domain.json")
        if record["method"] == "GET" and record["path"].startswith("/v3/domains/"):
            return 404, {}, b'{"message": "Domain not found"}'
        if record["method"] == "POST" and record["path"] == f"/v3/{DOMAIN}/messages":
            return self.reply(200, {"id": f"<{uuid.uuid4().hex}@{DOMAIN}>", "message": "Queued. Thank you."})
        return 404, {}, b'{"message": "Not found"}'

    def forms(self) -> list[dict]:
        return [form_of(r) for r in self.requests if r["method"] == "POST"]

    def receipts(self, record: dict, answer: bytes) -> list[tuple[str, bytes, dict]]:
        if not self.webhook_url:
            return []
        form = form_of(record)
        message_id, ref, to = json.loads(answer)["id"], form.get("v:ref", [""])[0], form.get("to", [""])[0]
        return [
            (
                self.webhook_url,
                json.dumps(mailgun_signed(self.tracking(name, message_id, ref, to))).encode(),
                {},
            )
            for name in ("delivered", "opened")
        ]


class FakePostmark(_FakeESP):
    fixtures = {"delivered": "postmark_delivery.json", "opened": "postmark_open.json"}

    def authorised(self, record: dict) -> bool:
        return record["headers"].get("x-postmark-server-token") == POSTMARK_TOKEN

    def unauthorised(self) -> tuple[int, dict, bytes]:
        return self.reply(
            401,
            {
                "ErrorCode": 10,
                "Message": "The Server Token you provided in the X-Postmark-Server-Token request header was invalid.",
            },
        )

    def route(self, record: dict) -> tuple[int, dict, bytes]:
        if record["method"] == "GET" and record["path"] == "/server":
            return 200, {}, fixture("postmark_server.json")
        if record["method"] == "POST" and record["path"] == "/email":
            body = json.loads(fixture("postmark_send_ok.json"))
            body["MessageID"], body["To"] = str(uuid.uuid4()), (record["json"] or {}).get("To", "")
            return self.reply(200, body)
        return 404, {}, b'{"ErrorCode": 404, "Message": "Not found"}'

    def receipts(self, record: dict, answer: bytes) -> list[tuple[str, bytes, dict]]:
        if not self.webhook_url:
            return []
        sent = record["json"] or {}
        message_id, ref, to = (
            json.loads(answer)["MessageID"],
            (sent.get("Metadata") or {}).get("ref", ""),
            sent.get("To", ""),
        )
        auth = base64.b64encode(f"postmark:{POSTMARK_WEBHOOK_PASSWORD}".encode()).decode()
        return [
            (
                self.webhook_url,
                json.dumps(self.tracking(name, message_id, ref, to)).encode(),
                {"Authorization": f"Basic {auth}"},
            )
            for name in ("delivered", "opened")
        ]


def mailgun_credentials() -> dict:
    return {"api_key": MAILGUN_KEY, "webhook_signing_key": MAILGUN_SIGNING_KEY}


def postmark_credentials() -> dict:
    return {"server_token": POSTMARK_TOKEN, "webhook_password": POSTMARK_WEBHOOK_PASSWORD}
