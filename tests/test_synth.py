"""The province simulator: contract, determinism, and every planted structure visible in the data.

Expected values come from the case studies (CASES.md) or are recomputed here independently
from the tables; tolerances scale with the number of users involved (about 4 standard errors).
"""
from __future__ import annotations

import itertools
import os

import numpy as np
import pandas as pd
import pytest

import dmkit as dm
from dmkit import catalog, schema
from dmkit.errors import DataNotFoundError, ParameterError, SchemaError

N = 20_000
MONTH = "2009-06"
T_END = pd.Timestamp("2009-07-01")


@pytest.fixture(scope="module")
def data():
    return dm.synth.generate("jiangsu", MONTH, N, 7)


@pytest.fixture(scope="module")
def last(data):
    return data.usage[data.usage["month"] == MONTH].set_index("user_id").sort_index()


def _tol(p, n, k=4.0):
    return k * np.sqrt(max(p * (1 - p), 1e-12) / max(n, 1))


def _ever(subs, service, n=N):
    m = np.zeros(n, dtype=bool)
    m[subs.loc[subs["service"] == service, "user_id"].to_numpy()] = True
    return m


def _active(subs, service, n=N):
    s = subs[(subs["service"] == service) & (subs["start"] < T_END)
             & (subs["end"].isna() | (subs["end"] >= T_END))]
    m = np.zeros(n, dtype=bool)
    m[s["user_id"].to_numpy()] = True
    return m


# -- contract -------------------------------------------------------------------------------

def test_every_table_passes_the_schema(data):
    assert set(data.tables()) == set(schema.TABLES)
    for name, df in data.tables().items():
        schema.validate(df, name)


@pytest.mark.parametrize("province,n_regions", [("yunnan", 16), ("guangdong", 21), ("national", 31)])
def test_other_profiles_pass_the_schema(province, n_regions):
    d = dm.synth.generate(province, "2009-05", 3_000, 1, n_months=3)
    for name, df in d.tables().items():
        schema.validate(df, name)
    assert d.kpis["region"].nunique() == n_regions
    assert d.users["prefecture"].nunique() <= n_regions
    assert sorted(d.usage["month"].unique()) == ["2009-03", "2009-04", "2009-05"]
    if province == "guangdong":
        assert d.users["prefecture"].value_counts().index[0] == "Guangzhou"


def test_meta_months_and_sizes(data):
    assert data.meta["months"] == ["2009-01", "2009-02", "2009-03", "2009-04", "2009-05", "2009-06"]
    assert len(data.users) == N and len(data.usage) == 6 * N
    assert data.truth.months == tuple(data.meta["months"])
    assert data.truth.n_users == N and data.truth.seed == 7


def test_same_seed_same_tables_other_seed_other_tables():
    a = dm.synth.generate("yunnan", "2009-05", 2_000, 3, n_months=2)
    b = dm.synth.generate("yunnan", "2009-05", 2_000, 3, n_months=2)
    c = dm.synth.generate("yunnan", "2009-05", 2_000, 4, n_months=2)
    for name in schema.TABLES:
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    pd.testing.assert_frame_equal(a.truth.user_truth, b.truth.user_truth)
    for name in ("users", "usage", "subscriptions", "contacts", "edges", "events", "kpis", "revenue"):
        assert not getattr(a, name).equals(getattr(c, name)), name


def test_sp_services_carry_an_sp_id(data):
    from dmkit.synth.profiles import SP_SERVICES

    s = data.subscriptions
    is_sp = s["service"].isin(SP_SERVICES)
    assert s.loc[is_sp, "sp_id"].notna().all()
    assert s.loc[~is_sp, "sp_id"].isna().all()


def test_numbers_are_older_than_their_subscriptions(data):
    first = data.subscriptions.groupby("user_id")["start"].min()
    tenure = data.users.set_index("user_id")["tenure_months"].reindex(first.index)
    activated = T_END - pd.to_timedelta(tenure * 30.4375, unit="D")
    assert (first >= activated).all()


