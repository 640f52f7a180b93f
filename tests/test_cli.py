"""The `rxdesk` console script, run as a real process against a fresh SQLite database."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import build_schema_in_subprocess

RXDESK = str(Path(sys.executable).with_name("rxdesk"))


def _environment(var: Path, **env: str) -> dict[str, str]:
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DATABASE_URL", "RXDESK_", "DJANGO_"))
    }
    environment |= {"RXDESK_VAR_DIR": str(var), "DJANGO_SETTINGS_MODULE": "rxdesk.settings"}
    return environment | env


def run(var: Path, *args: str, password: str | None = None, **env: str):
    environment = _environment(var, **env)
    if password is not None:
        environment["RXDESK_PASSWORD"] = password
    return subprocess.run(
        [RXDESK, *args], capture_output=True, text=True, env=environment, timeout=900
    )


@pytest.fixture(scope="module")
def var(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("rxdesk-var")
    result = run(path, "migrate", "--verbosity", "0")
    assert result.returncode == 0, result.stderr
    return path


def test_it_migrates_sqlite_in_wal_mode_with_full_sync(var):
    db = sqlite3.connect(var / "rxdesk.sqlite3")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert (var / "secret_key").stat().st_mode & 0o777 == 0o600


def test_it_creates_a_user_then_a_token_stored_hashed_and_verifies_the_chain(var):
    created = run(
        var,
        "user",
        "create",
        "--username",
        "carla",
        "--role",
        "pharmacist_in_charge",
        password="a long pharmacy passphrase",
    )
    assert created.returncode == 0, created.stderr
    assert "Created pharmacist-in-charge 'carla'" in created.stdout
    assert "created site 'My pharmacy'" in created.stdout

    token = run(var, "token", "create", "--username", "carla")
    assert token.returncode == 0, token.stderr
    secret = token.stdout.strip()
    assert secret.startswith("rxd_") and len(secret) > 40
    db = sqlite3.connect(var / "rxdesk.sqlite3")
    digests = [r[0] for r in db.execute("SELECT digest FROM core_apitoken")]
    assert digests == [hashlib.sha256(secret.encode()).hexdigest()]
    assert secret not in (var / "rxdesk.sqlite3").read_bytes().decode("latin-1")

    verified = run(var, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "audit chain intact — 3 events" in verified.stdout

    actions = [r[0] for r in db.execute("SELECT action FROM core_auditevent ORDER BY seq")]
    assert actions == ["site.created", "staff.created", "token.created"]
    clients = {r[0] for r in db.execute("SELECT client_addr FROM core_auditevent")}
    assert all(c.startswith("cli:") for c in clients)


def test_it_refuses_a_weak_password_and_creates_nothing(var):
    result = run(
        var, "user", "create", "--username", "weak", "--role", "technician", password="password"
    )
    assert result.returncode != 0
    assert "password" in result.stderr and "too common" in result.stderr
    db = sqlite3.connect(var / "rxdesk.sqlite3")
    assert db.execute("SELECT count(*) FROM core_user WHERE username='weak'").fetchone()[0] == 0


def test_it_refuses_an_unknown_role(var):
    result = run(var, "user", "create", "--username", "x", "--role", "wizard", password="x" * 12)
    assert result.returncode != 0
    assert "invalid choice: 'wizard'" in result.stderr


def test_audit_verify_names_the_broken_event_and_exits_nonzero(tmp_path):
    copy = tmp_path / "broken"
    copy.mkdir()
    build_schema_in_subprocess(_environment(copy))  # the real migrate is tested above
    created = run(
        copy,
        "user",
        "create",
        "--username",
        "dan",
        "--role",
        "admin",
        password="another long passphrase",
    )
    assert created.returncode == 0, created.stderr
    target = sqlite3.connect(copy / "rxdesk.sqlite3")
    target.execute("UPDATE core_auditevent SET actor_name = 'mallory' WHERE seq = 2")
    target.commit()

    result = run(copy, "audit", "verify")

    assert result.returncode == 1
    assert "BROKEN at site 1: event #2" in result.stdout
    assert "does not match its hash" in result.stdout


def test_production_settings_pass_check_deploy(tmp_path):
    result = run(
        tmp_path,
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        RXDESK_SECRET_KEY="k" * 30 + "-production-secret-" + "z" * 30,
        RXDESK_ALLOWED_HOSTS="pharmacy.example",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
