from django.db import migrations
from django.db.models import OuterRef, Subquery


def fill(apps, schema_editor):
    # Deliveries made before durable delivery: copy the URL from the event, and what
    # used to be a single failed attempt is now dead (no retries were scheduled for it).
    Delivery = apps.get_model("calls", "Delivery")
    CallEvent = apps.get_model("calls", "CallEvent")
    url = CallEvent._default_manager.filter(pk=OuterRef("event_id")).values("callback_uri")[:1]
    Delivery._default_manager.filter(url="").update(url=Subquery(url))
    Delivery._default_manager.filter(state="failed").update(state="dead")


class Migration(migrations.Migration):
    dependencies = [("calls", "0005_durable_delivery")]

    operations = [migrations.RunPython(fill, migrations.RunPython.noop)]
