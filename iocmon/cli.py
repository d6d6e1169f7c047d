"""The `iocmon` command: one entry point for the worker, the producers and the console tools.

Subcommands import their module only when run, so `iocmon --help` stays fast and a
producer does not pull in Faust.
"""

from __future__ import annotations

import sys
from typing import ClassVar

import click

from iocmon.config import Settings
from iocmon.errors import IocmonError


class _Lazy(click.Group):
    """Resolves `name -> (module, attribute)` on first use."""

    commands_by_name: ClassVar[dict[str, tuple[str, str]]] = {
        "config": ("iocmon.console.config", "config_command"),
        "replay": ("iocmon.producers.replay", "replay_command"),
        "simulate": ("iocmon.producers.simulate", "simulate_command"),
        "live": ("iocmon.console.live", "live_command"),
        "status": ("iocmon.console.status", "status_command"),
        "overdue": ("iocmon.console.overdue", "overdue_command"),
        "report": ("iocmon.console.report", "report_command"),
        "dossier": ("iocmon.console.dossier", "dossier_command"),
        "doctor": ("iocmon.console.doctor", "doctor_command"),
        "topics": ("iocmon.console.topics", "topics_command"),
        "import": ("iocmon.producers.importer.cli", "import_command"),
        "notify": ("iocmon.notifier.cli", "notify_command"),
        "rebuild": ("iocmon.streams.rebuild_command", "rebuild_command"),
        "backtest": ("iocmon.console.backtest", "backtest_command"),
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *self.commands_by_name])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands_by_name:
            module_name, attr = self.commands_by_name[cmd_name]
            module = __import__(module_name, fromlist=[attr])
            command: click.Command = getattr(module, attr)
            return command
        return super().get_command(ctx, cmd_name)


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from iocmon.version import version_text

    click.echo(version_text())
    ctx.exit()


@click.group(cls=_Lazy)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Print the installed version (and the git commit in a checkout), then exit.",
)
def cli() -> None:
    """iocmon: live monitor of one-stop dossiers (see README.md)."""


@cli.command()
def worker() -> None:
    """Consume dossier events, judge them, keep figures in Redis, serve /metrics and the API.

    Configured by the environment: KAFKA_BOOTSTRAP_SERVERS, REDIS_URL, IOCMON_WEB_PORT, ...
    """
    from iocmon.streams.app import run_worker

    run_worker(Settings.from_env())


def main() -> None:
    from iocmon.logs import configure_from_env

    configure_from_env()  # every command logs alike (IOCMON_LOG_FORMAT, IOCMON_LOG_LEVEL)
    try:
        cli(standalone_mode=True)
    except IocmonError as exc:
        click.echo(f"iocmon: {exc}", err=True)
        sys.exit(2)
