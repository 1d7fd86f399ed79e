"""Tests of dmkit.fingerprint: profile against independent groupbys, rules recover planted ones."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from dmkit import catalog, fingerprint
from dmkit.errors import ParameterError, SchemaError
from dmkit.synth import generate as synth_generate

MONTH = "2009-06"


def make_tables(n: int = 4_000, seed: int = 0) -> dict[str, pd.DataFrame]:
    """Small contract tables with two planted preferences:
    web channel  <= M-Zone and age < 20 (p = 0.85, else channels at random);
    classic genre <= age >= 42 and sms_p2p < 30 (p = 0.85, else genres at random)."""
    rng = np.random.default_rng(seed)
    ids = rng.permutation(np.arange(n) * 3 + 100)
    age = rng.integers(14, 70, n)
    brand = rng.choice(list(catalog.BRANDS), n)
    users = pd.DataFrame({
        "user_id": ids, "province": "yunnan", "prefecture": rng.choice(["kunming", "dali"], n),
        "brand": brand, "age": age, "gender": rng.choice(["M", "F"], n),
        "tenure_months": rng.integers(0, 120, n), "student": age < 22,
        "term_mms": rng.random(n) < 0.6, "term_wap": rng.random(n) < 0.5,
        "term_java": rng.random(n) < 0.3, "term_fetion": rng.random(n) < 0.2,
        "preferred_channel": rng.choice(["sms", "hall"], n),
    })
    sms = rng.integers(0, 150, n)
    usage_cols = {c.name: rng.poisson(3, n) for c in fingerprint.schema.COLUMNS["usage"]
                  if c.name not in ("user_id", "month")}
    usage = pd.DataFrame({"user_id": ids, "month": MONTH, **usage_cols})
    usage["sms_p2p"] = sms
    usage["sms_contacts"] = np.minimum(sms, rng.poisson(6, n))
    usage["arpu"] = rng.gamma(2, 40, n)
    usage["voice_minutes"] = rng.gamma(2, 100, n)
    usage["sms_fee"] = sms * 0.1
    usage["gprs_kb"] = rng.gamma(1, 500, n)
    usage["call_days"] = rng.integers(0, 31, n)
    old = usage.assign(month="2009-05", arpu=usage["arpu"] * 2)

    web = (brand == "mzone") & (age < 20)
    channels = np.array(["sms", "ivr", "web", "wap", "hall"])
    true_ch = np.where(web & (rng.random(n) < 0.85), "web", rng.choice(channels[[0, 1, 3, 4]], n))
    classic = (age >= 42) & (sms < 30)
    genres = np.array(catalog.GENRES[:5])
    true_g = np.where(classic & (rng.random(n) < 0.85), "classic", rng.choice(genres[[0, 2, 3, 4]], n))

    # events: 1-6 downloads each, 75% in the true genre / channel, some after the month
    k = rng.integers(1, 7, n)
    uid = np.repeat(ids, k)
    tg, tc = np.repeat(true_g, k), np.repeat(true_ch, k)
    m = len(uid)
    g = np.where(rng.random(m) < 0.75, tg, rng.choice(genres, m))
    c = np.where(rng.random(m) < 0.75, tc, rng.choice(channels, m))
    ts = pd.Timestamp("2009-06-01") + pd.to_timedelta(rng.integers(0, 29 * 86400, m), unit="s")
    late = rng.random(m) < 0.05
    ts = ts.where(~late, pd.Timestamp("2009-07-15"))
    events = pd.DataFrame({"user_id": uid, "ts": ts, "content_id": rng.integers(0, 500, m),
                           "genre": g, "channel": c, "sp_id": "sp1"})
    events = events.drop_duplicates(["user_id", "ts"]).reset_index(drop=True)

    subs = pd.DataFrame({
        "user_id": ids[:300].repeat(2),
        "service": np.tile(["crbt", "fetion"], 300),
        "start": pd.Timestamp("2009-03-01"),
        "end": pd.NaT, "channel": "hall", "source": "organic",
    })
    subs.loc[1::4, "end"] = pd.Timestamp("2009-04-01")  # ended fetion for every other user
    deg = rng.poisson(np.where(sms > 40, 12, 3))
    e_uid = np.repeat(ids, deg)
    edges = pd.DataFrame({"user_id": e_uid, "peer_id": rng.integers(10**6, 10**7, len(e_uid)), "month": MONTH,
                          "sms": rng.integers(0, 5, len(e_uid)), "calls": rng.integers(0, 3, len(e_uid))})
    edges = edges.drop_duplicates(["user_id", "peer_id", "month"]).reset_index(drop=True)
    return {"users": users, "usage": pd.concat([old, usage], ignore_index=True), "subscriptions": subs,
            "events": events, "edges": edges}


@pytest.fixture(scope="module")
def tables():
    return make_tables()


@pytest.fixture(scope="module")
def fp(tables):
    return fingerprint.profile(**tables)


def test_channel_preference_matches_an_independent_count(tables, fp):
    ev = tables["events"]
    ev = ev[ev["ts"] <= "2009-06-30 23:59:59"]
    acts = pd.concat([ev[["user_id", "channel"]], tables["subscriptions"][["user_id", "channel"]]])
    cnt = acts.groupby(["user_id", "channel"]).size().rename("n").reset_index()
    cnt["share"] = cnt["n"] / cnt.groupby("user_id")["n"].transform("sum")
    # ties broken by catalogue order, as in profile
    cnt["order"] = cnt["channel"].map({c: i for i, c in enumerate(catalog.CHANNELS)})
    best = cnt.sort_values(["user_id", "n", "order"], ascending=[True, False, True]).drop_duplicates("user_id")
    best = best.set_index("user_id")
    t = fp.table.loc[best.index]
    assert (t["channel"].astype(str) == best["channel"]).all()
    assert_allclose(t["channel_confidence"], best["share"])


def test_genre_preference_circle_and_month(tables, fp):
    ev = tables["events"]
    ev = ev[ev["ts"] <= "2009-06-30 23:59:59"]
    ng = ev.groupby("user_id")["genre"].nunique()
    assert (fp.table.loc[ng.index, "n_genres"] == ng).all()
    e = tables["edges"]
    circle = e[(e["sms"] > 0) | (e["calls"] > 0)].groupby("user_id")["peer_id"].nunique()
    assert (fp.table["circle_size"].reindex(circle.index) == circle).all()
    assert fp.month == MONTH
    u = tables["usage"].query("month == @MONTH").set_index("user_id")
    assert_allclose(fp.table.loc[u.index, "arpu"], u["arpu"])  # the data month, not May


def test_value_tiers_terminal_and_services(tables, fp):
    t = fp.table
    assert_allclose(t["value_tier"].value_counts(normalize=True).sort_index(), [1 / 3] * 3, atol=0.01)
    assert t.loc[t["arpu"] > fp.value_cuts[1], "value_tier"].eq("high").all()
    fixed = fingerprint.profile(**tables, value_cuts=[50, 150]).table
    assert fixed.loc[fixed["arpu"] < 50, "value_tier"].eq("low").all()
    users = tables["users"].set_index("user_id")
    assert (t["terminal_score"] == users[list(fingerprint.TERMINAL_COLUMNS)].sum(axis=1).reindex(t.index)).all()
    none = users.index[~users[list(fingerprint.TERMINAL_COLUMNS)].any(axis=1)]
    assert (t.loc[none, "terminal"] == "voice/SMS only").all()
    subs = tables["subscriptions"]
    fet = subs[(subs["service"] == "fetion") & subs["end"].isna()]["user_id"]
    assert set(t.index[t["holds_fetion"]]) == set(fet)
    assert t["holds_crbt"].sum() == 300


def test_customers_without_actions_fall_back_to_the_crm_channel(tables):
    users = tables["users"]
    ev = tables["events"][tables["events"]["user_id"] != users["user_id"].iloc[-1]]
    subs = tables["subscriptions"][tables["subscriptions"]["user_id"] != users["user_id"].iloc[-1]]
    t = fingerprint.profile(users, tables["usage"], subs, ev, tables["edges"]).table
    last = t.loc[users["user_id"].iloc[-1]]
    assert last["channel"] == users["preferred_channel"].iloc[-1]
    assert np.isnan(last["channel_confidence"]) and last["channel_actions"] == 0
    assert pd.isna(last["genre"])


def test_rules_recover_the_planted_channel_and_genre_rules(fp):
    r = fingerprint.preference_rules(fp, target="channel", min_support=0.01)
    top = r.top("web")
    feats = {c[0] for c in top["conditions"]}
    assert {"brand=mzone", "age"} <= feats
    age_thr = [c[2] for c in top["conditions"] if c[0] == "age" and c[1] == "<="]
    assert age_thr and abs(age_thr[0] - 19.5) <= 1
    assert top["precision"] > 0.5 and top["lift"] > 2
    assert "brand == 'mzone'" in top["rule"]
    g = fingerprint.preference_rules(fp, target="genre").top("classic")
    conds = {(c[0], c[1]): c[2] for c in g["conditions"]}
    assert abs(conds[("age", ">")] - 41.5) <= 1
    assert abs(conds[("sms_p2p", "<=")] - 29.5) <= 3
    assert any(line.startswith("IF ") and "THEN genre = classic" in line
               for line in fingerprint.preference_rules(fp, target="genre").text())


def test_rule_support_and_precision_match_the_data(fp):
    r = fingerprint.preference_rules(fp, target="channel")
    row = r.top("web")
    t = fp.table
    mask = np.ones(len(t), dtype=bool)
    for f, op, thr in row["conditions"]:
        col = (t["brand"] == "mzone").to_numpy(float) if f == "brand=mzone" else t[f].to_numpy(float)
        mask &= (col <= thr) if op == "<=" else (col > thr)
    assert row["n"] == mask.sum()
    assert_allclose(row["precision"], (t["channel"][mask] == "web").mean())
    assert_allclose(row["support"], mask.mean())


def test_card_summary_plot(fp):
    uid = fp.table.index[5]
    card = fp.card(uid)
    assert card.loc["brand", "value"] == fp.table.loc[uid, "brand"]
    assert str(int(fp.table.loc[uid, "circle_size"])) in card.loc["social circle", "value"]
    with pytest.raises(ParameterError, match="parameter 'user_id'"):
        fp.card(-1)
    assert "Customer fingerprint" in str(fp.summary())
    assert fp.plot(dimension="genre") is not None
    assert fingerprint.preference_rules(fp).plot() is not None


def test_errors(tables, fp):
    with pytest.raises(SchemaError, match="table 'users', column 'brand'"):
        fingerprint.profile(**{**tables, "users": tables["users"].drop(columns="brand")})
    with pytest.raises(SchemaError, match="rows for month '2010-01'"):
        fingerprint.profile(**tables, month="2010-01")
    with pytest.raises(ParameterError, match="parameter 'month'"):
        fingerprint.profile(**tables, month="June")
    with pytest.raises(ParameterError, match="value_cuts"):
        fingerprint.profile(**tables, value_cuts=[100, 50])
    with pytest.raises(SchemaError, match="column 'colour'"):
        fingerprint.preference_rules(fp, target="colour")
    with pytest.raises(SchemaError, match="no column.*nope"):
        fingerprint.preference_rules(fp, features=["age", "nope"])
    with pytest.raises(ParameterError, match="min_support"):
        fingerprint.preference_rules(fp, min_support=0)
    with pytest.raises(ParameterError, match="max_depth"):
        fingerprint.preference_rules(fp, max_depth=0)


# -- planted truth from the simulator ----------------------------------------------------

@pytest.fixture(scope="module")
def synth():
    return synth_generate("yunnan", month="2009-06", n_users=20_000, seed=3)


def _feature(name: str) -> str:
    """The simulator's condition features as profile columns."""
    if name.startswith("holds:"):
        return "holds_" + name.split(":", 1)[1]
    return {"sms_p2p+mms": "sms_mms", "brand": "brand=mzone"}.get(name, name)


