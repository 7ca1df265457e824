"""Settings shared by the bench orchestrator and the processes it starts.

Nothing here is a real secret: the bench database is throwaway, so fixed bench-only keys
let repeated runs decrypt the access keys that earlier runs stored (a fresh key per run
could not read them back).
"""

import base64
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(PYTHON).with_name("gunicorn"))

DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/callauto_bench"
)
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")

# Bench-only values; never use them for anything else.
SECRET_KEY = "callauto-bench-only-secret-key-not-for-production-use-0123456789"
FERNET_KEY = base64.urlsafe_b64encode(b"callauto-bench-only-fernet-key!!").decode()

TENANT_SLUG = "demo"  # seed_demo's tenant
CALLER_ID = "+14255550100"  # one of the demo tenant's numbers (seed_demo)
CALLEE = "+14255550123"
API_VERSION = "2026-03-12"

# Marks every row the bench creates, so cleanup deletes exactly those.
BENCH_MARK = "callauto-bench"
# Child processes print one JSON line starting with this for the orchestrator to read.
JSON_MARKER = "BENCH_JSON "

# Variables of the caller's shell that must not leak into the processes we start.
_SCRUBBED = (
    "DATABASE_URL",
    "DJANGO_SETTINGS_MODULE",
    "SECRET_KEY",
    "SECRETS_ENCRYPTION_KEYS",
    "DEBUG",
    "REDIS_URL",
    "Q_WORKERS",
    "WEB_CONCURRENCY",
    "OUTBOUND_ALLOWLIST",
    "DELIVERY_LOOPS",
)


def base_env(var_dir: Path, port: int) -> dict[str, str]:
    """Environment of every process: production-like (DEBUG off), plain HTTP on loopback."""
    env = {key: value for key, value in os.environ.items() if key not in _SCRUBBED}
    env.update(
        DJANGO_SETTINGS_MODULE="callauto.settings",
        CALLAUTO_VAR_DIR=str(var_dir),
        DATABASE_URL=DATABASE_URL,
        DEBUG="false",
        SECRET_KEY=SECRET_KEY,
        SECRETS_ENCRYPTION_KEYS=FERNET_KEY,
        ALLOWED_HOSTS="127.0.0.1",
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        HTTP_PORT=str(port),
        HTTPS_PORT=str(port),
        # Plain HTTP on loopback: without this, DEBUG=false redirects every request to https.
        SECURE_SSL_REDIRECT="false",
        REDIS_URL="",  # explicit, so a .env file cannot switch the broker behind our back
        # The SSRF guard (callauto/outbound.py) refuses loopback outside DEBUG; the bench's
        # receiver is on 127.0.0.1, so allow exactly that address.
        OUTBOUND_ALLOWLIST="127.0.0.1/32",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env
