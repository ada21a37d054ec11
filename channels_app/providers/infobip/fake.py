"""A local server playing Infobip's HTTP API (fixtures/ holds the documented shapes, with their
sources in fixtures/SOURCES.md): `Authorization: App <key>`; SMS /sms/3, Viber /viber/2 and RCS
/rcs/2 `messages` answered with their acceptance (the `messageId` we gave, status PENDING);
WhatsApp text, image, buttons and templates; `GET /account/1/balance` for "Test connection"."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from ..fakes import FakeServer
from . import basic

FIXTURES = Path(__file__).parent / "fixtures"
API_KEY = "003026bbc133714df1834b8638bb496e-8f4b3d9a-e931-478d-a994-28a725159ab9"
WEBHOOK_USERNAME = "cpaas"
WEBHOOK_PASSWORD = "infobip-webhook-password-0001"
PENDING = {"groupId": 1, "groupName": "PENDING", "id": 26, "name": "PENDING_ACCEPTED", "description": "Message sent to next instance"}  # fmt: skip


def payload(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def credentials() -> dict:
    return {"api_key": API_KEY, "webhook_username": WEBHOOK_USERNAME, "webhook_password": WEBHOOK_PASSWORD}


def webhook_headers(username: str = WEBHOOK_USERNAME, password: str = WEBHOOK_PASSWORD) -> dict:
    """The Authorization header Infobip sends with the notification profile's Basic credentials."""
    return {"Authorization": basic(username, password)}


def report(name: str, **fields) -> dict:
    """A fixture's report with its first result's fields replaced (messageId, callbackData...)."""
    body = payload(name)
    body["results"][0].update(fields)
    return body


class FakeInfobip(FakeServer):
    def receipts(self, record: dict, answer: bytes) -> list[tuple[str, bytes, dict]]:
        body, accepted = record["json"] or {}, json.loads(answer)
        first = (body.get("messages") or [body])[0]
        url = ((first.get("webhooks") or {}).get("delivery") or {}).get("url") or first.get("notifyUrl")
        done = (accepted.get("messages") or [accepted])[0]
        if not url or not done.get("messageId"):
            return []
        out = []
        for name in ("dlr_pending.json", "dlr_delivered.json"):
            fields = {"messageId": done["messageId"], "callbackData": done["messageId"], "to": done.get("to")}
            raw = json.dumps(report(name, **fields)).encode()
            out.append((url, raw, webhook_headers()))
        return out

    def authorised(self, record: dict) -> bool:
        return record["headers"].get("authorization") == f"App {API_KEY}"

    def unauthorised(self):
        return self.reply(401, payload("error_401.json"))

    def route(self, record: dict):
        path, body = record["path"], record["json"] or {}
        if record["method"] == "GET" and path == "/account/1/balance":
            return self.reply(200, payload("balance.json"))
        if record["method"] == "GET" and path.startswith("/numbers/1/numbers"):
            return self.reply(200, payload("numbers.json"))
        if path in ("/sms/3/messages", "/viber/2/messages", "/rcs/2/messages"):
            out = []
            for message in body.get("messages") or []:
                for destination in message.get("destinations") or []:
                    out.append(
                        {
                            "messageId": destination.get("messageId") or str(uuid.uuid4()),
                            "status": PENDING,
                            "destination": destination.get("to"),
                        }
                    )
            if not out:
                return self.reply(400, payload("error_400.json"))
            return self.reply(200, {"bulkId": str(uuid.uuid4()), "messages": out})
        if path == "/whatsapp/1/message/template":
            out = [
                {
                    "to": m.get("to"),
                    "messageCount": 1,
                    "messageId": m.get("messageId") or str(uuid.uuid4()),
                    "status": PENDING,
                }
                for m in body.get("messages") or []
            ]
            return self.reply(200, {"messages": out, "bulkId": str(uuid.uuid4())})
        if path.startswith("/whatsapp/1/message/"):
            return self.reply(
                200,
                {
                    "to": body.get("to"),
                    "messageCount": 1,
                    "messageId": body.get("messageId") or str(uuid.uuid4()),
                    "status": PENDING,
                },
            )
        return self.reply(
            404, {"requestError": {"serviceException": {"messageId": "NOT_FOUND", "text": "Not found"}}}
        )