@pytest.fixture(scope="module")
def synth_fp(synth):
    return fingerprint.profile(synth.users, synth.usage, synth.subscriptions, synth.events, synth.edges)


def test_channel_preference_follows_the_simulators_realised_preference(synth, synth_fp):
    pref = synth.users.set_index("user_id")["preferred_channel"].astype(str)
    got = synth_fp.table["channel"].astype(str).reindex(pref.index)
    assert (got == pref).mean() > 0.9


@pytest.mark.parametrize("target", ["channel", "genre"])
def test_rules_recover_the_simulators_planted_y4_rules(synth, synth_fp, target):
    planted = synth.truth.channel_rules if target == "channel" else synth.truth.content_rules
    rules = fingerprint.preference_rules(synth_fp, target=target)
    checked = 0
    for p in planted:
        if not p["conditions"] or p["preference"] == "pop":  # the fallback rule: no conditions to find
            continue
        if p["preference"] == "local":  # 1% of users; only the newspaper condition is sharp enough
            p = {**p, "conditions": [c for c in p["conditions"] if c[0].startswith("holds:")]}
        top = rules.top(p["preference"])
        found = {}
        for f, op, thr in top["conditions"]:
            found.setdefault(f, []).append((op, thr))
        for f, op, v in p["conditions"]:
            col = _feature(f)
            assert col in found, f"{p['preference']}: {col} not in {top['rule']}"
            if isinstance(v, (bool, str)):  # flags and one-hot: the rule must say 'holds' / '=='
                assert (">", 0.5) in [(o, round(t, 1)) for o, t in found[col]], top["rule"]
            else:
                want = ">" if op in (">", ">=") else "<="
                thr = [t for o, t in found[col] if o == want]
                assert thr and abs(thr[0] - v) <= max(1.0, 0.05 * abs(v)), (p, top["rule"])
        assert top["lift"] > 2
        checked += 1
    assert checked >= 3


