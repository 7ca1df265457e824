from django.urls import re_path

from usage.api import views

urlpatterns = [
    # With or without the trailing slash: the issue spells it `/api/v1/usage/`, the
    # rest of the tenant API has none.
    re_path(r"^usage/?$", views.UsageView.as_view(), name="api-usage"),
]
