"""The declarative layer under `iocmon.config.Settings`.

Each setting is one dataclass field made by `setting()`: its environment variable, default,
kind (how its text is read and which values are accepted), section, description, and whether
it is a secret. Everything else is derived from those declarations: reading the environment
(`read`), the `*_FILE` variant of each secret, the checks of values given in code (`check`),
the messages that name the variable, what is wrong and what is accepted, `iocmon config`
and the README's tables.

Standard library only: every `iocmon` command reads its settings before anything else, so this
must stay cheap to import (README, "Configuration", says why not pydantic-settings).
"""

from __future__ import annotations

import math
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path
from typing import Any, Literal, TypeVar

from iocmon.errors import ConfigError

T = TypeVar("T")
FILE_SUFFIX = "_FILE"
_META = "iocmon.setting"


class Refused(ValueError):
    """A value a kind does not accept; the message is the problem ("is out of range")."""


# -- kinds: how a setting's text becomes its value ---------------------------------------------


class Kind:
    """How one setting's text becomes its value, and which values it accepts.

    `convert` reads the text (raising Refused for text that is not of the kind at all),
    `problem` says what is wrong with a value (from the environment or given in code),
    `accepted` says what to give instead, for messages and the README."""

    __slots__ = ()

    @property
    def accepted(self) -> str:
        raise NotImplementedError

    def convert(self, raw: str) -> object:
        return raw

    def problem(self, value: object) -> str | None:
        return None

    def parse(self, raw: str) -> object:
        value = self.convert(raw)
        problem = self.problem(value)
        if problem is not None:
            raise Refused(problem)
        return value

    def mask(self, value: object) -> str:
        """How `iocmon config` shows a secret value of this kind."""
        return "***"


@dataclass(frozen=True, slots=True)
class Text(Kind):
    described: str = "any text"

    @property
    def accepted(self) -> str:
        return self.described

    def problem(self, value: object) -> str | None:
        return None if isinstance(value, str) else "is not text"


_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")


@dataclass(frozen=True, slots=True)
class TopicName(Kind):
    @property
    def accepted(self) -> str:
        return "a Kafka topic name: letters, digits, '.', '_' and '-', at most 249 characters"

    def problem(self, value: object) -> str | None:
        if isinstance(value, str) and _TOPIC.fullmatch(value) and value not in {".", ".."}:
            return None
        return "is not a Kafka topic name"


@dataclass(frozen=True, slots=True)
class Choice(Kind):
    options: tuple[str, ...]
    noun: str  # "a log level": the message says "'verbose' is not a log level"
    ignore_case: bool = False
    described: str = ""  # when the bare list of options says too little

    @property
    def accepted(self) -> str:
        case = " (any case)" if self.ignore_case else ""
        return self.described or "one of " + ", ".join(self.options) + case

    def problem(self, value: object) -> str | None:
        if isinstance(value, str):
            if self.ignore_case:
                if value.lower() in {o.lower() for o in self.options}:
                    return None
            elif value in self.options:
                return None
        return f"is not {self.noun}"


@dataclass(frozen=True, slots=True)
class Whole(Kind):
    minimum: int
    maximum: int | None = None
    noun: str = "a whole number"
    described: str = ""

    @property
    def accepted(self) -> str:
        if self.described:
            return self.described
        if self.maximum is None:
            return f"{self.noun}, {self.minimum} or more"
        return f"{self.noun} from {self.minimum} to {self.maximum}"

    def convert(self, raw: str) -> object:
        try:
            return int(raw)
        except ValueError:
            raise Refused(f"is not {self.noun}") from None

    def problem(self, value: object) -> str | None:
        if not isinstance(value, int) or isinstance(value, bool):
            return f"is not {self.noun}"
        if value < self.minimum or (self.maximum is not None and value > self.maximum):
            return "is out of range"
        return None


PORT = Whole(1, 65535, noun="a port number")
PORT_OR_OFF = Whole(
    0, 65535, noun="a port number", described="a port number from 1 to 65535, or 0 to turn it off"
)


