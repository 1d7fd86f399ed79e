"""dm.loop.run: the monthly closed loop on the simulator and on real extracts."""
from __future__ import annotations

import importlib
import json

import numpy as np
import pandas as pd
import pytest

import dmkit as dm
from dmkit.errors import ParameterError
from dmkit.loop import SimulatedSource
from dmkit.loop.runner import MONTHLY_COLUMNS

N = 6000
KW = {"province": "guangdong", "start": "2009-01", "n_users": N, "seed": 5}


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("synth-cache")


@pytest.fixture(scope="module")
def base_run(tmp_path_factory, cache):
    out = tmp_path_factory.mktemp("loop") / "model"
    return dm.loop.run(**KW, months=3, policy="model", out=out, cache_dir=cache)


def test_monthly_table_has_the_issue_columns(base_run):
    m = base_run.monthly
    assert list(m.columns) == list(MONTHLY_COLUMNS)
    assert m["month"].tolist() == ["2009-01", "2009-02", "2009-03"]
    np.testing.assert_allclose(m["take_up"], m["subscribed"] / m["contacted"])
    np.testing.assert_allclose(m["uplift"], m["take_up"] - m["control_take_up"])
    assert (m["contacted"] + m["control"] <= 300).all() and (m["contacted"] > 250).all()
    doc = json.loads((base_run.out / "loop.json").read_text())
    assert pd.DataFrame(doc["monthly"])["subscribed"].tolist() == m["subscribed"].tolist()
    tm = base_run.timings
    assert tm["month"].tolist() == m["month"].tolist() and (tm["cpu_seconds"] > 0).all()


def test_plan_follows_the_practice(base_run, cache):
    """Control group, one offer per user, weekday sends in the windows, sensitive numbers excluded."""
    world = dm.io.load_province("synth", province="guangdong", month="2008-12", n_users=N, seed=5,
                                n_months=3, cache_dir=cache)
    excluded = set(SimulatedSource("guangdong", n_users=N, seed=5).excluded(world))
    assert len(excluded) > 50
    for month in base_run.monthly["month"]:
        plan = pd.read_parquet(base_run.out / "months" / month / "plan.parquet")
        assert not plan["user_id"].duplicated().any()
        assert abs((plan["group"] == "control").mean() - 0.1) < 0.06
        dates = pd.Period(month, "M").start_time + pd.to_timedelta(plan["day"] - 1, unit="D")
        assert (dates.dt.dayofweek < 5).all()
        assert set(map(tuple, plan[["window_start", "window_end"]].to_numpy())) <= {(9.5, 12), (14, 17), (18, 21)}
        assert not set(plan["user_id"]) & excluded
        lists = base_run.out / "months" / month / "contact_lists"
        sent = pd.concat([pd.read_csv(f) for f in lists.glob("*.csv") if f.name != "holdout.csv"])
        assert len(sent) == (plan["group"] == "target").sum()
        assert len(pd.read_csv(lists / "holdout.csv")) == (plan["group"] == "control").sum()


def test_same_seed_same_loop(base_run, tmp_path, cache):
    again = dm.loop.run(**KW, months=3, policy="model", out=tmp_path / "again", cache_dir=cache)
    pd.testing.assert_frame_equal(again.monthly, base_run.monthly)
    for month in again.monthly["month"]:
        for name in ("plan", "contacts"):
            pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "again" / "months" / month / f"{name}.parquet"),
                                          pd.read_parquet(base_run.out / "months" / month / f"{name}.parquet"))


