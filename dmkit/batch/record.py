"""The figures a notebook records: an alias of :mod:`dmkit.report.record`.

``dm.runner.record`` and ``dmkit.batch.record.record`` are :func:`dmkit.report.record.record`,
kept until every notebook calls ``dm.report.record``.
"""
from __future__ import annotations

from dmkit.report.record import read_record, record

__all__ = ["read_record", "record"]
