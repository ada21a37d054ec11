"""URLs of the contact panel, the supervisor page and the inbox settings (issue 13 items 6, 8,
10 and the settings); the inbox page's own URLs are in inbox/urls.py."""

from django.urls import path

from . import panel_views, settings_views, supervisor_views

urlpatterns = [
    path("c/<int:number>/contact/", panel_views.contact_panel, name="inbox_contact_panel"),
    path("c/<int:number>/contact/edit/", panel_views.contact_edit, name="inbox_contact_edit"),
    path(
        "c/<int:number>/contact/vulnerability/",
        panel_views.vulnerability_set,
        name="inbox_contact_vulnerability",
    ),
    path("c/<int:number>/promise/", panel_views.promise_record, name="inbox_promise_record"),
    path("c/<int:number>/contact/resolve/", panel_views.resolve, name="inbox_panel_resolve"),
    path("supervisor/", supervisor_views.supervisor, name="inbox_supervisor"),
    path("settings/", settings_views.inbox_settings, name="inbox_settings"),
    path("settings/queues/new/", settings_views.queue_edit, name="inbox_queue_create"),
    path("settings/queues/<int:pk>/", settings_views.queue_edit, name="inbox_queue_edit"),
    path("settings/queues/<int:pk>/delete/", settings_views.queue_delete, name="inbox_queue_delete"),
    path("settings/canned/new/", settings_views.canned_edit, name="inbox_canned_create"),
    path("settings/canned/<int:pk>/", settings_views.canned_edit, name="inbox_canned_edit"),
    path("settings/canned/<int:pk>/delete/", settings_views.canned_delete, name="inbox_canned_delete"),
]
