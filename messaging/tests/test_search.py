"""Search: words in any language, only the caller's conversations, never hidden or deleted
messages, newest first with a cursor, highlights, the index it reads, and the backfill; on the
real database."""

import itertools
import random
import uuid

import pytest
from django.core.management import call_command
from django.db import connection
from hypothesis import given, settings
from hypothesis import strategies as st

from accounts.tests.factories import assert_error
from messaging.models import Message
from messaging.search import match_ranges, message_terms, query_terms
from messaging.services import (
    group_create,
    message_delete,
    message_edit,
    message_hide,
    message_send,
    message_unhide,
)

pytestmark = pytest.mark.django_db


def search(api, q: str, **params) -> dict:
    response = api.get("/api/search", {"q": q, **params})
    assert response.status_code == 200, response.content
    return response.json()


def found(api, q: str, **params) -> list[str]:
    return [hit["message"]["message"] for hit in search(api, q, **params)["hits"]]


# --- words ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "query", "expected"),
    [
        ("Meet me at the Café tomorrow", "cafe", True),
        ("MEET ME AT THE CAFE", "café meet", True),
        ("Die Straße ist lang", "STRASSE", True),
        ("meet at noon", "meet tomorrow", False),  # every word must be there
        ("저는 학교에서 공부해요", "학교", True),  # Korean: a word with a particle attached
        ("저는 학교에서 공부해요", "학교 공부", True),
        ("저는 학교에서 공부해요", "회사", False),
        ("東京都に住んでいます", "東京", True),  # Japanese, no spaces
        ("東京都に住んでいます", "大阪", False),
        ("我们明天去北京", "北京", True),  # Chinese
        ("我的猫很可爱", "猫", True),  # one character
        ("ｶﾀｶﾅ", "カタカナ", True),  # halfwidth katakana is katakana
        ("ＦＵＬＬＷＩＤＴＨ letters", "fullwidth", True),
        ("cafe\u0301 with a combining accent", "cafe", True),
        ("résumé", "resume", True),
        ("naïve", "naive", True),
        ("Привет, мир", "привет", True),
        ("meeting", "meet", False),  # whole words, not prefixes
    ],
)
def test_words_in_any_language(api, alice, bob, text, query, expected):
    message_send(sender=alice, receiver=bob, body=text)
    assert found(api.login_as(bob), query) == ([text] if expected else [])


def test_system_messages_are_not_found(api, alice, bob):
    group_create(creator=alice, name="Trip", member_ids=[str(bob.pk)])
    assert found(api.login_as(bob), "created") == []


def test_only_the_callers_conversations(api, alice, bob, carol):
    message_send(sender=alice, receiver=bob, body="secret plan")
    message_send(sender=alice, receiver=carol, body="other plan")
    assert found(api.login_as(carol), "plan") == ["other plan"]
    assert found(api.login_as(bob), "secret") == ["secret plan"]
    assert sorted(found(api.login_as(alice), "plan")) == ["other plan", "secret plan"]


def test_one_conversation(api, alice, bob, carol):
    with_bob = message_send(sender=alice, receiver=bob, body="lunch at one")
    message_send(sender=alice, receiver=carol, body="lunch at two")
    api.login_as(alice)
    assert found(api, "lunch", conversationId=str(with_bob.conversation_id)) == ["lunch at one"]
    response = api.login_as(carol).get(
        "/api/search", {"q": "lunch", "conversationId": str(with_bob.conversation_id)}
    )
    assert_error(response, 404, "conversation_not_found")


def test_hidden_deleted_and_edited_messages(api, alice, bob):
    hidden = message_send(sender=alice, receiver=bob, body="rude words")
    deleted = message_send(sender=alice, receiver=bob, body="oops words")
    edited = message_send(sender=alice, receiver=bob, body="teh words")
    message_hide(message=hidden, by=None)
    message_delete(message=deleted, user=alice)
    message_edit(message=edited, user=alice, body="the words")
    api.login_as(bob)
    assert found(api, "words") == ["the words"]
    assert found(api, "rude") == found(api, "oops") == found(api, "teh") == []
    message_unhide(message=hidden, by=None)
    assert found(api, "rude") == ["rude words"]


def test_newest_first_in_pages_over_many_conversations(api, alice, django_user_model):
    from accounts.tests.factories import user_factory

    people = [user_factory() for _ in range(6)]
    random.seed(7)
    sent = []
    for n in range(40):
        other = random.choice(people)
        body = f"status update {n}" if n % 3 else f"unrelated {n}"
        sender, receiver = random.choice([(alice, other), (other, alice)])
        message = message_send(sender=sender, receiver=receiver, body=body)
        if n % 3:
            sent.append(message)
    api.login_as(alice)
    pages, before = [], None
    while True:
        page = search(api, "status update", limit=5, **({"before": before} if before else {}))
        pages.append([hit["message"]["_id"] for hit in page["hits"]])
        if not page["hasMore"]:
            break
        before = page["cursor"]
    shown = [pk for page in pages for pk in page]
    assert shown == [str(m.pk) for m in sorted(sent, key=lambda m: m.pk, reverse=True)]
    assert all(len(page) == 5 for page in pages[:-1])


