"""Exploratory factor analysis: adequacy, number of factors, extraction, rotation, scores.

:func:`factor_analysis` analyses any numeric frame (rows are observations), or a
correlation or covariance matrix with its number of observations (``n_obs``): KMO and
Bartlett adequacy (:func:`kmo`, :func:`bartlett`), the number of factors by Horn's
parallel analysis (:func:`parallel_analysis`; Kaiser's eigenvalue > 1 beside it), minres
or maximum-likelihood extraction, varimax / promax / oblimin / quartimax rotation,
communalities, variance explained and regression (Thurstone) factor-score weights. Its
numbers match R ``psych::fa`` (checked in ``tests/test_factors.py`` against psych 2.2.9 on
the ``bfi`` questionnaire to 1e-3). :func:`congruence` compares loadings with a reference.

Why not ``factor_analyzer.FactorAnalyzer``: its last release (0.5.1) calls scikit-learn's
``check_array(force_all_finite=...)``, removed in scikit-learn 1.8, so ``fit`` raises
``TypeError``. Extraction here is the same few lines of linear algebra psych uses (minimise
the residual correlations over the uniquenesses with L-BFGS-B, exact gradient); varimax
and promax follow R's ``stats::varimax`` and psych's Kaiser-normalised ``Promax``
(statsmodels' ``rotate_factors`` does quartimax and oblimin).

The engine under :mod:`dmkit.health` (the Y1 score), a method module above the contract.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from scipy import optimize, stats

from dmkit._results import Result, Summary, get_ax
from dmkit._validation import check_choice, check_frame, check_numeric, check_scalar
from dmkit.errors import parameter_error, schema_error

__all__ = [
    "FactorResult",
    "Method",
    "Rotation",
    "bartlett",
    "congruence",
    "factor_analysis",
    "kmo",
    "parallel_analysis",
]

Method = Literal["minres", "ml"]
Rotation = Literal["varimax", "promax", "oblimin", "quartimax", "none"]
_ROTATIONS = ("varimax", "promax", "oblimin", "quartimax", "none")
_ORTHOGONAL = ("varimax", "quartimax", "none")
_LOWER, _UPPER = 0.005, 1.0  # bounds on the uniquenesses, as psych and factanal

# ======================================================================================
# Adequacy and number of factors
# ======================================================================================


def kmo(corr: np.ndarray | pd.DataFrame) -> tuple[float, np.ndarray]:
    """Kaiser–Meyer–Olkin measure of sampling adequacy of a correlation matrix.

    Parameters
    ----------
    corr : array (p, p)
        A correlation matrix (invertible).

    Returns
    -------
    overall : float
        Sum of squared correlations over squared correlations plus squared partial
        correlations, off the diagonal. Above 0.6 is usually called adequate.
    per_item : ndarray (p,)
        The same ratio for each variable (its row).
    """
    r = np.asarray(corr, dtype=float)
    inv = np.linalg.inv(r)
    d = np.sqrt(np.diag(inv))
    partial = -inv / np.outer(d, d)
    off = ~np.eye(len(r), dtype=bool)
    r2 = np.where(off, r**2, 0.0)
    p2 = np.where(off, partial**2, 0.0)
    overall = r2.sum() / (r2.sum() + p2.sum())
    per_item = r2.sum(axis=0) / (r2.sum(axis=0) + p2.sum(axis=0))
    return float(overall), per_item


def bartlett(corr: np.ndarray | pd.DataFrame, n: int) -> tuple[float, int, float]:
    """Bartlett's test that a correlation matrix is the identity (sphericity).

    ``chi2 = -(n - 1 - (2p + 5) / 6) * log det R`` with ``p (p - 1) / 2`` degrees of freedom.

    Returns
    -------
    (chi2, dof, p_value)
    """
    r = np.asarray(corr, dtype=float)
    p = len(r)
    sign, logdet = np.linalg.slogdet(r)
    chi2 = -(n - 1 - (2 * p + 5) / 6) * logdet
    dof = p * (p - 1) // 2
    return float(chi2), int(dof), float(stats.chi2.sf(chi2, dof))


def _reduced_eigenvalues(r: np.ndarray) -> np.ndarray:
    """Eigenvalues of the reduced correlation matrix (squared multiple correlations on the diagonal)."""
    rr = r.copy()
    np.fill_diagonal(rr, _smc(r))
    return np.sort(np.linalg.eigvalsh(rr))[::-1]


def parallel_analysis(
    n: int, p: int, *, n_iter: int = 100, quantile: float = 0.95, seed: int = 0
) -> pd.DataFrame:
    """Eigenvalues of correlation matrices of random normal data (Horn's parallel analysis).

    Both kinds psych's ``fa.parallel`` shows: the eigenvalues of the correlation matrix
    (principal components) and of the reduced correlation matrix, with squared multiple
    correlations on the diagonal (common factors).

    Parameters
    ----------
    n, p : int
        Observations and variables of the real data.
    n_iter : int, default 100
        Random data sets.
    quantile : float, default 0.95
        The reference quantile (Glorfeld's 95th percentile).
    seed : int, default 0
        Seed.

    Returns
    -------
    DataFrame
        Index ``component`` (1..p); columns ``random_mean``, ``random_quantile`` (components)
        and ``random_reduced_mean``, ``random_reduced_quantile`` (factors).
    """
    from scipy.stats import wishart

    rng = np.random.default_rng(seed)
    ev = np.empty((n_iter, p))
    red = np.empty((n_iter, p))
    # the scatter matrix of n normal rows (mean removed) is Wishart(n - 1, I): drawing it
    # directly (Bartlett decomposition) costs O(p^2) whatever n is
    draws = wishart(df=n - 1, scale=np.eye(p)).rvs(size=n_iter, random_state=rng).reshape(n_iter, p, p)
    for i in range(n_iter):
        d = 1.0 / np.sqrt(np.diag(draws[i]))
        r = draws[i] * np.outer(d, d)
        ev[i] = np.sort(np.linalg.eigvalsh(r))[::-1]
        red[i] = _reduced_eigenvalues(r)
    return pd.DataFrame(
        {"random_mean": ev.mean(axis=0), "random_quantile": np.quantile(ev, quantile, axis=0),
         "random_reduced_mean": red.mean(axis=0),
         "random_reduced_quantile": np.quantile(red, quantile, axis=0)},
        index=pd.RangeIndex(1, p + 1, name="component"),
    )


def _n_above(observed: np.ndarray, reference: np.ndarray) -> int:
    """Leading eigenvalues above the reference, counted until the first that is not."""
    above = observed > reference
    return len(above) if above.all() else int(np.argmin(above))


# ======================================================================================
# Extraction and rotation (numpy core)
# ======================================================================================


def _smc(r: np.ndarray) -> np.ndarray:
    """Squared multiple correlations (1 - 1/diag(R^-1))."""
    return 1.0 - 1.0 / np.diag(np.linalg.inv(r))


def _uls_parts(psi: np.ndarray, r: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    vals, vecs = np.linalg.eigh(r - np.diag(psi))
    vals, vecs = vals[::-1], vecs[:, ::-1]
    load = vecs[:, :k] * np.sqrt(np.maximum(vals[:k], 0.0))
    resid = r - np.diag(psi) - load @ load.T
    return load, resid


def _extract_minres(r: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """Minimum-residual (ULS) loadings: minimise 0.5 * ||R - Psi - LL'||^2 over Psi."""

    def fun(psi):
        _, resid = _uls_parts(psi, r, k)
        return 0.5 * float(np.sum(resid**2)), -np.diag(resid).copy()

    start = np.clip(1.0 - _smc(r), _LOWER, _UPPER)
    res = optimize.minimize(fun, start, jac=True, method="L-BFGS-B",
                            bounds=[(_LOWER, _UPPER)] * len(r),
                            options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-10})
    load, _ = _uls_parts(res.x, r, k)
    return load, res.x, bool(res.success)


def _ml_parts(psi: np.ndarray, r: np.ndarray, k: int):
    sc = 1.0 / np.sqrt(psi)
    vals, vecs = np.linalg.eigh(r * np.outer(sc, sc))
    return vals[::-1], vecs[:, ::-1]


def _extract_ml(r: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """Maximum-likelihood loadings (the factanal objective and gradient)."""
    p = len(r)

    def fun(psi):
        vals, vecs = _ml_parts(psi, r, k)
        e = vals[k:]
        f = -(np.sum(np.log(e) - e) - k + p)
        load = np.sqrt(psi)[:, None] * vecs[:, :k] * np.sqrt(np.maximum(vals[:k] - 1.0, 0.0))
        g = load @ load.T + np.diag(psi) - r
        return float(f), np.diag(g) / psi**2

    start = np.clip((1.0 - 0.5 * k / p) / np.diag(np.linalg.inv(r)), _LOWER, _UPPER)
    res = optimize.minimize(fun, start, jac=True, method="L-BFGS-B",
                            bounds=[(_LOWER, _UPPER)] * p,
                            options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-10})
    vals, vecs = _ml_parts(res.x, r, k)
    load = np.sqrt(res.x)[:, None] * vecs[:, :k] * np.sqrt(np.maximum(vals[:k] - 1.0, 0.0))
    return load, res.x, bool(res.success)


def _varimax(x: np.ndarray, *, eps: float = 1e-5, max_iter: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Kaiser-normalised varimax, the algorithm and stopping rule of R's ``stats::varimax``.

    (statsmodels' ``rotate_factors(..., "varimax")`` reaches the same optimum without the
    row normalisation; this one reproduces R/psych, and SPSS-style Kaiser normalisation.)
    """
    sc = np.sqrt(np.sum(x**2, axis=1))
    sc[sc == 0] = 1.0
    xn = x / sc[:, None]
    p, k = xn.shape
    tt = np.eye(k)
    d = 0.0
    for _ in range(max_iter):
        z = xn @ tt
        b = xn.T @ (z**3 - z * (np.sum(z**2, axis=0) / p))
        u, s, vt = np.linalg.svd(b)
        tt = u @ vt
        d_past, d = d, float(np.sum(s))
        if d < d_past * (1 + eps):
            break
    return (xn @ tt) * sc[:, None], tt


def _promax(x: np.ndarray, *, power: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """psych's ``kaiser(x, "Promax")``: promax of the row-normalised loadings, rescaled.

    Returns the pattern loadings and the factor correlations Phi.
    """
    h = np.sqrt(np.sum(x**2, axis=1))
    h[h == 0] = 1.0
    v, tv = _varimax(x / h[:, None])
    q = v * np.abs(v) ** (power - 1)
    u = np.linalg.lstsq(v, q, rcond=None)[0]
    u = u @ np.diag(np.sqrt(np.diag(np.linalg.inv(u.T @ u))))
    ui = np.linalg.inv(tv @ u)
    return (v @ u) * h[:, None], ui @ ui.T


def _rotate(load: np.ndarray, rotation: str) -> tuple[np.ndarray, np.ndarray]:
    """Rotate ``load``; return rotated (pattern) loadings and factor correlations Phi.

    As psych: varimax and promax with Kaiser normalisation; quartimax and oblimin
    (gamma 0, oblique) from statsmodels' GPA without it.
    """
    k = load.shape[1]
    if rotation == "none" or k == 1:
        return load.copy(), np.eye(k)
    if rotation == "varimax":
        return _varimax(load)[0], np.eye(k)
    if rotation == "promax":
        return _promax(load)
    from statsmodels.multivariate.factor_rotation import rotate_factors

    if rotation == "oblimin":
        rot, t = rotate_factors(load, "oblimin", 0.0, "oblique")
        return rot, t.T @ t
    rot, _ = rotate_factors(load, rotation)
    return rot, np.eye(k)


# ======================================================================================
# Factor analysis result
# ======================================================================================


@dataclass(frozen=True)
class FactorResult(Result):
    """An exploratory factor analysis (see :func:`factor_analysis`).

    Attributes
    ----------
    loadings : DataFrame
        Indicators × factors (``F1``, ``F2``, ... in decreasing variance explained),
        rotated, each factor's sign set so that its loadings sum to >= 0.
    communalities, uniquenesses : Series
        Per indicator: sum of squared loadings (for oblique rotations, of the pattern
        times Phi), and ``1 - communality``.
    variance : DataFrame
        Per factor: ``ss_loadings``, ``proportion`` (of all indicators' variance),
        ``cumulative``, ``explained`` (share of the retained factors' variance; the
        weights of :func:`score`).
    phi : DataFrame
        Factor correlations (identity for orthogonal rotations).
    score_weights : DataFrame
        Indicators × factors, regression (Thurstone) weights ``R^-1 Λ Φ`` applied to
        standardised indicators to get factor scores.
    eigenvalues : DataFrame
        Per component: ``observed`` eigenvalue of the correlation matrix and the
        parallel-analysis ``random_mean`` and ``random_quantile``; ``observed_reduced``
        (SMC on the diagonal) with ``random_reduced_mean`` and ``random_reduced_quantile``.
    kmo, kmo_items, bartlett_chi2, bartlett_dof, bartlett_p : adequacy
    n_factors, n_factors_parallel, n_factors_parallel_pca, n_factors_kaiser : int
        Used; by parallel analysis of the reduced (factor) eigenvalues; of the component
        eigenvalues (Horn's original); by Kaiser's eigenvalue > 1. ``n_factors_rule`` says
        which chose ``n_factors`` (``"given"``, ``"parallel"``, ``"parallel_pca"``, ``"kaiser"``).
    center, scale : Series
        Means and standard deviations used to standardise the indicators (from a matrix:
        means NaN, standard deviations from its diagonal).
    dropped : dict
        Indicators dropped before the analysis and why (constant, collinear).
    """

    loadings: pd.DataFrame
    communalities: pd.Series
    uniquenesses: pd.Series
    variance: pd.DataFrame
    phi: pd.DataFrame
    score_weights: pd.DataFrame
    eigenvalues: pd.DataFrame
    corr: pd.DataFrame
    kmo: float
    kmo_items: pd.Series
    bartlett_chi2: float
    bartlett_dof: int
    bartlett_p: float
    n_obs: int
    n_factors: int
    n_factors_parallel: int
    n_factors_parallel_pca: int
    n_factors_kaiser: int
    n_factors_rule: str
    method: str
    rotation: str
    converged: bool
    center: pd.Series
    scale: pd.Series
    dropped: dict = field(default_factory=dict)

    @property
    def indicators(self) -> list[str]:
        """The indicators analysed (after drops)."""
        return list(self.loadings.index)

    @property
    def weights(self) -> pd.Series:
        """Each factor's share of the explained variance (sums to 1)."""
        return self.variance["explained"]

    def transform(self, data: pd.DataFrame) -> pd.DataFrame:
        """Factor scores of ``data`` (same indicator columns) with this fit's standardisation.

        Returns
        -------
        DataFrame
            Same index as ``data``; one column per factor.
        """
        if self.center.isna().any():
            raise parameter_error("data", expected="a factor analysis of raw rows for factor scores",
                                  found="a fit from a correlation/covariance matrix (n_obs=), which has no means",
                                  fix="standardise the data yourself and multiply by score_weights, "
                                      "or fit on the raw rows")
        check_numeric(data, self.indicators, table="data")
        z = (data[self.indicators] - self.center) / self.scale
        return pd.DataFrame(z.to_numpy() @ self.score_weights.to_numpy(), index=data.index,
                            columns=self.loadings.columns)

    def notes(self) -> list[str]:
        """Warnings and diagnostics for the summary."""
        out = []
        if self.kmo < 0.6:
            out.append(f"WARNING: KMO = {self.kmo:.3f} < 0.6: the indicators share too little "
                       "common variance for a reliable factor analysis.")
        if self.bartlett_p > 0.05:
            out.append(f"WARNING: Bartlett's test p = {self.bartlett_p:.3g} > 0.05: the "
                       "correlations may be no different from zero.")
        for name, why in self.dropped.items():
            out.append(f"indicator {name!r} dropped: {why}.")
        if not self.converged:
            out.append("WARNING: the extraction did not fully converge.")
        heywood = self.uniquenesses.index[self.uniquenesses <= _LOWER + 1e-6].tolist()
        if heywood:
            out.append(f"Heywood case: uniqueness at the lower bound for {heywood}.")
        return out

    def to_frame(self) -> pd.DataFrame:
        """Loadings with communality and uniqueness columns."""
        out = self.loadings.copy()
        out["communality"] = self.communalities
        out["uniqueness"] = self.uniquenesses
        return out

    def summary(self) -> Summary:
        """Adequacy, the number of factors, loadings and variance explained."""
        adequacy = pd.DataFrame(
            {"value": [self.kmo, self.bartlett_chi2, self.bartlett_dof, self.bartlett_p, self.n_obs]},
            index=["KMO", "Bartlett chi2", "Bartlett dof", "Bartlett p", "observations"],
        )
        nf = pd.DataFrame(
            {"n_factors": [self.n_factors, self.n_factors_parallel, self.n_factors_parallel_pca,
                           self.n_factors_kaiser]},
            index=[f"used ({self.n_factors_rule})", "parallel analysis (factors)",
                   "parallel analysis (components)", "Kaiser (eigenvalue > 1)"])
        tables = [("adequacy", adequacy), ("number of factors", nf),
                  (f"loadings ({self.method}, {self.rotation})", self.to_frame()),
                  ("variance explained", self.variance)]
        return Summary(f"Factor analysis of {len(self.indicators)} indicators", tuple(tables),
                       tuple(self.notes()))

    def plot(self, ax=None, *, kind: Literal["scree", "loadings"] = "scree"):
        """Scree plot with the parallel-analysis line (``kind="scree"``) or a loadings heatmap."""
        check_choice(kind, "kind", ("scree", "loadings"))
        return self.plot_scree(ax) if kind == "scree" else self.plot_loadings(ax)

    def plot_scree(self, ax=None):
        """Scree plot as psych's ``fa.parallel``: component and factor eigenvalues, each with
        its parallel-analysis line (95% of random data), and Kaiser's line at 1."""
        ax = get_ax(ax)
        ev = self.eigenvalues
        ax.plot(ev.index, ev["observed"], "o-", color="tab:blue", label="components (observed)")
        ax.plot(ev.index, ev["random_quantile"], "--", color="tab:blue", alpha=0.6,
                label="components (random, 95%)")
        ax.plot(ev.index, ev["observed_reduced"], "^-", color="tab:orange", label="factors (observed)")
        ax.plot(ev.index, ev["random_reduced_quantile"], "--", color="tab:orange", alpha=0.6,
                label="factors (random, 95%)")
        ax.axhline(1.0, color="red", lw=0.8, ls=":", label="Kaiser (eigenvalue = 1)")
        ax.axvline(self.n_factors + 0.5, color="black", lw=0.6)
        ax.set_xlabel("component / factor")
        ax.set_ylabel("eigenvalue")
        ax.set_title(f"Scree and parallel analysis: {self.n_factors} factor(s) ({self.n_factors_rule})")
        ax.legend(fontsize=8)
        return ax

    def plot_loadings(self, ax=None):
        """Heatmap of the rotated loadings, annotated."""
        ax = get_ax(ax, figsize=(1.4 * self.n_factors + 4, 0.45 * len(self.indicators) + 1.5))
        lo = self.loadings
        im = ax.imshow(lo.to_numpy(), cmap="RdBu_r", vmin=-1, vmax=1, aspect="auto")
        ax.set_xticks(range(lo.shape[1]), lo.columns)
        ax.set_yticks(range(lo.shape[0]), lo.index)
        for i in range(lo.shape[0]):
            for j in range(lo.shape[1]):
                ax.text(j, i, f"{lo.iat[i, j]:.2f}", ha="center", va="center", fontsize=8)
        ax.figure.colorbar(im, ax=ax, fraction=0.05)
        ax.set_title(f"Loadings ({self.rotation})")
        return ax


def _drop_degenerate(x: pd.DataFrame, *, tol: float = 1e-8) -> tuple[pd.DataFrame, dict]:
    """Drop constant columns, then columns linearly dependent on earlier ones; say why."""
    dropped: dict[str, str] = {}
    sd = x.std(ddof=1)
    for c in x.columns:
        if not np.isfinite(sd[c]) or sd[c] <= tol * max(1.0, abs(float(x[c].mean()))):
            dropped[c] = "constant (zero variance)"
    live = [c for c in x.columns if c not in dropped]
    r_all = pd.DataFrame(np.corrcoef(x[live].to_numpy(dtype=float), rowvar=False).reshape(len(live), len(live)),
                         index=live, columns=live)
    keep = _drop_collinear(r_all, dropped, tol=tol)
    return x[keep], dropped


def _drop_collinear(r_all: pd.DataFrame, dropped: dict, *, tol: float = 1e-8) -> list[str]:
    """The indicators of a correlation matrix kept after dropping (in ``dropped``, with a
    warning) each one linearly dependent on earlier ones."""
    keep: list[str] = []
    for c in r_all.columns:
        cand = keep + [c]
        if len(cand) > 1 and np.linalg.eigvalsh(r_all.loc[cand, cand].to_numpy())[0] < tol:
            partners = [k for k in keep if abs(r_all.at[k, c]) > 1 - 1e-6]
            dropped[c] = (f"perfectly correlated with {partners[0]!r}" if partners
                          else f"a linear combination of {keep}")
            continue
        keep.append(c)
    for c, why in dropped.items():
        warnings.warn(f"indicator {c!r} dropped from the factor analysis: {why}", UserWarning, stacklevel=4)
    return keep


def _from_matrix(data: pd.DataFrame, indicators: list[str] | None, n_obs: int,
                 tol: float = 1e-8) -> tuple[pd.DataFrame, pd.Series, dict]:
    """A correlation or covariance matrix checked and turned into (correlation, sd, dropped).

    ``sd`` holds the standard deviations (all 1 for a correlation matrix).
    """
    check_frame(data, table="matrix", min_rows=1)
    check_scalar(n_obs, "n_obs", kind=int, low=2)
    rows, cols = [str(i) for i in data.index], [str(c) for c in data.columns]
    if data.shape[0] != data.shape[1] or rows != cols:
        raise schema_error(table="matrix", column=None,
                           expected="a square correlation or covariance matrix with the same labels on "
                                    "its index and columns (n_obs given)",
                           found=f"shape {data.shape}, index {rows[:4]}, columns {cols[:4]}",
                           fix="set the variable names as both index and columns (df.set_index(...)), "
                               "or leave n_obs out to analyse raw rows")
    m = data.copy()
    m.index, m.columns = cols, cols
    if indicators is not None:
        missing = [c for c in indicators if c not in cols]
        if missing:
            raise schema_error(table="matrix", column=missing[0], expected="indicators of the matrix",
                               found=f"missing {missing}")
        m = m.loc[list(indicators), list(indicators)]
    for c in m.columns:
        if not pd.api.types.is_numeric_dtype(m[c]):
            raise schema_error(table="matrix", column=c, expected="numeric entries", found=f"dtype {m[c].dtype}")
    a = m.to_numpy(dtype=float)
    if not np.isfinite(a).all():
        j = int(np.flatnonzero(~np.isfinite(a).all(axis=0))[0])
        raise schema_error(table="matrix", column=m.columns[j], expected="finite entries", found="NaN or inf",
                           fix="a matrix with missing entries cannot be factored; use pairwise-complete "
                               "correlations computed from the data")
    asym = np.abs(a - a.T)
    if asym.max() > 1e-6 * max(1.0, np.abs(a).max()):
        i, j = np.unravel_index(int(np.argmax(asym)), a.shape)
        raise schema_error(table="matrix", column=m.columns[j], expected="a symmetric matrix",
                           found=f"[{m.index[i]!r}, {m.columns[j]!r}] = {a[i, j]:.6g} but "
                                 f"[{m.index[j]!r}, {m.columns[i]!r}] = {a[j, i]:.6g}",
                           fix="check the matrix was transcribed whole (a lower triangle needs mirroring)")
    a = (a + a.T) / 2
    diag = np.diag(a).copy()
    dropped: dict[str, str] = {}
    for c, v in zip(m.columns, diag, strict=True):
        if v <= tol * max(1.0, diag.max()):
            if v < -tol:
                raise schema_error(table="matrix", column=c, expected="non-negative variances on the diagonal",
                                   found=f"{v:.6g}")
            dropped[c] = "constant (zero variance)"
    live = [i for i, c in enumerate(m.columns) if c not in dropped]
    sd = np.sqrt(diag[live])
    r = a[np.ix_(live, live)] / np.outer(sd, sd)
    if np.abs(r[~np.eye(len(r), dtype=bool)]).max(initial=0.0) > 1 + 1e-6:
        raise schema_error(table="matrix", column=None, expected="correlations within [-1, 1]",
                           found=f"{np.abs(r).max():.6g}", fix="check the matrix and its diagonal")
    np.fill_diagonal(r, 1.0)
    names = [m.columns[i] for i in live]
    if np.linalg.eigvalsh(r)[0] < -1e-6:
        raise schema_error(table="matrix", column=None, expected="a positive semi-definite matrix",
                           found=f"smallest eigenvalue {np.linalg.eigvalsh(r)[0]:.4g}",
                           fix="a matrix of pairwise correlations or a rounded one can be indefinite; "
                               "smooth it first (e.g. nearest correlation matrix)")
    rf = pd.DataFrame(r, index=names, columns=names)
    keep = _drop_collinear(rf, dropped, tol=tol)
    return rf.loc[keep, keep], pd.Series(sd, index=names).loc[keep], dropped


def factor_analysis(
    data: pd.DataFrame,
    *,
    indicators: Sequence[str] | None = None,
    n_factors: int | Literal["parallel", "parallel_pca", "kaiser"] | None = None,
    method: Method = "minres",
    rotation: Rotation = "varimax",
    n_iter: int = 100,
    seed: int = 0,
    n_obs: int | None = None,
) -> FactorResult:
    """Exploratory factor analysis of the numeric columns of ``data`` (rows = observations),
    or of a correlation or covariance matrix of ``n_obs`` observations.

    Parameters
    ----------
    data : DataFrame
        Observations × indicators; NaN/inf not allowed. With ``n_obs``: a correlation or
        covariance matrix (square, the indicator names as both index and columns; a
        covariance matrix is scaled to correlations), as published factor-analysis data
        often is — R psych's ``fa(r, n.obs=)``, factanal's ``covmat``.
    indicators : list of str, optional
        Columns to analyse (default: all numeric columns; with ``n_obs``, all of the matrix).
    n_factors : int, "parallel", "parallel_pca", "kaiser" or None, default None
        Number of factors. None or "parallel": Horn's parallel analysis on the reduced
        correlation matrix (the leading factor eigenvalues above the 95th percentile of
        random data's, as psych's ``fa.parallel`` for factors); "parallel_pca": the same on
        the component eigenvalues (Horn's original, which misses factors with few strong
        indicators); "kaiser": component eigenvalues > 1.
    method : {"minres", "ml"}, default "minres"
        Minimum residual (unweighted least squares, psych's default) or maximum likelihood.
    rotation : {"varimax", "promax", "oblimin", "quartimax", "none"}, default "varimax"
        Kaiser-normalised rotation (promax power 4, oblimin with gamma 0).
    n_iter : int, default 100
        Random data sets for parallel analysis.
    seed : int, default 0
        Seed of parallel analysis.
    n_obs : int, optional
        Observations behind the matrix ``data``; given, ``data`` is read as a matrix.
        Bartlett's test, parallel analysis and the summary use it; the loadings,
        communalities, KMO and score weights depend on the matrix alone, so they equal
        those of the raw data the matrix came from.

    Returns
    -------
    FactorResult
        From a matrix: ``center`` is NaN (and ``scale`` the standard deviations, 1 for a
        correlation matrix), so :meth:`FactorResult.transform` needs a raw-data fit.

    Raises
    ------
    SchemaError
        Missing or non-numeric indicator, NaN/inf, fewer observations than indicators, or
        fewer than 3 usable indicators; with ``n_obs``, a matrix that is not square with the
        same labels on both sides, not symmetric, not positive semi-definite, or holds
        correlations outside [-1, 1].
    ParameterError
        Bad ``n_factors``, ``method``, ``rotation``.

    Warns
    -----
    UserWarning
        Naming each constant or perfectly collinear indicator that is dropped.
    """
    check_choice(method, "method", ("minres", "ml"))
    check_choice(rotation, "rotation", _ROTATIONS)
    check_scalar(n_iter, "n_iter", kind=int, low=10)
    if n_obs is not None:
        rf, scale, dropped = _from_matrix(data, None if indicators is None else list(indicators), n_obs)
        table, n, items = "matrix", int(n_obs), list(rf.columns)
        if n <= len(rf) + len(dropped):
            raise schema_error(table="matrix", column=None,
                               expected=f"more observations (n_obs) than indicators ({len(rf) + len(dropped)})",
                               found=f"n_obs = {n}", fix="check n_obs, or use fewer indicators")
        center = pd.Series(np.nan, index=items)
        r = rf.to_numpy()
    else:
        check_frame(data, table="data", min_rows=1)
        if indicators is None:
            indicators = [c for c in data.columns
                          if pd.api.types.is_numeric_dtype(data[c]) and not pd.api.types.is_bool_dtype(data[c])]
        indicators = list(indicators)
        check_numeric(data, indicators, table="data")
        x = data[indicators].astype(float)
        if len(x) <= len(indicators):
            raise schema_error(table="data", column=None,
                               expected=f"more observations (rows) than indicators ({len(indicators)})",
                               found=f"{len(x)} rows",
                               fix="pool more units (e.g. all services and months) or use fewer indicators; "
                                   "a correlation or covariance matrix goes in with n_obs=")
        x, dropped = _drop_degenerate(x)
        table, n, items = "data", len(x), list(x.columns)
        center, scale = x.mean(), x.std(ddof=1)
        r = np.corrcoef(x.to_numpy(), rowvar=False)
    p = len(items)
    if p < 3:
        raise schema_error(table=table, column=None, expected="at least 3 usable indicators",
                           found=f"{p} ({items}) after dropping {list(dropped)}",
                           fix="add indicators; a factor needs three or more to be identified")
    k_overall, k_items = kmo(r)
    chi2, dof, pval = bartlett(r, n)
    observed = np.sort(np.linalg.eigvalsh(r))[::-1]
    reduced = _reduced_eigenvalues(r)
    pa = parallel_analysis(n, p, n_iter=n_iter, seed=seed)
    n_par = min(max(_n_above(reduced, pa["random_reduced_quantile"].to_numpy()), 1), p - 1)
    n_pca = min(max(_n_above(observed, pa["random_quantile"].to_numpy()), 1), p - 1)
    n_kai = min(max(int(np.sum(observed > 1.0)), 1), p - 1)
    rules = {None: (n_par, "parallel"), "parallel": (n_par, "parallel"),
             "parallel_pca": (n_pca, "parallel_pca"), "kaiser": (n_kai, "kaiser")}
    if n_factors is None or isinstance(n_factors, str):
        if n_factors not in rules:
            raise parameter_error("n_factors", expected="an int, 'parallel', 'parallel_pca', 'kaiser' or None",
                                  found=n_factors)
        k, rule = rules[n_factors]
    else:
        check_scalar(n_factors, "n_factors", kind=int, low=1, high=p - 1)
        k, rule = int(n_factors), "given"
    extract = _extract_minres if method == "minres" else _extract_ml
    load, _psi, ok = extract(r, k)
    rotated, phi = _rotate(load, rotation)
    # as psych: sign so that each factor's loadings sum >= 0, then order by variance explained
    sign = np.where(rotated.sum(axis=0) < 0, -1.0, 1.0)
    rotated = rotated * sign
    phi = phi * np.outer(sign, sign)
    ss = np.diag(phi @ rotated.T @ rotated)
    order = np.argsort(-ss, kind="stable")
    rotated, phi, ss = rotated[:, order], phi[np.ix_(order, order)], ss[order]
    structure = rotated @ phi
    communality = np.sum(rotated * structure, axis=1)
    names = [f"F{i + 1}" for i in range(k)]
    idx = pd.Index(items, name="indicator")
    fidx = pd.Index(names, name="factor")
    variance = pd.DataFrame({"ss_loadings": ss, "proportion": ss / p}, index=fidx)
    variance["cumulative"] = variance["proportion"].cumsum()
    variance["explained"] = ss / ss.sum()
    weights = np.linalg.solve(r, structure)
    return FactorResult(
        loadings=pd.DataFrame(rotated, index=idx, columns=fidx),
        communalities=pd.Series(communality, index=idx, name="communality"),
        uniquenesses=pd.Series(1.0 - communality, index=idx, name="uniqueness"),
        variance=variance,
        phi=pd.DataFrame(phi, index=fidx, columns=fidx),
        score_weights=pd.DataFrame(weights, index=idx, columns=fidx),
        eigenvalues=pa.assign(observed=observed, observed_reduced=reduced)[
            ["observed", "random_mean", "random_quantile", "observed_reduced", "random_reduced_mean",
             "random_reduced_quantile"]],
        corr=pd.DataFrame(r, index=idx, columns=idx),
        kmo=k_overall,
        kmo_items=pd.Series(k_items, index=idx, name="kmo"),
        bartlett_chi2=chi2, bartlett_dof=dof, bartlett_p=pval,
        n_obs=n, n_factors=k, n_factors_parallel=n_par, n_factors_parallel_pca=n_pca,
        n_factors_kaiser=n_kai, n_factors_rule=rule,
        method=method, rotation=rotation, converged=ok,
        center=center.set_axis(idx), scale=scale.set_axis(idx), dropped=dropped,
    )


def congruence(estimated: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Tucker's congruence between two loading matrices after matching factors.

    Factors of ``estimated`` are matched one-to-one to those of ``reference`` (rows
    aligned on the index) to maximise total absolute congruence (Hungarian algorithm),
    and signs are flipped to make each matched congruence positive.

    Returns
    -------
    DataFrame
        One row per reference factor: ``reference``, ``estimated`` (the matched factor),
        ``sign`` (+1 / -1) and ``congruence`` (phi = Σab / sqrt(Σa² Σb²)).
    """
    from scipy.optimize import linear_sum_assignment

    common = [i for i in reference.index if i in estimated.index]
    if len(common) < 2:
        raise parameter_error("estimated", expected="loadings sharing the reference's row labels",
                              found=list(estimated.index)[:8])
    a = estimated.loc[common].to_numpy(dtype=float)
    b = reference.loc[common].to_numpy(dtype=float)
    phi = (a.T @ b) / np.sqrt(np.outer((a**2).sum(0), (b**2).sum(0)))
    rows, cols = linear_sum_assignment(-np.abs(phi))
    out = [{"reference": reference.columns[j], "estimated": estimated.columns[i],
            "sign": int(np.sign(phi[i, j]) or 1), "congruence": abs(phi[i, j])}
           for i, j in zip(rows, cols, strict=True)]
    return pd.DataFrame(out).sort_values("reference", key=lambda s: s.map(list(reference.columns).index),
                                         ignore_index=True)
