"""Message search with 100,000 messages in 2,000 conversations (issue #20, scenario S9).

    .venv/bin/python bench/search.py [--messages 100000] [--repeat 50] [--sends 100] [--json out]

Starts its own in-memory SecantusDB, migrates, and stores users, conversations (direct ones and
groups) and their messages in bulk, in the shape the ORM writes (`search_terms` from
`messaging.search.message_terms`, conversations' `last_seq`, `version` and `last_message_at`
agreeing with their messages, message ids made at the messages' times). The text: words drawn
from a vocabulary of some 4,000 (common English words, then made-up English-like ones) with a
Zipf-like distribution, and one message in ten a Korean or Japanese sentence. One user (the
searcher) is in `--mine` of the conversations.

Then, in this process (no HTTP unless said):
- `messaging.selectors.message_search` (first page, 20 hits, as the API's default) for each
  class of query, `--repeat` times over a set of different words per class: wall time p50/p99,
  database commands per search (a pymongo command listener), the per-conversation queries it
  made, the index rows they returned, and the time spent waiting for the database;
- the same through `GET /api/search` with Django's test client and a JWT;
- `messaging.services.message_send` of 10-20 word messages into the searcher's conversations,
  with the `message_search` index present, dropped (through the driver) and built again: what
  the index adds to a send (database CPU from /proc, this process's CPU, wall p50/p99).
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import math
import os
import random
import statistics
import struct
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from message_actions import process_cpu_seconds  # noqa: E402  (bench/, the script's directory)
from pymongo import monitoring  # noqa: E402

from chatsite.embedded_db import EmbeddedDB  # noqa: E402

MESSAGES = "messaging_message"
PAGE = 20  # the API's default page
HISTORY = timedelta(weeks=8)

# The most frequent English words, most frequent first (rank 1 = "the").
COMMON_WORDS = """
the to and you it that of is in for have not this be on with just was are but so what we can do
my get like know all if at your me about one they there will out up no good time now think how
see go then yes when would from more an going had or got really as some been want did them
because one well here back make people right also still much over day need only lol thanks
today night tomorrow work home after before other sure maybe something thing around could very
should ok let new way look come great first last any where take said why never even again too
week call later off little tell those down feel love place next best which into who morning
nice fine meeting lunch dinner coffee weekend friday monday office send read note plan long
"""
COMMON = list(dict.fromkeys(COMMON_WORDS.split()))
ONSETS = "b c d f g h j k l m n p r s t v w z br ch cl cr dr fl gr pl pr sh st th tr"
VOWELS = "a e i o u ai ea ee oo ou"
CODAS = ["", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ng", "rk", "ck"]

KOREAN_WORDS = """
오늘 내일 어제 회의 학교 회사 점심 저녁 시간 사람 친구 가족 주말 사진 영화 음악 커피 날씨 버스
지하철 공항 여행 호텔 식당 메뉴 가격 예약 문제 질문 대답 생각 이야기 준비 연락 전화 메일 파일
문서 일정 계획 운동 병원 약속 선물 생일 축하 감사 부탁 확인 도서관 컴퓨터 프로젝트 발표 보고서
"""
KOREAN_PARTICLES = ["", "", "은", "는", "이", "가", "을", "를", "에", "에서", "도", "하고"]
KOREAN_ENDINGS = ["좋아요", "했어요", "있어요", "없어요", "갈게요", "할까요", "맞아요", "괜찮아요"]
JAPANESE_WORDS = """
今日 明日 昨日 会議 学校 会社 昼食 夕食 時間 友達 家族 週末 写真 映画 音楽 珈琲 天気 電車 空港
旅行 予約 問題 質問 返事 準備 連絡 電話 資料 予定 計画 運動 病院 約束 誕生日 確認 発表 報告
仕事 部屋 駅 店 料理 お茶 雨 雪 朝 夜 先生 宿題 試験 買い物 新幹線 東京 大阪
"""
JAPANESE_PARTICLES = ["は", "が", "を", "に", "で", "の", "と", "も"]
JAPANESE_ENDINGS = ["です", "でした", "ました", "ません", "ですか", "しましょう", "よろしく"]
ONSETS, VOWELS = ONSETS.split(), VOWELS.split()
KOREAN, JAPANESE = KOREAN_WORDS.split(), JAPANESE_WORDS.split()


def ranked_choice(rng: random.Random, words: list[str], cumulative: list[float]) -> str:
    return words[bisect.bisect(cumulative, rng.random() * cumulative[-1])]


def zipf_cumulative(size: int, offset: float = 2.7) -> list[float]:
    """Zipf-Mandelbrot weights 1 / (rank + offset): "the" is some 4% of the words, as in
    English, rather than 1/H."""
    return list(itertools.accumulate(1 / (rank + offset) for rank in range(1, size + 1)))


class Texts:
    """Message bodies: English-like sentences, and one in ten Korean or Japanese."""

    def __init__(self, rng: random.Random, vocabulary: int):
        self.rng = rng
        made: dict[str, None] = {}
        while len(COMMON) + len(made) < vocabulary:
            syllables = rng.choice((2, 2, 2, 3, 3, 4))
            word = "".join(
                rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS)
                for _ in range(syllables)
            )
            if word not in COMMON and len(word) >= 4:
                made[word] = None
        # Made-up words get the ranks after the common ones, shorter ones first (long words
        # are rarer, as in English).
        self.words = COMMON + sorted(made, key=lambda w: (len(w), rng.random()))
        self.cumulative = zipf_cumulative(len(self.words))
        self.korean = zipf_cumulative(len(KOREAN))
        self.japanese = zipf_cumulative(len(JAPANESE))

    def body(self, low: int = 2, high: int = 20, cjk_share: float = 0.1) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < cjk_share / 2:
            words = [
                ranked_choice(rng, KOREAN, self.korean) + rng.choice(KOREAN_PARTICLES)
                for _ in range(rng.randint(2, 6))
            ]
            return " ".join([*words, rng.choice(KOREAN_ENDINGS)])
        if roll < cjk_share:
            parts = [
                ranked_choice(rng, JAPANESE, self.japanese) + rng.choice(JAPANESE_PARTICLES)
                for _ in range(rng.randint(2, 5))
            ]
            return "".join([*parts, rng.choice(JAPANESE_ENDINGS)]) + "。"
        count = rng.randint(low, high)
        words = [ranked_choice(rng, self.words, self.cumulative) for _ in range(count)]
        words[0] = words[0].capitalize()
        return " ".join(words) + rng.choice((".", ".", "?", "!", ""))


def object_id_at(at: datetime, rng: random.Random):
    from bson import ObjectId

    return ObjectId(struct.pack(">I", int(at.timestamp())) + rng.randbytes(8))


def percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * fraction))]


class Recorder(monitoring.CommandListener):
    """Database commands, the time the database took to answer them, and the per-conversation
    search queries with the index rows they returned."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.commands: Counter[str] = Counter()
        self.db_micros = 0
        self.search_queries = 0
        self.search_rows = 0
        self._search_requests: set[int] = set()
        self._search_cursors: set[int] = set()

    def started(self, event):
        self.commands[event.command_name] += 1
        command = event.command
        if (
            event.command_name == "find"
            and command.get("find") == MESSAGES
            and "search_terms" in (command.get("filter") or {})
        ):
            self.search_queries += 1
            self._search_requests.add(event.request_id)
        elif event.command_name == "getMore" and command.get("getMore") in self._search_cursors:
            self._search_requests.add(event.request_id)

    def succeeded(self, event):
        self.db_micros += event.duration_micros
        if event.request_id in self._search_requests:
            self._search_requests.discard(event.request_id)
            cursor = event.reply.get("cursor") or {}
            batch = cursor.get("firstBatch", cursor.get("nextBatch")) or []
            self.search_rows += len(batch)
            if cursor.get("id"):
                self._search_cursors.add(cursor["id"])

    def failed(self, event):
        self._search_requests.discard(event.request_id)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--conversations", type=int, default=2_000)
    parser.add_argument("--mine", type=int, default=50, help="the searcher's conversations")
    parser.add_argument("--users", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=50, help="searches per class of query")
    parser.add_argument("--api-repeat", type=int, default=20, help="the same through the API")
    parser.add_argument("--sends", type=int, default=100, help="sends per index state")
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    recorder = Recorder()
    monitoring.register(recorder)  # before Django's client is made
    db = EmbeddedDB(":memory:").start()
    os.environ.update(
        db.environment,
        MONGODB_NAME="bench_search",
        DEBUG="false",
        ALLOWED_HOSTS="testserver",
        REDIS_URL="",
        SEARCH_RATE="10000000/minute",
        SEND_RATE="10000000/minute",
    )
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")
    try:
        results = run(args, recorder, db.process.pid)
    finally:
        db.stop()
    report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


