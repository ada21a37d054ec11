"""The inbox pages (docs/inbox.md)."""

from django.urls import path

from . import action_views, availability_views, views

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("c/<int:number>/", views.conversation, name="inbox_conversation"),
    path("c/<int:number>/changes/", views.changes, name="inbox_changes"),
    path("c/<int:number>/presence/", views.presence_view, name="inbox_presence"),
    path("c/<int:number>/preview/", views.preview, name="inbox_preview"),
    path("c/<int:number>/canned/", views.canned, name="inbox_canned"),
    path("c/<int:number>/reply/", views.reply, name="inbox_reply"),
    path("c/<int:number>/assign/", views.assign, name="inbox_assign"),
    path("c/<int:number>/note/", action_views.note, name="inbox_note"),
    path("c/<int:number>/transfer/", action_views.transfer, name="inbox_transfer"),
    path("c/<int:number>/status/", action_views.status, name="inbox_status"),
    path("c/<int:number>/priority/", action_views.priority, name="inbox_priority"),
    path("c/<int:number>/return/", action_views.return_to_journey, name="inbox_return"),
    path("messages/<int:message_id>/retry/", views.retry, name="inbox_retry"),
    path("availability/", availability_views.availability_set, name="inbox_availability"),
]
