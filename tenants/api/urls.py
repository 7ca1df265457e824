from django.urls import path

from tenants.api import views

urlpatterns = [
    path("tenant", views.TenantView.as_view(), name="api-tenant"),
]
