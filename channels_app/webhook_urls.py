from django.urls import path

from . import webhooks

urlpatterns = [
    path("<str:provider>/<str:token>/", webhooks.events_webhook, name="webhook_events"),
    path("<str:provider>/<str:token>/inbound/", webhooks.inbound_webhook, name="webhook_inbound"),
    path("<str:provider>/<str:token>/status/", webhooks.status_webhook, name="webhook_status"),
]
