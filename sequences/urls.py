# The sequences app serves three areas, each with its own URL module: the builder
# (sequences and steps), enrollments (tables, bulk actions) and the engine's views.
from . import urls_builder, urls_engine, urls_enrollments

app_name = "sequences"

urlpatterns = urls_builder.urlpatterns + urls_enrollments.urlpatterns + urls_engine.urlpatterns
