from messaging.tests.factories import message_factory
from messaging.models import Message, Conversation

def test_smoke(alice, bob):
    m = message_factory(sender=alice, receiver=bob)
    m2 = message_factory(sender=bob, receiver=alice)
    assert (m.seq, m2.seq) == (1, 2)
    assert Message.objects.count() == 2
    assert Conversation.objects.count() == 1

def test_smoke2(alice, bob):
    assert Message.objects.count() == 0