def test_sp_push_orders_do_not_count_as_a_channel_habit(tables):
    users, ev = tables["users"], tables["events"]
    uid = int(users["user_id"].iloc[0])
    pushed = pd.DataFrame({"user_id": uid, "service": "weather", "start": pd.date_range("2009-01-01", periods=20),
                           "end": pd.NaT, "channel": "sp_push", "source": "organic"})
    subs = pd.concat([tables["subscriptions"], pushed], ignore_index=True)
    base = fingerprint.profile(**tables).table.loc[uid]
    t = fingerprint.profile(**{**tables, "subscriptions": subs}).table.loc[uid]
    assert t["channel"] == base["channel"] and t["channel_actions"] == base["channel_actions"]
    counted = fingerprint.profile(**{**tables, "subscriptions": subs}, exclude_channels=()).table.loc[uid]
    assert counted["channel"] == "sp_push"
    assert len(ev)  # the fixture has events for everyone


def test_rules_beside_the_published_wording(fp):
    b = fingerprint.preference_rules(fp, target="genre").beside_published()
    assert {"pop", "classic", "local", "greeting", "diy"} <= set(b.index)
    assert "over 42" in b.loc["classic", "published"] and "age > 41.5" in b.loc["classic", "found"]


def test_rules_grown_on_a_sample_are_counted_on_everyone(fp):
    r = fingerprint.preference_rules(fp, target="channel", sample_size=1_500, seed=1)
    top = r.top("web")
    assert "brand == 'mzone'" in top["rule"]
    # leaves partition all customers: the n of one tree's leaves add up to every customer
    assert top["n"] > 0 and r.rules["support"].max() <= 1
    t = fp.table
    mask = np.ones(len(t), dtype=bool)
    for f, op, thr in top["conditions"]:
        col = (t["brand"] == "mzone").to_numpy(float) if f == "brand=mzone" else t[f].to_numpy(float)
        mask &= (col <= thr) if op == "<=" else (col > thr)
    assert top["n"] == mask.sum()


