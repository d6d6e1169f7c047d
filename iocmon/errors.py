"""The one root of iocmon's own exceptions, so callers can catch ours and nothing else."""


class IocmonError(Exception):
    """Base of every error iocmon raises on purpose; the message says what to do next."""


class ConfigError(IocmonError):
    """A setting from the environment cannot be used."""
