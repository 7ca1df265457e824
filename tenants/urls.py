from django.urls import include, path

from calls import views as calls_views
from tenants import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("t/<slug:tenant_slug>/", views.dashboard, name="dashboard"),
    path("t/<slug:tenant_slug>/settings/keys/", views.access_keys, name="access_keys"),
    path("t/<slug:tenant_slug>/settings/numbers/", views.phone_numbers, name="phone_numbers"),
    path("t/<slug:tenant_slug>/settings/callees/", calls_views.callees, name="callees"),
    path(
        "t/<slug:tenant_slug>/settings/callees/<int:callee_id>/",
        calls_views.edit_callee,
        name="edit_callee",
    ),
    path("t/<slug:tenant_slug>/settings/webhooks/", calls_views.webhooks, name="webhooks"),
    path("t/<slug:tenant_slug>/deliveries/", calls_views.deliveries, name="deliveries"),
    path("t/<slug:tenant_slug>/settings/members/", views.members, name="members"),
    path("t/<slug:tenant_slug>/settings/rates/", views.rate_plan, name="rate_plan"),
    path("", include("reminders.urls")),
]
