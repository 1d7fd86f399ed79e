"""The calibrated scoring model (J1, Y6), a scikit-learn classifier: balanced class weights
where they help, isotonic calibration, ``score(X, y)`` = ROC AUC, an explicit held-out part
(``test_size``; :func:`fit` holds out 30 %), fitting on a stratified sample at province
scale (``sample_size``; :func:`fit` learns from at most 200,000 rows), gains, the precision-versus-size trade-off,
target lists, permutation importance, chunked ``predict_proba`` of a full province.

Part of :mod:`dmkit.propensity`.
"""
from __future__ import annotations

import warnings
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import DataConversionWarning
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.multiclass import type_of_target

from dmkit._results import Summary, get_ax
from dmkit._threads import thread_limit
from dmkit._validation import check_choice, check_frame, check_scalar
from dmkit.errors import NotFittedError, parameter_error, schema_error
from dmkit.propensity.gains import GainsResult, gains_table
from dmkit.propensity.inputs import _stratified_sample, check_xy
from dmkit.propensity.rules import tree_rules

__all__ = [
    "DEFAULT_SAMPLE_SIZE",
    "fit",
    "ModelKind",
    "ModelNotFittedError",
    "ScoringModel",
]


ModelKind = Literal["hgb", "logit", "tree"]

DEFAULT_SAMPLE_SIZE = 200_000
"""Training rows :func:`fit` learns from at most (a stratified sample of the training part).

Measured at 1,000,000 users (``benchmarks/bench_propensity_scale.py``): the sample's held-out
AUC, top-decile lift and top drivers match the full fit's within the benchmark's tolerances,
at a fraction of the time."""


def _make_estimator(kind: str, seed: int, class_weight, n_rows: int):
    if kind == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier

        # early stopping holds out 15 % of each fit's rows: only where that part can hold both classes
        return HistGradientBoostingClassifier(max_iter=200, learning_rate=0.1, class_weight=class_weight,
                                              max_bins=63, early_stopping=n_rows >= 200, validation_fraction=0.15,
                                              n_iter_no_change=10, random_state=seed)
    if kind == "logit":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), LogisticRegression(class_weight=class_weight, max_iter=1000))
    return DecisionTreeClassifier(max_depth=6, min_samples_leaf=0.005, class_weight=class_weight,
                                  random_state=seed)


