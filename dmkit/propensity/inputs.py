"""The checks every propensity model runs on its inputs: a numeric feature frame X and a 0/1 target y.

Part of :mod:`dmkit.propensity`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from dmkit._validation import check_frame
from dmkit.errors import parameter_error, schema_error

__all__ = [
    "check_xy",
]


def check_xy(X: object, y: object, *, allow_nan: bool = False) -> tuple[pd.DataFrame, np.ndarray]:
    """Validate a feature frame and a binary target; return X and y as a 0/1 int array."""
    X = check_frame(X, table="X", min_rows=2)
    for c in X.columns:
        s = X[c]
        if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
            raise schema_error(table="X", column=str(c), expected="a numeric or boolean feature",
                               found=f"dtype {s.dtype}",
                               fix="encode it first (pd.get_dummies, or build_features) or drop it")
        if not allow_nan and not pd.api.types.is_bool_dtype(s):
            vals = s.to_numpy(dtype=float, na_value=np.nan)
            bad = ~np.isfinite(vals)
            if bad.any():
                raise schema_error(table="X", column=str(c), expected="finite values",
                                   found=f"{int(bad.sum())} NaN or infinite values",
                                   rows=list(X.index[bad][:5]),
                                   fix="fill them, or use model='hgb' which accepts NaN")
    ys = pd.Series(y, index=X.index) if not isinstance(y, pd.Series) else y
    if len(ys) != len(X):
        raise parameter_error("y", expected=f"{len(X)} values (one per row of X)", found=f"{len(ys)} values")
    if ys.isna().any():
        bad = np.flatnonzero(ys.isna().to_numpy())
        raise schema_error(table="y", column=str(ys.name) if ys.name is not None else "y",
                           expected="a target without missing values",
                           found=f"{len(bad)} missing values", rows=list(ys.index[bad][:5]),
                           fix="drop those rows or decide their label before fitting")
    if pd.api.types.is_bool_dtype(ys):
        yv = ys.to_numpy().astype(np.int8)
    else:
        if not pd.api.types.is_numeric_dtype(ys):
            raise parameter_error("y", expected="a 0/1 or boolean target", found=f"dtype {ys.dtype}")
        vals = set(np.unique(ys.to_numpy()).tolist())
        if not vals <= {0, 1}:
            raise parameter_error("y", expected="a 0/1 or boolean target",
                                  found=f"values {sorted(vals)[:6]}")
        yv = ys.to_numpy().astype(np.int8)
    classes = np.unique(yv)
    if len(classes) < 2:
        raise parameter_error("y", expected="both classes (0 and 1) present",
                              found=f"a single class {int(classes[0])} in all {len(yv)} rows",
                              fix="check the target definition (service code, month) or widen the population")
    return X, yv
