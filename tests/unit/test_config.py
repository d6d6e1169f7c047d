"""The one settings object: every variable declared once, each value checked with a message
that names the variable, what is wrong and what is accepted, secrets from `NAME_FILE`, and
`iocmon config`."""

from __future__ import annotations

import json
import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from iocmon.config import Settings, env_name, env_names, read_settings, settings_declared
from iocmon.config_fields import SECTIONS, Secret
from iocmon.console.config import config_command, markdown_tables
from iocmon.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]

# Documented and deployed (README, the Helm chart, the systemd units, compose; CONTRACT §5 pins
# the first three): a rename or a changed default must be a decision, not an accident.
DEPLOYED_DEFAULTS = {
    "KAFKA_BOOTSTRAP_SERVERS": "localhost:9092",
    "REDIS_URL": "redis://localhost:6379/0",
    "IOCMON_WEB_PORT": "6066",
    "KAFKA_SECURITY_PROTOCOL": "PLAINTEXT",
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "KAFKA_SASL_USERNAME": "",
    "KAFKA_SASL_PASSWORD": "",
    "KAFKA_SSL_CAFILE": "",
    "REDIS_SSL_CA_FILE": "",
    "IOCMON_WEB_HOST": "127.0.0.1",
    "IOCMON_EVENTS_TOPIC": "dossier-events",
    "IOCMON_DLQ_TOPIC": "dossier-events-dlq",
    "IOCMON_ALERTS_TOPIC": "dossier-alerts",
    "IOCMON_EVENT_PARTITIONS": "12",
    "IOCMON_CONSUMER_GROUP": "iocmon",
    "IOCMON_REDIS_PREFIX": "iocmon",
    "IOCMON_CALENDAR_FILE": "",
    "IOCMON_AGENCIES_FILE": "",
    "IOCMON_PROCEDURES_FILE": "",
    "IOCMON_AGENCY_LABEL_LIMIT": "500",
    "IOCMON_BATCH_SIZE": "2000",
    "IOCMON_BATCH_WINDOW_S": "0.2",
    "IOCMON_LOG_LEVEL": "info",
    "IOCMON_LOG_FORMAT": "text",
    "IOCMON_SESSION_TIMEOUT_S": "30",
    "IOCMON_CLOCK_OFFSET_S": "0",
    "IOCMON_ALERT_CHECK_INTERVAL_S": "10",
    "IOCMON_ALERT_DUE_SOON_SHARE": "0",
    "IOCMON_ALERT_MAX_EVENT_AGE_S": "300",
    "IOCMON_API_TOKEN": "",
    "IOCMON_METRICS_REFRESH_S": "5",
    "IOCMON_TOPIC_REPLICATION_FACTOR": "1",
    "IOCMON_RETENTION_DAYS": "400",
    "IOCMON_REDIS_TIMEOUT_S": "1.5",
    "IOCMON_ON_TIME_OBJECTIVE": "0.999",
    "IOCMON_AT_RISK_THRESHOLD": "0.5",
    "IOCMON_AT_RISK_MIN_SAMPLES": "30",
    "IOCMON_NOTIFY_GROUP": "iocmon-notify",
    "ALERTMANAGER_URL": "http://127.0.0.1:9095",
    "IOCMON_WEBHOOK_URL": "",
    "IOCMON_NOTIFY_RESEND_S": "60",
    "IOCMON_NOTIFY_HTTP_TIMEOUT_S": "10",
    "IOCMON_NOTIFY_BACKOFF_MAX_S": "60",
    "IOCMON_NOTIFY_MAX_PENDING": "100000",
    "IOCMON_NOTIFY_PORT": "6067",
    "IOCMON_PROMETHEUS_URL": "http://127.0.0.1:9090",
}
SECRETS = {"KAFKA_SASL_PASSWORD", "IOCMON_API_TOKEN", "REDIS_URL", "IOCMON_WEBHOOK_URL"}


def default_text(value: object) -> str:
    if isinstance(value, Secret):
        return value.value
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, float):
        return f"{value:g}"
    return "" if value is None else str(value)


# -- the declaration ------------------------------------------------------------------------------


def test_every_deployed_variable_keeps_its_name_and_default() -> None:
    declared = {d.name: default_text(d.default) for d in settings_declared()}
    assert declared == DEPLOYED_DEFAULTS


def test_secrets_are_declared_so_and_have_a_file_variant() -> None:
    assert {d.name for d in settings_declared() if d.secret} == SECRETS
    assert {f"{name}_FILE" for name in SECRETS} <= env_names()
    assert "IOCMON_LOG_LEVEL_FILE" not in env_names()


def test_every_setting_has_a_known_section_and_a_description() -> None:
    for d in settings_declared():
        assert d.section in SECTIONS and d.help and d.kind.accepted, d.name


