"""The floors of part 1, measured in the same run with the same load client.

bench/floor/ is a minimal Django + DRF project (startproject's middleware, no auth)
with a trivial GET (`/ping`) and a one-row insert (`/rows`), on gunicorn sync x2 and the
same database as callauto. The client signs its requests with HMAC as it does for
callauto (the floor ignores the headers), so the load generator costs both the same CPU.
"""

import json
from pathlib import Path

from bench.config import BENCH_MARK, CALLEE, GUNICORN, PYTHON, ROOT
from bench.http_load import LoadResult, Request, Signer, run_load
from bench.procs import BenchError, Service, free_port, wait_http_ok

SETTINGS = "bench.floor.settings"


def ping(signer: Signer) -> Request:
    return signer.request("GET", "/ping", b"", 200)


def insert(signer: Signer) -> Request:
    body = json.dumps(
        {"target": CALLEE, "callback_uri": "http://127.0.0.1:9/cb", "context": BENCH_MARK}
    ).encode()
    return signer.request("POST", "/rows", body, 201)


def run_floors(
    env: dict[str, str], access_key: str, log_dir: Path, *, threads: int, seconds: float,
    warmup: float,
) -> dict[str, LoadResult]:  # fmt: skip
    """{"ping": ..., "insert": ...}, each measured like callauto's endpoints."""
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
    results = {}
    with Service("floor-gunicorn", argv, floor_env, log_dir) as web:
        wait_http_ok(port, "/ping", web)
        signer = Signer(port, access_key)
        for name, make in (("ping", ping), ("insert", insert)):
            label = f"floor: DRF {'ping' if name == 'ping' else 'one-row insert'}"
            run_load(label, signer, make, threads=threads, seconds=warmup)
            results[name] = run_load(label, signer, make, threads=threads, seconds=seconds)
            web.check_alive()
    return results
