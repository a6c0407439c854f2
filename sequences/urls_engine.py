from django.urls import path

from .views import engine

urlpatterns = [
    path("enrollments/<int:enrollment_id>/", engine.enrollment_detail, name="enrollment-detail"),
    path("enrollments/<int:enrollment_id>/priority/", engine.enrollment_priority, name="enrollment-priority"),
    path("enrollments/<int:enrollment_id>/retry/", engine.enrollment_retry, name="enrollment-retry"),
]
