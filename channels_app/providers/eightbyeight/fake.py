"""A local server playing 8x8's SMS API (fixtures/ holds the documented shapes, with their
sources in fixtures/SOURCES.md): `Authorization: Bearer <API key>`, `POST
/api/v1/subaccounts/{id}/messages` answered QUEUED with a fresh `umid`, and `GET
.../messages/{umid}` answering "Message not found" (what "Test connection" asks)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from ..fakes import FakeServer

FIXTURES = Path(__file__).parent / "fixtures"
API_KEY = "8x8-api-key-0123456789abcdef"
SUBACCOUNT_ID = "DemoBank_hq"
WEBHOOK_AUTHORIZATION = "Bearer 8x8-webhook-token-0001"


def payload(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def credentials() -> dict:
    return {
        "api_key": API_KEY,
        "subaccount_id": SUBACCOUNT_ID,
        "webhook_authorization": WEBHOOK_AUTHORIZATION,
    }


def webhook_headers(value: str = WEBHOOK_AUTHORIZATION) -> dict:
    return {"Authorization": value}


def event(name: str, **fields) -> dict:
    """A fixture's webhook with payload fields replaced (umid, clientMessageId...)."""
    body = payload(name)
    body["payload"].update(fields)
    return body


class FakeEightByEight(FakeServer):
    def receipts(self, record: dict, answer: bytes) -> list[tuple[str, bytes, dict]]:
        body, accepted = record["json"] or {}, json.loads(answer)
        if not body.get("dlrCallbackUrl") or not accepted.get("umid"):
            return []
        out = []
        for name in ("dlr_sent.json", "dlr_delivered.json"):
            fields = {k: body.get(k) for k in ("clientMessageId", "source", "destination")}
            raw = json.dumps(event(name, umid=accepted["umid"], **fields)).encode()
            out.append((body["dlrCallbackUrl"], raw, webhook_headers()))
        return out

    def authorised(self, record: dict) -> bool:
        return record["headers"].get("authorization") == f"Bearer {API_KEY}"

    def unauthorised(self):
        return self.reply(401, payload("error_401.json"))

    def route(self, record: dict):
        messages = f"/api/v1/subaccounts/{SUBACCOUNT_ID}/messages"
        if record["method"] == "POST" and record["path"] == messages:
            body = record["json"] or {}
            if not body.get("destination") or not body.get("text"):
                return self.reply(400, payload("error_400.json"))
            answer = payload("sms_accepted.json") | {
                "umid": str(uuid.uuid4()),
                "clientMessageId": body.get("clientMessageId"),
                "destination": str(body["destination"]).lstrip("+"),
                "encoding": body.get("encoding") or "GSM7",
            }
            return self.reply(200, answer)
        if record["method"] == "GET" and record["path"].startswith(messages + "/"):
            return self.reply(404, payload("message_not_found.json"))
        return self.reply(404, {"code": 1300, "message": "Not found."})
