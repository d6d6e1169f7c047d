"""Options shared by the console commands: the worker's URL, the API token, --json, colour."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any, Literal, TextIO, TypeVar

import click

from iocmon.config import Settings

F = TypeVar("F", bound=Callable[..., Any])
ColorMode = Literal["auto", "always", "never"]


def default_worker_url() -> str:
    """http://127.0.0.1:<IOCMON_WEB_PORT>, the port the worker serves on."""
    return f"http://127.0.0.1:{Settings.from_env().web_port}"


def worker_options(command: F) -> F:
    """--url and --token, in that order on the command line help."""
    command = click.option(
        "--token",
        default=lambda: Settings.from_env().api_token or None,
        show_default="$IOCMON_API_TOKEN",
        help="Bearer token for the worker's API, when it is protected.",
    )(command)
    return click.option(
        "--url",
        default=default_worker_url,
        show_default="http://127.0.0.1:$IOCMON_WEB_PORT (6066)",
        help="The worker's base URL.",
    )(command)


def json_option(command: F) -> F:
    return click.option(
        "--json", "as_json", is_flag=True, help="Print one JSON document instead of text."
    )(command)


def color_option(command: F) -> F:
    return click.option(
        "--color",
        "color_mode",
        type=click.Choice(["auto", "always", "never"]),
        default="auto",
        show_default=True,
        help="Colours: auto = when stdout is a terminal and NO_COLOR is not set.",
    )(command)


def use_color(mode: ColorMode, stream: TextIO | None = None) -> bool:
    """The https://no-color.org convention: NO_COLOR set (non-empty) turns auto colour off."""
    if mode != "auto":
        return mode == "always"
    stream = stream or sys.stdout
    return bool(stream.isatty()) and not os.environ.get("NO_COLOR")


def echo_json(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2, sort_keys=False))


def fail(message: str, as_json: bool, **extra: Any) -> None:
    """Report an error (as {"error": ...} on stdout with --json) and exit 1."""
    if as_json:
        echo_json({"error": message, **extra})
    else:
        click.echo(f"iocmon: {message}", err=True)
    raise click.exceptions.Exit(1)
