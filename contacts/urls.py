from django.urls import include, path

from . import views

urlpatterns = [
    path("", views.contact_list, name="contact_list"),
    path("new/", views.contact_create, name="contact_create"),
    path("export.csv", views.contact_export, name="contact_export"),
    path("<int:pk>/", views.contact_detail, name="contact_detail"),
    path("<int:pk>/edit/", views.contact_edit, name="contact_edit"),
    path("<int:pk>/delete/", views.contact_delete, name="contact_delete"),
    path("<int:pk>/events/", views.contact_event_add, name="contact_event_add"),
    path("segments/", views.segment_list, name="segment_list"),
    path("segments/new/", views.segment_edit, name="segment_create"),
    path("segments/preview/", views.segment_preview, name="segment_preview"),
    path("segments/<int:pk>/", views.segment_edit, name="segment_edit"),
    path("segments/<int:pk>/delete/", views.segment_delete, name="segment_delete"),
    path("attributes/", views.attribute_list, name="attribute_list"),
    path("imports/", include("contacts.import_urls")),
]
