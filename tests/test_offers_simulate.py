"""dm.loop.simulate_plan and dm.synth.respond on the G3 channels and every catalog service.

The planted channel effects of the new channels are recovered from a large draw; plans sent on the
simulator keep every hard constraint (the independent checker of tests/test_offers.py); hits are
recounted from respond's own rows.
"""
from __future__ import annotations

import importlib

import numpy as np
import pandas as pd
import pytest

import dmkit as dm
from dmkit import catalog
from dmkit.errors import ParameterError, SchemaError
from tests.test_offers import violations

R = importlib.import_module("dmkit.synth.respond")

MONTH = "2009-01"
N = 20_000
#: the 11 channels of case G3 (the offers benchmark's and the notebook's)
G3_CHANNELS = catalog.G3_CHANNELS
NEW_SERVICES = [s for s in catalog.SERVICES if s not in R.LOOP_SERVICES]


@pytest.fixture(scope="module")
def world():
    return dm.synth.generate("guangdong", month="2008-12", n_users=N, seed=11, n_months=3)


def _catalog_plan(k_services: int, *, seed: int) -> pd.DataFrame:
    """Every user offered ``k_services`` non-loop services, each on a random G3 channel."""
    rng = np.random.default_rng(seed)
    svc = np.array(NEW_SERVICES)
    pick = np.argsort(rng.random((N, len(svc))), axis=1)[:, :k_services]
    return pd.DataFrame({"user_id": np.repeat(np.arange(N), k_services), "service": svc[pick.ravel()],
                         "channel": np.array(G3_CHANNELS)[rng.integers(0, len(G3_CHANNELS), N * k_services)],
                         "group": "target", "day": rng.integers(1, 29, N * k_services),
                         "window_start": 9.0, "window_end": 21.0})


def test_every_catalog_service_and_channel_is_planted():
    assert set(R.SERVICES) == set(catalog.SERVICES) and R.SERVICES[:3] == R.LOOP_SERVICES
    assert set(catalog.CHANNELS) | set(catalog.G3_CHANNELS) <= set(R.CHANNEL_EFFECT)
    assert set(R.CHANNEL_EFFECT) == set(R.DELIVERY) and len(catalog.G3_CHANNELS) == 11
    assert set(R.SMOOTH) == set(catalog.SERVICES)
    assert set(R.BASE_TAKE_UP) == set(NEW_SERVICES)


def test_planted_channel_effect_recovered_on_the_new_channels(world):
    """subscriptions / (delivery x p_true x fatigue) per channel estimates its planted effect (4 sd)."""
    plan = _catalog_plan(8, seed=1)
    r = R.respond(world, plan, month=MONTH, seed=9)
    p = R.take_up_probability(world, month=MONTH)          # independent of respond's truth frame
    c = world.contacts
    sent = c[(c["group"] == "target") & (c["sent_at"] >= "2008-10-01") & (c["sent_at"] < "2009-01-01")]
    k = sent.groupby("user_id").size().reindex(r.truth["user_id"]).fillna(0).to_numpy()
    cols = p.columns.get_indexer("p_" + r.truth["service"].astype(str))
    pt = p.to_numpy()[r.truth["user_id"].to_numpy(), cols]
    ch = r.truth["channel"].to_numpy()
    base = np.array([R.DELIVERY[x] for x in ch]) * pt * R.FATIGUE ** k * r.truth["eligible"].to_numpy()
    sub = r.contacts["subscribed_at"].notna().to_numpy()
    assert (pt * R.FATIGUE ** k * max(R.CHANNEL_EFFECT[x] for x in G3_CHANNELS) < 1).mean() > 0.999  # no clipping
    for x in G3_CHANNELS:
        m = ch == x
        eff = R.CHANNEL_EFFECT[x]
        est = sub[m].sum() / base[m].sum()
        sd = np.sqrt((base[m] * eff * (1 - base[m] * eff)).sum()) / base[m].sum()
        assert abs(est - eff) < 4 * sd, (x, est, eff, sd)
    # the channels differ as planted: hall (0.95 x 2.5) sells far more per contact than web (0.4 x 0.7)
    rate = pd.Series(sub).groupby(ch).mean()
    assert rate["hall"] > 4 * rate["web"]


