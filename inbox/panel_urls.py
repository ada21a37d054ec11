"""URLs of the contact panel, the supervisor page and the inbox settings (issue 13 items 6, 8,
10 and the settings); the inbox page's own URLs are in inbox/urls.py."""

from django.urls import path

from . import panel_views

urlpatterns = [
    path("c/<int:number>/contact/", panel_views.contact_panel, name="inbox_contact_panel"),
    path("c/<int:number>/contact/edit/", panel_views.contact_edit, name="inbox_contact_edit"),
    path(
        "c/<int:number>/contact/vulnerability/",
        panel_views.vulnerability_set,
        name="inbox_contact_vulnerability",
    ),
    path("c/<int:number>/promise/", panel_views.promise_record, name="inbox_promise_record"),
]
