"""`iocmon live`: the wall that `make run` shows; the same command as `iocmon status`."""

from iocmon.console.status import status_command as live_command

__all__ = ["live_command"]
