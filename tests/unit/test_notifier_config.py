"""The notifier's settings from the environment."""

from __future__ import annotations

import pytest

from iocmon.config import Settings
from iocmon.errors import ConfigError
from iocmon.notifier.config import NotifierSettings


def test_defaults() -> None:
    s = NotifierSettings.from_env({})
    assert s.kafka_bootstrap_servers == "localhost:9092"
    assert s.alerts_topic == "dossier-alerts"
    assert s.consumer_group == "iocmon-notify"
    assert s.alertmanager_urls == ("http://127.0.0.1:9095",)
    assert s.webhook_url is None
    assert s.resend_interval_s == 60 and s.alert_ttl_s == 240
    assert s.metrics_port == 6067


def test_reads_every_variable() -> None:
    s = NotifierSettings.from_env(
        {
            "KAFKA_BOOTSTRAP_SERVERS": "k1:9092,k2:9092",
            "IOCMON_ALERTS_TOPIC": "alerts",
            "IOCMON_NOTIFY_GROUP": "g",
            "ALERTMANAGER_URL": "http://am1:9093/, http://am2:9093",
            "IOCMON_WEBHOOK_URL": "https://hooks.example/ioc",
            "IOCMON_NOTIFY_RESEND_S": "2.5",
            "IOCMON_NOTIFY_HTTP_TIMEOUT_S": "3",
            "IOCMON_NOTIFY_BACKOFF_MAX_S": "5",
            "IOCMON_NOTIFY_MAX_PENDING": "10",
            "IOCMON_NOTIFY_PORT": "0",
            "IOCMON_WEB_HOST": "0.0.0.0",
            "IOCMON_LOG_LEVEL": "debug",
        }
    )
    assert s.kafka_bootstrap_servers == "k1:9092,k2:9092"
    assert (s.alerts_topic, s.consumer_group) == ("alerts", "g")
    assert s.alertmanager_urls == ("http://am1:9093", "http://am2:9093")
    assert s.webhook_url == "https://hooks.example/ioc"
    assert (s.resend_interval_s, s.alert_ttl_s, s.http_timeout_s) == (2.5, 10, 3)
    assert (s.backoff_max_s, s.max_pending, s.metrics_port) == (5, 10, 0)
    assert (s.metrics_host, s.log_level) == ("0.0.0.0", "debug")


def test_empty_values_mean_the_default() -> None:
    assert NotifierSettings.from_env({"IOCMON_WEBHOOK_URL": "", "ALERTMANAGER_URL": " "}) == (
        NotifierSettings.from_env({})
    )


def test_the_notifier_takes_its_part_of_the_one_settings() -> None:
    settings = Settings.from_env({"IOCMON_NOTIFY_GROUP": "g", "IOCMON_RETENTION_DAYS": "60"})
    notifier = NotifierSettings.of(settings)
    assert (notifier.consumer_group, notifier.alert_horizon) == ("g", settings.retention)
    assert notifier.metrics_host == settings.web_host


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ALERTMANAGER_URL", "am:9093", "not an http"),
        ("ALERTMANAGER_URL", "http://a:1,http://a:1", "same URL twice"),
        ("IOCMON_WEBHOOK_URL", "ftp://x/y", "not an http"),
        ("IOCMON_NOTIFY_RESEND_S", "0", "out of range: give seconds, more than 0"),
        ("IOCMON_NOTIFY_RESEND_S", "soon", "not a valid number: give seconds, more than 0"),
        ("IOCMON_NOTIFY_PORT", "70000", "out of range: give a port number from 1 to 65535, or 0"),
        ("IOCMON_NOTIFY_PORT", "²", "not a port number"),
        ("IOCMON_NOTIFY_BACKOFF_MAX_S", "0.1", "at least the first retry delay"),
    ],
)
def test_bad_values_say_what_to_do(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        NotifierSettings.from_env({name: value})
