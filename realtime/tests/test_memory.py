"""realtime.memory: when the serving process collects garbage and gives memory back."""

import gc
import weakref

import pytest

from realtime.memory import Reclaimer


class Node:
    def __init__(self):
        self.me = self  # a reference cycle: only the cyclic collector frees it


@pytest.fixture(autouse=True)
def _unfrozen():
    """The Reclaimer freezes this process's objects; each test leaves them as it found them."""
    frozen = gc.get_freeze_count()
    yield
    if not frozen:
        gc.unfreeze()


@pytest.fixture
def no_automatic_collection():
    """Garbage stays until the Reclaimer collects it."""
    gc.disable()
    yield
    gc.enable()


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def reclaimer(**kwargs) -> Reclaimer:
    kwargs.setdefault("min_joined", 10**9)  # no freezing unless a test asks for it
    return Reclaimer(**kwargs)


def test_it_reclaims_once_half_the_sockets_and_enough_of_them_have_left():
    r = reclaimer(min_left=10)
    assert r.check(100) is None
    assert r.check(60) is None  # 40 left, but more than half are still here
    assert r.check(50) is None  # half left, but they are still leaving
    assert r.check(50) == "reclaimed"
    assert r.check(45) is None  # counted from 50 now
    assert r.check(30) is None  # 20 left of 50: fewer than half
    assert r.check(25) is None  # still leaving
    assert r.check(25) == "reclaimed"  # half of 50 gone, and no longer leaving
    assert r.check(20) is None
    assert r.check(20) is None  # 6 left: fewer than min_left


def test_a_few_sockets_leaving_never_trigger_it():
    r = reclaimer(min_left=500)
    assert r.check(300) is None
    assert r.check(0) is None
    assert r.check(0) is None  # all left, but only 300


def test_it_frees_cyclic_garbage(no_automatic_collection):
    node = Node()
    gone = weakref.ref(node)
    del node
    assert gone() is not None  # waiting for a collection
    r = reclaimer(min_left=1)
    r.check(2)
    r.check(0)
    assert r.check(0) == "reclaimed"
    assert gone() is None


def test_it_freezes_once_enough_sockets_have_joined_and_stopped_joining():
    r = reclaimer(min_joined=100)
    assert r.check(60) is None
    assert r.check(120) is None  # still joining
    before = gc.get_freeze_count()
    assert r.check(120) == "frozen"
    assert gc.get_freeze_count() > before
    assert r.check(150) is None
    assert r.check(150) is None  # 30 more than at the freeze: too few
    assert r.check(230) is None
    assert r.check(220) == "frozen"  # 100 more, and no longer joining


def test_frozen_objects_are_out_of_full_collections_until_the_sockets_leave():
    r = Reclaimer(min_left=10, min_joined=10)
    held = [Node() for _ in range(1000)]  # a connected socket's objects
    r.check(20)
    assert r.check(20) == "frozen"
    gone = weakref.ref(held[0])
    held.clear()  # its socket left: its objects are cyclic garbage, but frozen
    gc.collect()
    assert gone() is not None
    r.check(5)
    assert r.check(5) == "reclaimed"
    assert gone() is None


def test_frozen_garbage_is_collected_within_refresh_seconds():
    clock = Clock()
    r = Reclaimer(min_left=10, min_joined=10, refresh_seconds=600, clock=clock)
    node = Node()
    gone = weakref.ref(node)
    r.check(20)
    assert r.check(20) == "frozen"
    del node
    clock.now = 599
    assert r.check(20) is None
    assert gone() is not None
    clock.now = 600
    assert r.check(20) == "refreshed"
    assert gone() is None
    clock.now = 1199
    assert r.check(20) is None
    clock.now = 1200
    assert r.check(20) == "refreshed"  # the sockets still here were frozen again at 600


def test_nothing_is_refreshed_without_sockets():
    clock = Clock()
    r = Reclaimer(min_left=10, min_joined=10, refresh_seconds=600, clock=clock)
    r.check(20)
    assert r.check(20) == "frozen"
    r.check(0)
    assert r.check(0) == "reclaimed"
    clock.now = 10_000
    assert r.check(0) == "reclaimed again"
    clock.now = 20_000
    assert r.check(0) is None


def test_what_sockets_leave_behind_after_the_reclaim_is_collected_again_later(
    no_automatic_collection,
):
    clock = Clock()
    r = Reclaimer(min_left=10, min_joined=10**9, again_seconds=30, clock=clock)
    r.check(20)
    r.check(0)
    assert r.check(0) == "reclaimed"
    node = Node()  # garbage made after the collection (a green thread that ended later)
    gone = weakref.ref(node)
    del node
    clock.now = 29
    assert r.check(0) is None
    assert gone() is not None
    clock.now = 30
    assert r.check(0) == "reclaimed again"
    assert gone() is None
    clock.now = 1000
    assert r.check(0) is None  # once


def test_no_second_collection_in_the_middle_of_a_new_storm():
    clock = Clock()
    r = Reclaimer(min_left=10, min_joined=100, again_seconds=30, clock=clock)
    r.check(20)
    r.check(0)
    assert r.check(0) == "reclaimed"
    clock.now = 30
    assert r.check(500) is None  # 500 sockets arriving: a full collection would walk them all
    assert r.check(500) == "frozen"
