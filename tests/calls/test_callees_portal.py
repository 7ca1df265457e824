"""The portal's test-callee settings: scripts for the simulated carrier, per tenant."""

import pytest
from django.urls import reverse

from calls.callees import delete_callee, save_callee
from calls.gateway import Gateway
from calls.models import SimulatedCallee
from carrier.interface import CalleeScript, KeyPress
from tenants.models import AuditEntry, Membership

pytestmark = pytest.mark.django_db

Role = Membership.Role
NUMBER = "4:+14255550123"


def url(slug: str = "acme") -> str:
    return reverse("portal:callees", kwargs={"tenant_slug": slug})


def edit_url(callee_id: int, slug: str = "acme") -> str:
    return reverse("portal:edit_callee", kwargs={"tenant_slug": slug, "callee_id": callee_id})


def form(**overrides: str) -> dict[str, str]:
    data = {
        "raw_id": "+1 425 555 0123",
        "outcome": "busy",
        "answer_after": "1",
        "hang_up_after": "",
        "keys": "",
    }
    return data | overrides


def scripted(tenant, raw_id: str = NUMBER, **fields) -> SimulatedCallee:
    return save_callee(tenant, actor=None, raw_id=raw_id, **fields)


def actions(tenant) -> list[str]:
    return list(AuditEntry.objects.for_tenant(tenant).values_list("action", flat=True))


def test_the_page_renders_for_a_viewer_with_the_callees_and_the_default(
    client, tenant, member_client
):
    scripted(tenant, outcome="voicemail")
    member_client(Role.VIEWER)

    response = client.get(url())

    page = response.content.decode()
    assert response.status_code == 200
    assert NUMBER in page
    assert "answer after 1&nbsp;s and stay on the call until it is hung up" in page
    assert "Add a callee" not in page


def test_the_page_requires_login(client, tenant):
    response = client.get(url())

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_an_admin_adds_a_busy_callee_stored_normalized_and_audited(client, tenant, member_client):
    member_client(Role.ADMIN)

    response = client.post(url(), form(keys="2:1, 5:#, 0.5:a"))

    assert response.status_code == 302
    callee = SimulatedCallee.objects.for_tenant(tenant).get()
    assert callee.raw_id == NUMBER
    assert callee.outcome == "busy"
    assert callee.answer_after == 1.0
    assert callee.hang_up_after is None
    assert callee.keys == [[0.5, "A"], [2.0, "1"], [5.0, "#"]]
    entry = AuditEntry.objects.for_tenant(tenant).get(action="simulated_callee.add")
    assert entry.actor_label == "admin-user"
    assert entry.after["raw_id"] == NUMBER


@pytest.mark.parametrize("text", ["8:acs:res_user", "4:+1 (425) 555-0123"])
def test_a_raw_id_is_accepted_and_stored_canonical(client, tenant, user, text):
    client.force_login(user)

    client.post(url(), form(raw_id=text))

    expected = text if text.startswith("8:") else NUMBER
    assert SimulatedCallee.objects.for_tenant(tenant).get().raw_id == expected


def test_the_edit_page_shows_the_keys_as_they_are_typed(client, tenant, user):
    callee = scripted(tenant, keys=[[2.0, "1"], [5.5, "#"]])
    client.force_login(user)

    page = client.get(edit_url(callee.pk)).content.decode()

    assert 'value="2:1, 5.5:#"' in page


def test_editing_changes_the_outcome_and_is_audited(client, tenant, user):
    callee = scripted(tenant, outcome="answer")
    client.force_login(user)

    response = client.post(edit_url(callee.pk), form(raw_id=NUMBER, outcome="reject"))

    assert response.status_code == 302
    callee.refresh_from_db()
    assert callee.outcome == "reject"
    entry = AuditEntry.objects.for_tenant(tenant).get(action="simulated_callee.change")
    assert entry.before == {"outcome": "answer"}
    assert entry.after == {"outcome": "reject"}


def test_deleting_removes_the_callee_and_is_audited(client, tenant, user):
    callee = scripted(tenant)
    client.force_login(user)

    response = client.post(url(), {"remove": callee.pk})

    assert response.status_code == 302
    assert not SimulatedCallee.objects.for_tenant(tenant).exists()
    assert "simulated_callee.remove" in actions(tenant)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (form(raw_id="555-0199"), "is not a phone number"),
        (form(raw_id="+1-800-FLOWERS"), "E.164"),
        (form(raw_id="4:+1"), "is not a phone number"),
        (form(raw_id="8:orgid:abc"), "Teams identifiers are not supported"),
        (form(keys="2:x"), "is not a key"),
        (form(keys="-1:1"), "times start at 0"),
        (form(keys="soon:1"), "is not seconds:key"),
        (form(keys="nan:1"), "is not a number of seconds"),
        (form(keys=", ".join(f"{n}:1" for n in range(21))), "At most 20 key presses"),
        (form(answer_after="121"), "less than or equal to 120"),
        (form(hang_up_after="3601"), "less than or equal to 3600"),
        (form(outcome="explode"), "Select a valid choice"),
    ],
)
def test_bad_input_shows_a_form_error_and_stores_nothing(client, tenant, user, data, message):
    client.force_login(user)

    response = client.post(url(), data)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not SimulatedCallee.objects.for_tenant(tenant).exists()
    assert not any(action.startswith("simulated_callee") for action in actions(tenant))


def test_a_number_already_scripted_is_a_form_error(client, tenant, user):
    scripted(tenant, outcome="answer")
    client.force_login(user)

    response = client.post(url(), form(raw_id="+1 425-555-0123"))

    assert response.status_code == 200
    assert "already has a script" in response.content.decode()
    assert SimulatedCallee.objects.for_tenant(tenant).get().outcome == "answer"


