from django.urls import include, path

from calls import portal_views as calls_portal
from calls import softphone_views
from calls import views as calls_views
from recordings import views as recordings_views
from tenants import views
from tenants.portal import audit_log, invitations
from usage import views as usage_views

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
    # An invitation link names no tenant: whoever holds it accepts it in their own account.
    path("invitations/<str:token>/", invitations.invitation, name="invitation"),
    path("invitations/<str:token>/signup/", invitations.signup, name="invitation_signup"),
    path("t/<slug:tenant_slug>/settings/rates/", views.rate_plan, name="rate_plan"),
    path("t/<slug:tenant_slug>/recordings/", recordings_views.recordings, name="recordings"),
    path(
        "t/<slug:tenant_slug>/recordings/<str:document_id>/file",
        recordings_views.chunk_file,
        name="recording_file",
    ),
    path("t/<slug:tenant_slug>/softphone/", softphone_views.softphone_page, name="softphone"),
    path(
        "t/<slug:tenant_slug>/softphone/state/",
        softphone_views.softphone_state,
        name="softphone_state",
    ),
    path(
        "t/<slug:tenant_slug>/softphone/legs/<uuid:leg_id>/",
        softphone_views.softphone_leg,
        name="softphone_leg",
    ),
    path(
        "t/<slug:tenant_slug>/softphone/audio/<uuid:op_id>.wav",
        softphone_views.softphone_audio,
        name="softphone_audio",
    ),
    path("t/<slug:tenant_slug>/calls/", calls_portal.calls, name="calls"),
    path("t/<slug:tenant_slug>/calls/<int:call_id>/", calls_portal.call_detail, name="call_detail"),
    path(
        "t/<slug:tenant_slug>/calls/<int:call_id>/timeline/",
        calls_portal.call_timeline,
        name="call_timeline",
    ),
    path("t/<slug:tenant_slug>/audit/", audit_log.audit_log, name="audit_log"),
    path("t/<slug:tenant_slug>/audit/export.csv", audit_log.audit_log_csv, name="audit_log_csv"),
    path("t/<slug:tenant_slug>/settings/retention/", views.retention, name="retention"),
    path("t/<slug:tenant_slug>/usage/", usage_views.usage, name="usage"),
    path("t/<slug:tenant_slug>/usage.csv", usage_views.usage_csv, name="usage_csv"),
    path("usage/all/", usage_views.platform_usage, name="platform_usage"),
    path("usage/all/<slug:slug>/", usage_views.platform_tenant_usage, name="platform_tenant_usage"),
    path(
        "usage/all/<slug:slug>.csv",
        usage_views.platform_tenant_usage_csv,
        name="platform_tenant_usage_csv",
    ),
    path("", include("reminders.urls")),
]
