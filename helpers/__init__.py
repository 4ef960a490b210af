"""Helpers for the "Kafka from Python" workbook: the embedded broker, the clients side by side,
topic administration, charts, widgets, benchmarks and exercise checks.

Notebooks start with ``from helpers import ensure_broker; kafka = ensure_broker()``.
"""
from __future__ import annotations

import warnings

# pykafka 2.8.0 imports pkg_resources, which warns on every import; the pin setuptools<81 keeps it working
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

from .broker import Broker, ensure_broker, start, status, stop
from .errors import WorkbookError

__all__ = ["Broker", "WorkbookError", "ensure_broker", "start", "status", "stop"]


def inspector(conn, **snapshot_args):  # noqa: ANN001, ANN201 - see helpers.cluster_view.inspector
    """A panel showing the brokers, topics and consumer groups behind ``conn``, refreshed on demand
    (``helpers.cluster_view``; usable from any lesson)."""
    from .cluster_view import inspector as _inspector

    return _inspector(conn, **snapshot_args)


__all__.append("inspector")
