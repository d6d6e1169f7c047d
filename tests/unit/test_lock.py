"""The lock files (`make lock`, deploy/local/lock.sh) against pyproject.toml and this venv.

pyproject.toml gives ranges; requirements/lock.txt (runtime and dev, what `make venv` installs)
and requirements/lock-runtime.txt (runtime only, what the image installs) give one version of
every package, each with the sha256 of its files. These fail when someone edits a range without
running `make lock`, edits a lock by hand, or installs into the venv around the lock.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "requirements/lock.txt"
RUNTIME_LOCK = REPO / "requirements/lock-runtime.txt"
TOOL_LOCK = REPO / "requirements/lock-tool.txt"
SHA256 = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class Pin:
    requirement: Requirement
    hashes: tuple[str, ...]

    @property
    def version(self) -> Version:
        (spec,) = self.requirement.specifier
        return Version(spec.version)

    def applies(self) -> bool:
        """Whether the pin's environment marker holds here (no marker: everywhere)."""
        marker = self.requirement.marker
        return marker is None or marker.evaluate()


def entries(text: str) -> list[str]:
    """The lock's logical lines: continuations (` \\`) joined, comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line and not pending:
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append((pending + line).strip())
        pending = ""
    assert not pending, f"the lock ends inside a continued line: {pending!r}"
    return [line for line in lines if line]


def parse_lock(text: str) -> dict[NormalizedName, Pin]:
    pins: dict[NormalizedName, Pin] = {}
    for entry in entries(text):
        assert not entry.startswith("-"), f"an option in the lock: {entry!r}"
        requirement_text, *hash_parts = entry.split(" --hash=")
        requirement = Requirement(requirement_text.strip())
        specs = list(requirement.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", (
            f"{requirement_text!r}: a lock pins one exact version"
        )
        name = canonicalize_name(requirement.name)
        assert name not in pins, f"{name} is pinned twice"
        pins[name] = Pin(requirement, tuple(part.strip() for part in hash_parts))
    return pins


def direct_dependencies() -> tuple[list[Requirement], list[Requirement]]:
    """(runtime, dev extra) as pyproject.toml lists them."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = [Requirement(text) for text in project["dependencies"]]
    dev = [Requirement(text) for text in project["optional-dependencies"]["dev"]]
    return runtime, dev


def misses(requirements: list[Requirement], pins: dict[NormalizedName, Pin]) -> list[str]:
    """What is wrong with the lock `pins` for these requirements (empty: nothing)."""
    wrong = []
    for requirement in requirements:
        pin = pins.get(canonicalize_name(requirement.name))
        if pin is None:
            wrong.append(f"{requirement.name} is not in the lock")
        elif not requirement.specifier.contains(pin.version, prereleases=True):
            wrong.append(f"{requirement.name}=={pin.version} is outside {requirement}")
    return wrong


def unhashed(pins: dict[NormalizedName, Pin]) -> list[str]:
    return [
        f"{name}: {pin.hashes or 'no hash'}"
        for name, pin in pins.items()
        if not pin.hashes or not all(SHA256.match(h) for h in pin.hashes)
    ]


def test_every_direct_dependency_is_locked_within_its_pyproject_range() -> None:
    runtime, dev = direct_dependencies()
    wrong = misses(runtime + dev, parse_lock(LOCK.read_text(encoding="utf-8")))
    wrong += [
        f"lock-runtime: {line}"
        for line in misses(runtime, parse_lock(RUNTIME_LOCK.read_text(encoding="utf-8")))
    ]
    assert not wrong, "run `make lock`:\n" + "\n".join(wrong)


@pytest.mark.parametrize("lock", [LOCK, RUNTIME_LOCK, TOOL_LOCK], ids=lambda p: p.name)
def test_every_locked_package_has_a_sha256_hash(lock: Path) -> None:
    pins = parse_lock(lock.read_text(encoding="utf-8"))
    assert pins
    assert not unhashed(pins), unhashed(pins)


def test_the_runtime_lock_is_the_full_locks_runtime_part() -> None:
    """The image runs the versions `make test` tested, with the same hashes."""
    full = parse_lock(LOCK.read_text(encoding="utf-8"))
    runtime = parse_lock(RUNTIME_LOCK.read_text(encoding="utf-8"))
    differ = {
        name: (str(pin.requirement), str(full[name].requirement) if name in full else None)
        for name, pin in runtime.items()
        if name not in full
        or str(full[name].requirement) != str(pin.requirement)
        or set(full[name].hashes) != set(pin.hashes)
    }
    assert not differ, differ
    tools = {"pytest", "hypothesis", "ruff", "mypy", "schemathesis"}  # not in the image
    assert not tools & set(runtime), tools & set(runtime)


def test_the_venv_has_the_locked_versions() -> None:
    """Every locked package that applies here, direct or indirect, is installed at its version."""
    runtime, dev = direct_dependencies()
    pins = parse_lock(LOCK.read_text(encoding="utf-8"))
    wrong = []
    for name, pin in pins.items():
        if not pin.applies():
            continue
        try:
            installed = Version(version(name))
        except PackageNotFoundError:
            wrong.append(f"{name}=={pin.version} is not installed")
            continue
        if installed != pin.version:
            wrong.append(f"{name}: {installed} installed, {pin.version} locked")
    for requirement in runtime + dev:  # direct ones have no marker: never skipped above
        assert canonicalize_name(requirement.name) in pins
    assert not wrong, "run `make venv` (or `make lock` if the venv is right):\n" + "\n".join(wrong)


def test_the_venv_and_the_image_install_from_the_locks_checking_hashes() -> None:
    venv = (REPO / "deploy/local/venv.sh").read_text(encoding="utf-8")
    assert re.search(r"pip install .*--require-hashes -r \"\$LOCK\"", venv)
    assert "LOCK=requirements/lock.txt" in venv
    assert re.search(r"pip install .*--no-deps -e \.", venv)
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    stamp = re.search(r"^\$\(VENV\)/\.installed:(.*)$", makefile, flags=re.M)
    assert stamp and "requirements/lock.txt" in stamp.group(1).split()
    image = (REPO / "deploy/docker/Dockerfile").read_text(encoding="utf-8")
    assert "pip install --require-hashes -r requirements/lock-runtime.txt" in image
    assert re.search(r"^RUN pip install --no-deps \.", image, flags=re.M)


def test_the_parser_reads_continued_lines_markers_and_hashes() -> None:
    hash_a, hash_b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    text = (
        "# header\n"
        f"one==1.0 \\\n    --hash={hash_a} \\\n    --hash={hash_b}\n    # via x\n"
        f"Two_Pkg==2.0 ; sys_platform == 'win32' \\\n    --hash={hash_a}\n"
        "three==3.0\n"
    )
    pins = parse_lock(text)
    one, two = pins[canonicalize_name("one")], pins[canonicalize_name("Two_Pkg")]
    assert one.hashes == (hash_a, hash_b)
    assert two.version == Version("2.0") and two.hashes == (hash_a,) and not two.applies()
    assert unhashed(pins) == ["three: no hash"]
    assert misses([Requirement("one>=1.1,<2")], pins) == ["one==1.0 is outside one<2,>=1.1"]
