"""Issue 17, item 13: the first run's facts stay reachable: `demo_info` prints them again,
`seed_demo` makes a platform operator, and polling stays out of the access log."""

import io
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from callauto.access_log import QuietPollingLogger, is_polling

pytestmark = pytest.mark.django_db


def test_demo_info_prints_the_logins_and_connection_string_again(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=io.StringIO())
    out = io.StringIO()

    call_command("demo_info", stdout=out)

    printed = out.getvalue()
    assert f"demo / {(tmp_path / 'demo_password').read_text()}" in printed
    assert f"operator / {(tmp_path / 'operator_password').read_text()}" in printed
    assert "endpoint=https://" in printed
    assert "manage.py demo_info" in printed


def test_seed_demo_makes_a_platform_operator_that_can_log_in(settings, tmp_path, client):
    settings.VAR_DIR = tmp_path
    call_command("seed_demo", stdout=io.StringIO())
    call_command("seed_demo", stdout=io.StringIO())  # again: same login

    operator = get_user_model().objects.get(username="operator")
    assert operator.is_superuser
    assert operator.is_staff
    assert operator.check_password((tmp_path / "operator_password").read_text())
    client.force_login(operator)
    assert client.get("/admin/").status_code == 200


def test_demo_info_before_seed_demo_says_what_to_run(settings, tmp_path):
    settings.VAR_DIR = tmp_path

    with pytest.raises(CommandError, match="seed_demo"):
        call_command("demo_info", stdout=io.StringIO())


@pytest.mark.parametrize(
    ("path", "query", "status", "quiet"),
    [
        ("/portal/t/demo/calls/12/timeline/", "", 200, True),
        ("/portal/t/demo/softphone/state/", "as=3", 200, True),
        ("/portal/t/demo/calls/", "live=1", 200, True),
        ("/portal/t/demo/calls/", "", 200, False),
        ("/portal/t/demo/calls/12/timeline/", "", 500, False),  # failures are always logged
        ("/t/demo/calling/callConnections", "", 201, False),
    ],
)
def test_polling_is_kept_out_of_the_access_log(path, query, status, quiet):
    assert is_polling(path, query, status) is quiet


def test_the_logger_skips_polling_and_logs_the_rest(monkeypatch):
    logged = []
    monkeypatch.setattr(
        "gunicorn.glogging.Logger.access", lambda self, resp, *rest: logged.append(resp)
    )
    logger = QuietPollingLogger.__new__(QuietPollingLogger)
    poll = {"PATH_INFO": "/portal/t/demo/softphone/state/", "QUERY_STRING": ""}
    page = {"PATH_INFO": "/portal/t/demo/", "QUERY_STRING": ""}
    ok = SimpleNamespace(status="200 OK")

    logger.access(ok, None, poll, 0.01)
    logger.access(ok, None, page, 0.01)

    assert logged == [ok]