def test_the_settings_cross_into_a_spawned_process_intact() -> None:
    """The worker pickles its Settings into its child processes (streams/child_process.py)."""
    settings = Settings.from_env(
        {"KAFKA_SASL_PASSWORD": "pw", "ALERTMANAGER_URL": "http://a:1,http://b:2"}
    )
    assert pickle.loads(pickle.dumps(settings)) == settings


def test_no_other_module_reads_the_environment() -> None:
    """`Settings.from_env` is the one reader; console/options.py reads NO_COLOR, which is not
    iocmon's (https://no-color.org)."""
    allowed = {"iocmon/config.py", "iocmon/console/options.py"}
    readers = re.compile(r"os\.environ|os\.getenv|\bgetenv\(|envvar=")
    found = set()
    for path in (REPO / "iocmon").rglob("*.py"):  # streams/, producers/, notifier/ via links
        relative = path.relative_to(REPO).as_posix()
        if relative not in allowed and readers.search(path.read_text(encoding="utf-8")):
            found.add(relative)
    assert not found


# -- values from the environment -----------------------------------------------------------------


def test_values_are_read_with_their_kind() -> None:
    settings = Settings.from_env(
        {
            "IOCMON_EVENT_PARTITIONS": " 24 ",
            "IOCMON_BATCH_WINDOW_S": "0.5",
            "IOCMON_CALENDAR_FILE": "/etc/iocmon/calendar.txt",
            "ALERTMANAGER_URL": "http://am1:9093/, http://am2:9093",
            "IOCMON_NOTIFY_PORT": "0",
            "KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
            "KAFKA_BOOTSTRAP_SERVERS": "k1:9092,[::1]:9093, k3",
        }
    )
    assert settings.event_partitions == 24 and settings.batch_window_s == 0.5
    assert settings.calendar_file == Path("/etc/iocmon/calendar.txt")
    assert settings.alertmanager_urls == ("http://am1:9093", "http://am2:9093")
    assert settings.notify_port == 0  # 0 turns the notifier's /metrics off
    assert settings.kafka_security_protocol == "sasl_ssl"


def test_blank_means_the_default() -> None:
    assert Settings.from_env({"IOCMON_EVENT_PARTITIONS": "", "IOCMON_LOG_LEVEL": "  "}) == (
        Settings()
    )


BAD_VALUES = [
    # (variable, value, the problem, what the message says is accepted)
    ("IOCMON_LOG_LEVEL", "verbose", "is not a log level", "one of debug, info, warning"),
    ("IOCMON_LOG_FORMAT", "JSON", "is not a log format", "'text' (one line a record"),
    ("IOCMON_EVENT_PARTITIONS", "0", "is out of range", "a whole number, 1 or more"),
    ("IOCMON_EVENT_PARTITIONS", "twelve", "is not a whole number", "1 or more"),
    ("IOCMON_EVENT_PARTITIONS", "12.5", "is not a whole number", "1 or more"),
    ("IOCMON_WEB_PORT", "0", "is out of range", "a port number from 1 to 65535"),
    ("IOCMON_WEB_PORT", "65536", "is out of range", "a port number from 1 to 65535"),
    ("IOCMON_NOTIFY_PORT", "-1", "is out of range", "or 0 to turn it off"),
    ("IOCMON_SESSION_TIMEOUT_S", "0", "is out of range", "seconds, more than 0"),
    ("IOCMON_ALERT_CHECK_INTERVAL_S", "-5", "is out of range", "seconds, more than 0"),
    ("IOCMON_BATCH_WINDOW_S", "inf", "is not a finite number", "seconds, more than 0"),
    ("IOCMON_METRICS_REFRESH_S", "nan", "is not a finite number", "seconds, more than 0"),
    ("IOCMON_NOTIFY_RESEND_S", "soon", "is not a valid number", "seconds, more than 0"),
    ("IOCMON_REDIS_TIMEOUT_S", "61", "is out of range", "more than 0 and at most 60"),
    ("IOCMON_RETENTION_DAYS", "10", "is out of range", "days, 35 or more"),
    ("IOCMON_ALERT_DUE_SOON_SHARE", "1", "is out of range", "a share between 0 and 1"),
    ("IOCMON_ON_TIME_OBJECTIVE", "99.9", "is out of range", "0.999 for 99.9 %"),
    ("IOCMON_TOPIC_REPLICATION_FACTOR", "0", "is out of range", "1 or more"),
    ("IOCMON_EVENTS_TOPIC", "dossier events", "is not a Kafka topic name", "letters, digits"),
    ("KAFKA_SECURITY_PROTOCOL", "TLS", "is not a Kafka security protocol", "SASL_SSL"),
    (
        "KAFKA_BOOTSTRAP_SERVERS",
        "k1:99999",
        "has 'k1:99999', whose port is out of range",
        "k1:9092",
    ),
    ("KAFKA_BOOTSTRAP_SERVERS", "k1,k2:", "has 'k2:', which is not host:port", "host:port"),
    ("ALERTMANAGER_URL", "am:9093", "is not an http(s) URL", "e.g. http://127.0.0.1:9095"),
    ("ALERTMANAGER_URL", "http://a:1,http://a:1/", "lists the same URL twice", "http(s) URL"),
    ("IOCMON_PROMETHEUS_URL", "ftp://p:9090", "is not an http(s) URL", "an http(s) URL"),
    ("IOCMON_NOTIFY_BACKOFF_MAX_S", "0.1", "is out of range", "at least the first retry delay"),
]


