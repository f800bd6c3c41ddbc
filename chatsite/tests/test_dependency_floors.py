"""Dependencies stay at or above the versions that fixed their known advisories.

No vulnerability database is reachable from the build machines, so the floors are kept by hand
in one place, the "Dependency floors" table of docs/security.md, each with the advisory that
set it. This test reads that table and checks it against the installed packages and against
the exact pins in requirements.txt, so lowering a pin below a floor fails here before it is
ever installed."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.utils import canonicalize_name
from packaging.version import Version

BASE_DIR = Path(__file__).resolve().parents[2]
SECURITY_DOC = BASE_DIR / "docs" / "security.md"
REQUIREMENTS = BASE_DIR / "requirements.txt"

# The floors the security baseline requires; the table may list more.
REQUIRED = {
    "python-engineio",
    "python-socketio",
    "eventlet",
    "djangorestframework-simplejwt",
    "django",
}

# | `python-engineio` | 4.13.3 | CVE-2026-48809 ... |
_ROW = re.compile(r"^\|\s*`(?P<package>[A-Za-z0-9_.-]+)`\s*\|\s*(?P<floor>[0-9][0-9A-Za-z.]*)\s*\|"
                  r"\s*(?P<why>[^|]*?)\s*\|\s*$")  # fmt: skip
_PIN = re.compile(r"^(?P<package>[A-Za-z0-9_.-]+)==(?P<version>[^\s;#]+)")


def floors() -> dict[str, tuple[Version, str]]:
    """package (canonical name) → (floor, advisories), from the table under
    '## Dependency floors' in docs/security.md."""
    section = SECURITY_DOC.read_text().split("## Dependency floors", 1)
    assert len(section) == 2, "docs/security.md has no '## Dependency floors' section"
    body = section[1].split("\n## ", 1)[0]
    found = {}
    for line in body.splitlines():
        match = _ROW.match(line.strip())
        if match:
            name = canonicalize_name(match["package"])
            assert name not in found, f"{name} is listed twice"
            found[name] = (Version(match["floor"]), match["why"])
    return found


def pins(requirements: str) -> dict[str, Version]:
    found = {}
    for line in requirements.splitlines():
        match = _PIN.match(line.strip())
        if match:
            found[canonicalize_name(match["package"])] = Version(match["version"])
    return found


def pin_problems(requirements: str) -> list[str]:
    pinned = pins(requirements)
    problems = []
    for package, (floor, why) in sorted(FLOORS.items()):
        if package not in pinned:
            problems.append(f"{package} has a floor but no exact pin in requirements.txt")
        elif pinned[package] < floor:
            problems.append(
                f"requirements.txt pins {package}=={pinned[package]}, below {floor}: {why}"
            )
    return problems


FLOORS = floors()


def test_the_table_lists_every_required_floor():
    assert set(FLOORS) >= REQUIRED, f"missing from docs/security.md: {REQUIRED - set(FLOORS)}"


@pytest.mark.parametrize("package", sorted(FLOORS))
def test_each_floor_names_the_advisory_that_set_it(package):
    _floor, why = FLOORS[package]
    assert re.search(r"CVE-\d{4}-\d+|GHSA-[0-9a-z]{4}-|advisory id not confirmed", why), (
        f"{package}: the floor must name its advisory (or say 'advisory id not confirmed')"
    )


def test_requirements_pin_every_package_at_or_above_its_floor():
    assert pin_problems(REQUIREMENTS.read_text()) == []


def test_a_pin_below_a_floor_is_caught():
    """The check reads what requirements.txt says, not only what happens to be installed."""
    real = REQUIREMENTS.read_text()
    lowered = re.sub(r"(?m)^eventlet==\S+", "eventlet==0.40.2", real)
    assert lowered != real

    problems = pin_problems(lowered)

    assert len(problems) == 1
    assert problems[0].startswith("requirements.txt pins eventlet==0.40.2, below 0.40.3")
    assert pin_problems(re.sub(r"(?m)^eventlet==\S+\n", "", real)) == [
        "eventlet has a floor but no exact pin in requirements.txt"
    ]


@pytest.mark.parametrize("package", sorted(FLOORS))
def test_the_installed_version_is_at_or_above_the_floor(package):
    floor, why = FLOORS[package]
    try:
        installed = Version(version(package))
    except PackageNotFoundError:
        pytest.fail(f"{package} has a floor but is not installed")
    assert installed >= floor, f"{package} {installed} is installed, below {floor}: {why}"
