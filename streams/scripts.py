"""The text of the Lua scripts under `streams/lua/`."""

from __future__ import annotations

from importlib import resources


def lua_source(name: str, with_commands: bool = False) -> str:
    """A script's text; the shared command runner goes after its first (shebang) line."""
    text = resources.files("iocmon.streams").joinpath(f"lua/{name}").read_text("utf-8")
    if not with_commands:
        return text
    shebang, _, body = text.partition("\n")
    return f"{shebang}\n{lua_source('commands.lua')}\n{body}"
