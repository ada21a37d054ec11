from django.urls import path

from . import views

urlpatterns = [
    path("contacts/", views.ContactListCreateApi.as_view(), name="api_contact_list"),
    path("contacts/batch/", views.ContactBatchApi.as_view(), name="api_contact_batch"),
    path("contacts/<int:contact_id>/", views.ContactDetailApi.as_view(), name="api_contact_detail"),
    path("contacts/<int:contact_id>/events/", views.ContactEventListApi.as_view(), name="api_contact_events"),
    path(
        "contacts/by-external-id/<path:external_id>/",
        views.ContactByExternalIdApi.as_view(),
        name="api_contact_by_external_id",
    ),
    path("events/", views.EventListCreateApi.as_view(), name="api_event_list"),
    path("events/batch/", views.EventBatchApi.as_view(), name="api_event_batch"),
]