def test_oracle_beats_random_by_the_planted_margin(tmp_path, cache):
    runs = {p: dm.loop.run(**KW, months=2, policy=p, out=tmp_path / p, cache_dir=cache) for p in ("oracle", "random")}
    observed, planted, var = {}, {}, {}
    for p, r in runs.items():
        truth = pd.concat([pd.read_parquet(r.out / "months" / m / "truth.parquet") for m in r.monthly["month"]])
        t = truth[truth["group"] == "target"]["p_effective"].to_numpy()
        planted[p], var[p] = t.mean(), (t * (1 - t)).sum() / len(t) ** 2
        observed[p] = r.cumulative_take_up
    margin = planted["oracle"] - planted["random"]
    assert margin > 0.15
    assert abs((observed["oracle"] - observed["random"]) - margin) < 4 * np.sqrt(var["oracle"] + var["random"])
    c = dm.loop.compare(list(runs.values()))
    assert c.totals.loc["oracle", "vs_random"] > 3
    # neither policy plans with a model, so neither fits one: no version stored, the planning
    # model's columns NaN, the planted truth's on their own offers measured
    for p, r in runs.items():
        assert r.versions.empty and not any((r.out / "models").rglob("*.skops"))
        m = r.monthly
        for col in ("model_auc", "model_auc_contacts", "model_auc_planted", "base_auc_planted", "model_auc_attainable"):
            assert m[col].isna().all(), (p, col)
        assert m["oracle_auc"].between(0.5, 1).all() and m["oracle_auc_planted"].between(0.5, 1).all(), p
        assert r.precision_scale["expected_take_up"].isna().all() and r.precision_scale["true_take_up"].notna().all()


class _Killed(RuntimeError):
    pass


class _Crashing(SimulatedSource):
    """Dies in the middle of ``crash_month``, after the plan and contact lists were written."""

    def __init__(self, *args, crash_month: str, **kw):
        super().__init__(*args, **kw)
        self.crash_month = crash_month

    def respond(self, world, plan, month):
        if month == self.crash_month:
            raise _Killed(month)
        return super().respond(world, plan, month)


@pytest.mark.parametrize("crash", ["2009-01", "2009-02", "2009-03"])
def test_resume_after_a_kill_gives_the_same_final_table(base_run, tmp_path, cache, crash):
    out = tmp_path / "crashed"
    src = _Crashing("guangdong", n_users=N, seed=5, cache_dir=cache, crash_month=crash)
    with pytest.raises(_Killed):
        dm.loop.run(**KW, months=3, policy="model", out=out, cache_dir=cache, source=src)
    assert (out / "months" / crash / "plan.parquet").exists() and not (out / "months" / crash / "month.json").exists()
    resumed = dm.loop.run(**KW, months=3, policy="model", out=out, cache_dir=cache)
    pd.testing.assert_frame_equal(resumed.monthly, base_run.monthly)
    assert resumed.timings["month"].tolist()[0] == crash      # the months before were not run again
    pd.testing.assert_frame_equal(resumed.versions.drop(columns=[]), base_run.versions)


def test_a_longer_run_continues_from_the_last_month(base_run, tmp_path, cache):
    out = tmp_path / "grow"
    dm.loop.run(**KW, months=2, policy="model", out=out, cache_dir=cache)
    more = dm.loop.run(**KW, months=3, policy="model", out=out, cache_dir=cache)
    pd.testing.assert_frame_equal(more.monthly, base_run.monthly)
    assert more.timings["month"].tolist() == ["2009-03"]


def test_another_run_in_the_same_folder_is_refused(base_run, cache):
    with pytest.raises(ParameterError, match="config.json differs"):
        dm.loop.run(**KW, months=3, policy="random", out=base_run.out, cache_dir=cache)


@pytest.mark.parametrize("kw, match", [
    ({"policy": "best"}, "policy"), ({"start": "2009-13"}, "start"), ({"months": 0}, "months"),
    ({"control_share": 0.9}, "control_share"), ({"services": ("crbt",)}, "services"),
])
def test_bad_arguments_are_named(tmp_path, kw, match):
    with pytest.raises(ParameterError, match=match):
        dm.loop.run(**{**KW, "months": 1, "out": tmp_path / "x", **kw})


# --------------------------------------------------------------------------- real extracts
def _write_extracts(root, pdata):
    for table in dm.schema.TABLES:
        dm.io.write_table(getattr(pdata, table), table, root, province="guangdong", month="2008-12")


