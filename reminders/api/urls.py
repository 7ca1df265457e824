from django.urls import path
from rest_framework.routers import SimpleRouter

from reminders.api import views
from reminders.api.callbacks import CallbackView

router = SimpleRouter(trailing_slash=False)
router.register("contacts", views.ContactViewSet, basename="contacts")
router.register("appointments", views.AppointmentViewSet, basename="appointments")
router.register("plans", views.PlanViewSet, basename="plans")
router.register("attempts", views.AttemptViewSet, basename="attempts")
router.register("suppressions", views.SuppressionViewSet, basename="suppressions")
router.register("imports", views.ImportViewSet, basename="imports")

urlpatterns = [
    *router.urls,
    path("reminders/dispatch", views.DispatchView.as_view(), name="reminders-dispatch"),
    path("reminders/callbacks/<str:token>", CallbackView.as_view(), name="reminders-callback"),
    path("schema", views.SchemaView.as_view(), name="api-schema"),
    path("docs", views.DocsView.as_view(), name="api-docs"),
]
