from django.urls import path

from . import api

app_name = "api"

urlpatterns = [
    path("sequences/", api.sequence_collection, name="sequences"),
    path("sequences/<int:sequence_id>/", api.sequence_item, name="sequence"),
    path("sequences/<int:sequence_id>/enroll/", api.sequence_enroll, name="sequence-enroll"),
    path("sequences/<int:sequence_id>/analytics/", api.sequence_analytics, name="sequence-analytics"),
    path("sequences/<int:sequence_id>/pause/", api.sequence_pause, name="sequence-pause"),
    path("sequences/<int:sequence_id>/resume/", api.sequence_resume, name="sequence-resume"),
]