@dataclass(frozen=True, slots=True)
class Number(Kind):
    """A finite number within bounds: `above`/`below` exclude the bound, `least`/`most`
    include it."""

    unit: str = "a number"
    above: float | None = None
    least: float | None = None
    below: float | None = None
    most: float | None = None
    described: str = ""

    @property
    def accepted(self) -> str:
        if self.described:
            return self.described
        bounds = [
            f"{word} {plain(bound)}"
            for word, bound in (
                ("more than", self.above),
                ("at least", self.least),
                ("less than", self.below),
                ("at most", self.most),
            )
            if bound is not None
        ]
        return ", ".join([self.unit, " and ".join(bounds)]) if bounds else self.unit

    def convert(self, raw: str) -> object:
        try:
            return float(raw)
        except ValueError:
            raise Refused("is not a valid number") from None

    def problem(self, value: object) -> str | None:
        if not isinstance(value, int | float) or isinstance(value, bool):
            return "is not a valid number"
        if not math.isfinite(value):
            return "is not a finite number"
        if (
            (self.above is not None and not value > self.above)
            or (self.least is not None and not value >= self.least)
            or (self.below is not None and not value < self.below)
            or (self.most is not None and not value <= self.most)
        ):
            return "is out of range"
        return None


SECONDS = Number("seconds", above=0)


@dataclass(frozen=True, slots=True)
class Url(Kind):
    """A URL of one of `schemes` naming a host; with `several`, a comma-separated list of
    them (a tuple, no URL twice). A trailing '/' is dropped when `trim_slash`."""

    schemes: tuple[str, ...] = ("http", "https")
    noun: str = "an http(s) URL"
    example: str = "http://127.0.0.1:9095"
    several: bool = False
    trim_slash: bool = True
    keep_path: bool = False  # iocmon config shows the path of a secret URL (Redis: the database)
    described: str = ""

    @property
    def accepted(self) -> str:
        if self.described:
            return self.described
        several = ", several comma-separated" if self.several else ""
        return f"{self.noun}{several}, e.g. {self.example}"

    def convert(self, raw: str) -> object:
        if not self.several:
            return self._one(raw.strip())
        return tuple(self._one(part.strip()) for part in raw.split(",") if part.strip())

    def _one(self, url: str) -> str:
        if self.problem_of(url) is not None:
            raise Refused(f"is not {self.noun}")
        return url.rstrip("/") if self.trim_slash else url

    def problem_of(self, url: object) -> str | None:
        if not isinstance(url, str):
            return f"is not {self.noun}"
        parts = urllib.parse.urlsplit(url)
        try:
            parts.port  # noqa: B018 -- raises ValueError for a port out of range
        except ValueError:
            return f"is not {self.noun}"
        if parts.scheme not in self.schemes or not parts.hostname:
            return f"is not {self.noun}"
        return None

    def problem(self, value: object) -> str | None:
        if not self.several:
            return self.problem_of(value)
        if not isinstance(value, tuple) or not value:
            return f"is not {self.noun}"
        for url in value:
            if (problem := self.problem_of(url)) is not None:
                return problem
        if len(set(value)) != len(value):
            return "lists the same URL twice"
        return None

    def mask(self, value: object) -> str:
        """scheme://user:***@host:port, the path kept only if `keep_path`, a query hidden."""
        if not isinstance(value, str):
            return "***"
        parts = urllib.parse.urlsplit(value)
        netloc = parts.hostname or ""
        if ":" in netloc:
            netloc = f"[{netloc}]"
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
        if parts.username or parts.password:
            login = f"{parts.username or ''}:***" if parts.password else parts.username or ""
            netloc = f"{login}@{netloc}"
        path = parts.path if self.keep_path else ("/***" if parts.path.strip("/") else "")
        query = "?***" if parts.query else ""
        return f"{parts.scheme}://{netloc}{path}{query}"


@dataclass(frozen=True, slots=True)
class HostPorts(Kind):
    """Kafka's bootstrap list: host:port, comma-separated (the port may be left out; an IPv6
    address in brackets, [::1]:9092)."""

    @property
    def accepted(self) -> str:
        return "host:port, several comma-separated (e.g. k1:9092,k2:9092)"

    def problem(self, value: object) -> str | None:
        if not isinstance(value, str):
            return "is not a list of host:port"
        addresses = [a.strip() for a in value.split(",") if a.strip()]
        if not addresses:
            return "names no broker"
        for address in addresses:
            if address.startswith("["):
                host, bracket, rest = address[1:].partition("]")
                colon, port = rest[:1], rest[1:]
                well_formed = bool(bracket) and colon in ("", ":") and (not colon or port)
            else:
                host, colon, port = address.partition(":")
                well_formed = not colon or bool(port)
            if not (well_formed and host) or (port and not (port.isascii() and port.isdigit())):
                return f"has {address!r}, which is not host:port"
            if port and not 1 <= int(port) <= 65535:
                return f"has {address!r}, whose port is out of range"
        return None


