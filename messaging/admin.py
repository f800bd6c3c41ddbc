"""Moderation admin for conversations and messages.

Messages are written through the same services as the REST API and the socket events: adding
one calls `message_send`, the "hide"/"unhide" actions call `message_hide`/`message_unhide`, so
seq allocation, versions (for `/api/sync`) and the realtime events can't drift apart. Nothing
else is editable here.

Query shapes, chosen so that a page reads about as many documents as it shows (the embedded
SecantusDB reads every document an index range or a sort covers, whatever the limit, and
MongoDB counts a whole collection by reading it):
- Related rows (conversation, sender) are loaded for the page with one `_id $in` query per
  relation, not `select_related` (on MongoDB a `$lookup` placed before the sort and the limit:
  a join over the whole collection for every page) and not `prefetch_related` (which filters
  with `$expr`, which no index serves).
- The message changelist, unfiltered, is counted from the conversations and, on the embedded
  database only, paged by time windows on the `(-created_at)` index
  (`NewestMessagesPaginator`); the "hidden" filter is a range on a partial index of hidden
  messages; the inline is a seq range. `show_full_result_count = False`: Django's own switch
  for large tables, so a filtered list is not counted twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property

from bson import ObjectId
from bson.errors import InvalidId
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import connections, models
from django.db.models import Max, Min, Q, Sum
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpResponseRedirect
from django.template.defaultfilters import filesizeformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from accounts.models import User
from chatsite.errors import ChatError
from chatsite.mongodb import find_ids_holding_all
from messaging import errors, selectors, services
from messaging.apis import file_response
from messaging.models import (
    EPOCH,
    NAMED_MEMBERS,
    Attachment,
    Conversation,
    Message,
    shown_username,
)
from messaging.search import query_terms

INLINE_MESSAGES = 50
SEARCH_USERS_MAX = 1000
SEARCH_MESSAGES_MAX = 1000


def _short(text: str, length: int = 80) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def _attach(objects: Sequence[models.Model], field_name: str) -> None:
    """Fill the `field_name` foreign key of every object from one `_id $in` query."""
    if not objects:
        return
    field = objects[0]._meta.get_field(field_name)
    ids = {getattr(obj, field.attname) for obj in objects} - {None}
    related = field.related_model.objects.in_bulk(ids)
    for obj in objects:
        value = related.get(getattr(obj, field.attname))
        if value is not None:
            field.set_cached_value(obj, value)


def conversation_latest_messages(conversation: Conversation, count: int) -> list[Message]:
    """The newest `count` messages of a conversation, newest first: seqs are gap-free, so these
    are the ones after `last_seq - count`, a range on the `(conversation, seq)` index."""
    latest = list(
        Message.objects.filter(
            conversation=conversation, seq__gt=conversation.last_seq - count
        ).order_by("-seq")
    )
    _attach(latest, "sender")
    return latest


# --- conversations --------------------------------------------------------------------------


class LatestMessagesFormSet(BaseInlineFormSet):
    """Only the newest messages: a conversation can hold millions."""

    def get_queryset(self):
        if not hasattr(self, "_latest"):
            self._latest = conversation_latest_messages(self.instance, INLINE_MESSAGES)
        return self._latest


class MessageInline(admin.TabularInline):
    model = Message
    fk_name = "conversation"
    formset = LatestMessagesFormSet
    fields = ("seq", "sender", "short_body", "created_at", "hidden")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = f"Latest {INLINE_MESSAGES} messages (newest first)"

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Message")
    def short_body(self, message: Message) -> str:
        return _short(message.body)

    @admin.display(boolean=True)
    def hidden(self, message: Message) -> bool:
        return message.is_hidden


def name_conversations(conversations: Sequence[Conversation], *, members: int = 0) -> None:
    """Name the conversations of a page (`shown_name`, and `participant_names`: their first
    `members` participants) with one query, unless the paginator did."""
    unnamed = [c for c in conversations if "participant_names" not in c.__dict__]
    if not unnamed:
        return
    usernames = selectors.attach_conversation_names(unnamed, members=members)
    for conversation in unnamed:
        listed = conversation.participants[:members]
        conversation.participant_names = [usernames.get(p, "Deleted user") for p in listed]


class NamedConversationsPaginator(Paginator):
    """Pages of conversations named by their participants in one query: the changelist's and
    the autocomplete's (choosing a conversation when adding a message)."""

    def _get_page(self, object_list, *args, **kwargs):
        object_list = list(object_list)
        name_conversations(object_list, members=LISTED_MEMBERS)
        return super()._get_page(object_list, *args, **kwargs)


class ConversationChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        # Participants are an array of ids, not a relation: one query names them for the page.
        self.result_list = list(self.result_list)
        name_conversations(self.result_list, members=LISTED_MEMBERS)
        _attach(self.result_list, "owner")


# Members named in the conversation list; a group of a thousand shows its first ones.
LISTED_MEMBERS = 10
# Messages on one page of a conversation's thread.
THREAD_PAGE = 50


def _seq_param(request, name: str) -> int | None:
    """A thread page's `before`/`after`; one that is not a seq shows the newest messages."""
    with contextlib.suppress(ChatError):
        return selectors.parse_seq(request.GET.get(name), name)
    return None


def thread_url(conversation_id, *, seq: int | None = None) -> str:
    """A conversation's thread: its newest messages, or the page holding message `seq`
    (a few messages before it first), scrolled to it."""
    url = reverse("admin:messaging_conversation_thread", args=[conversation_id])
    if seq is None:
        return url + "#latest"
    return f"{url}?after={max(seq - 6, 0)}#m{seq}"


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "participant_usernames", "member_count", "owner",
                    "message_count", "last_message_at", "thread_link")  # fmt: skip
    list_display_links = ("name",)
    list_filter = ("kind", "last_message_at")
    paginator = NamedConversationsPaginator
    search_fields = ("title",)
    search_help_text = "A participant's username, the title or the conversation id."
    ordering = ("-last_message_at",)
    show_full_result_count = False
    fields = ("thread_link", "kind", "title", "owner", "members", "message_count", "version",
              "last_message_at", "archived_at", "created_at", "updated_at")  # fmt: skip
    readonly_fields = fields
    inlines = [MessageInline]

    def get_urls(self):
        remove = path(
            "<path:object_id>/remove-member/<str:user_id>/",
            self.admin_site.admin_view(self.remove_member_view),
            name="messaging_conversation_remove_member",
        )
        thread = path(
            "<path:object_id>/thread/",
            self.admin_site.admin_view(self.thread_view),
            name="messaging_conversation_thread",
        )
        return [remove, thread, *super().get_urls()]

    def thread_view(self, request, object_id: str):
        """A conversation as its participants read it, oldest first and the newest last, a
        page of THREAD_PAGE at a time (`?before=<seq>` and `?after=<seq>` page by the seq
        index, as the API does). Moderators with `messaging.hide_message` hide and unhide each
        message in place, through the same services as the message list's actions."""
        conversation = self.get_object(request, object_id)
        if conversation is None:
            raise Http404("No such conversation.")
        if not (
            self.has_view_permission(request, conversation)
            and request.user.has_perm("messaging.view_message")
        ):
            raise PermissionDenied
        may_hide = request.user.has_perm("messaging.hide_message")
        if request.method == "POST":
            return self._thread_hide(request, conversation, may_hide)
        before, after = _seq_param(request, "before"), _seq_param(request, "after")
        page, _ = selectors.message_page(
            conversation=conversation, before=before, after=after, limit=THREAD_PAGE
        )
        # Everyone the page names, in one query: senders, moderators, people in system lines.
        people = set(conversation.participants[:NAMED_MEMBERS])
        people.update(m.sender_id for m in page)
        people.update(m.hidden_by_id for m in page if m.hidden_by_id)
        for m in page:
            if m.system:
                named = [m.system.get("actorId"), *m.system.get("userIds", [])]
                people.update(ObjectId(i) for i in named if i and ObjectId.is_valid(str(i)))
        usernames = {
            pk: shown_username(name)
            for pk, name in User.objects.filter(pk__in=list(people)).values_list("pk", "username")
        }
        conversation.shown_name = conversation.name_with(usernames)
        for message in page:
            message.sender_name = usernames.get(message.sender_id, "Deleted user")
            message.hidden_by_name = usernames.get(message.hidden_by_id, "a moderator")
            message.text = (
                services.system_text(message.system, moderator=True, known=usernames)
                if message.system
                else message.body
            )
        base = reverse("admin:messaging_conversation_thread", args=[conversation.pk])
        first, last = (page[0].seq, page[-1].seq) if page else (0, 0)
        older = page and first > 1
        newer = page and last < conversation.last_seq
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "conversation": conversation,
            "title": f"{conversation.shown_name}: messages",
            "subtitle": None,
            "page": page,
            "may_hide": may_hide,
            "older_url": f"{base}?before={first}" if older else None,
            "newer_url": f"{base}?after={last}" if newer else None,
            "newest_url": base if newer else None,
            "change_url": reverse("admin:messaging_conversation_change", args=[conversation.pk]),
            "messages_url": reverse("admin:messaging_message_changelist")
            + f"?{ConversationFilter.parameter_name}={conversation.pk}",
        }
        return TemplateResponse(request, "admin/messaging/conversation/thread.html", context)

    def _thread_hide(self, request, conversation: Conversation, may_hide: bool):
        if not may_hide:
            raise PermissionDenied
        action = request.POST.get("action")
        raw_id = request.POST.get("message", "")
        message = Message.objects.filter(
            pk=ObjectId(raw_id) if ObjectId.is_valid(raw_id) else None, conversation=conversation
        ).first()
        if message is None or action not in ("hide", "unhide"):
            raise Http404("No such message in this conversation.")
        if action == "hide" and not message.is_hidden:
            services.message_hide(message=message, by=request.user)
            self.log_change(request, message, "Hidden")
            self.message_user(request, f"Hid message #{message.seq}.", messages.SUCCESS)
        elif action == "unhide" and message.is_hidden:
            services.message_unhide(message=message, by=request.user)
            self.log_change(request, message, "Unhidden")
            self.message_user(request, f"Unhid message #{message.seq}.", messages.SUCCESS)
        return HttpResponseRedirect(f"{request.get_full_path()}#m{message.seq}")

    def remove_member_view(self, request, object_id: str, user_id: str):
        """A moderator removes a member from a group (`messaging.remove_member`), through the
        same service as the group's owner."""
        if not request.user.has_perm("messaging.remove_member"):
            raise PermissionDenied
        conversation = self.get_object(request, object_id)
        member = User.objects.filter(pk=ObjectId(user_id) if ObjectId.is_valid(user_id) else None)
        member = member.first()
        if (
            conversation is None
            or conversation.kind != Conversation.Kind.GROUP
            or member is None
            or member.pk not in conversation.participants
        ):
            raise Http404("No such group member.")
        change_url = reverse("admin:messaging_conversation_change", args=[conversation.pk])
        if request.method == "POST":
            services.group_member_remove(
                conversation=conversation, actor=request.user, user_id=member.pk, moderator=True
            )
            self.message_user(request, f"{member.username} was removed from the group.")
            return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "conversation": conversation,
            "member": member,
            "title": "Remove a member",
        }
        return TemplateResponse(request, "admin/messaging/conversation/remove_member.html", context)

    def has_add_permission(self, request):
        return False  # conversations start with their first message

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_changelist(self, request, **kwargs):
        return ConversationChangeList

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        user_ids = list(
            User.objects.filter(username_key__contains=term.lower()).values_list("pk", flat=True)[
                :SEARCH_USERS_MAX
            ]
        )
        condition = Q(title__icontains=term)
        if user_ids:
            condition |= Q(participants__overlap=user_ids)
        with contextlib.suppress(InvalidId, TypeError):
            condition |= Q(pk=ObjectId(term))
        return queryset.filter(condition), False

    @admin.display(description="Conversation", ordering="title")
    def name(self, conversation: Conversation) -> str:
        return conversation.shown_name

    @admin.display(description="Thread")
    def thread_link(self, conversation: Conversation) -> str:
        return format_html('<a href="{}">Read the messages</a>', thread_url(conversation.pk))

    @admin.display(description="Participants")
    def participant_usernames(self, conversation: Conversation) -> str:
        names = conversation.participant_names
        more = len(conversation.participants) - len(names)
        return ", ".join(names) + (f" and {more} more" if more > 0 else "")

    @admin.display(description="Messages", ordering="last_seq")
    def message_count(self, conversation: Conversation) -> int:
        return conversation.last_seq

    @admin.display(description="Members")
    def member_count(self, conversation: Conversation) -> int:
        return len(conversation.participants)

    @admin.display(description="Members")
    def members(self, conversation: Conversation) -> str:
        return self._member_list(conversation, removable=False)

    @admin.display(description="Members")
    def members_removable(self, conversation: Conversation) -> str:
        return self._member_list(conversation, removable=True)

    def _member_list(self, conversation: Conversation, *, removable: bool) -> str:
        """Each member with their role; in a group, with a link to remove them."""
        users = User.objects.in_bulk(conversation.participants)
        removable = removable and conversation.kind == Conversation.Kind.GROUP
        roles = {
            conversation.owner_id: "owner",
            **dict.fromkeys(conversation.admins or [], "admin"),
        }
        items = []
        for user_id in conversation.participants:
            user = users.get(user_id)
            name = user.username if user else str(user_id)
            role = f" ({roles[user_id]})" if user_id in roles else ""
            if removable:
                url = reverse(
                    "admin:messaging_conversation_remove_member",
                    args=[conversation.pk, str(user_id)],
                )
                items.append(format_html('{}{} <a href="{}">remove</a>', name, role, url))
            else:
                items.append(format_html("{}{}", name, role))
        return format_html_join(", ", "{}", ((item,) for item in items))

    def get_fields(self, request, obj=None):
        # Moderators who may remove members get the member list with links to do so.
        if request.user.has_perm("messaging.remove_member"):
            return [f if f != "members" else "members_removable" for f in self.fields]
        return self.fields

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)


