"""Shared fixtures: tenants, users, a live server that keeps the raw request target,
and SDK clients pointed at it."""

import fcntl
import tempfile
from pathlib import Path

import pytest
from azure.communication.callautomation import CallAutomationClient
from azure.core.credentials import AzureKeyCredential
from django.core.servers.basehttp import WSGIRequestHandler
from django.test.testcases import LiveServerThread
from pytest_django.live_server_helper import LiveServer

from tenants.models import AccessKey, Membership, Tenant
from tests.factories import UserFactory, make_tenant

# Django's own and ours (the same backend, a cheaper health check: callauto.postgresql).
POSTGRESQL_ENGINES = {"django.db.backends.postgresql", "callauto.postgresql"}


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
    if settings.DATABASES["default"]["ENGINE"] in POSTGRESQL_ENGINES:
        # A test database need not survive a server crash: commits (every save in the
        # transactional tests, every migration at set-up) then return without waiting for
        # the WAL to reach the shared machine's disk. What other sessions see is unchanged.
        options = settings.DATABASES["default"].setdefault("OPTIONS", {})
        options["options"] = f"{options.get('options', '')} -c synchronous_commit=off".strip()


def _template_name(database_name: str, testrunuid: str) -> str:
    return f"test_{database_name}_tpl_{testrunuid[:12]}"


def _migrate_into(connection, name: str) -> None:
    """Create database `name` as a test database (migrate, post_migrate), then put the
    connection's settings back."""
    test_settings = connection.settings_dict["TEST"]
    saved_test_name, saved_name = test_settings.get("NAME"), connection.settings_dict["NAME"]
    test_settings["NAME"] = name
    try:
        connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    finally:
        connection.close()
        test_settings["NAME"] = saved_test_name
        connection.settings_dict["NAME"] = saved_name
        from django.conf import settings

        settings.DATABASES[connection.alias]["NAME"] = saved_name


def _clone_worker_database(config, blocker) -> bool:
    """Under xdist on PostgreSQL, the first worker migrates a template database once for
    the run (the others wait on a file lock) and every worker's test database is a
    CREATE DATABASE ... TEMPLATE copy of it (well under a second instead of a migrate per
    worker: 51-72 s each on the loaded 2-core machine). The controller drops the template
    at the end (pytest_sessionfinish below). Returns whether the worker's database exists."""
    from django.db import connection

    workerinput = getattr(config, "workerinput", None)
    if workerinput is None or connection.vendor != "postgresql":
        return False
    quote = connection.ops.quote_name
    worker_name = connection.creation._get_test_db_name()
    template = _template_name(connection.settings_dict["NAME"], workerinput["testrunuid"])
    lock_path = Path(tempfile.gettempdir()) / f"{template}.lock"
    with blocker.unblock(), lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with connection.creation._nodb_cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", [template])
            exists = cursor.fetchone() is not None
        if not exists:
            _migrate_into(connection, template)
        with connection.creation._nodb_cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {quote(worker_name)}")
            cursor.execute(f"CREATE DATABASE {quote(worker_name)} TEMPLATE {quote(template)}")
    config.stash[_CLONED] = connection.settings_dict["NAME"]
    return True


_CLONED = pytest.StashKey[str]()  # the database name the clone was made for


@pytest.fixture(scope="session")
def django_db_keepdb(request, django_db_modify_db_settings, django_db_blocker) -> bool:
    # pytest-django's set-up keeps (does not re-create) a database that exists: the clone.
    if request.config.getvalue("reuse_db"):
        return True
    return _clone_worker_database(request.config, django_db_blocker)


def pytest_sessionfinish(session):
    """The xdist controller drops the run's template database (if a worker made one)."""
    dsession = session.config.pluginmanager.getplugin("dsession")
    nodemanager = getattr(dsession, "nodemanager", None)
    if getattr(session.config, "workerinput", None) is not None or nodemanager is None:
        return
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] not in POSTGRESQL_ENGINES:
        return
    import psycopg
    from psycopg import sql

    template = _template_name(database["NAME"], nodemanager.testrunuid)
    with psycopg.connect(
        dbname="postgres", host=database["HOST"] or None, port=database["PORT"] or None,
        user=database["USER"] or None, password=database["PASSWORD"] or None, autocommit=True,
    ) as conn:  # fmt: skip
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(template)))
    Path(tempfile.gettempdir(), f"{template}.lock").unlink(missing_ok=True)


