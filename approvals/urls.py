from django.urls import path

from . import views

app_name = "approvals"

urlpatterns = [
    path("approvals/", views.approval_queue, name="queue"),
    path("approvals/bulk", views.approvals_bulk, name="bulk"),
    path("approvals/<int:approval_id>/approve", views.approval_approve, name="approve"),
    path("approvals/<int:approval_id>/reject", views.approval_reject, name="reject"),
    path("approvals/<int:approval_id>/regenerate", views.approval_regenerate, name="regenerate"),
]
