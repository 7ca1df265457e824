"""The tenant REST API, mounted under /t/<tenant-slug>/api/v1/."""

from django.urls import include, path

urlpatterns = [
    path("", include("tenants.api.urls")),
]
