"""The checks every propensity model runs on its inputs: a numeric feature frame X and a 0/1 target y.

Part of :mod:`dmkit.propensity`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from dmkit._validation import check_frame
from dmkit.errors import parameter_error, schema_error

__all__ = [
    "align_y",
    "check_xy",
]


def align_y(X: pd.DataFrame, y: object) -> pd.Series:
    """The target ``y`` as a Series on X's index: aligned by label, or refused.

    A Series (or one-column DataFrame) is aligned to X by index label: the same labels in
    another order are reordered to X's rows; labels X does not have, X's rows without a
    label, or duplicated labels (which make the alignment ambiguous) raise. An array or a
    list has no labels and is taken row by row (it must have one value per row of X).

    Raises
    ------
    SchemaError
        y's index does not hold exactly X's row labels (the first few differences named).
    ParameterError
        An unlabelled y of the wrong length.
    """
    if isinstance(y, pd.DataFrame):
        if y.shape[1] != 1:
            raise parameter_error("y", expected="a Series, a one-column DataFrame or an array of 0/1",
                                  found=f"a DataFrame with {y.shape[1]} columns")
        y = y.iloc[:, 0]
    if not isinstance(y, pd.Series):
        arr = np.asarray(y)
        if arr.ndim != 1 or len(arr) != len(X):
            raise parameter_error("y", expected=f"{len(X)} values (one per row of X)",
                                  found=f"an array of shape {arr.shape}")
        return pd.Series(arr, index=X.index)
    if y.index.equals(X.index):
        return y
    name = str(y.name) if y.name is not None else "y"
    fix = ("build y on X's index (e.g. service_target(..., index=X.index)), or pass y.to_numpy() "
           "if its rows are already in X's order")
    if not X.index.is_unique or not y.index.is_unique:
        dup = X.index[X.index.duplicated()] if not X.index.is_unique else y.index[y.index.duplicated()]
        which = "X" if not X.index.is_unique else "y"
        raise schema_error(table="y", column=name,
                           expected="X and y with unique row labels, so that y can be aligned to X by label",
                           found=f"{which}'s index holds duplicated labels and the two indexes differ",
                           rows=list(dup.unique()[:5]), fix=fix)
    missing = X.index.difference(y.index, sort=False)
    extra = y.index.difference(X.index, sort=False)
    if len(missing) or len(extra):
        parts = []
        if len(missing):
            parts.append(f"{len(missing)} of X's row labels have no y value (e.g. {list(missing[:5])})")
        if len(extra):
            parts.append(f"{len(extra)} of y's labels are not rows of X (e.g. {list(extra[:5])})")
        raise schema_error(table="y", column=name,
                           expected="y indexed by X's row labels (it is aligned to X by label)",
                           found="; ".join(parts), fix=fix)
    return y.reindex(X.index)


def check_xy(X: object, y: object, *, allow_nan: bool = False) -> tuple[pd.DataFrame, np.ndarray]:
    """Validate a feature frame and a binary target; return X and y as a 0/1 int array in X's row order.

    ``y`` is aligned to X by :func:`align_y` (by index label when it is a Series).
    """
    X = check_frame(X, table="X", min_rows=2)
    for c in X.columns:
        s = X[c]
        if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
            raise schema_error(table="X", column=str(c), expected="a numeric or boolean feature",
                               found=f"dtype {s.dtype}",
                               fix="encode it first (pd.get_dummies, or build_features) or drop it")
        if not pd.api.types.is_bool_dtype(s):
            vals = s.to_numpy(dtype=float, na_value=np.nan)
            bad = np.isinf(vals) if allow_nan else ~np.isfinite(vals)
            if bad.any():
                raise schema_error(table="X", column=str(c),
                                   expected="finite values or NaN" if allow_nan else "finite values",
                                   found=f"{int(bad.sum())} {'infinite' if allow_nan else 'NaN or infinite'} values",
                                   rows=list(X.index[bad][:5]),
                                   fix="fill them" if allow_nan else "fill them, or use model='hgb' which accepts NaN")
    ys = align_y(X, y)
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


def _stratified_sample(rows: np.ndarray, yv: np.ndarray, size: int, *, seed: int) -> np.ndarray:
    """``size`` of ``rows`` (positions), stratified by ``yv[rows]``, in their original order.

    Each class keeps its share (rounded, at least 3 rows of each class where it has them),
    drawn without replacement with a seeded generator."""
    rng = np.random.default_rng(seed)
    pos = rows[yv[rows] == 1]
    neg = rows[yv[rows] != 1]
    k_pos = int(round(size * len(pos) / len(rows)))
    k_pos = min(len(pos), max(k_pos, min(3, len(pos))))
    k_neg = min(len(neg), size - k_pos)
    take = np.concatenate([rng.choice(pos, k_pos, replace=False), rng.choice(neg, k_neg, replace=False)])
    return np.sort(take)
