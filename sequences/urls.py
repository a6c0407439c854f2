# The sequences app serves four areas, each with its own URL module: the builder
# (sequences and steps), versions (list, diff, publish), enrollments (tables, bulk
# actions) and the engine's views.
from . import urls_builder, urls_engine, urls_enrollments, urls_versions

app_name = "sequences"

urlpatterns = (urls_builder.urlpatterns + urls_versions.urlpatterns + urls_enrollments.urlpatterns
               + urls_engine.urlpatterns)
