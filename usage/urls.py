"""Portal pages of the usage app: a tenant's usage and cost, and the platform's."""

from django.urls import path

from usage import views

urlpatterns = [
    path("t/<slug:tenant_slug>/usage/", views.usage, name="usage"),
    path("t/<slug:tenant_slug>/usage.csv", views.usage_csv, name="usage_csv"),
    path("usage/all/", views.platform_usage, name="platform_usage"),
    path("usage/all/<slug:slug>/", views.platform_tenant_usage, name="platform_tenant_usage"),
    path(
        "usage/all/<slug:slug>.csv",
        views.platform_tenant_usage_csv,
        name="platform_tenant_usage_csv",
    ),
]
