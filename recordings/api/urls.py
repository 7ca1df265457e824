"""Recording routes under /t/<tenant>/calling/ (actions after a literal ':')."""

from django.urls import path

import calls.api.urls  # noqa: F401  (registers the "ccid" path converter used below)
from recordings.api import views

urlpatterns = [
    path("recordings", views.StartRecordingView.as_view()),
    path("recordings/<ccid:recording_id>", views.RecordingView.as_view()),
    path("recordings/<ccid:recording_id>:pause", views.PauseView.as_view()),
    path("recordings/<ccid:recording_id>:resume", views.ResumeView.as_view()),
]

# Chunk downloads, under /t/<tenant>/recordings/ (the *Location URLs of the file event).
download_patterns = [
    path("v1/objects/<ccid:document_id>/content/audio", views.ContentView.as_view()),
    path("v1/objects/<ccid:document_id>/content/acsmetadata", views.MetadataView.as_view()),
    path("v1/objects/<ccid:document_id>", views.ObjectView.as_view()),
]
