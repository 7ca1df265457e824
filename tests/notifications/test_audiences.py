"""Audiences: tag, area, explicit and everyone filters, the live count, suppressions
(always honoured, but a life-safety notification keeps administrative ones), CSV upload."""

import pytest
from django.core.exceptions import ValidationError

from notifications import audiences, services
from reminders import services as contacts
from reminders.models import Contact, Suppression
from tests.notifications.conftest import household

pytestmark = pytest.mark.django_db


def test_an_audience_selects_contacts_by_any_tag_or_area(acme):
    household(acme, 1, area="zone-4")
    household(acme, 2, area="zone-5", tags="hospital, School")
    household(acme, 3, area="zone-5", tags="elderly")
    household(acme, 4, area="94110")
    audience = services.save_audience(
        acme, actor=None, name="Mixed", tags=["school"], areas=["zone-4", "94110"]
    )

    names = sorted(c.name for c in audiences.matching(audience))

    assert names == ["Household 1", "Household 2", "Household 4"]
    assert audiences.count(audience).reachable == 3


def test_a_tag_matches_whole_tags_only(acme):
    household(acme, 1, tags="school-staff")
    audience = services.save_audience(acme, actor=None, name="Schools", tags=["school"])

    assert audiences.count(audience).matching == 0


def test_an_explicit_list_and_everyone(acme):
    first = household(acme, 1, area="a")
    household(acme, 2, area="b")
    listed = services.save_audience(acme, actor=None, name="Listed", members=[first])
    everyone = services.save_audience(acme, actor=None, name="All", everyone=True)

    assert [c.pk for c in audiences.matching(listed)] == [first.pk]
    assert audiences.count(everyone).matching == 2


def test_suppressed_numbers_are_left_out_but_life_safety_keeps_administrative_ones(acme):
    household(acme, 1)
    opted = household(acme, 2)
    listed = household(acme, 3)
    unconsented = household(acme, 4)
    Contact.objects.for_tenant(acme).filter(pk=unconsented.pk).update(consent=False)
    contacts.suppress(acme, opted.phone, actor=None, reason=Suppression.Reason.OPTED_OUT)
    contacts.suppress(acme, listed.phone, actor=None, reason=Suppression.Reason.OTHER)
    audience = services.save_audience(acme, actor=None, name="Z", areas=["zone-4"])

    count = audiences.count(audience)

    assert (count.matching, count.reachable, count.life_safety, count.opted_out) == (3, 1, 2, 1)
    kept = audiences.reachable(audience, life_safety=True).values_list("phone", flat=True)
    assert opted.phone not in kept


def test_a_csv_upload_adds_contacts_with_area_and_tags_to_the_list(acme):
    household(acme, 1, area="old")
    audience = services.save_audience(acme, actor=None, name="Upload")
    csv = (
        "name,phone,area,tags,language\n"
        "Ann,+14255560001,zone-9,school;elderly,es-ES\n"
        "Bo,+14255560002,zone-9,,\n"
    )

    rows = audiences.upload_csv(acme, audience, csv, actor=None)

    assert rows == 2
    ann = Contact.objects.for_tenant(acme).get(phone="+14255560001")
    assert (ann.name, ann.area, ann.tag_list, ann.language) == (
        "Ann",
        "zone-9",
        ["elderly", "school"],
        "es-ES",
    )
    assert audiences.count(audience).matching == 2


def test_a_bad_csv_row_imports_nothing(acme):
    audience = services.save_audience(acme, actor=None, name="Upload")
    csv = "name,phone\nAnn,+14255560001\nBo,not-a-number\n"

    with pytest.raises(ValidationError) as error:
        audiences.upload_csv(acme, audience, csv, actor=None)

    assert "row 3" in str(error.value)
    assert audiences.count(audience).matching == 0


def test_a_csv_without_name_and_phone_columns_is_refused(acme):
    audience = services.save_audience(acme, actor=None, name="Upload")

    with pytest.raises(ValidationError, match="name and phone"):
        audiences.upload_csv(acme, audience, "who,number\nAnn,1\n", actor=None)


def test_audience_names_are_unique_per_tenant(acme):
    services.save_audience(acme, actor=None, name="Zone 4")

    with pytest.raises(ValidationError, match="exists"):
        services.save_audience(acme, actor=None, name="Zone 4")
