"""The API reference page (`/t/<slug>/api/v1/docs`) for every kind of caller and method:
HTML for a reader, the ACS error shape otherwise, never a 500 (issue 12, defect 7)."""

import pytest

from tenants.models import Membership
from tests.calls.api_support import assert_error
from tests.reminders.test_api import api

pytestmark = pytest.mark.django_db

DOCS = "/t/acme/api/v1/docs"


def test_the_docs_page_is_served_to_an_access_key(client, tenant):
    response = api(client, tenant, "GET", "docs")

    assert response.status_code == 200
    assert 'spec-url="/t/acme/api/v1/schema"' in response.content.decode()


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_other_methods_on_the_docs_page_answer_405_in_the_acs_shape_to_an_access_key(
    client, tenant, method
):
    response = api(client, tenant, method, "docs", {"x": 1})

    assert_error(response, 405, "MethodNotAllowed")


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_the_docs_page_without_credentials_answers_401_in_the_acs_shape(client, tenant, method):
    response = client.generic(method, DOCS)

    assert_error(response, 401, "7509")


def test_a_members_session_posting_to_the_docs_page_gets_405_in_the_acs_shape(
    client, tenant, member_client
):
    member_client(Membership.Role.VIEWER)

    response = client.post(DOCS)

    assert_error(response, 405, "MethodNotAllowed")


def test_the_schema_without_credentials_answers_401_in_the_acs_shape_not_yaml(client, tenant):
    response = client.get("/t/acme/api/v1/schema")

    assert_error(response, 401, "7509")
