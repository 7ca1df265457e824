"""The usage report at the edges of the calendar answers, never a 500 (issue 12, found by
the tenant API fuzz)."""

import pytest

from tests.usage.test_api import get_usage

pytestmark = pytest.mark.django_db


def test_a_report_from_the_last_day_there_is_covers_that_day(client, tenant):
    response = get_usage(client, tenant, **{"from": "9999-12-31"})

    assert response.status_code == 200, response.content
    assert (response.json()["from"], response.json()["to"]) == ("9999-12-31", "9999-12-31")


def test_a_report_from_the_first_day_there_is_covers_a_month(client, tenant):
    response = get_usage(client, tenant, **{"from": "0001-01-01"})

    assert response.status_code == 200, response.content
    assert response.json()["to"] == "0001-01-31"