def test_argmax_share_per_category_counts_match_the_customer_by_category_matrix():
    from dmkit.fingerprint import _argmax_share

    rng = np.random.default_rng(1)
    n, m = 300, 7
    pos = rng.integers(-1, n, 5000)
    codes = rng.integers(-1, m, 5000)
    codes[pos == 5] = 2  # customer 5: one category only
    pos[pos == 6] = 7  # customer 6: no action
    best, conf, total, nnz = _argmax_share([(pos[:3000], codes[:3000]), (pos[3000:], codes[3000:])], n, m)
    assert (_argmax_share([(pos, codes)], n, m)[2] == total).all()  # two sources count as their concatenation
    ok = (pos >= 0) & (codes >= 0)
    flat = np.zeros((n, m), dtype=np.int64)
    np.add.at(flat, (pos[ok], codes[ok]), 1)
    assert (best == flat.argmax(axis=1)).all() and (total == flat.sum(axis=1)).all()  # ties: first category
    assert (nnz == (flat > 0).sum(axis=1)).all() and best[5] == 2 and conf[5] == 1 and np.isnan(conf[6])
    has = total > 0
    assert np.allclose(conf[has], flat.max(axis=1)[has] / total[has])


def test_binned_tree_grows_the_splits_of_sklearns_tree_on_features_with_few_values():
    from sklearn.tree import DecisionTreeClassifier

    from dmkit.fingerprint import _BinnedTree

    rng = np.random.default_rng(3)
    n = 4000
    X = np.column_stack([rng.integers(0, 2, n), rng.integers(10, 60, n), rng.integers(0, 8, n),
                         rng.normal(size=n).round(1)]).astype(np.float32)
    y = ((X[:, 0] == 1) & (X[:, 1] < 25)) | (X[:, 2] > 5)
    y ^= rng.random(n) < 0.1  # noise
    ours = _BinnedTree(3, 0.01).fit(_BinnedTree.bin(X), y).tree_
    ref = DecisionTreeClassifier(max_depth=3, min_samples_leaf=0.01, random_state=0).fit(X, y)

    def splits(t, node=0):  # (feature, threshold) per internal node, in preorder
        if t.children_left[node] == -1:
            return []
        return [(int(t.feature[node]), round(float(t.threshold[node]), 4))] + splits(
            t, t.children_left[node]) + splits(t, t.children_right[node])

    assert splits(ours) == splits(ref.tree_)
    leaves = _BinnedTree(3, 0.01).fit(_BinnedTree.bin(X), y).apply(lambda j: X[:, j], n)
    assert (np.bincount(leaves) > 0).sum() == (ref.tree_.children_left == -1).sum()
    assert sorted(np.bincount(leaves)[np.bincount(leaves) > 0]) == sorted(np.bincount(ref.apply(X))[
        np.bincount(ref.apply(X)) > 0])  # the same partition of the rows (nodes numbered otherwise)


