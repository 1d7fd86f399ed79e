"""``BasketScores``: per-user scores held once per distinct basket (users × items without the n × items floats)."""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from dmkit.errors import parameter_error

__all__ = ["BasketScores"]


class BasketScores:
    """Scores of users who share them by basket: a table per distinct basket and a basket code per user.

    :meth:`dmkit.rules.RuleSet.recommend_baskets` scores each distinct basket (the set of
    services a user holds) once; ``table`` holds those scores, ``codes`` the row of ``table``
    of each user. Columns set per user (``scores["fetion"] = propensities``) are kept as one
    array each. It reads like the users × items frame :meth:`to_frame` would build (``columns``,
    ``index``, ``scores[name]``, ``mean()``, ``max()``), and :func:`dmkit.rules.library`
    accepts it as ``scores``: one column is expanded to the users at a time, so a province's
    scores cost the distinct baskets × items floats plus a code per user, not n × items floats.

    Parameters
    ----------
    index : Index
        The users (e.g. user ids), in order.
    codes : ndarray of int
        Per user, its row of ``table`` (``0 <= code < len(table)``).
    table : DataFrame
        One row per distinct basket, one float column per scored item.

    Raises
    ------
    ParameterError
        ``codes`` not one per user or outside ``table``'s rows.
    """

    def __init__(self, index: pd.Index, codes: np.ndarray, table: pd.DataFrame) -> None:
        codes = np.asarray(codes)
        if codes.ndim != 1 or len(codes) != len(index) or not np.issubdtype(codes.dtype, np.integer):
            raise parameter_error("codes", expected=f"one integer basket code per user ({len(index)})",
                                  found=f"{codes.dtype} array of shape {codes.shape}")
        if len(codes) and (int(codes.min()) < 0 or int(codes.max()) >= len(table)):
            raise parameter_error("codes", expected=f"rows of table, 0 <= code < {len(table)}",
                                  found=f"codes in [{int(codes.min())}, {int(codes.max())}]")
        self.index = pd.Index(index)
        self.codes = codes
        self.table = table
        self._own: dict[object, np.ndarray] = {}

    # -- reading like a frame ------------------------------------------------------
    @property
    def columns(self) -> pd.Index:
        """The score names: the table's, then the per-user columns set afterwards."""
        return pd.Index(list(self.table.columns) + [c for c in self._own if c not in self.table.columns])

    def __len__(self) -> int:
        return len(self.codes)

    @property
    def n_baskets(self) -> int:
        """Rows of the per-basket table (the distinct baskets scored)."""
        return len(self.table)

    def values(self, name: object) -> np.ndarray:
        """One score per user, float64 (a new array of ``len(self)``)."""
        if name in self._own:
            return self._own[name]
        if name not in self.table.columns:
            raise parameter_error("name", expected=f"a score column, e.g. {list(self.columns[:5])}", found=name)
        return self.table[name].to_numpy(dtype=float)[self.codes]

    def __getitem__(self, name: object) -> pd.Series:
        return pd.Series(self.values(name), index=self.index, name=name)

    def __setitem__(self, name: object, values: object) -> None:
        """Set a per-user column: a Series (aligned on ``index``, NaN where missing) or one value per user."""
        if isinstance(values, pd.Series):
            arr = values.reindex(self.index).to_numpy(dtype=float)
        else:
            arr = np.asarray(values, dtype=float)
            if arr.shape != (len(self),):
                raise parameter_error("values", expected=f"one value per user ({len(self)})",
                                      found=f"shape {arr.shape}")
        self._own[name] = arr

    def _counts(self) -> np.ndarray:
        return np.bincount(self.codes, minlength=len(self.table))

    def _reduce(self, how: str) -> pd.Series:
        """Mean or max per column, NaN skipped (as pandas does); NaN when a column has no value."""
        counts = np.bincount(self.codes, minlength=len(self.table))
        out = {}
        for c in self.columns:
            if c in self._own:
                v = self._own[c]
                v = v[~np.isnan(v)]
                out[c] = float(v.mean() if how == "mean" else v.max()) if len(v) else np.nan
                continue
            t = self.table[c].to_numpy(dtype=float)
            held = (counts > 0) & ~np.isnan(t)
            if not held.any():
                out[c] = np.nan
            elif how == "mean":
                out[c] = float(np.dot(t[held], counts[held]) / counts[held].sum())
            else:
                out[c] = float(t[held].max())
        return pd.Series(out, dtype=float)

    def mean(self) -> pd.Series:
        """Mean score per column over the users (each basket's score weighted by its users)."""
        return self._reduce("mean")

    def max(self) -> pd.Series:
        """Largest score per column over the users."""
        return self._reduce("max")

    # -- alignment and expansion ---------------------------------------------------
    def reindex(self, index: Iterable) -> BasketScores:
        """The scores of the users ``index`` in that order; users not held score NaN (like ``DataFrame.reindex``)."""
        index = pd.Index(index)
        if index.name is None:   # as DataFrame.reindex: an unnamed target keeps this index's name
            index = index.rename(self.index.name)
        if index.equals(self.index):
            return self
        pos = self.index.get_indexer(index)
        missing = pos < 0
        table, codes = self.table, self.codes[np.where(missing, 0, pos)] if len(self) else np.zeros(len(index), np.int64)
        if missing.any():
            table = pd.concat([table, pd.DataFrame(np.nan, index=[len(table)], columns=table.columns)],
                              ignore_index=True)
            codes = np.where(missing, len(table) - 1, codes)
        out = BasketScores(index, codes, table)
        for c, v in self._own.items():
            out._own[c] = np.where(missing, np.nan, v[np.where(missing, 0, pos)]) if len(v) else np.full(len(index), np.nan)
        return out

    def to_frame(self) -> pd.DataFrame:
        """Users × columns floats (n × columns float64: what this object avoids holding)."""
        cols = list(self.columns)
        out = np.empty((len(cols), len(self)))
        k = self.table.shape[1]
        for j in range(k):   # by position: the table's columns may repeat a name
            own = self._own.get(cols[j])   # a column set per user overrides the table's
            out[j] = self.table.iloc[:, j].to_numpy(dtype=float)[self.codes] if own is None else own
        for j in range(k, len(cols)):
            out[j] = self._own[cols[j]]
        return pd.DataFrame(out.T, index=self.index, columns=pd.Index(cols))

    def __repr__(self) -> str:
        return (f"BasketScores({len(self):,} users, {self.n_baskets:,} distinct baskets, "
                f"{len(self.columns)} columns)")
