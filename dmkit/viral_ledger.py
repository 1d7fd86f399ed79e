"""Case V's coins (积分 / 金币): the reward table, the ledger, prize tiers, the pool and triggers.

The viral platform pays its members coins for what they do — invite a friend (+5), a friend
takes an SMS service (+20), send an MMS (+2), forward a seed MMS (+4), keep the service a
month (+20 / +25) ... — and funds them with 20% of the paying members' monthly fees. Members
are sorted into prize tiers by their balance (fixed big prizes, lucky draws with high or low
odds, and a year-end exchange for everyone), and the platform messages them on triggers:
time since joining, a coin balance crossed, a behaviour (触发式营销).

* :func:`load_rewards` — the analyst's reward table (``dmkit/viral_rewards.yaml`` holds the
  deck's full table; pass your own file to change it).
* :func:`ledger` — coins per member, month and action from an activity log and the
  membership panel, with balances, tiers and the monthly pool.
* :func:`triggers` — the contact list of a month's trigger rules.

Inputs
------
members : DataFrame
    The membership panel: one row per user_id, month ('YYYY-MM') and product held that
    month (``club``, ``sms_zzy``, ``mms_zzy`` or any product of the reward table), with
    ``fee`` (yuan paid that month: 0 for free trial / experience users (体验用户)).
activity : DataFrame
    user_id, month, action, count: how often each member did each action of the reward
    table in the month (``retention`` is not given: the ledger derives it from ``members``).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from dmkit._results import Result, Summary, get_ax
from dmkit._validation import check_frame
from dmkit.errors import DataNotFoundError, parameter_error, schema_error

__all__ = ["load_rewards", "RewardTable", "ledger", "CoinLedger", "triggers", "DEFAULT_REWARDS"]

DEFAULT_REWARDS = "viral_rewards.yaml"
"""The packaged reward table (``dmkit/viral_rewards.yaml``): the deck's full table."""


@dataclass(frozen=True)
class RewardTable:
    """The reward table of :func:`load_rewards`.

    Attributes
    ----------
    products : DataFrame
        Index product; columns name, fee (yuan a month).
    rewards : DataFrame
        One row per rule: action, coins, products (tuple), original (the deck's words).
    tiers : DataFrame
        tier, min_coins, prize; highest first.
    triggers : tuple of dict
    pool_share : float
    year_end : str
    source : str
    """

    products: pd.DataFrame
    rewards: pd.DataFrame
    tiers: pd.DataFrame
    triggers: tuple
    pool_share: float
    year_end: str
    source: str

    @property
    def actions(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.rewards["action"]))

    def tier_of(self, balance) -> np.ndarray:
        """Tier name of each balance ("none" below the lowest tier)."""
        b = np.asarray(balance, float)
        out = np.full(b.shape, "none", dtype=object)
        for t in self.tiers.sort_values("min_coins").itertuples(index=False):
            out[b >= t.min_coins] = t.tier
        return out


def _bad(source, what, found):
    return parameter_error("rewards", expected=f"{what} in the reward table {source}", found=found)


