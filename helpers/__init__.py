"""Helpers for the "Kafka from Python" workbook: the embedded broker, the clients side by side,
topic administration, charts, widgets, benchmarks and exercise checks.

Notebooks start with ``from helpers import ensure_broker; kafka = ensure_broker()``.
"""
from __future__ import annotations

from .broker import Broker, ensure_broker, start, status, stop
from .errors import WorkbookError

__all__ = ["Broker", "WorkbookError", "ensure_broker", "start", "status", "stop"]
