"""10,000 households: launch, the dispatcher's tick, progress, the CSV export and the CSV
upload each take a fixed number of statements, whatever the number of contacts. Each
test runs the same operation on a small and a ten times larger audience and compares
the statements: one more per contact would show as a difference."""

import itertools
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from notifications import audiences, dispatcher, progress, services
from notifications.models import Audience, Dial, Disposition, Notification, Recipient
from reminders.models import Contact
from tenants.models import PhoneNumber
from tests.notifications.conftest import household

pytestmark = pytest.mark.usefixtures("clock")
SMALL, LARGE = 3, 30


def statements(operation, *, touching: str = "") -> tuple[object, list[str]]:
    """Run `operation`; its result and the SQL it sent (those naming `touching`)."""
    with CaptureQueriesContext(connection) as captured:
        result = operation()
    return result, [q["sql"] for q in captured.captured_queries if touching in q["sql"]]


def households(acme, first: int, count: int, area: str) -> Audience:
    for n in range(first, first + count):
        household(acme, n, area=area)
    return services.save_audience(acme, actor=None, name=area, areas=[area])


def launched(acme, notify, first: int, count: int, area: str) -> Notification:
    audience = households(acme, first, count, area)
    notification = notify(name=f"Outage {area}", audience=audience)
    return services.launch(acme, notification.pk, actor=None)


def test_launch_materialises_the_audience_in_bulk(acme, notify):
    small_audience = households(acme, 1, SMALL, "small")
    large_audience = households(acme, 100, LARGE, "large")
    small = notify(name="Small", audience=small_audience)
    large = notify(name="Large", audience=large_audience)

    _, few = statements(lambda: services.launch(acme, small.pk, actor=None))
    _, many = statements(lambda: services.launch(acme, large.pk, actor=None))

    assert Recipient.unscoped.filter(notification=large).count() == LARGE
    assert len(many) == len(few)


@pytest.mark.django_db(transaction=True)
def test_a_tick_reads_in_bulk_and_writes_three_statements_per_call(acme, notify):
    acme.calls_per_second = acme.max_concurrent_calls = 100
    acme.save()
    small = launched(acme, notify, 1, SMALL, "small")

    placed_few, few = statements(lambda: dispatcher.tick(acme), touching="notifications_")
    Notification.unscoped.filter(pk=small.pk).update(status=Notification.Status.PAUSED)
    launched(acme, notify, 100, LARGE, "large")
    placed_many, many = statements(lambda: dispatcher.tick(acme), touching="notifications_")

    assert (placed_few, placed_many) == (SMALL, LARGE)
    assert Dial.objects.for_tenant(acme).count() == SMALL + LARGE
    # Our statements (not the engine's create_call, which is one per call by nature): the
    # reads once per tick whatever the batch; per call its own three writes (the round
    # taken, its dial inserted, the dial's connection id).
    reads = [[sql for sql in run if sql.startswith("SELECT")] for run in (few, many)]
    assert len(reads[0]) == len(reads[1])
    assert len(many) - len(reads[1]) == 3 * LARGE
    assert len(few) - len(reads[0]) == 3 * SMALL
    numbers = Dial.objects.for_tenant(acme).exclude(call_connection_id="").count()
    assert numbers == SMALL + LARGE  # the connection ids were written back


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite: one transaction")
@pytest.mark.django_db(transaction=True)
def test_a_tick_commits_each_call_before_the_next(acme, notify):
    """create_call locks the tenant's live-call counter row until its transaction ends: a
    tick in one transaction held it across all its calls, and every call of the tenant
    that ended (the gateway) or was hung up (a callback) waited for the whole tick."""
    acme.calls_per_second = acme.max_concurrent_calls = 100
    acme.save()
    launched(acme, notify, 1, SMALL, "small")

    placed, sent = statements(lambda: dispatcher.tick(acme))

    assert placed == SMALL
    taken = [i for i, sql in enumerate(sent) if "UPDATE calls_livecalls SET live = live + 1" in sql]
    commits = [i for i, sql in enumerate(sent) if sql.startswith("COMMIT")]
    assert len(taken) >= SMALL
    assert commits[-1] > taken[-1]
    # The counter's lock is let go with each call, not held until the tick's end.
    for one, following in itertools.pairwise(taken):
        assert any(one < commit < following for commit in commits), sent[one:following]