def test_same_seed_same_catalog_plan_same_responses(world):
    plan = _catalog_plan(2, seed=3)
    a = R.respond(world, plan, month=MONTH, seed=4)
    b = R.respond(world, plan.sample(frac=1.0, random_state=2), month=MONTH, seed=4)
    for name in ("contacts", "subscriptions", "usage", "kpis", "truth"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))
    dm.schema.validate(a.contacts.drop(columns="channel"), "contacts")
    dm.schema.validate(a.subscriptions.astype({"source": object}), "subscriptions")


def test_take_up_probability_per_service_ignores_the_others(world):
    full = R.take_up_probability(world, month=MONTH)
    one = R.take_up_probability(world, month=MONTH, services=["gprs_package", "fetion"])
    assert list(one.columns) == ["p_fetion", "p_gprs_package"]
    pd.testing.assert_frame_equal(one, full[one.columns])
    # the planted driver: heavy data users take the data package more often
    u = world.usage[world.usage["month"] == "2008-12"].set_index("user_id").reindex(full.index)
    heavy = (u["gprs_kb"] > u["gprs_kb"].median()).to_numpy()
    assert full.loc[heavy, "p_gprs_package"].mean() > 1.5 * full.loc[~heavy, "p_gprs_package"].mean()
    with pytest.raises(ParameterError, match="services"):
        R.take_up_probability(world, month=MONTH, services=["carrier_service"])


def test_take_up_columns_for_some_users_equal_the_full_columns(world):
    """users= (one array, or one per service) gives the full columns' values at those users."""
    full = R.take_up_probability(world, month=MONTH, services=["fetion", "gprs_package", "crbt"])
    rng = np.random.default_rng(4)
    some = rng.choice(N, 700, replace=True)           # repeats and any order
    for s, p in R.take_up_columns(world, month=MONTH, services=["fetion", "gprs_package", "crbt"], users=some):
        np.testing.assert_array_equal(p, full[f"p_{s}"].to_numpy()[some])
    per = {"fetion": rng.choice(N, 50), "crbt": np.array([N - 1, 0])}   # gprs_package left out: no user
    got = dict(R.take_up_columns(world, month=MONTH, services=["fetion", "gprs_package", "crbt"], users=per))
    assert len(got["gprs_package"]) == 0
    for s, ids in per.items():
        np.testing.assert_array_equal(got[s], full[f"p_{s}"].to_numpy()[ids])
    with pytest.raises(ParameterError, match=r"users\['fetion'\].*\[0, 20000\)"):
        R.take_up_columns(world, month=MONTH, services=["fetion"], users=np.array([0, N]))


def test_categorical_plan_columns_answer_as_text_does(world):
    """A plan whose service, channel and group are categoricals gets the answer of the same plan
    in text; an unknown category or a repeated (user, service) is named."""
    from dmkit.loop.send import _answer_contacts

    plan = _catalog_plan(2, seed=5).sample(frac=1.0, random_state=3).reset_index(drop=True)
    cat = plan.astype({"service": "category", "channel": "category", "group": "category"})
    cat["service"] = cat["service"].cat.add_categories(["carrier_service"])   # an unused category is fine
    for a, b in zip(_answer_contacts(world, plan, month=MONTH, seed=2), _answer_contacts(world, cat, month=MONTH, seed=2),
                    strict=True):
        np.testing.assert_array_equal(a, b)
    bad = cat.copy()
    bad.loc[3, "service"] = "carrier_service"
    with pytest.raises(SchemaError, match="plan.*service.*carrier_service"):
        R.respond(world, bad, month=MONTH, seed=0)
    with pytest.raises(SchemaError, match="plan.*user_id.*1 duplicate"):
        R.respond(world, pd.concat([plan, plan.head(1)], ignore_index=True), month=MONTH, seed=0)


