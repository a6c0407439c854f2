from django.urls import path

from .views import engine

urlpatterns = [
    path("enrollments/<int:enrollment_id>/", engine.enrollment_detail, name="enrollment-detail"),
]
