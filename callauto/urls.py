"""The one URL configuration: every app's routes, composed here (and only here).

- `/t/<slug>/calling/...`: the ACS-compatible Call Automation API (calls, recordings);
- `/t/<slug>/api/v1/...`: the tenant REST API (callauto/api.py composes the apps' routers);
- `/t/<slug>/recordings/...`: recording file downloads (the file event's locations);
- `/portal/...`: the portal, one namespace over every app's pages;
- `/calling/keys`, `/calling/.well-known/...`: the callback-token keys, for validators.
"""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

import calls.urls
import notifications.urls
import portal.urls
import recordings.urls
import reminders.urls
import tenants.urls
import usage.urls
import webhooks.urls
from callauto import views
from recordings.api.urls import download_patterns as recording_downloads
from webhooks import views as webhook_views

# Django-level errors on API paths answer in the ACS error shape (callauto.errors).
handler400 = "callauto.errors.bad_request"
handler403 = "callauto.errors.permission_denied"
handler404 = "callauto.errors.page_not_found"
handler500 = "callauto.errors.server_error"

calling_patterns = [
    path("", include("calls.api.urls")),
    path("", include("recordings.api.urls")),
    path("<path:rest>", views.UnknownCallingRoute.as_view()),
]

# One "portal" namespace over every app's pages, so a link is `portal:<name>` wherever
# the page lives.
portal_patterns = [
    *portal.urls.urlpatterns,
    *tenants.urls.urlpatterns,
    *webhooks.urls.urlpatterns,
    *calls.urls.urlpatterns,
    *recordings.urls.urlpatterns,
    *usage.urls.urlpatterns,
    *reminders.urls.urlpatterns,
    *notifications.urls.urlpatterns,
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="portal:home", permanent=False)),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("portal/", include((portal_patterns, "portal"))),
    # Callback-token keys, for validators pointed at us as ACS-style issuer.
    path("calling/keys", webhook_views.jwks, name="jwks"),
    path(
        "calling/.well-known/acsopenidconfiguration",
        webhook_views.openid_configuration,
        name="openid-configuration",
    ),
    # The ACS-compatible Call Automation API, one endpoint per tenant (see tenants.resolution).
    path("t/<slug:tenant_slug>/calling/", include(calling_patterns)),
    path("t/<slug:tenant_slug>/api/v1/", include("callauto.api")),
    path("t/<slug:tenant_slug>/recordings/", include(recording_downloads)),
]