class ScoringModel(ClassifierMixin, BaseEstimator):
    """A calibrated target-user scoring model, a scikit-learn binary classifier.

    ``__init__`` only stores the arguments; :meth:`fit` learns and returns ``self``. As
    any scikit-learn classifier: :meth:`predict_proba`, :meth:`predict`, and
    :meth:`score` ``(X, y)`` returning a metric — the ROC AUC (not accuracy: a target list
    is a ranking), so ``cross_val_score``, ``GridSearchCV`` and ``clone`` work. By default
    :meth:`fit` uses all the data it is given; a held-out evaluation is asked for with
    ``test_size`` (the one-call :func:`fit` does, with 0.3) or made on data of your own
    (``model.score(X_new, y_new)``, ``model.gains(X_new, y_new)``).

    Parameters
    ----------
    model : {"hgb", "logit", "tree"}, default "hgb"
        Histogram gradient boosting (accepts NaN features: they are scored natively),
        standardised logistic regression, or a depth-6 decision tree.
    test_size : float in [0.05, 0.9] or None, default None
        None: fit on every row given. A float: hold out this stratified share before
        fitting (the model learns from the rest) and keep it for the held-out figures —
        ``auc_``, and :meth:`gains`, :meth:`precision_reach`, :meth:`calibration`,
        :meth:`importance` without data.
    seed : int, default 0
        Seed of the split and of the model.
    calibrate : bool, default True
        Calibrate probabilities with isotonic regression, cross-validated (3 folds) on the
        training rows; the final model is refit on all the training rows. Without it,
        balanced class weights leave the probabilities inflated.
    class_weight : "auto", "balanced" or None, default "auto"
        Class imbalance (rare responders). "auto": "balanced" for logit and tree (without
        it they predict the majority class everywhere); None for hgb, whose log-loss
        boosting ranks rare positives well unweighted — the isotonic calibration then
        gives the probabilities — while scikit-learn's weighted binning makes a
        weighted fit about 4x slower on small data (measured 7.0 s vs 1.9 s, 3,500 rows,
        same held-out AUC). "balanced" forces weighting for every model.
    n_threads : int or None, default None
        Cap on OpenMP/BLAS threads while fitting and scoring (threadpoolctl). None: one
        thread. Oversubscribed OpenMP threads slow gradient boosting down tenfold on a
        busy machine (measured on the shared 2-core machine, load average 4: 100,000 rows,
        30.2 s on all cores vs 2.8 s on one, the same model), and a batch runs several
        kernels at once; scoring 1,000,000 rows took 4.1 s on all cores vs 3.4 s on one.
        Pass the number of cores for a fit alone on a quiet machine.
    sample_size : int or None, default None
        None (the scikit-learn contract): learn from every training row. An int: when the
        training rows (all rows, or those left after ``test_size`` holds its part out)
        are more than ``sample_size``, learn from a stratified random sample of that many
        (by the target, seeded by ``seed``) — calibration and the tree rules included; the
        held-out part stays as ``test_size`` made it, so held-out figures are on rows not
        in the sample. ``n_train_`` records the rows learnt from, ``n_available_`` the
        training rows there were; :meth:`summary` states both.

    Attributes
    ----------
    estimator_ : fitted scikit-learn classifier (CalibratedClassifierCV when calibrated)
    classes_ : ndarray, ``[0, 1]`` (``[False, True]`` for a boolean target)
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Set when X was a DataFrame with string column names (as scikit-learn); new X is
        then matched to them by name.
    base_rate_ : float
        Positive share in the training rows.
    n_train_ : int
        Rows the model learnt from (the sample, with ``sample_size``).
    n_available_ : int
        Training rows available before sampling (``n_train_`` unless a sample was drawn).
    sampled_ : bool
        True when the model learnt from a stratified sample (``n_train_ < n_available_``).
    sample_index_ : ndarray
        Only when sampled: the row labels of the sample (disjoint from ``test_index_``), a
        plain array so that a stored model (skops) needs no pandas type.
    rules_ : TreeRulesResult or None
        Depth-3 tree rules on the training rows (the readable face of the model). Rules
        need complete rows: rows with a NaN feature are left out of them (counted in
        ``rules_.n_incomplete``); None when too few complete rows of each class remain.

    Held-out attributes (only with ``test_size``): ``auc_`` (ROC AUC), ``y_test_`` and
    ``p_test_`` (outcomes and calibrated scores), ``test_index_`` (row labels),
    ``X_test_`` (the held-out features).
    """

    def __init__(self, model: ModelKind = "hgb", *, test_size: float | None = None, seed: int = 0,
                 calibrate: bool = True, class_weight: Literal["auto", "balanced"] | None = "auto",
                 n_threads: int | None = None, sample_size: int | None = None) -> None:
        self.model = model
        self.test_size = test_size
        self.seed = seed
        self.calibrate = calibrate
        self.class_weight = class_weight
        self.n_threads = n_threads
        self.sample_size = sample_size

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.allow_nan = self.model == "hgb"
        return tags

    def _threads(self):
        return thread_limit(1 if self.n_threads is None else self.n_threads, None)

    # -- fitting -----------------------------------------------------------------
    def fit(self, X: pd.DataFrame | np.ndarray, y: pd.Series | np.ndarray) -> ScoringModel:
        """Fit (and calibrate) on ``X``, ``y``; with ``test_size``, hold out that share first;
        with ``sample_size``, learn from a stratified sample of at most that many training rows.

        Parameters
        ----------
        X : DataFrame or 2-d array
            Numeric (or boolean) features, one row per user. NaN only with model="hgb".
        y : Series or array of 0/1 or bool
            The target. A Series is aligned to X by index label (the same labels in another
            order are reordered; other labels raise); an array is taken row by row.

        Returns
        -------
        self

        Raises
        ------
        SchemaError
            Non-numeric feature; NaN features (except model="hgb"); infinite features;
            missing target values; a Series y whose index does not hold X's row labels.
        ParameterError
            Single-class or non-0/1 target, unknown model, bad test_size or sample_size.
        """
        check_choice(self.model, "model", ["hgb", "logit", "tree"])
        check_scalar(self.sample_size, "sample_size", kind=int, low=10, allow_none=True)
        check_scalar(self.test_size, "test_size", kind=float, low=0.05, high=0.9, allow_none=True)
        if not isinstance(self.class_weight, dict):
            check_choice(self.class_weight, "class_weight", ["auto", "balanced", None])
        check_scalar(self.n_threads, "n_threads", kind=int, low=1, allow_none=True)
        frame = isinstance(X, pd.DataFrame)
        X = _as_frame(X)
        classes, y = _binary_labels(y)
        X, yv = check_xy(X, y, allow_nan=self.model == "hgb")
        for name in ("feature_names_in_", "auc_", "y_test_", "p_test_", "test_index_", "X_test_", "sample_index_"):
            self.__dict__.pop(name, None)  # a refit forgets the last fit's held-out part
        if frame and all(isinstance(c, str) for c in X.columns):
            self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        self.n_features_in_ = X.shape[1]
        self.classes_ = classes
        with self._threads():
            return self._fit(X, yv)

    def _fit(self, X: pd.DataFrame, yv: np.ndarray) -> ScoringModel:
        if self.test_size is None:
            tr = te = None
        else:
            idx = np.arange(len(X))
            try:
                tr, te = train_test_split(idx, test_size=self.test_size, random_state=self.seed, stratify=yv)
            except ValueError as err:
                raise parameter_error("test_size", expected="a held-out part with both classes",
                                      found=self.test_size, fix="use more data, or test_size=None") from err
        n_available = len(X) if tr is None else len(tr)
        if self.sample_size is not None and n_available > self.sample_size:
            tr = _stratified_sample(np.arange(len(X)) if tr is None else tr, yv, self.sample_size, seed=self.seed)
        Xtr, ytr = (X, yv) if tr is None else (X.iloc[tr], yv[tr])
        if ytr.sum() < 3 or (len(ytr) - ytr.sum()) < 3:
            raise parameter_error("y", expected="at least 3 rows of each class in the training rows",
                                  found=f"{int(ytr.sum())} positives in {len(ytr)} rows",
                                  fix="use more data" + ("" if tr is None else " or a smaller test_size"))
        cw = self.class_weight
        if isinstance(cw, dict):
            unknown = [k for k in cw if k not in set(self.classes_.tolist())]
            if unknown:
                raise parameter_error("class_weight", expected=f"weights keyed by the classes {self.classes_.tolist()}",
                                      found=cw)
            cw = {i: float(cw.get(c, 1.0)) for i, c in enumerate(self.classes_.tolist())}
        elif cw == "auto":
            cw = None if self.model == "hgb" else "balanced"
        base = _make_estimator(self.model, self.seed, cw, len(ytr))
        if self.calibrate:
            from sklearn.calibration import CalibratedClassifierCV

            cv = int(min(3, ytr.sum(), len(ytr) - ytr.sum()))
            est = CalibratedClassifierCV(base, method="isotonic", cv=max(cv, 2), ensemble=False)
        else:
            est = base
        est.fit(_values(Xtr), ytr)
        self.estimator_ = est
        self._columns = [str(c) for c in X.columns]
        self.base_rate_ = float(ytr.mean())
        self.n_train_ = len(ytr)
        self.n_available_ = n_available
        self.sampled_ = len(ytr) < n_available
        if self.sampled_:
            self.sample_index_ = X.index[tr].to_numpy()
        if te is not None:
            Xte = X.iloc[te]
            self.test_index_ = X.index[te]
            self.y_test_ = yv[te]
            self.p_test_ = _chunked_p1(est, Xte)
            self.auc_ = float(roc_auc_score(self.y_test_, self.p_test_))
            self.X_test_ = Xte
        self.rules_ = _rules_of(Xtr, ytr, seed=self.seed)
        return self

    def check_fitted(self) -> None:
        """Raise :class:`~dmkit.errors.NotFittedError` unless :meth:`fit` has run."""
        if not hasattr(self, "estimator_"):
            raise ModelNotFittedError("this ScoringModel is not fitted yet; call .fit(X, y) or "
                                      "dmkit.propensity.fit(X, y)")

    # -- scoring -----------------------------------------------------------------
    def _align(self, X: pd.DataFrame | np.ndarray) -> tuple[pd.DataFrame, list]:
        """X as a frame and its column labels in the model's order (checked against the fit)."""
        self.check_fitted()
        if not isinstance(X, pd.DataFrame) or not hasattr(self, "feature_names_in_"):
            X = _as_frame(X, min_rows=0)
            if X.shape[1] != self.n_features_in_:
                raise schema_error(table="X", column=None,
                                   expected=f"{self.n_features_in_} features, as in fit",
                                   found=f"X has {X.shape[1]} features, but ScoringModel is expecting "
                                         f"{self.n_features_in_} features as input",
                                   fix="build X the same way as for fitting")
            cols = list(X.columns)
        else:
            X = check_frame(X, table="X", min_rows=0)
            label = {str(c): c for c in X.columns}
            missing = [c for c in self.feature_names_in_ if c not in label]
            if missing:
                raise schema_error(table="X", column=missing[0],
                                   expected=f"the {len(self.feature_names_in_)} features the model was fitted on",
                                   found=f"missing column(s) {missing}",
                                   fix="build X the same way as for fitting (e.g. build_features)")
            fitted = set(self.feature_names_in_)
            extra = [c for c in label if c not in fitted]
            if extra:
                raise schema_error(table="X", column=extra[0],
                                   expected=f"only the fitted features {list(self.feature_names_in_)}",
                                   found=f"extra column(s) {extra}",
                                   fix="drop them (X[model.feature_names_in_]) or refit with them")
            cols = [label[c] for c in self.feature_names_in_]
        for c in cols:
            if not (pd.api.types.is_numeric_dtype(X[c]) or pd.api.types.is_bool_dtype(X[c])):
                raise schema_error(table="X", column=str(c), expected="a numeric or boolean feature",
                                   found=f"dtype {X[c].dtype}")
        return X, cols

    def _p1(self, X: pd.DataFrame | np.ndarray, *, chunk_size: int = 500_000,
            progress: bool = False) -> pd.Series:
        """P(target) per row as a Series on X's index (X's rows scored in chunks)."""
        X, cols = self._align(X)
        check_scalar(chunk_size, "chunk_size", kind=int, low=1)
        out = np.empty(len(X), dtype=np.float64)
        starts = range(0, len(X), chunk_size)
        if progress and len(X) > chunk_size:
            from tqdm.auto import tqdm

            starts = tqdm(starts, total=len(starts), desc="scoring", unit="chunk")
        with self._threads():
            for s in starts:
                part = X.iloc[s:s + chunk_size][cols]
                block = _values(part)
                if self.model != "hgb" or np.isinf(block).any():
                    _check_finite(part, block, allow_nan=self.model == "hgb")
                out[s:s + chunk_size] = self.estimator_.predict_proba(block)[:, 1]
        return pd.Series(out, index=X.index, name="score")

    def predict_proba(self, X: pd.DataFrame | np.ndarray, *, chunk_size: int = 500_000,
                      progress: bool = False) -> np.ndarray:
        """Calibrated probabilities, shape (n, 2) (columns: ``classes_``), scored in chunks.

        A full province (5 million rows) is scored ``chunk_size`` rows at a time (with a
        tqdm progress bar when ``progress``), so peak memory stays bounded by one chunk's
        float copy. ``predict_proba(X)[:, 1]`` is P(target) in X's row order.

        Raises
        ------
        SchemaError
            A column of the fitted model is missing or an extra column is present (named);
            NaN features for a model other than hgb; infinite features.
        """
        p1 = self._p1(X, chunk_size=chunk_size, progress=progress).to_numpy()
        return np.column_stack([1.0 - p1, p1])

    def target_proba(self, X: pd.DataFrame, *, chunk_size: int = 500_000, progress: bool = False) -> pd.Series:
        """P(target) per row as a Series on X's index (name ``score``): ``predict_proba(X)[:, 1]``
        with X's row labels, scored in chunks the same way."""
        return self._p1(X, chunk_size=chunk_size, progress=progress)

    def predict(self, X: pd.DataFrame | np.ndarray, *, chunk_size: int = 500_000) -> np.ndarray:
        """The more probable class of each row (calibrated P(target) > 0.5), from ``classes_``.

        With rare responders nearly every row is 0: target lists come from :meth:`top`
        and :meth:`select`, which rank by probability.
        """
        p1 = self._p1(X, chunk_size=chunk_size).to_numpy()
        return self.classes_[(p1 > 0.5).astype(int)]

    def score(self, X: pd.DataFrame | np.ndarray, y: pd.Series | np.ndarray,
              sample_weight: np.ndarray | None = None) -> float:
        """ROC AUC of the model's probabilities on ``X`` against the outcomes ``y``.

        scikit-learn's contract (a metric, greater is better) with AUC instead of
        ClassifierMixin's accuracy: what matters for a target list is the ranking.
        ``y`` is aligned to X as in :meth:`fit`. For the probabilities use
        :meth:`predict_proba`.
        """
        yv, p, _ = self._evaluation(X, y)
        return float(roc_auc_score(yv, p, sample_weight=sample_weight))

    def top(self, X: pd.DataFrame, n: int) -> pd.DataFrame:
        """The ``n`` highest-scoring rows of ``X``: columns ``rank``, ``score`` on X's index."""
        check_scalar(n, "n", kind=int, low=1)
        s = self._p1(X)
        best = s.nlargest(min(n, len(s)), keep="first")
        return pd.DataFrame({"rank": np.arange(1, len(best) + 1), "score": best.to_numpy()}, index=best.index)

    def select(self, X: pd.DataFrame, *, budget: int | None = None,
               min_precision: float | None = None) -> pd.DataFrame:
        """The target list: by a contact ``budget`` (count) or the largest list whose
        expected precision (mean calibrated score) is at least ``min_precision``.

        Returns
        -------
        DataFrame
            On X's index, best first. Columns ``rank``, ``score``, ``expected_precision``
            (mean score of the list down to this row), ``expected_responders`` (cumulative).
        """
        if (budget is None) == (min_precision is None):
            raise parameter_error("budget", expected="exactly one of budget= or min_precision=",
                                  found=(budget, min_precision))
        s = self._p1(X).sort_values(ascending=False, kind="stable")
        cum = s.cumsum().to_numpy()
        prec = cum / np.arange(1, len(s) + 1)
        if budget is not None:
            check_scalar(budget, "budget", kind=int, low=1)
            k = min(budget, len(s))
        else:
            check_scalar(min_precision, "min_precision", kind=float, low=0, high=1)
            ok = np.flatnonzero(prec >= min_precision)
            k = int(ok.max()) + 1 if len(ok) else 0
        return pd.DataFrame({"rank": np.arange(1, k + 1), "score": s.to_numpy()[:k],
                             "expected_precision": prec[:k], "expected_responders": cum[:k]},
                            index=s.index[:k])

    def _evaluation(self, X, y) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
        """(outcomes, P(target), features) of the data given, or of the held-out part."""
        self.check_fitted()
        if X is None and y is None:
            if not hasattr(self, "p_test_"):
                raise parameter_error(
                    "X", expected="evaluation data X, y (this model was fitted on all its rows, test_size=None)",
                    found=None, fix="pass rows the model did not learn from (X, y), or fit with test_size=0.3 "
                                    "to hold out a part (dm.propensity.fit does)")
            return self.y_test_, self.p_test_, self.X_test_
        if X is None or y is None:
            raise parameter_error("y" if y is None else "X", expected="both X and y, or neither (held-out part)",
                                  found=None)
        X, cols = self._align(X)
        Xc, yv = check_xy(X[cols], _binary_labels(y, classes=self.classes_)[1], allow_nan=True)
        return yv, self._p1(Xc).to_numpy(), Xc

    # -- evaluation ---------------------------------------------------------------
    @property
    def auc(self) -> float:
        """ROC AUC on the held-out part (fit with ``test_size``); on other data use :meth:`score`."""
        self.check_fitted()
        if not hasattr(self, "auc_"):
            raise parameter_error("test_size", expected="a held-out part for .auc (fit with test_size=0.3)",
                                  found=None, fix="or measure on rows the model did not learn from: "
                                                  "model.score(X_new, y_new)")
        return self.auc_

    def gains(self, X: pd.DataFrame | None = None, y: pd.Series | np.ndarray | None = None, *,
              n_bins: int = 10) -> GainsResult:
        """Cumulative gains and lift by score bin on ``X``, ``y`` (default: the held-out part)."""
        yv, p, _ = self._evaluation(X, y)
        return gains_table(yv, p, n_bins=n_bins)

    def precision_reach(self, X: pd.DataFrame | None = None, y: pd.Series | np.ndarray | None = None, *,
                        shares: tuple[float, ...] = (0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0),
                        population: int | None = None) -> pd.DataFrame:
        """J1's trade-off: how precision falls as the target list grows (default: held-out).

        Returns
        -------
        DataFrame
            Columns ``share`` (top share of users targeted), ``precision`` (response rate
            in the list), ``recall`` (share of all responders reached), ``lift``, and
            ``n_targets`` (share × ``population``, when given).
        """
        yv, p, _ = self._evaluation(X, y)
        order = np.argsort(-p, kind="stable")
        ys = yv[order]
        cum = np.cumsum(ys)
        rows = []
        base = ys.mean()
        for sh in shares:
            k = max(1, int(round(sh * len(ys))))
            rows.append({"share": sh, "precision": cum[k - 1] / k, "recall": cum[k - 1] / cum[-1],
                         "lift": cum[k - 1] / k / base})
        out = pd.DataFrame(rows)
        if population is not None:
            out["n_targets"] = (out["share"] * population).round().astype(int)
        return out

    def calibration(self, X: pd.DataFrame | None = None, y: pd.Series | np.ndarray | None = None, *,
                    n_bins: int = 10) -> pd.DataFrame:
        """Reliability table (default: held-out): columns ``mean_score``, ``observed_rate``, ``n`` per quantile bin."""
        yv, p, _ = self._evaluation(X, y)
        q = pd.qcut(pd.Series(p).rank(method="first"), n_bins, labels=False)
        df = pd.DataFrame({"bin": q, "p": p, "y": yv})
        return df.groupby("bin").agg(mean_score=("p", "mean"), observed_rate=("y", "mean"),
                                     n=("y", "size")).reset_index(drop=True)

    def importance(self, X: pd.DataFrame | None = None, y: pd.Series | np.ndarray | None = None, *,
                   n_repeats: int = 5, max_rows: int = 20_000) -> pd.DataFrame:
        """Permutation importance (drop in ROC AUC) on ``X``, ``y`` (default: held-out), at most ``max_rows`` rows.

        Returns
        -------
        DataFrame
            Columns ``feature``, ``importance`` (mean AUC drop), ``std``; most important first.
        """
        yte, _, Xte = self._evaluation(X, y)
        from sklearn.inspection import permutation_importance

        if len(Xte) > max_rows:
            rng = np.random.default_rng(self.seed)
            keep = rng.choice(len(Xte), max_rows, replace=False)
            Xte, yte = Xte.iloc[keep], yte[keep]
        with self._threads():
            r = permutation_importance(self.estimator_, _values(Xte), yte,
                                       scoring="roc_auc", n_repeats=n_repeats, random_state=self.seed)
        return (pd.DataFrame({"feature": self._columns, "importance": r.importances_mean,
                              "std": r.importances_std})
                .sort_values("importance", ascending=False).reset_index(drop=True))

    def training_sentence(self, subject: str = "The model") -> str:
        """One sentence a report can print: the rows the model learnt from (the stratified
        sample and its size, when ``sample_size`` drew one) and the rows its held-out figures
        are on, e.g. "The model learnt from a stratified sample of 200,000 of the 700,000
        training rows (sample_size=200,000); its held-out figures are on 300,000 rows not
        in the sample."; ``subject`` names the model (e.g. "The news-type model")."""
        self.check_fitted()
        n_av = getattr(self, "n_available_", self.n_train_)
        if getattr(self, "sampled_", False):
            learnt = (f"{subject} learnt from a stratified sample of {self.n_train_:,} of the {n_av:,} "
                      f"training rows (sample_size={self.sample_size:,})")
        else:
            learnt = f"{subject} learnt from all {self.n_train_:,} training rows"
        if hasattr(self, "y_test_"):
            where = "rows not in the sample" if getattr(self, "sampled_", False) else "rows held out"
            return learnt + f"; its held-out figures are on {len(self.y_test_):,} {where}."
        return learnt + " (no held-out part)."

    def summary(self) -> Summary:
        """AUC, base rate, the gains table (held-out, when fitted with ``test_size``) and the top rules."""
        self.check_fitted()
        tables = []
        if hasattr(self, "p_test_"):
            g = self.gains()
            tables.append(("gains (held-out)", g.table.set_index("bin")))
            note = (f"held-out AUC {self.auc_:.3f}; base rate {self.base_rate_:.2%}; "
                    f"top-decile lift {g.table['lift'].iloc[0]:.2f}")
        else:
            note = (f"fitted on all {self.n_train_:,} rows (no held-out part); base rate {self.base_rate_:.2%}; "
                    "evaluate with .score(X, y) / .gains(X, y) on other rows")
        notes = [note]
        if getattr(self, "sampled_", False):
            notes.append(self.training_sentence())
        if self.rules_ is None:
            notes.append("no tree rules: too few complete rows (without NaN) of each class")
        else:
            tables.append(("tree rules (training rows)", self.rules_.to_frame().set_index("rule").head(8)))
            if self.rules_.n_incomplete:
                notes.append(f"tree rules from complete rows only ({self.rules_.n_incomplete:,} rows with NaN "
                             "left out); the model scores every row")
        return Summary(f"Scoring model ({self.model}, calibrated={self.calibrate})", tuple(tables), tuple(notes))

    def plot(self, ax=None, *, kind: Literal["gains", "lift", "calibration"] = "gains",
             X: pd.DataFrame | None = None, y: pd.Series | np.ndarray | None = None):
        """Gains curve, lift by decile, or the calibration (reliability) plot, on ``X``, ``y`` (default: held-out)."""
        check_choice(kind, "kind", ["gains", "lift", "calibration"])
        if kind in ("gains", "lift"):
            return self.gains(X, y).plot(ax, kind=kind)
        ax = get_ax(ax)
        c = self.calibration(X, y)
        ax.plot(c["mean_score"], c["observed_rate"], "o-", label="model")
        hi = float(max(c["mean_score"].max(), c["observed_rate"].max()))
        ax.plot([0, hi], [0, hi], "k--", lw=0.8, label="perfect")
        ax.set_xlabel("mean predicted probability")
        ax.set_ylabel("observed rate")
        ax.set_title("Calibration (held-out)" if X is None else "Calibration")
        ax.legend()
        return ax


