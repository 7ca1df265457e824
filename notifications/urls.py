"""Portal pages of the notifications app (callauto/urls.py composes them under /portal/)."""

from django.urls import path

from notifications import views

T = "t/<slug:tenant_slug>/notifications"
N = f"{T}/<int:notification_id>"

urlpatterns = [
    path(f"{T}/", views.notifications, name="notifications"),
    path(f"{T}/new/", views.edit_notification, name="notification_new"),
    path(f"{T}/audiences/", views.audience_list, name="notification_audiences"),
    path(f"{T}/audiences/<int:audience_id>/", views.audience, name="notification_audience"),
    path(f"{N}/", views.notification, name="notification"),
    path(f"{N}/edit/", views.edit_notification, name="notification_edit"),
    path(f"{N}/launch/", views.launch, name="notification_launch"),
    path(f"{N}/live/", views.live, name="notification_live"),
    path(f"{N}/prompt.wav", views.prompt_audio, name="notification_prompt"),
    path(f"{N}/results.csv", views.export, name="notification_export"),
]
