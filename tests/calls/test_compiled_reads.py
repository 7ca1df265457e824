"""The call API's reads compiled once per process (calls.lookups.CONNECTION_BY_ID,
calls.api.render.TARGETS / CONNECTED_PARTICIPANTS; issue 15): the SQL is built for the
first values it sees, so every later tenant, id and call must get its own rows, and the
tenant scoping must survive the compilation."""

import pytest

from callauto.errors import NotFound
from calls import call_verbs, lookups
from calls.api import render
from calls.identifiers import Identifier
from calls.models import Participant
from tenants import services as tenant_services

pytestmark = pytest.mark.django_db

CALLERS = {"acme": "+14255550100", "globex": "+14255550101"}


def place(tenant, *numbers):
    caller = CALLERS[tenant.slug]
    if not tenant.phone_numbers.filter(e164=caller).exists():
        tenant_services.add_phone_number(tenant, caller, actor=None)
    return call_verbs.create_call(
        tenant,
        targets=[Identifier.phone(n) for n in numbers],
        callback_uri="https://app.example.com/cb",
        source_caller_id=caller,
    )


def test_each_tenant_finds_its_own_connection_and_not_the_others(tenant, other_tenant):
    mine = place(tenant, "+14255550123")
    theirs = place(other_tenant, "+14255550124")

    assert lookups.get_connection(tenant, mine.call_connection_id).pk == mine.pk
    found = lookups.get_connection(other_tenant, theirs.call_connection_id)
    assert (found.pk, found.call.server_call_id) == (theirs.pk, theirs.call.server_call_id)
    with pytest.raises(NotFound):
        lookups.get_connection(tenant, theirs.call_connection_id)
    with pytest.raises(NotFound):
        lookups.get_connection(other_tenant, mine.call_connection_id)


def test_the_call_comes_with_the_connection(tenant, django_assert_num_queries):
    placed = place(tenant, "+14255550123")

    with django_assert_num_queries(1):
        found = lookups.get_connection(tenant, placed.call_connection_id)
        assert found.call.pk == placed.call_id


def test_participant_reads_match_the_querysets_for_every_call(tenant):
    first = place(tenant, "+14255550123", "+14255550124")
    second = place(tenant, "+14255550125")
    Participant.unscoped.filter(call=first.call, raw_id="4:+14255550124").update(
        state=Participant.State.CONNECTED
    )

    for connection in (first, second):
        call_id = connection.call_id
        targets = Participant.unscoped.filter(call_id=call_id, role=Participant.Role.TARGET)
        connected = Participant.unscoped.filter(
            call_id=call_id, state=Participant.State.CONNECTED
        ).order_by("joined_at", "pk")
        assert [p.raw_id for (p,) in render.TARGETS.rows(call_id)] == [
            p.raw_id for p in targets.order_by("pk")
        ]
        assert [(p.pk, p.state) for (p,) in render.CONNECTED_PARTICIPANTS.rows(call_id)] == [
            (p.pk, p.state) for p in connected
        ]
    assert [p.raw_id for (p,) in render.CONNECTED_PARTICIPANTS.rows(first.call_id)] == [
        "4:+14255550124"
    ]
