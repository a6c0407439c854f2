from django.urls import path

from .views import contacts, imports, lists, suppression

app_name = "contacts"

urlpatterns = [
    path("contacts/", contacts.contact_index, name="index"),
    path("contacts/bulk/", contacts.contact_bulk, name="bulk"),
    path("contacts/count/", contacts.contact_count, name="count"),
    path("contacts/new/", contacts.contact_new, name="new"),
    path("contacts/<int:contact_id>/", contacts.contact_detail, name="detail"),
    path("contacts/<int:contact_id>/edit/", contacts.contact_edit, name="edit"),
    path("contacts/<int:contact_id>/enroll/", contacts.contact_enroll, name="enroll"),
    path("contacts/<int:contact_id>/erase/", suppression.contact_erase, name="erase"),
    path("contacts/suppression/", suppression.suppression_index, name="suppression"),
    path("contacts/suppression/add/", suppression.suppression_add_view, name="suppression-add"),
    path("contacts/suppression/erase/", suppression.suppression_erase_view, name="suppression-erase"),
    path("contacts/import/", imports.import_upload, name="import-upload"),
    path("contacts/import/<int:import_id>/", imports.import_detail, name="import-detail"),
    path("contacts/import/<int:import_id>/rejected.csv", imports.import_rejected_csv, name="import-rejected-csv"),
    path("lists/", lists.lists, name="lists"),
    path("lists/<int:list_id>/", lists.list_detail, name="list-detail"),
    path("lists/<int:list_id>/rename/", lists.list_rename_view, name="list-rename"),
    path("lists/<int:list_id>/delete/", lists.list_delete_view, name="list-delete"),
    path("lists/<int:list_id>/members/add/", lists.list_members_add, name="list-members-add"),
    path("lists/<int:list_id>/members/remove/", lists.list_members_remove, name="list-members-remove"),
    path("lists/<int:list_id>/enroll/", lists.list_enroll, name="list-enroll"),
]
