from django.urls import path

from .views import versions

urlpatterns = [
    path("sequences/<int:sequence_id>/versions/", versions.version_list, name="version-list"),
    path("sequences/<int:sequence_id>/versions/<int:number>/", versions.version_detail, name="version-detail"),
    path("sequences/<int:sequence_id>/publish/", versions.version_publish, name="version-publish"),
]
