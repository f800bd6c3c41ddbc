"""realtime.memory: when the serving process collects garbage and gives memory back."""

import gc
import weakref

from realtime.memory import Reclaimer


class Node:
    def __init__(self):
        self.me = self  # a reference cycle: only the cyclic collector frees it


def test_it_reclaims_once_half_the_sockets_and_enough_of_them_have_left():
    reclaimer = Reclaimer(min_left=10)
    assert reclaimer.check(100) is False
    assert reclaimer.check(60) is False  # 40 left, but more than half are still here
    assert reclaimer.check(50) is False  # half left, but they are still leaving
    assert reclaimer.check(50) is True
    assert reclaimer.check(45) is False  # counted from 50 now
    assert reclaimer.check(30) is False  # 20 left of 50: fewer than half
    assert reclaimer.check(25) is False  # still leaving
    assert reclaimer.check(25) is True  # half of 50 gone, and no longer leaving
    assert reclaimer.check(20) is False
    assert reclaimer.check(20) is False  # 6 left: fewer than min_left


def test_a_few_sockets_leaving_never_trigger_it():
    reclaimer = Reclaimer(min_left=500)
    assert reclaimer.check(300) is False
    assert reclaimer.check(0) is False
    assert reclaimer.check(0) is False  # all left, but only 300


def test_it_frees_cyclic_garbage():
    gc.disable()
    try:
        node = Node()
        gone = weakref.ref(node)
        del node
        assert gone() is not None  # waiting for a collection
        reclaimer = Reclaimer(min_left=1)
        reclaimer.check(2)
        reclaimer.check(0)
        assert reclaimer.check(0) is True
        assert gone() is None
    finally:
        gc.enable()
