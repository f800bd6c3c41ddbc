from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import parse_limit
from messaging import selectors, services
from messaging.serializers import (
    ConversationListSerializer,
    ConversationSerializer,
    MarkReadSerializer,
    MessagePageSerializer,
    MessageSerializer,
    ReadMarkerSerializer,
    SendMessageSerializer,
    SyncQuerySerializer,
    SyncSerializer,
)
from messaging.throttles import SendRateThrottle

PAGE_PARAMETERS = [
    OpenApiParameter("before", int, description="Only messages with a smaller seq."),
    OpenApiParameter("after", int, description="Only messages with a larger seq."),
    OpenApiParameter("limit", int, description="Page size (default 50, at most 200)."),
]


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
        **target,
    )
    return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)


class DirectMessageSendApi(APIView):
    """Send a message to a user (reference route). Creates the 1:1 conversation on first use."""

    throttle_classes = [SendRateThrottle]

    @extend_schema(request=SendMessageSerializer, responses={201: MessageSerializer})
    def post(self, request, user_id):
        receiver = selectors.user_get_active(user_id=user_id)
        return _send(request, receiver=receiver)


class DirectMessageListApi(APIView):
    """Messages of the 1:1 conversation with a user, oldest first (reference route).

    The body is a plain array, as in the reference design; the latest page by default, older
    pages with `?before=<seq>`. `X-Has-More` and the `Link: rel="prev"` header point at the
    next older page."""

    @extend_schema(parameters=PAGE_PARAMETERS, responses={200: MessageSerializer(many=True)})
    def get(self, request, user_id):
        arguments = _page_arguments(request)
        conversation = selectors.conversation_get_direct(user=request.user, other_id=user_id)
        if conversation is None:
            return Response([])
        messages, has_more = selectors.message_page(conversation=conversation, **arguments)
        response = Response(MessageSerializer(messages, many=True).data)
        if has_more and arguments["after"] is None and messages:
            older = f"{request.path}?before={messages[0].seq}&limit={arguments['limit']}"
            response["Link"] = f'<{request.build_absolute_uri(older)}>; rel="prev"'
        response["X-Has-More"] = "true" if has_more else "false"
        return response


class ConversationListApi(APIView):
    """The caller's conversations, most recent activity first, with the other participants,
    the last message and the unread count. `syncCursor` is where `/api/sync` picks up."""

    @extend_schema(responses={200: ConversationListSerializer})
    def get(self, request):
        items, versions = selectors.conversation_list_for_user(user=request.user)
        cursor = selectors.checkpoint_create(user=request.user, versions=versions)
        return Response(
            {"conversations": ConversationSerializer(items, many=True).data, "syncCursor": cursor}
        )


class ConversationMessagesApi(APIView):
    """GET: one page of a conversation's messages, oldest first. POST: send into it."""

    throttle_classes = [SendRateThrottle]

    def get_throttles(self):
        return super().get_throttles() if self.request.method == "POST" else []

    @extend_schema(parameters=PAGE_PARAMETERS, responses={200: MessagePageSerializer})
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

    @extend_schema(request=SendMessageSerializer, responses={201: MessageSerializer})
    def post(self, request, conversation_id):
        conversation = selectors.conversation_get_for_user(
            user=request.user, conversation_id=conversation_id
        )
        return _send(request, conversation=conversation)


class ConversationReadApi(APIView):
    """Move the caller's read marker forward to `seq` (never back). Peers get `messagesRead`."""

    @extend_schema(request=MarkReadSerializer, responses={200: ReadMarkerSerializer})
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
        parameters=[OpenApiParameter("since", str, description="Cursor from the last answer.")],
        responses={200: SyncSerializer, 410: OpenApiResponse(description="cursor_invalid")},
    )
    def get(self, request):
        query = SyncQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        changes = selectors.sync_changes(user=request.user, since=query.validated_data.get("since"))
        return Response(
            {
                "messages": MessageSerializer(changes["messages"], many=True).data,
                "reads": changes["reads"],
                "cursor": changes["cursor"],
                "hasMore": changes["hasMore"],
            }
        )