@dataclass(frozen=True, slots=True)
class Secret:
    """A password: `repr` and `str` hide it, so printing Settings or a log line cannot leak
    it; `.value` gives it to the one client that needs it."""

    value: str = field(repr=False)

    def __bool__(self) -> bool:
        return bool(self.value)

    def __repr__(self) -> str:
        return "Secret('***')" if self.value else "Secret('')"

    __str__ = __repr__


@dataclass(frozen=True, slots=True)
class Password(Kind):
    @property
    def accepted(self) -> str:
        return "the password"

    def convert(self, raw: str) -> object:
        return Secret(raw)

    def problem(self, value: object) -> str | None:
        return None if isinstance(value, Secret) else "is not a Secret"


@dataclass(frozen=True, slots=True)
class FilePath(Kind):
    described: str = "a file's path"

    @property
    def accepted(self) -> str:
        return self.described

    def convert(self, raw: str) -> object:
        return Path(raw)

    def problem(self, value: object) -> str | None:
        return None if isinstance(value, Path) else "is not a path"


# -- declarations ------------------------------------------------------------------------------

Section = Literal[
    "kafka",
    "topics",
    "redis",
    "web",
    "intake",
    "catalogues",
    "alerts",
    "notifier",
    "retention",
    "logging",
    "console",
]
SECTIONS: dict[Section, str] = {
    "kafka": "Kafka: brokers, security, the consumer group",
    "topics": "Topics",
    "redis": "Redis",
    "web": "Web: the worker's /metrics and API",
    "intake": "Intake: how the worker reads events",
    "catalogues": "Catalogues",
    "alerts": "Alerts (the worker's checks)",
    "notifier": "Notifier (iocmon notify)",
    "retention": "Retention and objective",
    "logging": "Logging",
    "console": "Console commands",
}


@dataclass(frozen=True, slots=True)
class _Spec:
    name: str
    kind: Kind
    section: Section
    help: str
    secret: bool
    unset: str


def setting(
    name: str,
    default: T,
    *,
    section: Section,
    help: str,
    kind: Kind = Text(),
    secret: bool = False,
    unset: str = "",
) -> T:
    """One setting: the field's default, its variable `name`, and what the layer needs.

    `secret`: hidden from `repr`, masked by `iocmon config`, never repeated in a message, and
    also read from the file `NAME_FILE` names. `unset`: what a default of nothing means
    ("the system trust store"), for the docs and messages."""
    spec = _Spec(name, kind, section, help, secret, unset)
    return field(default=default, repr=not secret, metadata={_META: spec})


@dataclass(frozen=True, slots=True)
class Declared:
    """One setting as declared, with its attribute and default."""

    attr: str
    name: str
    default: Any
    kind: Kind
    section: Section
    help: str
    secret: bool
    unset: str

    @property
    def file_name(self) -> str | None:
        """`NAME_FILE`, the variable naming a file that holds a secret's value."""
        return f"{self.name}{FILE_SUFFIX}" if self.secret else None

    @property
    def nothing(self) -> bool:
        """The default is no value at all (None, empty text or password, no URL)."""
        return any(self.default == empty for empty in (None, "", (), Secret("")))

    @property
    def default_text(self) -> str:
        """The default as the README shows it; `unset` when it is nothing."""
        if self.nothing:
            return f"({self.unset or 'none'})"
        return plain(self.default)

    def refusal(self, shown: str, problem: str) -> str:
        """The message for a value this setting does not accept."""
        if self.nothing:
            fallback = "unset it" + (f" ({self.unset})" if self.unset else "")
        else:
            fallback = f"unset it for the default {quoted(self.default)}"
        return f"{shown} {problem}: give {self.kind.accepted}, or {fallback}"

    def shown(self, raw: object, source: Source | None = None) -> str:
        """How a message shows the value: never a secret's."""
        if not self.secret:
            text = raw if isinstance(raw, str) else plain(raw)
            return f"{self.name}={text!r}"
        if source is not None and source.origin == "file":
            return f"{self.name} (read from {self.file_name}={source.file}; value not shown)"
        return f"{self.name} (value not shown)"

    def display(self, value: object) -> str:
        """The value as `iocmon config` shows it: a secret masked."""
        if self.secret:
            return self.kind.mask(value) if value else ""
        return plain(value)


