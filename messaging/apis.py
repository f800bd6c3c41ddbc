from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import parse_limit
from chatsite.openapi import integer_parameter, links, object_id_parameter, raises
from messaging import errors, selectors, services
from messaging.serializers import (
    ConversationListSerializer,
    ConversationSerializer,
    EditMessageSerializer,
    GroupCreateSerializer,
    GroupMemberRoleSerializer,
    GroupMembersAddSerializer,
    GroupRenameSerializer,
    GroupSerializer,
    MarkReadSerializer,
    MessagePageSerializer,
    MessageSerializer,
    ReadMarkerSerializer,
    SearchHitSerializer,
    SearchQuerySerializer,
    SearchResultSerializer,
    SendMessageSerializer,
    SyncQuerySerializer,
    SyncSerializer,
)
from messaging.throttles import ActionRateThrottle, SearchRateThrottle, SendRateThrottle

SEARCH_PAGE_MAX = 50
PAGE_PARAMETERS = [
    integer_parameter("before", 0, selectors.SEQ_MAX, "Only messages with a smaller seq."),
    integer_parameter("after", 0, selectors.SEQ_MAX, "Only messages with a larger seq."),
    integer_parameter(
        "limit",
        1,
        settings.CHAT["PAGE_SIZE_MAX"],
        f"Page size (default {settings.CHAT['PAGE_SIZE']}).",
    ),
]
USER_ID = object_id_parameter("user_id", "The other user's id.")
PEER_ID = object_id_parameter("id", "The other user's id.")
MESSAGE_ID = object_id_parameter("id", "A message of one of your conversations.")
EMOJI = OpenApiParameter(
    "emoji",
    {"type": "string", "minLength": 1, "maxLength": 64},
    OpenApiParameter.PATH,
    required=True,
    description="One emoji (`👍`, URL-encoded) or its short name (`thumbs_up`, `+1`).",
)
MEMBER_ID = object_id_parameter("user_id", "A member's id (your own to leave).")
CONVERSATION_ID = object_id_parameter("conversation_id", "One of your conversations.")
# What the send service refuses in a body the schema allows: the state the schema can't know.
TEXT_ERRORS = (errors.MessageInvalid, errors.MessageEmpty, errors.MessageTooLong)
SEND_ERRORS = (*TEXT_ERRORS, errors.ClientMsgIdInvalid, errors.ReplyNotFound)
# What the author can no longer change.
CHANGE_ERRORS = (errors.MessageNotFound, errors.MessageHiddenByModerator, errors.SystemMessage)
# A sent message leads to its conversation's history, the next send and the read marker.
SENT_MESSAGE_LINKS = {
    "conversation_messages_list": {
        "parameters": {"conversation_id": "$response.body#/conversationId"}
    },
    "conversation_messages_send": {
        "parameters": {"conversation_id": "$response.body#/conversationId"}
    },
    "conversation_read": {
        "parameters": {"conversation_id": "$response.body#/conversationId"},
        "requestBody": {"seq": "$response.body#/seq"},
    },
    "messages_list": {"parameters": {"id": "$response.body#/receiverId"}},
    "message_edit": {"parameters": {"id": "$response.body#/_id"}},
    "message_react": {"parameters": {"id": "$response.body#/_id"}},
}
HAS_MORE = OpenApiParameter(
    "X-Has-More",
    {"type": "string", "enum": ["true", "false"]},
    OpenApiParameter.HEADER,
    required=True,
    description="More messages exist in the direction of travel.",
    response=[200],
)
PREV_LINK = OpenApiParameter(
    "Link",
    str,
    OpenApiParameter.HEADER,
    description='`<…?before=<seq>&limit=<n>>; rel="prev"`: the next older page.',
    response=[200],
)


def _page_arguments(request) -> dict:
    return {
        "before": selectors.parse_seq(request.query_params.get("before"), "before"),
        "after": selectors.parse_seq(request.query_params.get("after"), "after"),
        "limit": parse_limit(
            request.query_params.get("limit"),
            default=settings.CHAT["PAGE_SIZE"],
            maximum=settings.CHAT["PAGE_SIZE_MAX"],
        ),
    }


def _send(request, **target):
    serializer = SendMessageSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    message = services.message_send(
        sender=request.user,
        body=serializer.validated_data["message"],
        client_msg_id=serializer.validated_data.get("clientMsgId"),
        reply_to=serializer.validated_data.get("replyTo"),
        **target,
    )
    return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)


class DirectMessageSendApi(APIView):
    """Send a message to a user (reference route). Creates the 1:1 conversation on first use."""

    throttle_classes = [SendRateThrottle]

    @extend_schema(
        operation_id="messages_send",
        parameters=[USER_ID],
        request=SendMessageSerializer,
        responses={
            201: MessageSerializer,
            **raises(*SEND_ERRORS, errors.CannotMessageSelf, errors.ReceiverNotFound),
        },
    )
    @links(201, **SENT_MESSAGE_LINKS)
    def post(self, request, user_id):
        receiver = selectors.user_get_active(user_id=user_id)
        return _send(request, receiver=receiver)


