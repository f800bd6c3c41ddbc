from pathlib import PurePosixPath

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.http import FileResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.cache import get_conditional_response
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.apis import current_session_id
from accounts.selectors import parse_limit
from chatsite.errors import ValidationFailed
from chatsite.openapi import integer_parameter, links, object_id_parameter, raises
from messaging import errors, files, selectors, services
from messaging.models import Attachment
from messaging.serializers import (
    AttachmentSerializer,
    AttachmentUploadSerializer,
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
from messaging.throttles import (
    ActionRateThrottle,
    ExportRateThrottle,
    SearchRateThrottle,
    SendRateThrottle,
    UploadRateThrottle,
)

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
SEND_ERRORS = (
    *TEXT_ERRORS,
    errors.ClientMsgIdInvalid,
    errors.ReplyNotFound,
    errors.AttachmentNotFound,
    errors.TooManyAttachments,
)
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
        body=serializer.validated_data.get("message"),
        client_msg_id=serializer.validated_data.get("clientMsgId"),
        reply_to=serializer.validated_data.get("replyTo"),
        attachments=serializer.validated_data.get("attachments"),
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


# --- attachments ------------------------------------------------------------------------------

# Room for the multipart framing around the file (boundaries, part headers, the name).
MULTIPART_OVERHEAD = 64 * 1024
ATTACHMENT_ID = object_id_parameter(
    "id", "An attachment of a message of one of your conversations, or your unused upload."
)
# A file as its own document: nothing in it runs or loads anything (an HTML or SVG file opened
# from here, were one ever stored, could not script the site), nor may it be framed.
FILE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; sandbox; frame-ancestors 'none'"
IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    str,
    OpenApiParameter.HEADER,
    description="The `ETag` of a copy you hold: `304` without a body if it is still current.",
)
FILE_HEADERS = [
    OpenApiParameter(
        "ETag", str, OpenApiParameter.HEADER, required=True, response=[200, 304],
        description="The file's SHA-256, quoted.",
    ),
    OpenApiParameter(
        "Cache-Control", str, OpenApiParameter.HEADER, required=True, response=[200, 304],
        description="`private, no-cache`: keep a copy, ask again (`If-None-Match`) before using "
        "it, since access can end (a moderator hides the message, you leave the group).",
    ),
    OpenApiParameter(
        "Content-Disposition", str, OpenApiParameter.HEADER, required=True, response=[200],
        description="`inline` for JPEG, PNG, GIF and WebP images, `attachment` (a download) "
        "for everything else; with the file's name.",
    ),
]  # fmt: skip
FILE_RESPONSES = {
    (200, "*/*"): OpenApiResponse(
        OpenApiTypes.BINARY, description="The file, as `Content-Type` says (read from its bytes)."
    ),
    304: OpenApiResponse(description="Not modified: the `If-None-Match` copy is current."),
    **raises(errors.AttachmentNotFound),
}