class ModelNotFittedError(NotFittedError, SklearnNotFittedError):
    """A ScoringModel used before ``fit``: dmkit's :class:`~dmkit.errors.NotFittedError`, which
    scikit-learn's tools also recognise as theirs."""


def _binary_labels(y: object, *, classes: np.ndarray | None = None) -> tuple[np.ndarray, object]:
    """The two classes of a target and the target as 0/1 (1 = the second class), missing kept.

    0/1 and boolean targets pass unchanged; any other two labels (e.g. 1/2, "no"/"yes") are
    coded as scikit-learn does, the sorted second label being the positive class. With
    ``classes`` (from a fit) the labels must be among them.
    """
    if y is None:
        raise parameter_error("y", expected="a target (this estimator requires y to be passed, but the "
                                            "target y is None)", found=None)
    if isinstance(y, pd.DataFrame) and y.shape[1] == 1:
        y = y.iloc[:, 0]
    if not isinstance(y, pd.Series):
        arr = np.asarray(y)
        if arr.ndim == 2 and arr.shape[1] == 1:
            warnings.warn("A column-vector y was passed when a 1d array was expected; it is raveled",
                          DataConversionWarning, stacklevel=3)
            arr = arr.ravel()
        y = arr
    vals = pd.Series(np.asarray(y) if not isinstance(y, pd.Series) else y.to_numpy())
    present = vals[vals.notna()].to_numpy()
    if len(present) == 0:
        return (classes if classes is not None else np.array([0, 1])), y
    if present.dtype == object:
        try:
            present = present.astype(np.float64) if all(
                isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in present) else present
        except (TypeError, ValueError):
            pass
    try:
        kind = type_of_target(present, raise_unknown=True)
    except ValueError as err:
        raise parameter_error("y", expected="a binary target (Unknown label type)", found=str(err)[:80]) from err
    if kind == "continuous":
        raise parameter_error("y", expected="a binary target (two labels, e.g. 0/1)",
                              found=f"a continuous target ({present[:3].tolist()}...)",
                              fix="threshold it into two classes first")
    labels = np.unique(present)
    if classes is None:
        if len(labels) > 2:
            raise parameter_error("y", expected="two classes (Only binary classification is supported)",
                                  found=f"{len(labels)} classes {labels[:6].tolist()}")
        if pd.api.types.is_bool_dtype(present.dtype):
            classes = np.array([False, True])
        elif set(labels.tolist()) <= {0, 1}:
            classes = np.array([0, 1])
        elif len(labels) == 1:
            return labels, y  # check_xy names the single class
        else:
            classes = labels
    elif not set(labels.tolist()) <= set(classes.tolist()):
        raise parameter_error("y", expected=f"labels among the fitted classes {classes.tolist()}",
                              found=f"labels {labels[:6].tolist()}")
    dtype = y.dtype if isinstance(y, pd.Series | np.ndarray) else np.asarray(y).dtype
    if set(classes.tolist()) <= {0, 1} and (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)):
        return classes, y
    coded = np.where(vals.isna(), np.nan, (vals == classes[-1]).astype(float)) if vals.isna().any() \
        else (vals == classes[-1]).to_numpy().astype(np.int8)
    if isinstance(y, pd.Series):
        return classes, pd.Series(coded, index=y.index, name=y.name)
    return classes, coded