class MessageApi(APIView):
    """GET `/api/messages/<user id>`: the messages of the 1:1 conversation with a user, oldest
    first (reference route). The body is a plain array, as in the reference design; the latest
    page by default, older pages with `?before=<seq>`. `X-Has-More` and the `Link: rel="prev"`
    header point at the next older page.

    PATCH and DELETE `/api/messages/<message id>`: its author edits or deletes a message."""

    throttle_classes = [ActionRateThrottle]

    def get_throttles(self):
        return [] if self.request.method == "GET" else super().get_throttles()

    @extend_schema(
        operation_id="messages_list",
        parameters=[PEER_ID, *PAGE_PARAMETERS, HAS_MORE, PREV_LINK],
        responses={200: MessageSerializer(many=True), **raises(errors.ReceiverNotFound)},
    )
    def get(self, request, id):
        arguments = _page_arguments(request)
        conversation = selectors.conversation_get_direct(user=request.user, other_id=id)
        if conversation is None:
            return Response([], headers={"X-Has-More": "false"})
        messages, has_more = selectors.message_page(conversation=conversation, **arguments)
        response = Response(MessageSerializer(messages, many=True).data)
        if has_more and arguments["after"] is None and messages:
            older = f"{request.path}?before={messages[0].seq}&limit={arguments['limit']}"
            response["Link"] = f'<{request.build_absolute_uri(older)}>; rel="prev"'
        response["X-Has-More"] = "true" if has_more else "false"
        return response

    @extend_schema(
        operation_id="message_edit",
        parameters=[MESSAGE_ID],
        request=EditMessageSerializer,
        responses={
            200: MessageSerializer,
            **raises(
                *TEXT_ERRORS,
                *CHANGE_ERRORS,
                errors.MessageDeleted,
                errors.EditWindowPassed,
                errors.EditLimitReached,
            ),
        },
    )
    def patch(self, request, id):
        """Replace the text of your message (within `MESSAGE_EDIT_WINDOW_SECONDS`). Every
        participant gets `messageUpdated`."""
        serializer = EditMessageSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        message = selectors.message_get_for_user(user=request.user, message_id=id)
        if "message" in serializer.validated_data:
            message = services.message_edit(
                message=message, user=request.user, body=serializer.validated_data["message"]
            )
        elif message.sender_id != request.user.pk:
            raise errors.MessageNotFound()  # only its author edits it, even to change nothing
        return Response(MessageSerializer(message).data)

    @extend_schema(
        operation_id="message_delete",
        parameters=[MESSAGE_ID],
        request=None,
        responses={200: MessageSerializer, **raises(*CHANGE_ERRORS)},
    )
    def delete(self, request, id):
        """Delete your message for everyone: it stays in the history as a tombstone
        (`deleted: true`, no text). Every participant gets `messageDeleted`; deleting again
        changes nothing."""
        message = services.message_delete(
            message=selectors.message_get_for_user(user=request.user, message_id=id),
            user=request.user,
        )
        return Response(MessageSerializer(message).data)


REACTION_ERRORS = (
    errors.MessageNotFound,
    errors.EmojiInvalid,
    errors.MessageDeleted,
    errors.MessageHiddenByModerator,
)


class MessageReactionApi(APIView):
    """POST: react to a message with an emoji (once per emoji). DELETE: take the reaction back.
    Every participant gets `reactionsUpdated`; repeating either changes nothing."""

    throttle_classes = [ActionRateThrottle]

    def _react(self, request, id, emoji, service):
        message = service(
            message=selectors.message_get_for_user(user=request.user, message_id=id),
            user=request.user,
            emoji=emoji,
        )
        return Response(MessageSerializer(message).data)

    @extend_schema(
        operation_id="message_react",
        parameters=[MESSAGE_ID, EMOJI],
        request=None,
        responses={200: MessageSerializer, **raises(*REACTION_ERRORS, errors.TooManyReactions)},
    )
    def post(self, request, id, emoji):
        return self._react(request, id, emoji, services.message_react)

    @extend_schema(
        operation_id="message_unreact",
        parameters=[MESSAGE_ID, EMOJI],
        request=None,
        responses={200: MessageSerializer, **raises(*REACTION_ERRORS)},
    )
    def delete(self, request, id, emoji):
        return self._react(request, id, emoji, services.message_unreact)


