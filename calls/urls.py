"""Portal pages of the calls app: calls and their timelines, test callees, softphone."""

from django.urls import path

from calls import portal_views, softphone_views, views

urlpatterns = [
    path("t/<slug:tenant_slug>/settings/callees/", views.callees, name="callees"),
    path(
        "t/<slug:tenant_slug>/settings/callees/<int:callee_id>/",
        views.edit_callee,
        name="edit_callee",
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
    path("t/<slug:tenant_slug>/calls/", portal_views.calls, name="calls"),
    path("t/<slug:tenant_slug>/calls/<int:call_id>/", portal_views.call_detail, name="call_detail"),
    path(
        "t/<slug:tenant_slug>/calls/<int:call_id>/timeline/",
        portal_views.call_timeline,
        name="call_timeline",
    ),
]