def test_tiny_sizes_do_not_crash():
    for n in (1, 7):
        d = dm.synth.generate("jiangsu", MONTH, n, 0, n_months=2)
        assert len(d.users) == n


@pytest.mark.parametrize("kwargs,param", [
    ({"province": "tibet"}, "province"),
    ({"province": 3}, "province"),
    ({"month": "2009-13"}, "month"),
    ({"month": "June 2009"}, "month"),
    ({"n_users": 0}, "n_users"),
    ({"n_users": -5}, "n_users"),
    ({"n_users": 10.5}, "n_users"),
    ({"seed": -1}, "seed"),
    ({"seed": "7"}, "seed"),
    ({"n_months": 0}, "n_months"),
])
def test_bad_arguments_raise_parameter_error(kwargs, param):
    args = {"province": "jiangsu", "month": MONTH, "n_users": 100, "seed": 1, **kwargs}
    with pytest.raises(ParameterError, match=f"parameter '{param}'"):
        dm.synth.generate(args.pop("province"), args.pop("month"), args.pop("n_users"),
                          args.pop("seed"), **args)


def test_save_and_load_round_trip(data, tmp_path):
    small = dm.synth.generate("national", "2009-05", 1_500, 2, n_months=2)
    small.save(tmp_path / "p")
    back = dm.synth.ProvinceData.load(tmp_path / "p")
    for name in schema.TABLES:
        pd.testing.assert_frame_equal(getattr(small, name), getattr(back, name), check_categorical=False)
    assert back.meta == small.meta
    t, u = small.truth, back.truth
    assert t.to_json_dict() == u.to_json_dict()
    pd.testing.assert_frame_equal(t.user_truth, u.user_truth)
    with pytest.raises(DataNotFoundError, match="missing"):
        dm.synth.ProvinceData.load(tmp_path / "nowhere")


def test_lazy_load_reads_a_table_on_first_use_and_the_same_values(tmp_path):
    import pickle

    small = dm.synth.generate("national", "2009-05", 1_500, 2, n_months=2)
    small.save(tmp_path / "p")
    eager = dm.synth.ProvinceData.load(tmp_path / "p")
    lazy = dm.synth.ProvinceData.load(tmp_path / "p", lazy=True)
    assert repr(lazy) == repr(eager)                       # sizes from the Parquet footers
    assert not any(t in vars(lazy) for t in schema.TABLES)  # nothing read yet, repr included
    pd.testing.assert_frame_equal(lazy.kpis, eager.kpis)
    assert "kpis" in vars(lazy) and "usage" not in vars(lazy)
    assert lazy.meta == eager.meta and lazy.truth.to_json_dict() == eager.truth.to_json_dict()
    copy = pickle.loads(pickle.dumps(lazy))                 # a pickle carries every table
    for name in schema.TABLES:
        pd.testing.assert_frame_equal(getattr(copy, name), getattr(eager, name))
    again = dm.synth.ProvinceData.load(tmp_path / "p", lazy=True)
    small.usage.head(10).to_parquet(tmp_path / "new.parquet")
    os.replace(tmp_path / "new.parquet", tmp_path / "p" / "usage.parquet")   # renamed over, as a cache is
    (tmp_path / "p" / "edges.parquet").unlink()                              # or removed
    pd.testing.assert_frame_equal(again.usage, eager.usage)                 # the files as they were at load
    pd.testing.assert_frame_equal(again.edges, eager.edges)
    with open(tmp_path / "p" / "events.parquet", "ab") as fh:                # rewritten in place: refused
        fh.write(b"x")
    with pytest.raises(DataNotFoundError, match="'events'.*rewritten"):
        again.events  # noqa: B018 - the access raises
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        again.nope  # noqa: B018


