"""The calls "number" filter (issue 17 item 8): a pasted full number or a part of one, on
the caller id, the called number or any leg's raw id (an ACS user id too), in a constant
number of statements, served on PostgreSQL by the trigram indexes of calls 0008."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calls.models import Participant
from tests.portal import seeds
from tests.portal.test_lists import listed, url

pytestmark = pytest.mark.django_db

ACS_USER = "8:acs:1b5cc06b-f352-4571-b1e6-d9b259b7c776_00000027-aaaa-bbbb-0000-cccc"


def test_a_pasted_full_number_finds_the_call_by_caller_or_called_number(client, tenant, user):
    inbound = seeds.call(tenant, direction="inbound", source_caller_id="+14255550123")
    dialled = seeds.call(tenant, to_number="+14255550123")
    seeds.call(tenant, source_caller_id="+14255550124", to_number="+14255550100")
    client.force_login(user)

    assert listed(client, "calls", number="+1 (425) 555-0123") == {inbound.pk, dialled.pk}
    assert listed(client, "calls", number="+1.425.555.0123") == {inbound.pk, dialled.pk}
    assert listed(client, "calls", number="5550123") == {inbound.pk, dialled.pk}


def test_a_part_of_a_participants_acs_user_id_finds_its_call(client, tenant, user):
    joined = seeds.call(tenant)
    Participant.unscoped.create(
        tenant=tenant, call=joined, role=Participant.Role.ADDED, raw_id=ACS_USER
    )
    seeds.dialled(tenant, "+14255550123")
    client.force_login(user)

    assert listed(client, "calls", number="0027-AAAA-bbbb") == {joined.pk}  # any case
    assert listed(client, "calls", number="8:acs:1b5cc06b") == {joined.pk}
    assert listed(client, "calls", number="0027-aaaa-dddd") == set()


def test_recordings_find_a_part_of_an_acs_user_id_with_its_dashes(client, tenant, user):
    joined = seeds.call(tenant)
    Participant.unscoped.create(
        tenant=tenant, call=joined, role=Participant.Role.ADDED, raw_id=ACS_USER
    )
    recording = seeds.recording(tenant, joined)
    seeds.recording(tenant, seeds.dialled(tenant, "+14255550123"))
    client.force_login(user)

    assert listed(client, "recordings", number="0027-aaaa-bbbb") == {recording.pk}


def test_like_wildcards_in_the_text_are_literal(client, tenant, user):
    seeds.dialled(tenant, "+14255550123")
    client.force_login(user)

    assert listed(client, "calls", number="555%123") == set()
    assert listed(client, "calls", number="555_0123") == set()


def test_a_number_filtered_page_costs_the_same_statements_however_many_rows(client, tenant, user):
    client.force_login(user)
    path = url("portal:calls") + "?number=5550100"  # seeds.calls' caller id
    seeds.calls(tenant, 3)
    with CaptureQueriesContext(connection) as few:
        assert client.get(path).status_code == 200

    seeds.calls(tenant, 120)
    with CaptureQueriesContext(connection) as many:
        first = client.get(path)

    assert len(first.context["page"]) > 3
    assert len(many) == len(few)


def test_the_trigram_indexes_exist_on_postgresql():
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE %s", ["%_trgm"]
        )
        indexes = dict(cursor.fetchall())

    assert set(indexes) >= {"call_caller_trgm", "call_to_trgm", "participant_raw_id_trgm"}
    assert all("gin_trgm_ops" in definition for definition in indexes.values())
