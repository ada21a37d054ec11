"""A local server playing the Vonage Messages API (fixtures/ holds the documented shapes, with
their sources in fixtures/SOURCES.md): `POST /v1/messages` authorised by an RS256 JWT made with
the application's private key (checked against its public key, as Vonage does), 202 with a fresh
`message_uuid`; `GET /v2/applications/{id}` with basic auth for "Test connection". It also signs
webhooks the way Vonage does (HS256 JWT with `payload_hash`), for tests and test mode."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from functools import cache
from pathlib import Path

import jwt

from ..fakes import FakeServer

FIXTURES = Path(__file__).parent / "fixtures"
APPLICATION_ID = "78d335fa-323d-0114-9c3d-d6f0d48968cf"
API_KEY = "a1b2c3d4"
API_SECRET = "VonageSecret0001"
SIGNATURE_SECRET = "vonage-signature-secret-0123456789abcdef"


def payload(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


@cache
def keypair() -> tuple[str, str]:
    """(private PEM, public PEM) of the fake application, made once per process."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


def credentials() -> dict:
    """What a channel needs to talk to the fake."""
    return {
        "application_id": APPLICATION_ID,
        "private_key": keypair()[0],
        "api_key": API_KEY,
        "api_secret": API_SECRET,
        "signature_secret": SIGNATURE_SECRET,
    }


def signed_headers(body: bytes, *, secret: str = SIGNATURE_SECRET, iat: float | None = None) -> dict:
    """The Authorization header Vonage puts on a webhook: HS256 JWT over the body's SHA-256."""
    claims = {
        "iat": int(time.time() if iat is None else iat),
        "jti": str(uuid.uuid4()),
        "iss": "Vonage",
        "payload_hash": hashlib.sha256(body).hexdigest(),
        "api_key": API_KEY,
        "application_id": APPLICATION_ID,
    }
    return {"Authorization": "Bearer " + jwt.encode(claims, secret, algorithm="HS256")}


def public_key(private_pem: str) -> str:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


class FakeVonage(FakeServer):
    """`private_key`: the application's key (test mode keeps one across restarts); by default the
    one made for this process."""

    def __init__(self, *, private_key: str | None = None, **kw):
        super().__init__(**kw)
        self.public_key = public_key(private_key) if private_key else keypair()[1]

    def receipts(self, record: dict, answer: bytes) -> list[tuple[str, bytes, dict]]:
        body = record["json"] or {}
        message_uuid = json.loads(answer).get("message_uuid")
        if not body.get("webhook_url") or not message_uuid:
            return []
        out = []
        for name in ("status_submitted.json", "status_delivered.json"):
            fields = {k: body.get(k) for k in ("to", "from", "channel", "client_ref")}
            raw = json.dumps(payload(name) | fields | {"message_uuid": message_uuid}).encode()
            out.append((body["webhook_url"], raw, signed_headers(raw)))
        return out

    def authorised(self, record: dict) -> bool:
        header = record["headers"].get("authorization", "")
        if record["path"].startswith(("/v2/applications/", "/account/numbers")):
            pair = base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()
            return header == f"Basic {pair}"
        if not header.startswith("Bearer "):
            return False
        try:
            claims = jwt.decode(header[7:], self.public_key, algorithms=["RS256"])
        except jwt.PyJWTError:
            return False
        return claims.get("application_id") == APPLICATION_ID

    def unauthorised(self):
        return self.reply(401, payload("error_401.json"))

    def route(self, record: dict):
        if record["method"] == "POST" and record["path"] == "/v1/messages":
            body = record["json"] or {}
            if not body.get("to") or not body.get("channel"):
                return self.reply(422, payload("error_422.json"))
            return self.reply(202, {"message_uuid": str(uuid.uuid4())})
        if record["method"] == "GET" and record["path"] == f"/v2/applications/{APPLICATION_ID}":
            return self.reply(200, payload("application.json"))
        if record["method"] == "GET" and record["path"].startswith("/account/numbers"):
            return self.reply(200, payload("numbers.json"))
        return self.reply(
            404, {"title": "Not Found", "type": "https://developer.nexmo.com/api-errors#not-found"}
        )
