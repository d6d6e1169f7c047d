"""IOCMON_ON_TIME_OBJECTIVE and IOCMON_LOG_FORMAT: read by the one settings object, and
refused with a message that names the variable and what it accepts."""

from __future__ import annotations

import pytest

from iocmon.config import Settings
from iocmon.errors import ConfigError


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert (settings.on_time_objective, settings.log_format) == (0.999, "text")


def test_an_objective_between_0_and_1_is_read() -> None:
    env = {"IOCMON_ON_TIME_OBJECTIVE": "0.95", "IOCMON_LOG_FORMAT": "json"}
    settings = Settings.from_env(env)
    assert (settings.on_time_objective, settings.log_format) == (0.95, "json")


@pytest.mark.parametrize("raw", ["0", "1", "1.5", "99.9", "-0.5", "nan", "inf"])
def test_an_objective_outside_0_to_1_is_refused_saying_what_is_accepted(raw: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"IOCMON_ON_TIME_OBJECTIVE": raw})
    message = str(caught.value)
    assert message.startswith("IOCMON_ON_TIME_OBJECTIVE=")
    assert "a number between 0 and 1" in message and "0.999 for 99.9 %" in message


def test_an_objective_that_is_not_a_number_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"^IOCMON_ON_TIME_OBJECTIVE='99.9%' is not a valid"):
        Settings.from_env({"IOCMON_ON_TIME_OBJECTIVE": "99.9%"})


@pytest.mark.parametrize("raw", ["JSON", "logfmt", "plain"])
def test_an_unknown_log_format_is_refused_with_the_accepted_ones(raw: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"IOCMON_LOG_FORMAT": raw})
    message = str(caught.value)
    assert message.startswith(f"IOCMON_LOG_FORMAT={raw!r} is not a log format")
    assert "'text'" in message and "'json'" in message


def test_a_log_level_is_read_in_any_case_and_an_unknown_one_refused() -> None:
    assert Settings.from_env({"IOCMON_LOG_LEVEL": "WARNING"}).log_level == "WARNING"
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"IOCMON_LOG_LEVEL": "verbose"})
    assert str(caught.value).startswith("IOCMON_LOG_LEVEL='verbose' is not a log level")
    assert "debug, info, warning, error, critical" in str(caught.value)
