from django.urls import path
from rest_framework.routers import SimpleRouter

from tenants.api import views
from tenants.api.trunks import TrunkViewSet

router = SimpleRouter(trailing_slash=False)
router.register("trunks", TrunkViewSet, basename="trunks")

urlpatterns = [
    path("tenant", views.TenantView.as_view(), name="api-tenant"),
    *router.urls,
]
