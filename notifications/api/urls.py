from django.urls import path

from notifications.api.callbacks import CallbackView

urlpatterns = [
    path(
        "notifications/callbacks/<str:token>",
        CallbackView.as_view(),
        name="notifications-callback",
    ),
]
