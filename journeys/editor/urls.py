from django.urls import path

from . import testrun_views, views

urlpatterns = [
    path("", views.editor_index, name="editor_index"),
    path("sms/", views.editor_sms, name="editor_sms"),
    path("<int:pk>/", views.editor, name="editor"),
    path("<int:pk>/save/", views.editor_save, name="editor_save"),
    path("<int:pk>/purpose/", views.editor_purpose, name="editor_purpose"),
    path("<int:pk>/node/", views.editor_node_form, name="editor_node_form"),
    path("<int:pk>/publish/", views.editor_publish, name="editor_publish"),
    path("<int:pk>/versions/", views.editor_versions, name="editor_versions"),
    path("<int:pk>/versions/<int:number>/", views.editor_version, name="editor_version"),
    path("<int:pk>/versions/<int:number>/restore/", views.editor_restore, name="editor_restore"),
    path("<int:pk>/counts/", views.editor_counts, name="editor_counts"),
    path("<int:pk>/contacts/", views.editor_contacts, name="editor_contacts"),
    path("<int:pk>/test/", testrun_views.editor_test_start, name="editor_test_start"),
    path("<int:pk>/test/contacts/", testrun_views.editor_test_contacts, name="editor_test_contacts"),
    path(
        "<int:pk>/test/contacts/new/", testrun_views.editor_test_contact_new, name="editor_test_contact_new"
    ),
    path("<int:pk>/experiment/", views.editor_experiment, name="editor_experiment"),
]
