"""Sentry, switched on by SENTRY_DSN (cpaas/sentry.py): an error reaches a local server playing
Sentry, with the request id and without the phone number and text the error line held."""

import gzip
import http.server
import threading
import zlib

import pytest


class FakeSentry:
    def __init__(self):
        self.bodies: list[bytes] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                elif encoding == "br":
                    import brotli

                    body = brotli.decompress(body)
                outer.bodies.append(body)
                self.send_response(200)
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.dsn = f"http://public@127.0.0.1:{self.server.server_address[1]}/1"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sentry():
    import sentry_sdk

    fake = FakeSentry()
    from cpaas.sentry import init

    init(dsn=fake.dsn, environment="test")
    yield fake
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # no DSN: reporting off again
    fake.stop()


def test_an_error_log_reaches_sentry_masked_and_with_its_request_id(sentry):
    import logging

    import sentry_sdk

    from cpaas.logs import request_id

    token = request_id.set("req-sentry-1")
    try:
        try:
            raise RuntimeError("provider refused +447911123456")
        except RuntimeError:
            logging.getLogger("channels_app.services.dispatch").exception(
                "send to %s failed: %s", "+447911123456", {"text": "Your secret code is HORSE"}
            )
    finally:
        request_id.reset(token)
    sentry_sdk.flush(timeout=10)
    sent = b"".join(sentry.bodies).decode(errors="replace")
    assert "send to [phone] failed" in sent and "provider refused [phone]" in sent
    assert "req-sentry-1" in sent
    assert "7911123456" not in sent and "HORSE" not in sent


def failing_task(phone):
    raise ValueError(f"could not reach {phone}")


@pytest.mark.django_db(transaction=True)
def test_a_task_failing_in_the_worker_process_reaches_sentry_masked(tmp_path, monkeypatch):
    from django_q.conf import Conf
    from django_q.tasks import async_task

    from tests.topology import Topology, wait_for

    fake = FakeSentry()
    try:
        with Topology(tmp_path, worker=1, env={"SENTRY_DSN": fake.dsn}) as topology:
            monkeypatch.setattr(Conf, "SYNC", False)
            async_task(f"{__name__}.failing_task", "+447911123456")
            assert wait_for(lambda: b"could not reach" in b"".join(fake.bodies), timeout=90), topology.log(
                "worker1"
            )[-3000:]
        sent = b"".join(fake.bodies).decode(errors="replace")
    finally:
        fake.stop()
    assert "failing_task" in sent and "could not reach [phone]" in sent
    assert "7911123456" not in sent
