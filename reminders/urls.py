"""Portal pages of the reminders app (callauto/urls.py composes them under /portal/)."""

from django.urls import path

from reminders import appointment_pages, views

T = "t/<slug:tenant_slug>/reminders"

urlpatterns = [
    path(f"{T}/plans/", views.plans, name="reminder_plans"),
    path(f"{T}/plans/new/", views.edit_plan, name="reminder_plan_new"),
    path(f"{T}/plans/<int:plan_id>/", views.edit_plan, name="reminder_plan"),
    path(
        f"{T}/plans/<int:plan_id>/preview.wav",
        appointment_pages.plan_preview,
        name="reminder_plan_preview",
    ),
    path(f"{T}/appointments/", views.appointments, name="reminder_appointments"),
    path(
        f"{T}/appointments/<int:appointment_id>/",
        views.appointment,
        name="reminder_appointment",
    ),
    path(
        f"{T}/appointments/new/",
        appointment_pages.edit_appointment,
        name="reminder_appointment_new",
    ),
    path(
        f"{T}/appointments/<int:appointment_id>/edit/",
        appointment_pages.edit_appointment,
        name="reminder_appointment_edit",
    ),
    path(
        f"{T}/appointments/<int:appointment_id>/preview.wav",
        appointment_pages.appointment_preview,
        name="reminder_appointment_preview",
    ),
    path(f"{T}/imports/", views.imports, name="reminder_imports"),
    path(f"{T}/imports/sample.csv", views.sample_csv, name="reminder_sample_csv"),
    path(f"{T}/imports/<int:job_id>/", views.import_job, name="reminder_import"),
    path(f"{T}/report/", views.report, name="reminder_report"),
]
