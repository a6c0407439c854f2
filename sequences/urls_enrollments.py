from django.urls import path

from .views import enrollments

urlpatterns = [
    path("sequences/<int:sequence_id>/enrollments/", enrollments.enrollment_table, name="enrollments"),
    path("sequences/<int:sequence_id>/enrollments/bulk/", enrollments.enrollment_bulk, name="enrollments-bulk"),
    path("sequences/<int:sequence_id>/enrollments/rules/", enrollments.entry_rules, name="entry-rules"),
    path("enrollments/<int:enrollment_id>/pause/", enrollments.enrollment_pause, name="enrollment-pause"),
    path("enrollments/<int:enrollment_id>/resume/", enrollments.enrollment_resume, name="enrollment-resume"),
    path("enrollments/<int:enrollment_id>/unenroll/", enrollments.enrollment_unenroll, name="enrollment-unenroll"),
]