def test_editing_onto_another_callees_number_is_a_form_error(client, tenant, user):
    scripted(tenant)
    other = scripted(tenant, "8:acs:res_user")
    client.force_login(user)

    response = client.post(edit_url(other.pk), form(raw_id=NUMBER))

    assert response.status_code == 200
    assert "already has a script" in response.content.decode()
    other.refresh_from_db()
    assert other.raw_id == "8:acs:res_user"


def test_the_same_number_may_be_scripted_by_two_tenants(client, tenant, other_tenant, user):
    scripted(other_tenant)
    client.force_login(user)

    assert client.post(url(), form()).status_code == 302
    assert SimulatedCallee.objects.for_tenant(tenant).get().raw_id == NUMBER


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
def test_viewers_and_operators_cannot_change_callees(client, tenant, member_client, role):
    callee = scripted(tenant, outcome="answer")
    member_client(role)
    audit_before = AuditEntry.objects.for_tenant(tenant).count()

    assert client.get(edit_url(callee.pk)).status_code == 200
    assert client.post(url(), form(raw_id="+14255550199")).status_code == 403
    assert client.post(edit_url(callee.pk), form(raw_id=NUMBER)).status_code == 403
    assert client.post(url(), {"remove": callee.pk}).status_code == 403

    assert list(SimulatedCallee.objects.for_tenant(tenant)) == [callee]
    callee.refresh_from_db()
    assert callee.outcome == "answer"
    assert AuditEntry.objects.for_tenant(tenant).count() == audit_before


def test_another_tenants_callee_is_404_to_edit_and_delete(client, tenant, other_tenant, user):
    theirs = scripted(other_tenant, outcome="answer")
    client.force_login(user)

    assert client.get(edit_url(theirs.pk)).status_code == 404
    assert client.post(edit_url(theirs.pk), form(raw_id=NUMBER)).status_code == 404
    assert client.post(url(), {"remove": theirs.pk}).status_code == 404

    theirs.refresh_from_db()
    assert (theirs.tenant_id, theirs.outcome) == (other_tenant.id, "answer")
    assert not SimulatedCallee.objects.for_tenant(tenant).exists()


def test_removing_a_malformed_id_is_404(client, tenant, user):
    client.force_login(user)

    assert client.post(url(), {"remove": "abc"}).status_code == 404


def test_another_tenants_page_is_404(client, tenant, other_tenant, user):
    theirs = scripted(other_tenant)
    client.force_login(user)

    assert client.get(url("globex")).status_code == 404
    assert client.post(url("globex"), form()).status_code == 404
    assert client.get(edit_url(theirs.pk, "globex")).status_code == 404
    assert not SimulatedCallee.objects.for_tenant(tenant).exists()


def test_the_services_refuse_another_tenants_callee(tenant, other_tenant, user):
    theirs = scripted(other_tenant)

    with pytest.raises(SimulatedCallee.DoesNotExist):
        save_callee(tenant, actor=user, callee_id=theirs.pk, outcome="fail")
    with pytest.raises(SimulatedCallee.DoesNotExist):
        delete_callee(tenant, theirs.pk, actor=user)

    theirs.refresh_from_db()
    assert theirs.outcome == "answer"


def test_a_callee_added_in_the_portal_drives_the_gateways_script(client, tenant, user):
    client.force_login(user)
    client.post(url(), form(outcome="busy", answer_after="2.5", keys="2:1, 5:#"))

    script = Gateway._script(tenant, NUMBER)

    assert script == CalleeScript(
        outcome="busy",
        answer_after=2.5,
        hang_up_after=None,
        keys=(KeyPress(2.0, "1"), KeyPress(5.0, "#")),
    )


def test_the_list_shows_keys_pressed_into_a_prompt(client, tenant, user):
    scripted(tenant, keys=[[2.0, "1"], [1.5, "3", "prompt"]])
    client.force_login(user)

    page = client.get(url()).content.decode()

    assert "<code>1</code>@2.0&nbsp;s," in page
    assert "<code>3</code>@1.5&nbsp;s&nbsp;into&nbsp;a&nbsp;prompt" in page


def test_an_admin_scripts_a_key_pressed_into_the_next_prompt(client, tenant, member_client):
    member_client(Role.ADMIN)

    client.post(url(), {"raw_id": NUMBER, "outcome": "answer", "answer_after": 1,
                        "keys": "p1.5:3, 2:1"})  # fmt: skip

    callee = SimulatedCallee.objects.for_tenant(tenant).get()
    assert callee.keys == [[2.0, "1"], [1.5, "3", "prompt"]]


def test_a_callee_is_scripted_to_speak_from_the_form(client, tenant, user):
    client.force_login(user)

    response = client.post(url(), form(outcome="answer", says="2:yes please; p1:confirm"))

    assert response.status_code == 302
    callee = SimulatedCallee.unscoped.get(tenant=tenant)
    assert callee.says == [[2.0, "yes please"], [1.0, "confirm", "prompt"]]
    page = client.get(edit_url(callee.pk)).content.decode()
    assert 'value="2:yes please; p1:confirm"' in page


@pytest.mark.parametrize(
    ("says", "mentions"),
    [("yes please", "is not seconds:words"), ("2:", "1 to 200 characters"), ("-1:hi", "before")],
)
def test_bad_phrases_are_refused_with_a_reason(client, tenant, user, says, mentions):
    client.force_login(user)

    response = client.post(url(), form(outcome="answer", says=says))

    assert response.status_code == 200
    assert mentions in response.content.decode()
    assert not SimulatedCallee.unscoped.filter(tenant=tenant).exists()
