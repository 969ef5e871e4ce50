"""The batch-job pages, mounted at ``account/jobs/`` by ``portal/urls.py`` (``jobs:`` names)."""

from django.urls import path

from models_hub.jobs import views

app_name = "jobs"

urlpatterns = [
    path("", views.jobs_home, name="list"),
    path("quote", views.job_quote, name="quote"),
    path("submit", views.job_submit, name="submit"),
    path("<uuid:public_id>/", views.job_detail, name="detail"),
    path("<uuid:public_id>/status", views.job_status, name="status"),
    path("<uuid:public_id>/cancel", views.job_cancel, name="cancel"),
    path("<uuid:public_id>/download", views.job_download, name="download"),
]
