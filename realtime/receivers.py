"""Realtime listens to what messaging and accounts announce, and emits after the commit.

This is where a stored message is delivered: `Message` post_save (only for new rows, after the
transaction commits) → `newMessage` to the rooms of the sender and the receiver(s). Whatever
created the message — REST, the socket event, the admin, the shell — it is delivered once,
and once more for each retry of its send (`on_message_sent_again`).

Original-mode sockets (the reference design's front end, `realtime.rooms.original_room`) get
`newMessage` of direct conversations only, and never of their own user's sends: that client
appends its own message from the REST answer, and every `newMessage` to whichever chat is
open."""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save

from accounts.serializers import UserSerializer
from accounts.signals import session_ended, user_deactivated, user_signed_up
from messaging import selectors
from messaging.models import Conversation, Message
from messaging.serializers import GroupSerializer, MessageSerializer
from messaging.signals import (
    conversation_changed,
    message_changed,
    message_sent_again,
    message_visibility_changed,
    messages_read,
)
from realtime import events, online_lists, presence, revocations, server
from realtime.rooms import DIRECTORY_ROOM, original_room, user_room

logger = logging.getLogger(__name__)


def _participant_rooms(message: Message) -> list[str]:
    if message.receiver_id:
        return [user_room(message.sender_id), user_room(message.receiver_id)]
    participants = Conversation.objects.values_list("participants", flat=True).get(
        pk=message.conversation_id
    )
    return [user_room(p) for p in participants]


def _emit(event: str, payload: dict, rooms: list[str]) -> None:
    # A delivery failure (Redis down, say) must not fail the write that caused it: the
    # message is stored and clients catch up through /api/sync.
    try:
        server.get_server().emit(event, payload, to=rooms)
    except Exception:
        logger.exception("could not emit %s", event)


def deliver_new_message(message: Message, *, again: bool = False) -> None:
    """`newMessage` to every socket of its participants. `again`: a retry of its send found
    it stored (`on_message_sent_again`); original-mode sockets, whose front end adds every
    `newMessage` it gets to the open chat without looking at `_id`, do not get it twice."""
    rooms = _participant_rooms(message)
    if message.receiver_id and not again:
        rooms.append(original_room(message.receiver_id))
    _emit(events.NEW_MESSAGE, MessageSerializer(message).data, rooms)
    if message.receiver_id and message.seq == 1:
        # The first message of a direct conversation: the two are contacts from now on.
        people = [str(message.sender_id), str(message.receiver_id)]
        _announce_met(people, people)


def _announce_met(members: list[str], added: list[str]) -> None:
    # As for an emit: the change is stored; the lists catch up at the next connect.
    try:
        online_lists.announce_met(members, added)
    except Exception:
        logger.exception("could not announce new contacts to the getOnlineUsers lists")


def on_message_saved(sender, instance: Message, created: bool, **kwargs) -> None:
    if created:
        transaction.on_commit(lambda: deliver_new_message(instance), robust=True)


def on_message_sent_again(sender, message: Message, **kwargs) -> None:
    """A send was retried with its `clientMsgId` and found the message stored: deliver it
    again. The process that stored it may have died after the commit and before its emit, and
    then this is the only delivery; clients drop a copy they hold by `_id` (docs/realtime.md)."""
    deliver_new_message(message, again=True)


def on_messages_read(sender, conversation: Conversation, user, seq: int, **kwargs) -> None:
    """To every member; in a group larger than REALTIME_READ_RECEIPTS_MAX_MEMBERS to the
    reader's own sockets only: when each member marks each message read, telling everyone
    costs members² frames per message (docs/realtime.md)."""
    payload = {"conversationId": str(conversation.pk), "userId": str(user.pk), "seq": seq}
    members = conversation.participants
    if len(members) > settings.REALTIME["READ_RECEIPTS_MAX_MEMBERS"]:
        members = [user.pk]
    _emit(events.MESSAGES_READ, payload, [user_room(p) for p in members])


def on_visibility_changed(sender, message: Message, **kwargs) -> None:
    payload = {
        "messageId": str(message.pk),
        "conversationId": str(message.conversation_id),
        "seq": message.seq,
        "hidden": message.hidden_at is not None,
        "message": MessageSerializer(message).data,
    }
    _emit(events.MESSAGE_HIDDEN, payload, _participant_rooms(message))


def on_message_changed(sender, message: Message, action: str, **details) -> None:
    """Its author edited or deleted a message, or someone reacted: every participant's
    sockets get it as it is now."""
    data = MessageSerializer(message).data
    if action == "edited":
        event, payload = events.MESSAGE_UPDATED, data
    else:
        payload = {
            "messageId": data["_id"],
            "conversationId": data["conversationId"],
            "seq": data["seq"],
            "message": data,
        }
        if action == "deleted":
            event = events.MESSAGE_DELETED
        else:
            event = events.REACTIONS_UPDATED
            payload.update(
                reactions=data["reactions"],
                userId=str(details["user"].pk),
                emoji=details["emoji"],
                added=details["added"],
            )
    _emit(event, payload, _participant_rooms(message))


