from django.urls import path

from . import views

urlpatterns = [
    path("messages/", views.MessageListCreateApi.as_view(), name="api_message_list"),
    path("messages/batch/", views.MessageBatchApi.as_view(), name="api_message_batch"),
    path("messages/<int:message_id>/", views.MessageDetailApi.as_view(), name="api_message_detail"),
    path("channels/", views.ChannelListApi.as_view(), name="api_channel_list"),
    path("verifications/", views.VerificationStartApi.as_view(), name="api_verification_start"),
    path("verifications/settings/", views.VerifyPolicyApi.as_view(), name="api_verification_settings"),
    path(
        "verifications/<int:verification_id>/",
        views.VerificationDetailApi.as_view(),
        name="api_verification_detail",
    ),
    path(
        "verifications/<int:verification_id>/check/",
        views.VerificationCheckApi.as_view(),
        name="api_verification_check",
    ),
    path(
        "verifications/<int:verification_id>/resend/",
        views.VerificationResendApi.as_view(),
        name="api_verification_resend",
    ),
]