# --- messages -------------------------------------------------------------------------------


class HiddenFilter(admin.SimpleListFilter):
    title = "visibility"
    parameter_name = "hidden"

    def lookups(self, request, model_admin):
        return [("yes", "Hidden"), ("no", "Visible")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(hidden_at__gt=EPOCH)  # the partial `message_hidden` index
        if self.value() == "no":
            return queryset.filter(hidden_at__isnull=True)
        return queryset


class SenderFilter(admin.SimpleListFilter):
    """Messages of one sender, chosen by clicking a sender's name in the list (`?sender=<id>`):
    a list of every user as filter links would not scale."""

    title = "sender"
    parameter_name = "sender"

    def _sender_id(self) -> ObjectId | None:
        value = self.value()
        return ObjectId(value) if value and ObjectId.is_valid(value) else None

    def lookups(self, request, model_admin):
        sender_id = self._sender_id()
        sender = User.objects.filter(pk=sender_id).first() if sender_id else None
        return [(str(sender.pk), sender.username)] if sender else []

    def queryset(self, request, queryset):
        sender_id = self._sender_id()
        return queryset.filter(sender_id=sender_id) if sender_id else queryset


class ConversationFilter(admin.SimpleListFilter):
    """Messages of one conversation (`?conversation=<id>`), named by its participants; chosen
    from a conversation's thread or page (a list of every conversation would not scale)."""

    title = "conversation"
    parameter_name = "conversation"

    def _conversation_id(self) -> ObjectId | None:
        value = self.value()
        return ObjectId(value) if value and ObjectId.is_valid(value) else None

    def lookups(self, request, model_admin):
        conversation_id = self._conversation_id()
        conversation = (
            Conversation.objects.filter(pk=conversation_id).first() if conversation_id else None
        )
        return [(str(conversation.pk), conversation.shown_name)] if conversation else []

    def queryset(self, request, queryset):
        conversation_id = self._conversation_id()
        return queryset.filter(conversation_id=conversation_id) if conversation_id else queryset


class NewestMessagesPaginator(Paginator):
    """Pages of the message changelist without counting the whole collection.

    Unfiltered and in the default order (newest first):
    - the count is the sum of the conversations' `last_seq`, from the far smaller conversations
      collection: counting every message is a pass over all of them on MongoDB too. Seqs are
      gap-free and moderators hide messages rather than delete them, so it is exact unless
      users were deleted (their messages go, their conversations stay);
    - on a database whose backend declares `limit_reads_whole_index_range` (the embedded
      database's adapter, `chatsite.mongodb`), a page is read from the messages newer than a
      cutoff, a range on the `(-created_at)` index. The window starts at the newest message
      (the conversations' `last_message_at`), is sized from the average message rate, and
      doubles until it holds the page, so a page reads about as many messages as it and the
      pages before it hold. A window that would reach back to the oldest conversation's
      creation would hold every message (none sent through `message_send` is older than its
      conversation): that page is read without one. MongoDB stops at the limit, so there a
      page is Django's plain slice of the sorted list.
    Filtered, searched or re-sorted lists are counted and sliced as usual.
    """

    @cached_property
    def unfiltered(self) -> bool:
        """No filter, no search, newest first (whatever breaks ties)."""
        query = self.object_list.query
        return not query.where and query.order_by[:1] == ("-created_at",)

    @cached_property
    def _conversations(self) -> dict:
        return Conversation.objects.aggregate(
            total=Sum("last_seq"), newest=Max("last_message_at"), oldest=Min("created_at")
        )

    @cached_property
    def count(self) -> int:
        if not self.unfiltered:
            return super().count
        return self._conversations["total"] or 0

    def page(self, number):
        features = connections[self.object_list.db].features
        if not self.unfiltered or not getattr(features, "limit_reads_whole_index_range", False):
            return super().page(number)
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        return self._get_page(self._newest(bottom, top), number, self)

    def _newest(self, bottom: int, top: int) -> list[Message]:
        total, newest = self._conversations["total"], self._conversations["newest"]
        oldest = self._conversations["oldest"] or EPOCH
        if not total or newest is None or top <= bottom:
            return []
        window = max((newest - oldest) * (1.25 * top / total), timedelta(seconds=1))
        while True:
            cutoff = newest - window
            if cutoff <= oldest:
                # The window would hold every message: read the page without it, which is also
                # right for messages stored around message_send (older than their conversation).
                return list(self.object_list[bottom:top])
            rows = list(self.object_list.filter(created_at__gte=cutoff)[bottom:top])
            if len(rows) == top - bottom:
                return rows
            window *= 2


class MessageChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        self.result_list = list(self.result_list)
        _attach(self.result_list, "conversation")
        _attach(self.result_list, "sender")
        # One query names the page's conversations (a conversation appears once however many
        # of its messages the page lists).
        conversations = {m.conversation_id: m.conversation for m in self.result_list}
        selectors.attach_conversation_names(conversations.values())


class MessageAddForm(forms.ModelForm):
    """Post a message into a conversation as one of its participants (through message_send)."""

    class Meta:
        model = Message
        fields = ("conversation", "sender", "body")

    def clean(self):
        data = super().clean()
        conversation, sender = data.get("conversation"), data.get("sender")
        if conversation and sender and sender.pk not in conversation.participants:
            raise ValidationError({"sender": "The sender must be a participant."})
        if "body" in data:
            try:
                data["body"] = services.clean_body(data["body"])
            except ChatError as error:
                raise ValidationError({"body": error.detail}) from None
        return data


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("seq", "conversation_link", "sender_link", "short_body", "sent_at", "state")
    list_display_links = ("seq", "short_body")
    list_filter = (HiddenFilter, SenderFilter, ConversationFilter, "created_at")
    search_fields = ("body",)  # shows the search box; `get_search_results` reads the index
    search_help_text = (
        "Words (every one of them, as participants search), or a message id. Hidden and deleted "
        "messages have no words to find: list them with the filters."
    )
    ordering = ("-created_at",)
    show_full_result_count = False
    list_select_related = ()  # `_attach` loads them; see the module docstring
    paginator = NewestMessagesPaginator
    # Chosen by typing a username (or a group's name); shown by name, never by id.
    autocomplete_fields = ("conversation", "sender")
    actions = ["hide", "unhide"]
    fields = (
        "conversation", "thread_link", "seq", "sender", "receiver", "body", "reply_to",
        "client_msg_id", "created_at", "updated_at", "edited_at", "edit_history_table",
        "deleted_at", "reactions_table", "attachment_previews", "hidden_at", "hidden_by", "version",
    )  # fmt: skip

    def get_changelist(self, request, **kwargs):
        return MessageChangeList

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = MessageAddForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fields(self, request, obj=None):
        return MessageAddForm.Meta.fields if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.fields

    def has_change_permission(self, request, obj=None):
        return False  # hide/unhide are the only changes, as actions

    def has_delete_permission(self, request, obj=None):
        return False  # deleting would leave a gap in seq; hide instead

    def has_hide_permission(self, request) -> bool:
        return request.user.has_perm("messaging.hide_message")

    def save_form(self, request, form, change):
        return form.instance

    def save_model(self, request, obj, form, change):
        stored = services.message_send(
            sender=form.cleaned_data["sender"],
            conversation=form.cleaned_data["conversation"],
            body=form.cleaned_data["body"],
        )
        # The admin goes on with `obj` (log entry, redirect): make it the stored message.
        obj.__dict__.update(stored.__dict__)

    def save_related(self, request, form, formsets, change):
        pass  # a message has no many-to-many fields or inlines

    def get_search_results(self, request, queryset, search_term):
        """The newest SEARCH_MESSAGES_MAX messages with all the words, from the search index
        (`messaging.search`), not a scan of every message's text."""
        term = search_term.strip()
        if not term:
            return queryset, False
        condition = Q(pk__in=[])
        with contextlib.suppress(InvalidId, TypeError):
            condition |= Q(pk=ObjectId(term))
        if terms := query_terms(term):
            ids = find_ids_holding_all(
                connections[queryset.db].get_collection(Message._meta.db_table),
                field="search_terms",
                values=terms,
                where={},
                limit=SEARCH_MESSAGES_MAX,
                using=queryset.db,
            )
            condition |= Q(pk__in=ids)
        return queryset.filter(condition), False

    @admin.display(description="Sender")
    def sender_link(self, message: Message) -> str:
        """The sender's name, linking to the list of their messages (the sender filter)."""
        return format_html(
            '<a href="?{}={}">{}</a>', SenderFilter.parameter_name, message.sender_id,
            message.sender.username,
        )  # fmt: skip

    @admin.display(description="Conversation")
    def conversation_link(self, message: Message) -> str:
        """Its conversation's name, linking to the thread around this message."""
        return format_html(
            '<a href="{}">{}</a>',
            thread_url(message.conversation_id, seq=message.seq),
            message.conversation.shown_name,
        )

    @admin.display(description="In the thread")
    def thread_link(self, message: Message) -> str:
        return format_html(
            '<a href="{}">Read it among its neighbours</a>',
            thread_url(message.conversation_id, seq=message.seq),
        )

    @admin.display(description="Message")
    def short_body(self, message: Message) -> str:
        return "(deleted by its author)" if message.is_deleted else _short(message.body, 140)

    @admin.display(description="Sent", ordering="created_at")
    def sent_at(self, message: Message) -> str:
        """To the minute (the seconds are on hover): the column stays narrow."""
        at = timezone.localtime(message.created_at)
        return format_html(
            '<time datetime="{}" title="{}">{}</time>',
            at.isoformat(), at.strftime("%Y-%m-%d %H:%M:%S"), at.strftime("%Y-%m-%d %H:%M"),
        )  # fmt: skip

    @admin.display(description="State")
    def state(self, message: Message) -> str:
        """Hidden, edited, deleted: one narrow column of words rather than three of icons."""
        words = [
            word
            for word, flag in (
                ("hidden", message.is_hidden),
                ("edited", message.edited_at is not None),
                ("deleted", message.is_deleted),
            )
            if flag
        ]
        return format_html_join(" ", '<span class="message-state state-{}">{}</span>',
                                ((w, w) for w in words)) or "—"  # fmt: skip

    @admin.display(description="Edit history")
    def edit_history_table(self, message: Message) -> str:
        """The texts its author replaced, oldest first (participants see only the current one)."""
        if not message.edit_history:
            return "(deleted: erased with the text)" if message.is_deleted else "(never edited)"
        return format_html(
            "<ol>{}</ol>",
            format_html_join(
                "",
                "<li><time>{}</time>: {}</li>",
                ((entry["replacedAt"], entry["body"]) for entry in message.edit_history),
            ),
        )

    @admin.display(description="Reactions")
    def reactions_table(self, message: Message) -> str:
        if not message.reactions:
            return "(none)"
        user_ids = {ObjectId(u) for r in message.reactions for u in r["userIds"]}
        names = dict(User.objects.filter(pk__in=list(user_ids)).values_list("pk", "username"))
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li>{} {}: {}</li>",
                (
                    (
                        r["emoji"],
                        len(r["userIds"]),
                        ", ".join(names.get(ObjectId(u), "(deleted user)") for u in r["userIds"]),
                    )
                    for r in message.reactions
                ),
            ),
        )

    @admin.display(description="Attachments")
    def attachment_previews(self, message: Message) -> str:
        """Shown to moderators whether the message is hidden or not (participants get none
        while it is hidden)."""
        attachments = selectors.attachments_of(message)
        if not attachments:
            return "(none)"
        return format_html_join(" ", "{}", ((attachment_preview(a),) for a in attachments))

    @admin.action(description="Hide selected messages", permissions=["hide"])
    def hide(self, request, queryset):
        count = 0
        for message in queryset:
            if not message.is_hidden:
                services.message_hide(message=message, by=request.user)
                self.log_change(request, message, "Hidden")
                count += 1
        self.message_user(request, f"Hid {count} message(s).", messages.SUCCESS)

    @admin.action(description="Unhide selected messages", permissions=["hide"])
    def unhide(self, request, queryset):
        count = 0
        for message in queryset:
            if message.is_hidden:
                services.message_unhide(message=message, by=request.user)
                self.log_change(request, message, "Unhidden")
                count += 1
        self.message_user(request, f"Unhid {count} message(s).", messages.SUCCESS)


