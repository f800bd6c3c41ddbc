"""Read markers move from a ConversationMember document per participant into the
conversation document (`read_markers`), so that a send moves its sender's marker in the update
that allocates the seq."""

from django.db import migrations, models


def markers_into_conversations(apps, schema_editor):
    members = schema_editor.connection.get_collection("messaging_conversationmember")
    conversations = schema_editor.connection.get_collection("messaging_conversation")
    conversations.update_many({"read_markers": {"$exists": False}}, {"$set": {"read_markers": {}}})
    for member in members.find({}):
        conversations.update_one(
            {"_id": member["conversation_id"]},
            {
                "$set": {
                    f"read_markers.{member['user_id']}": {
                        "seq": member.get("last_read_seq", 0),
                        "version": member.get("version", 0),
                    }
                }
            },
        )


def markers_into_members(apps, schema_editor):
    members = schema_editor.connection.get_collection("messaging_conversationmember")
    conversations = schema_editor.connection.get_collection("messaging_conversation")
    for conversation in conversations.find({}, {"participants": 1, "read_markers": 1}):
        markers = conversation.get("read_markers") or {}
        for user_id in conversation.get("participants") or []:
            marker = markers.get(str(user_id), {})
            members.insert_one(
                {
                    "conversation_id": conversation["_id"],
                    "user_id": user_id,
                    "last_read_seq": marker.get("seq", 0),
                    "version": marker.get("version", 0),
                    "joined_at": conversation.get("created_at"),
                }
            )


class Migration(migrations.Migration):
    dependencies = [
        ("messaging", "0003_conversation_by_direct_key"),
    ]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="read_markers",
            field=models.JSONField(default=dict, editable=False),
        ),
        migrations.RunPython(markers_into_conversations, markers_into_members),
        migrations.DeleteModel(name="ConversationMember"),
    ]