@pytest.fixture(scope="session")
def django_db_setup(request, django_db_setup, django_db_blocker):
    # The same for the processes a test starts against the test database (gateway,
    # gunicorn): they connect with the URL alone.
    from django.db import connection

    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            name = connection.ops.quote_name(connection.settings_dict["NAME"])
            cursor.execute(f"ALTER DATABASE {name} SET synchronous_commit = off")
    yield
    if original_name := request.config.stash.get(_CLONED, None):
        # pytest-django keeps a database it did not create; the clone goes here.
        with django_db_blocker.unblock():
            try:
                connection.creation.destroy_test_db(original_name, verbosity=0)
            except Exception as exc:  # as pytest-django's own teardown: a warning
                request.node.warn(pytest.PytestWarning(f"Cannot drop the test database: {exc!r}"))


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
        deletes = " ".join(
            f"DELETE FROM {self.quote_name(table)};" for table in tables if table not in KEPT
        )
        return [f"SET CONSTRAINTS ALL DEFERRED; {deletes}"]

    return sql_flush


# Rows migrate's post_migrate makes and no test changes: the DELETE flush keeps them, so
# that post_migrate after it need not make them again (see _post_migrate_after_flush).
KEPT = ("django_content_type", "auth_permission")


def _post_migrate_after_flush(emit):
    """post_migrate after a flush without create_contenttypes and create_permissions when
    their rows were kept (0.4-0.7 s per transactional test on the loaded machine, for the
    same rows): the apps' receivers (ensure_schedules) still run, as after a migrate."""
    from django.contrib.auth.management import create_permissions
    from django.contrib.contenttypes.management import create_contenttypes
    from django.contrib.contenttypes.models import ContentType
    from django.db.models.signals import post_migrate

    auth_uid = "django.contrib.auth.management.create_permissions"

    def emit_post_migrate_signal(verbosity, interactive, db, **kwargs):
        if not ContentType.objects.using(db).exists():  # a TRUNCATE flush emptied them
            return emit(verbosity, interactive, db, **kwargs)
        post_migrate.disconnect(create_permissions, dispatch_uid=auth_uid)
        post_migrate.disconnect(create_contenttypes)
        try:
            return emit(verbosity, interactive, db, **kwargs)
        finally:
            post_migrate.connect(create_contenttypes)
            post_migrate.connect(create_permissions, dispatch_uid=auth_uid)

    return emit_post_migrate_signal


@pytest.fixture(scope="session", autouse=True)
def _flush_by_delete():
    from django.core.management.commands import flush
    from django.db.backends.postgresql.operations import DatabaseOperations

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DatabaseOperations, "sql_flush", _delete_flush(DatabaseOperations.sql_flush))
        emit = _post_migrate_after_flush(flush.emit_post_migrate_signal)
        patch.setattr(flush, "emit_post_migrate_signal", emit)
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


# The longest tests (tens of seconds each: a booted make-run stack, fuzzing, Chromium,
# real-time SIP) run first, so that no worker ends the run alone with a long test drawn
# last (the smoke test sat at ~85 % of the order). `make test` runs `--dist worksteal`:
# the first worker starts on these, the other on the rest, and whoever runs dry takes half
# of the other's queue from its end (xdist 3.8's default `load` would give all of them to
# the first worker's initial chunk).
LONG_FIRST = (
    "tests/test_smoke.py",
    "tests/fuzz/",
    "tests/browser/",
    "tests/calls/test_sip_",
    "tests/carrier/sip/test_sipp_calls.py",
)


def _long_first(item) -> int:
    path = item.nodeid.replace("\\", "/")
    return next(
        (rank for rank, prefix in enumerate(LONG_FIRST) if path.startswith(prefix)), len(LONG_FIRST)
    )


def pytest_collection_modifyitems(config, items):
    items.sort(key=_long_first)  # stable: the same order on every xdist worker
    for item in items:
        path = item.nodeid.replace("\\", "/")
        if path.startswith(REAL_TIME_SIP):
            item.add_marker(pytest.mark.flaky(reruns=1, reruns_delay=1))
