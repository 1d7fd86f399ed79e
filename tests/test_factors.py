"""dmkit.factors: exploratory factor analysis against R psych, factor-analyzer and by hand."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from dmkit import factors
from dmkit.errors import ParameterError, SchemaError

DATA = Path(__file__).parent / "data"
TOL = 1e-3  # the bar; the measured agreement is ~1e-5


# --------------------------------------------------------------------------------------
# Reference: R psych 2.2.9 on the bfi questionnaire (tests/data/bfi_reference.R)
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bfi() -> pd.DataFrame:
    return pd.read_csv(DATA / "bfi25.csv.gz")


@pytest.fixture(scope="module")
def r_loadings() -> pd.DataFrame:
    return pd.read_csv(DATA / "bfi_loadings.csv")


@pytest.fixture(scope="module")
def r_variance() -> pd.DataFrame:
    return pd.read_csv(DATA / "bfi_variance.csv")


def test_bfi_data_is_the_complete_case_questionnaire(bfi):
    assert bfi.shape == (2436, 25)
    assert list(bfi.columns[:5]) == ["A1", "A2", "A3", "A4", "A5"]
    assert bfi.min().min() == 1 and bfi.max().max() == 6  # six-point Likert items


def test_kmo_and_bartlett_match_r_psych(bfi):
    ref_kmo = pd.read_csv(DATA / "bfi_kmo.csv").set_index("item")["msa"]
    ref_b = pd.read_csv(DATA / "bfi_bartlett.csv").iloc[0]
    res = factors.factor_analysis(bfi, n_factors=5, n_iter=10)
    assert abs(res.kmo - ref_kmo["overall"]) < TOL
    assert_allclose(res.kmo_items.to_numpy(), ref_kmo.drop("overall").loc[bfi.columns].to_numpy(), atol=TOL)
    assert abs(res.bartlett_chi2 - ref_b["chisq"]) < TOL
    assert res.bartlett_dof == ref_b["df"] == 300
    assert res.bartlett_p < 1e-300
    ref_eig = pd.read_csv(DATA / "bfi_eigen.csv")["eigen"].to_numpy()
    assert_allclose(res.eigenvalues["observed"].to_numpy(), ref_eig, atol=1e-8)


def test_kmo_and_bartlett_match_factor_analyzer(bfi):
    # an independent implementation (factor-analyzer's functions still work with sklearn 1.9)
    fa = pytest.importorskip("factor_analyzer.factor_analyzer")
    items, overall = fa.calculate_kmo(bfi)
    chi2, p = fa.calculate_bartlett_sphericity(bfi)
    r = np.corrcoef(bfi.to_numpy(float), rowvar=False)
    mine, mine_items = factors.kmo(r)
    assert_allclose(mine, overall, atol=1e-10)
    assert_allclose(mine_items, items, atol=1e-10)
    assert_allclose(factors.bartlett(r, len(bfi))[0], chi2, rtol=1e-10)


@pytest.mark.parametrize("method", ["minres", "ml"])
@pytest.mark.parametrize("rotation", ["none", "varimax", "promax"])
@pytest.mark.parametrize("n_factors", [3, 5])
def test_loadings_and_variance_match_r_psych(bfi, r_loadings, r_variance, method, rotation, n_factors):
    res = factors.factor_analysis(bfi, n_factors=n_factors, method=method, rotation=rotation, n_iter=10)
    sel = (r_loadings.fm == method) & (r_loadings.rotation == rotation) & (r_loadings.nfactors == n_factors)
    ref = r_loadings[sel].pivot(index="item", columns="factor", values="loading").loc[bfi.columns]
    assert res.loadings.shape == ref.shape
    assert np.abs(res.loadings.to_numpy() - ref.to_numpy()).max() < TOL
    comm = r_loadings[sel].groupby("item")["communality"].first().loc[bfi.columns]
    assert np.abs(res.communalities.to_numpy() - comm.to_numpy()).max() < TOL
    v = r_variance[(r_variance.fm == method) & (r_variance.rotation == rotation)
                   & (r_variance.nfactors == n_factors)].sort_values("factor")
    for ours, theirs in [("ss_loadings", "ss_loadings"), ("proportion", "proportion"),
                         ("cumulative", "cumulative"), ("explained", "explained")]:
        assert np.abs(res.variance[ours].to_numpy() - v[theirs].to_numpy()).max() < TOL, ours
    assert res.converged


@pytest.mark.parametrize("method", ["minres", "ml"])
def test_regression_scores_match_r_psych(bfi, method):
    res = factors.factor_analysis(bfi, n_factors=5, method=method, rotation="varimax", n_iter=10)
    ref = pd.read_csv(DATA / f"bfi_scores_{method}_varimax_5.csv").to_numpy()
    ours = res.transform(bfi).iloc[:20].to_numpy()
    assert np.abs(ours - ref).max() < TOL


def test_parallel_analysis_matches_brute_force_simulation():
    # dmkit draws the random correlation matrices from a Wishart; compare with simulating data
    a = factors.parallel_analysis(300, 8, n_iter=400, seed=1)
    rng = np.random.default_rng(2)
    ev = np.array([np.sort(np.linalg.eigvalsh(np.corrcoef(rng.standard_normal((300, 8)), rowvar=False)))[::-1]
                   for _ in range(400)])
    assert_allclose(a["random_mean"], ev.mean(axis=0), atol=0.01)
    assert_allclose(a["random_quantile"], np.quantile(ev, 0.95, axis=0), atol=0.03)


def test_parallel_analysis_is_reproducible_and_decreasing():
    a = factors.parallel_analysis(500, 8, n_iter=30, seed=3)
    b = factors.parallel_analysis(500, 8, n_iter=30, seed=3)
    pd.testing.assert_frame_equal(a, b)
    assert (np.diff(a["random_mean"]) < 0).all()
    assert (a["random_quantile"] >= a["random_mean"]).all()
    # random eigenvalues of a correlation matrix average 1
    assert abs(a["random_mean"].mean() - 1) < 1e-9


def test_congruence_matches_hand_computation():
    a = pd.DataFrame([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0]], columns=["x", "y"])
    b = pd.DataFrame([[0.0, -1.0], [0.1, -0.5], [1.0, 0.0]], columns=["p", "q"])
    c = factors.congruence(a, b).set_index("reference")
    assert c.loc["q", "estimated"] == "x" and c.loc["q", "sign"] == -1
    assert c.loc["q", "congruence"] == pytest.approx(1.5 / np.sqrt(2.0 * 1.25))
    assert c.loc["p", "estimated"] == "y"
    assert c.loc["p", "congruence"] == pytest.approx(1.01 / np.sqrt(1.01 * 1.01))


# --------------------------------------------------------------------------------------
# From a correlation or covariance matrix with n_obs (published data often comes so)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["corr", "cov"])
@pytest.mark.parametrize(("method", "rotation"), [("minres", "varimax"), ("ml", "promax")])
def test_matrix_input_matches_raw_data_and_r_psych(bfi, r_loadings, kind, method, rotation):
    matrix = bfi.corr() if kind == "corr" else bfi.cov()
    res = factors.factor_analysis(matrix, n_obs=len(bfi), n_factors=5, method=method, rotation=rotation,
                                  n_iter=10)
    raw = factors.factor_analysis(bfi, n_factors=5, method=method, rotation=rotation, n_iter=10)
    assert_allclose(res.loadings.to_numpy(), raw.loadings.to_numpy(), atol=1e-8)
    assert_allclose(res.score_weights.to_numpy(), raw.score_weights.to_numpy(), atol=1e-8)
    # and so R psych's fa on the raw rows
    sel = (r_loadings.fm == method) & (r_loadings.rotation == rotation) & (r_loadings.nfactors == 5)
    ref = r_loadings[sel].pivot(index="item", columns="factor", values="loading").loc[bfi.columns]
    assert np.abs(res.loadings.to_numpy() - ref.to_numpy()).max() < TOL
    # adequacy from the matrix and n_obs, as R psych's KMO and cortest.bartlett
    ref_kmo = pd.read_csv(DATA / "bfi_kmo.csv").set_index("item")["msa"]
    ref_b = pd.read_csv(DATA / "bfi_bartlett.csv").iloc[0]
    assert abs(res.kmo - ref_kmo["overall"]) < TOL
    assert abs(res.bartlett_chi2 - ref_b["chisq"]) < TOL and res.bartlett_dof == 300
    assert res.n_obs == len(bfi) and res.n_factors_parallel == raw.n_factors_parallel
    if kind == "cov":
        assert_allclose(res.scale.to_numpy(), bfi.std(ddof=1).to_numpy())
    with pytest.raises(ParameterError, match="raw rows"):
        res.transform(bfi)


def test_matrix_input_matches_r_factanal_covmat():
    # R: cm = 0.4^abs(outer(0:5, 0:5, "-")); factanal(covmat=cm, factors=2, n.obs=100)
    # uniquenesses 0.782 0.367 0.696 0.696 0.367 0.782 (statsmodels' test_ml_factor.py quotes R)
    i = np.arange(6)
    names = [f"x{k}" for k in i]
    cm = pd.DataFrame(0.4 ** np.abs(np.subtract.outer(i, i)), index=names, columns=names)
    res = factors.factor_analysis(cm, n_obs=100, n_factors=2, method="ml", rotation="varimax", n_iter=10)
    assert_allclose(res.uniquenesses.to_numpy(), [0.782, 0.367, 0.696, 0.696, 0.367, 0.782], atol=1e-3)
    # unrotated loadings against statsmodels' ML factor analysis of the same matrix (independent code)
    from statsmodels.multivariate.factor import Factor

    sm = Factor(corr=cm.to_numpy(), n_factor=2, nobs=100, method="ml").fit()
    ours = factors.factor_analysis(cm, n_obs=100, n_factors=2, method="ml", rotation="none", n_iter=10)
    c = factors.congruence(ours.loadings, pd.DataFrame(sm.loadings, index=names, columns=["a", "b"]))
    assert (c["congruence"] > 0.999).all()
    assert_allclose(ours.uniquenesses.to_numpy(), sm.uniqueness, atol=1e-3)


def test_matrix_input_errors():
    i = np.arange(4)
    names = list("abcd")
    r = pd.DataFrame(0.5 ** np.abs(np.subtract.outer(i, i)), index=names, columns=names)
    with pytest.raises(SchemaError, match=r"table 'matrix'.*square.*same labels"):
        factors.factor_analysis(r.iloc[:3], n_obs=100)
    with pytest.raises(SchemaError, match=r"table 'matrix'.*square.*same labels"):
        factors.factor_analysis(r.reset_index(drop=True), n_obs=100)
    asym = r.copy()
    asym.iloc[0, 1] = 0.9
    with pytest.raises(SchemaError, match=r"symmetric.*\['a', 'b'\] = 0.9"):
        factors.factor_analysis(asym, n_obs=100)
    bad = r.copy()
    bad.iloc[0, 3] = bad.iloc[3, 0] = -0.95  # indefinite
    with pytest.raises(SchemaError, match="positive semi-definite"):
        factors.factor_analysis(bad, n_obs=100)
    with pytest.raises(SchemaError, match="more observations"):
        factors.factor_analysis(r, n_obs=4)
    with pytest.raises(ParameterError, match="n_obs"):
        factors.factor_analysis(r, n_obs=2.5)
    dup = r.assign(e=r["a"])
    dup.loc["e"] = dup.loc["a"].tolist()
    dup.loc["e", "e"] = 1.0
    with pytest.warns(UserWarning, match="'e' dropped.*perfectly correlated with 'a'"):
        res = factors.factor_analysis(dup, n_obs=100, n_factors=1, n_iter=10)
    assert res.indicators == names
