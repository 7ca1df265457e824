"""Who an audience reaches: its filter as a query, the live count, the suppression rules,
and the CSV upload that fills its explicit list.

Suppressed numbers are always left out, except that a life-safety notification keeps
numbers suppressed for administrative reasons (Suppression.Reason.OTHER): a person's own
opt-out (keypad, request, complaint) is honoured even then.
"""

import csv
import io
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet

from notifications.models import Audience
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
    ValidationError naming the first bad rows. Returns the number of rows."""
    reader = csv.DictReader(io.StringIO(content))
    fields = {f.strip().lower() for f in reader.fieldnames or []}
    if not {"name", "phone"} <= fields:
        raise ValidationError({"csv": "The header needs at least the columns name and phone."})
    errors: list[str] = []
    added: list[Contact] = []
    for number, row in enumerate(reader, start=2):
        if number > MAX_CSV_ROWS + 1:
            raise ValidationError({"csv": f"At most {MAX_CSV_ROWS} rows per upload."})
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        try:
            added.append(_upsert_contact(tenant, row, actor=actor))
        except ValidationError as exc:
            errors.append(f"row {number}: {'; '.join(exc.messages)}")
        if len(errors) >= 10:
            break
    if errors:
        raise ValidationError({"csv": errors})
    audience.members.add(*added)
    return len(added)


def _upsert_contact(tenant: Tenant, row: dict[str, str], *, actor: Actor) -> Contact:
    if not row.get("name"):
        raise ValidationError("name is empty.")
    phone = normalize_e164(row.get("phone", ""))
    existing = Contact.objects.for_tenant(tenant).filter(phone=phone).first()
    fields = {"name": row["name"], "phone": phone}
    if "area" in row:
        fields["area"] = row["area"]
    if "tags" in row:
        fields["tags"] = Contact.stored_tags(row["tags"])
    if row.get("language"):
        fields["language"] = row["language"]
    if row.get("timezone"):
        fields["time_zone"] = row["timezone"]
    elif existing is None:
        fields["time_zone"] = ""
    return contact_services.save_contact(
        tenant, actor=actor, contact=existing, audit_it=False, **fields
    )