def test_profile_takes_tables_loaded_with_only_the_columns_it_reads():
    d = synth_generate("yunnan", month="2009-06", n_users=2_000, seed=3)
    full = fingerprint.profile(d.users, d.usage, d.subscriptions, d.events, d.edges)
    cols = fingerprint.PROFILE_COLUMNS
    lean = fingerprint.profile(*(getattr(d, t)[list(cols[t])] for t in
                                 ("users", "usage", "subscriptions", "events", "edges")))
    pd.testing.assert_frame_equal(full.table, lean.table)
    bad = d.events[list(cols["events"])].assign(genre=d.events["genre"].astype(object))
    bad.loc[bad.index[0], "genre"] = "opera"
    with pytest.raises(SchemaError, match="table 'events', column 'genre'"):
        fingerprint.profile(d.users, d.usage, d.subscriptions, bad, d.edges)


@pytest.mark.parametrize("cells", [7 * 5, 7 * 64, 1 << 24])  # 5 and 64 customers a block (60 and 5 blocks), one block
def test_argmax_share_counted_block_by_block_equals_a_pandas_groupby(monkeypatch, cells):
    from dmkit.fingerprint import _argmax_share

    monkeypatch.setattr(fingerprint, "_COUNT_CELLS", cells)
    rng = np.random.default_rng(4)
    n, m = 300, 7
    pos = rng.integers(-1, n, 6000).astype(np.int32)
    codes = rng.integers(-1, m, 6000).astype(np.int16)
    pos[(pos >= 40) & (pos < 50)] = 60  # customers 40..49: no action
    codes[pos == 7] = rng.choice([1, 4], (pos == 7).sum())  # customer 7: two categories
    parts = [(pos[:2500], codes[:2500]), (pos[2500:], codes[2500:])]
    best, conf, total, nnz = _argmax_share(parts, n, m)

    acts = pd.DataFrame({"pos": pos, "code": codes}).query("pos >= 0 and code >= 0")
    cnt = acts.groupby(["pos", "code"]).size().unstack(fill_value=0).reindex(
        index=range(n), columns=range(m), fill_value=0)
    has = cnt.sum(axis=1) > 0
    ref_best = cnt[has].idxmax(axis=1)  # the first of tied categories, as argmax
    assert (best[has.to_numpy()] == ref_best.to_numpy()).all()
    assert (total == cnt.sum(axis=1).to_numpy()).all() and (total[40:50] == 0).all()
    assert (nnz == (cnt > 0).sum(axis=1).to_numpy()).all() and nnz[7] == 2
    assert_allclose(conf[has.to_numpy()], (cnt[has].max(axis=1) / cnt[has].sum(axis=1)).to_numpy())
    assert np.isnan(conf[~has.to_numpy()]).all()