def test_unknown_channel_still_named(world):
    plan = _catalog_plan(1, seed=0).head(5).assign(channel="carrier_pigeon")
    with pytest.raises(SchemaError, match="plan.*channel"):
        R.respond(world, plan, month=MONTH, seed=0)


# ---------------------------------------------------------------------------- dm.loop.simulate_plan
def _offer_instance(seed: int = 0):
    """1,000 customers x 3-5 candidate activities over the G3 channels, with caps, a minimum and conflicts."""
    rng = np.random.default_rng(seed)
    n_users, services = 1000, np.array(NEW_SERVICES[:10])
    acts = pd.DataFrame({"activity_id": np.arange(22), "day": 1 + (np.arange(22) * 5) % 28,
                         "channel": np.array(catalog.G3_CHANNELS)[np.arange(22) % 11],
                         "services": [[services[i % 10]] + ([services[(i + 3) % 10]] if i % 4 == 0 else [])
                                      for i in range(22)],
                         "cost": np.r_[np.linspace(0.02, 1.5, 11), np.linspace(0.02, 1.5, 11)]})
    k = rng.integers(3, 6, n_users)
    user = np.repeat(np.arange(n_users), k)
    act = np.concatenate([rng.choice(22, size=j, replace=False) for j in k])
    p = rng.beta(1.5, 25, len(user))
    cand = pd.DataFrame({"user_id": user, "activity_id": act, "value": p * 30 - acts["cost"].to_numpy()[act],
                         "p_response": p})
    cons = pd.DataFrame([{"kind": "max_contacts", "channels": "hall;retail", "bound": 150},
                         {"kind": "budget", "bound": 450.0}, {"kind": "max_contacts_per_user", "bound": 2},
                         {"kind": "min_sales", "services": services[0], "bound": 2.5}])
    conf = pd.DataFrame([{"channel_1": "sms", "channel_2": "sms", "lag": 7},
                         {"channel_1": "hall", "channel_2": "retail", "lag": 3}])
    return cand, acts, cons, conf


def test_simulated_plans_keep_every_constraint_and_count_hits_from_respond(world):
    cand, acts, cons, conf = _offer_instance()
    out = {}
    for method in ("greedy", "decompose"):
        plan = dm.offers.optimize(cand, activities=acts, constraints=cons, conflicts=conf, method=method)
        assert plan.feasible and violations(plan.assignments, cand, acts, cons, conf) == []
        sim = dm.loop.simulate_plan(plan, world, month=MONTH, seed=5)
        c = sim.contacts
        assert sim.contacted == len(plan.assignments) and c["user_id"].tolist() == plan.assignments["user_id"].tolist()
        # recount: respond on the same rows, a contact is a hit when a promoted service was subscribed
        rows = c.assign(service=c["services"].str.split(";")).explode("service")
        rows = rows.sort_values("day", kind="stable").drop_duplicates(["user_id", "service"])
        sim_plan = rows.assign(group="target", window_start=9.0, window_end=21.0)[
            ["user_id", "service", "channel", "group", "day", "window_start", "window_end"]]
        r = R.respond(world, sim_plan.astype({"user_id": np.int64}), month=MONTH, seed=5)
        subs = r.contacts.loc[r.contacts["subscribed_at"].notna(), ["user_id", "service"]].astype({"service": str})
        hit_users = set(map(tuple, subs.to_numpy()))
        want = rows.assign(hit=[(u, s) in hit_users for u, s in zip(rows["user_id"], rows["service"], strict=True)])
        n_hits = want.groupby(["user_id", "activity_id"])["hit"].any().sum()
        assert sim.hits == n_hits and sim.hit_rate == pytest.approx(n_hits / len(c))
        assert not (c["hit"] & ~c["delivered"]).any()                      # only delivered offers sell
        assert (c["p_planted"].between(0, 1)).all()
        assert sim.expected == pytest.approx(plan.expected_sales)
        t = sim.to_frame("channel")
        assert t["contacts"].sum() == len(c) and t["hits"].sum() == sim.hits
        assert set(sim.summary().table("per channel").index) <= set(G3_CHANNELS)
        out[method] = sim
    # same seed, world and plan: the same answer
    again = dm.loop.simulate_plan(dm.offers.optimize(cand, activities=acts, constraints=cons, conflicts=conf,
                                                  method="decompose"), world, month=MONTH, seed=5)
    pd.testing.assert_frame_equal(again.contacts, out["decompose"].contacts)