def load_rewards(path: str | Path | None = None) -> RewardTable:
    """Read a reward table (YAML); default the packaged one with the deck's full table.

    Raises
    ------
    DataNotFoundError
        No file at ``path``.
    ParameterError
        A key missing or a value of the wrong kind, naming the file and the entry.
    """
    if path is None:
        source = f"dmkit/{DEFAULT_REWARDS}"
        text = resources.files("dmkit").joinpath(DEFAULT_REWARDS).read_text(encoding="utf-8")
    else:
        p = Path(path)
        if not p.is_file():
            raise DataNotFoundError(f"no reward table at {str(p)!r}: expected a YAML file like dmkit/{DEFAULT_REWARDS}")
        source, text = str(p), p.read_text(encoding="utf-8")
    d = yaml.safe_load(text)
    if not isinstance(d, dict):
        raise _bad(source, "a mapping with products, pool_share, rewards, tiers", type(d).__name__)
    for key in ("products", "pool_share", "rewards", "tiers"):
        if key not in d:
            raise _bad(source, f"a '{key}' entry", sorted(d))
    products = pd.DataFrame.from_dict(d["products"], orient="index")
    if "fee" not in products or (pd.to_numeric(products["fee"], errors="coerce").fillna(-1) < 0).any():
        raise _bad(source, "a fee >= 0 for every product", d["products"])
    products.index.name = "product"
    share = d["pool_share"]
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
        raise _bad(source, "pool_share in [0, 1]", share)
    rows = []
    for i, r in enumerate(d["rewards"]):
        if not isinstance(r, dict) or not {"action", "coins", "products"} <= set(r):
            raise _bad(source, f"rewards[{i}] with action, coins and products", r)
        unknown = [p for p in r["products"] if p not in products.index]
        if unknown or not isinstance(r["coins"], (int, float)) or isinstance(r["coins"], bool):
            raise _bad(source, f"rewards[{i}]: numeric coins and products among {list(products.index)}", r)
        rows.append({"action": str(r["action"]), "coins": float(r["coins"]), "products": tuple(r["products"]),
                     "original": str(r.get("original", ""))})
    tiers = pd.DataFrame(d["tiers"])
    if not {"tier", "min_coins"} <= set(tiers.columns):
        raise _bad(source, "tiers with tier and min_coins", d["tiers"])
    tiers = tiers.sort_values("min_coins", ascending=False).reset_index(drop=True)
    trig = tuple(d.get("triggers") or ())
    for i, t in enumerate(trig):
        if not isinstance(t, dict) or t.get("kind") not in ("time", "coins", "behaviour") or "name" not in t:
            raise _bad(source, f"triggers[{i}] with a name and kind time, coins or behaviour", t)
    return RewardTable(products=products, rewards=pd.DataFrame(rows), tiers=tiers, triggers=trig,
                       pool_share=float(share), year_end=str(d.get("year_end", "")), source=source)


def _check_members(members: pd.DataFrame, table: RewardTable) -> pd.DataFrame:
    check_frame(members, table="members", columns=["user_id", "month", "product", "fee"])
    m = members.assign(month=members["month"].astype(str), product=members["product"].astype(str))
    unknown = sorted(set(m["product"]) - set(table.products.index))
    if unknown:
        raise schema_error(table="members", column="product", expected=f"products of the reward table "
                           f"{list(table.products.index)}", found=unknown[:5])
    if (pd.to_numeric(m["fee"], errors="coerce").fillna(-1) < 0).any():
        raise schema_error(table="members", column="fee", expected="fees >= 0 (yuan)", found="negative or missing fees")
    dup = m.duplicated(["user_id", "month", "product"])
    if dup.any():
        raise schema_error(table="members", column="user_id, month, product", expected="one row per member, month "
                           "and product", found=f"{int(dup.sum())} duplicates")
    return m


def _check_activity(activity: pd.DataFrame, table: RewardTable) -> pd.DataFrame:
    check_frame(activity, table="activity", columns=["user_id", "month", "action", "count"], min_rows=0)
    a = activity.assign(month=activity["month"].astype(str), action=activity["action"].astype(str))
    unknown = sorted(set(a["action"]) - set(table.actions))
    if unknown:
        raise schema_error(table="activity", column="action", expected=f"actions of the reward table "
                           f"({table.source}): {list(table.actions)}", found=unknown[:5],
                           fix="add a rule for it to the reward table or drop those rows")
    if (pd.to_numeric(a["count"], errors="coerce").fillna(-1) < 0).any():
        raise schema_error(table="activity", column="count", expected="counts >= 0", found="negative or missing")
    return a


