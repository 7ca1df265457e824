from django.urls import path

from portal import views

urlpatterns = [
    path("", views.home, name="home"),
    path("t/<slug:tenant_slug>/", views.dashboard, name="dashboard"),
]