def _as_frame(X: object, *, min_rows: int = 2) -> pd.DataFrame:
    """A DataFrame as is; a 2-d array as a frame with positional columns ``x0, x1, ...``."""
    if isinstance(X, pd.DataFrame):
        return X
    if hasattr(X, "toarray") or hasattr(X, "tocsr"):
        raise schema_error(table="X", column=None, expected="a dense DataFrame or array",
                           found=f"a sparse matrix ({type(X).__name__})", fix="X.toarray() or a DataFrame")
    try:
        arr = np.asarray(X)
    except (TypeError, ValueError) as err:
        raise schema_error(table="X", column=None, expected="a DataFrame or a 2-d numeric array",
                           found=type(X).__name__) from err
    if arr.ndim != 2:
        raise schema_error(table="X", column=None, expected="a DataFrame or a 2-d numeric array",
                           found=f"an array of shape {arr.shape}",
                           fix="Reshape your data: a single feature with X.reshape(-1, 1), a single row with "
                               "X.reshape(1, -1)")
    if arr.dtype == object:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as err:
            raise schema_error(table="X", column=None, expected="numeric values",
                               found="an object array with non-numeric values") from err
    if np.iscomplexobj(arr):
        raise schema_error(table="X", column=None, expected="a real numeric or boolean array",
                           found=f"dtype {arr.dtype} (Complex data not supported)")
    if not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise schema_error(table="X", column=None, expected="a real numeric or boolean array",
                           found=f"dtype {arr.dtype}")
    if len(arr) < min_rows:
        raise schema_error(table="X", column=None, expected=f"at least {min_rows} rows",
                           found=f"{len(arr)} sample(s)" if len(arr) != 1 else "1 sample")
    return pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])