class ConversationListApi(APIView):
    """The caller's conversations, most recent activity first, with the other participants,
    the last message and the unread count. `syncCursor` is where `/api/sync` picks up."""

    @extend_schema(operation_id="conversations_list", responses={200: ConversationListSerializer})
    @links(200, sync={"parameters": {"since": "$response.body#/syncCursor"}})
    def get(self, request):
        items, versions = selectors.conversation_list_for_user(user=request.user)
        cursor = services.sync_checkpoint_create(user=request.user, versions=versions)
        return Response(
            {"conversations": ConversationSerializer(items, many=True).data, "syncCursor": cursor}
        )

    @extend_schema(
        operation_id="conversations_create",
        request=GroupCreateSerializer,
        responses={
            201: GroupSerializer,
            **raises(
                errors.GroupNameInvalid,
                errors.TooFewMembers,
                errors.TooManyMembers,
                errors.UserNotFound,
            ),
        },
    )
    def post(self, request):
        """Create a group: you are its owner and a member, with `participantIds`."""
        serializer = GroupCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        group = services.group_create(
            creator=request.user,
            name=serializer.validated_data["name"],
            member_ids=serializer.validated_data["participantIds"],
        )
        return Response(GroupSerializer(group).data, status=status.HTTP_201_CREATED)


GROUP_CHANGE_ERRORS = (errors.ConversationNotFound, errors.NotAGroup, errors.GroupAdminRequired)


class ConversationDetailApi(APIView):
    """GET: one of your conversations with its members and roles. PATCH: rename a group (its
    owner and admins)."""

    @extend_schema(
        operation_id="conversation_get",
        parameters=[CONVERSATION_ID],
        responses={200: GroupSerializer, **raises(errors.ConversationNotFound)},
    )
    def get(self, request, conversation_id):
        conversation = selectors.conversation_get_for_user(
            user=request.user, conversation_id=conversation_id
        )
        return Response(GroupSerializer(conversation).data)

    @extend_schema(
        operation_id="conversation_rename",
        parameters=[CONVERSATION_ID],
        request=GroupRenameSerializer,
        responses={200: GroupSerializer, **raises(errors.GroupNameInvalid, *GROUP_CHANGE_ERRORS)},
    )
    def patch(self, request, conversation_id):
        serializer = GroupRenameSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        group = _group_of(request, conversation_id)
        if "name" in serializer.validated_data:
            group = services.group_rename(
                conversation=group, actor=request.user, name=serializer.validated_data["name"]
            )
        return Response(GroupSerializer(group).data)


def _group_of(request, conversation_id):
    conversation = selectors.conversation_get_for_user(
        user=request.user, conversation_id=conversation_id
    )
    if conversation.kind != conversation.Kind.GROUP:
        raise errors.NotAGroup()
    return conversation


class GroupMembersApi(APIView):
    """Add members to a group (its owner and admins)."""

    @extend_schema(
        operation_id="conversation_members_add",
        parameters=[CONVERSATION_ID],
        request=GroupMembersAddSerializer,
        responses={
            200: GroupSerializer,
            **raises(errors.UserNotFound, errors.TooManyMembers, *GROUP_CHANGE_ERRORS),
        },
    )
    def post(self, request, conversation_id):
        serializer = GroupMembersAddSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        group = services.group_members_add(
            conversation=_group_of(request, conversation_id),
            actor=request.user,
            user_ids=serializer.validated_data["userIds"],
        )
        return Response(GroupSerializer(group).data)


class GroupMemberApi(APIView):
    """DELETE: remove a member (owner: anyone; admins: plain members), or leave (your own id).
    PATCH: the owner changes a member's role, or hands ownership over."""

    @extend_schema(
        operation_id="conversation_member_remove",
        parameters=[CONVERSATION_ID, MEMBER_ID],
        responses={
            200: GroupSerializer,
            **raises(errors.MemberNotFound, errors.GroupOwnerRequired, *GROUP_CHANGE_ERRORS),
        },
    )
    def delete(self, request, conversation_id, user_id):
        group = services.group_member_remove(
            conversation=_group_of(request, conversation_id),
            actor=request.user,
            user_id=selectors.object_id(user_id, errors.MemberNotFound),
        )
        return Response(GroupSerializer(group).data)

    @extend_schema(
        operation_id="conversation_member_role",
        parameters=[CONVERSATION_ID, MEMBER_ID],
        request=GroupMemberRoleSerializer,
        responses={
            200: GroupSerializer,
            **raises(
                errors.RoleInvalid,
                errors.MemberNotFound,
                errors.GroupOwnerRequired,
                errors.ConversationNotFound,
                errors.NotAGroup,
            ),
        },
    )
    def patch(self, request, conversation_id, user_id):
        serializer = GroupMemberRoleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        group = _group_of(request, conversation_id)
        member = selectors.object_id(user_id, errors.MemberNotFound)
        if member not in group.participants:
            raise errors.MemberNotFound()
        if "role" in serializer.validated_data:
            group = services.group_member_set_role(
                conversation=group,
                actor=request.user,
                user_id=member,
                role=serializer.validated_data["role"],
            )
        return Response(GroupSerializer(group).data)


