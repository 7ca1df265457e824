from django.urls import path

from reminders.api.callbacks import CallbackView

urlpatterns = [
    path("reminders/callbacks/<str:token>", CallbackView.as_view(), name="reminders-callback"),
]
