"""A local SMTP server (aiosmtpd) with AUTH LOGIN/PLAIN, playing a mail relay for the SMTP
adapter: it keeps what it accepted (envelope and the message as parsed), and can refuse a
recipient (550 5.1.1), say try later at DATA (451 4.3.0), or take the message and never reply
to it (`hang_after_data`: the ambiguous case)."""

from __future__ import annotations

import socket
import threading
from email import message_from_bytes
from email.policy import default

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER, PASSWORD = "relay-user", "relay-password-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeSMTP:
    def __init__(self):
        self.accepted: list[dict] = []
        self.refuse_rcpt = ""  # an address answered 550 at RCPT
        self.data_reply = ""  # e.g. "451 4.3.0 Try again later"
        self.hang_after_data = threading.Event()  # set: take the message, never answer
        self.release = threading.Event()
        fake = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
                if address == fake.refuse_rcpt:
                    return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):
                if fake.hang_after_data.is_set():
                    import asyncio

                    while not fake.release.is_set():
                        await asyncio.sleep(0.05)
                    return "250 OK (too late)"
                if fake.data_reply:
                    return fake.data_reply
                fake.accepted.append(
                    {
                        "from": envelope.mail_from,
                        "to": list(envelope.rcpt_tos),
                        "message": message_from_bytes(envelope.content, policy=default),
                    }
                )
                return "250 2.0.0 Ok: queued"

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
                USER.encode(),
                PASSWORD.encode(),
            )
            return AuthResult(success=ok, handled=False)

        self.port = free_port()
        # AUTH without TLS: a local test relay, on purpose (its warning is filtered in pyproject)
        self.controller = Controller(
            Handler(),
            hostname="127.0.0.1",
            port=self.port,
            authenticator=authenticator,
            auth_require_tls=False,
            auth_required=True,
        )

    def start(self) -> FakeSMTP:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self.controller.stop()