def on_conversation_changed(
    sender,
    conversation: Conversation,
    removed_user_ids: list,
    added_user_ids: list = (),
    **kwargs,
) -> None:
    """A group changed: its members get the group as it is now; whoever is no longer a member
    learns so (and, being out of the member list, gets none of its events from now on); new
    members and the others learn who of them is online."""
    payload = GroupSerializer(conversation).data
    _emit(events.CONVERSATION_UPDATED, payload, [user_room(p) for p in conversation.participants])
    if removed_user_ids:
        _emit(
            events.REMOVED_FROM_CONVERSATION,
            {"conversationId": str(conversation.pk)},
            [user_room(p) for p in removed_user_ids],
        )
        try:
            online_lists.announce_parted([str(p) for p in removed_user_ids])
        except Exception:
            logger.exception("could not announce ended contacts to the getOnlineUsers lists")
    if added_user_ids and not presence.to_everyone():
        _announce_met([str(p) for p in conversation.participants], [str(p) for p in added_user_ids])
        try:
            introduce_new_members(conversation, [str(p) for p in added_user_ids])
        except Exception:
            # As for an emit: the change is stored; presence catches up at the next connect.
            logger.exception("could not send the presence of new group members")


def introduce_new_members(conversation: Conversation, added: list[str]) -> None:
    """Presence goes to contacts, and a group makes its members contacts: tell them at once,
    in every process (the online counts and the emits go through Redis when there are several).

    Each online new member gets a fresh `getOnlineUsers` (themselves and their online contacts,
    the group's members now among them), if the group brought them a contact who is online;
    each online member who shared no conversation with an online new member before gets
    `userOnline` for them. Offline users need nothing: their next connect sends the snapshot
    and announces them to their contacts, the group's members included."""
    who = presence.current()
    if who is None:
        return
    online_added = who.online_among(added)
    if not online_added:
        return
    members = {str(p) for p in conversation.participants}
    before = selectors.contact_ids_for_users(
        user_ids=online_added, excluding_conversation_id=conversation.pk
    )
    online = set(who.online_among(members.union(*before.values())))
    new = set(added)
    for user_id in online_added:
        met = (members & online) - before[user_id] - {user_id}
        if met:
            snapshot = sorted(((before[user_id] | members) & online) | {user_id})
            _emit(events.GET_ONLINE_USERS, snapshot, [user_room(user_id)])
        # The new members learn of each other from their snapshots.
        told = sorted((members & online) - new - before[user_id])
        if told:
            _emit(events.USER_ONLINE, {"userId": user_id}, [user_room(p) for p in told])


def on_user_deactivated(sender, user, **kwargs) -> None:
    revocations.announce(user_id=str(user.pk), session_id=None, reason="deactivated")


def on_user_signed_up(sender, user, **kwargs) -> None:
    """Everyone's sidebar lists every user (`GET /api/users`): a new one shows there at once.
    One frame per connected socket per signup (original-mode sockets excepted), which the
    signup rate limit bounds; `REALTIME_ANNOUNCE_SIGNUPS=false` leaves it to the next load
    of the list (docs/realtime.md)."""
    if settings.REALTIME["ANNOUNCE_SIGNUPS"]:
        _emit(events.USER_SIGNED_UP, {"user": UserSerializer(user).data}, [DIRECTORY_ROOM])


def on_session_ended(sender, user_id: str, session_id: str, **kwargs) -> None:
    revocations.announce(user_id=str(user_id), session_id=session_id, reason="session_ended")


def connect() -> None:
    post_save.connect(on_message_saved, sender=Message, dispatch_uid="realtime.new_message")
    message_sent_again.connect(on_message_sent_again, dispatch_uid="realtime.sent_again")
    messages_read.connect(on_messages_read, dispatch_uid="realtime.messages_read")
    message_visibility_changed.connect(on_visibility_changed, dispatch_uid="realtime.hidden")
    message_changed.connect(on_message_changed, dispatch_uid="realtime.message_changed")
    conversation_changed.connect(on_conversation_changed, dispatch_uid="realtime.conversation")
    user_deactivated.connect(on_user_deactivated, dispatch_uid="realtime.deactivated")
    session_ended.connect(on_session_ended, dispatch_uid="realtime.session_ended")
    user_signed_up.connect(on_user_signed_up, dispatch_uid="realtime.signed_up")