# --- attachments ----------------------------------------------------------------------------


def attachment_preview(attachment: Attachment, height: int = 80) -> str:
    """A thumbnail (images) or the name and size, linking to the attachment's admin page."""
    change_url = reverse("admin:messaging_attachment_change", args=[attachment.pk])
    if attachment.thumbnail:
        thumbnail_url = reverse("admin:messaging_attachment_thumbnail", args=[attachment.pk])
        return format_html(
            '<a href="{}"><img src="{}" alt="{}" height="{}"></a>',
            change_url, thumbnail_url, attachment.name, height,
        )  # fmt: skip
    return format_html(
        '<a href="{}">{} ({})</a>', change_url, attachment.name, filesizeformat(attachment.size)
    )


class AttachmentChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        self.result_list = list(self.result_list)
        _attach(self.result_list, "uploader")


@admin.register(Attachment)
class AttachmentAdmin(admin.ModelAdmin):
    """Uploaded files with their thumbnails. Moderators see the attachments of hidden messages
    too, and can delete one (`messaging.delete_attachment`): its message no longer carries it
    (participants get `messageUpdated`) and its files are deleted, through
    `services.attachment_delete`."""

    list_display = ("thumbnail_preview", "name", "content_type", "size_shown", "uploader",
                    "message_link", "created_at")  # fmt: skip
    list_display_links = ("thumbnail_preview", "name")
    list_filter = ("created_at",)
    search_fields = ("name",)
    ordering = ("-created_at",)
    show_full_result_count = False
    list_select_related = ()
    fields = ("large_preview", "name", "content_type", "size_shown", "width", "height",
              "uploader", "message_link", "sha256", "created_at", "download")  # fmt: skip
    readonly_fields = fields

    def get_changelist(self, request, **kwargs):
        return AttachmentChangeList

    def get_urls(self):
        def serve(thumbnail: bool):
            def view(request, object_id: str):
                if not self.has_view_permission(request):
                    raise PermissionDenied
                attachment = self.get_object(request, object_id)
                if attachment is None:
                    raise Http404("No such attachment.")
                try:
                    return file_response(request, attachment, thumbnail=thumbnail)
                except errors.AttachmentNotFound:
                    raise Http404("No such file.") from None

            return self.admin_site.admin_view(view)

        return [
            path("<path:object_id>/file/", serve(False), name="messaging_attachment_file"),
            path("<path:object_id>/thumbnail/", serve(True), name="messaging_attachment_thumbnail"),
            *super().get_urls(),
        ]

    def has_add_permission(self, request):
        return False  # uploads come from users, through the API

    def has_change_permission(self, request, obj=None):
        return False

    def delete_model(self, request, obj):
        services.attachment_delete(attachment=obj)

    def delete_queryset(self, request, queryset):
        for attachment in queryset:
            services.attachment_delete(attachment=attachment)

    @admin.display(description="Preview")
    def thumbnail_preview(self, attachment: Attachment) -> str:
        return attachment_preview(attachment, height=48) if attachment.thumbnail else "—"

    @admin.display(description="Preview")
    def large_preview(self, attachment: Attachment) -> str:
        return attachment_preview(attachment, height=240)

    @admin.display(description="Size", ordering="size")
    def size_shown(self, attachment: Attachment) -> str:
        return filesizeformat(attachment.size)

    @admin.display(description="Message")
    def message_link(self, attachment: Attachment) -> str:
        if attachment.message_id is None:
            return "(not sent yet)"
        url = reverse("admin:messaging_message_change", args=[attachment.message_id])
        return format_html('<a href="{}">{}</a>', url, attachment.message_id)

    @admin.display(description="File")
    def download(self, attachment: Attachment) -> str:
        url = reverse("admin:messaging_attachment_file", args=[attachment.pk])
        return format_html('<a href="{}">{}</a>', url, attachment.name)
