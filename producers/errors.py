"""Errors the producers raise on purpose; each message tells the operator what to do next."""

from iocmon.errors import IocmonError


class DeliveryError(IocmonError):
    """Kafka did not acknowledge every record we handed it, or could not be reached at all.

    A producer command must never exit 0 after a silent loss: the worker's figures would then
    disagree with the file or the simulation that was supposed to feed it.
    """
