"""The production set-up, run for real: the settings of deploy/rxdesk.env.example pass
`check --deploy`, gunicorn with deploy/gunicorn.conf.py serves the sign-in page and a hashed,
compressed static file behind an HTTPS proxy, the systemd units and the nginx site verify,
and `make sbom`'s command writes a CycloneDX bill of materials naming our dependencies."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import connection
from django.urls import reverse

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
HOST = "rxdesk.pharmacy.example"


def production_env(var: Path, **extra: str) -> dict[str, str]:
    """The machine's environment less ours, plus the production settings of the env file."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "RXDESK_", "DJANGO_"))
    }
    env |= {
        "DJANGO_SETTINGS_MODULE": "rxdesk.settings",
        "RXDESK_VAR_DIR": str(var),
        "RXDESK_HTTPS": "1",
        "RXDESK_DEBUG": "0",
        "RXDESK_STATIC_MANIFEST": "1",
        "RXDESK_ALLOWED_HOSTS": HOST,
        "RXDESK_CSRF_TRUSTED_ORIGINS": f"https://{HOST}",
    }
    return env | extra


def rxdesk(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "rxdesk"), *args], capture_output=True, text=True, env=env, timeout=300
    )


def test_the_env_file_example_names_every_setting_we_pass():
    example = (DEPLOY / "rxdesk.env.example").read_text()
    for name in production_env(Path("/x")):
        if name.startswith("RXDESK_"):
            assert re.search(rf"^{name}=", example, re.M), name


