"""News between processes (realtime/news.py) over the real Redis: a handler that fails on one
message keeps the subscription, a process skips its own news, malformed news is dropped."""

import json
import queue
import threading
import time

import pytest
import redis
from django.test import override_settings

from realtime import news
from realtime.tests.test_multiprocess import REDIS_URL, _redis_or_skip

pytestmark = pytest.mark.redis

CHANNEL = "chat:test-news"


@pytest.fixture(scope="module")
def listener():
    """One listener for the module (a process has one), handing news to the current test."""
    _redis_or_skip()
    current: dict = {}

    def act(item: dict) -> None:
        if item.get("fail"):
            raise RuntimeError("a bug in a handler")
        current["queue"].put(item["n"])

    with override_settings(REDIS_URL=REDIS_URL):
        news.handle(CHANNEL, act)
        threading.Thread(target=news.listen, args=(time.sleep,), daemon=True).start()
        client = redis.Redis.from_url(REDIS_URL)
        deadline = time.monotonic() + 5
        while client.pubsub_numsub(CHANNEL)[0][1] == 0:
            assert time.monotonic() < deadline, "the listener never subscribed"
            time.sleep(0.05)
        yield current, client
    news._channels.pop(CHANNEL, None)


@pytest.fixture
def heard(listener):
    current, client = listener
    current["queue"] = queue.Queue()
    return current["queue"], client


def test_a_failing_handler_or_bad_news_does_not_cost_the_subscription(heard):
    got, client = heard
    client.publish(CHANNEL, json.dumps({"node": "elsewhere", "fail": True}))
    client.publish(CHANNEL, b"not json")
    client.publish(CHANNEL, json.dumps({"node": "elsewhere", "n": 1}))
    assert got.get(timeout=5) == 1


def test_a_process_skips_its_own_news(heard):
    got, client = heard
    with override_settings(REDIS_URL=REDIS_URL):
        news.publish(CHANNEL, {"n": 1})
    client.publish(CHANNEL, json.dumps({"node": "elsewhere", "n": 2}))
    assert got.get(timeout=5) == 2
    assert got.empty()
