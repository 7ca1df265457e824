"""Routes under /t/<tenant>/calling/. Custom actions follow a literal ':' (ACS-WIRE.md §3),
so a connection id may not contain ':' while a participant rawId may."""

from django.urls import path, register_converter

from calls.api import streaming_views, views


class ConnectionIdConverter:
    regex = r"[^/:]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(ConnectionIdConverter, "ccid")

# ACS operations we answer with 400 NotSupported (listed in README.md).
NOT_SUPPORTED = {
    "/participants:moveHere": "Moving participants between calls",
}

urlpatterns = [
    path("callConnections", views.CreateCallView.as_view()),
    path("callConnections:answer", views.AnswerCallView.as_view()),
    path("callConnections:redirect", views.RedirectCallView.as_view()),
    path("callConnections:reject", views.RejectCallView.as_view()),
    path("callConnections:connect", views.ConnectCallView.as_view()),
    path("callConnections/<ccid:call_connection_id>", views.CallConnectionView.as_view()),
    path("callConnections/<ccid:call_connection_id>:terminate", views.TerminateView.as_view()),
    # Out-of-call operations: by serverCallId, for calls the app is not in.
    path("serverCalls/<ccid:server_call_id>/participants:add", views.OutOfCallAddView.as_view()),
    path(
        "serverCalls/<ccid:server_call_id>/participants:remove",
        views.OutOfCallRemoveView.as_view(),
    ),
    path("callConnections/<ccid:call_connection_id>:play", views.PlayView.as_view()),
    path("callConnections/<ccid:call_connection_id>:recognize", views.RecognizeView.as_view()),
    path(
        "callConnections/<ccid:call_connection_id>:cancelAllMediaOperations",
        views.CancelAllMediaView.as_view(),
    ),
    path(
        "callConnections/<ccid:call_connection_id>:startContinuousDtmfRecognition",
        views.ContinuousDtmfView.as_view(on=True),
    ),
    path(
        "callConnections/<ccid:call_connection_id>:stopContinuousDtmfRecognition",
        views.ContinuousDtmfView.as_view(on=False),
    ),
    path("callConnections/<ccid:call_connection_id>:sendDtmfTones", views.SendDtmfView.as_view()),
    path("callConnections/<ccid:call_connection_id>:hold", views.HoldView.as_view(on=True)),
    path("callConnections/<ccid:call_connection_id>:unhold", views.HoldView.as_view(on=False)),
    path(
        "callConnections/<ccid:call_connection_id>:transferToParticipant",
        views.TransferView.as_view(),
    ),
    path(
        "callConnections/<ccid:call_connection_id>/participants",
        views.ParticipantsView.as_view(),
    ),
    path(
        "callConnections/<ccid:call_connection_id>/participants:add",
        views.AddParticipantView.as_view(),
    ),
    path(
        "callConnections/<ccid:call_connection_id>/participants:remove",
        views.RemoveParticipantView.as_view(),
    ),
    path(
        "callConnections/<ccid:call_connection_id>/participants:cancelAddParticipant",
        views.CancelAddParticipantView.as_view(),
    ),
    path(
        "callConnections/<ccid:call_connection_id>/participants:mute",
        views.MuteParticipantView.as_view(),
    ),
    path(
        "callConnections/<ccid:call_connection_id>/participants/<path:raw_id>",
        views.ParticipantView.as_view(),
    ),
    *[
        path(
            f"callConnections/<ccid:call_connection_id>:{verb}",
            streaming_views.StreamingView.as_view(verb=verb),
        )
        for verb in streaming_views.VERBS
    ],
    *[
        path(
            f"callConnections/<ccid:call_connection_id>{suffix}",
            views.NotSupportedView.as_view(feature=feature),
        )
        for suffix, feature in NOT_SUPPORTED.items()
    ],
]