class ConversationMessagesApi(APIView):
    """GET: one page of a conversation's messages, oldest first. POST: send into it."""

    throttle_classes = [SendRateThrottle]

    def get_throttles(self):
        return super().get_throttles() if self.request.method == "POST" else []

    @extend_schema(
        operation_id="conversation_messages_list",
        parameters=[CONVERSATION_ID, *PAGE_PARAMETERS],
        responses={200: MessagePageSerializer, **raises(errors.ConversationNotFound)},
    )
    def get(self, request, conversation_id):
        arguments = _page_arguments(request)
        conversation = selectors.conversation_get_for_user(
            user=request.user, conversation_id=conversation_id
        )
        messages, has_more = selectors.message_page(conversation=conversation, **arguments)
        return Response(
            {
                "messages": MessageSerializer(messages, many=True).data,
                "hasMore": has_more,
                "before": messages[0].seq if messages else None,
                "after": messages[-1].seq if messages else None,
            }
        )

    @extend_schema(
        operation_id="conversation_messages_send",
        parameters=[CONVERSATION_ID],
        request=SendMessageSerializer,
        responses={201: MessageSerializer, **raises(*SEND_ERRORS, errors.ConversationNotFound)},
    )
    @links(201, **SENT_MESSAGE_LINKS)
    def post(self, request, conversation_id):
        conversation = selectors.conversation_get_for_user(
            user=request.user, conversation_id=conversation_id
        )
        return _send(request, conversation=conversation)


class ConversationReadApi(APIView):
    """Move the caller's read marker forward to `seq` (never back). Peers get `messagesRead`."""

    @extend_schema(
        operation_id="conversation_read",
        parameters=[CONVERSATION_ID],
        request=MarkReadSerializer,
        responses={
            200: ReadMarkerSerializer,
            **raises(errors.SeqInvalid, errors.ConversationNotFound),
        },
    )
    def post(self, request, conversation_id):
        serializer = MarkReadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        conversation = selectors.conversation_get_for_user(
            user=request.user, conversation_id=conversation_id
        )
        seq = services.conversation_mark_read(
            user=request.user, conversation=conversation, seq=serializer.validated_data["seq"]
        )
        return Response(
            {"conversationId": str(conversation.pk), "userId": str(request.user.pk), "seq": seq}
        )


class SyncApi(APIView):
    """Everything the caller missed since `since` (a cursor from an earlier answer or from
    `GET /api/conversations`): messages (new, hidden, unhidden) and read markers."""

    @extend_schema(
        operation_id="sync",
        parameters=[SyncQuerySerializer],
        responses={200: SyncSerializer, **raises(errors.CursorInvalid)},
    )
    @links(200, sync={"parameters": {"since": "$response.body#/cursor"}})
    def get(self, request):
        # A plain dict: DRF reads an empty value in a QueryDict as "not sent"; the schema
        # refuses it.
        query = SyncQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        changes = selectors.sync_changes(user=request.user, since=query.validated_data.get("since"))
        if "cursor" not in changes:
            changes["cursor"] = services.sync_checkpoint_create(
                user=request.user, versions=changes["versions"]
            )
        return Response(
            {
                "messages": MessageSerializer(changes["messages"], many=True).data,
                "reads": changes["reads"],
                "cursor": changes["cursor"],
                "hasMore": changes["hasMore"],
            }
        )


class SearchApi(APIView):
    """Your messages containing every word of `q`, newest first, in all your conversations or
    one; each hit with its conversation and where the words are, for highlighting. Hidden and
    deleted messages are never found."""

    throttle_classes = [SearchRateThrottle]

    @extend_schema(
        operation_id="search",
        parameters=[
            SearchQuerySerializer,
            integer_parameter("limit", 1, SEARCH_PAGE_MAX, "Hits per page (default 20)."),
        ],
        responses={
            200: SearchResultSerializer,
            **raises(
                errors.SearchQueryInvalid, errors.SearchCursorInvalid, errors.ConversationNotFound
            ),
        },
    )
    def get(self, request):
        query = SearchQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        limit = parse_limit(request.query_params.get("limit"), default=20, maximum=SEARCH_PAGE_MAX)
        hits, has_more = selectors.message_search(
            user=request.user,
            query=query.validated_data["q"],
            conversation_id=query.validated_data.get("conversationId"),
            before=query.validated_data.get("before"),
            limit=limit,
        )
        return Response(
            {
                "hits": SearchHitSerializer(hits, many=True).data,
                "cursor": str(hits[-1]["message"].pk) if hits else None,
                "hasMore": has_more,
            }
        )
