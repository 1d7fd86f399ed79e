"""dmkit.rules.library: the G3 customer–service–channel rule library."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dmkit as dm
import dmkit.rules as R
from dmkit.errors import DataNotFoundError, ParameterError, SchemaError


@pytest.fixture(scope="module")
def customers():
    rng = np.random.default_rng(1)
    n = 3000
    return pd.DataFrame({
        "user_id": np.arange(100, 100 + n),
        "brand": rng.choice(["gotone", "mzone", "easyown"], n),
        "student": rng.random(n) < 0.2,
        "sms_p2p": rng.poisson(30, n) * (rng.random(n) < 0.7),
        "term_fetion": rng.random(n) < 0.4,
        "gprs_kb": rng.exponential(2000, n),
        "preferred_channel": rng.choice(["sms", "hall", "web", "campus"], n),
    })


@pytest.fixture(scope="module")
def scores(customers):
    rng = np.random.default_rng(2)
    return pd.DataFrame({"fetion": rng.random(len(customers)),
                         "fetion_client": rng.random(len(customers)) - 0.5},
                        index=customers["user_id"])


@pytest.fixture(scope="module")
def result(customers, scores):
    return R.library(customers, scores=scores, volume_scale=0.01)


def test_packaged_fetion_library_has_the_g3_rows():
    lib = R.load_rules("fetion")
    rows = {(r["service"], r["source"], r["priority"], r["volume"], tuple(r["channels"])) for r in lib["rules"]}
    assert rows == {
        ("fetion", "model", 1, 100_000, ("hall", "hotline")),
        ("fetion", "experience", 2, 50_000, ("campus",)),
        ("fetion", "experience", 3, 100_000, ("sms",)),
        ("fetion_client", "experience", 3, 100_000, ("sms",)),
        ("fetion_client", "model", 1, 50_000, ("hall", "hotline")),
    }
    assert lib["eligibility"] == {"fetion_client": "term_fetion"}


def test_offers_per_customer_are_ranked_unique_and_capped(result):
    rec = result.recommendations
    assert list(rec.columns) == ["user_id", "rank", "service", "channel", "rule", "source", "priority", "score"]
    per = rec.groupby("user_id")
    assert per.size().max() <= 3
    assert not rec.duplicated(["user_id", "service"]).any()
    assert (per["rank"].apply(lambda r: list(r) == list(range(1, len(r) + 1)))).all()
    assert (per["priority"].apply(lambda p: p.is_monotonic_increasing)).all()


def test_volume_caps_brand_gate_and_eligibility(customers, result):
    offered = result.recommendations.groupby("rule", observed=True).size()
    caps = {r["id"]: r["volume"] * 0.01 for r in R.load_rules("fetion")["rules"]}
    for rule, k in offered.items():
        assert k <= caps[rule]
    merged = result.recommendations.merge(customers, on="user_id")
    # G3's P2P-SMS row is for all brands (全品牌), M-Zone first, then GoTone: every brand matches, and
    # the capped 1,000 (711 M-Zone + 680 GoTone match) are filled by M-Zone, then GoTone, before Easyown
    stats = result.rule_stats.set_index("rule")
    assert stats.at["fetion_p2p_sms", "matched"] == (customers["sms_p2p"] > 0).sum()
    assert not (merged.query("rule == 'fetion_p2p_sms'")["brand"] == "easyown").any()
    assert merged.query("service == 'fetion_client'")["term_fetion"].all()
    assert (merged.query("rule == 'fetion_campus'")["student"]).all()


def test_experience_rule_matches_pandas_query_and_ranks_by_column(customers):
    rules = [{"id": "camp", "service": "fetion", "source": "experience", "rule": "student and sms_p2p > 0",
              "rank_by": "sms_p2p", "volume": None, "priority": 1, "channels": ["campus"]}]
    res = R.library(customers, rules=rules)
    expected = set(customers.query("student and sms_p2p > 0")["user_id"])
    assert set(res.recommendations["user_id"]) == expected
    assert res.rule_stats.loc[0, "matched"] == len(expected)
    capped = R.library(customers, rules=[dict(rules[0], volume=10)])
    top10 = customers.query("student and sms_p2p > 0").nlargest(10, "sms_p2p", keep="all")["sms_p2p"].min()
    assert (capped.recommendations.merge(customers, on="user_id")["sms_p2p"] >= top10).all()
    assert len(capped.recommendations) == 10


def test_model_rule_takes_the_top_scores(customers, scores):
    rules = [{"id": "m", "service": "fetion", "source": "model", "score": "fetion", "volume": 50,
              "priority": 1, "channels": ["hall"]}]
    res = R.library(customers, rules=rules, scores=scores)
    assert set(res.recommendations["user_id"]) == set(scores["fetion"].nlargest(50).index)


def test_brand_order_serves_mzone_first(customers):
    rules = [{"id": "p2p", "service": "fetion", "source": "experience", "brand": ["mzone", "gotone"],
              "rule": "sms_p2p > 0", "volume": 100, "priority": 1, "channels": ["sms"]}]
    res = R.library(customers, rules=rules)
    assert (res.recommendations.merge(customers, on="user_id")["brand"] == "mzone").all()


def test_preferred_channel_used_when_listed(customers, result):
    merged = result.recommendations.merge(customers, on="user_id")
    hall_rules = merged[merged["rule"].isin(["fetion_model", "fetion_client_model"])]
    pref_hall = hall_rules["preferred_channel"] == "hall"
    assert (hall_rules.loc[pref_hall, "channel"] == "hall").all()
    assert (hall_rules.loc[~pref_hall, "channel"] == "hall").all()  # first listed otherwise
    camp = merged[merged["rule"] == "fetion_campus"]
    assert (camp["channel"] == "campus").all()


def test_holdings_are_not_offered_again(customers, scores):
    holdings = pd.DataFrame({"fetion": customers["user_id"].to_numpy() % 2 == 0},
                            index=customers["user_id"])
    res = R.library(customers, scores=scores, holdings=holdings, volume_scale=0.01)
    got = res.recommendations.query("service == 'fetion'")["user_id"]
    assert (got % 2 == 1).all() and len(got)


def test_coverage_table_and_summary(result, customers):
    cov = result.coverage
    assert cov["offers"].sum() == len(result.recommendations)
    assert result.covered == result.recommendations["user_id"].nunique()
    assert 0 < result.coverage_rate <= 1
    assert "customers with >= 1 offer" in str(result.summary())
    assert result.plot().get_xlabel() == "offers"
    first = result.recommendations["user_id"].iloc[0]
    assert len(result.offers(first)) >= 1


def test_yaml_file_roundtrip(tmp_path, customers):
    path = tmp_path / "lib.yaml"
    path.write_text("name: t\nrules:\n  - id: a\n    service: fetion\n    source: segment\n"
                    "    rule: \"brand == 'mzone'\"\n    volume: 5\n    priority: 2\n    channels: sms\n")
    res = R.library(customers, rules=path)
    assert len(res.recommendations) == 5 and res.name == "t"


def test_missing_scores_warns_and_skips(customers):
    with pytest.warns(UserWarning, match=r"model rules skipped: rules\['fetion_model'\] \(no scores column 'fetion'\)"):
        res = R.library(customers, volume_scale=0.01)
    assert "fetion_model" not in set(res.recommendations["rule"])


# ---------------------------------------------------------------------------- errors
def _one(**kw):
    base = {"id": "r1", "service": "fetion", "source": "experience", "rule": "sms_p2p > 0",
            "priority": 1, "channels": ["sms"]}
    base.update(kw)
    return [base]


def test_unknown_column_names_the_rule(customers):
    with pytest.raises(ParameterError, match=r"rules\['r1'\]\.rule.*unknown column 'sms_fee'"):
        R.library(customers, rules=_one(rule="sms_fee > 3"))


@pytest.mark.parametrize("expr, why", [
    ("sms_p2p >", "syntax error"),
    ("__import__('os').system('x')", "Call is not allowed"),
    ("brand.upper() == 'X'", "not allowed"),
    ("sms_p2p[0] > 1", "Subscript is not allowed"),
    ("brand in [gprs_kb]", "lists may hold literals only"),
])
def test_bad_expressions_are_rejected_naming_the_rule(customers, expr, why):
    with pytest.raises(ParameterError, match=rf"rules\['r1'\]\.rule.*{why}"):
        R.library(customers, rules=_one(rule=expr))


def test_malformed_rules(customers):
    with pytest.raises(ParameterError, match=r"rules\['r1'\]\.channels"):
        R.library(customers, rules=_one(channels=["pigeon"]))
    with pytest.raises(ParameterError, match=r"rules\['r1'\]\.service"):
        R.library(customers, rules=_one(service="teleport"))
    with pytest.raises(ParameterError, match=r"rules\['r1'\]\.brand"):
        R.library(customers, rules=_one(brand="vip"))
    with pytest.raises(ParameterError, match=r"rules\['r1'\]\.priority"):
        R.library(customers, rules=_one(priority=0))
    with pytest.raises(ParameterError, match=r"rules\['r1'\].*expected fields"):
        R.library(customers, rules=_one(volumn=5))
    with pytest.raises(DataNotFoundError, match="no packaged rule library 'nope'"):
        R.library(customers, rules="nope")
    with pytest.raises(SchemaError, match="table 'customers'"):
        R.library(customers.drop(columns="user_id"))
    with pytest.raises(ParameterError, match="max_offers"):
        R.library(customers, rules=_one(), max_offers=0)


def test_expression_features(customers):
    from dmkit.rules.expressions import evaluate

    got = evaluate("brand in ['mzone', 'gotone'] and not term_fetion or 100 < sms_p2p * 2 <= 120",
                   customers, where="t")
    want = ((customers["brand"].isin(["mzone", "gotone"]) & ~customers["term_fetion"])
            | ((customers["sms_p2p"] * 2 > 100) & (customers["sms_p2p"] * 2 <= 120))).to_numpy()
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(evaluate("(brand == 'mzone') & ~student", customers, where="t"),
                                  ((customers["brand"] == "mzone") & ~customers["student"]).to_numpy())


# ---------------------------------------------------------------------------- simulator
def test_on_simulated_province():
    data = dm.synth.generate("guangdong", month="2009-06", n_users=8_000, seed=5)
    cust = R.customer_table(data.users, data.usage, month="2009-06")
    assert len(cust) == len(data.users) and "sms_p2p" in cust and "term_fetion" in cust
    holdings = R.baskets_from_subscriptions(data.subscriptions, month="2009-06", users=data.users["user_id"])
    basket_rules = R.mine(holdings, min_support=0.005)
    scores = pd.DataFrame({"fetion": basket_rules.recommend(holdings, "fetion"),
                           "fetion_client": basket_rules.recommend(holdings, "fetion_client")})
    res = R.library(cust, scores=scores, holdings=holdings, volume_scale=len(cust) / 12_000_000 * 50)
    rec = res.recommendations.merge(cust, on="user_id")
    assert len(rec) and rec.query("service == 'fetion_client'")["term_fetion"].all()
    held = holdings.reindex(rec["user_id"])
    assert not np.any(held.to_numpy()[np.arange(len(rec)), held.columns.get_indexer(rec["service"])])


def test_per_basket_scores_give_the_offers_of_the_per_user_frame():
    # library(scores=BasketScores) against library(scores=its users x items frame): same offers and stats,
    # customers in another order than the baskets and some without a basket row (NaN scores)
    data = dm.synth.generate("guangdong", month="2009-06", n_users=6_000, seed=11)
    cust = R.customer_table(data.users, data.usage, month="2009-06")
    cust["crm_segment"] = R.crm_segment(cust)
    cust = cust.sample(frac=1.0, random_state=3).reset_index(drop=True)
    holdings = R.baskets_from_subscriptions(data.subscriptions, month="2009-06", users=data.users["user_id"])
    part = holdings.iloc[: len(holdings) - 300]
    bs = R.mine(holdings, min_support=0.005, min_confidence=0.05).recommend_baskets(part)
    bs["fetion"] = pd.Series(np.random.default_rng(4).random(len(part)), index=part.index)
    kw = {"rules": "g3", "holdings": holdings, "max_offers": 8, "volume_scale": len(cust) / 12_000_000 * 5}
    lean, full = R.library(cust, scores=bs, **kw), R.library(cust, scores=bs.to_frame(), **kw)
    assert len(lean.recommendations) > len(cust) and (lean.recommendations["source"] == "model").any()
    pd.testing.assert_frame_equal(lean.recommendations, full.recommendations)
    pd.testing.assert_frame_equal(lean.rule_stats, full.rule_stats)


def test_evaluate_hit_rate_by_hand():
    cust = pd.DataFrame({"user_id": [1, 2, 3, 4], "brand": ["mzone"] * 4, "sms_p2p": [5, 4, 3, 0]})
    rules = [{"id": "a", "service": "fetion", "source": "experience", "rule": "sms_p2p > 0",
              "priority": 1, "channels": ["sms"]}]
    res = R.library(cust, rules=rules)
    taken = pd.DataFrame({"fetion": [True, False, False, True]}, index=[1, 2, 3, 4])
    ev = res.evaluate(taken).set_index("rule")
    assert ev.loc["a", "offers"] == 3 and ev.loc["a", "hits"] == 1
    assert ev.loc["a", "hit_rate"] == pytest.approx(1 / 3)
    assert ev.loc["a", "base_rate"] == pytest.approx(2 / 4)
    assert ev.loc["all", "lift"] == pytest.approx((1 / 3) / 0.5)


# ---------------------------------------------------------------------------- CRM segments (G3 layer 3)
BRANDS = ("gotone", "mzone", "easyown")
ARPU = {"low": (0.0, 49.99), "mid": (50.0, 119.99), "high": (120.0, 900.0)}        # default cuts 50, 120
USAGE = {"basic": [(0, 0), (199, 2047.9)], "messaging": [(200, 0), (5000, 2047.9)],  # (sms_p2p, gprs_kb);
         "data": [(0, 2048), (5000, 1e6)]}                                             # default cuts 200, 2048 KB


def _grid() -> tuple[pd.DataFrame, list[int]]:
    """Every brand × ARPU tier × usage profile, both edges of each cell; the segment numbered by counting."""
    rows, want, k = [], [], 0
    for brand in BRANDS:
        for arpu_values in ARPU.values():
            for usages in USAGE.values():
                k += 1                                             # 1..27 in brand, ARPU, profile order
                for a in arpu_values:
                    for sms, kb in usages:
                        rows.append({"brand": brand, "arpu": a, "sms_p2p": sms, "gprs_kb": kb})
                        want.append(k)
    return pd.DataFrame(rows, index=np.arange(1000, 1000 + len(rows))), want


def test_crm_segment_is_27_groups_over_the_3_brands():
    cust, want = _grid()
    seg = R.crm_segment(cust)
    assert seg.name == "crm_segment" and seg.index.equals(cust.index)
    assert seg.tolist() == want
    assert seg.nunique() == 27 and set(seg) == set(range(1, 28))
    per_segment = cust.groupby(seg)["brand"].nunique()
    assert (per_segment == 1).all()                                 # each segment lies in one brand
    assert cust["brand"].value_counts().to_dict() == {b: 36 for b in BRANDS}
    assert {b: sorted(set(seg[cust["brand"] == b])) for b in BRANDS} == {
        "gotone": list(range(1, 10)), "mzone": list(range(10, 19)), "easyown": list(range(19, 28))}
    # a categorical brand column (as the simulator's users table has) gives the same segments
    cat = cust.assign(brand=pd.Categorical(cust["brand"], categories=["easyown", "mzone", "gotone"]))
    assert R.crm_segment(cat).tolist() == want


def test_crm_segment_formula_on_hand_rows():
    cust = pd.DataFrame({"brand": ["gotone", "gotone", "mzone", "mzone", "easyown", "easyown"],
                         "arpu": [10, 50, 0, 119.9, 120, 500],
                         "sms_p2p": [10, 200, 0, 900, 1000, 0],
                         "gprs_kb": [0, 0, 0, 2048, 2047, 5000]})
    # gotone low basic; gotone mid messaging (both cuts inclusive); mzone low basic; mzone mid data
    # (data wins over SMS); easyown high messaging; easyown high data
    assert R.crm_segment(cust).tolist() == [1, 5, 10, 15, 26, 27]
    # the cuts are parameters
    got = R.crm_segment(cust, arpu=(5.0, 10.0), sms=5.0, data=1.0)
    assert got.tolist() == [1 + 6 + 1, 1 + 6 + 1, 1 + 9 + 0 + 0, 1 + 9 + 6 + 2, 1 + 18 + 6 + 2, 1 + 18 + 6 + 2]


def test_crm_segment_under_an_operator_catalog_has_brands_times_9_segments():
    cust = pd.DataFrame({"brand": ["b4", "b1", "b3"], "arpu": [500, 0, 60], "sms_p2p": [0, 0, 300],
                         "gprs_kb": [1e5, 0, 0]})
    with dm.catalog.use_catalog({"brands": {"b1": "one", "b2": "two", "b3": "three", "b4": "four"}}):
        assert R.crm_segment(cust).tolist() == [36, 1, 1 + 18 + 3 + 1]
        with pytest.raises(SchemaError, match=r"column 'brand'.*\['b1', 'b2', 'b3', 'b4'\].*\['gotone'\]"):
            R.crm_segment(cust.assign(brand=["b1", "gotone", "b2"]))


def test_crm_segment_errors_name_the_column_or_cut():
    cust, _ = _grid()
    with pytest.raises(SchemaError, match=r"column 'brand'"):
        R.crm_segment(cust.drop(columns="brand"))
    with pytest.raises(SchemaError, match=r"column 'brand'.*\['gotone', 'mzone', 'easyown'\].*\['GoTone'\]"):
        R.crm_segment(cust.assign(brand=cust["brand"].replace("gotone", "GoTone")))
    with pytest.raises(SchemaError, match=r"column 'brand'.*\['nan'\]"):
        R.crm_segment(cust.assign(brand=cust["brand"].where(cust.index != 1005)))
    with pytest.raises(SchemaError, match=r"column 'gprs_kb'.*finite"):
        R.crm_segment(cust.assign(gprs_kb=cust["gprs_kb"].where(cust.index != 1003)))
    with pytest.raises(SchemaError, match=r"column 'arpu'.*numeric"):
        R.crm_segment(cust.assign(arpu=cust["arpu"].astype(str)))
    with pytest.raises(ParameterError, match=r"'arpu'"):
        R.crm_segment(cust, arpu=(120.0, 50.0))
    with pytest.raises(ParameterError, match=r"'sms'"):
        R.crm_segment(cust, sms=-1.0)
    with pytest.raises(ParameterError, match=r"'data'"):
        R.crm_segment(cust, data="2MB")


def test_g3_library_layer_3_is_one_rule_per_segment():
    rules = pd.DataFrame(R.load_rules("g3")["rules"])
    seg = rules[rules["source"] == "segment"]
    assert len(seg) == 27
    number = seg["rule"].str.fullmatch(r"crm_segment == (\d+)")
    assert number.all()
    k = seg["rule"].str.extract(r"(\d+)")[0].astype(int)
    assert sorted(k) == list(range(1, 28))
    assert seg["brand"].tolist() == [BRANDS[(i - 1) // 9] for i in k]     # the brand the segment lies in
    assert (seg["priority"] == 3).all()
    assert int(seg["volume"].sum()) == 27 * 150_000 == 81 * 50_000        # the layer's monthly volume kept
    assert all(ch == ["hall", "queue", "retail", "kiosk", "topup"] for ch in seg["channels"])


def test_g3_segment_rules_reach_their_whole_segment():
    data = dm.synth.generate("guangdong", month="2009-06", n_users=3000, seed=7)
    cust = R.customer_table(data.users, data.usage, month="2009-05")
    cust["crm_segment"] = R.crm_segment(cust)
    lib = R.load_rules("g3")
    seg_rules = [r for r in lib["rules"] if r["source"] == "segment"]
    res = R.library(cust, rules={"rules": seg_rules}, max_offers=1)        # no gates, no caps at this size
    stats = res.rule_stats.set_index("rule")
    size = cust["crm_segment"].value_counts()
    want = pd.Series({r["id"]: int(size.get(int(r["rule"].split("==")[1]), 0)) for r in seg_rules})
    assert stats["matched"].astype(int).to_dict() == want.to_dict()        # the brand filter drops no one
    assert stats["offered"].sum() == len(cust)                             # every customer is in one segment
    rec = res.recommendations.merge(cust[["user_id", "crm_segment"]], on="user_id")
    assert (rec["rule"].str[3:5].astype(int) == rec["crm_segment"]).all()


@pytest.mark.parametrize("categorical", [False, True])
def test_evaluate_offers_counts_hits_like_a_loop_over_offers(categorical):
    rng = np.random.default_rng(4)
    services = ["crbt", "fetion", "mms", "wap"]
    users = np.arange(0, 400, 2)                       # even ids: odd ids took nothing (not in ``taken``)
    taken = pd.DataFrame(rng.random((len(users), 3)) < 0.3, index=users, columns=services[:3])   # nobody took wap
    offers = pd.DataFrame({"user_id": rng.integers(0, 400, 900), "service": rng.choice(services, 900),
                           "source": rng.choice(["rule", "model", "segment"], 900)})
    if categorical:
        offers = offers.astype({"service": "category", "source": "category"})
    got = R.evaluate_offers(offers, taken, n_customers=500, by="source")
    held = {(u, s) for u in users for s in services[:3] if taken.at[u, s]}
    hit = np.array([(u, s) in held for u, s in zip(offers["user_id"], offers["service"].astype(str), strict=True)])
    for (src, svc), g in offers.assign(hit=hit).groupby(["source", "service"], observed=True):
        row = got[(got["source"].astype(str) == src) & (got["service"].astype(str) == svc)].iloc[0]
        assert (row["offers"], row["hits"]) == (len(g), int(g["hit"].sum()))
        base = taken[svc].sum() / 500 if svc in taken.columns else 0.0
        assert row["base_rate"] == pytest.approx(base)
    total = got[got["source"].astype(str) == "all"].iloc[0]
    assert (total["offers"], total["hits"]) == (900, int(hit.sum()))
