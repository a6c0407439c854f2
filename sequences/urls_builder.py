from django.urls import path

from .views import builder, nodes

urlpatterns = [
    path("sequences/", builder.sequence_list, name="sequence-list"),
    path("sequences/new/", builder.sequence_create, name="sequence-create"),
    path("sequences/templates/", builder.sequence_templates, name="sequence-templates"),
    path("sequences/<int:sequence_id>/", builder.sequence_detail, name="sequence-detail"),
    path("sequences/<int:sequence_id>/settings/", builder.sequence_settings, name="sequence-settings"),
    path("sequences/<int:sequence_id>/goals/add/", builder.goal_add, name="goal-add"),
    path("sequences/<int:sequence_id>/goals/<str:goal_key>/delete/", builder.goal_delete, name="goal-delete"),
    path("sequences/<int:sequence_id>/activate/", builder.sequence_activate, name="sequence-activate"),
    path("sequences/<int:sequence_id>/pause/", builder.sequence_pause, name="sequence-pause"),
    path("sequences/<int:sequence_id>/resume/", builder.sequence_resume, name="sequence-resume"),
    path("sequences/<int:sequence_id>/archive/", builder.sequence_archive, name="sequence-archive"),
    path("sequences/<int:sequence_id>/duplicate/", builder.sequence_duplicate, name="sequence-duplicate"),
    path("sequences/<int:sequence_id>/steps/add/", builder.step_add, name="step-add"),
    path("sequences/<int:sequence_id>/steps/<int:step_id>/edit/", builder.step_edit, name="step-edit"),
    path("sequences/<int:sequence_id>/steps/<int:step_id>/delete/", builder.step_delete, name="step-delete"),
    path("sequences/<int:sequence_id>/steps/<int:step_id>/move/", builder.step_move, name="step-move"),
    path("sequences/<int:sequence_id>/nodes/add/", nodes.node_add, name="node-add"),
    path("sequences/<int:sequence_id>/nodes/<int:node_id>/edit/", nodes.node_edit, name="node-edit"),
    path("sequences/<int:sequence_id>/nodes/<int:node_id>/delete/", nodes.node_delete, name="node-delete"),
]
