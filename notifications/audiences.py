"""Who an audience reaches: its filter as a query, the live count, the suppression rules,
and the CSV upload that fills its explicit list.

Suppressed numbers are always left out, except that a life-safety notification keeps
numbers suppressed for administrative reasons (Suppression.Reason.OTHER): a person's own
opt-out (keypad, request, complaint) is honoured even then.
"""

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import DateTimeField, Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Coalesce, NullIf
from django.utils import timezone

from notifications.models import Audience, Notification, Recipient
from reminders import services as contact_services
from reminders.models import Contact, Suppression
from tenants.audit import Actor
from tenants.models import Tenant
from tenants.phone import normalize_e164

# Suppressions a life-safety notification may override: not the person's own choice.
OVERRIDABLE = {Suppression.Reason.OTHER}
MAX_CSV_ROWS = 50_000


def matching(audience: Audience) -> QuerySet[Contact]:
    """Every contact the audience's filter selects, before suppressions."""
    contacts = Contact.objects.for_tenant(audience.tenant)
    if audience.everyone:
        return contacts
    rule = Q(pk__in=[]) if audience.pk is None else Q(pk__in=audience.members.values("pk"))
    for tag in audience.tags or []:
        rule |= Q(tags__contains=f",{str(tag).strip().lower()},")
    areas = [str(a).strip() for a in audience.areas or [] if str(a).strip()]
    if areas:
        rule |= Q(area__in=areas)
    return contacts.filter(rule)


def _suppressed(tenant: Tenant, reasons: set | None = None) -> QuerySet:
    rows = Suppression.objects.for_tenant(tenant)
    if reasons is not None:
        rows = rows.filter(reason__in=reasons)
    return rows.values("phone")


def reachable(audience: Audience, *, life_safety: bool) -> QuerySet[Contact]:
    """The contacts a notification to this audience dials: consented, not suppressed
    (life-safety: not opted out)."""
    contacts = matching(audience).filter(consent=True)
    if life_safety:
        opted_out = set(Suppression.Reason.values) - OVERRIDABLE
        return contacts.exclude(phone__in=_suppressed(audience.tenant, opted_out))
    return contacts.exclude(phone__in=_suppressed(audience.tenant))


RECIPIENT_COLUMNS = (
    "tenant_id", "notification_id", "contact_id", "name", "phone", "area", "language",
    "time_zone", "overrides_suppression", "state", "disposition", "round", "next_attempt_at",
    "dial_count",
)  # fmt: skip


def snapshot(notification: Notification, start: datetime) -> tuple[int, int]:
    """Insert the notification's recipients, due at `start`, in one INSERT ... SELECT
    from its audience (model instances for 10,000 contacts cost seconds of Python).
    Returns (recipients, suppressions overridden by a life-safety launch)."""
    tenant = notification.tenant
    contacts = (
        reachable(notification.audience, life_safety=notification.life_safety)
        .order_by()
        .annotate(
            r_tenant=Value(tenant.pk),
            r_notification=Value(notification.pk),
            r_zone=Coalesce(NullIf("time_zone", Value("")), Value(tenant.time_zone)),
            r_overrides=Exists(
                Suppression.objects.for_tenant(tenant).filter(phone=OuterRef("phone"))
            ),
            r_state=Value(Recipient.State.WAITING.value),
            r_disposition=Value(""),
            r_round=Value(1),
            r_due=Value(start, output_field=DateTimeField()),
            r_dials=Value(0),
        )
        .values_list("r_tenant", "r_notification", "pk", "name", "phone", "area", "language",
                     "r_zone", "r_overrides", "r_state", "r_disposition", "r_round", "r_due",
                     "r_dials")
    )  # fmt: skip
    select, params = contacts.query.sql_with_params()
    table = Recipient._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(RECIPIENT_COLUMNS)}) {select} "
            "RETURNING overrides_suppression",
            params,
        )
        inserted = [row[0] for row in cursor.fetchall()]
    return len(inserted), sum(inserted)


@dataclass(frozen=True)
class Count:
    matching: int
    reachable: int  # what a normal notification dials
    life_safety: int  # what a life-safety notification dials
    opted_out: int  # left out even for life-safety