# --------------------------------------------------------------------------- ledger
@dataclass(frozen=True)
class CoinLedger(Result):
    """Coins earned, balances, tiers and the pool, from :func:`ledger`.

    Attributes
    ----------
    entries : DataFrame
        One row per user_id, month, action and rule: count, coins_each, coins, product
        (the rule's products, joined by "/").
    balances : DataFrame
        One row per member and month: earned, balance (cumulative), tier, previous_balance.
    pool : DataFrame
        Index month: members, paying_members, fees (yuan), pool (yuan), coins (issued),
        yuan_per_coin, pool_share (pool / fees).
    rewards : RewardTable
    """

    entries: pd.DataFrame
    balances: pd.DataFrame
    pool: pd.DataFrame
    rewards: RewardTable

    @property
    def pool_share(self) -> float:
        """Pool / fees over all months."""
        fees = float(self.pool["fees"].sum())
        return float(self.pool["pool"].sum()) / fees if fees else float("nan")

    def by_action(self) -> pd.DataFrame:
        """Coins by action (all months): count, coins, share of all coins."""
        g = self.entries.groupby("action", sort=False)[["count", "coins"]].sum()
        g["share"] = g["coins"] / g["coins"].sum()
        return g.sort_values("coins", ascending=False)

    def tiers(self, month: str | None = None) -> pd.DataFrame:
        """Members per tier in ``month`` (default the last) with the tier's prize."""
        month = month or self.balances["month"].max()
        b = self.balances[self.balances["month"] == month]
        t = self.rewards.tiers.set_index("tier")
        out = b["tier"].value_counts().reindex([*t.index, "none"]).fillna(0).astype(int).rename("members").to_frame()
        out["prize"] = t["prize"].reindex(out.index).fillna("") if "prize" in t else ""
        return out

    def to_frame(self) -> pd.DataFrame:
        return self.balances

    def summary(self) -> Summary:
        notes = (f"the pool is {self.pool_share:.0%} of the paying members' fees (reward table: "
                 f"{self.rewards.pool_share:.0%}); {self.rewards.year_end}",)
        return Summary("Coin ledger (积分台账)", (("pool by month", self.pool), ("coins by action", self.by_action()),
                                                ("tiers", self.tiers())), notes)

    def plot(self, ax=None):
        ax = get_ax(ax)
        p = self.pool
        ax.bar(p.index, p["pool"], label="pool (yuan)")
        ax2 = ax.twinx()
        ax2.plot(p.index, p["coins"], color="tab:orange", marker="o", label="coins issued")
        ax.set_ylabel("pool (yuan)")
        ax2.set_ylabel("coins issued")
        ax.set_title("Coin pool and coins issued by month")
        return ax


def ledger(activity: pd.DataFrame, members: pd.DataFrame, *, rewards: RewardTable | str | Path | None = None
           ) -> CoinLedger:
    """Coins per member, month and action, balances, tiers and the monthly pool.

    A rule pays ``coins`` per ``count`` when the member holds one of its products that
    month (``club`` rules: any product). ``retention`` is earned per product held this month
    and the month before. The pool of a month is ``pool_share`` × the fees paid that month.

    Parameters
    ----------
    activity : DataFrame
        user_id, month, action, count (see the module docstring).
    members : DataFrame
        user_id, month, product, fee.
    rewards : RewardTable or path, optional
        Default :func:`load_rewards` ().

    Returns
    -------
    CoinLedger

    Raises
    ------
    SchemaError
        A missing column, an action or product the reward table lacks, negative counts or fees.
    """
    table = rewards if isinstance(rewards, RewardTable) else load_rewards(rewards)
    m = _check_members(members, table)
    a = _check_activity(activity, table)
    a = a[a["action"] != "retention"]
    months = sorted(m["month"].unique())
    held = m[["user_id", "month", "product"]]
    following = {x: str(np.datetime64(x, "M") + 1) for x in pd.unique(held["month"])}  # once per month
    kept = held.merge(held.assign(month=held["month"].map(following)),
                      on=["user_id", "month", "product"])
    ret = kept.assign(action="retention", count=1)
    holds = held.assign(v=True).pivot_table(index=["user_id", "month"], columns="product", values="v",
                                            aggfunc="any", fill_value=False)
    rows = []
    act_code, act_names = pd.factorize(a["action"])              # one pass over the actions, not one per rule
    act_of = {str(name): i for i, name in enumerate(act_names)}
    for r in table.rewards.itertuples(index=False):
        if r.action == "retention":
            x = ret[ret["product"].isin(r.products)][["user_id", "month", "action", "count"]]
        else:
            x = a[act_code == act_of.get(str(r.action), -2)][["user_id", "month", "action", "count"]]
            cols = [p for p in r.products if p in holds.columns]
            if "club" in r.products:
                ok = pd.Series(True, index=holds.index)
            elif cols:
                ok = holds[cols].any(axis=1)
            else:
                ok = pd.Series(False, index=holds.index)
            key = pd.MultiIndex.from_frame(x[["user_id", "month"]])
            x = x[ok.reindex(key, fill_value=False).to_numpy(dtype=bool)]
        rows.append(x.assign(product="/".join(r.products), coins_each=r.coins, coins=x["count"] * r.coins))
    entries = pd.concat(rows, ignore_index=True)
    entries = entries[entries["count"] > 0].reset_index(drop=True)
    earned = entries.groupby(["user_id", "month"])["coins"].sum()
    panel = held[["user_id", "month"]].drop_duplicates().set_index(["user_id", "month"]).sort_index()
    bal = panel.assign(earned=earned.reindex(panel.index).fillna(0.0)).reset_index()
    bal = bal.sort_values(["user_id", "month"], kind="stable")
    bal["balance"] = bal.groupby("user_id")["earned"].cumsum()
    bal["previous_balance"] = bal["balance"] - bal["earned"]
    bal["tier"] = table.tier_of(bal["balance"])
    fees = m.groupby("month")["fee"].sum()
    pool = pd.DataFrame({"members": m.groupby("month")["user_id"].nunique(),
                         "paying_members": m[m["fee"] > 0].groupby("month")["user_id"].nunique(),
                         "fees": fees}).reindex(months).fillna(0)
    pool["pool"] = table.pool_share * pool["fees"]
    pool["coins"] = entries.groupby("month")["coins"].sum().reindex(months).fillna(0.0)
    pool["yuan_per_coin"] = pool["pool"] / pool["coins"].where(pool["coins"] > 0)
    pool["pool_share"] = pool["pool"] / pool["fees"].where(pool["fees"] > 0)
    pool.index.name = "month"
    return CoinLedger(entries=entries, balances=bal.reset_index(drop=True), pool=pool, rewards=table)


