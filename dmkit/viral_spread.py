"""How case V's seed content spreads: the propagation tree, reproduction numbers, content
ranking, prospects among non-members and the seed users kept over months.

The platform "records every on-demand and forward, and defines users by when, to whom and
what they forward"; it ranks content by forwards (传播矢量统计), finds prospects among
non-registered users reached by forwards (对业务半敏感、敏感用户群), and keeps the seeds who stay
after the free trial as the source (传播源).

* :func:`propagation` — from a forward log (sender ``user_id``, ``peer_id``, ``ts``,
  ``content_id``) the tree of each content item: the members who got it from the platform are
  the roots (depth 0), everybody else's parent is the first person who forwarded it to them;
  depth, reach, and per sender cell the reproduction number R (secondary forwarders per
  forwarder) and the mean reach per forward.
* :func:`prospects` — non-members reached in a month: sensitive (reached by 2+ distinct
  members or people), semi-sensitive (one sender, 2+ items), reached.
* :func:`seed_funnel` — engaged seeds still members month after month, by cell.

The forward log is not a contract table: it is the platform's own log; its pairs are
checked against ``edges`` when given (forwards go to the sender's circle).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dmkit._results import Result, Summary, get_ax
from dmkit._validation import check_frame
from dmkit.contract.labels import present_labels
from dmkit.errors import parameter_error, schema_error

__all__ = ["propagation", "Propagation", "prospects", "seed_funnel", "SeedFunnel", "FORWARD_COLUMNS"]

FORWARD_COLUMNS: tuple[str, ...] = ("user_id", "peer_id", "ts", "content_id")


def _check_forwards(forwards: pd.DataFrame) -> pd.DataFrame:
    check_frame(forwards, table="forwards", columns=list(FORWARD_COLUMNS))
    if not pd.api.types.is_datetime64_any_dtype(forwards["ts"]):
        raise schema_error(table="forwards", column="ts", expected="a datetime64 column",
                           found=f"dtype {forwards['ts'].dtype}")
    if (forwards["user_id"] == forwards["peer_id"]).any():
        bad = forwards.index[(forwards["user_id"] == forwards["peer_id"]).to_numpy()][:5].tolist()
        raise schema_error(table="forwards", column="peer_id", expected="a peer other than the sender",
                           found="self-forwards", rows=bad)
    return forwards


def _in_month(ts: pd.Series, month: str) -> np.ndarray:
    """Rows of ``ts`` in ``month`` ('YYYY-MM'), by two comparisons (no string per row);
    nothing for a month that is not 'YYYY-MM'."""
    try:
        start = pd.Period(str(month), freq="M").start_time
    except (ValueError, TypeError):
        return np.zeros(len(ts), dtype=bool)
    if str(month) != start.strftime("%Y-%m"):
        return np.zeros(len(ts), dtype=bool)
    end = start + pd.offsets.MonthBegin(1)
    tz = getattr(ts.dt, "tz", None)
    if tz is not None:
        start, end = start.tz_localize(tz), end.tz_localize(tz)
    return ((ts >= start) & (ts < end)).to_numpy()


def _id_span(*ids: pd.Series) -> int:
    """One more than the largest id of ``ids`` (at least 1): the base that packs a pair."""
    return max([int(s.max()) + 1 for s in ids if len(s)] + [1])


def _pack(a: pd.Series, b: pd.Series, big: int) -> np.ndarray:
    """The pairs (a, b) as one int64 each: a * big + b (b in [0, big))."""
    return a.to_numpy().astype(np.int64) * big + b.to_numpy().astype(np.int64)


def _isin(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """np.isin of int64 keys by a sort and a binary search (np.isin's np.unique takes a hash
    path that is far slower on millions of keys). The smaller side is sorted: with ``b`` the
    larger (every edge against the forwards), ``b`` is searched in the distinct ``a``."""
    if not len(b) or not len(a):
        return np.zeros(len(a), dtype=bool)
    if len(b) > 2 * len(a):
        ua = np.sort(a)
        ua = ua[np.r_[True, ua[1:] != ua[:-1]]]
        i = np.minimum(np.searchsorted(ua, b), len(ua) - 1)
        seen = np.zeros(len(ua), dtype=bool)
        seen[i[ua[i] == b]] = True
        return seen[np.searchsorted(ua, a)]
    b = np.sort(b)
    i = np.minimum(np.searchsorted(b, a), len(b) - 1)
    return b[i] == a


def _platform_roots(members: pd.DataFrame | None, forwards: pd.DataFrame, content_month: pd.Series | None,
                    content_id: np.ndarray, user_id: np.ndarray) -> np.ndarray | None:
    """Whether each (content_id, user_id) got the item from the platform: the user is a
    member in the item's month. Checked pair by pair on (user, month code), without the
    table of every item and member of its month."""
    if members is None:
        return None
    check_frame(members, table="members", columns=["user_id", "month"])
    if content_month is None:
        content_month = forwards.groupby("content_id")["ts"].min().dt.strftime("%Y-%m")
    months = pd.Index(sorted(set(present_labels(content_month)) | set(present_labels(members["month"]))))
    cm = pd.Series(months.get_indexer(content_month.astype(str).to_numpy()), index=content_month.index)
    c_month = cm[~cm.index.duplicated()].reindex(content_id).fillna(-1).to_numpy(dtype=np.int64)
    m_month = months.get_indexer(members["month"].astype(str).to_numpy()).astype(np.int64)
    big = len(months) + 1
    node = user_id.astype(np.int64) * big + c_month + 1
    member = members["user_id"].to_numpy().astype(np.int64) * big + m_month + 1
    return (c_month >= 0) & _isin(node, member)


@dataclass(frozen=True)
class Propagation(Result):
    """The propagation of forwarded seed content, from :func:`propagation`.

    Attributes
    ----------
    tree : DataFrame
        One row per content item and person who held it: content_id, user_id, parent_id
        (-1 for a root), depth (0 for a root), received_at (NaT for a root), forwarded
        (bool), children (people first reached through them), forward_children.
    contents : DataFrame
        One row per item, ranked by forwards: content_id, forwards, forwarders, reach
        (people reached who did not have it), max_depth, rank.
    by_cell : DataFrame or None
        Index cell: forwarders, secondary (forwarders among their children), r (secondary
        per forwarder), reach_per_forwarder.
    off_circle : int
        Forwards whose pair is not in ``edges`` (0 when no edges were given).
    """

    tree: pd.DataFrame
    contents: pd.DataFrame
    by_cell: pd.DataFrame | None
    off_circle: int

    @property
    def r(self) -> float:
        """Secondary forwarders per forwarder, over everyone."""
        f = self.tree[self.tree["forwarded"]]
        return float(f["forward_children"].sum() / len(f)) if len(f) else float("nan")

    def to_frame(self) -> pd.DataFrame:
        return self.tree

    def depth_profile(self) -> pd.DataFrame:
        """People and forwarders at each depth."""
        return self.tree.groupby("depth").agg(people=("user_id", "size"), forwarders=("forwarded", "sum"))

    def summary(self) -> Summary:
        tables = [("contents (top 10)", self.contents.head(10).set_index("content_id")),
                  ("depth", self.depth_profile())]
        if self.by_cell is not None:
            tables.append(("by sender cell", self.by_cell))
        return Summary(f"Propagation of seed content (传播树): R = {self.r:.2f}", tuple(tables),
                       (f"{len(self.contents):,} items, {int(self.contents['forwards'].sum()):,} forwards, "
                        f"{self.off_circle:,} outside the sender's circle",))

    def plot(self, ax=None):
        ax = get_ax(ax)
        if self.by_cell is not None:
            b = self.by_cell.dropna(subset=["r"])
            ax.barh(b.index, b["r"])
            ax.axvline(1, color="grey", linestyle="--")
            ax.set_xlabel("reproduction number R (secondary forwarders per forwarder)")
            ax.set_title("R by the sender's SMS × spend cell")
        else:
            d = self.depth_profile()
            ax.bar(d.index, d["people"])
            ax.set_xlabel("depth")
            ax.set_ylabel("people")
            ax.set_title("People reached by depth")
        return ax


def propagation(forwards: pd.DataFrame, *, members: pd.DataFrame | None = None, cells: pd.Series | None = None,
                edges: pd.DataFrame | None = None, content_month: pd.Series | None = None) -> Propagation:
    """The tree of each forwarded item, depth, reach, R per cell and the content ranking.

    Parameters
    ----------
    forwards : DataFrame
        user_id (sender), peer_id (recipient), ts, content_id.
    members : DataFrame, optional
        user_id, month: who got each item from the platform (the members of the item's month).
        Without it, a sender whose first forward of an item comes before any receipt of it is
        a root.
    cells : Series, optional
        Cell (or any group) of each user, index user_id: gives :attr:`Propagation.by_cell`.
    edges : DataFrame, optional
        The ``edges`` table: forwards outside the sender's circle are counted.
    content_month : Series, optional
        Month ('YYYY-MM') of each item (index content_id); default the month of its first forward.

    Returns
    -------
    Propagation

    Raises
    ------
    SchemaError
        A missing column, ``ts`` not datetime, self-forwards.
    """
    f = _check_forwards(forwards)[list(FORWARD_COLUMNS)].sort_values(["content_id", "ts"], kind="stable")
    first_recv = f.drop_duplicates(["content_id", "peer_id"])[["content_id", "peer_id", "user_id", "ts"]]
    first_recv = first_recv.rename(columns={"peer_id": "user_id", "user_id": "parent_id", "ts": "received_at"})
    senders = f.groupby(["content_id", "user_id"])["ts"].min().rename("first_sent").reset_index()
    nodes = senders.merge(first_recv, on=["content_id", "user_id"], how="outer")
    del senders, first_recv  # intermediates dropped once used: the tree's peak is the live frames
    is_root = _platform_roots(members, f, content_month, nodes["content_id"].to_numpy(), nodes["user_id"].to_numpy())
    if is_root is None:
        is_root = (nodes["received_at"].isna() | (nodes["first_sent"] < nodes["received_at"])).to_numpy()
    nodes.loc[is_root, "parent_id"] = -1
    nodes.loc[is_root, "received_at"] = pd.NaT
    nodes = nodes[is_root | nodes["parent_id"].notna().to_numpy()].copy()
    nodes["parent_id"] = nodes["parent_id"].astype(np.int64)
    nodes["forwarded"] = nodes["first_sent"].notna()
    # depth, level by level
    nodes["depth"] = np.where(nodes["parent_id"] == -1, 0, -1)
    # (content, person) packed into one int64: the level-by-level search is np.isin on integers
    big = _id_span(nodes["user_id"], nodes["parent_id"])
    node_key = _pack(nodes["content_id"], nodes["user_id"], big)
    parent_key = _pack(nodes["content_id"], nodes["parent_id"].clip(lower=0), big)
    depth = nodes["depth"].to_numpy().copy()
    # each node's parent row, found once (node keys are unique: one row per item and person)
    order = np.argsort(node_key, kind="stable")
    sk = node_key[order]
    at = np.minimum(np.searchsorted(sk, parent_key), max(len(sk) - 1, 0))
    has_parent = (depth == -1) & (sk[at] == parent_key) if len(sk) else np.zeros(0, bool)
    parent_row = np.where(has_parent, order[at] if len(sk) else at, -1)
    del node_key, parent_key, order, sk, at
    for d in range(1, 200):
        todo = np.flatnonzero((depth == -1) & has_parent)
        if not len(todo):
            break
        ready = todo[depth[parent_row[todo]] == d - 1]
        if not len(ready):
            break
        depth[ready] = d
    tree = nodes.assign(depth=depth).reset_index(drop=True)
    del nodes
    # children per node: a count of the rows naming it as parent (the parent rows found above)
    child_of = parent_row[parent_row >= 0]
    tree["children"] = np.bincount(child_of, minlength=len(tree)).astype(np.int64)
    tree["forward_children"] = np.bincount(child_of, weights=tree["forwarded"].to_numpy()[parent_row >= 0],
                                           minlength=len(tree)).astype(np.int64)
    tree = tree[["content_id", "user_id", "parent_id", "depth", "received_at", "forwarded", "children",
                 "forward_children"]].sort_values(["content_id", "depth", "user_id"], kind="stable").reset_index(drop=True)
    contents = f.groupby("content_id").agg(forwards=("user_id", "size"), forwarders=("user_id", "nunique"))
    contents["reach"] = tree[tree["depth"] > 0].groupby("content_id").size().reindex(contents.index).fillna(0).astype(int)
    contents["max_depth"] = tree.groupby("content_id")["depth"].max().reindex(contents.index)
    contents = contents.sort_values(["forwards", "reach"], ascending=False, kind="stable").reset_index()
    contents["rank"] = np.arange(1, len(contents) + 1)
    by_cell = None
    if cells is not None:
        fw = tree[tree["forwarded"]].assign(cell=lambda x: cells.reindex(x["user_id"]).to_numpy())
        by_cell = fw.groupby("cell").agg(forwarders=("user_id", "size"), secondary=("forward_children", "sum"),
                                         reached=("children", "sum"))
        by_cell["r"] = by_cell["secondary"] / by_cell["forwarders"]
        by_cell["reach_per_forwarder"] = by_cell["reached"] / by_cell["forwarders"]
    off = 0
    if edges is not None:
        check_frame(edges, table="edges", columns=["user_id", "peer_id"])
        big = _id_span(edges["user_id"], edges["peer_id"], f["user_id"], f["peer_id"])
        eu, ep = edges["user_id"].to_numpy(), edges["peer_id"].to_numpy()
        sends = np.zeros(big, dtype=bool)                         # only the edges from a sender to a receiver
        sends[f["user_id"].to_numpy()] = True
        gets = np.zeros(big, dtype=bool)
        gets[f["peer_id"].to_numpy()] = True
        keep = sends[eu] & gets[ep]
        pairs = eu[keep].astype(np.int64) * big + ep[keep].astype(np.int64)
        off = int((~_isin(_pack(f["user_id"], f["peer_id"], big), pairs)).sum())
    return Propagation(tree=tree, contents=contents, by_cell=by_cell, off_circle=off)


def prospects(forwards: pd.DataFrame, members: pd.DataFrame, *, month: str) -> pd.DataFrame:
    """Non-members reached by forwards in ``month``, graded as prospects.

    Returns
    -------
    DataFrame
        One row per non-member reached: user_id, received (forwards received), senders
        (distinct), items (distinct), grade: "sensitive" (2+ senders), "semi-sensitive"
        (one sender, 2+ items) or "reached"; sorted by grade then received.

    Raises
    ------
    SchemaError
        A missing column.
    ParameterError
        No forward in ``month``.
    """
    f = _check_forwards(forwards)
    check_frame(members, table="members", columns=["user_id", "month"])
    fm = f[_in_month(f["ts"], month)]
    if not len(fm):
        raise parameter_error("month", expected="a month with forwards", found=month)
    mem = set(members.loc[members["month"].astype(str) == month, "user_id"])
    fm = fm[~fm["peer_id"].isin(mem)]
    g = fm.groupby("peer_id").agg(received=("user_id", "size"), senders=("user_id", "nunique"),
                                  items=("content_id", "nunique"))
    grade = np.where(g["senders"] >= 2, "sensitive", np.where(g["items"] >= 2, "semi-sensitive", "reached"))
    g["grade"] = pd.Categorical(grade, categories=["sensitive", "semi-sensitive", "reached"], ordered=True)
    g.index.name = "user_id"
    return g.reset_index().sort_values(["grade", "received"], ascending=[True, False], kind="stable").reset_index(drop=True)


@dataclass(frozen=True)
class SeedFunnel(Result):
    """Seeds engaged and kept, month by month, from :func:`seed_funnel`.

    Attributes
    ----------
    by_month : DataFrame
        Index month: engaged, members (seeds still members), paying, kept (members / engaged).
    by_cell : DataFrame or None
        Index cell: engaged, kept_after_trial (members in the second month), share.
    """

    by_month: pd.DataFrame
    by_cell: pd.DataFrame | None

    def to_frame(self) -> pd.DataFrame:
        return self.by_month

    def summary(self) -> Summary:
        t = [("by month", self.by_month)]
        if self.by_cell is not None:
            t.append(("kept after the free month, by cell", self.by_cell))
        return Summary("Seed users found, engaged and kept (传播源)", tuple(t))

    def plot(self, ax=None):
        ax = get_ax(ax)
        ax.plot(self.by_month.index, self.by_month["kept"], marker="o")
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("share of engaged seeds still members")
        ax.set_title("Seeds kept over months")
        return ax


def seed_funnel(members: pd.DataFrame, *, seeds, cells: pd.Series | None = None) -> SeedFunnel:
    """Engaged seeds still members (and paying) month after month.

    Parameters
    ----------
    members : DataFrame
        user_id, month, fee (the membership panel).
    seeds : array-like
        The engaged seed ids (members of the first month).
    cells : Series, optional
        Cell of each user (index user_id): the share kept after the free month per cell.

    Returns
    -------
    SeedFunnel
    """
    check_frame(members, table="members", columns=["user_id", "month", "fee"])
    seeds = pd.Index(np.unique(np.asarray(seeds)))
    if not len(seeds):
        raise parameter_error("seeds", expected="at least one seed id", found=[])
    m = members.assign(month=members["month"].astype(str))
    s = m[m["user_id"].isin(seeds)]
    months = sorted(m["month"].unique())
    by = pd.DataFrame(index=pd.Index(months, name="month"))
    by["engaged"] = len(seeds)
    by["members"] = s.groupby("month")["user_id"].nunique().reindex(months).fillna(0).astype(int)
    by["paying"] = s[s["fee"] > 0].groupby("month")["user_id"].nunique().reindex(months).fillna(0).astype(int)
    by["kept"] = by["members"] / by["engaged"]
    by_cell = None
    if cells is not None and len(months) > 1:
        second = set(s.loc[s["month"] == months[1], "user_id"])
        c = pd.DataFrame({"cell": cells.reindex(seeds).to_numpy(), "kept": seeds.isin(list(second))})
        by_cell = c.groupby("cell").agg(engaged=("kept", "size"), kept_after_trial=("kept", "sum"))
        by_cell["share"] = by_cell["kept_after_trial"] / by_cell["engaged"]
    return SeedFunnel(by_month=by, by_cell=by_cell)