@pytest.mark.parametrize(("name", "value", "problem", "accepted"), BAD_VALUES)
def test_a_bad_value_is_refused_naming_the_variable_the_problem_and_what_is_accepted(
    name: str, value: str, problem: str, accepted: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: value})
    message = str(caught.value)
    assert message.startswith(f"{name}={value!r} {problem}: give "), message
    assert accepted in message.partition(": give ")[2], message
    assert "or unset it" in message


def test_every_bad_value_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"IOCMON_LOG_LEVEL": "verbose", "IOCMON_WEB_PORT": "http"})
    lines = str(caught.value).splitlines()
    assert [line.split("=")[0] for line in lines] == ["IOCMON_WEB_PORT", "IOCMON_LOG_LEVEL"]


def test_a_secrets_value_is_never_repeated_in_a_message() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"REDIS_URL": "http://app:hunter2@redis:6379/0"})
    message = str(caught.value)
    assert "hunter2" not in message
    assert message.startswith("REDIS_URL (value not shown) is not a Redis URL: give ")
    assert "rediss+cluster://" in message


def test_values_given_in_code_are_checked_too() -> None:
    with pytest.raises(ConfigError, match=r"^IOCMON_EVENT_PARTITIONS='0' is out of range"):
        Settings(event_partitions=0)
    with pytest.raises(ConfigError, match="IOCMON_LOG_LEVEL='verbose' is not a log level"):
        Settings(log_level="verbose")


def test_the_command_line_reports_a_bad_setting_with_exit_code_2_not_a_traceback() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "iocmon", "config"],
        env={"IOCMON_LOG_LEVEL": "verbose", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 2, run.stderr
    assert run.stderr.startswith("iocmon: IOCMON_LOG_LEVEL='verbose' is not a log level: give ")
    assert "Traceback" not in run.stderr and run.stdout == ""


# -- secrets from files --------------------------------------------------------------------------


def test_a_secret_is_read_from_its_file_without_one_trailing_newline(tmp_path: Path) -> None:
    password = tmp_path / "kafka-password"
    password.write_text("s3cret \n\n")
    token = tmp_path / "token"
    token.write_bytes(b"t0ken\r\n")
    redis_url = tmp_path / "redis-url"
    redis_url.write_text("rediss://iocmon:p%40ss@redis:6379/0")
    settings, sources = read_settings(
        {
            "KAFKA_SASL_PASSWORD_FILE": str(password),
            "IOCMON_API_TOKEN_FILE": str(token),
            "REDIS_URL_FILE": str(redis_url),
        }
    )
    assert settings.kafka_sasl_password == Secret("s3cret \n")  # one newline only
    assert settings.api_token == "t0ken"
    assert settings.redis_url == "rediss://iocmon:p%40ss@redis:6379/0"
    assert sources["redis_url"].origin == "file" and sources["redis_url"].file == str(redis_url)
    assert sources["web_port"].origin == "default"


def test_a_secret_set_both_ways_is_refused(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("t0ken\n")
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"IOCMON_API_TOKEN": "other", "IOCMON_API_TOKEN_FILE": str(token)})
    assert str(caught.value).startswith(
        "IOCMON_API_TOKEN and IOCMON_API_TOKEN_FILE are both set: set one of them"
    )


@pytest.mark.parametrize(
    ("content", "problem"), [(None, "cannot be read"), ("\n", "is an empty file")]
)
def test_a_missing_or_empty_secret_file_is_refused(
    tmp_path: Path, content: str | None, problem: str
) -> None:
    path = tmp_path / "password"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"KAFKA_SASL_PASSWORD_FILE": str(path)})
    assert str(caught.value).startswith(f"KAFKA_SASL_PASSWORD_FILE={str(path)!r}")
    assert problem in str(caught.value)


