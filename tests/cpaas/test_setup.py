"""Setting up a fresh machine (issue 11 items 20, 21): provisioning creates what the PostgreSQL
run connects to, a skip fails where the machine could have provided the part, and `make run`
prints the address it really serves."""

import io
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command

ROOT = Path(__file__).resolve().parents[2]


def _skip_or_fail(tmp_path, env):
    script = f'source "{ROOT}/scripts/skips.sh"; skip_or_fail "PostgreSQL run"; echo continued'
    return subprocess.run(["/bin/bash", "-c", script], env=env, capture_output=True, text=True, cwd=ROOT)


def _path_without_apt(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "id").symlink_to(shutil.which("id"))
    return str(bin_dir)


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("apt-get"), reason="needs root with apt-get")
def test_a_skip_fails_as_root_on_debian_even_outside_ci(tmp_path):
    result = _skip_or_fail(tmp_path, {"PATH": os.environ["PATH"], "CI": ""})

    assert result.returncode == 1
    assert "SKIPPED" in result.stdout and "failing" in result.stdout
    assert "continued" not in result.stdout


def test_a_skip_fails_under_ci(tmp_path):
    result = _skip_or_fail(tmp_path, {"PATH": _path_without_apt(tmp_path), "CI": "true"})

    assert result.returncode == 1
    assert "CI must run everything" in result.stdout


def test_a_skip_is_loud_but_allowed_where_nothing_could_provide_the_part(tmp_path):
    result = _skip_or_fail(tmp_path, {"PATH": _path_without_apt(tmp_path), "CI": ""})

    assert result.returncode == 0
    assert "!!! PostgreSQL run: SKIPPED" in result.stdout
    assert "continued" in result.stdout


@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("pg_lsclusters"), reason="provisioning needs root and PostgreSQL"
)
def test_provision_creates_the_database_the_postgresql_run_connects_to():
    database = f"cpaas_provision_{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PG_DB": database}
    try:
        subprocess.run(["bash", "scripts/provision.sh"], cwd=ROOT, env=env, check=True, capture_output=True)

        ready = subprocess.run(
            [
                str(ROOT / ".venv/bin/python"),
                "scripts/pg_ready.py",
                f"postgres://cpaas:cpaas@127.0.0.1:5432/{database}",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert ready.returncode == 0, ready.stdout
    finally:
        subprocess.run(
            ["su", "postgres", "-c", f'psql -q -c "DROP DATABASE IF EXISTS {database}"'], capture_output=True
        )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("host", "port", "shown"),
    [
        (None, "8123", "http://127.0.0.1:8123/login/"),
        ("0.0.0.0", "9000", "http://127.0.0.1:9000/login/"),
        ("192.0.2.7", None, "http://192.0.2.7:8000/login/"),
    ],
)
def test_demo_data_prints_the_login_address_make_run_serves(monkeypatch, host, port, shown):
    for name, value in (("HOST", host), ("PORT", port)):
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    out = io.StringIO()

    call_command("demo_data", stdout=out)

    assert f"Log in at {shown} as:" in out.getvalue()


def test_the_readme_scale_out_section_names_every_process_serve_starts():
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Scale-out in brief") : readme.index("## Where to read next")]
    serve = (ROOT / "cpaas/management/commands/serve.py").read_text()

    # what `make run` starts beside the web server -> what the scale-out reader is told to run
    # (`worker` is qcluster made safe for process managers that signal a whole process group)
    for process, command in (("dispatcher", "dispatcher"), ("engine", "engine"), ("qcluster", "worker")):
        assert f'"{process}"' in serve
        assert f"python manage.py {command}" in section
    assert "daphne" in section
