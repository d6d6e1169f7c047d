"""`iocmon notify` (also `python -m iocmon.notifier`): run the notifier in the foreground."""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType

import click

from iocmon.errors import ConfigError, IocmonError
from iocmon.logs import configure_from_env
from iocmon.notifier.config import NotifierSettings


@click.command("notify")
def notify_command() -> None:
    """Deliver per-dossier alerts (due soon, overdue, cleared) to Alertmanager and a webhook.

    Reads the alerts topic as consumer group iocmon-notify and commits a record only once
    every receiver has it. Configured by the environment: KAFKA_BOOTSTRAP_SERVERS,
    IOCMON_ALERTS_TOPIC, ALERTMANAGER_URL, IOCMON_WEBHOOK_URL, IOCMON_NOTIFY_RESEND_S, ...
    (`iocmon config` shows them all, section notifier). Stops cleanly on SIGTERM or Ctrl-C.
    """
    from iocmon.notifier.health import HealthApp, serve
    from iocmon.notifier.service import Notifier

    settings = NotifierSettings.from_env()
    logging.getLogger("kafka").setLevel(max(logging.WARNING, logging.root.level))
    notifier = Notifier(settings)

    def stop(signum: int, frame: FrameType | None) -> None:
        notifier.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server = None
    if settings.metrics_port:
        try:
            app = HealthApp(notifier.metrics.registry, notifier.readiness)
            server = serve(settings.metrics_host, settings.metrics_port, app)
        except OSError as exc:
            raise ConfigError(
                f"cannot serve /metrics, /healthz and /readyz on "
                f"{settings.metrics_host}:{settings.metrics_port} "
                f"({exc.strerror}); set IOCMON_NOTIFY_PORT to a free port, or 0 for none"
            ) from None
    try:
        notifier.run()
    finally:
        if server is not None:
            server.shutdown()


def main() -> None:
    configure_from_env()  # as `iocmon notify` (iocmon.cli.main) does
    try:
        notify_command(standalone_mode=True)
    except IocmonError as exc:
        click.echo(f"iocmon notify: {exc}", err=True)
        sys.exit(2)