class AnyAccept(BaseContentNegotiation):
    """A file answers with its own type whatever `Accept` says (an `<img>` asks for
    `image/*`); errors are JSON."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class AttachmentUploadApi(APIView):
    """Upload one file to send with a message (`attachments` on any send). It is yours alone
    until a message carries it; unused, it is deleted after a day."""

    parser_classes = [MultiPartParser]
    throttle_classes = [UploadRateThrottle]

    @extend_schema(
        operation_id="attachments_upload",
        request={"multipart/form-data": AttachmentUploadSerializer},
        responses={
            201: AttachmentSerializer,
            **raises(
                errors.AttachmentTooLarge,
                errors.AttachmentTypeNotAllowed,
                errors.AttachmentImageTooLarge,
            ),
        },
    )
    def post(self, request):
        limit = settings.CHAT["ATTACHMENT_MAX_BYTES"]
        # Refused before the body is read (WSGI modes; under ASGI, Django has spooled it to a
        # temporary file already): nothing of it reaches the database.
        length = request.META.get("CONTENT_LENGTH") or "0"
        if not length.isdigit() or int(length) > limit + MULTIPART_OVERHEAD:
            raise errors.AttachmentTooLarge(f"The file is larger than {limit} bytes.")
        serializer = AttachmentUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if len(request.FILES.getlist("file")) > 1:
            raise ValidationFailed("Send one file.", fields={"file": ["Send one file."]})
        attachment = services.attachment_upload(
            uploader=request.user, upload=serializer.validated_data["file"]
        )
        return Response(AttachmentSerializer(attachment).data, status=status.HTTP_201_CREATED)


class AttachmentApi(APIView):
    """Download an attachment: for the participants of the conversation whose message carries
    it, while that message is neither hidden nor deleted, and for its uploader before it is
    used; everyone else gets `404 attachment_not_found`. Bearer token or session cookie."""

    content_negotiation_class = AnyAccept
    thumbnail = False

    @extend_schema(
        operation_id="attachment_download",
        parameters=[ATTACHMENT_ID, IF_NONE_MATCH, *FILE_HEADERS],
        responses=FILE_RESPONSES,
    )
    def get(self, request, id):
        attachment = selectors.attachment_get_for_user(user=request.user, attachment_id=id)
        return file_response(request, attachment, thumbnail=self.thumbnail)


class AttachmentThumbnailApi(AttachmentApi):
    """An image attachment's thumbnail (at most 320 pixels a side, JPEG or PNG), for whoever
    may download the image; other attachments have none (`404 attachment_not_found`)."""

    thumbnail = True

    @extend_schema(
        operation_id="attachment_thumbnail",
        parameters=[ATTACHMENT_ID, IF_NONE_MATCH, *FILE_HEADERS],
        responses=FILE_RESPONSES,
    )
    def get(self, request, id):
        return super().get(request, id)


def file_response(request, attachment: Attachment, *, thumbnail: bool):
    """The file (or its thumbnail) streamed from the storage, with the headers that keep a
    browser from running it, and an ETag for `304 Not Modified`. Also used by the admin."""
    field = attachment.thumbnail if thumbnail else attachment.file
    if not field:
        raise errors.AttachmentNotFound()
    etag = f'"{attachment.sha256}{"-thumbnail" if thumbnail else ""}"'
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    not_modified = get_conditional_response(request, etag=etag)
    if not_modified is not None:
        for header, value in headers.items():
            not_modified[header] = value
        return not_modified
    if thumbnail:
        extension = PurePosixPath(field.name).suffix.lstrip(".")
        content_type = files.THUMBNAIL_TYPES[extension]
        name = f"{PurePosixPath(attachment.name).stem}-thumbnail.{extension}"
    else:
        content_type, name = attachment.content_type, attachment.name
    response = FileResponse(
        field.storage.open(field.name),
        content_type=content_type,
        as_attachment=content_type not in files.IMAGE_TYPES,
        filename=name,
    )
    for header, value in headers.items():
        response[header] = value
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = FILE_POLICY
    return response


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


class AccountExportApi(APIView):
    """The caller's own data as a JSON download: profile, login sessions, the conversations
    they are in, every message they wrote. Streamed: it can be large."""

    throttle_classes = [ExportRateThrottle]

    @extend_schema(
        operation_id="auth_me_export",
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="`{exportedAt, profile, sessions, conversations, messages}` "
                "(docs/api.md), as an attachment (`Content-Disposition`).",
            )
        },
    )
    def get(self, request):
        sid = current_session_id(request)
        chunks = selectors.account_export_chunks(user=request.user, current_sid=sid)
        if isinstance(request._request, ASGIRequest):
            # Under ASGI Django would gather a synchronous iterator whole before sending it.
            chunks = _async_chunks(chunks)
        response = StreamingHttpResponse(chunks, content_type="application/json")
        stamp = timezone.now().strftime("%Y%m%d")
        response["Content-Disposition"] = f'attachment; filename="chat-export-{stamp}.json"'
        response["Cache-Control"] = "no-store"
        return response


async def _async_chunks(chunks):
    """Each database page read in Django's thread for synchronous code, one at a time."""
    take = sync_to_async(next, thread_sensitive=True)
    while (chunk := await take(chunks, None)) is not None:
        yield chunk
