"""The SIP trunks pages: list with status, add, edit (password kept unless given), numbers,
delete; read-only below admin; another tenant's trunk is 404."""

import pytest
from django.urls import reverse
from django.utils import timezone

from tenants import services, trunks
from tenants.models import Membership, PhoneNumber, Trunk

pytestmark = pytest.mark.django_db

FORM = {
    "name": "Carrier A",
    "enabled": "on",
    "proxy_host": "sip.example.net",
    "proxy_port": "5060",
    "transport": "udp",
    "username": "acme",
    "password": "s3cret",
    "register_expires": "600",
    "codecs": "PCMU,PCMA",
    "max_concurrent_calls": "30",
    "inbound_prefix": "+",
}


def url(name: str, slug: str = "acme", **kwargs) -> str:
    return reverse(f"portal:{name}", kwargs={"tenant_slug": slug, **kwargs})


def test_an_admin_adds_a_trunk_with_a_number_and_sees_it_listed(client, tenant, user):
    phone = services.add_phone_number(tenant, "+14255550100", actor=user)
    client.force_login(user)

    response = client.post(url("trunks"), {**FORM, "phone_numbers": [phone.pk]})

    trunk = Trunk.objects.for_tenant(tenant).get()
    assert response.status_code == 302
    assert trunk.password == "s3cret"
    assert PhoneNumber.objects.for_tenant(tenant).get().trunk == trunk
    page = client.get(url("trunks")).content.decode()
    assert "Carrier A" in page
    assert "+14255550100" in page
    assert "s3cret" not in client.get(url("trunk", trunk_id=trunk.pk)).content.decode()


def test_saving_without_a_password_keeps_the_stored_one(client, tenant, user):
    client.force_login(user)
    client.post(url("trunks"), FORM)
    trunk = Trunk.objects.for_tenant(tenant).get()

    response = client.post(
        url("trunk", trunk_id=trunk.pk), {**FORM, "password": "", "proxy_port": "5070", "save": "1"}
    )

    assert response.status_code == 302
    trunk.refresh_from_db()
    assert (trunk.proxy_port, trunk.password) == (5070, "s3cret")


def test_a_bad_host_is_shown_on_the_form(client, tenant, user):
    client.force_login(user)

    response = client.post(url("trunks"), {**FORM, "proxy_host": "no such host!"})

    assert response.status_code == 200
    assert "not a host name" in response.content.decode()
    assert not Trunk.objects.for_tenant(tenant).exists()


def test_the_status_the_gateway_saw_is_shown(client, tenant, user):
    trunk = trunks.save_trunk(tenant, actor=user, name="A", proxy_host="127.0.0.1")
    trunks.record_status(
        trunk.pk, gateway_id="gw-9", at=timezone.now(), ping_status=200, ping_rtt_ms=1.5,
        registration_state="off", registration_status=None,
    )  # fmt: skip
    client.force_login(user)

    page = client.get(url("trunk", trunk_id=trunk.pk)).content.decode()

    assert "OPTIONS 200 in 1.5 ms" in page
    assert "gw-9" in page


def test_a_trunk_is_deleted_from_its_page(client, tenant, user):
    trunk = trunks.save_trunk(tenant, actor=user, name="A", proxy_host="127.0.0.1")
    client.force_login(user)

    response = client.post(url("trunk", trunk_id=trunk.pk), {"delete": "1"})

    assert response.status_code == 302
    assert not Trunk.objects.for_tenant(tenant).exists()


def test_an_operator_reads_trunks_but_cannot_change_them(client, tenant, user, member_client):
    trunk = trunks.save_trunk(tenant, actor=user, name="A", proxy_host="127.0.0.1")
    member_client(Membership.Role.OPERATOR)

    assert client.get(url("trunk", trunk_id=trunk.pk)).status_code == 200
    assert client.post(url("trunk", trunk_id=trunk.pk), {"delete": "1"}).status_code == 403
    assert Trunk.objects.for_tenant(tenant).exists()


def test_another_tenants_trunk_is_404(client, tenant, other_tenant, user):
    theirs = trunks.save_trunk(other_tenant, actor=None, name="A", proxy_host="127.0.0.1")
    client.force_login(user)

    assert client.get(url("trunk", trunk_id=theirs.pk)).status_code == 404
    assert client.post(url("trunk", trunk_id=theirs.pk), {"delete": "1"}).status_code == 404
    assert Trunk.objects.for_tenant(other_tenant).exists()


def test_ping_now_asks_the_gateway_and_says_so_until_it_answers(client, tenant, user):
    trunk = trunks.save_trunk(tenant, actor=user, name="A", proxy_host="127.0.0.1")
    client.force_login(user)

    response = client.post(url("trunk", trunk_id=trunk.pk), {"ping": "1"}, follow=True)

    trunk.refresh_from_db()
    assert trunk.ping_requested_at is not None
    page = response.content.decode()
    assert "Ping sent to the gateway" in page
    assert "waiting for the gateway's answer" in page
    trunks.record_ping(trunk.pk, gateway_id="gw-1", at=timezone.now(), status=200, rtt_ms=1.5)
    page = client.get(url("trunk", trunk_id=trunk.pk)).content.decode()
    assert "waiting for the gateway" not in page
    assert "OPTIONS 200 in 1.5 ms" in page


def test_an_operator_cannot_ping_a_trunk(client, tenant, user, member_client):
    trunk = trunks.save_trunk(tenant, actor=user, name="A", proxy_host="127.0.0.1")
    member_client(Membership.Role.OPERATOR)

    assert client.post(url("trunk", trunk_id=trunk.pk), {"ping": "1"}).status_code == 403
    assert "Ping now" not in client.get(url("trunk", trunk_id=trunk.pk)).content.decode()
    trunk.refresh_from_db()
    assert trunk.ping_requested_at is None
