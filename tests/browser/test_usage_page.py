import csv
from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db.models import Sum
from django.utils import timezone

from calls import call_verbs
from calls.identifiers import Identifier
from tenants import services as tenant_services
from usage.models import UsageRecord
from usage.tasks import meter_usage

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_usage_csv_downloaded_in_the_browser_matches_the_database(
    tenant, callbacks, gateway, log_in, screenshot, tmp_path
):
    tenant_services.add_phone_number(tenant, "+14255550100", actor=None)
    with time_machine.travel(timezone.now() - timedelta(minutes=5), tick=False) as traveller:
        for seconds, number in ((61, "+14255550123"), (30, "+14255550124")):
            connection = call_verbs.create_call(
                tenant,
                targets=[Identifier.phone(number)],
                callback_uri=callbacks.url,
                source_caller_id="+14255550100",
            )
            gateway.advance(2)
            traveller.shift(seconds)
            call_verbs.terminate(tenant, connection.call_connection_id)
            gateway.advance(1)
        meter_usage()

    page = log_in("owner")
    page.goto(f"/portal/t/{tenant.slug}/usage/")
    screenshot(page, "usage")
    with page.expect_download() as download:
        page.get_by_text("Download CSV").click()
    path = tmp_path / "usage.csv"
    download.value.save_as(path)

    rows = list(csv.DictReader(path.open()))
    total = rows[-1]
    assert total["period"] == "total"
    database = UsageRecord.objects.for_tenant(tenant).aggregate(
        billable=Sum("billable_seconds"), cost=Sum("cost")
    )
    assert int(total["billable_seconds"]) == database["billable"] == 180  # 2 min + 1 min
    assert Decimal(total["cost"]) == database["cost"]
    assert sum(int(r["billable_seconds"]) for r in rows[:-1]) == database["billable"]
