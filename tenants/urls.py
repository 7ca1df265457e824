"""Portal pages of the tenants app: settings, members, rates, retention, audit log."""

from django.urls import path

from tenants import views
from tenants.portal import audit_log, invitations, preferences, trunks

urlpatterns = [
    path("t/<slug:tenant_slug>/settings/me/", preferences.my_preferences, name="my_preferences"),
    path("t/<slug:tenant_slug>/settings/keys/", views.access_keys, name="access_keys"),
    path("t/<slug:tenant_slug>/settings/numbers/", views.phone_numbers, name="phone_numbers"),
    path("t/<slug:tenant_slug>/settings/trunks/", trunks.trunk_list, name="trunks"),
    path("t/<slug:tenant_slug>/settings/trunks/<int:trunk_id>/", trunks.trunk_detail, name="trunk"),
    path("t/<slug:tenant_slug>/settings/members/", views.members, name="members"),
    # An invitation link names no tenant: whoever holds it accepts it in their own account.
    path("invitations/<str:token>/", invitations.invitation, name="invitation"),
    path("invitations/<str:token>/signup/", invitations.signup, name="invitation_signup"),
    path("t/<slug:tenant_slug>/settings/rates/", views.rate_plan, name="rate_plan"),
    path("t/<slug:tenant_slug>/settings/retention/", views.retention, name="retention"),
    path("t/<slug:tenant_slug>/audit/", audit_log.audit_log, name="audit_log"),
    path("t/<slug:tenant_slug>/audit/export.csv", audit_log.audit_log_csv, name="audit_log_csv"),
]
