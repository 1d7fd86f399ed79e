"""The loop's state on disk: one folder per month under ``out``, Parquet tables and JSON.

Layout::

    out/config.json                  the run's parameters (a resumed run must match them)
    out/loop.json                    config + the monthly table so far (rewritten after each month)
    out/models/<province>/<service>/<month>.skops|.json      the model store
    out/months/<YYYY-MM>/plan.parquet                          the month's plan (with the policy's scores)
    out/months/<YYYY-MM>/contacts.parquet, usage.parquet, kpis.parquet, subscriptions.parquet
                                                               the month's new rows of the world
    out/months/<YYYY-MM>/training.parquet                      features + outcome of the month's contacts
    out/months/<YYYY-MM>/truth.parquet                         per plan row planted probabilities (simulator)
    out/months/<YYYY-MM>/by_prefecture.parquet, precision_scale.parquet
    out/months/<YYYY-MM>/contact_lists/<channel>.csv, holdout.csv
    out/months/<YYYY-MM>/month.json                            the monthly row; written last = the month is done

A month is done when its ``month.json`` exists. A month folder without it (a crash
mid-month) is removed and the month is run again from the state of the month before,
with the same seeds, so a resumed run ends with the same tables as an uninterrupted one.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from dmkit.errors import parameter_error

__all__ = ["LoopState", "concat_tables"]

_DONE = "month.json"


def concat_tables(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``a`` then ``b`` (same columns as ``a``), categorical columns kept categorical
    with the union of categories (``a``'s first, in order)."""
    if len(b) == 0:
        return a
    b = b[list(a.columns)]
    parts_a, parts_b = {}, {}
    for c in a.columns:
        x, y = a[c], b[c]
        if isinstance(x.dtype, pd.CategoricalDtype):
            cats = list(x.cat.categories)
            seen = set(cats)
            yv = y.astype(object) if not isinstance(y.dtype, pd.CategoricalDtype) else y
            new = [v for v in pd.unique(yv.dropna() if not isinstance(yv.dtype, pd.CategoricalDtype)
                                        else pd.Series(yv.cat.categories)) if v not in seen]
            if new:
                cats = cats + list(new)
                x = x.cat.set_categories(cats)
            parts_a[c] = x
            parts_b[c] = pd.Categorical(y.astype(object), categories=cats)
        else:
            parts_a[c] = x
            parts_b[c] = y.astype(x.dtype) if y.dtype != x.dtype else y
    out = pd.concat([pd.DataFrame(parts_a, copy=False), pd.DataFrame(parts_b, index=b.index, copy=False)],
                    ignore_index=True)
    return out


class LoopState:
    """The folders of one loop run (see the module docstring)."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)

    @property
    def models(self) -> Path:
        return self.out / "models"

    def month_dir(self, month: str) -> Path:
        return self.out / "months" / month

    # -- config --------------------------------------------------------------------
    def clear(self) -> None:
        """Remove a previous run's state (only the loop's own files and folders)."""
        for name in ("months", "models"):
            if (self.out / name).is_dir():
                shutil.rmtree(self.out / name)
        for name in ("config.json", "loop.json"):
            (self.out / name).unlink(missing_ok=True)

    def check_config(self, config: dict) -> None:
        """Write ``config.json``, or check that an existing one describes the same run."""
        self.out.mkdir(parents=True, exist_ok=True)
        path = self.out / "config.json"
        if path.exists():
            old = json.loads(path.read_text())
            diff = {k: (old.get(k), v) for k, v in config.items() if k != "months" and old.get(k) != v}
            if diff:
                raise parameter_error("out", expected=f"a new folder, or the folder of the same run "
                                      f"(config.json differs: {diff})", found=str(self.out),
                                      fix="use another out= folder or delete this one")
        from dmkit.io import atomic_write_bytes

        atomic_write_bytes(path, json.dumps(config, indent=1).encode())

    # -- months --------------------------------------------------------------------
    def done(self, month: str) -> bool:
        return (self.month_dir(month) / _DONE).is_file()

    def begin(self, month: str) -> Path:
        """A clean folder for ``month`` (a half-written one from a crash is removed)."""
        d = self.month_dir(month)
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        return d

    def write(self, month: str, name: str, df: pd.DataFrame) -> Path:
        from dmkit.io import write_parquet_atomic

        return write_parquet_atomic(df.reset_index(drop=True), self.month_dir(month) / f"{name}.parquet")

    def read(self, month: str, name: str) -> pd.DataFrame | None:
        from dmkit.io import read_parquet_file

        p = self.month_dir(month) / f"{name}.parquet"
        return read_parquet_file(p) if p.exists() else None

    def finish(self, month: str, row: dict) -> None:
        """Mark ``month`` done with its monthly row (written last, atomically)."""
        from dmkit.io import atomic_write_bytes

        atomic_write_bytes(self.month_dir(month) / _DONE, json.dumps(row, indent=1, default=_default).encode())

    def row(self, month: str) -> dict:
        return json.loads((self.month_dir(month) / _DONE).read_text())

    def write_summary(self, config: dict, monthly: pd.DataFrame, path: Path | None = None) -> Path:
        """``loop.json``: the config and the monthly table (records)."""
        from dmkit.io import atomic_write_bytes

        path = path or self.out / "loop.json"
        doc = {"config": config, "monthly": json.loads(monthly.to_json(orient="records"))}
        atomic_write_bytes(path, json.dumps(doc, indent=1, default=_default).encode())
        return path


def _default(o):
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
