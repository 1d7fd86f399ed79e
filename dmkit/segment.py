"""Customer segmentation: usage clusters (Y5), the SMS × spend matrix (V) and segment strategies.

Three tools:

* :func:`cluster` — KMeans on skewed usage counts (log1p, standardised), k chosen by
  silhouette on a sample when not given, stable ordered labels, a profile table and
  descriptive segment names. The fitted :class:`Segmenter` applies the same segments
  to a new month (``result.predict(next_month)``).
* :func:`matrix` — the 3×3 SMS volume × spend matrix of case V with counts, shares and
  the case's cell names, compared to the published shares.
* :func:`assign_strategies` — the Y5 strategy per segment, held as editable data
  (:data:`Y5_STRATEGIES`).

Example
-------
>>> import dmkit as dm
>>> feats = usage.set_index("user_id")[["sms_p2p", "sms_contacts"]]
>>> res = dm.segment.cluster(feats, k=3, seed=7)
>>> res.profile                      # mean/median per feature, size, share, name
>>> dm.segment.assign_strategies(res.labels)   # label 0 = low, 1 = normal, 2 = high
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from dmkit._results import Result, Summary, get_ax
from dmkit._threads import thread_limit
from dmkit._validation import check_choice, check_frame, check_numeric, check_scalar
from dmkit.errors import NotFittedError, parameter_error, schema_error

__all__ = [
    "cluster",
    "Segmenter",
    "ClusterResult",
    "from_centers",
    "matrix",
    "MatrixResult",
    "V_SMS_BINS",
    "V_SPEND_BINS",
    "V_NAMES",
    "V_PUBLISHED",
    "Y5_STRATEGIES",
    "assign_strategies",
    "rank_levels",
]

# --------------------------------------------------------------------------------------
# Vocabulary for descriptive names
# --------------------------------------------------------------------------------------

FEATURE_WORDS: dict[str, tuple[str, str, str]] = {
    "sms_p2p": ("low volume", "medium volume", "high volume"),
    "sms_contacts": ("narrow circle", "medium circle", "wide circle"),
    "mms": ("few MMS", "some MMS", "many MMS"),
    "arpu": ("low spend", "medium spend", "high spend"),
    "voice_minutes": ("little talk", "medium talk", "heavy talk"),
    "call_days": ("few call days", "some call days", "daily caller"),
    "sms_fee": ("low SMS fee", "medium SMS fee", "high SMS fee"),
    "monternet_sms": ("few Monternet SMS", "some Monternet SMS", "many Monternet SMS"),
    "gprs_kb": ("little data", "medium data", "heavy data"),
    "wap_visits": ("rare WAP", "some WAP", "frequent WAP"),
    "circle_size": ("narrow circle", "medium circle", "wide circle"),
}
"""Words used by the automatic segment names: feature -> (low, medium, high) phrase.
Edit or extend it; other features are named ``"low <feature>"`` etc."""


def _words(col: str) -> tuple[str, str, str]:
    return FEATURE_WORDS.get(col, (f"low {col}", f"medium {col}", f"high {col}"))


# --------------------------------------------------------------------------------------
# The estimator
# --------------------------------------------------------------------------------------


class _SegmenterMethods:
    """KMeans segmentation of usage features with a transform that suits skewed counts.

    ``__init__`` only stores the arguments (see :func:`cluster` for their meaning);
    ``fit`` learns the transform (log columns, means, scales) and the ordered centres.
    A scikit-learn estimator (``get_params``, ``set_params``, ``clone``, its repr): the
    class is these methods on :class:`sklearn.base.BaseEstimator`, made on first use of
    ``dm.segment.Segmenter`` (or of :func:`cluster`, :func:`from_centers`), so that
    ``dm.segment.matrix`` alone does not import scikit-learn and scipy.

    Fitted attributes
    -----------------
    feature_names_in_ : ndarray of str
    log_columns_ : tuple of str
        Features transformed with ``log1p`` before standardising.
    mean_, scale_ : ndarray
        Standardisation of the (log-)transformed features (scale 1 when ``standardise``
        is False or a column is constant).
    centers_ : ndarray, shape (k, n_features)
        Centres in the transformed space, ordered so that label 0 has the lowest centre
        on ``order_by``.
    k_ : int
    silhouette_ : DataFrame
        Columns k, silhouette (empty when ``k`` was given).
    labels_ : ndarray
        Labels of the rows ``fit`` saw (every row: those outside the fitting sample get
        their nearest centre).
    algorithm_ : str
        What was actually used: ``"kmeans"`` (every row), ``"kmeans-sample"`` (KMeans on a
        stratified sample, every row then assigned) or ``"minibatch"``.
    n_fit_ : int
        Rows the centres were fitted on (the sample's size for ``"kmeans-sample"``).
    """

    def __init__(
        self,
        k: int | None = None,
        *,
        k_range: Sequence[int] = range(2, 9),
        log: bool | Literal["auto"] | Sequence[str] = "auto",
        standardise: bool = True,
        sample_size: int = 2_000,
        algorithm: Literal["auto", "kmeans", "minibatch"] = "auto",
        minibatch_threshold: int = 1_000_000,
        n_init: int = 3,
        order_by: str | None = None,
        seed: int = 0,
        n_threads: int | None = None,
    ) -> None:
        self.k = k
        self.k_range = k_range
        self.log = log
        self.standardise = standardise
        self.sample_size = sample_size
        self.algorithm = algorithm
        self.minibatch_threshold = minibatch_threshold
        self.n_init = n_init
        self.order_by = order_by
        self.seed = seed
        self.n_threads = n_threads

    # -- checks ---------------------------------------------------------------------
    def _check_params(self, X: pd.DataFrame) -> None:
        n = len(X)
        if self.k is not None:
            check_scalar(self.k, "k", kind=int, low=2)
            if self.k > n:
                raise parameter_error("k", expected=f"at most the number of rows ({n})", found=self.k,
                                      fix="ask for fewer segments or pass more rows")
        else:
            ks = list(self.k_range)
            if not ks or any(not isinstance(v, (int, np.integer)) or v < 2 for v in ks):
                raise parameter_error("k_range", expected="integers >= 2", found=ks)
        check_scalar(self.sample_size, "sample_size", kind=int, low=10)
        check_scalar(self.n_init, "n_init", kind=int, low=1)
        check_scalar(self.minibatch_threshold, "minibatch_threshold", kind=int, low=1)
        check_choice(self.algorithm, "algorithm", ("auto", "kmeans", "minibatch"))
        check_scalar(self.n_threads, "n_threads", kind=int, low=1, allow_none=True)
        if self.order_by is not None and self.order_by not in X.columns:
            raise parameter_error("order_by", expected=f"one of the features {list(X.columns)}",
                                  found=self.order_by)

    def choose_log_columns(self, X: pd.DataFrame) -> tuple[str, ...]:
        """The features ``fit`` would log-transform, given ``log`` ("auto": non-negative,
        more than two values, skewness > 1 on a sample of at most 100,000 rows). Public so
        that another engine (Spark) can make the same choice on a sample."""
        cols = list(X.columns)
        if self.log is True:
            chosen = cols
        elif self.log is False:
            chosen = []
        elif isinstance(self.log, str):
            check_choice(self.log, "log", (True, False, "auto"))
            sample = X if len(X) <= 100_000 else X.sample(100_000, random_state=self.seed)
            chosen = [c for c in cols
                      if sample[c].min() >= 0 and sample[c].nunique() > 2
                      and float(sample[c].astype(float).skew()) > 1.0]
        else:
            chosen = list(self.log)
            unknown = [c for c in chosen if c not in cols]
            if unknown:
                raise parameter_error("log", expected=f"True, False, 'auto' or features among {cols}",
                                      found=unknown)
        neg = [c for c in chosen if X[c].min() < 0]
        if neg:
            raise schema_error(table="features", column=neg[0], expected="values >= 0 for a log transform",
                               found=f"minimum {X[neg[0]].min()}", fix="pass log=False or log=[...] without it")
        return tuple(chosen)

    # -- transform ------------------------------------------------------------------
    def _raw(self, X: pd.DataFrame) -> np.ndarray:
        Z = X.to_numpy(dtype=np.float64, copy=True)  # copy: the log is taken in place
        for j, c in enumerate(X.columns):
            if c in self.log_columns_:
                np.log1p(Z[:, j], out=Z[:, j])
        return Z

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """The features as the clustering sees them: log1p where chosen, then standardised."""
        self._check_fitted()
        X = _check_features(X, list(self.feature_names_in_))
        return (self._raw(X) - self.mean_) / self.scale_

    def _check_fitted(self) -> None:
        if not hasattr(self, "centers_"):
            raise NotFittedError("this Segmenter is not fitted yet; call fit(features) or dm.segment.cluster first")

    # -- fit / predict --------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y=None) -> Segmenter:
        """Learn the transform and the centres from ``X`` (rows = customers, numeric columns)."""
        X = _check_features(X, None)
        self._check_params(X)
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.log_columns_ = self.choose_log_columns(X)
        n = len(X)
        self.mean_, self.scale_ = self._standardisation(X)
        use_mb = self.algorithm == "minibatch"
        sampled = self.algorithm == "auto" and n > self.minibatch_threshold
        rng = np.random.default_rng(self.seed)
        # past the threshold, KMeans learns the centres from a stratified sample of
        # minibatch_threshold rows; every row is then assigned to its nearest centre in chunks
        fit_rows = (_stratified_rows(self._raw(X.iloc[:, [self._order_column(X)]])[:, 0],
                                     self.minibatch_threshold, rng) if sampled else None)
        Z = (self._raw(X if fit_rows is None else X.iloc[fit_rows]) - self.mean_) / self.scale_
        m = len(Z)
        if self.k is None:
            idx = rng.choice(m, size=min(self.sample_size, m), replace=False) if m > self.sample_size else np.arange(m)
            with thread_limit(self.n_threads, len(idx)):
                self.silhouette_ = _silhouette_curve(Z[idx], list(self.k_range), n_init=self.n_init, seed=self.seed)
            if self.silhouette_["silhouette"].notna().sum() == 0:
                raise parameter_error("k_range", expected="at least one k below the number of distinct rows",
                                      found=list(self.k_range), fix="pass k explicitly")
            k = int(self.silhouette_.loc[self.silhouette_["silhouette"].idxmax(), "k"])
        else:
            self.silhouette_ = pd.DataFrame({"k": pd.Series(dtype=int), "silhouette": pd.Series(dtype=float)})
            k = int(self.k)
        self.algorithm_ = "minibatch" if use_mb else "kmeans-sample" if sampled else "kmeans"
        self.n_fit_ = m
        with thread_limit(self.n_threads, m):
            km = _kmeans(k, minibatch=use_mb, n_init=self.n_init, seed=self.seed).fit(Z)
        del Z
        centers = km.cluster_centers_
        j = self._order_column(X)
        others = [centers[:, i] for i in reversed(range(centers.shape[1])) if i != j]
        order = np.lexsort(others + [centers[:, j]])  # by order_by, ties by the other features
        rank = np.empty(k, dtype=np.int64)
        rank[order] = np.arange(k)
        self.centers_ = centers[order]
        self.k_ = k
        if fit_rows is None:
            self.labels_ = rank[km.labels_]
            self.inertia_ = float(km.inertia_)
        else:
            self.labels_, self.inertia_ = self._assign(X)
        return self

    def _order_column(self, X: pd.DataFrame) -> int:
        return 0 if self.order_by is None else list(X.columns).index(self.order_by)

    def _standardisation(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Mean and scale of the (log-)transformed features over every row, computed
        ``_CHUNK`` rows at a time past that many rows (two passes: mean, then the squared
        deviations; population sd, as ``ndarray.std``)."""
        p = X.shape[1]
        if not self.standardise:
            return np.zeros(p), np.ones(p)
        n = len(X)
        if n <= _CHUNK:
            R = self._raw(X)
            mean, sd = R.mean(axis=0), R.std(axis=0)
        else:
            total = np.zeros(p)
            for a in range(0, n, _CHUNK):
                total += self._raw(X.iloc[a:a + _CHUNK]).sum(axis=0)
            mean = total / n
            sq = np.zeros(p)
            for a in range(0, n, _CHUNK):
                sq += ((self._raw(X.iloc[a:a + _CHUNK]) - mean) ** 2).sum(axis=0)
            sd = np.sqrt(sq / n)
        return mean, np.where(sd > 0, sd, 1.0)

    def _assign(self, X: pd.DataFrame) -> tuple[np.ndarray, float]:
        """Nearest (ordered) centre of every row and the inertia over every row, ``_CHUNK``
        rows at a time (memory: a chunk's transformed features and distances)."""
        labels = np.empty(len(X), dtype=np.int64)
        inertia = 0.0
        for a in range(0, len(X), _CHUNK):
            Z = (self._raw(X.iloc[a:a + _CHUNK]) - self.mean_) / self.scale_
            d = ((Z[:, None, :] - self.centers_[None, :, :]) ** 2).sum(axis=2)
            lab = d.argmin(axis=1)
            labels[a:a + len(Z)] = lab
            inertia += float(d[np.arange(len(Z)), lab].sum())
        return labels, inertia

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Label new rows by their nearest centre (same transform as at fit)."""
        from sklearn.metrics import pairwise_distances_argmin

        Z = self.transform(X)
        return pairwise_distances_argmin(Z, self.centers_).astype(np.int64)

    def centers_frame(self) -> pd.DataFrame:
        """Centres in the original units (log columns back-transformed with expm1)."""
        self._check_fitted()
        R = self.centers_ * self.scale_ + self.mean_
        out = pd.DataFrame(R, columns=list(self.feature_names_in_))
        for c in self.log_columns_:
            out[c] = np.expm1(out[c])
        out.index.name = "segment"
        return out


_CHUNK = 500_000
"""Rows transformed and assigned at a time past the fitting sample."""


if TYPE_CHECKING:
    from sklearn.base import BaseEstimator

    class Segmenter(_SegmenterMethods, BaseEstimator):  # what _segmenter() makes at run time
        ...


def _segmenter() -> type:
    """:class:`Segmenter`, made once: :class:`_SegmenterMethods` on scikit-learn's
    ``BaseEstimator``, imported here (importing scikit-learn's base imports scipy: 1-2.5 s
    of a kernel that only draws the SMS x spend matrix)."""
    cls = globals().get("Segmenter")
    if cls is None:
        from sklearn.base import BaseEstimator

        cls = type("Segmenter", (_SegmenterMethods, BaseEstimator),
                   {"__module__": __name__, "__qualname__": "Segmenter", "__doc__": _SegmenterMethods.__doc__})
        globals()["Segmenter"] = cls
    return cls


def __getattr__(name: str):
    if name == "Segmenter":  # PEP 562: made on first use
        return _segmenter()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "Segmenter"})


def _stratified_rows(key: np.ndarray, size: int, rng: np.random.Generator, *, strata: int = 10) -> np.ndarray:
    """Sorted positions of a sample of ``size`` rows stratified on ``key``: its ``strata``
    quantile bins (fewer when values tie), each bin keeping its share of the rows (random
    rounding), random rows within a bin."""
    n = len(key)
    edges = np.unique(np.quantile(key, np.linspace(0, 1, strata + 1)[1:-1]))
    bins = np.searchsorted(edges, key, side="right")
    counts = np.bincount(bins, minlength=len(edges) + 1)
    want = np.floor(counts * (size / n) + rng.random(len(counts))).astype(np.int64)
    want = np.minimum(want, counts)
    order = np.lexsort((rng.random(n), bins))  # by bin, random within a bin
    starts = np.cumsum(counts) - counts
    rows = np.concatenate([order[s:s + w] for s, w in zip(starts, want, strict=True)])
    return np.sort(rows)


def _kmeans(k: int, *, minibatch: bool, n_init: int, seed: int):
    from sklearn.cluster import KMeans, MiniBatchKMeans

    if minibatch:
        return MiniBatchKMeans(n_clusters=k, n_init=n_init, random_state=seed, batch_size=8192)
    return KMeans(n_clusters=k, n_init=n_init, random_state=seed)


def _silhouette_curve(Z: np.ndarray, ks: list[int], *, n_init: int, seed: int) -> pd.DataFrame:
    from sklearn.metrics import silhouette_score

    n_distinct = len(np.unique(Z, axis=0))
    rows = []
    for k in ks:
        s = np.nan
        if k < n_distinct:
            lab = _kmeans(k, minibatch=False, n_init=n_init, seed=seed).fit_predict(Z)
            if len(np.unique(lab)) > 1:
                s = float(silhouette_score(Z, lab, random_state=seed))
        rows.append((int(k), s))
    return pd.DataFrame(rows, columns=["k", "silhouette"])


def _check_features(X: object, columns: list[str] | None) -> pd.DataFrame:
    X = check_frame(X, table="features", columns=columns or ())
    if columns is not None:
        X = X[columns]
    if X.shape[1] == 0:
        raise schema_error(table="features", column=None, expected="at least one feature column",
                           found="no columns")
    check_numeric(X, list(X.columns), table="features")
    return X


# --------------------------------------------------------------------------------------
# The result
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterResult(Result):
    """Segments of customers from :func:`cluster`.

    Attributes
    ----------
    labels : Series
        Segment (0 .. k-1) per row, indexed like the input; 0 has the lowest centre on the
        ordering feature (the first feature unless ``order_by``).
    profile : DataFrame
        One row per segment: ``name``, ``size``, ``share``, then ``<feature>_mean`` and
        ``<feature>_median`` for every feature (original units).
    centers : DataFrame
        Centres in original units (log columns back-transformed), one row per segment.
    zscores : DataFrame
        Centres in the standardised space the names are built from.
    names : Series
        Descriptive name per segment, e.g. ``"high volume, wide circle"``.
    silhouette : DataFrame
        Columns k, silhouette: the curve k was chosen from (empty when k was given).
    model : Segmenter
        The fitted estimator; ``predict`` applies it to a new month.
    """

    labels: pd.Series
    profile: pd.DataFrame
    centers: pd.DataFrame
    zscores: pd.DataFrame
    names: pd.Series
    silhouette: pd.DataFrame
    model: Segmenter = field(repr=False)
    sample: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)

    @property
    def k(self) -> int:
        """Number of segments."""
        return len(self.names)

    def predict(self, features: pd.DataFrame) -> pd.Series:
        """Segment of each row of ``features`` (e.g. the next month), indexed like it."""
        lab = self.model.predict(features)
        return pd.Series(lab, index=features.index, name="segment")

    def named_labels(self) -> pd.Series:
        """The labels as their descriptive names (categorical, ordered by segment)."""
        cat = pd.Categorical.from_codes(self.labels.to_numpy(), categories=list(self.names))
        return pd.Series(cat, index=self.labels.index, name="segment_name")

    def to_frame(self) -> pd.DataFrame:
        """The profile table."""
        return self.profile.copy()

    def summary(self) -> Summary:
        notes = [f"k = {self.k} ({self.model.algorithm_}); log1p on {list(self.model.log_columns_) or 'no'} features"]
        n_fit = getattr(self.model, "n_fit_", len(self.labels))
        if n_fit < len(self.labels):
            notes.append(f"centres fitted on a stratified sample of {n_fit:,} of the {len(self.labels):,} rows "
                         "(deciles of the ordering feature); every row assigned to its nearest centre")
        tables = [("profile", self.profile)]
        if len(self.silhouette):
            tables.append(("silhouette by k", self.silhouette.set_index("k")))
            notes.append(f"k chosen by the highest silhouette on a sample of {self.model.sample_size} rows")
        return Summary(title=f"Segments ({self.k})", tables=tuple(tables), notes=tuple(notes))

    def plot(self, ax=None, *, kind: Literal["profile", "silhouette", "scatter"] = "profile"):
        """``profile``: heatmap of centre z-scores; ``silhouette``: the k curve;
        ``scatter``: the first two features of a sample coloured by segment (log axes
        for log-transformed features)."""
        check_choice(kind, "kind", ("profile", "silhouette", "scatter"))
        ax = get_ax(ax)
        if kind == "silhouette":
            if not len(self.silhouette):
                raise parameter_error("kind", expected="'profile' or 'scatter' (k was given, no curve)",
                                      found=kind)
            ax.plot(self.silhouette["k"], self.silhouette["silhouette"], marker="o")
            ax.axvline(self.k, color="grey", ls="--")
            ax.set_xlabel("k (segments)")
            ax.set_ylabel("silhouette")
            ax.set_title("Silhouette by number of segments")
            return ax
        if kind == "scatter":
            return self._scatter(ax)
        z = self.zscores
        lim = max(1.0, float(np.nanmax(np.abs(z.to_numpy()))))
        im = ax.imshow(z.to_numpy(), cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
        ax.set_xticks(range(z.shape[1]), list(z.columns), rotation=30, ha="right")
        ylabels = [f"{i}: {n} ({s:.0%})" for i, n, s in zip(self.profile.index, self.names, self.profile["share"], strict=True)]
        ax.set_yticks(range(z.shape[0]), ylabels)
        for (i, j), v in np.ndenumerate(z.to_numpy()):
            ax.text(j, i, f"{v:+.1f}", ha="center", va="center", fontsize=8)
        ax.figure.colorbar(im, ax=ax, label="centre z-score")
        ax.set_title("Segment profiles")
        return ax

    def _scatter(self, ax):
        feats = list(self.model.feature_names_in_)
        if len(feats) < 2:
            raise parameter_error("kind", expected="'profile' for a single feature", found="scatter")
        X = self.sample
        lab = self.labels.reindex(X.index).to_numpy()
        for s in range(self.k):
            m = lab == s
            ax.scatter(X.iloc[:, 0][m] + 1, X.iloc[:, 1][m] + 1, s=4, alpha=0.4, label=f"{s}: {self.names[s]}")
        if feats[0] in self.model.log_columns_:
            ax.set_xscale("log")
        if feats[1] in self.model.log_columns_:
            ax.set_yscale("log")
        ax.set_xlabel(feats[0] + (" + 1" if feats[0] in self.model.log_columns_ else ""))
        ax.set_ylabel(feats[1] + (" + 1" if feats[1] in self.model.log_columns_ else ""))
        ax.legend(markerscale=3, fontsize=8)
        return ax


def _names(z: pd.DataFrame, *, threshold: float = 0.5, max_terms: int = 3) -> list[str]:
    names = []
    for _, row in z.iterrows():  # one row per segment: k rows, not customers
        strongest = set(row.abs().sort_values(ascending=False, kind="stable").index[:max_terms])
        terms = [c for c in row.index if c in strongest]  # in feature order: "high volume, wide circle"
        parts = []
        for c in terms:
            v = row[c]
            low, mid, high = _words(c)
            parts.append(low if v < -threshold else high if v > threshold else mid)
        names.append(", ".join(parts))
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n} ({seen[n]})")
    return out


def _profile(X: pd.DataFrame, labels: np.ndarray, k: int) -> pd.DataFrame:
    g = X.groupby(labels, sort=True)
    mean = g.mean().add_suffix("_mean")
    med = g.median().add_suffix("_median")
    cols = [c for f in X.columns for c in (f"{f}_mean", f"{f}_median")]
    prof = pd.concat([mean, med], axis=1)[cols].reindex(range(k))
    size = np.bincount(labels, minlength=k)
    prof.insert(0, "share", size / size.sum())
    prof.insert(0, "size", size)
    prof.index.name = "segment"
    return prof


def _build_result(X: pd.DataFrame, model: Segmenter, labels: np.ndarray) -> ClusterResult:
    k = model.k_
    z = pd.DataFrame(model.centers_, columns=list(X.columns))
    z.index.name = "segment"
    names = pd.Series(_names(z), index=z.index, name="name")
    prof = _profile(X, labels, k)
    prof.insert(0, "name", names)
    n = len(X)
    take = np.random.default_rng(model.seed).choice(n, size=min(n, 5_000), replace=False)
    return ClusterResult(
        labels=pd.Series(labels, index=X.index, name="segment"),
        profile=prof,
        centers=model.centers_frame(),
        zscores=z,
        names=names,
        silhouette=model.silhouette_.copy(),
        model=model,
        sample=X.iloc[np.sort(take)],
    )


def cluster(
    features: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    k: int | None = None,
    k_range: Sequence[int] = range(2, 9),
    log: bool | Literal["auto"] | Sequence[str] = "auto",
    standardise: bool = True,
    sample_size: int = 2_000,
    algorithm: Literal["auto", "kmeans", "minibatch"] = "auto",
    minibatch_threshold: int = 1_000_000,
    n_init: int = 3,
    order_by: str | None = None,
    seed: int = 0,
    n_threads: int | None = None,
) -> ClusterResult:
    """Segment customers by KMeans on (log-)standardised usage features.

    Parameters
    ----------
    features : DataFrame
        One row per customer (the index is kept, e.g. user_id), numeric columns.
    columns : list of str, optional
        Use only these columns of ``features`` (default: all).
    k : int, optional
        Number of segments (>= 2, <= rows). None: chosen from ``k_range`` by the highest
        silhouette on a random sample of ``sample_size`` rows.
    log : True, False, "auto" or list of columns, default "auto"
        ``log1p`` before standardising. "auto": non-negative columns with skewness > 1
        (usage counts usually are).
    standardise : bool, default True
        Scale each (transformed) feature to mean 0, sd 1 so no unit dominates.
    sample_size : int, default 2_000
        Rows used to compute silhouettes when choosing k.
    algorithm : {"auto", "kmeans", "minibatch"}
        "auto": sklearn KMeans on every row up to ``minibatch_threshold`` rows; past it,
        KMeans on a stratified sample of ``minibatch_threshold`` rows (strata: the deciles
        of the ordering feature, each keeping its share), then every row assigned to its
        nearest centre 500,000 rows at a time; the silhouette sample is drawn from that
        sample, the standardisation, sizes, shares and profile use every row
        (``model.n_fit_`` records the rows fitted; the summary states it). "kmeans":
        KMeans on every row. "minibatch": MiniBatchKMeans on every row (slower than the
        sample past a million rows: 89 s at 5,000,000 rows of four features).
    minibatch_threshold : int, default 1_000_000
        Rows above which "auto" fits on a sample, and that sample's size.
    n_init : int, default 3
        KMeans restarts; the best inertia is kept.
    order_by : str, optional
        Feature whose centre orders the labels (default: the first feature), so label 0
        is always the lowest segment on it and labels are stable for a seed.
    seed : int
        Random state of the sample and of KMeans.
    n_threads : int, optional
        Cap on OpenMP threads (threadpoolctl). None: one thread for the silhouette
        sample and for fits under 100,000 rows, the library default above.

    Returns
    -------
    ClusterResult
        ``labels`` (Series by the input index), ``profile`` (columns name, size, share,
        ``<f>_mean``, ``<f>_median``), ``centers``, ``zscores``, ``names``, ``silhouette``
        (k, silhouette) and the fitted ``model``; ``.predict(new)`` labels another month.

    Raises
    ------
    SchemaError
        ``features`` empty, not a DataFrame, a missing/non-numeric/NaN column, or a
        negative value in a log column.
    ParameterError
        k < 2 or larger than the rows, a bad k_range, algorithm or order_by.
    """
    X = _check_features(features, list(columns) if columns is not None else None)
    model = _segmenter()(k, k_range=k_range, log=log, standardise=standardise, sample_size=sample_size,
                      algorithm=algorithm, minibatch_threshold=minibatch_threshold, n_init=n_init,
                      order_by=order_by, seed=seed, n_threads=n_threads).fit(X)
    return _build_result(X, model, model.labels_)


def from_centers(
    features: pd.DataFrame,
    centers: np.ndarray,
    *,
    log_columns: Sequence[str] = (),
    mean: Sequence[float] | None = None,
    scale: Sequence[float] | None = None,
    silhouette: pd.DataFrame | None = None,
    algorithm: str = "external",
    seed: int = 0,
) -> ClusterResult:
    """Build a :class:`ClusterResult` from centres fitted elsewhere (e.g. Spark ML KMeans).

    ``centers`` are in the transformed space (``log1p`` on ``log_columns``, then
    ``(x - mean) / scale``); they are re-ordered like :func:`cluster` orders them (by the
    first feature) and ``features`` are labelled by the nearest centre, so the result is
    the same object, with the same names and profile, as the pandas path gives.
    """
    X = _check_features(features, None)
    centers = np.asarray(centers, dtype=float)
    if centers.ndim != 2 or centers.shape[1] != X.shape[1] or centers.shape[0] < 2:
        raise parameter_error("centers", expected=f"an array (k >= 2, {X.shape[1]})",
                              found=getattr(centers, "shape", centers))
    model = _segmenter()(centers.shape[0], log=list(log_columns), seed=seed)
    model.feature_names_in_ = np.asarray(X.columns, dtype=object)
    model.log_columns_ = tuple(log_columns)
    p = X.shape[1]
    model.mean_ = np.zeros(p) if mean is None else np.asarray(mean, dtype=float)
    model.scale_ = np.ones(p) if scale is None else np.asarray(scale, dtype=float)
    order = np.argsort(centers[:, 0], kind="stable")
    model.centers_ = centers[order]
    model.k_ = centers.shape[0]
    model.algorithm_ = algorithm
    model.silhouette_ = silhouette if silhouette is not None else pd.DataFrame(
        {"k": pd.Series(dtype=int), "silhouette": pd.Series(dtype=float)})
    labels = model.predict(X)
    model.labels_ = labels
    return _build_result(X, model, labels)


# --------------------------------------------------------------------------------------
# The SMS × spend matrix of case V
# --------------------------------------------------------------------------------------

V_SMS_BINS: tuple[float, ...] = (0, 50, 200)
"""Lower edges of V's SMS volume bins: 0–50, 50–200, 200+ messages a month."""
V_SPEND_BINS: tuple[float, ...] = (0, 50, 150)
"""Lower edges of V's spend bins: 0–50, 50–150, 150+ yuan a month."""

V_NAMES: pd.DataFrame = pd.DataFrame(
    [["double-low", "light SMS average spender", "high-end SMS-indifferent"],
     ["thrifty average SMS user", "high-growth SMS user", "average SMS high spender"],
     ["thrifty heavy SMS user", "high-value SMS user", "double-high"]],
    index=pd.Index(["0–50", "50–200", "200+"], name="sms"),
    columns=pd.Index(["0–50", "50–150", "150+"], name="spend"),
)
"""Case V's cell names: rows = SMS bins, columns = spend bins. The deck names six cells
(and "double-low"); "light SMS average spender" and "average SMS high spender" name the
two cells it leaves unnamed, as ``dmkit.synth`` does in ``truth.sms_matrix``."""

V_PUBLISHED: dict[str, float] = {
    "high-end SMS-indifferent": 0.04,
    "thrifty average SMS user": 0.098,
    "high-growth SMS user": 0.29,
    "thrifty heavy SMS user": 0.062,
    "high-value SMS user": 0.168,
    "double-high": 0.104,
}
"""Shares of the named cells published in case V (double-low is not given)."""


def _bin_labels(edges: Sequence[float]) -> list[str]:
    def f(v: float) -> str:
        return f"{v:g}"
    return [f"{f(a)}–{f(b)}" for a, b in zip(edges[:-1], edges[1:], strict=True)] + [f"{f(edges[-1])}+"]


def _check_bins(bins: object, name: str) -> tuple[float, ...]:
    try:
        edges = tuple(float(b) for b in bins)  # type: ignore[union-attr]
    except (TypeError, ValueError) as err:
        raise parameter_error(name, expected="a list of increasing lower edges, e.g. [0, 50, 200]",
                              found=bins) from err
    if len(edges) < 1 or any(not np.isfinite(e) for e in edges) or any(b <= a for a, b in zip(edges[:-1], edges[1:], strict=True)):
        raise parameter_error(name, expected="finite, strictly increasing lower edges, e.g. [0, 50, 200]",
                              found=bins)
    return edges


@dataclass(frozen=True)
class MatrixResult(Result):
    """Customers cross-classified by two binned measures (V's SMS × spend matrix).

    Attributes
    ----------
    counts, shares : DataFrame
        Rows = ``x`` bins, columns = ``y`` bins; shares sum to 1 over the binned rows.
    names : DataFrame
        The cell names, same shape.
    cells : DataFrame
        One row per cell: x_bin, y_bin, name, count, share.
    assignment : Series
        Cell name per input row (categorical), NaN for rows left out (missing values).
    x, y : str
    """

    counts: pd.DataFrame
    shares: pd.DataFrame
    names: pd.DataFrame
    cells: pd.DataFrame
    assignment: pd.Series
    x: str
    y: str

    def by_name(self) -> pd.DataFrame:
        """Count and share per cell name (cells sharing a name are added up)."""
        g = self.cells.groupby("name", sort=False)[["count", "share"]].sum()
        return g

    def compare(self, published: Mapping[str, float] | None = None) -> pd.DataFrame:
        """Reproduced shares beside published ones.

        Parameters
        ----------
        published : mapping name -> share, optional
            Default: :data:`V_PUBLISHED` (case V).

        Returns
        -------
        DataFrame
            Index name; columns share, published, difference (share − published).
        """
        published = V_PUBLISHED if published is None else published
        byname = self.by_name()
        unknown = [n for n in published if n not in byname.index]
        if unknown:
            raise parameter_error("published", expected=f"cell names among {list(byname.index)}",
                                  found=unknown)
        out = pd.DataFrame({"share": byname["share"].reindex(list(published)),
                            "published": pd.Series(dict(published), dtype=float)})
        out["difference"] = out["share"] - out["published"]
        out.index.name = "name"
        return out

    def to_frame(self) -> pd.DataFrame:
        """The tidy cell table (x_bin, y_bin, name, count, share)."""
        return self.cells.copy()

    def summary(self) -> Summary:
        tables = (("shares", self.shares), ("counts", self.counts), ("cell names", self.names),
                  ("by name", self.by_name()))
        n = int(self.counts.to_numpy().sum())
        return Summary(title=f"{self.x} × {self.y} matrix ({n:,} customers)", tables=tables)

    def plot(self, ax=None):
        """Heatmap of the shares with each cell's name."""
        ax = get_ax(ax, figsize=(7.5, 5.5))
        s = self.shares.to_numpy()
        im = ax.imshow(s, cmap="Blues", origin="lower", aspect="auto")
        ax.set_yticks(range(s.shape[0]), list(self.shares.index))
        ax.set_xticks(range(s.shape[1]), list(self.shares.columns))
        ax.set_ylabel(self.x)
        ax.set_xlabel(self.y)
        hi = np.nanmax(s) if s.size else 1.0
        for (i, j), v in np.ndenumerate(s):
            ax.text(j, i, f"{self.names.iat[i, j]}\n{v:.1%}", ha="center", va="center", fontsize=8,
                    color="white" if v > 0.6 * hi else "black")
        ax.figure.colorbar(im, ax=ax, label="share of customers")
        ax.set_title(f"{self.x} × {self.y}")
        return ax


def _names_frame(names: object, xl: list[str], yl: list[str], x: str, y: str) -> pd.DataFrame:
    shape = (len(xl), len(yl))
    if names is None:
        grid = [[f"{x} {a} / {y} {b}" for b in yl] for a in xl]
    elif isinstance(names, pd.DataFrame):
        grid = names.to_numpy().tolist()
    elif isinstance(names, Mapping):
        missing = [(i, j) for i in range(shape[0]) for j in range(shape[1]) if (i, j) not in names]
        if missing:
            raise parameter_error("names", expected=f"a name for every (x_bin, y_bin) index pair of {shape}",
                                  found=f"missing {missing[:3]}")
        grid = [[names[(i, j)] for j in range(shape[1])] for i in range(shape[0])]
    else:
        grid = np.asarray(names, dtype=object).tolist()
    if np.asarray(grid, dtype=object).shape != shape:
        raise parameter_error("names", expected=f"a {shape[0]}×{shape[1]} grid (rows = {x} bins)",
                              found=f"shape {np.asarray(grid, dtype=object).shape}")
    return pd.DataFrame(grid, index=pd.Index(xl, name=x), columns=pd.Index(yl, name=y))


def matrix(
    df: pd.DataFrame,
    *,
    x: str = "sms_p2p",
    y: str = "arpu",
    x_bins: Sequence[float] = V_SMS_BINS,
    y_bins: Sequence[float] = V_SPEND_BINS,
    names: pd.DataFrame | Mapping[tuple[int, int], str] | Sequence[Sequence[str]] | None = None,
) -> MatrixResult:
    """Cross-classify customers by two binned measures (case V: SMS volume × spend).

    Parameters
    ----------
    df : DataFrame
        One row per customer (e.g. ``usage`` of one month).
    x, y : str
        Numeric columns: rows and columns of the matrix.
    x_bins, y_bins : list of float
        Lower edges; bins are ``[e_i, e_{i+1})`` and the last is open (``e_n+``).
    names : grid, mapping {(i, j): name} or None
        Cell names (rows = x bins). Default: V's names (:data:`V_NAMES`) when the bins are
        V's, else ``"<x> <bin> / <y> <bin>"``.

    Returns
    -------
    MatrixResult
        ``counts``, ``shares``, ``names`` (grids), ``cells`` (x_bin, y_bin, name, count,
        share), ``assignment`` (cell name per row); ``.compare(published)``; ``.plot()``.

    Raises
    ------
    SchemaError
        Empty frame, missing or non-numeric ``x``/``y``.
    ParameterError
        Bins not strictly increasing, a names grid of the wrong shape.

    Warns
    -----
    UserWarning
        When rows are left out because of missing values or values below the first edge.
    """
    check_frame(df, table="matrix input", columns=[x, y])
    check_numeric(df, [x, y], table="matrix input", finite=False)
    xe, ye = _check_bins(x_bins, "x_bins"), _check_bins(y_bins, "y_bins")
    xl, yl = _bin_labels(xe), _bin_labels(ye)
    if names is None and xe == tuple(map(float, V_SMS_BINS)) and ye == tuple(map(float, V_SPEND_BINS)):
        names = V_NAMES
    nf = _names_frame(names, xl, yl, x, y)
    xv = df[x].to_numpy(dtype=float, na_value=np.nan)
    yv = df[y].to_numpy(dtype=float, na_value=np.nan)
    xi = np.searchsorted(np.asarray(xe), xv, side="right") - 1
    yi = np.searchsorted(np.asarray(ye), yv, side="right") - 1
    ok = (xi >= 0) & (yi >= 0) & np.isfinite(xv) & np.isfinite(yv)
    if not ok.all():
        warnings.warn(f"matrix: {int((~ok).sum())} of {len(ok)} rows left out (missing value or below the "
                      f"first bin edge of {x!r} or {y!r})", UserWarning, stacklevel=2)
    nx, ny = len(xl), len(yl)
    flat = np.bincount(xi[ok] * ny + yi[ok], minlength=nx * ny).reshape(nx, ny)
    counts = pd.DataFrame(flat, index=nf.index, columns=nf.columns)
    total = flat.sum()
    shares = counts / total if total else counts.astype(float)
    cells = pd.DataFrame({
        "x_bin": np.repeat(xl, ny), "y_bin": np.tile(yl, nx),
        "name": nf.to_numpy().ravel(), "count": flat.ravel(), "share": shares.to_numpy().ravel(),
    })
    cats = list(dict.fromkeys(nf.to_numpy().ravel()))
    code_of = np.array([cats.index(n) for n in nf.to_numpy().ravel()])
    codes = np.full(len(df), -1, dtype=np.int64)
    codes[ok] = code_of[xi[ok] * ny + yi[ok]]
    assignment = pd.Series(pd.Categorical.from_codes(codes, categories=cats), index=df.index, name="cell")
    return MatrixResult(counts=counts, shares=shares, names=nf, cells=cells, assignment=assignment, x=x, y=y)


# --------------------------------------------------------------------------------------
# Strategies per segment (Y5)
# --------------------------------------------------------------------------------------

Y5_STRATEGIES: pd.DataFrame = pd.DataFrame(
    {
        "segment": ["low", "normal", "high"],
        "strategy": [
            "widen the social circle (扩大交往圈)",
            "raise SMS MOU (提升使用量)",
            "retain and recommend Fetion (保有, 推荐飞信)",
        ],
        "actions": [
            "Fetion interest groups led by staff; invite friends of active users",
            "usage incentives; recruit SMS coaches who activate low users; holiday content",
            "loyalty care for the large circle; recommend Fetion",
        ],
    }
)
"""Case Y5's P2P SMS strategies, ordered low → high. Copy and edit (or load your own from
CSV/YAML into a frame with a ``segment`` column) and pass it as ``strategies=``."""


def assign_strategies(
    segments: pd.Series | ClusterResult,
    *,
    strategies: pd.DataFrame | Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The strategy of each customer's segment.

    Parameters
    ----------
    segments : Series or ClusterResult
        Segment per customer. Integer labels (ordered, as :func:`cluster` gives them) map
        to the strategies' rows by position (label 0 = first row); string labels map to
        the ``segment`` column.
    strategies : DataFrame or mapping, optional
        A frame with a ``segment`` column and any strategy columns, or a mapping
        segment -> strategy text. Default :data:`Y5_STRATEGIES` (low / normal / high).

    Returns
    -------
    DataFrame
        Indexed like ``segments``: ``segment`` plus the strategy columns.

    Raises
    ------
    ParameterError
        Integer labels whose count differs from the number of strategies, or labels that
        are not in the table.
    """
    if isinstance(segments, ClusterResult):
        segments = segments.labels
    if not isinstance(segments, pd.Series):
        raise parameter_error("segments", expected="a pandas Series or a ClusterResult",
                              found=type(segments).__name__)
    if strategies is None:
        table = Y5_STRATEGIES
    elif isinstance(strategies, Mapping):
        table = pd.DataFrame({"segment": list(strategies), "strategy": list(strategies.values())})
    else:
        table = check_frame(strategies, table="strategies", columns=["segment"])
    if table["segment"].duplicated().any():
        raise parameter_error("strategies", expected="one row per segment",
                              found=table.loc[table["segment"].duplicated(), "segment"].tolist())
    if pd.api.types.is_integer_dtype(segments):
        n_lab = int(segments.max()) + 1 if len(segments) else 0
        if n_lab > len(table) or segments.min() < 0:
            raise parameter_error("segments", expected=f"labels 0..{len(table) - 1} (one per strategy row)",
                                  found=f"labels {int(segments.min())}..{int(segments.max())}",
                                  fix="cluster with k equal to the number of strategies, or map labels to names")
        key = table["segment"].to_numpy()[segments.to_numpy()]
    else:
        key = segments.astype(object).to_numpy()
        unknown = sorted(set(pd.unique(key)) - set(table["segment"]), key=str)
        if unknown:
            raise parameter_error("segments", expected=f"segments among {table['segment'].tolist()}",
                                  found=unknown[:5])
    pos = pd.Index(table["segment"]).get_indexer(key)
    out = table.iloc[pos].reset_index(drop=True)
    out.index = segments.index
    return out


def rank_levels(
    segments: pd.Series | ClusterResult,
    *,
    k: int | None = None,
    levels: Sequence[str] = ("low", "normal", "high"),
) -> pd.Series:
    """Map ordered segment labels 0..k-1 onto ``levels`` (first -> lowest, last -> highest).

    Label ``i`` of ``k`` goes to ``levels[round(i * (L - 1) / (k - 1))]``: with k = 3 and
    three levels it is the identity; with k = 4 the two middle segments are ``normal``.
    Use it to give Y5's strategies to any number of segments.

    Returns
    -------
    Series
        The level name per customer, indexed like the labels.
    """
    if isinstance(segments, ClusterResult):
        k = segments.k if k is None else k
        segments = segments.labels
    if not isinstance(segments, pd.Series) or not pd.api.types.is_integer_dtype(segments):
        raise parameter_error("segments", expected="integer segment labels (a Series) or a ClusterResult",
                              found=type(segments).__name__)
    k = int(segments.max()) + 1 if k is None else k
    check_scalar(k, "k", kind=int, low=2)
    if len(levels) < 2:
        raise parameter_error("levels", expected="at least two level names", found=list(levels))
    pos = np.rint(np.arange(k) * (len(levels) - 1) / (k - 1)).astype(int)
    names = np.asarray(levels, dtype=object)[pos]
    lab = segments.to_numpy()
    if lab.min() < 0 or lab.max() >= k:
        raise parameter_error("segments", expected=f"labels 0..{k - 1}", found=f"{lab.min()}..{lab.max()}")
    return pd.Series(names[lab], index=segments.index, name="level")