@cache
def declarations(cls: type) -> tuple[Declared, ...]:
    """The settings `cls` declares, in declaration order."""
    out = []
    for f in fields(cls):
        spec = f.metadata.get(_META)
        if spec is None:
            continue
        out.append(
            Declared(
                attr=f.name,
                name=spec.name,
                default=f.default,
                kind=spec.kind,
                section=spec.section,
                help=spec.help,
                secret=spec.secret,
                unset=spec.unset,
            )
        )
    names = [d.name for d in out]
    if len(set(names)) != len(names):  # a declaration's mistake, found by any test
        raise AssertionError(f"a variable is declared twice in {cls.__name__}")
    return tuple(out)


# -- reading -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Source:
    """Where a setting's value came from; `file` is the path for "file"."""

    origin: Literal["default", "environment", "file"]
    file: str = ""

    @property
    def text(self) -> str:
        return f"file {self.file}" if self.origin == "file" else self.origin


DEFAULT = Source("default")
ENVIRONMENT = Source("environment")


def read(cls: type, env: Mapping[str, str]) -> tuple[dict[str, object], dict[str, Source]]:
    """The values `env` gives `cls`'s settings, by attribute, and where each came from.

    A variable that is unset or blank leaves the default. A secret's value may instead come
    from the file its `NAME_FILE` names (one trailing newline dropped). ConfigError lists
    every value that cannot be used, one a line."""
    values: dict[str, object] = {}
    sources: dict[str, Source] = {}
    problems: list[str] = []
    for d in declarations(cls):
        try:
            raw, source = _raw(d, env)
        except Refused as exc:
            problems.append(str(exc))
            continue
        sources[d.attr] = source
        if raw is None:
            continue
        try:
            values[d.attr] = d.kind.parse(raw)
        except Refused as exc:
            problems.append(d.refusal(d.shown(raw, source), str(exc)))
    if problems:
        raise ConfigError("\n".join(problems))
    return values, sources


def _raw(d: Declared, env: Mapping[str, str]) -> tuple[str | None, Source]:
    raw: str | None = env.get(d.name, "")
    if raw is None or not raw.strip():
        raw = None
    elif not d.secret:
        raw = raw.strip()  # a secret is taken as given: a password may end in a space
    if d.file_name is None:
        return raw, ENVIRONMENT if raw is not None else DEFAULT
    path = env.get(d.file_name, "").strip()
    if not path:
        return raw, ENVIRONMENT if raw is not None else DEFAULT
    if raw is not None:
        raise Refused(
            f"{d.name} and {d.file_name} are both set: set one of them ({d.file_name} names a "
            f"file holding the value, e.g. a mounted secret), not both"
        )
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise Refused(
            f"{d.file_name}={path!r} cannot be read ({reason}): give the path of a readable "
            f"file holding {d.name}, or unset {d.file_name}"
        ) from None
    text = text.removesuffix("\n").removesuffix("\r") if text.endswith("\n") else text
    if not text:
        raise Refused(
            f"{d.file_name}={path!r} is an empty file: put {d.name}'s value in it, or unset "
            f"{d.file_name}"
        )
    return text, Source("file", path)


def check(settings: object) -> None:
    """Raise ConfigError if a value of `settings` (a declared dataclass, built in code or from
    the environment) is one its setting does not accept; defaults are taken as they are."""
    problems = []
    cls: type = type(settings)
    for d in declarations(cls):
        value = getattr(settings, d.attr)
        if value == d.default:
            continue
        problem = d.kind.problem(value)
        if problem is not None:
            problems.append(d.refusal(d.shown(value), problem))
    if problems:
        raise ConfigError("\n".join(problems))


# -- showing values ----------------------------------------------------------------------------


def plain(value: object) -> str:
    """A value as text: a float without a needless '.0', a tuple comma-separated."""
    if value is None:
        return ""
    if isinstance(value, float):
        return str(value).removesuffix(".0")
    if isinstance(value, tuple):
        return ",".join(plain(v) for v in value)
    if isinstance(value, Secret):
        return "***" if value else ""  # a password is never written out
    return str(value)


def quoted(value: object) -> str:
    """A default as a message shows it: text in quotes, numbers bare."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return plain(value)
    return repr(plain(value))


def to_json(value: object) -> object:
    """A value for `iocmon config --json`: numbers stay numbers, None null, tuples lists."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, tuple):
        return [to_json(v) for v in value]
    return plain(value)
