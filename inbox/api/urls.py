from django.urls import path

from . import views

C = "conversations/<int:number>/"

urlpatterns = [
    path("conversations/", views.ConversationListApi.as_view(), name="api_conversation_list"),
    path(C, views.ConversationDetailApi.as_view(), name="api_conversation_detail"),
    path(C + "assign/", views.ConversationAssignApi.as_view(), name="api_conversation_assign"),
    path(C + "claim/", views.ConversationClaimApi.as_view(), name="api_conversation_claim"),
    path(C + "transfer/", views.ConversationTransferApi.as_view(), name="api_conversation_transfer"),
    path(C + "status/", views.ConversationStatusApi.as_view(), name="api_conversation_status"),
    path(C + "resolve/", views.ConversationResolveApi.as_view(), name="api_conversation_resolve"),
    path(C + "return/", views.ConversationReturnApi.as_view(), name="api_conversation_return"),
    path(C + "reply/", views.ConversationReplyApi.as_view(), name="api_conversation_reply"),
    path(
        C + "reply/preview/",
        views.ConversationReplyPreviewApi.as_view(),
        name="api_conversation_reply_preview",
    ),
    path(C + "notes/", views.ConversationNotesApi.as_view(), name="api_conversation_notes"),
]
