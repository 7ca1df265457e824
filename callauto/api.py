"""The tenant REST API, mounted under /t/<tenant-slug>/api/v1/."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from calls.api.devtools import CalleeViewSet, RingView
from recordings.api.rest import RecordingViewSet
from webhooks.api.deliveries import DeliveryViewSet
from webhooks.api.event_webhooks import EventWebhookViewSet

router = SimpleRouter(trailing_slash=False)
router.register("deliveries", DeliveryViewSet, basename="deliveries")
router.register("recordings", RecordingViewSet, basename="recordings")
router.register("test-callees", CalleeViewSet, basename="test-callees")
router.register("event-webhooks", EventWebhookViewSet, basename="event-webhooks")

urlpatterns = [
    path("", include("tenants.api.urls")),
    path("", include(router.urls)),
    path("incoming-calls", RingView.as_view(), name="api-ring"),
    path("", include("usage.api.urls")),
    path("", include("reminders.api.urls")),
    path("", include("notifications.api.urls")),
]
