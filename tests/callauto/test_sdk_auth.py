"""The official azure-communication-callautomation SDK authenticates against us."""

import pytest
from azure.communication.callautomation import PhoneNumberIdentifier
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
)

from tenants import services
from tenants.models import AccessKey, Tenant
from tests.conftest import key_of

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_sdk_gets_an_authenticated_404_for_an_unknown_call(sdk_client):
    connection = sdk_client().get_call_connection("no-such-call")

    with pytest.raises(ResourceNotFoundError) as caught:
        connection.get_call_properties()

    assert caught.value.status_code == 404
    assert caught.value.error.code


def test_the_sdk_with_a_wrong_key_raises_client_authentication_error(sdk_client):
    client = sdk_client(key=AccessKey.generate_secret())

    with pytest.raises(ClientAuthenticationError) as caught:
        client.get_call_connection("no-such-call").get_call_properties()

    assert caught.value.error.code == "7509"


def test_the_sdk_with_the_secondary_key_is_authenticated(sdk_client, tenant):
    client = sdk_client(key=key_of(tenant, AccessKey.Name.SECONDARY))

    with pytest.raises(ResourceNotFoundError):
        client.get_call_connection("no-such-call").get_call_properties()


def test_the_sdk_percent_encodes_participant_ids_and_still_authenticates(sdk_client):
    connection = sdk_client().get_call_connection("no-such-call")

    with pytest.raises(ResourceNotFoundError):
        connection.get_participant(PhoneNumberIdentifier("+14255550123"))


def test_the_sdk_sees_a_suspended_tenant_as_forbidden(sdk_client, tenant):
    services.set_tenant_status(tenant, Tenant.Status.SUSPENDED, actor=None)

    with pytest.raises(HttpResponseError) as caught:
        sdk_client().get_call_connection("no-such-call").get_call_properties()

    assert caught.value.status_code == 403
