"""The contract: the ground floor of dmkit, importing nothing of dmkit above it.

What every other layer agrees on (see ``data/README.md`` and ``DESIGN.md``, "Layers"):

- :mod:`dmkit.errors` — the error classes and their message helpers;
- :mod:`dmkit.catalog` — the vocabulary: brands, services, channels, genres;
- :mod:`dmkit.schema` — the tables' columns, kinds and keys, and ``validate``;
- :mod:`dmkit.contract.months` — the data month: one check, one meaning of "month end";
- :mod:`dmkit.contract.files` — atomic writes (temp file, then rename), Parquet files;
- :mod:`dmkit.contract.tables` — table I/O: partitioned Parquet/CSV, mappings, coercion;
- :mod:`dmkit.contract.province` — :class:`ProvinceData`, the tables of one province and month;
- :mod:`dmkit.contract.truth` — :class:`Truth`, what the simulator planted (for the tests).

Above it: the simulator (:mod:`dmkit.synth`), the data facade (:func:`dmkit.io.load_province`),
the methods, the engines (:mod:`dmkit.spark`), the report helpers, and batch + params + CLI.
"""
from __future__ import annotations

from dmkit.contract.months import check_month, month_end
from dmkit.contract.province import ProvinceData
from dmkit.contract.truth import Truth

__all__ = ["ProvinceData", "Truth", "check_month", "month_end"]
