"""The floors of part 1, measured in the same run with the same load client.

bench/floor/ is a minimal Django + DRF project (startproject's middleware, no auth)
with a trivial GET (`/ping`) and a one-row insert (`/rows`), on gunicorn sync x2 and the
same database as callauto. The client signs its requests with HMAC as it does for
callauto (the floor ignores the headers), so the load generator costs both the same CPU.
bench/api_ratios.py runs both servers at once and loads them in turn.
"""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.config import BENCH_MARK, CALLEE, GUNICORN, PYTHON, ROOT
from bench.http_load import Request, Signer
from bench.procs import BenchError, Service, free_port, wait_http_ok

SETTINGS = "bench.floor.settings"


def ping(signer: Signer) -> Request:
    return signer.request("GET", "/ping", b"", 200)


def insert(signer: Signer) -> Request:
    body = json.dumps(
        {"target": CALLEE, "callback_uri": "http://127.0.0.1:9/cb", "context": BENCH_MARK}
    ).encode()
    return signer.request("POST", "/rows", body, 201)


@contextmanager
def floor_server(env: dict[str, str], log_dir: Path) -> Iterator[tuple[Service, int]]:
    """The floor project migrated and served as callauto is in part 1: the same gunicorn
    argv (sync x2, no access log), the same environment and database; yields (service, port)."""
    import subprocess

    floor_env = {**env, "DJANGO_SETTINGS_MODULE": SETTINGS}
    done = subprocess.run(
        [PYTHON, "-m", "django", "migrate", "--noinput", "--verbosity", "0"],
        cwd=ROOT, env=floor_env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if done.returncode:
        raise BenchError(f"the floor's migrate failed:\n{done.stderr[-2000:]}")
    port = free_port()
    argv = [GUNICORN, "bench.floor.wsgi", "--worker-class", "sync", "--workers", "2"]
    argv += ["--bind", f"127.0.0.1:{port}", "--no-control-socket", "--name", "floor-bench"]
    with Service("floor-gunicorn", argv, floor_env, log_dir) as web:
        wait_http_ok(port, "/ping", web)
        yield web, port
