"""Moderation admin for conversations and messages.

Messages are written through the same services as the REST API and the socket events: adding
one calls `message_send`, the "hide"/"unhide" actions call `message_hide`/`message_unhide`, so
seq allocation, versions (for `/api/sync`) and the realtime events can't drift apart. Nothing
else is editable here.

Related rows are fetched with `prefetch_related` (one `$in` query per relation per page), not
`select_related`: on MongoDB that is a `$lookup` placed before the sort and the limit, i.e. a
join over the whole collection for every changelist page.
"""

from __future__ import annotations

import contextlib

from bson import ObjectId
from bson.errors import InvalidId
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.forms.models import BaseInlineFormSet

from accounts.models import User
from chatsite.errors import ChatError
from messaging import services
from messaging.models import Conversation, Message

INLINE_MESSAGES = 50
SEARCH_USERS_MAX = 1000


def _short(text: str, length: int = 80) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


# --- conversations --------------------------------------------------------------------------


class LatestMessagesFormSet(BaseInlineFormSet):
    """Only the newest messages: a conversation can hold millions."""

    def get_queryset(self):
        if not hasattr(self, "_latest"):
            queryset = super().get_queryset().order_by("-seq").prefetch_related("sender")
            self._latest = queryset[:INLINE_MESSAGES]
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


class ConversationChangeList(ChangeList):
    def get_results(self, request):
        super().get_results(request)
        # Participants are an array of ids, not a relation: one query names them for the page.
        ids = {p for conversation in self.result_list for p in conversation.participants}
        names = dict(User.objects.filter(pk__in=ids).values_list("pk", "username"))
        for conversation in self.result_list:
            conversation.participant_names = [
                names.get(p, str(p)) for p in conversation.participants
            ]


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ("__str__", "participant_usernames", "message_count", "last_message_at")
    list_filter = ("kind", "last_message_at")
    search_fields = ("title",)
    search_help_text = "A participant's username, the title or the conversation id."
    ordering = ("-last_message_at",)
    show_full_result_count = False
    fields = ("kind", "title", "participant_usernames", "message_count", "version",
              "last_message_at", "created_at", "updated_at")  # fmt: skip
    readonly_fields = fields
    inlines = [MessageInline]

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

    @admin.display(description="Participants")
    def participant_usernames(self, conversation: Conversation) -> str:
        names = getattr(conversation, "participant_names", None)
        if names is None:  # the change page: a single conversation
            found = dict(
                User.objects.filter(pk__in=conversation.participants).values_list("pk", "username")
            )
            names = [found.get(p, str(p)) for p in conversation.participants]
        return ", ".join(names)

    @admin.display(description="Messages", ordering="last_seq")
    def message_count(self, conversation: Conversation) -> int:
        return conversation.last_seq


# --- messages -------------------------------------------------------------------------------


class HiddenFilter(admin.SimpleListFilter):
    title = "visibility"
    parameter_name = "hidden"

    def lookups(self, request, model_admin):
        return [("yes", "Hidden"), ("no", "Visible")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(hidden_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(hidden_at__isnull=True)
        return queryset


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
    list_display = ("seq", "conversation", "sender", "short_body", "created_at", "hidden")
    list_display_links = ("seq", "short_body")
    list_filter = (HiddenFilter, "created_at")
    search_fields = ("body",)
    ordering = ("-created_at",)
    show_full_result_count = False
    raw_id_fields = ("conversation", "sender")
    actions = ["hide", "unhide"]
    fields = (
        "conversation", "seq", "sender", "receiver", "body", "client_msg_id", "created_at",
        "updated_at", "edited_at", "hidden_at", "hidden_by", "version",
    )  # fmt: skip

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("conversation", "sender")

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

    @admin.display(description="Message")
    def short_body(self, message: Message) -> str:
        return _short(message.body)

    @admin.display(boolean=True, ordering="hidden_at")
    def hidden(self, message: Message) -> bool:
        return message.is_hidden

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
