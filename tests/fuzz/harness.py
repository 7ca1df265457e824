"""What the fuzz tests share: the real Django WSGI application, in this process and inside
the test's database transaction, behind a signer that adds ACS HMAC-SHA256 headers to each
request exactly as it arrives (method, raw target, body bytes), as the SDK would.

schemathesis runs its phases in worker threads; they are given the test's own database
connection (as Django's LiveServerThread does for in-memory SQLite), one request at a
time, so what the fuzzer creates is rolled back with the test and costs no new connection.
"""

import io
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import DEFAULT_DB_ALIAS, close_old_connections, connections

from tenants.models import Tenant
from tests.acs_signing import sign_headers
from tests.conftest import key_of

Environ = dict[str, Any]


class SignedWsgi:
    """Django's WSGI handler; every request is HMAC-signed with the tenant's primary key
    and served on the database connection of the thread that made this object."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant
        self.key = key_of(tenant)
        self.django = WSGIHandler()
        self.connection = connections[DEFAULT_DB_ALIAS]
        self.lock = threading.Lock()

    def __call__(self, environ: Environ, start_response: Callable) -> Any:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        target = environ.get("RAW_URI") or environ["PATH_INFO"]
        host = f"{environ.get('HTTP_HOST', 'localhost')}/t/{self.tenant.slug}"
        signed = sign_headers(environ["REQUEST_METHOD"], target, body, self.key, host)
        for name, value in signed.items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        with self.lock:  # one request at a time on the shared connection
            connections[DEFAULT_DB_ALIAS] = self.connection
            return self.django(environ, start_response)


@contextmanager
def in_this_transaction() -> Iterator[None]:
    """Serve requests (from any thread) on the test's own database connection, as Django's
    test client does: the request signals would otherwise close it mid-transaction."""
    connection = connections[DEFAULT_DB_ALIAS]
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    connection.inc_thread_sharing()
    try:
        yield
    finally:
        connection.dec_thread_sharing()
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