def run(args, recorder: Recorder, db_pid: int) -> dict:
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    rng = random.Random(args.seed)
    texts = Texts(rng, 4_000)
    started = time.perf_counter()
    searcher, data = store(args, rng, texts)
    data["load_s"] = round(time.perf_counter() - started, 1)
    print(
        f"\rstored {data['messages']:,} messages in {data['conversations']:,} conversations "
        f"({data['mine']} of them the searcher's, {data['mine_messages']:,} messages) "
        f"in {data['load_s']} s",
        flush=True,
    )
    queries = query_classes(texts, data.pop("mine_terms"), rng)
    results = {
        "config": {k: v for k, v in vars(args).items() if k != "json"},
        "data": data,
        "queries": {name: words for name, (words, _) in queries.items()},
    }
    results["search"] = measure_search(searcher, queries, args.repeat, recorder, db_pid)
    # At most 20 a class: a frequent word takes a second this way.
    results["term_alone"] = measure_term_alone(searcher, queries, min(args.repeat, 20))
    results["api"] = measure_api(searcher, queries, args.api_repeat)
    results["send"] = measure_send(searcher, texts, args.sends, recorder, db_pid)
    return results


def store(args, rng: random.Random, texts: Texts):
    """Users, conversations and messages, inserted in bulk; returns the searcher and what was
    stored."""
    from bson import Int64
    from django.db import connection

    from accounts.models import User
    from messaging.models import Conversation, Message
    from messaging.search import message_terms

    first = User.objects.create_user("searcher", "pw-123456789", full_name="Searcher")
    User.objects.bulk_create(
        [
            User(
                username=f"user{i}",
                username_key=f"user{i}",
                full_name=f"User {i}",
                password=first.password,
            )
            for i in range(1, args.users)
        ]
    )
    users = [first.pk] + [
        u.pk for u in User.objects.exclude(pk=first.pk).only("pk").order_by("username_key")
    ]
    searcher_id = users[0]

    # Who is in each conversation: one in ten a group of 3 to 12; the searcher in `mine` of
    # them (one in five of those a group).
    groups_mine = args.mine // 5
    plans: list[dict] = []
    pairs: set[tuple] = set()
    for n in range(args.conversations):
        mine = n < args.mine
        group = n < groups_mine if mine else rng.random() < 0.1
        others = users[1:]
        if group:
            members = rng.sample(others, rng.randint(2, 11) if mine else rng.randint(3, 12))
            members = [searcher_id, *members] if mine else members
        else:
            while True:
                pair = (searcher_id, users[1 + n]) if mine else tuple(rng.sample(others, 2))
                key = tuple(sorted(pair, key=str))
                if key not in pairs:
                    pairs.add(key)
                    break
            members = list(key)
        plans.append({"mine": mine, "group": group, "members": members})
    rng.shuffle(plans)

    # Messages per conversation: a long tail (most conversations short, a few busy).
    weights = [rng.lognormvariate(0, 1.2) for _ in plans]
    scale = args.messages / sum(weights)
    counts = [max(2, int(w * scale)) for w in weights]
    for i in itertools.cycle(range(len(counts))):
        total = sum(counts)
        if total == args.messages:
            break
        if total < args.messages:
            counts[i] += 1
        elif counts[i] > 2:
            counts[i] -= 1

    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    messages = connection.get_collection(Message._meta.db_table)
    conversations = connection.get_collection(Conversation._meta.db_table)
    conversation_docs, batch = [], []
    mine_terms: list[set[str]] = []  # the terms of each of the searcher's messages
    stored = 0
    for plan, count in zip(plans, counts, strict=True):
        # Activity: recent conversations more likely, over up to the whole history.
        end = now - HISTORY * rng.random() ** 2
        start = max(now - HISTORY, end - HISTORY * rng.random())
        span = (end - start).total_seconds()
        times = sorted(start + timedelta(seconds=span * rng.random()) for _ in range(count - 1))
        times = [t.replace(microsecond=t.microsecond // 1000 * 1000) for t in times] + [end]
        created = times[0] - timedelta(seconds=1)
        members = plan["members"]
        title = f"Group {len(conversation_docs)}" if plan["group"] else ""
        conversation_id = object_id_at(created, rng)
        ids = []
        for seq, at in enumerate(times, start=1):
            sender = rng.choice(members)
            system = None
            if plan["group"] and seq == 1:
                body = f"user0 created the group {title}"
                system = {"action": "created", "actorId": str(members[0]),
                          "userIds": [str(m) for m in members], "name": title}  # fmt: skip
                sender = members[0]
                terms = []
            else:
                body = texts.body()
                terms = message_terms(body)
            reply_to = rng.choice(ids[-20:]) if ids and rng.random() < 0.05 else None
            ids.append(object_id_at(at, rng))
            receiver = None if plan["group"] else next(m for m in members if m != sender)
            batch.append(
                {"_id": ids[-1], "conversation_id": conversation_id, "sender_id": sender,
                 "receiver_id": receiver, "body": body, "system": system, "seq": Int64(seq),
                 "version": Int64(seq), "client_msg_id": None, "created_at": at,
                 "updated_at": at, "edited_at": None, "edit_history": [], "deleted_at": None,
                 "reply_to_id": reply_to, "reactions": [], "search_terms": terms,
                 "hidden_at": None, "hidden_by_id": None}
            )  # fmt: skip
            if plan["mine"]:
                mine_terms.append(set(terms))
            if len(batch) == 5000:
                messages.insert_many(batch)
                stored += len(batch)
                batch = []
                print(f"  {stored:,} messages", end="\r", flush=True)
        markers = {str(m): {"seq": count, "version": count} for m in members}
        conversation_docs.append(
            {"_id": conversation_id, "kind": "group" if plan["group"] else "direct",
             "participants": members,
             "direct_key": None if plan["group"] else Conversation.direct_key_for(*members),
             "title": title,
             "owner_id": members[0] if plan["group"] else None, "admins": [],
             "archived_at": None, "last_seq": Int64(count), "version": Int64(count),
             "last_message_at": end, "read_markers": markers, "created_at": created,
             "updated_at": end}
        )  # fmt: skip
    if batch:
        messages.insert_many(batch)
    conversations.insert_many(conversation_docs)
    check_shape(messages, conversations, Message, Conversation)
    return User.objects.get(pk=searcher_id), {
        "users": args.users,
        "conversations": len(conversation_docs),
        "groups": sum(p["group"] for p in plans),
        "messages": sum(counts),
        "mine": args.mine,
        "mine_groups": groups_mine,
        "mine_messages": len(mine_terms),
        "vocabulary": len(texts.words) + len(KOREAN) + len(JAPANESE),
        "mine_terms": mine_terms,
    }


def check_shape(messages, conversations, Message, Conversation) -> None:
    """The stored documents have the ORM's fields (a bulk insert that drifted from the model
    would measure another collection)."""
    for collection, model in ((messages, Message), (conversations, Conversation)):
        fields = {"_id" if f.primary_key else f.column for f in model._meta.concrete_fields}
        stored = set(collection.find_one() or {})
        if stored != fields:
            raise SystemExit(f"{model.__name__} documents differ from the model: {stored ^ fields}")


def query_classes(texts: Texts, mine_terms: list[set[str]], rng: random.Random) -> dict:
    """Ten different queries per class: name → (queries, how many of the searcher's messages
    match each). Frequent: ranks 1-10; medium: ranks 150-400; rare: ranks over
    2,000 (most match none of the searcher's messages, some one or two); CJK: Korean and
    Japanese two-character words (one pair term)."""
    words = texts.words
    frequent = words[:10]
    medium = rng.sample(words[150:400], 10)
    rare = rng.sample(words[2000:], 10)
    cjk = [w for w in KOREAN if len(w) == 2][:5] + [w for w in JAPANESE if len(w) == 2][:5]
    two_frequent = [f"{a} {b}" for a, b in zip(frequent, words[10:20], strict=True)]
    frequent_medium = [f"{a} {b}" for a, b in zip(rng.sample(words[:20], 10), medium, strict=True)]
    classes = {
        "one word, frequent": frequent,
        "one word, medium": medium,
        "one word, rare": rare,
        "one word, CJK": cjk,
        "two words, frequent": two_frequent,
        "two words, frequent + medium": frequent_medium,
    }
    from messaging.search import query_terms

    def holding(query: str) -> int:
        wanted = set(query_terms(query))
        return sum(wanted <= terms for terms in mine_terms)

    return {name: (queries, [holding(q) for q in queries]) for name, queries in classes.items()}


def measure_search(searcher, queries: dict, repeat: int, recorder: Recorder, db_pid: int) -> dict:
    from messaging.selectors import message_search

    for words, _ in queries.values():  # warm up
        for query in words:
            message_search(user=searcher, query=query, limit=PAGE)
    results = {}
    for name, (words, holding) in queries.items():
        walls, db_ms, commands, scanned, rows, hits = [], [], [], [], [], []
        db_cpu = process_cpu_seconds(db_pid)
        cpu = time.process_time()
        for n in range(repeat):
            query = words[n % len(words)]
            recorder.reset()
            started = time.perf_counter()
            found, _more = message_search(user=searcher, query=query, limit=PAGE)
            walls.append((time.perf_counter() - started) * 1000)
            db_ms.append(recorder.db_micros / 1000)
            commands.append(sum(recorder.commands.values()))
            scanned.append(recorder.search_queries)
            rows.append(recorder.search_rows)
            hits.append(len(found))
        cpu = time.process_time() - cpu
        db_cpu = process_cpu_seconds(db_pid) - db_cpu
        walls.sort()
        results[name] = {
            "queries": len(words),
            "holding_median": statistics.median(holding),
            "hits_mean": statistics.fmean(hits),
            "p50_ms": statistics.median(walls),
            "p99_ms": percentile(walls, 0.99),
            "max_ms": walls[-1],
            "db_wait_ms": statistics.fmean(db_ms),
            "cpu_ms": cpu * 1000 / repeat,
            "db_cpu_ms": db_cpu * 1000 / repeat,
            "db_commands": statistics.fmean(commands),
            "conversation_queries": statistics.fmean(scanned),
            "conversation_queries_max": max(scanned),
            "rows_read": statistics.fmean(rows),
            "rows_read_max": max(rows),
        }
        r = results[name]
        print(
            f"  {name:30} p50 {r['p50_ms']:7.1f} p99 {r['p99_ms']:7.1f} ms, "
            f"{r['conversation_queries']:.1f} conversations, {r['rows_read']:.0f} rows",
            flush=True,
        )
    return results


def measure_term_alone(searcher, queries: dict, repeat: int) -> dict:
    """Not what the product does (a profile of the alternative): the same first page from one
    query by the query's longest term alone (a prefix of the `message_search` index, across all
    conversations), the searcher's conversations and the other terms checked here."""
    from django.db import connection

    from messaging.models import Conversation, Message
    from messaging.search import query_terms

    collection = connection.get_collection(Message._meta.db_table)
    results = {}
    for name, (words, _) in queries.items():
        walls, rows = [], []
        for n in range(repeat):
            started = time.perf_counter()
            mine = set(
                Conversation.objects.filter(participants__contains=[searcher.pk]).values_list(
                    "pk", flat=True
                )
            )
            terms = query_terms(words[n % len(words)])
            first = max(terms, key=len)
            found = list(
                collection.find(
                    {"search_terms": first}, {"_id": 1, "conversation_id": 1, "search_terms": 1}
                )
            )
            ids = sorted(
                (
                    row["_id"]
                    for row in found
                    if row["conversation_id"] in mine and set(terms) <= set(row["search_terms"])
                ),
                reverse=True,
            )[: PAGE + 1]
            walls.append((time.perf_counter() - started) * 1000)
            rows.append(len(found))
            del ids
        walls.sort()
        results[name] = {
            "p50_ms": statistics.median(walls),
            "p99_ms": percentile(walls, 0.99),
            "rows_read": statistics.fmean(rows),
        }
    return results


def measure_api(searcher, queries: dict, repeat: int) -> dict:
    from django.test import Client

    from accounts import tokens

    client = Client(HTTP_AUTHORIZATION=f"Bearer {tokens.issue_for(searcher)['access']}")
    results = {}
    for name, (words, _) in queries.items():
        client.get("/api/search", {"q": words[0]})  # warm up
        walls = []
        for n in range(repeat):
            started = time.perf_counter()
            response = client.get("/api/search", {"q": words[n % len(words)]})
            walls.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"GET /api/search answered {response.status_code}")
        walls.sort()
        results[name] = {"p50_ms": statistics.median(walls), "p99_ms": percentile(walls, 0.99)}
    return results


def measure_send(searcher, texts: Texts, sends: int, recorder: Recorder, db_pid: int) -> dict:
    """Sends into the searcher's conversations with the index, without it, and with it built
    again (the first and last state bracket the noise of a shared machine)."""
    from django.db import connection

    from messaging.models import Conversation, Message
    from messaging.search import message_terms
    from messaging.services import message_send

    mine = list(Conversation.objects.filter(participants__contains=[searcher.pk]))
    bodies = [texts.body(10, 20) for _ in range(sends)]
    started = time.process_time()
    terms = [message_terms(body) for body in bodies]
    terms_us = (time.process_time() - started) * 1e6 / sends
    collection = connection.get_collection(Message._meta.db_table)
    index = next(i for i in Message._meta.indexes if i.name == "message_search")
    results = {
        "terms_per_message": statistics.fmean(len(t) for t in terms),
        "terms_cpu_us": terms_us,
    }
    for n in range(10):  # warm up
        message_send(sender=searcher, conversation=mine[n % len(mine)], body=bodies[n % sends])
    for state in ("with the index", "without it", "with it built again"):
        if state == "without it":
            collection.drop_index("message_search")
        elif state == "with it built again":
            started = time.perf_counter()
            with connection.schema_editor() as editor:
                editor.add_index(Message, index)
            results["index_build_s"] = time.perf_counter() - started
        walls = []
        recorder.reset()
        cpu, db_cpu = time.process_time(), process_cpu_seconds(db_pid)
        for n in range(sends):
            started = time.perf_counter()
            message_send(sender=searcher, conversation=mine[n % len(mine)], body=bodies[n])
            walls.append((time.perf_counter() - started) * 1000)
        cpu, db_cpu = time.process_time() - cpu, process_cpu_seconds(db_pid) - db_cpu
        walls.sort()
        results[state] = {
            "db_commands": sum(recorder.commands.values()) / sends,
            "cpu_ms": cpu * 1000 / sends,
            "db_cpu_ms": db_cpu * 1000 / sends,
            "p50_ms": statistics.median(walls),
            "p99_ms": percentile(walls, 0.99),
        }
        r = results[state]
        print(
            f"  send {state:20} db CPU {r['db_cpu_ms']:6.2f} ms, p50 {r['p50_ms']:6.1f} "
            f"p99 {r['p99_ms']:6.1f} ms",
            flush=True,
        )
    return results


def report(results: dict) -> None:
    d = results["data"]
    print(
        f"\n{d['messages']:,} messages, {d['conversations']:,} conversations ({d['groups']} "
        f"groups); the searcher in {d['mine']} ({d['mine_messages']:,} messages)"
    )
    header = ("p50 ms", "p99 ms", "API p50", "API p99", "db cmds", "convs", "rows", "db ms")
    print(f"{'query':30} {'holding':>8} " + " ".join(f"{h:>8}" for h in header))
    for name, r in results["search"].items():
        api = results["api"].get(name, {})
        values = (r["p50_ms"], r["p99_ms"], api.get("p50_ms", math.nan),
                  api.get("p99_ms", math.nan), r["db_commands"], r["conversation_queries"],
                  r["rows_read"], r["db_wait_ms"])  # fmt: skip
        print(f"{name:30} {r['holding_median']:>8} " + " ".join(f"{v:8.1f}" for v in values))
    print(f"\n{'one query by the longest term alone':40} {'p50 ms':>8} {'p99 ms':>8} {'rows':>8}")
    for name, r in results["term_alone"].items():
        print(f"{name:40} {r['p50_ms']:8.1f} {r['p99_ms']:8.1f} {r['rows_read']:8.0f}")
    s = results["send"]
    print(
        f"\nsend ({s['terms_per_message']:.1f} terms a message, computed in "
        f"{s['terms_cpu_us']:.0f} µs; index built again in {s.get('index_build_s', 0):.1f} s)"
    )
    print(f"{'index':22} " + " ".join(f"{h:>10}" for h in ("db cmds", "CPU ms", "db CPU ms",
                                                          "p50 ms", "p99 ms")))  # fmt: skip
    for state in ("with the index", "without it", "with it built again"):
        r = s[state]
        print(
            f"{state:22} {r['db_commands']:>10.1f} {r['cpu_ms']:>10.2f} {r['db_cpu_ms']:>10.2f} "
            f"{r['p50_ms']:>10.2f} {r['p99_ms']:>10.2f}"
        )


if __name__ == "__main__":
    main()
