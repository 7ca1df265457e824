from decimal import Decimal

from django.db import migrations


def create_standard_plan(apps, schema_editor):
    # Every tenant needs a rate plan; operators start with this one and edit it in /admin/.
    RatePlan = apps.get_model("tenants", "RatePlan")
    RatePlan.objects.get_or_create(
        name="Standard",
        defaults={
            "pstn_outbound_per_minute": Decimal("0.01300"),
            "pstn_inbound_per_minute": Decimal("0.00850"),
            "voip_per_minute": Decimal("0.00400"),
            "recording_per_minute": Decimal("0.00200"),
        },
    )


class Migration(migrations.Migration):
    dependencies = [("tenants", "0001_initial")]

    operations = [migrations.RunPython(create_standard_plan, migrations.RunPython.noop)]