def _plan_from_lists(folder, month):
    start = pd.Period(month, "M").start_time
    sent = pd.concat([pd.read_csv(f) for f in sorted(folder.glob("*.csv")) if f.name != "holdout.csv"])
    sent = sent.assign(group="target", day=(pd.to_datetime(sent["date"]) - start).dt.days + 1)
    hold = pd.read_csv(folder / "holdout.csv").assign(group="control", channel="sms", day=1,
                                                        window_start=9.5, window_end=12.0)
    cols = ["user_id", "service", "channel", "group", "day", "window_start", "window_end"]
    return pd.concat([sent[cols], hold[cols]], ignore_index=True)


def test_real_contacts_drive_the_evaluation_without_the_simulator(tmp_path, monkeypatch):
    world = dm.synth.generate("guangdong", month="2008-12", n_users=N, seed=5, n_months=3)
    root, out = tmp_path / "extracts", tmp_path / "loop"
    _write_extracts(root, world)
    first = dm.loop.run(province="guangdong", start="2009-01", months=1, policy="model", seed=5,
                        out=out, data=root, budget=300)
    assert first.pending == "2009-01" and len(first.monthly) == 0
    lists = out / "months" / "2009-01" / "contact_lists"
    assert (lists / "holdout.csv").exists()

    # the operator's campaign system sends the lists; its contacts come back as an extract
    plan = _plan_from_lists(lists, "2009-01")
    resp = dm.synth.respond(world, plan, month="2009-01", seed=99)
    contacts = resp.contacts.drop(columns="channel")
    dm.io.write_table(contacts, "contacts", root, province="guangdong", month="2009-01")
    dm.io.write_table(resp.usage, "usage", root, province="guangdong", month="2009-01")
    dm.io.write_table(resp.kpis, "kpis", root, province="guangdong", month="2009-01")
    subs = pd.concat([world.subscriptions.astype({"source": object}),
                      resp.subscriptions.astype({"source": object})], ignore_index=True)
    dm.io.write_table(subs, "subscriptions", root, province="guangdong", month="2009-01")

    def no_simulator(*a, **k):
        raise AssertionError("the simulator was called")
    module = importlib.import_module("dmkit.synth.respond")
    monkeypatch.setattr(module, "respond", no_simulator)
    monkeypatch.setattr(module, "take_up_probability", no_simulator)
    monkeypatch.setattr(dm.synth, "generate", no_simulator)
    done = dm.loop.run(province="guangdong", start="2009-01", months=1, policy="model", seed=5,
                       out=out, data=root, budget=300)
    assert done.pending is None
    row = done.monthly.iloc[0]
    t = contacts[contacts["group"] == "target"]
    c = contacts[contacts["group"] == "control"]
    assert row["contacted"] == t["sent_at"].notna().sum()
    assert row["delivered"] == t["delivered"].sum()
    assert row["subscribed"] == t["subscribed_at"].notna().sum()
    np.testing.assert_allclose(row["control_take_up"], c["subscribed_at"].notna().mean())
    assert np.isnan(row["expected_take_up"])      # no planted truth with real extracts
    f = dm.campaign.funnel(contacts)
    assert row["responded"] == f.overall["replied"].sum()
    with pytest.raises(ParameterError, match="oracle"):
        dm.loop.run(province="guangdong", start="2009-01", months=1, policy="oracle", seed=5,
                    out=tmp_path / "o", data=root)


@pytest.mark.slow
def test_the_offers_optimiser_plans_as_the_greedy_plan(tmp_path, cache):
    """With a contact cap and one offer per user the greedy choice is optimal: dm.offers agrees."""
    kw = {**KW, "months": 2, "policy": "oracle", "cache_dir": cache}
    greedy = dm.loop.run(**kw, out=tmp_path / "greedy", planner="greedy")
    offers = dm.loop.run(**kw, out=tmp_path / "offers", planner="offers")
    pd.testing.assert_frame_equal(offers.monthly, greedy.monthly)
