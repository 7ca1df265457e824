"""Shared fixtures: tenants, users, a live server that keeps the raw request target,
and SDK clients pointed at it."""

import pytest
from azure.communication.callautomation import CallAutomationClient
from azure.core.credentials import AzureKeyCredential
from django.core.servers.basehttp import WSGIRequestHandler
from django.test.testcases import LiveServerThread
from pytest_django.live_server_helper import LiveServer

from tenants.models import AccessKey, Membership, Tenant
from tests.factories import UserFactory, make_tenant


class _RawUriHandler(WSGIRequestHandler):
    """Pass the request target as sent, as gunicorn does in RAW_URI (see hmac_auth)."""

    def get_environ(self) -> dict:
        environ = super().get_environ()
        environ["RAW_URI"] = self.path
        return environ

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass


class _RawUriThread(LiveServerThread):
    def _create_server(self, connections_override=None):
        return self.server_class(
            (self.host, self.port),
            _RawUriHandler,
            allow_reuse_address=False,
            connections_override=connections_override,
        )


class _RawUriLiveServer(LiveServer):
    def __init__(self, addr: str) -> None:
        super().__init__(addr, start=False)
        self.thread.__class__ = _RawUriThread
        self.start()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    # The live server's request threads outlive a test while the SDK keeps its HTTP
    # connection alive; closing the database connection after each request lets
    # pytest-django drop the test database at the end.
    from django.conf import settings

    settings.DATABASES["default"]["CONN_MAX_AGE"] = 0
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # A test database need not survive a server crash: commits (every save in the
        # transactional tests, every migration at set-up) then return without waiting for
        # the WAL to reach the shared machine's disk. What other sessions see is unchanged.
        options = settings.DATABASES["default"].setdefault("OPTIONS", {})
        options["options"] = f"{options.get('options', '')} -c synchronous_commit=off".strip()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    # The same for the processes a test starts against the test database (gateway,
    # gunicorn): they connect with the URL alone.
    from django.db import connection

    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            name = connection.ops.quote_name(connection.settings_dict["NAME"])
            cursor.execute(f"ALTER DATABASE {name} SET synchronous_commit = off")


def _delete_flush(truncate_flush):
    """PostgreSQL's flush for transactional tests: DELETE instead of TRUNCATE, the same
    empty tables afterwards. TRUNCATE makes new files for every table and index (60 tables
    here): 2-3 s per transactional test on the loaded shared machine, DELETE of the few
    rows a test left 0.2-0.5 s. Foreign keys are checked at the commit that ends flush's
    transaction, when every table is empty. Sequence resets and CASCADE (a subset of the
    tables) keep Django's TRUNCATE."""

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or allow_cascade or not tables:
            return truncate_flush(
                self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
            )
        deletes = " ".join(f"DELETE FROM {self.quote_name(table)};" for table in tables)
        return [f"SET CONSTRAINTS ALL DEFERRED; {deletes}"]

    return sql_flush


@pytest.fixture(scope="session", autouse=True)
def _flush_by_delete():
    from django.db.backends.postgresql.operations import DatabaseOperations

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DatabaseOperations, "sql_flush", _delete_flush(DatabaseOperations.sql_flush))
        yield


@pytest.fixture(scope="session")
def live_server():
    server = _RawUriLiveServer("127.0.0.1")
    yield server
    server.stop()


@pytest.fixture
def user(db):
    return UserFactory(username="owner")


@pytest.fixture
def tenant(db, user) -> Tenant:
    return make_tenant("acme", owner=user)


@pytest.fixture
def other_tenant(db) -> Tenant:
    return make_tenant("globex", owner=UserFactory(username="globex-owner"))


def key_of(tenant: Tenant, name: str = AccessKey.Name.PRIMARY) -> str:
    return AccessKey.objects.for_tenant(tenant).get(name=name).secret


@pytest.fixture
def sdk_client(live_server, tenant):
    """The official SDK, built from the constructor with our plain-HTTP test endpoint."""

    def build(for_tenant: Tenant = tenant, key: str | None = None) -> CallAutomationClient:
        endpoint = f"{live_server.url}/t/{for_tenant.slug}"
        # A request our server never answers fails in a minute (azure-core's default read
        # timeout is 300 s, per retry), instead of stalling a worker of the suite.
        return CallAutomationClient(
            endpoint, AzureKeyCredential(key or key_of(for_tenant)),
            connection_timeout=10, read_timeout=60,
        )  # fmt: skip

    return build


@pytest.fixture
def member_client(client, tenant):
    """Log a new member of `tenant` with the given role into the test client."""

    def login(role: str) -> Membership:
        membership = Membership.unscoped.create(
            tenant=tenant, user=UserFactory(username=f"{role}-user"), role=role
        )
        client.force_login(membership.user)
        return membership

    return login


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness is a production property; tests only need a hash.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # A failing callback must not make a test wait for its quick retries.
    settings.DELIVERY_INLINE_RETRY_SECONDS = 0
    # No delivery loop runs in a test process: callbacks go through (inline) tasks.
    settings.DELIVERY_LOOPS = 0


# Tests that pace real RTP against SIPp processes in real time (see requirements-dev.txt).
REAL_TIME_SIP = ("tests/calls/test_sip_", "tests/carrier/sip/test_sipp_calls.py")


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = item.nodeid.replace("\\", "/")
        if path.startswith(REAL_TIME_SIP):
            item.add_marker(pytest.mark.flaky(reruns=1, reruns_delay=1))
