"""Canvas editor: time to open a journey and become interactive for 50, 200, 500 and 2,000
nodes, and the draft save round trip, in headless Chromium (Debian's) through Playwright,
next to a baseline measured in the same run (a 2-node journey). Figures only, no asserts.

    .venv/bin/python bench/editor.py [--sizes 50,200,500,2000] [--repeat 3]

Uses a throwaway SQLite database under /tmp (or DATABASE_URL), serves the app with daphne in a
subprocess, and logs in with a session cookie.
  open → interactive: navigation start until the editor has built the graph and its handlers
                      (body[data-editor-ready]); the page answers input from then on
  all drawn:          until JointJS has rendered every node and link (async rendering)
  save:               POST of the whole draft (etag checked, validated) from the page, in ms"""

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = Path(tempfile.gettempdir()) / "bench-editor.sqlite3"
os.environ.setdefault("DATABASE_URL", f"sqlite:///{DB}")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cpaas.settings.dev")
os.environ.setdefault("DEBUG", "false")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402

from cpaas.models import Membership, Workspace  # noqa: E402
from cpaas.tenancy import Actor  # noqa: E402
from journeys.services import journey_create  # noqa: E402

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


def chain(n: int) -> dict:
    """trigger → (n - 2) waits, a few with two exits → exit; laid out in columns of 20."""
    ids = [f"n{i}" for i in range(n)]
    nodes = {}
    for i, nid in enumerate(ids):
        pos = {"x": 40 + (i // 20) * 320, "y": 40 + (i % 20) * 130}
        if i == 0:
            nodes[nid] = {"type": "trigger.manual", "config": {}, "exits": {"next": ids[1]}, "position": pos}
        elif i == n - 1:
            nodes[nid] = {"type": "exit", "config": {}, "exits": {}, "position": pos}
        elif i % 5 == 0:
            nodes[nid] = {"type": "wait.event", "config": {"event": "app_opened", "timeout_s": 3600},
                          "exits": {"event": ids[i + 1], "timeout": ids[-1]}, "position": pos}  # fmt: skip
        else:
            nodes[nid] = {"type": "wait.delay", "config": {"seconds": 60}, "exits": {"next": ids[i + 1]},
                          "position": pos}  # fmt: skip
    return {"schema": 1, "start": "n0", "nodes": nodes}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="50,200,500,2000")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    call_command("migrate", verbosity=0)
    workspace = Workspace.objects.create(name=f"bench-editor-{time.time_ns()}", slug=f"be-{time.time_ns()}")
    user = get_user_model().objects.create_user(username=f"bench-{time.time_ns()}", password="x")
    Membership.objects.create(workspace=workspace, user=user, role="marketer")
    actor = Actor.for_user(user)
    journeys = {2: journey_create(workspace=workspace, actor=actor, name="baseline")}
    for n in sizes:
        journeys[n] = journey_create(workspace=workspace, actor=actor, name=f"bench {n}", graph=chain(n))
    client = Client()
    client.force_login(user)
    session = client.cookies["sessionid"].value

    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "cpaas.settings.dev"}
    server = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "cpaas.asgi:application"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("daphne did not start") from None
                time.sleep(0.1)
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.add_cookies([{"name": "sessionid", "value": session, "url": base}])
            page = context.new_page()
            page.goto(f"{base}/journeys/editor/{journeys[2].pk}/")  # warm up (static files, templates)
            page.wait_for_selector("body[data-editor-ready]", state="attached")
            rows = []
            for n in [2, *sizes]:
                opens, drawn, saves = [], [], []
                for _ in range(args.repeat):
                    page.goto(f"{base}/journeys/editor/{journeys[n].pk}/")
                    page.wait_for_selector("body[data-editor-ready]", state="attached", timeout=120000)
                    opens.append(page.evaluate("performance.now()"))
                    if os.environ.get("BENCH_DEBUG"):
                        print(
                            n,
                            page.evaluate("""() => { const t = performance.getEntriesByType('navigation')[0];
                          return {response: Math.round(t.responseEnd), dom: Math.round(t.domContentLoadedEventEnd),
                                  sync: document.body.dataset.syncMs}; }"""),
                        )
                    page.wait_for_selector("body[data-rendered]", state="attached", timeout=300000)
                    drawn.append(page.evaluate("performance.now()"))
                    saves.append(
                        page.evaluate(
                            """async () => {
                              const s = window.editor.state; const t = performance.now();
                              const csrf = JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRFToken'];
                              const url = JSON.parse(document.getElementById('editor-boot').textContent).urls.save;
                              const r = await fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json',
                                'X-CSRFToken': csrf}, body: JSON.stringify({graph: s.graph, etag: s.etag})});
                              const d = await r.json(); s.etag = d.etag; return performance.now() - t; }"""
                        )
                    )
                rows.append((n, statistics.median(opens), statistics.median(drawn), statistics.median(saves)))
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
        workspace.delete()

    base_open, base_save = rows[0][1], rows[0][3]
    print(f"canvas editor, median of {args.repeat}, headless Chromium on this machine")
    print(
        f"{'nodes':>6} {'open→interactive ms':>20} {'×baseline':>9} {'all drawn ms':>13} {'save ms':>8} {'×baseline':>9}"
    )
    for n, o, d, s in rows:
        label = f"{n}" if n != 2 else "2 (baseline)"
        print(f"{label:>6} {o:>20.0f} {o / base_open:>9.1f} {d:>13.0f} {s:>8.0f} {s / base_save:>9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
