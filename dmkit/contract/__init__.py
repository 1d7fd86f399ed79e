"""The contract: the ground floor of dmkit, importing nothing of dmkit above it.

What every other layer agrees on (see ``data/README.md`` and ``DESIGN.md``, "Layers"):

- :mod:`dmkit.contract.errors` — the error classes and their message helpers (``dm.errors``);
- :mod:`dmkit.contract.catalog` — the vocabulary: brands, services, channels, genres
  (``dm.catalog``), and the operator's catalog YAML (:mod:`dmkit.contract.catalog_yaml`);
- :mod:`dmkit.contract.schema` — the tables' columns, kinds and keys, and ``validate``
  (``dm.schema``), with :mod:`dmkit.contract.checks` (every failing check at once);
- :mod:`dmkit.contract.months` — the data month: one check, one meaning of "month end";
- :mod:`dmkit.contract.files` — atomic writes (temp file, then rename), Parquet files;
- :mod:`dmkit.contract.tables` — table I/O: partitioned Parquet/CSV, mappings, coercion,
  over :mod:`dmkit.contract.ingest` (the one read path for real extracts);
- :mod:`dmkit.contract.province` — :class:`ProvinceData`, the tables of one province and month;
- :mod:`dmkit.contract.truth` — :class:`Truth`, what the simulator planted (for the tests).

Above it: the simulator (:mod:`dmkit.synth`), the data facade (:func:`dmkit.io.load_province`),
the methods, the engines (:mod:`dmkit.spark`), the report helpers, and batch + params + CLI.
"""
__all__ = ["ProvinceData", "Truth", "check_month", "month_end"]

_HOME = {"ProvinceData": "province", "Truth": "truth", "check_month": "months", "month_end": "months"}


def __getattr__(name: str):
    """The package's names, imported on first use (so ``dm.errors``, which is
    :mod:`dmkit.contract.errors`, imports nothing else of the contract)."""
    if name in _HOME:
        from importlib import import_module

        value = getattr(import_module(f"dmkit.contract.{_HOME[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'dmkit.contract' has no attribute {name!r}")
