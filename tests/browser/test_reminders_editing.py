"""Issue 17, item 11 (part): the import page offers a sample CSV that imports cleanly, and
preselects the only plan."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

from reminders import csv_import
from tests.reminders.conftest import acme, plan  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_sample_csv_downloads_and_the_only_plan_is_preselected(acme, plan, log_in):  # noqa: F811
    page = log_in("owner")
    page.goto("/portal/t/acme/reminders/imports/")

    expect(page.get_by_label("Plan")).to_have_value(str(plan.pk))
    with page.expect_download() as download:
        page.get_by_role("link", name="Download a sample CSV").click()
    sample = Path(download.value.path()).read_text(encoding="utf-8")

    assert sample.startswith("external_id,name,phone,starts_at")
    rows, errors = csv_import.parse(acme, sample)
    assert errors == []
    assert len(rows) == 1
