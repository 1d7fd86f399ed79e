"""dm.life_circle (case G4): circles, hall attribution and music tags on hand-made sightings and
on the simulator's planted life circles (dmkit.synth.location)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import dmkit as dm
from dmkit import schema
from dmkit.errors import ParameterError, SchemaError
from dmkit.synth import location as synth_location

lc = dm.life_circle


def _loc(rows):
    """rows: (user, month, cell, hall, night, workday, evening, weekend)."""
    df = pd.DataFrame(rows, columns=["user_id", "month", "cell_id", "hall_id", *lc.BANDS])
    return df.astype({c: "int64" for c in ["user_id", "cell_id", "hall_id", *lc.BANDS]})


HAND = _loc([
    # user 1: home 10 (hall 0), work 20 (hall 1), out at 30 (hall 1)
    (1, "2008-11", 10, 0, 6, 1, 2, 1),
    (1, "2008-11", 20, 1, 0, 5, 0, 0),
    (1, "2008-11", 30, 1, 0, 0, 3, 2),
    (1, "2008-11", 11, 0, 1, 0, 0, 0),
    # user 2: works at home (cell 40), goes out at 41; seen twice only
    (2, "2008-11", 40, 2, 1, 0, 0, 0),
    (2, "2008-11", 41, 2, 0, 0, 1, 0),
])


def test_circles_on_a_hand_made_table():
    t = lc.circles(HAND).table
    one = t.loc[1]
    assert (one["home_cell"], one["work_cell"], one["leisure_cell"]) == (10, 20, 30)
    # hall 1 holds 5 + 5 = 10 of the 21 sightings, hall 0 holds 10 + 1 = 11: hall 0
    assert one["hall_id"] == 0 and one["n_sightings"] == 21
    assert one["hall_share"] == pytest.approx(11 / 21)
    # user 2 is seen twice, below min_sightings=3: no tags
    assert t.loc[2, ["home_cell", "work_cell", "leisure_cell", "hall_id"]].isna().all()
    t1 = lc.circles(HAND, min_sightings=1).table
    assert t1.loc[2, "home_cell"] == 40 and pd.isna(t1.loc[2, "work_cell"]) and t1.loc[2, "leisure_cell"] == 41


def test_levels_are_three_deep():
    lv = lc.circles(HAND).levels()
    assert list(lv.columns) == ["user_id", "level_1", "level_2", "level_3"]
    assert set(lv.loc[lv["user_id"] == 1, "level_2"]) == {"home circle (家庭圈)", "work circle (工作圈)",
                                                          "leisure circle (休闲圈)", "hall (营业厅归属)"}


def test_accuracy_by_hand():
    tags = pd.DataFrame({"user_id": [1, 2, 3, 4], "hall_id": pd.array([5, 6, None, 8], dtype="Int64")})
    ref = pd.DataFrame({"user_id": [1, 2, 3, 4, 5], "hall": [5, 7, 1, 8, 9]})
    a = lc.accuracy(tags, ref, pairs={"hall_id": "hall"})
    row = a.table.loc["hall_id"]
    assert (row["n_reference"], row["n_tagged"], row["n_correct"]) == (5, 3, 2)
    assert row["accuracy"] == pytest.approx(2 / 3) and row["coverage"] == pytest.approx(3 / 5)
    assert row["ci_low"] < 2 / 3 < row["ci_high"]
    with pytest.raises(SchemaError, match="column 'nope'"):
        lc.accuracy(tags, ref, pairs={"nope": "hall"})
    with pytest.raises(SchemaError, match="one row per customer"):
        lc.accuracy(pd.concat([tags, tags]), ref, pairs={"hall_id": "hall"})


def test_music_tags_need_an_excess_over_the_usual_evenings():
    loc = _loc([
        (1, "2008-10", 99, 0, 0, 0, 0, 0), (1, "2008-11", 99, 0, 0, 0, 3, 0),   # concert-goer
        (2, "2008-10", 99, 0, 0, 0, 3, 0), (2, "2008-11", 99, 0, 0, 0, 4, 0),   # lives it up there anyway
        (3, "2008-11", 98, 0, 0, 0, 3, 0),                                       # another cell
    ])
    loc = loc[loc[list(lc.BANDS)].sum(axis=1) > 0]
    concerts = pd.DataFrame({"concert": ["tour"], "genre": ["pop"], "month": ["2008-11"], "cell_id": [99]})
    m = lc.music_tags(loc, concerts, min_excess=2)
    assert m.per_user.index.tolist() == [1] and m.per_user.loc[1, "genre"] == "pop"
    assert m.concerts.loc[0, "tagged"] == 1


def test_locations_contract_and_errors():
    bad = HAND.copy()
    bad.loc[0, "n_night"] = -1
    with pytest.raises(SchemaError, match="table 'locations', column 'n_night'"):
        lc.circles(bad)
    with pytest.raises(SchemaError, match="unique keys"):
        lc.circles(pd.concat([HAND, HAND.head(1)]))
    with pytest.raises(ParameterError, match="months"):
        lc.circles(HAND, months=["2009-01"])
    assert "locations" in schema.OPTIONAL_TABLES and "locations" not in schema.TABLES


def test_data_readme_documents_the_locations_table():
    from tests.test_schema import KIND_WORDS, _readme_tables

    doc = _readme_tables()["locations"]
    assert list(doc) == [s.name for s in schema.COLUMNS["locations"]]
    for s in schema.COLUMNS["locations"]:
        kind, unit, meaning, _allowed, key, empty = doc[s.name]
        assert (kind, unit, meaning) == (KIND_WORDS[s.kind], s.unit or "—", s.meaning)
        assert (key == "key") == (s.name in schema.KEYS["locations"]) and empty == "no"


def test_hall_plan_by_hand():
    tags = lc.LifeCircleTags(table=pd.DataFrame(
        {"n_sightings": [10] * 6, "home_cell": 1, "work_cell": 1, "leisure_cell": 1,
         "hall_id": pd.array([7, 7, 7, 8, 8, 9], dtype="Int64"), "hall_share": [0.9, 0.5, 0.7, 0.8, 0.6, 0.9],
         "works_at_home": True}, index=pd.Index([1, 2, 3, 4, 5, 6], name="user_id")),
        months=("2008-11",), min_sightings=3)
    p = lc.plan_hall_campaign(tags, n_halls=2, target_share=0.4)
    assert p.halls["hall_id"].tolist() == [7, 8] and p.customers_in_radius == 5
    assert p.halls["attributed"].tolist() == [3, 2]
    assert p.plan["user_id"].tolist() == [1, 4]          # round(0.4 * 5) = 2, by hall share
    took = pd.Series([True, False], index=p.plan.index)
    ev = p.evaluate(took)
    assert ev.loc["all", "rate"] == 0.5 and ev.loc[7, "took_part"] == 1
    with pytest.raises(ParameterError, match="target_share"):
        lc.plan_hall_campaign(tags, target_share=0)


@pytest.fixture(scope="module")
def sim():
    d = dm.synth.generate("guangdong", month="2008-11", n_users=6000, seed=3)
    return d, synth_location.simulate_locations(d, n_cells=900, n_halls=80, seed=2)


def test_simulated_locations_keep_the_contract_and_plant_the_taste(sim):
    d, L = sim
    schema.validate(L.locations, "locations")
    assert set(L.locations["month"].astype(str)) == set(L.planted["months"])
    genre = d.truth.user_truth.set_index("user_id")["preferred_genre"].astype(str)
    assert (L.truth.set_index("user_id")["music_genre"].astype(str) == genre).all()
    # game affinity: mean 1, higher for the under-30s (what the pilot's model can learn)
    aff = L.truth.set_index("user_id")["game_affinity"]
    assert aff.mean() == pytest.approx(1.0)
    young = d.users.set_index("user_id")["age"] < 30
    assert aff[young].mean() > aff[~young].mean()
    # the operator's map: every cell of a hall's radius is nearer that hall than any other
    cells = L.cells.set_index("cell_id")
    assert (L.locations["hall_id"].to_numpy() == cells.loc[L.locations["cell_id"], "hall_id"].to_numpy()).all()


def test_tags_recover_the_planted_circles(sim):
    _, L = sim
    tags = lc.circles(L.locations)
    acc = lc.accuracy(tags.table, L.truth, pairs={c: c for c in ("home_cell", "work_cell", "leisure_cell", "hall_id")})
    assert acc.table.loc["home_cell", "accuracy"] > 0.9       # nights are at home
    assert acc.table["accuracy"].min() > 0.7                  # the deck's floor
    # with a perfect signal and many sightings, home and work are always right
    d, _ = sim
    exact = synth_location.simulate_locations(d, n_cells=900, n_halls=80, accuracy=1.0, sightings=200, seed=2)
    acc1 = lc.accuracy(lc.circles(exact.locations).table, exact.truth, pairs={"home_cell": "home_cell",
                                                                                "work_cell": "work_cell"})
    assert (acc1.table["accuracy"] > 0.995).all()
    # a noisier signal gives worse tags
    noisy = synth_location.simulate_locations(d, n_cells=900, n_halls=80, accuracy=0.4, seed=2)
    acc_n = lc.accuracy(lc.circles(noisy.locations).table, noisy.truth, pairs={"hall_id": "hall_id"})
    assert acc_n.table.loc["hall_id", "accuracy"] < acc.table.loc["hall_id", "accuracy"]


def test_music_tags_find_the_fans(sim):
    _, L = sim
    m = lc.music_tags(L.locations, L.concerts)
    acc = lc.accuracy(m.per_user, L.truth, pairs={"genre": "music_genre"})
    # precision against the planted taste; attendees' taste is a fan's w.p. fan share * p_fan / (...)
    assert acc.table.loc["genre", "accuracy"] > 0.6
    went = set(L.attendance["user_id"])
    assert len(set(m.per_user.index) & went) / len(m.per_user) > 0.8


def test_hall_plan_counts_the_customers_seen_in_the_radius(sim):
    _, L = sim
    tags = lc.circles(L.locations)
    plan = lc.plan_hall_campaign(tags, n_halls=10, locations=L.locations)
    key = plan.halls["hall_id"].tolist()
    seen = L.locations.loc[L.locations["hall_id"].isin(key), "user_id"].nunique()
    assert plan.customers_in_radius == seen >= plan.halls["attributed"].sum()
    assert len(plan.plan) == round(lc.DECK_HALL_CAMPAIGN["targeted"] / lc.DECK_HALL_CAMPAIGN["customers_in_radius"] * seen)
    assert set(plan.plan["hall_id"]) <= set(key)


def test_locations_read_from_an_operator_extract_with_a_mapping(tmp_path):
    csv = tmp_path / "signalling.csv"
    csv.write_text("SERV_NUMBER,STAT_MONTH,LAC_CI,HALL_CODE,NIGHT_CNT,WORK_CNT,EVENING_CNT,WEEKEND_CNT\n"
                   "1,200811,10,0,6,1,2,1\n1,200811,20,1,0,5,0,0\n", encoding="utf-8")
    mapping = {"locations": {"SERV_NUMBER": "user_id", "STAT_MONTH": "month", "LAC_CI": "cell_id",
                             "HALL_CODE": "hall_id", "NIGHT_CNT": "n_night", "WORK_CNT": "n_workday",
                             "EVENING_CNT": "n_evening", "WEEKEND_CNT": "n_weekend"}}
    loc = dm.io.read_table(csv, "locations", mapping=mapping)
    assert loc["month"].astype(str).tolist() == ["2008-11", "2008-11"]
    t = lc.circles(loc).table
    assert (t.loc[1, "home_cell"], t.loc[1, "work_cell"]) == (10, 20)


def test_hall_campaign_rate_is_the_planted_mix(sim):
    _, L = sim
    tags = lc.circles(L.locations)
    plan = lc.plan_hall_campaign(tags, n_halls=20, target_share=0.5)
    took = synth_location.respond_hall_campaign(L, plan.plan, seed=1)
    expected = synth_location.hall_probability(L, plan.plan).mean()
    ev = plan.evaluate(took)
    assert ev.loc["all", "ci_low"] - 0.02 < expected < ev.loc["all", "ci_high"] + 0.02


def test_customer_view_has_four_dimensions(sim):
    d, L = sim
    view = lc.customer_view(lc.circles(L.locations), d.usage, month="2008-11",
                            music=lc.music_tags(L.locations, L.concerts))
    assert set(view["level_1"]) == {"value (客户价值)", "behaviour (消费行为)", "preference (业务偏好)",
                                    "life trajectory (生活轨迹)"}


def test_deck_concert_offers_beat_the_baseline():
    g4 = dm.published.read("g4_campaigns")
    concerts = g4[g4["kind"] == "concert"]
    t = dm.campaign.compare(concerts).table
    np.testing.assert_allclose(t["rate"], concerts["rate_printed"], atol=0.0006)
    assert t["beats_baseline"].all() and (t["ci_low"] > 0.05).all()
    hall = g4[g4["kind"] == "hall"].iloc[0]
    assert hall["covered"] == lc.DECK_HALL_CAMPAIGN["targeted"]
    assert hall["succeeded"] / hall["covered"] == pytest.approx(0.278, abs=5e-4)


def test_simulator_parameters_are_checked(sim):
    d, L = sim
    with pytest.raises(ParameterError, match="accuracy"):
        synth_location.simulate_locations(d, accuracy=1.5)
    with pytest.raises(ParameterError, match="n_halls"):
        synth_location.simulate_locations(d, n_cells=100, n_halls=200)
    with pytest.raises(SchemaError, match="column 'hall_id'"):
        synth_location.respond_hall_campaign(L, pd.DataFrame({"user_id": [1]}))


def test_signalling_on_a_stratified_sample_of_customers(sim):
    d, full = sim
    s = synth_location.simulate_locations(d, n_cells=900, n_halls=80, seed=2, sample_size=2000)
    schema.validate(s.locations, "locations")
    assert len(s.truth) == 2000 and s.planted["n_customers"] == 6000 and s.planted["sample_size"] == 2000
    assert set(s.locations["user_id"]) <= set(s.truth["user_id"]) and s.truth["user_id"].is_monotonic_increasing
    # each brand x student stratum keeps its share (within one customer of rounding)
    users = d.users.set_index("user_id")
    whole = users.groupby(["brand", "student"], observed=True).size() * 2000 / 6000
    got = users.loc[s.truth["user_id"]].groupby(["brand", "student"], observed=True).size()
    assert (got.reindex(whole.index).fillna(0) - whole).abs().max() <= 1
    # same seed, same sample and data; no sample when it would hold everyone
    again = synth_location.simulate_locations(d, n_cells=900, n_halls=80, seed=2, sample_size=2000)
    pd.testing.assert_frame_equal(s.locations, again.locations)
    everyone = synth_location.simulate_locations(d, n_cells=900, n_halls=80, seed=2, sample_size=10_000)
    pd.testing.assert_frame_equal(everyone.locations, full.locations)
    with pytest.raises(ParameterError, match="sample_size"):
        synth_location.simulate_locations(d, sample_size=0)


def test_circles_do_not_depend_on_the_row_order(sim):
    _, L = sim
    shuffled = L.locations.sample(frac=1.0, random_state=0)
    for months in (None, L.planted["months"][-1:]):
        pd.testing.assert_frame_equal(lc.circles(L.locations, months=months).table,
                                      lc.circles(shuffled, months=months).table)


def test_wilson_equals_statsmodels_closed_form():
    """The closed form agrees with statsmodels' Wilson interval (0 and n successes, three alphas); NaN at n = 0."""
    from statsmodels.stats.proportion import proportion_confint

    rng = np.random.default_rng(5)
    n = rng.integers(1, 10**7, 500)
    k = rng.binomial(n, rng.uniform(0, 1, 500))
    k[:5], k[5:10] = 0, n[5:10]
    for alpha in (0.05, 0.1, 0.01):
        lo, hi = dm.life_circle.wilson(k, n, alpha=alpha)
        want_lo, want_hi = proportion_confint(k, n, alpha=alpha, method="wilson")
        np.testing.assert_allclose(lo, want_lo, rtol=0, atol=1e-12)
        np.testing.assert_allclose(hi, want_hi, rtol=0, atol=1e-12)
    lo, hi = dm.life_circle.wilson([3, 0], [0, 0])
    assert np.isnan(lo).all() and np.isnan(hi).all()
    with pytest.raises(ParameterError, match="alpha"):
        dm.life_circle.wilson([1], [2], alpha=1.5)