def test_hits_carry_conversation_and_utf16_ranges(api, alice, bob):
    text = "😀 Café or cafe? 학교에서"
    message = message_send(sender=alice, receiver=bob, body=text)
    hit = search(api.login_as(bob), "cafe 학교")["hits"][0]
    assert hit["conversation"] == {
        "_id": str(message.conversation_id),
        "kind": "direct",
        "title": "",
    }
    assert hit["message"]["_id"] == str(message.pk)
    # "😀" is two UTF-16 code units: "Café" starts at 3.
    assert hit["ranges"] == [[3, 7], [11, 15], [17, 19]]
    utf16 = text.encode("utf-16-le")
    assert [utf16[2 * s : 2 * e].decode("utf-16-le") for s, e in hit["ranges"]] == [
        "Café",
        "cafe",
        "학교",
    ]


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"q": "?!"}, "search_query_invalid"),
        ({"q": ""}, "validation_error"),
        ({"q": "x" * 201}, "validation_error"),
        ({"q": "hi", "before": "nope"}, "validation_error"),
        ({"q": "hi", "limit": "0"}, "validation_error"),
        ({"q": "hi", "conversationId": "x"}, "validation_error"),
        ({}, "validation_error"),
    ],
)
def test_bad_queries_get_stable_codes(api, alice, params, code):
    assert_error(api.login_as(alice).get("/api/search", params), 400, code)


# --- the index ----------------------------------------------------------------------------------


def test_the_search_query_reads_the_search_index(alice, bob):
    """The query the embedded database is sent (`find_ids_holding_all`): a word and a
    conversation, read from the `message_search` index."""
    message = message_send(sender=alice, receiver=bob, body="indexed words")
    collection = connection.get_collection(Message._meta.db_table)
    query = {"search_terms": "indexed", "conversation_id": {"$in": [message.conversation_id]}}
    plan = str(collection.find(query, {"_id": 1, "search_terms": 1}).explain()["queryPlanner"])
    assert "IXSCAN" in plan and "message_search" in plan and "COLLSCAN" not in plan


def test_backfill_indexes_messages_stored_before_search(api, alice, bob):
    old = message_send(sender=alice, receiver=bob, body="from the old days")
    gone = message_send(sender=alice, receiver=bob, body="deleted days")
    message_delete(message=gone, user=alice)
    Message.objects.filter(pk__in=[old.pk, gone.pk]).update(search_terms=None)
    assert found(api.login_as(bob), "days") == []
    call_command("search_backfill", batch=1, stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert found(api, "days") == ["from the old days"]
    assert Message.objects.get(pk=gone.pk).search_terms == []


# --- the words, as properties -----------------------------------------------------------------

WORDS = st.text(
    alphabet=st.characters(categories=["Lu", "Ll", "Lo", "Nd"]), min_size=1, max_size=12
)


@settings(max_examples=200, deadline=None)
@given(words=st.lists(WORDS, min_size=1, max_size=6), pick=st.integers(min_value=0))
def test_every_word_of_a_message_finds_it(words, pick):
    text = " ".join(words)
    word = words[pick % len(words)]
    assert set(query_terms(word)) <= set(message_terms(text)) or not query_terms(word)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=80))
def test_ranges_are_inside_the_text_and_ordered(text):
    terms = message_terms(text)
    ranges = match_ranges(text, terms)
    length = len(text.encode("utf-16-le")) // 2
    assert all(0 <= s < e <= length for s, e in ranges)
    assert all(a[1] < b[0] for a, b in itertools.pairwise(ranges))


@pytest.mark.parametrize(
    ("text", "query", "marked"),
    [
        ("中\u0f73\u0f73\u0f73的", "的", ["的"]),  # a mark that folds to two characters
        ("中\u0301国", "中国", ["中\u0301国"]),  # a mark that folds to none
        ("が\u3099学校", "学校", ["学校"]),
    ],
)
def test_marks_inside_cjk_runs_keep_the_highlights_on_their_characters(text, query, marked):
    ranges = match_ranges(text, query_terms(query))
    utf16 = text.encode("utf-16-le")
    assert [utf16[2 * s : 2 * e].decode("utf-16-le") for s, e in ranges] == marked


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(alphabet=st.sampled_from("中国的学校が\u3099\u0301\u0f73\u0f71a é"), max_size=30)
)
def test_ranges_stay_inside_text_with_marks_in_cjk_runs(text):
    ranges = match_ranges(text, message_terms(text))
    length = len(text.encode("utf-16-le")) // 2
    assert all(0 <= s < e <= length for s, e in ranges)


def test_terms_are_bounded():
    text = " ".join(uuid.uuid4().hex for _ in range(2000))
    terms = message_terms(text)
    assert len(terms) == 1000 and all(len(t) <= 64 for t in terms)
    assert len(query_terms(" ".join(f"w{n}" for n in range(50)))) == 16
