"""Production-like configuration passes Django's deployment checks."""

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    # The browser tests' DJANGO_ALLOW_ASYNC_UNSAFE is no production setting (async.E001).
    dropped = ("SECRET_KEY", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE")
    base = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "x7Jq2" * 12,
    "SECRETS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "ALLOWED_HOSTS": "calls.example.com",
    "PUBLIC_BASE_URL": "https://calls.example.com",
}


def test_check_deploy_reports_nothing_with_production_settings():
    done = run_manage("check", "--deploy", "--fail-level", "DEBUG", **PRODUCTION)

    assert done.returncode == 0, done.stderr
    assert "no issues" in done.stdout


def test_production_without_a_secret_key_refuses_to_start():
    env = {**PRODUCTION, "SECRET_KEY": ""}

    done = run_manage("check", **env)

    assert done.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in done.stderr