def _chunked_p1(est, X: pd.DataFrame, chunk_size: int = 500_000) -> np.ndarray:
    """P(target) of a fitted estimator on X, ``chunk_size`` rows at a time (one float64 block)."""
    out = np.empty(len(X), dtype=np.float64)
    for s in range(0, len(X), chunk_size):
        out[s:s + chunk_size] = est.predict_proba(_values(X.iloc[s:s + chunk_size]))[:, 1]
    return out


def _values(X: pd.DataFrame) -> np.ndarray:
    """Float64 values of a feature frame, pandas' missing values as NaN."""
    return X.to_numpy(dtype=np.float64, na_value=np.nan)


def _check_finite(part: pd.DataFrame, block: np.ndarray, *, allow_nan: bool) -> None:
    bad = np.isinf(block) if allow_nan else ~np.isfinite(block)
    if bad.any():
        j = int(np.flatnonzero(bad.any(axis=0))[0])
        rows = part.index[bad[:, j]]
        raise schema_error(table="X", column=str(part.columns[j]),
                           expected="finite values" if allow_nan else "finite values (no NaN)",
                           found=f"{int(bad[:, j].sum())} {'infinite' if allow_nan else 'NaN or infinite'} values",
                           rows=list(rows[:5]),
                           fix="fill them" + ("" if allow_nan else ", or use model='hgb' which accepts NaN"))


