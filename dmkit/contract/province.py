"""ProvinceData: the eight tables of one province and data month, real or simulated, plus its truth.

The container every loader returns (:func:`dmkit.io.load_province` for extracts,
:func:`dmkit.synth.generate` for the simulator). Part of the contract
(:mod:`dmkit.contract`): imports nothing of dmkit above it.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dmkit.contract.files import atomic_write_bytes, read_parquet_file, write_parquet_atomic
from dmkit.contract.truth import Truth
from dmkit.errors import DataNotFoundError
from dmkit.schema import TABLES

__all__ = ["ProvinceData"]


@dataclass
class ProvinceData:
    """Tables ``users, usage, subscriptions, kpis, contacts, edges, events, revenue``,
    the planted ``truth`` and ``meta`` (province, month, months, n_users, seed)."""

    users: pd.DataFrame
    usage: pd.DataFrame
    subscriptions: pd.DataFrame
    kpis: pd.DataFrame
    contacts: pd.DataFrame
    edges: pd.DataFrame
    events: pd.DataFrame
    revenue: pd.DataFrame
    truth: Truth | None
    meta: dict = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The eight tables by name, in the order of :data:`dmkit.schema.TABLES`."""
        return {t: getattr(self, t) for t in TABLES}

    def __repr__(self) -> str:
        sizes = ", ".join(f"{t}={len(df):,}" for t, df in self.tables().items())
        return f"ProvinceData({self.meta.get('province')!r}, {self.meta.get('month')!r}: {sizes})"

    def save(self, folder: str | Path) -> Path:
        """Write ``<table>.parquet`` per table, ``truth.json`` + ``truth_users.parquet`` and
        ``meta.json`` into ``folder``, each atomically (temp file, then rename)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, df in self.tables().items():
            write_parquet_atomic(df, folder / f"{name}.parquet")
        if self.truth is not None:
            self.truth.save(folder)
        atomic_write_bytes(folder / "meta.json", json.dumps(self.meta, indent=1).encode())
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> ProvinceData:
        """Read what :meth:`save` wrote."""
        folder = Path(folder)
        missing = [t for t in TABLES if not (folder / f"{t}.parquet").exists()]
        if missing or not (folder / "truth.json").exists():
            raise DataNotFoundError(
                f"folder {str(folder)!r}: expected the tables {list(TABLES)} as <table>.parquet "
                f"and truth.json; missing {missing or ['truth.json']}")
        tables = {t: read_parquet_file(folder / f"{t}.parquet") for t in TABLES}
        meta_path = folder / "meta.json"
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        return cls(**tables, truth=Truth.load(folder), meta=meta)

