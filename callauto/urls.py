from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView

from callauto import views
from calls.api import views as calls_views
from recordings.api.urls import download_patterns as recording_downloads

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

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="portal:home", permanent=False)),
    path("healthz", views.healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("portal/", include("tenants.urls")),
    # Callback-token keys, for validators pointed at us as ACS-style issuer.
    path("calling/keys", calls_views.jwks, name="jwks"),
    path(
        "calling/.well-known/acsopenidconfiguration",
        calls_views.openid_configuration,
        name="openid-configuration",
    ),
    # The ACS-compatible Call Automation API, one endpoint per tenant (see tenants.resolution).
    path("t/<slug:tenant_slug>/calling/", include(calling_patterns)),
    path("t/<slug:tenant_slug>/api/v1/", include("callauto.api")),
    path("t/<slug:tenant_slug>/recordings/", include(recording_downloads)),
]