def _rules_of(X: pd.DataFrame, y: np.ndarray, *, seed: int):
    """Depth-3 tree rules on the complete rows (None when too few of each class remain)."""
    complete = ~np.isnan(_values(X)).any(axis=1)
    pos = int(y[complete].sum())
    if pos < 3 or int(complete.sum()) - pos < 3:
        return None
    return tree_rules(X, y, max_depth=3, seed=seed, missing="drop")


def fit(
    X: pd.DataFrame,
    y: pd.Series | np.ndarray,
    *,
    model: ModelKind = "hgb",
    test_size: float | None = 0.3,
    seed: int = 0,
    calibrate: bool = True,
    class_weight: Literal["auto", "balanced"] | None = "auto",
    n_threads: int | None = None,
    sample_size: int | None = DEFAULT_SAMPLE_SIZE,
) -> ScoringModel:
    """Fit a calibrated scoring model and evaluate it on a held-out part: ``ScoringModel(...,
    test_size=0.3, sample_size=200_000).fit(X, y)``.

    The one-call form of J1's model building: by default 30 % of the rows (stratified) are
    held out and the model learns from the other 70 %, so ``.auc``, ``.gains()``,
    ``.precision_reach()`` and ``.calibration()`` report held-out figures. ``test_size=None``
    fits on every row (as the estimator does by default); evaluate it then on other rows
    with ``.score(X_new, y_new)`` or ``.gains(X_new, y_new)``.

    At province scale the model learns from a stratified sample of the training part
    (``sample_size``, 200,000 rows by default: from about 286,000 users up with the default
    ``test_size``); the held-out part is not sampled, so the held-out figures are on rows
    the model never saw, and ``.summary()`` states the sample size. Score everyone with
    ``.target_proba(X)`` (in chunks).

    Parameters
    ----------
    X : DataFrame
        Numeric features, one row per user (index = user_id, e.g. from :func:`build_features`).
        NaN only with model="hgb".
    y : Series or array of 0/1 or bool
        The target. A Series is aligned to X by index label (another order is reordered;
        labels that differ raise a SchemaError naming them); an array is taken row by row.
    model, seed, calibrate, class_weight, n_threads
        See :class:`ScoringModel`.
    test_size : float or None, default 0.3
        Held-out share for the reported figures; None: no held-out part.
    sample_size : int or None, default 200,000 (:data:`DEFAULT_SAMPLE_SIZE`)
        Training rows learnt from at most (stratified by the target, seeded); None: every
        training row. The model's ``n_train_``, ``n_available_`` and ``sampled_`` record it.
        Measured at 1,000,000 users in ``benchmarks/bench_propensity_scale.py``.

    Returns
    -------
    ScoringModel
        Fitted; ``.auc``, ``.gains()``, ``.precision_reach()``, ``.top(X, n)``,
        ``.select(X, budget=...)``, ``.importance()``, ``.predict_proba(X)``,
        ``.target_proba(X)`` (P(target) on X's index), ``.score(X, y)`` (AUC), ``.plot(kind=...)``.

    Raises
    ------
    SchemaError
        Non-numeric feature, NaN features (except model="hgb"), infinite features, missing
        target values, a Series y whose index does not hold X's row labels.
    ParameterError
        Single-class target, unknown model.
    """
    return ScoringModel(model, test_size=test_size, seed=seed, calibrate=calibrate,
                        class_weight=class_weight, n_threads=n_threads, sample_size=sample_size).fit(X, y)
