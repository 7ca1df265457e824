"""Boot what `make run` boots, on the embedded SQLite default, and use it as a newcomer would:
the SDK over HTTPS with the printed connection string, and the portal login over HTTP."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from azure.communication.callautomation import (
    CallAutomationClient,
    PhoneNumberIdentifier,
    TextSource,
)
from azure.core.exceptions import ResourceNotFoundError

from tests.receiver import CallbackReceiver

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_udp_port() -> int:
    # SIPp also takes port + 10 and + 12 for media (scripts/sip_lab.sh).
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port < 65000:
            return port


def manage(env: dict, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def wait_for(url: str, verify: str | bool, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if requests.get(url, verify=verify, timeout=2).status_code == 200:
                return
        except (requests.ConnectionError, requests.Timeout):  # not listening, or still booting
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(url)
        time.sleep(0.3)


@pytest.fixture
def make_run(tmp_path_factory):
    """migrate, make_dev_cert, seed_demo, then the Procfile under honcho, as `make run` does."""
    tmp_path = tmp_path_factory.mktemp("make-run")
    https_port, http_port = free_port(), free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "SECRET_KEY", "DEBUG")
    }
    env.update(
        CALLAUTO_VAR_DIR=str(tmp_path),
        HTTPS_PORT=str(https_port),
        HTTP_PORT=str(http_port),
        PUBLIC_BASE_URL=f"https://127.0.0.1:{https_port}",
        CSRF_TRUSTED_ORIGINS=f"http://127.0.0.1:{http_port}",
        WEB_CONCURRENCY="1",
        Q_WORKERS="1",
        # The SIP lab peer (SIPp) and the trunks' SIP ports: free ones, not the defaults.
        SIP_LAB_PORT=str(free_udp_port()),
        SIP_PORT_BASE="0",
        SIP_TRUNK_CHECK_SECONDS="1",
    )
    manage(env, "migrate", "--noinput")
    manage(env, "make_dev_cert")
    banner = manage(env, "seed_demo")
    assert manage(env, "seed_demo") == banner  # idempotent: same login, same keys
    honcho = subprocess.Popen(
        [str(ROOT / ".venv/bin/honcho"), "start", "-f", "Procfile"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    ca = str(tmp_path / "tls" / "ca.pem")
    try:
        wait_for(f"https://127.0.0.1:{https_port}/healthz", verify=ca)
        wait_for(f"http://127.0.0.1:{http_port}/healthz", verify=False)
        yield {"banner": banner, "ca": ca, "http": f"http://127.0.0.1:{http_port}"}
    finally:
        os.killpg(honcho.pid, signal.SIGTERM)
        honcho.wait(timeout=30)


def check_make_run_serves_the_sdk_over_https_and_the_portal_login(make_run):
    banner = make_run["banner"]
    connection_string = re.search(r"Connection string: (\S+)", banner)[1]
    client = CallAutomationClient.from_connection_string(
        connection_string, connection_verify=make_run["ca"]
    )
    with pytest.raises(ResourceNotFoundError):
        client.get_call_connection("no-such-call").get_call_properties()

    _session, page = log_in(make_run)
    assert page.status_code == 200
    assert "Demo Clinic" in page.text
    assert page.url.endswith("/portal/t/demo/")


def log_in(make_run) -> tuple[requests.Session, requests.Response]:
    username, password = re.search(r"Login: +(\S+) / (\S+)", make_run["banner"]).groups()
    session = requests.Session()
    login_url = make_run["http"] + "/accounts/login/"
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', session.get(login_url).text)
    page = session.post(
        login_url,
        data={"username": username, "password": password, "csrfmiddlewaretoken": csrf[1]},
        headers={"Referer": login_url},
        timeout=10,
    )
    return session, page


PAGES = [
    "", "calls/", "recordings/", "deliveries/", "softphone/", "usage/", "audit/",
    "settings/keys/", "settings/numbers/", "settings/callees/", "settings/webhooks/",
    "settings/members/", "settings/retention/", "settings/rates/",
    "reminders/appointments/", "reminders/plans/", "reminders/imports/", "reminders/report/",
]  # fmt: skip


def check_every_main_portal_page_renders_on_the_embedded_database(make_run):
    session, _ = log_in(make_run)

    for page in PAGES:
        response = session.get(f"{make_run['http']}/portal/t/demo/{page}", timeout=10)
        assert response.status_code == 200, page


def check_an_out_of_range_number_filter_is_a_400_on_the_embedded_database(make_run):
    # SQLite's driver raises OverflowError past 64 bits, which was a 500 (issue 12).
    session, _ = log_in(make_run)

    response = session.get(
        f"{make_run['http']}/t/demo/api/v1/appointments?contact=-3.9e48", timeout=10
    )

    assert response.status_code == 400, response.text
    assert response.json()["error"]["details"][0]["target"] == "contact"


def check_make_run_places_a_call_that_reaches_call_connected(make_run):
    connection_string = re.search(r"Connection string: (\S+)", make_run["banner"])[1]
    client = CallAutomationClient.from_connection_string(
        connection_string, connection_verify=make_run["ca"]
    )
    receiver = CallbackReceiver()
    try:
        props = client.create_call(
            PhoneNumberIdentifier("+14255550123"),
            receiver.url,
            source_caller_id_number=PhoneNumberIdentifier("+14255550100"),
        )
        # Real time: the gateway dials, the simulated callee answers after ~1 s, the
        # django-q2 worker posts the callback.
        wait_until(receiver, "CallConnected", seconds=30)
        connection = client.get_call_connection(props.call_connection_id)
        assert connection.get_call_properties().call_connection_state == "connected"

        # Media in real time: the spoken prompt lasts as long as its audio; it is recorded.
        recording = client.start_recording(
            call_connection_id=props.call_connection_id, recording_state_callback_url=receiver.url
        )
        started = time.monotonic()
        connection.play_media_to_all(TextSource(text="Hello from callauto."))
        wait_until(receiver, "PlayCompleted", seconds=30)
        assert time.monotonic() - started >= 1.0  # about 1.5 s of speech
        connection.hang_up(is_for_everyone=True)  # ends the recording too
        wait_until(receiver, "CallDisconnected", seconds=30)
        # The gateway stops the recording with the call and stores its file.
        deadline = time.monotonic() + 20
        state = lambda: client.get_recording_properties(recording.recording_id)  # noqa: E731
        while state().recording_state != "inactive" and time.monotonic() < deadline:
            time.sleep(0.2)
        session, _ = log_in(make_run)
        page = session.get(f"{make_run['http']}/portal/t/demo/recordings/", timeout=10)
        assert "<audio" in page.text
    finally:
        receiver.close()


def wait_until(receiver: CallbackReceiver, event_type: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while event_type not in receiver.types() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert event_type in receiver.types(), receiver.types()


def check_make_run_places_a_real_sip_call_to_the_local_sip_lab(make_run):
    """README's SIP example: the lab's number is on the trunk "Local SIP lab", whose peer
    is SIPp (Procfile "siplab") echoing; the gateway runs with --driver sip."""
    connection_string = re.search(r"Connection string: (\S+)", make_run["banner"])[1]
    client = CallAutomationClient.from_connection_string(
        connection_string, connection_verify=make_run["ca"]
    )
    receiver = CallbackReceiver()
    try:
        props = client.create_call(
            PhoneNumberIdentifier("+14255550123"),
            receiver.url,
            source_caller_id_number=PhoneNumberIdentifier("+14255550102"),
        )
        wait_until(receiver, "CallConnected", seconds=30)
        connection = client.get_call_connection(props.call_connection_id)
        connection.play_media_to_all(TextSource(text="Hello over SIP."))
        wait_until(receiver, "PlayCompleted", seconds=30)
        connection.hang_up(is_for_everyone=True)
        wait_until(receiver, "CallDisconnected", seconds=30)
        session, _ = log_in(make_run)
        trunks = session.get(f"{make_run['http']}/portal/t/demo/settings/trunks/", timeout=10)
        assert "Local SIP lab" in trunks.text
        deadline = time.monotonic() + 15  # the leg's trace comes a second after it ends
        page = ""
        while "sip-ladder" not in page and time.monotonic() < deadline:
            calls = session.get(f"{make_run['http']}/portal/t/demo/calls/", timeout=10).text
            for path in re.findall(r'href="(/portal/t/demo/calls/\d+/)"', calls):
                page = session.get(make_run["http"] + path, timeout=10).text
                if "sip-ladder" in page:
                    break
            time.sleep(0.5)
        assert '<svg class="sip-ladder"' in page
    finally:
        receiver.close()


CHECKS = [
    check_make_run_serves_the_sdk_over_https_and_the_portal_login,
    check_every_main_portal_page_renders_on_the_embedded_database,
    check_an_out_of_range_number_filter_is_a_400_on_the_embedded_database,
    check_make_run_places_a_call_that_reaches_call_connected,
    check_make_run_places_a_real_sip_call_to_the_local_sip_lab,
]


def test_make_run_as_a_newcomer_would(make_run, subtests):
    """One boot of the stack for all the checks, each reported as a subtest (`-k` cannot
    pick one: run this test). Booting is most of the time (60-170 s on the loaded 2-core
    machine): a module-scoped stack shared by separate tests was booted once per xdist
    worker that got one of them."""
    for check in CHECKS:
        with subtests.test(check.__name__.removeprefix("check_")):
            if check is check_make_run_places_a_real_sip_call_to_the_local_sip_lab and (
                shutil.which("sipp") is None
            ):
                pytest.skip("SIPp (Debian sip-tester) is missing")
            check(make_run)
