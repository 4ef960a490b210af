"""Errors a learner can cause, each with a one-line explanation and a fix.

Every error the workbook raises on purpose is a :class:`WorkbookError`. In Jupyter
they print as one red line (see :func:`install_ipython_handler`), on the command
line as one line on stderr, never as a traceback from deep inside a client.
"""
from __future__ import annotations


class WorkbookError(Exception):
    """A problem the learner can fix; ``str()`` is one line: what happened, then the fix."""

    def __init__(self, what: str, fix: str = "") -> None:
        self.what = what
        self.fix = fix
        super().__init__(f"{what} -> {fix}" if fix else what)


class JavaNotFoundError(WorkbookError):
    """No ``java`` on PATH or under JAVA_HOME, or one older than 17."""


class JarResolutionError(WorkbookError):
    """Maven could not fetch the Kafka jars (offline, or Maven missing)."""


class PortInUseError(WorkbookError):
    """The broker's port is held by some other program."""


class ForeignBrokerError(PortInUseError):
    """A Kafka broker this workbook did not start already listens on the port."""


class BrokerStartError(WorkbookError):
    """The broker process exited or never became ready while starting."""


class BrokerUnreachableError(WorkbookError):
    """Nothing answers the Kafka protocol at a bootstrap address."""


class OtherHomeBrokerError(ForeignBrokerError):
    """The port is held by a workbook broker started from another KFP_HOME (another checkout)."""


class StorageError(WorkbookError):
    """A folder the workbook writes to is read-only, not ours to write, or full."""


class DiskFullError(StorageError):
    """No space left on the disk holding the jars or the broker's data."""


class JarIntegrityError(JarResolutionError):
    """A cached or downloaded jar does not match its checksum."""


class ConfigError(WorkbookError):
    """A client setting that does not exist, or does not exist in that client."""


def install_ipython_handler() -> bool:
    """In IPython, show WorkbookErrors as one line instead of a traceback. Returns True if installed."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is always installed with jupyterlab
        return False
    ip = get_ipython()
    if ip is None:
        return False

    def _one_line(shell, etype, value, tb, tb_offset=None):  # noqa: ANN001 - IPython's signature
        # still an error (the cell's reply says so, so Run All stops and nbval fails it), with a one-line
        # "traceback": what happened and what to do, no frames from deep inside a client
        shell._showtraceback(etype, value, [f"\x1b[31m{etype.__name__}: {value}\x1b[0m"])
        return None

    ip.set_custom_exc((WorkbookError,), _one_line)
    return True
