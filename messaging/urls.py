from django.urls import path

from messaging import apis

urlpatterns = [
    path("messages/send/<str:user_id>", apis.DirectMessageSendApi.as_view(), name="message-send"),
    path("messages/<str:user_id>", apis.DirectMessageListApi.as_view(), name="message-list"),
    path("conversations", apis.ConversationListApi.as_view(), name="conversation-list"),
    path(
        "conversations/<str:conversation_id>",
        apis.ConversationDetailApi.as_view(),
        name="conversation-detail",
    ),
    path(
        "conversations/<str:conversation_id>/members",
        apis.GroupMembersApi.as_view(),
        name="conversation-members",
    ),
    path(
        "conversations/<str:conversation_id>/members/<str:user_id>",
        apis.GroupMemberApi.as_view(),
        name="conversation-member",
    ),
    path(
        "conversations/<str:conversation_id>/messages",
        apis.ConversationMessagesApi.as_view(),
        name="conversation-messages",
    ),
    path(
        "conversations/<str:conversation_id>/read",
        apis.ConversationReadApi.as_view(),
        name="conversation-read",
    ),
    path("sync", apis.SyncApi.as_view(), name="sync"),
]