def test_cache_read_checks_sizes_and_repairs_a_corrupted_page(tmp_path):
    kw = dict(province="national", month="2009-05", n_users=1_000, seed=3, n_months=2, cache_dir=tmp_path)
    first = dm.io.load_province("synth", **kw)
    folder = dm.io.synth_cache_path(**kw)
    f = folder / "events.parquet"
    good = f.read_bytes()
    raw = bytearray(good)
    raw[len(raw) // 3] ^= 0xFF                               # same size, one byte flipped in a data page
    f.write_bytes(bytes(raw))
    back = dm.io.load_province("synth", **kw)               # sizes agree: read lazily
    pd.testing.assert_frame_equal(back.events, first.events, check_categorical=False)  # page CRC -> regenerated
    assert f.read_bytes() == good                            # ... and replaced on disk
    # outside the cache (no repair), a damaged table is refused by name
    f.write_bytes(bytes(raw))
    with pytest.raises(SchemaError, match="events.*delete that folder"):
        _ = dm.synth.ProvinceData.load(folder, lazy=True).events
    (folder / "users.parquet").write_bytes(b"short")       # another size: the cache is regenerated
    again = dm.io.load_province("synth", **kw)
    assert len(again.users) == 1_000 and len(again.events) > 0


def test_simulator_cache_reads_lazily(tmp_path):
    kw = dict(province="national", month="2009-05", n_users=1_000, seed=3, n_months=2, cache_dir=tmp_path)
    first = dm.io.load_province("synth", **kw)             # simulated: every table in memory
    back = dm.io.load_province("synth", **kw)              # from the cache: read on first use
    assert not any(t in vars(back) for t in schema.TABLES)
    for name in schema.TABLES:
        pd.testing.assert_frame_equal(getattr(back, name), getattr(first, name), check_categorical=False)


def test_truth_save_load_keeps_frames(data, tmp_path):
    data.truth.save(tmp_path)
    t = dm.synth.Truth.load(tmp_path)
    pd.testing.assert_frame_equal(t.kpi_loadings, data.truth.kpi_loadings)
    pd.testing.assert_frame_equal(t.bundles, data.truth.bundles)
    assert t.propensity == data.truth.propensity
    assert t.hazard == data.truth.hazard


# -- usage: case V matrix and Y5 segments --------------------------------------------------------

# the six named shares of case V (CASES.md), by (sms bin, spend bin)
V_SHARES = {(0, 2): 0.04, (1, 0): 0.098, (1, 1): 0.29, (2, 0): 0.062, (2, 1): 0.168, (2, 2): 0.104}


def test_sms_spend_matrix_shares(data, last):
    sb = np.digitize(last["sms_p2p"], [50, 200])
    pb = np.digitize(last["arpu"], [50, 150])
    share = pd.crosstab(sb, pb, normalize=True)
    for (i, j), v in V_SHARES.items():
        assert share.loc[i, j] == pytest.approx(v, abs=1.5 / N)
    assert share.to_numpy().sum() == pytest.approx(1.0)
    truth = data.truth.sms_matrix
    assert len(truth) == 9 and truth["share"].sum() == pytest.approx(1.0)
    named = truth.set_index("name")["share"]
    for name, v in {"high-end SMS-indifferent": 0.04, "thrifty average SMS user": 0.098,
                    "high-growth SMS user": 0.29, "thrifty heavy SMS user": 0.062,
                    "high-value SMS user": 0.168, "double-high": 0.104}.items():
        assert named[name] == pytest.approx(v)
    cell = data.truth.user_truth.set_index("user_id")["matrix_cell"].sort_index()
    assert (cell[(sb == 2) & (pb == 2)] == "double-high").all()
    assert (cell[(sb == 0) & (pb == 0)] == "double-low").all()


def test_sms_segments_are_distinct(data, last):
    seg = data.truth.user_truth.set_index("user_id")["sms_segment"].sort_index()
    means = last.groupby(seg.to_numpy(), observed=True)[["sms_p2p", "sms_contacts"]].mean()
    assert means.loc["low", "sms_p2p"] < means.loc["normal", "sms_p2p"] < means.loc["high", "sms_p2p"]
    assert (last.loc[seg == "low", "sms_contacts"] < 5).all()          # Y5: under 5 recipients
    assert means.loc["high", "sms_contacts"] > 2 * means.loc["normal", "sms_contacts"]
    for name, v in data.truth.sms_segments.items():
        assert v["mean_sms_p2p"] == pytest.approx(means.loc[name, "sms_p2p"])
    # log-volume clusters: KMeans with 3 clusters recovers the segments
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    x = np.log1p(last[["sms_p2p", "sms_contacts"]].to_numpy(float))[:6000]
    lab = KMeans(3, n_init=3, random_state=0).fit_predict(x)
    assert adjusted_rand_score(seg.cat.codes[:6000], lab) > 0.8


def test_other_months_vary_around_the_data_month(data, last):
    u = data.usage
    first = u[u["month"] == "2009-01"].set_index("user_id").sort_index()
    r = np.corrcoef(np.log1p(first["sms_p2p"]), np.log1p(last["sms_p2p"]))[0, 1]
    assert 0.8 < r < 0.999
    assert first["call_days"].between(0, 31).all()


# -- propensity (J2) ----------------------------------------------------------------------------

@pytest.mark.parametrize("service", ["newspaper", "mail_notify", "fetion"])
def test_take_up_inside_and_outside_the_rule(data, last, service):
    spec = data.truth.propensity[service]
    inside = np.ones(N, dtype=bool)
    (conj,) = spec["rules"]
    for feat, op, thr in conj:
        assert op == ">"
        inside &= last[feat].to_numpy() > thr
    # organic holders only: campaign take-ups of the data month come on top
    s = data.subscriptions
    organic = s[s["source"] == "organic"]
    hold = _active(organic, service)
    assert hold[inside].mean() == pytest.approx(spec["p_in"], abs=_tol(spec["p_in"], inside.sum()) + 0.01)
    assert hold[~inside].mean() == pytest.approx(spec["p_out"], abs=_tol(spec["p_out"], (~inside).sum()) + 0.005)
    ut = data.truth.user_truth.sort_values("user_id")
    assert np.array_equal(ut[f"p_{service}"].to_numpy() == np.float32(spec["p_in"]), inside)


def test_a_tree_recovers_the_newspaper_thresholds(data, last):
    from sklearn.tree import DecisionTreeClassifier

    X = last[["call_days", "monternet_sms", "sms_fee", "arpu"]]
    y = _active(data.subscriptions[data.subscriptions["source"] == "organic"], "newspaper")
    tree = DecisionTreeClassifier(max_depth=2, min_samples_leaf=200, random_state=0).fit(X, y)
    t = tree.tree_
    splits = {(X.columns[f], round(th, 1)) for f, th in zip(t.feature, t.threshold, strict=True) if f >= 0}
    assert ("call_days", 28.5) in splits
    assert ("monternet_sms", 2.5) in splits


# -- subscriptions: bundles, cross-sell, sequences, hazards --------------------------------------

def test_cross_sell_lifts(data):
    s = data.subscriptions
    for row in data.truth.cross_sell.itertuples():
        a, b = _ever(s, row.antecedent), _ever(s, row.consequent)
        lift = b[a].mean() / b.mean()
        assert lift == pytest.approx(row.lift, rel=1e-9)          # truth is what was built
        se = np.sqrt((1 - b[a].mean()) / max(1, b[a].sum()))     # relative s.e. of P(B|A)
        assert lift == pytest.approx(row.planted_lift, rel=4 * se + 0.05)


def test_bundles_are_taken_together(data):
    s = data.subscriptions
    assert 4 <= len(data.truth.bundles) <= 5
    for row in data.truth.bundles.itertuples():
        held = np.column_stack([_ever(s, it) for it in row.items])
        support = held.all(axis=1).mean()
        assert support == pytest.approx(row.support)
        assert support >= row.share - _tol(row.share, N)
        indep = np.prod(held.mean(axis=0))
        assert support - indep > 0.5 * row.share
        # bundle members started all items on the same instant
        sub = s[s["service"].isin(row.items)]
        same = sub.groupby("user_id")["start"].nunique()
        assert (same == 1).sum() >= 0.8 * row.share * N


def test_sequences_first_then(data):
    s = data.subscriptions
    first_start = s.groupby(["user_id", "service"], observed=True)["start"].min()
    for row in data.truth.sequences.itertuples():
        a = first_start.xs(row.first, level="service")
        b = first_start.xs(row.then, level="service")
        both = a.to_frame("a").join(b.rename("b"), how="inner")
        after = (both["b"] > both["a"]).mean()
        assert after > 0.9, (row.first, row.then, after)
        gap = (both["b"] - both["a"]).dt.total_seconds() / 86400
        med = gap[gap > 0].median()
        assert med == pytest.approx(row.median_gap_days, rel=0.25)
        p_follow = (both["b"] > both["a"]).sum() / len(a)
        assert p_follow == pytest.approx(row.p_follow, rel=1e-9)
        if not np.isnan(row.planted_p_follow):
            assert p_follow == pytest.approx(row.planted_p_follow, abs=_tol(row.planted_p_follow, len(a)) + 0.03)


def test_crbt_hazard_ratios_recovered_by_cox(data, last):
    from lifelines import CoxPHFitter

    h = data.truth.hazard["crbt"]
    cr = data.subscriptions[data.subscriptions["service"] == "crbt"].merge(
        data.users[["user_id", "age", "brand"]], on="user_id")
    X = pd.DataFrame({
        "duration": (cr["end"].fillna(T_END) - cr["start"]).dt.total_seconds() / 86400 / 30.4375,
        "event": cr["end"].notna().astype(int),
        "campaign": (cr["source"] != "organic").astype(int),
        "age_under_25": (cr["age"] < 25).astype(int),
        "brand_mzone": (cr["brand"] == "mzone").astype(int),
        "complaints": (cr["user_id"].map(last["complaints"]) > 0).astype(int),
    })
    fit = CoxPHFitter().fit(X, "duration", "event")
    for cov, hr in h["hazard_ratios"].items():
        se = fit.standard_errors_[cov]
        assert abs(fit.params_[cov] - np.log(hr)) < 4 * se + 0.02, (cov, np.exp(fit.params_[cov]), hr)
    assert set(h["covariates"]) == set(h["hazard_ratios"])
    # baseline: exponential monthly hazard of the reference group
    ref = X[(X[["campaign", "age_under_25", "brand_mzone", "complaints"]] == 0).all(axis=1)]
    rate = ref["event"].sum() / ref["duration"].sum()
    assert rate == pytest.approx(h["baseline"], rel=0.15)


def test_penetration_truth_matches_the_table(data):
    s = data.subscriptions
    for svc in ("crbt", "sms_p2p", "caller_id", "securities", "newspaper"):
        assert _active(s, svc).mean() == pytest.approx(data.truth.penetration[svc], abs=1e-12)
    pen = data.truth.penetration
    assert pen["sms_p2p"] > pen["crbt"] > pen["newspaper"] > pen["securities"]
    assert set(pen) == set(catalog.SERVICES)


def test_product_stage_shapes_the_start_dates(data):
    stage = data.truth.lifecycle["product_stage"]
    assert stage["crbt"] == "maturity" and stage["newspaper"] == "growth"
    assert stage["securities"] == "introduction" and stage["sms_p2p"] == "maturity"
    s = data.subscriptions
    age = (T_END - s["start"]).dt.days
    med = age.groupby(s["service"], observed=True).median()
    assert med["securities"] < med["newspaper"] < med["crbt"]


# -- lifecycle: CRBT customer states ------------------------------------------------------------

def test_crbt_customer_states(data):
    ut = data.truth.user_truth.set_index("user_id")["crbt_state"]
    u = data.usage
    ch = u.pivot(index="user_id", columns="month", values="crbt_changes")
    last3 = ch.iloc[:, -3:].sum(axis=1)
    assert (last3[ut == "silent"] == 0).all()
    assert (ch.loc[ut == "pre_churn", MONTH] == 0).all()
    assert ch.loc[ut == "pre_churn"].iloc[:, 0].mean() > 2
    assert ch.loc[ut == "heavy"].mean().mean() > 5 * ch.loc[ut == "light"].mean().mean()
    assert (ch.loc[ut == "none"].to_numpy() == 0).all()
    shares = ut[ut != "none"].value_counts(normalize=True)
    for name, v in data.truth.lifecycle["customer_states"]["shares_of_active_holders"].items():
        assert shares[name] == pytest.approx(v, abs=0.03)


# -- campaign (J3) ------------------------------------------------------------------------------

def test_j3_funnel_rates(data):
    c = data.contacts
    t = c[(c["step"] == 1) & (c["group"] == "target")]
    n_t = len(t)
    assert n_t == pytest.approx(0.9 * 0.4 * N, rel=0.1)
    deliv = t["delivered"].to_numpy()
    assert deliv.mean() == pytest.approx(0.408, abs=_tol(0.408, n_t))
    d = t[deliv]
    replied = d["replied_at"].notna()
    subscribed = d["subscribed_at"].notna()
    assert replied.mean() == pytest.approx(0.0179, abs=_tol(0.0179, len(d)))
    assert subscribed.mean() == pytest.approx(0.0149, abs=_tol(0.0149, len(d)))
    assert d["reply_valid"].sum() < replied.sum()
    kept = 1 - d.loc[subscribed, "unsubscribed_at"].notna().mean()
    assert kept == pytest.approx(0.813, abs=_tol(0.813, subscribed.sum()))
    # every event in order: sent <= replied <= subscribed <= unsubscribed
    assert (d.loc[replied, "replied_at"] >= d.loc[replied, "sent_at"]).all()
    assert (d.loc[subscribed, "subscribed_at"] >= d.loc[subscribed, "replied_at"]).all()
    un = d["unsubscribed_at"].notna()
    assert (d.loc[un, "unsubscribed_at"] > d.loc[un, "subscribed_at"]).all()
    # step 1 sends fall on June 6-9 inside the three daily windows
    sent = t["sent_at"]
    assert set(sent.dt.day.unique()) <= {6, 7, 8, 9}
    hours = sent.dt.hour + sent.dt.minute / 60
    assert (((hours >= 9.5) & (hours < 12)) | ((hours >= 14) & (hours < 17)) | ((hours >= 18) & (hours < 21))).all()


def test_j3_step2_and_control_groups(data):
    c = data.contacts
    s1 = c[c["step"] == 1]
    s2 = c[c["step"] == 2]
    nonresp = s1[(s1["group"] == "target") & s1["delivered"] & s1["replied_at"].isna()]
    assert set(s2["user_id"]) == set(nonresp["user_id"])
    assert (s2["service"] == "mail_notify").all() and (s1["service"] == "monternet_mms").all()
    ctrl = c[c["group"] == "control"]
    assert ctrl["sent_at"].isna().all() and not ctrl["delivered"].any()
    assert ctrl["replied_at"].isna().all()
    for step in (1, 2):
        x = c[c["step"] == step]
        share_ctrl = (x["group"] == "control").mean()
        assert share_ctrl == pytest.approx(0.1, abs=_tol(0.1, len(x)))
        treated = x.loc[x["group"] == "target", "subscribed_at"].notna().mean()
        control = x.loc[x["group"] == "control", "subscribed_at"].notna().mean()
        assert treated > control
    t2 = s2[s2["group"] == "target"]
    rate = t2["subscribed_at"].notna().mean()
    assert rate == pytest.approx(0.0168, abs=_tol(0.0168, len(t2)) + 0.002)


def test_campaign_subscriptions_follow_sends(data):
    c = data.contacts
    s = data.subscriptions
    cid = data.truth.campaign["campaign_id"]
    assert cid in data.truth.campaign["campaign_ids"]
    from_campaign = s[s["source"] == cid]
    took = c[(c["group"] == "target") & c["subscribed_at"].notna()]
    assert len(from_campaign) == len(took)
    m = took.merge(from_campaign, left_on=["user_id", "service", "subscribed_at"],
                   right_on=["user_id", "service", "start"])
    assert len(m) == len(took)
    assert (m["start"] >= m["sent_at"]).all()
    assert (m["end"].isna() == m["unsubscribed_at"].isna()).all()


def test_campaign_targets_were_scored_by_the_newspaper_propensity(data):
    c = data.contacts
    ut = data.truth.user_truth.set_index("user_id")
    targeted = ut.index.isin(c.loc[c["step"] == 1, "user_id"])
    p = ut["p_newspaper"]
    assert p[targeted].mean() > 1.5 * p[~targeted].mean()


# -- KPIs (Y1) ----------------------------------------------------------------------------------

def test_kpi_factor_structure_is_recoverable(data):
    from sklearn.decomposition import FactorAnalysis

    t = data.truth
    k = data.kpis[list(t.kpi_indicators)]
    z = ((k - k.mean()) / k.std()).to_numpy()
    P = t.kpi_loadings.to_numpy()
    # correlation of the columns = L L' + Psi (the mapping is linear)
    implied = P @ P.T
    np.fill_diagonal(implied, 1.0)
    assert np.abs(np.corrcoef(z.T) - implied).max() < 0.1
    L = FactorAnalysis(P.shape[1], rotation="varimax", svd_method="lapack").fit(z).components_.T
    best = 0.0
    for perm in itertools.permutations(range(P.shape[1])):
        cong = [abs(L[:, p] @ P[:, j]) / np.sqrt((L[:, p] ** 2).sum() * (P[:, j] ** 2).sum())
                for j, p in enumerate(perm)]
        best = max(best, min(cong))
    assert best >= 0.95
    sc = t.kpi_factor_scores
    assert list(sc.columns[:3]) == ["region", "service", "month"]
    assert np.allclose(np.corrcoef(sc[list(t.kpi_loadings.columns)].to_numpy().T), np.eye(3), atol=1e-8)
    hl = t.kpi_health.merge(data.kpis, on=["region", "service", "month"])
    assert np.corrcoef(hl["health"], hl["penetration"])[0, 1] > 0.3


def test_kpi_growth_follows_the_product_stage(data):
    k = data.kpis
    stage = data.truth.lifecycle["product_stage"]
    g = k.groupby("service", observed=True)["growth"].mean()
    grow = np.mean([g[s] for s, st in stage.items() if st == "growth"])
    decl = np.mean([g[s] for s, st in stage.items() if st == "decline"])
    assert grow > decl


# -- preferences (Y4), events, SPs (M) ----------------------------------------------------------

def test_channel_rules(data):
    ut = data.truth.user_truth.set_index("user_id").sort_index()
    users = data.users.set_index("user_id").sort_index()
    s = data.subscriptions
    wap = _active(s, "wap")
    sec = _active(s, "secretary")
    ivr_rule = (users["age"].to_numpy() < 20) & sec
    assert (ut.loc[ivr_rule, "true_channel"] == "ivr").all()
    wap_only = wap & ~ivr_rule & ~(_active(s, "music_club") & (users["brand"] == "mzone").to_numpy())
    assert (ut.loc[wap_only, "true_channel"] == "wap").all()
    match = (users["preferred_channel"] == ut["true_channel"]).to_numpy()
    p_wap = next(r["p"] for r in data.truth.channel_rules if r["preference"] == "wap")
    assert match[wap_only].mean() == pytest.approx(p_wap, abs=_tol(p_wap, wap_only.sum()))


def test_events_follow_genre_and_channel_and_usage(data):
    e = data.events
    ut = data.truth.user_truth.set_index("user_id")
    ordinary = e[~e["user_id"].map(ut["chart_booster"]).to_numpy()]
    same = (ordinary["genre"].astype(str).to_numpy()
            == ordinary["user_id"].map(ut["preferred_genre"]).astype(str).to_numpy()).mean()
    assert same == pytest.approx(0.75 + 0.25 / len(catalog.GENRES), abs=0.02)
    per_month = e.groupby([e["user_id"], e["ts"].dt.strftime("%Y-%m").rename("month")]).size()
    usage = data.usage.set_index(["user_id", "month"])["music_downloads"]
    usage = usage[usage > 0]
    usage.index = usage.index.set_levels(usage.index.levels[1].astype(str), level=1)
    joined = per_month.rename("ev").to_frame().join(usage.rename("us"), how="outer").fillna(0)
    assert (joined["ev"] == joined["us"]).all()


def test_sp_offenders_stand_out(data):
    off = data.truth.sp_offenders
    assert set(off["kind"]) == {"chart_boosting", "unauthorised_ordering"}
    assert 2 <= (off["kind"] == "chart_boosting").sum() <= 3
    s = data.subscriptions
    sp = s[s["sp_id"].notna()].copy()
    sp["quick"] = (sp["end"] - sp["start"]) < pd.Timedelta(days=3)
    sp["push"] = sp["channel"] == "sp_push"
    by = sp.groupby("sp_id", observed=True)[["quick", "push"]].mean()
    unauth = set(off.loc[off["kind"] == "unauthorised_ordering", "sp_id"])
    top = set(by["quick"].nlargest(len(unauth)).index)
    assert top == unauth
    # chart boosting: share of an SP's downloads made by users with > 20 of its downloads in a month
    e = data.events[data.events["ts"] >= pd.Timestamp(MONTH)]
    k = e.groupby(["sp_id", "user_id"], observed=True).size().rename("k").reset_index()
    k["heavy"] = k["k"].where(k["k"] > 20, 0)
    conc = k.groupby("sp_id", observed=True)["heavy"].sum() / k.groupby("sp_id", observed=True)["k"].sum()
    boost = set(off.loc[off["kind"] == "chart_boosting", "sp_id"])
    assert set(conc.nlargest(len(boost)).index) == boost
    # victims complain more in the month of the unauthorised order
    ut = data.truth.user_truth.set_index("user_id")
    u = data.usage.groupby("user_id")["complaints"].sum()
    assert u[ut["sp_victim"]].mean() > 2 * u[~ut["sp_victim"]].mean()


# -- social graph --------------------------------------------------------------------------------

def test_edges_heavy_tailed_and_tied_to_sms_contacts(data, last):
    ed = data.edges
    assert (ed["user_id"] != ed["peer_id"]).all()
    deg = ed.groupby("user_id").size().reindex(range(N), fill_value=0)
    assert deg.max() > 8 * deg.median()
    assert (deg.to_numpy() == data.truth.user_truth.sort_values("user_id")["circle_size"].to_numpy()).all()
    from scipy.stats import spearmanr

    assert spearmanr(deg, last["sms_contacts"]).statistic > 0.4


# -- revenue (G1, G2) ---------------------------------------------------------------------------

def test_revenue_calibrated_to_g1_with_holidays():
    d = dm.synth.generate("guangdong", "2009-06", 200, 5, n_months=1)
    r = d.revenue.assign(month=d.revenue["month"].astype(str), line=d.revenue["line"].astype(str))
    assert r["month"].nunique() == 48 and r["month"].max() == "2009-06"
    y2008 = r[r["month"].str.startswith("2008")].groupby("line")["amount"].sum()
    g1 = {"operating": 121.9e8, "new_business": 39.3e8, "data_vas": 31.9e8, "promo": 4.51e8}
    for line, v in g1.items():
        assert y2008[line] == pytest.approx(v, rel=0.02)
    dv = r[r["line"] == "data_vas"].set_index("month")["amount"]
    # Spring Festival 2009 fell on 26 January: above both neighbouring months
    assert dv["2009-01"] > dv["2008-12"] and dv["2009-01"] > dv["2009-02"]
    # Spring Festival 2008 (7 February) vs 2009 (26 January): February relative to January
    assert dv["2008-02"] / dv["2008-01"] > dv["2009-02"] / dv["2009-01"] + 0.1
    assert set(d.truth.revenue["lines"]) >= set(catalog.REVENUE_LINES)
