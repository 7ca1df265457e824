"""The tenant REST API, mounted under /t/<tenant-slug>/api/v1/."""

from django.urls import include, path
from rest_framework.routers import SimpleRouter

from recordings.api.rest import RecordingViewSet
from webhooks.api.deliveries import DeliveryViewSet

router = SimpleRouter(trailing_slash=False)
router.register("deliveries", DeliveryViewSet, basename="deliveries")
router.register("recordings", RecordingViewSet, basename="recordings")

urlpatterns = [
    path("", include("tenants.api.urls")),
    path("", include(router.urls)),
    path("", include("usage.api.urls")),
    path("", include("reminders.api.urls")),
    path("", include("notifications.api.urls")),
]