def test_a_secret_from_a_file_is_checked_without_showing_it(tmp_path: Path) -> None:
    path = tmp_path / "redis-url"
    path.write_text("redis:/hunter2\n")
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"REDIS_URL_FILE": str(path)})
    message = str(caught.value)
    assert message.startswith(f"REDIS_URL (read from REDIS_URL_FILE={path}; value not shown)")
    assert "hunter2" not in message


def test_secrets_are_left_out_of_repr() -> None:
    settings = Settings.from_env(
        {
            "KAFKA_SASL_PASSWORD": "pw-kafka",
            "REDIS_URL": "redis://u:pw-redis@h:6379/0",
            "IOCMON_API_TOKEN": "pw-token",
            "IOCMON_WEBHOOK_URL": "https://hooks.example/pw-hook",
        }
    )
    assert "pw-" not in repr(settings)


# -- iocmon config -------------------------------------------------------------------------------


def run_config(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(config_command, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


SECRET_ENV = {
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_USERNAME": "worker",
    "REDIS_URL": "rediss://iocmon:hunter2@redis:6379/0?password=hunter2",
    "IOCMON_WEBHOOK_URL": "https://hooks.example/T0/hunter2",
    "IOCMON_WEB_PORT": "6070",
}


def test_config_prints_every_setting_by_section_with_its_source_and_secrets_masked(
    tmp_path: Path,
) -> None:
    password = tmp_path / "kafka-password"
    password.write_text("hunter2\n")
    out = run_config({**SECRET_ENV, "KAFKA_SASL_PASSWORD_FILE": str(password)})
    assert "hunter2" not in out
    lines = out.splitlines()
    headings = [line for line in lines if line.startswith("# [")]
    assert [h.split("]")[0].removeprefix("# [") for h in headings] == list(SECTIONS)
    values = [line for line in lines if line and not line.startswith("#")]
    assert len(values) == len(settings_declared())
    assert re.search(r"^IOCMON_WEB_PORT=6070 +# environment$", out, re.M)
    assert re.search(r"^IOCMON_EVENT_PARTITIONS=12 +# default$", out, re.M)
    assert re.search(rf"^KAFKA_SASL_PASSWORD=\*\*\* +# file {password}$", out, re.M)
    assert re.search(r"^REDIS_URL=rediss://iocmon:\*\*\*@redis:6379/0\?\*\*\* +#", out, re.M)
    assert re.search(r"^IOCMON_WEBHOOK_URL=https://hooks.example/\*\*\* +#", out, re.M)
    assert re.search(r"^KAFKA_SSL_CAFILE= +# default: the system trust store$", out, re.M)
    # each variable under its own section's heading
    section = ""
    for line in lines:
        if line.startswith("# ["):
            section = line.split("]")[0].removeprefix("# [")
        elif line:
            assert section == next(
                d.section for d in settings_declared() if d.name == line.split("=")[0]
            )


def test_config_json_groups_by_section_with_typed_values_and_sources() -> None:
    doc = json.loads(run_config(SECRET_ENV, "--json"))
    assert list(doc) == list(SECTIONS)
    assert doc["web"]["IOCMON_WEB_PORT"] == {"value": 6070, "source": "environment"}
    assert doc["notifier"]["ALERTMANAGER_URL"] == {
        "value": ["http://127.0.0.1:9095"],
        "source": "default",
    }
    assert doc["kafka"]["KAFKA_SASL_PASSWORD"] == {
        "value": None,
        "source": "default",
        "secret": True,
    }
    assert doc["redis"]["REDIS_URL"]["value"] == "rediss://iocmon:***@redis:6379/0?***"
    assert "hunter2" not in json.dumps(doc)


def test_the_readme_tables_are_the_declaration() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    begin = "<!-- settings tables: `iocmon config --markdown` -->\n"
    end = "<!-- end of settings tables -->"
    assert begin in readme and end in readme
    tables = readme.split(begin, 1)[1].split(end, 1)[0]
    assert tables == markdown_tables(), (
        "README.md's settings tables differ from the declaration in iocmon/config.py: paste "
        "the output of `.venv/bin/iocmon config --markdown` between the markers"
    )


def test_doctor_names_the_declared_variables() -> None:
    from iocmon.console import doctor

    assert doctor.TOPIC_ENV["events"] == env_name("events_topic") == "IOCMON_EVENTS_TOPIC"
    source = Path(doctor.__file__).read_text(encoding="utf-8")
    names = {
        name  # in messages and help; PORT_ENV and the like are its constants
        for name in re.findall(r"\b(?:IOCMON|KAFKA|REDIS)_[A-Z_]+\b", source)
        if not hasattr(doctor, name)
    }
    assert names - env_names() <= {"IOCMON_SCRAPE_TARGETS"}  # deploy/local/stack.sh's