def count(audience: Audience) -> Count:
    """The live count shown before launch, with the life-safety difference."""
    total = matching(audience).filter(consent=True).count()
    normal = reachable(audience, life_safety=False).count()
    safety = reachable(audience, life_safety=True).count()
    return Count(matching=total, reachable=normal, life_safety=safety, opted_out=total - safety)


def first_rows(audience: Audience, *, life_safety: bool, limit: int = 10) -> list[Contact]:
    return list(reachable(audience, life_safety=life_safety).order_by("name", "pk")[:limit])


@transaction.atomic
def upload_csv(tenant: Tenant, audience: Audience, content: str, *, actor: Actor) -> int:
    """Upsert contacts from a CSV (name, phone, and optional area, tags, language,
    timeZone) and add them to the audience's explicit list. All or nothing: raises
    ValidationError naming the first bad rows. Returns the number of rows.

    In bulk, whatever the size (tests/notifications/test_scale.py): the rows are checked
    in memory, the existing contacts read in one query, then one INSERT for the new ones,
    one UPDATE for the changed ones and the audience's list in two statements. A number
    listed twice keeps its last row, as upserting row by row did. `actor` is unused: CSV
    upserts are not audited contact by contact (they never were)."""
    reader = csv.DictReader(io.StringIO(content))
    fields = {f.strip().lower() for f in reader.fieldnames or []}
    if not {"name", "phone"} <= fields:
        raise ValidationError({"csv": "The header needs at least the columns name and phone."})
    errors: list[str] = []
    parsed: dict[str, dict[str, str]] = {}
    count = 0
    for number, row in enumerate(reader, start=2):
        if number > MAX_CSV_ROWS + 1:
            raise ValidationError({"csv": f"At most {MAX_CSV_ROWS} rows per upload."})
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        try:
            values = _contact_fields(row)
        except ValidationError as exc:
            errors.append(f"row {number}: {'; '.join(exc.messages)}")
            if len(errors) >= 10:
                break
            continue
        parsed.pop(values["phone"], None)  # the last row of a number wins (and its place)
        parsed[values["phone"]] = values | {"_row": str(number)}
        count += 1
    existing = {
        c.phone: c for c in Contact.objects.for_tenant(tenant).filter(phone__in=list(parsed))
    }
    created: list[Contact] = []
    for phone, values in parsed.items():
        row_number = values.pop("_row")
        contact = existing.get(phone) or Contact(tenant=tenant)
        for name, value in values.items():
            setattr(contact, name, value)
        if not contact.time_zone:
            contact.time_zone = contact_services.default_zone(phone, tenant)
        try:
            contact.full_clean(exclude=["tenant"], validate_unique=False,
                               validate_constraints=False)  # fmt: skip
        except ValidationError as exc:
            errors.append(f"row {row_number}: {'; '.join(exc.messages)}")
        if contact.pk is None:
            created.append(contact)
        if len(errors) >= 10:
            break
    if errors:
        raise ValidationError({"csv": sorted(errors, key=_row_order)[:10]})
    Contact.unscoped.bulk_create(created, batch_size=2000)
    changed = [c for c in existing.values() if c.phone in parsed]
    now = timezone.now()
    for contact in changed:
        contact.updated_at = now  # bulk_update does not apply auto_now
    if changed:
        Contact.unscoped.bulk_update(
            changed, ["name", "area", "tags", "language", "time_zone", "updated_at"],
            batch_size=2000,
        )  # fmt: skip
    audience.members.add(*created, *changed)
    return count


def _row_order(error: str) -> int:
    return int(error.split(":", 1)[0].removeprefix("row "))


def _contact_fields(row: dict[str, str]) -> dict[str, str]:
    """A CSV row's contact fields (what it leaves out keeps its value on an update)."""
    if not row.get("name"):
        raise ValidationError("name is empty.")
    fields = {"name": row["name"], "phone": normalize_e164(row.get("phone", ""))}
    if "area" in row:
        fields["area"] = row["area"]
    if "tags" in row:
        fields["tags"] = Contact.stored_tags(row["tags"])
    if row.get("language"):
        fields["language"] = row["language"]
    if row.get("timezone"):
        fields["time_zone"] = row["timezone"]
    return fields