# --------------------------------------------------------------------------- triggers
def triggers(coin_ledger: CoinLedger, members: pd.DataFrame, *, month: str,
             activity: pd.DataFrame | None = None, rules: list[Mapping] | None = None) -> pd.DataFrame:
    """The contact list of a month's trigger rules (触发式营销).

    Rule kinds (see ``triggers`` in the reward table):

    * ``time``: ``months_since_join`` — members whose first month is that many months before;
    * ``coins``: ``crosses`` — members whose balance reached the value this month;
    * ``behaviour``: ``did`` (an action with count > 0 this month) and optionally ``not_did``.

    Parameters
    ----------
    coin_ledger : CoinLedger
    members : DataFrame
    month : str
    activity : DataFrame, optional
        Needed by behaviour rules.
    rules : list of mappings, optional
        Default the reward table's triggers.

    Returns
    -------
    DataFrame
        user_id, trigger, kind, message (``{coins}`` filled with the balance); sorted.

    Raises
    ------
    ParameterError
        ``month`` not in the ledger, a behaviour rule without ``activity``, an unknown kind.
    """
    if not isinstance(coin_ledger, CoinLedger):
        raise parameter_error("coin_ledger", expected="a CoinLedger from dm.viral_ledger.ledger",
                              found=type(coin_ledger).__name__)
    bal = coin_ledger.balances
    if month not in set(bal["month"]):
        raise parameter_error("month", expected=f"a month of the ledger, among {sorted(set(bal['month']))}",
                              found=month)
    rules = list(coin_ledger.rewards.triggers if rules is None else rules)
    m = members.assign(month=members["month"].astype(str))
    now = bal[bal["month"] == month].set_index("user_id")
    out = []
    first = None
    for r in rules:
        kind = r.get("kind")
        if kind == "time":
            if first is None:  # each member's first month: one sort, not a Python min per member
                first = (m[["user_id", "month"]].sort_values(["user_id", "month"], kind="stable")
                         .drop_duplicates("user_id").set_index("user_id")["month"])
            k = int(r["months_since_join"])
            target = str(np.datetime64(month, "M") - k)
            ids = first.index[(first == target).to_numpy()]
            ids = ids[ids.isin(now.index)]
        elif kind == "coins":
            t = float(r["crosses"])
            ids = now.index[((now["previous_balance"] < t) & (now["balance"] >= t)).to_numpy()]
        elif kind == "behaviour":
            if activity is None:
                raise parameter_error("activity", expected=f"the activity log for the behaviour rule {r['name']!r}",
                                      found=None)
            a = activity[(activity["month"].astype(str) == month) & (activity["count"] > 0)]
            did = set(a.loc[a["action"] == r["did"], "user_id"])
            if r.get("not_did"):
                did -= set(a.loc[a["action"] == r["not_did"], "user_id"])
            ids = pd.Index(sorted(did & set(now.index)))
        else:
            raise parameter_error("rules", expected="kinds time, coins or behaviour", found=kind)
        msg = str(r.get("message", ""))
        if "{coins}" in msg:
            text = [msg.replace("{coins}", f"{b:.0f}") for b in now["balance"].reindex(ids).to_numpy()]
        else:
            text = [msg] * len(ids)
        out.append(pd.DataFrame({"user_id": np.asarray(ids), "trigger": r["name"], "kind": kind, "message": text}))
    res = pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=["user_id", "trigger", "kind", "message"])
    return res.sort_values(["trigger", "user_id"], kind="stable").reset_index(drop=True)
