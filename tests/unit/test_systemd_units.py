"""The systemd units of a VM install (deploy/systemd), checked by systemd's own tools.

`systemd-analyze verify` loads each unit as systemd would (a worker instance, so the template's
%i is resolved) and prints what it ignores or refuses; it still exits 0 for an unknown key or
a value it cannot parse, so any output fails here. It also insists that ExecStart's program
exists, so the units are verified from a copy whose /opt/iocmon/bin/iocmon is a stub script
(nothing else is changed). `systemd-analyze security --offline` scores their hardening. PID 1
need not be systemd: both read unit files only. `make test` installs systemd-analyze first
(deploy/local/stack.sh install).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from iocmon.config import Settings
from tests.unit.settings_names import known_settings

REPO = Path(__file__).resolve().parents[2]
UNITS = REPO / "deploy" / "systemd"
WORKER = "iocmon-worker@.service"
NOTIFIER = "iocmon-notify.service"
INSTALLED = "/opt/iocmon/bin/iocmon"
# `systemd-analyze security` exposure, 0 (locked down) to 10 (no sandbox); 2.0 is "OK".
MAX_EXPOSURE = 2.0


@pytest.fixture(scope="module")
def analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None:
        pytest.skip("systemd-analyze is not installed: run deploy/local/stack.sh install")
    return path


def copy_units(into: Path, edit: dict[str, str] | None = None) -> Path:
    """The units, their iocmon pointed at a stub, with `edit` (old text -> new) applied."""
    stub = into / "iocmon"
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    for unit in (WORKER, NOTIFIER):
        text = (UNITS / unit).read_text()
        assert INSTALLED in text, f"{unit} no longer runs {INSTALLED}; update this test"
        text = text.replace(INSTALLED, str(stub))
        for old, new in (edit or {}).items():
            text = text.replace(old, new)
        (into / unit).write_text(text)
    return into


def verify(analyze: str, folder: Path, *units: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [analyze, "verify", "--man=no", *(str(folder / u) for u in units)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_systemd_analyze_verify_accepts_the_units(analyze: str, tmp_path: Path) -> None:
    folder = copy_units(tmp_path)
    done = verify(analyze, folder, "iocmon-worker@6066.service", NOTIFIER)
    assert done.returncode == 0 and not (done.stdout + done.stderr).strip(), (
        done.stdout + done.stderr
    )


def test_the_verify_check_sees_a_bad_setting(analyze: str, tmp_path: Path) -> None:
    """systemd-analyze exits 0 on these: the test must read what it says."""
    folder = copy_units(tmp_path, {"Restart=on-failure": "Restart=sometimes\nRestartt=no"})
    done = verify(analyze, folder, "iocmon-worker@6066.service", NOTIFIER)
    said = done.stdout + done.stderr
    assert "Failed to parse service restart specifier" in said
    assert "Unknown key" in said


@pytest.mark.parametrize("unit", ["iocmon-worker@6066.service", NOTIFIER])
def test_the_units_are_sandboxed(analyze: str, tmp_path: Path, unit: str) -> None:
    folder = copy_units(tmp_path)
    done = subprocess.run(
        [analyze, "security", "--offline=true", "--no-pager", str(folder / unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: ([0-9.]+)", done.stdout)
    assert found, done.stdout + done.stderr
    assert float(found.group(1)) <= MAX_EXPOSURE, done.stdout


def unit_settings(unit: str) -> dict[str, str]:
    settings: dict[str, str] = {}
    for line in (UNITS / unit).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), value.strip())
    return settings


def seconds(value: str) -> float:
    number = re.fullmatch(r"([0-9.]+)\s*(s|min)?", value)
    assert number, value
    return float(number.group(1)) * (60 if number.group(2) == "min" else 1)


def test_the_stop_timeout_outlasts_the_workers_stop_deadline() -> None:
    try:
        from iocmon.streams.stop_deadline import STOP_GRACE_S
    except ImportError:  # before the packages moved under iocmon (issue #15 item 1)
        from iocmon.streams.stop_deadline import STOP_GRACE_S

    for unit in (WORKER, NOTIFIER):
        settings = unit_settings(unit)
        # the worker cuts its stop short at 8 s and is gone within 10 s (README)
        assert seconds(settings["TimeoutStopSec"]) > max(STOP_GRACE_S, 10), unit
        assert settings["KillMode"] == "mixed", unit  # SIGTERM to iocmon, not its children
        assert settings["Restart"] == "on-failure", unit
        # a start that found Kafka or Redis down exits 2 like a wrong setting: keep trying
        assert (
            settings["StartLimitIntervalSec"] == "0" and "RestartPreventExitStatus" not in settings
        )
        assert settings["DynamicUser"] == "yes" and settings["NoNewPrivileges"] == "yes"


def test_each_worker_instance_serves_on_its_own_port() -> None:
    exec_start = unit_settings(WORKER)["ExecStart"]
    assert exec_start == f"/usr/bin/env IOCMON_WEB_PORT=%i {INSTALLED} worker"
    assert unit_settings(NOTIFIER)["ExecStart"] == f"{INSTALLED} notify"


def env_file(name: str) -> dict[str, str]:
    values = {}
    for line in (UNITS / name).read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{name}: {line!r} is not KEY=value"
            values[key] = value
    return values


def test_the_env_file_examples_hold_settings_iocmon_reads() -> None:
    settings = env_file("iocmon.env.example")
    secrets = env_file("secrets.env.example")
    for name, values in [("iocmon.env.example", settings), ("secrets.env.example", secrets)]:
        unknown = set(values) - known_settings()
        assert not unknown, f"{name}: iocmon reads no {sorted(unknown)}"
    assert "IOCMON_WEB_PORT" not in settings  # each worker's comes from its instance name
    assert set(secrets) == {"IOCMON_API_TOKEN", "KAFKA_SASL_PASSWORD", "REDIS_URL"}
    parsed = Settings.from_env({**settings, **secrets})
    assert parsed.kafka_security_protocol == "SASL_SSL"
    assert parsed.redis_url.startswith("rediss+cluster://iocmon:")
