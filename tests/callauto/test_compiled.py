"""callauto.compiled: a hot query compiled once per process must return what the ORM's
queryset returns, with its select_related objects attached (no query to reach them), for
every value of its parameter, not only the first one it was compiled with."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tenants.models import AccessKey, Tenant
from tenants.resolution import KEYS_BY_SLUG

pytestmark = pytest.mark.django_db


def test_rows_match_the_querysets_for_each_slug(tenant, other_tenant):
    for slug in (tenant.slug, other_tenant.slug, "no-such-tenant"):
        expected = AccessKey.unscoped.filter(tenant__slug=slug).select_related("tenant__rate_plan")

        with CaptureQueriesContext(connection) as queries:
            rows = KEYS_BY_SLUG.rows(slug)
            seen = [
                (k.pk, k.secret_encrypted, t.slug, r.pk, k.tenant.rate_plan.pk) for k, t, r in rows
            ]

        assert sorted(seen) == sorted(
            (k.pk, k.secret_encrypted, k.tenant.slug, k.tenant.rate_plan_id, k.tenant.rate_plan_id)
            for k in expected
        )
        assert len(queries) == 1  # the tenant and rate plan came with the keys


def test_a_change_is_read_on_the_next_call(tenant):
    KEYS_BY_SLUG.rows(tenant.slug)  # compiled now
    Tenant.objects.filter(pk=tenant.pk).update(status=Tenant.Status.SUSPENDED)

    [(_, fresh, _), *_] = KEYS_BY_SLUG.rows(tenant.slug)

    assert fresh.status == Tenant.Status.SUSPENDED


def test_the_query_is_prepared_once_per_connection(tenant, other_tenant):
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    for slug in (tenant.slug, other_tenant.slug, tenant.slug):
        KEYS_BY_SLUG.rows(slug)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ['%FROM "tenants_accesskey"%'],
        )
        [(prepared,)] = cursor.fetchall()
    assert prepared == 1  # one plan for every slug, not one per execution