def test_production_settings_pass_every_deploy_check_with_the_key_from_the_var_dir(tmp_path):
    result = rxdesk(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_a_weak_setting_fails_the_deploy_check(tmp_path):
    """The check above can fail: a short secret key is a warning, and warnings fail it."""
    result = rxdesk(
        production_env(tmp_path, RXDESK_SECRET_KEY="short"),
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert result.returncode != 0
    assert "security.W009" in result.stderr + result.stdout


# --- gunicorn behind a (simulated) HTTPS proxy ------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_url(var: Path) -> str:
    """A database the server process can open with the test database's tables."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        target = sqlite3.connect(var / "rxdesk.sqlite3")
        connection.ensure_connection()
        connection.connection.backup(target)  # type: ignore[union-attr]
        target.close()
        return f"sqlite:///{var / 'rxdesk.sqlite3'}"
    user = settings["USER"] or "postgres"
    password = f":{settings['PASSWORD']}" if settings["PASSWORD"] else ""
    host = settings["HOST"] or "127.0.0.1"
    port = settings["PORT"] or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings['NAME']}"


@pytest.fixture
def gunicorn(transactional_db, tmp_path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    port = free_port()
    env = production_env(
        tmp_path,
        DATABASE_URL=database_url(tmp_path),
        RXDESK_BIND=f"127.0.0.1:{port}",
        RXDESK_WORKERS="1",
    )
    collected = rxdesk(env, "collectstatic", "--noinput", "--verbosity", "0")
    assert collected.returncode == 0, collected.stderr
    log = (tmp_path / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", str(DEPLOY / "gunicorn.conf.py")],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (tmp_path / "gunicorn.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not start in 60 s"
                time.sleep(0.2)
        yield port, server
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def fetch(port: int, path: str, *, https: bool = True) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Host": HOST, "Accept-Encoding": "gzip"}
    if https:
        headers["X-Forwarded-Proto"] = "https"  # as nginx sends it (deploy/nginx/rxdesk.conf)
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    response.body = response.read()  # type: ignore[attr-defined]
    conn.close()
    return response


def test_gunicorn_serves_the_sign_in_page_and_static_files_with_production_settings(gunicorn):
    port, _server = gunicorn

    login = reverse("login")
    page = fetch(port, login)
    assert page.status == 200, page.body  # type: ignore[attr-defined]
    assert "script-src 'self';" in page.headers["Content-Security-Policy"]
    assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert page.headers["X-Frame-Options"] == "DENY"
    assert "Secure" in page.headers["Set-Cookie"]
    html = page.body.decode()  # type: ignore[attr-defined]

    # The manifest storage gave the stylesheet a content hash; WhiteNoise serves it
    # compressed and cacheable for good, with the same security headers.
    css = re.search(r'href="(/static/rxdesk/rxdesk\.[0-9a-f]{12}\.css)"', html)
    assert css, "the page does not link a hashed stylesheet"
    static = fetch(port, css.group(1))
    assert static.status == 200
    assert static.headers["Content-Type"].startswith("text/css")
    assert static.headers["Content-Encoding"] == "gzip"
    assert "immutable" in static.headers["Cache-Control"]
    assert "max-age=315360000" in static.headers["Cache-Control"]
    assert static.headers["Content-Security-Policy"] == page.headers["Content-Security-Policy"]
    assert static.headers["X-Content-Type-Options"] == "nosniff"

    # Plain HTTP that did not come through the TLS proxy is sent to HTTPS.
    plain = fetch(port, login, https=False)
    assert plain.status == 301
    assert plain.headers["Location"] == f"https://{HOST}{login}"


# --- Unit files and the nginx site ------------------------------------------------------------


def test_the_systemd_units_verify(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed on this machine")
    units = []
    for unit in sorted((DEPLOY / "systemd").iterdir()):
        # The units name the install folder /opt/rxdesk; point them at this checkout.
        text = unit.read_text().replace("/opt/rxdesk/.venv/bin/", f"{BIN}/")
        text = text.replace("/opt/rxdesk/", f"{ROOT}/")
        (tmp_path / unit.name).write_text(text)
        units.append(str(tmp_path / unit.name))
    assert {Path(u).name for u in units} >= {
        "rxdesk-web.service",
        "rxdesk-payer.service",
        "rxdesk-adc-listener.service",
        "rxdesk-iis.service",
        "rxdesk-iis.timer",
        "rxdesk-reports.service",
        "rxdesk-reports.timer",
        "rxdesk-backup.service",
        "rxdesk-backup.timer",
    }
    result = subprocess.run(
        [analyze, "verify", "--man=no", *units],
        capture_output=True,
        text=True,
        env=dict(os.environ, SYSTEMD_LOG_LEVEL="warning"),
        timeout=120,
    )
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        # A build machine has no rxdesk account and no /etc/rxdesk: not the units' fault.
        if line.strip() and "rxdesk.env" not in line and "user" not in line.lower()
    ]
    assert problems == []


def test_the_nginx_site_parses(tmp_path):
    nginx = shutil.which("nginx")
    if nginx is None:
        pytest.skip("nginx is not installed on this machine")
    site = (DEPLOY / "nginx" / "rxdesk.conf").read_text()
    # Certificates are the pharmacy's; a throw-away pair stands in for them.
    key, cert = tmp_path / "privkey.pem", tmp_path / "fullchain.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         f"/CN={HOST}", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    site = site.replace("/etc/ssl/rxdesk/fullchain.pem", str(cert))
    site = site.replace("/etc/ssl/rxdesk/privkey.pem", str(key))
    site = site.replace("/var/log/nginx/", f"{tmp_path}/")
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\n"
        "events {}\n"
        f"http {{\n access_log off;\n include {tmp_path}/site.conf;\n}}\n"
    )
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


# --- Software bill of materials ---------------------------------------------------------------


def normalise(requirement: str) -> str:
    name = re.split(r"[\s\[<>=!~;]", requirement.strip(), maxsplit=1)[0]
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_sbom_is_cyclonedx_json_naming_django_and_every_direct_dependency(tmp_path):
    out = tmp_path / "sbom.cdx.json"
    result = subprocess.run(
        [str(BIN / "cyclonedx-py"), "environment", "--pyproject", str(ROOT / "pyproject.toml"),
         "--mc-type", "application", "--output-format", "JSON", "--output-reproducible",
         "--validate", "--output-file", str(out), sys.executable],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr

    bom = json.loads(out.read_text())
    assert bom["bomFormat"] == "CycloneDX"
    assert bom["specVersion"].startswith("1.")
    assert bom["metadata"]["component"]["name"] == "rxdesk"
    installed = {normalise(c["name"]): c for c in bom["components"]}
    assert installed["django"]["version"].startswith("5.2")
    assert installed["django"]["purl"].startswith("pkg:pypi/django@5.2")
    direct = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    missing = {normalise(d) for d in direct} - set(installed)
    assert missing == set()
