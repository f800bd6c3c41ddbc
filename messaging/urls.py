from django.urls import path

from messaging import apis

urlpatterns = [
    # The account's export reads messaging's data, so it lives here (imports flow one way).
    path("auth/me/export", apis.AccountExportApi.as_view(), name="auth-me-export"),
    path("messages/send/<str:user_id>", apis.DirectMessageSendApi.as_view(), name="message-send"),
    # GET with a user's id (the reference route); PATCH/DELETE with a message's id.
    path("messages/<str:id>", apis.MessageApi.as_view(), name="message"),
    path(
        "messages/<str:id>/reactions/<str:emoji>",
        apis.MessageReactionApi.as_view(),
        name="message-reaction",
    ),
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
    path("attachments", apis.AttachmentUploadApi.as_view(), name="attachment-upload"),
    path("attachments/<str:id>", apis.AttachmentApi.as_view(), name="attachment"),
    path(
        "attachments/<str:id>/thumbnail",
        apis.AttachmentThumbnailApi.as_view(),
        name="attachment-thumbnail",
    ),
    path("search", apis.SearchApi.as_view(), name="search"),
]