def test_simulate_realised_matches_planted_in_expectation(world):
    """Over a large plan, realised hits equal the sum of the planted probabilities (4 sd)."""
    cand, acts, _, _ = _offer_instance(seed=2)
    plan = dm.offers.optimize(cand, activities=acts, method="greedy")
    sim = dm.loop.simulate_plan(plan, world, month=MONTH, seed=1)
    p = sim.contacts["p_planted"].to_numpy()
    assert abs(sim.hits - p.sum()) < 4 * np.sqrt((p * (1 - p)).sum()) + 1


def test_simulate_names_bad_input(world):
    with pytest.raises(ParameterError, match="plan"):
        dm.loop.simulate_plan(pd.DataFrame(), world, month=MONTH)
    cand, acts, _, _ = _offer_instance()
    plan = dm.offers.optimize(cand, activities=acts.assign(channel="carrier_pigeon"), method="greedy")
    with pytest.raises(SchemaError, match="channel"):
        dm.loop.simulate_plan(plan, world, month=MONTH)


def test_simulate_plan_answers_as_respond_does(world):
    """simulate_plan's contacts-only answer (dmkit.loop.send._answer_contacts) equals respond's own
    rows for the same plan: planted effective take-up, delivery and subscription per (user, service),
    with users fatigued by the world's earlier contacts and users already holding the service."""
    from dmkit.loop.send import _answer_contacts

    rng = np.random.default_rng(3)
    fatigued = np.unique(world.contacts.loc[world.contacts["group"] == "target", "user_id"].to_numpy())
    users = np.unique(np.r_[fatigued[:1500], rng.choice(N, 4000, replace=False)])
    services = np.array(sorted(set(R.LOOP_SERVICES) | set(NEW_SERVICES[:6])))
    pick = rng.integers(0, len(services), (len(users), 2))
    plan = pd.DataFrame({"user_id": np.repeat(users, 2), "service": services[pick.ravel()],
                         "channel": np.array(G3_CHANNELS)[rng.integers(0, len(G3_CHANNELS), 2 * len(users))],
                         "group": "target", "day": rng.integers(1, 29, 2 * len(users)),
                         "window_start": 9.0, "window_end": 21.0}).drop_duplicates(["user_id", "service"])
    plan = plan.sample(frac=1.0, random_state=1).reset_index(drop=True)   # not in respond's order
    held = world.subscriptions
    start = pd.Timestamp(MONTH + "-01")
    holds = held.loc[(held["start"] < start) & (held["end"].isna() | (held["end"] >= start)), ["user_id", "service"]]
    key = set(zip(holds["user_id"], holds["service"].astype(str), strict=True))
    n_held = sum((u, s) in key for u, s in zip(plan["user_id"], plan["service"], strict=True))
    assert n_held > 20 and len(np.intersect1d(plan["user_id"], fatigued)) > 500   # both cases present

    p_eff, delivered, subscribed = _answer_contacts(world, plan, month=MONTH, seed=9)
    r = R.respond(world, plan, month=MONTH, seed=9)
    idx = pd.MultiIndex.from_arrays([r.truth["user_id"].to_numpy().astype(np.int64),
                                     r.truth["service"].astype(str).to_numpy()])
    pos = idx.get_indexer(pd.MultiIndex.from_arrays([plan["user_id"].to_numpy(), plan["service"].to_numpy()]))
    assert (pos >= 0).all()
    np.testing.assert_allclose(p_eff, r.truth["p_effective"].to_numpy()[pos], rtol=1e-12, atol=0)
    np.testing.assert_array_equal(delivered, r.contacts["delivered"].to_numpy().astype(bool)[pos])
    np.testing.assert_array_equal(subscribed, r.contacts["subscribed_at"].notna().to_numpy()[pos])
    assert subscribed.sum() > 10
