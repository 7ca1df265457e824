from django.urls import path

from portal import developers, views

urlpatterns = [
    path("", views.home, name="home"),
    path("t/<slug:tenant_slug>/", views.dashboard, name="dashboard"),
    path("t/<slug:tenant_slug>/developers/", developers.developers, name="developers"),
]
