"""Pages of the messaging core: messages log, phone simulator, channels admin, OTP tryout."""

from django.urls import path

from .views import channels, messages, simulator, unsubscribe, verify

urlpatterns = [
    path("messages/", messages.message_list, name="message_list"),
    path("messages/<int:pk>/", messages.message_detail, name="message_detail"),
    path("simulator/", simulator.simulator, name="simulator"),
    path("simulator/contacts/", simulator.simulator_contact_create, name="simulator_contact_create"),
    path("simulator/reply/", simulator.simulator_reply_view, name="simulator_reply"),
    path("simulator/read/", simulator.simulator_read_view, name="simulator_read"),
    path("simulator/send/", simulator.simulator_send, name="simulator_send"),
    path("channels/", channels.channel_list, name="channel_list"),
    path("channels/new/", channels.channel_create, name="channel_create"),
    path("channels/<int:pk>/", channels.channel_edit, name="channel_edit"),
    path("channels/check/", channels.channel_check, name="channel_check"),
    path("channels/<int:pk>/test/", channels.channel_test, name="channel_test"),
    path("channels/<int:pk>/templates/sync/", channels.channel_templates_sync, name="channel_templates_sync"),
    path("channels/<int:pk>/toggle/", channels.channel_toggle, name="channel_toggle"),
    path("unsubscribe/<str:token>/", unsubscribe.email_unsubscribe, name="email_unsubscribe"),
    path("verify/", verify.verification_list, name="verification_list"),
    path("verify/<int:pk>/", verify.verification_detail, name="verification_detail"),
    path("verify/settings/", verify.verification_settings, name="verification_settings"),
]
