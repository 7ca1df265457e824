"""The served OpenAPI schema of the tenant API says what the API serves (issue 12,
defect 8): every read of rows whose optional fields are empty validates against it."""

import pytest
import schemathesis
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance

from tenants import trunks
from tests.fuzz.harness import SignedWsgi, in_this_transaction
from tests.fuzz.seed import seed_tenant

pytestmark = pytest.mark.django_db

SCHEMA = "/t/acme/api/v1/schema?format=json"


def test_reads_of_rows_with_empty_optional_fields_match_the_served_schema(
    tenant, gateway, callbacks
):
    rows = seed_tenant(tenant, gateway, callbacks.url)
    ids = {
        "tenant_slug": tenant.slug,
        "appointments": rows["appointment"].pk,
        "attempts": rows["appointment"].attempts.get().pk,
        "contacts": rows["contact"].pk,
        "deliveries": rows["delivery"].pk,
        "event-webhooks": None,
        "test-callees": None,
        "imports": None,
        "plans": rows["plan"].pk,
        "recordings": rows["recording"].recording_id,
        "suppressions": None,
        "audiences": rows["audience"].pk,
        "notifications": rows["notification"].pk,
        # A trunk no gateway has checked yet: its status fields are all empty.
        "trunks": trunks.save_trunk(tenant, actor=None, name="T", proxy_host="127.0.0.1").pk,
    }
    lies = []
    with in_this_transaction():
        schema = schemathesis.openapi.from_wsgi(SCHEMA, SignedWsgi(tenant))
        for result in schema.get_all_operations():
            operation = result.ok()
            if operation.method.upper() != "GET":
                continue
            collection = operation.path.split("/api/v1/")[1].split("/")[0]
            path_parameters = {"tenant_slug": tenant.slug}
            if "{id}" in operation.path or "{recording_id}" in operation.path:
                if ids[collection] is None:
                    first = schema_first_id(operation, tenant)
                    ids[collection] = first
                key = "recording_id" if collection == "recordings" else "id"
                path_parameters[key] = ids[collection]
            case = operation.Case(path_parameters=path_parameters)
            response = case.call()
            assert response.status_code == 200, (operation.label, response.content)
            try:
                case.validate_response(response, checks=[response_schema_conformance])
            except FailureGroup as failures:
                lies += [f"{operation.label}: {f.message}" for f in failures.exceptions]
    assert not lies, "\n\n".join(lies)


def schema_first_id(operation, tenant) -> int:
    """The id of the first row the collection lists (rows made without a handle)."""
    from calls.models import SimulatedCallee
    from reminders.models import ImportJob, Suppression
    from webhooks.models import EventSubscription

    model = {
        "imports": ImportJob,
        "suppressions": Suppression,
        "event-webhooks": EventSubscription,
        "test-callees": SimulatedCallee,
    }[operation.path.split("/api/v1/")[1].split("/")[0]]
    return model.objects.for_tenant(tenant).first().pk
