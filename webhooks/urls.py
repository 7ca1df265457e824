from django.urls import path

from webhooks.portal import views

urlpatterns = [
    path("t/<slug:tenant_slug>/settings/webhooks/", views.webhooks, name="webhooks"),
    path("t/<slug:tenant_slug>/deliveries/", views.deliveries, name="deliveries"),
]
