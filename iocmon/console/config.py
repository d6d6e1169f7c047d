"""`iocmon config`: the effective settings, by section, each with where its value came from
(the default, the environment, or a file named by `NAME_FILE`), secrets masked.

`--markdown` prints the README's tables of every setting instead; `tests/unit/test_config.py`
fails when README.md holds other tables than this prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import click

from iocmon.config import Settings, Source, read_settings, settings_declared
from iocmon.config_fields import SECTIONS, Declared, to_json
from iocmon.console.options import echo_json, json_option

MAX_PAD = 56  # a longer NAME=value pushes its comment along instead of every line's


@dataclass(frozen=True, slots=True)
class Effective:
    """One setting as it is: its declaration, value (masked if secret) and source."""

    declared: Declared
    value: object
    source: Source

    @property
    def shown(self) -> str:
        return self.declared.display(self.value)

    def to_json(self) -> dict[str, Any]:
        d = self.declared
        out: dict[str, Any] = {
            "value": (self.shown or None) if d.secret else to_json(self.value),
            "source": self.source.origin,
        }
        if self.source.origin == "file":
            out["file"] = self.source.file
        if d.secret:
            out["secret"] = True
        return out


def effective(settings: Settings, sources: dict[str, Source]) -> list[Effective]:
    """Every setting of `settings`, in section order, then declaration order."""
    order = list(SECTIONS)
    declared = sorted(settings_declared(), key=lambda d: order.index(d.section))
    return [
        Effective(d, getattr(settings, d.attr), sources.get(d.attr, Source("default")))
        for d in declared
    ]


def render_text(rows: list[Effective]) -> str:
    """Env-file lines under one comment per section: `NAME=value  # source`."""
    pad = min(MAX_PAD, max(len(f"{r.declared.name}={r.shown}") for r in rows))
    lines: list[str] = []
    section = None
    for row in rows:
        d = row.declared
        if d.section != section:
            section = d.section
            if lines:
                lines.append("")
            lines.append(f"# [{section}] {SECTIONS[section]}")
        comment = row.source.text
        if row.source.origin == "default" and d.nothing:
            comment += f": {d.unset or 'none'}"
        lines.append(f"{f'{d.name}={row.shown}':<{pad}}  # {comment}")
    return "\n".join(lines) + "\n"


def render_json(rows: list[Effective]) -> dict[str, dict[str, Any]]:
    """{section: {NAME: {"value", "source", "file"?, "secret"?}}}."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        out.setdefault(row.declared.section, {})[row.declared.name] = row.to_json()
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_tables() -> str:
    """The README's tables: one per section, a row per variable."""
    order = list(SECTIONS)
    declared = sorted(settings_declared(), key=lambda d: order.index(d.section))
    out: list[str] = []
    section = None
    for d in declared:
        if d.section != section:
            section = d.section
            if out:
                out.append("")
            out += [
                f"**{SECTIONS[section]}** (`{section}`)",
                "",
                "| variable | default | accepts | meaning |",
                "|---|---|---|---|",
            ]
        name = f"`{d.name}`" + (f" or `{d.file_name}` (secret)" if d.file_name else "")
        default = d.default_text if d.nothing else f"`{d.default_text}`"
        out.append(f"| {name} | {_cell(default)} | {_cell(d.kind.accepted)} | {_cell(d.help)} |")
    return "\n".join(out) + "\n"


@click.command("config")
@click.option(
    "--markdown",
    is_flag=True,
    help="Print the README's tables of every setting instead (no values).",
)
@json_option
def config_command(markdown: bool, as_json: bool) -> None:
    """Print the effective settings by section: each variable, its value, and whether it came
    from the default, the environment or a file (NAME_FILE, for secrets); secrets masked.

    Exit code 2, naming each variable, when a setting cannot be used.
    """
    if markdown:
        click.echo(markdown_tables(), nl=False)
        return
    settings, sources = read_settings()
    rows = effective(settings, sources)
    if as_json:
        echo_json(render_json(rows))
    else:
        click.echo(render_text(rows), nl=False)