def finish_some(notification: Notification) -> None:
    """Half the recipients acknowledged, a few on voicemail, the rest waiting."""
    start = timezone.now()
    Notification.unscoped.filter(pk=notification.pk).update(started_at=start)
    rows = list(Recipient.unscoped.filter(notification=notification))
    for index, recipient in enumerate(rows[: len(rows) // 2]):
        recipient.state = Recipient.State.DONE
        recipient.disposition = Disposition.ACKNOWLEDGED if index % 3 else Disposition.VOICEMAIL
        recipient.finished_at = start + timedelta(seconds=index)
        recipient.dial_count = 1
    Recipient.unscoped.bulk_update(rows, ["state", "disposition", "finished_at", "dial_count"])
    notification.refresh_from_db()


def test_progress_is_counted_in_sql(acme, notify):
    small = launched(acme, notify, 1, SMALL, "small")
    large = launched(acme, notify, 100, LARGE, "large")
    finish_some(small)
    finish_some(large)

    _, few = statements(lambda: progress.progress(small))
    state, many = statements(lambda: progress.progress(large))

    assert len(many) == len(few)
    assert (state["total"], state["remaining"]) == (LARGE, LARGE - LARGE // 2)
    assert state["reached"] == LARGE // 2
    assert state["acknowledged"] == sum(1 for i in range(LARGE // 2) if i % 3)


def test_the_reach_chart_is_cumulative_over_time(acme, notify):
    notification = launched(acme, notify, 1, 10, "zone")
    finish_some(notification)  # 5 reached at 0..4 s after the start, 3 of them acked
    now = notification.started_at + timedelta(seconds=60)

    chart = progress.reach_over_time(notification, now)

    by_second = {p["seconds"]: (p["reached"], p["acknowledged"]) for p in chart}
    assert len(chart) == progress.CHART_POINTS + 1
    assert by_second[0] == (0, 0)
    assert by_second[1] == (1, 0)  # finished at 0 s: voicemail
    assert by_second[3] == (3, 2)
    assert by_second[60] == (5, 3)
    assert [p["reached"] for p in chart] == sorted(p["reached"] for p in chart)


def test_the_csv_export_streams_in_a_fixed_number_of_statements(client, user, acme, notify):
    client.force_login(user)
    small = launched(acme, notify, 1, SMALL, "small")
    large = launched(acme, notify, 100, LARGE, "large")

    def export(notification: Notification) -> list[str]:
        url = f"/portal/t/{acme.slug}/notifications/{notification.pk}/results.csv"
        response = client.get(url)
        assert response.streaming
        return b"".join(response.streaming_content).decode().splitlines()

    _, few = statements(lambda: export(small), touching="notifications_")
    lines, many = statements(lambda: export(large), touching="notifications_")

    assert len(lines) == LARGE + 1
    assert lines[1].startswith("Household 100,+14255560100,large,waiting")
    assert len(many) == len(few)


def upload(acme, count: int, first: int) -> str:
    numbers = range(first, first + count)
    rows = [f"Person {n},+1425557{n:04d},zone-{n % 3},tag{n % 2},es-ES" for n in numbers]
    return "name,phone,area,tags,language\n" + "\n".join(rows) + "\n"


def test_a_csv_upload_upserts_in_bulk(acme):
    household(acme, 1)  # an existing contact the uploads update
    small = services.save_audience(acme, actor=None, name="Small upload")
    large = services.save_audience(acme, actor=None, name="Large upload")
    existing = "Renamed,+14255560001,zone-1,,\n"

    _, few = statements(
        lambda: audiences.upload_csv(acme, small, upload(acme, SMALL, 10) + existing, actor=None)
    )
    added, many = statements(
        lambda: audiences.upload_csv(acme, large, upload(acme, LARGE, 100) + existing, actor=None)
    )

    assert added == LARGE + 1
    assert len(many) == len(few)
    assert audiences.count(large).matching == LARGE + 1
    renamed = Contact.objects.for_tenant(acme).get(phone="+14255560001")
    assert (renamed.name, renamed.area) == ("Renamed", "zone-1")
    person = Contact.objects.for_tenant(acme).get(phone="+14255570100")
    assert (person.area, person.tag_list, person.language) == ("zone-1", ["tag0"], "es-ES")
    assert person.time_zone  # filled from the number, as a contact saved alone


def test_a_number_listed_twice_keeps_its_last_row(acme):
    audience = services.save_audience(acme, actor=None, name="Upload")
    csv = "name,phone,area\nAnn,+14255560001,zone-1\nAnnie,+1 425 556 0001,zone-2\n"

    audiences.upload_csv(acme, audience, csv, actor=None)

    only = Contact.objects.for_tenant(acme).get()
    assert (only.name, only.area) == ("Annie", "zone-2")
    assert audience.members.count() == 1


def test_an_invalid_field_in_a_row_is_reported_with_its_row(acme):
    audience = services.save_audience(acme, actor=None, name="Upload")
    csv = "name,phone,timezone\nAnn,+14255560001,Mars/Olympus\n"

    with pytest.raises(Exception, match="row 2"):
        audiences.upload_csv(acme, audience, csv, actor=None)
    assert not Contact.objects.for_tenant(acme).exists()
    assert PhoneNumber.objects.for_tenant(acme).count() == 2  # the fixture's, untouched
