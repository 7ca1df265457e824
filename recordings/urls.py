"""Portal pages of the recordings app: the list with its player, and the files it plays."""

from django.urls import path

from recordings import views

urlpatterns = [
    path("t/<slug:tenant_slug>/recordings/", views.recordings, name="recordings"),
    path(
        "t/<slug:tenant_slug>/recordings/<str:document_id>/file",
        views.chunk_file,
        name="recording_file",
    ),
]
