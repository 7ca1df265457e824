import pytest

from tests.callauto.test_hmac_auth import send
from tests.conftest import key_of

pytestmark = pytest.mark.django_db


def test_the_tenant_endpoint_answers_an_hmac_signed_request(client, tenant):
    response = send(client, "GET", "/t/acme/api/v1/tenant", key=key_of(tenant))

    assert response.status_code == 200
    assert response.json()["slug"] == "acme"


def test_the_tenant_endpoint_refuses_an_unsigned_request(client, tenant):
    response = client.get("/t/acme/api/v1/tenant")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "7509"


def test_another_tenants_key_cannot_read_the_tenant(client, tenant, other_tenant):
    response = send(client, "GET", "/t/acme/api/v1/tenant", key=key_of(other_tenant))

    assert response.status_code == 401