def test_profile_reads_a_province_table_by_table_to_the_same_table(tmp_path):
    from dmkit.contract.province import ProvinceData

    d = synth_generate("yunnan", month="2009-06", n_users=3_000, seed=5)
    frames = fingerprint.profile(d.users, d.usage, d.subscriptions, d.events, d.edges, month="2009-06")
    lazy = ProvinceData.load(d.save(tmp_path / "p"), lazy=True)
    for got in (fingerprint.profile(lazy, month="2009-06"), fingerprint.profile(d, month="2009-06"),
                fingerprint.profile(lazy, d.usage)):  # default month: usage's latest
        pd.testing.assert_frame_equal(got.table, frames.table, check_exact=True)
        assert (got.month, got.value_cuts) == (frames.month, frames.value_cuts)
    assert "subscriptions" in lazy.__dict__["_pending"]  # read a few columns at a time, never whole
    early = sorted(fingerprint.present_labels(d.usage["month"]))[0]  # no edges that month: the latest used
    with pytest.warns(UserWarning, match=f"no edges for {early}"):
        old = fingerprint.profile(d.users, d.usage, d.subscriptions, d.events, d.edges, month=early)
    with pytest.warns(UserWarning, match=f"no edges for {early}"):
        pd.testing.assert_frame_equal(fingerprint.profile(lazy, month=early).table, old.table, check_exact=True)
    with pytest.raises(SchemaError, match="rows for month '2010-01'"):
        fingerprint.profile(lazy, month="2010-01")
    with pytest.raises(ParameterError, match="parameter 'events'"):
        fingerprint.profile(d.users, d.usage, d.subscriptions, None, d.edges)
    bad = d.events.assign(genre=d.events["genre"].astype(object))
    bad.loc[bad.index[0], "genre"] = "opera"
    d.events = bad
    broken = ProvinceData.load(d.save(tmp_path / "bad"), lazy=True)
    with pytest.raises(SchemaError, match="table 'events', column 'genre'"):  # checked as it is read
        fingerprint.profile(broken, month="2009-06")


def test_shares_name_the_customers_without_downloads(tables, fp):
    ev = tables["events"]
    downloaders = ev.loc[ev["ts"] <= "2009-06-30 23:59:59", "user_id"].nunique()
    genre = fp.shares().query("dimension == 'genre'").set_index("value")["share"]
    assert "nan" not in genre.index
    assert genre["no downloads"] == pytest.approx(1 - downloaders / len(fp.table))
    assert genre.sum() == pytest.approx(1.0)
