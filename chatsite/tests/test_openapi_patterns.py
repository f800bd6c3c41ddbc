"""The schema's character classes are built when a process starts, from the Basic Multilingual
Plane only; these tests build them from the whole of Unicode and find the same classes."""

from chatsite.openapi import WHITESPACE, character_class
from messaging.serializers import INVISIBLE
from messaging.services import invisible_character


def test_every_whitespace_character_is_in_the_basic_multilingual_plane():
    assert character_class(str.isspace) == WHITESPACE


def test_the_invisible_class_is_that_of_the_whole_of_unicode_below_u_10000():
    assert (
        character_class(
            lambda char: char != "\x00" and ord(char) <= 0xFFFF and invisible_character(char)
        )
        == INVISIBLE
    )
