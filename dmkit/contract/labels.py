"""Text labels of a column through integer codes: compare months or services over tens of
millions of rows without a string per row (``astype(str)``). Part of the contract: imports
nothing of dmkit above it."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["in_labels", "label_codes", "label_positions", "present_labels"]


def label_codes(col: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes (-1 for missing) and the text label of each code of a column.

    A categorical column gives its codes and its categories as text without touching the rows;
    another column is factorized once. Used to compare months and services with a text value
    over tens of millions of rows without ``astype(str)`` of the rows (``dm.lifecycle``,
    :func:`dmkit.rules.baskets_from_subscriptions`, ``ProvinceData.read``).

    Parameters
    ----------
    col : Series

    Returns
    -------
    codes : ndarray of int
        One per row; ``labels[codes[i]] == str(col.iloc[i])``, -1 where the value is missing.
    labels : list of str
    """
    if isinstance(col.dtype, pd.CategoricalDtype):
        return col.cat.codes.to_numpy(), [str(c) for c in col.cat.categories]
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    return codes, [str(u) for u in np.asarray(uniques, dtype=object)]


def in_labels(col: pd.Series, labels: Sequence[str]) -> np.ndarray:
    """``col.astype(str).isin(labels)`` as a bool array, through :func:`label_codes` (the
    rows are compared as integer codes; missing values are never in)."""
    codes, names = label_codes(col)
    wanted = np.flatnonzero(np.isin(np.asarray(names, dtype=object), list(labels)))
    lookup = np.zeros(len(names) + 1, dtype=bool)
    lookup[wanted] = True
    return lookup[codes]  # code -1 (missing) reads the last entry, False


def label_positions(col: pd.Series, labels: Sequence[str] | pd.Index) -> np.ndarray:
    """Position of each row's value (as text) in ``labels``, -1 where it is absent or missing:
    ``pd.Index(labels).get_indexer(col.astype(str))`` with one lookup per distinct value (per
    category of a categorical), not per row."""
    codes, names = label_codes(col)
    index = labels if isinstance(labels, pd.Index) else pd.Index(list(labels))
    return np.append(index.get_indexer(names), -1)[codes]  # code -1 (missing) reads the last entry, -1


def present_labels(col: pd.Series) -> set[str]:
    """The labels that occur in ``col`` (missing values aside), by a count of its codes."""
    codes, names = label_codes(col)
    used = np.bincount(codes[codes >= 0], minlength=len(names))
    return {n for n, k in zip(names, used, strict=True) if k}
