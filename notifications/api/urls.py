from django.urls import path
from rest_framework.routers import SimpleRouter

from notifications.api import views
from notifications.api.callbacks import AudioView, CallbackView

router = SimpleRouter(trailing_slash=False)
router.register("audiences", views.AudienceViewSet, basename="audiences")
router.register("notifications", views.NotificationViewSet, basename="notifications")

urlpatterns = [
    path(
        "notifications/callbacks/<str:token>",
        CallbackView.as_view(),
        name="notifications-callback",
    ),
    path("notifications/audio/<str:token>.wav", AudioView.as_view(), name="notifications-audio"),
    *router.urls,
]
