"""accounts.hashers: Django's PBKDF2, computed without stopping the event loop."""

import subprocess
import sys

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher as DjangoHasher
from django.contrib.auth.hashers import check_password, identify_hasher, make_password

from accounts.hashers import PBKDF2PasswordHasher
from chatsite.testing import GREEN_PROCESS

pytestmark = pytest.mark.real_password_hasher


def test_it_makes_the_same_hashes_as_djangos():
    assert PBKDF2PasswordHasher().encode("correct horse", "salt1234", 1000) == DjangoHasher(
    ).encode("correct horse", "salt1234", 1000)  # fmt: skip


def test_passwords_hashed_by_either_verify():
    by_django = DjangoHasher().encode("correct horse", DjangoHasher().salt(), 1000)
    assert check_password("correct horse", by_django)
    assert not check_password("wrong horse", by_django)
    ours = make_password("correct horse")
    assert isinstance(identify_hasher(ours), PBKDF2PasswordHasher)
    assert check_password("correct horse", ours)


# Green threads tick every 5 ms while a password is hashed in the same process; a hash that
# holds the event loop lets none of them run until it is done.
PROBE = (
    GREEN_PROCESS
    + """
hasher_path = sys.argv[2]
from django.conf import settings
settings.configure(PASSWORD_HASHERS=[hasher_path])
from django.contrib.auth.hashers import get_hasher
ticks = []
def tick():
    while True:
        ticks.append(1)
        sleep(0.005)
spawn(tick)
sleep(0.02)
before = len(ticks)
get_hasher().encode("correct horse", "salt1234", 600_000)
print(len(ticks) - before)
"""
)


@pytest.mark.parametrize("mode", ["eventlet", "gevent"])
def test_the_event_loop_runs_while_a_password_is_hashed(mode):
    def ticks_during_hash(hasher: str) -> int:
        result = subprocess.run(
            [sys.executable, "-c", PROBE, mode, hasher],
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        return int(result.stdout.strip().splitlines()[-1])

    assert ticks_during_hash("django.contrib.auth.hashers.PBKDF2PasswordHasher") == 0
    assert ticks_during_hash("accounts.hashers.PBKDF2PasswordHasher") > 0
