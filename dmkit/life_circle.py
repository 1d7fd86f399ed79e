"""Life-circle tags (生活圈) of case G4, from the ``locations`` table of cell-broadcast signalling.

Guangzhou turned the signalling of its cell-broadcast platform (小区短信) into customer
tags "in three levels, for a four-dimension customer view (客户全景视图)", with 70–80% of
the tags right, and used two of them in campaigns: the service hall a customer frequents
(营业厅归属: 56 key halls, 126k customers targeted, 35k took part, 27.8%) and the music
preference shown by the concerts they went to (ringtone offers at 17–25% against the usual
3–5%).

* :func:`circles` — per customer the home (家庭圈), work (工作圈) and leisure (休闲圈) cells
  and the frequented hall, from the sightings by time band.
* :func:`music_tags` — who was at each concert's venue on the concert's month (evening
  sightings above the customer's usual count there): the event-based music preference.
* :func:`accuracy` — the share of tags that are right, against any reference frame
  (the simulator's planted truth, or a survey), with Wilson intervals.
* :func:`customer_view` — the four dimensions (value, behaviour, preference, life
  trajectory) as three-level tags: dimension → tag → value.
* :func:`plan_hall_campaign` — the key halls, the customers in their radius and the
  targets, and :meth:`HallPlan.evaluate` for who took part.

The deck's plan of the hall campaign is :data:`DECK_HALL_CAMPAIGN`; its outcome and the
concert offers' counts are the published extract ``dm.published.read("g4_campaigns")``, which
``dm.campaign.compare`` sets against the 3–5% baseline.

Example
-------
>>> tags = dm.life_circle.circles(locations)
>>> tags.table[["home_cell", "work_cell", "leisure_cell", "hall_id"]]
>>> dm.life_circle.accuracy(tags.table, truth, pairs={"hall_id": "hall_id"}).table
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from dmkit import schema
from dmkit._results import Result, Summary, get_ax
from dmkit._validation import check_frame, check_scalar
from dmkit.contract.labels import in_labels
from dmkit.errors import parameter_error, schema_error

__all__ = ["circles", "LifeCircleTags", "music_tags", "MusicTags", "accuracy", "TagAccuracy",
           "customer_view", "plan_hall_campaign", "HallPlan", "wilson", "BANDS",
           "DECK_HALL_CAMPAIGN", "DECK_HALLS", "DECK_TAG_ACCURACY"]

BANDS: tuple[str, ...] = ("n_night", "n_workday", "n_evening", "n_weekend")

DECK_HALL_CAMPAIGN: Mapping[str, int] = {"halls": 56, "customers_in_radius": 1_025_000, "targeted": 126_000}
"""G4 case 1 (seed 003) as planned: 56 key halls, 102.5万 customers seen in their radius, 12.6万
targeted by hall attribution and the 一起玩吧 model. Its outcome (3.5万 took part, 27.8%) and the
concert offers' counts are the published extract ``dm.published.read("g4_campaigns")``."""

DECK_HALLS = pd.DataFrame({
    "branch": ["West", "North", "East", "East", "Central", "Central", "Panyu", "Conghua", "Zengcheng"],
    "hall": ["宝岗大道南北广场", "太和镇", "天河南二路万佳店", "广园东路", "北京路广百店中店", "中华广场动感厅",
             "洛溪营业厅", "建设路营业厅", "荔乡服务厅"],
    "area_type": ["residential, school", "shopping, industrial", "shopping", "residential (urban village)",
                  "shopping, business", "shopping, business, secondary school", "residential",
                  "shopping, bars, internet cafés", "government offices, shopping"],
    "customers_in_radius": [46_000, 31_000, 102_000, 24_000, 83_000, 122_000, 28_000, 33_000, 17_000],
})
"""The nine halls the deck lists of its 56 (辐射区客户量, customers in the radius)."""

DECK_TAG_ACCURACY: tuple[float, float] = (0.70, 0.80)
"""The deck: "not 100% accurate, but 70%–80% of the data is right"."""

_CIRCLES = ("home_cell", "work_cell", "leisure_cell", "hall_id")
_LEVEL_2 = {"home_cell": "home circle (家庭圈)", "work_cell": "work circle (工作圈)",
            "leisure_cell": "leisure circle (休闲圈)", "hall_id": "hall (营业厅归属)"}


def wilson(k, n, *, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of ``k`` successes in ``n`` trials; NaN where n = 0.

    The closed form of statsmodels' ``proportion_confint(k, n, alpha, method="wilson")`` (as
    :func:`dmkit.campaign.compare`; equal to it within 1e-12, tested), without importing
    statsmodels (1.6 s on this machine): the normal quantile from :class:`statistics.NormalDist`.
    """
    from statistics import NormalDist

    check_scalar(alpha, "alpha", kind=float, low=0.0, high=1.0, low_inclusive=False, high_inclusive=False)
    k, n = np.asarray(k, float), np.asarray(n, float)
    z = NormalDist().inv_cdf(1.0 - alpha / 2.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1.0 + z * z / n
        center = (p + z * z / (2.0 * n)) / denom
        half = z * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
    ok = n > 0
    return np.where(ok, center - half, np.nan), np.where(ok, center + half, np.nan)


def _check_locations(locations: pd.DataFrame, months: Sequence[str] | None) -> pd.DataFrame:
    schema.validate(locations, "locations")
    loc = locations
    if months is not None:
        if isinstance(months, str) or not all(isinstance(m, str) for m in months):
            raise parameter_error("months", expected="a list of months 'YYYY-MM' or None", found=months)
        have = set(_months_of(loc))
        unknown = [m for m in months if m not in have]
        if unknown:
            raise parameter_error("months", expected=f"months of the locations table, among {sorted(have)}",
                                  found=unknown)
        if set(months) != have:
            loc = loc[in_labels(loc["month"], [str(m) for m in months])]
    return loc


def _months_of(loc: pd.DataFrame) -> tuple[str, ...]:
    """The months present in ``loc`` (sorted), without a string per row for a categorical."""
    m = loc["month"]
    if isinstance(m.dtype, pd.CategoricalDtype):
        seen = np.bincount(m.cat.codes.to_numpy().astype(np.int64) + 1, minlength=len(m.cat.categories) + 1)[1:]
        return tuple(sorted(str(m.cat.categories[c]) for c in np.flatnonzero(seen)))
    return tuple(sorted(m.astype(str).unique()))


def _codes(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct non-negative ids and each row's code (np.unique's return_inverse, by a
    bincount lookup when the ids are small: no sort)."""
    if len(ids) and 0 <= int(ids.min()) and int(ids.max()) < max(1 << 20, 4 * len(ids)):
        present = np.bincount(ids, minlength=int(ids.max()) + 1) > 0
        lut = np.cumsum(present) - 1
        return np.flatnonzero(present).astype(ids.dtype), lut[ids]
    u, inv = np.unique(ids, return_inverse=True)
    return u, inv.reshape(-1)


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """np.unique by a sort (numpy's hash-based unique is far slower on tens of millions of int64)."""
    a = np.sort(a)
    return a[np.r_[True, a[1:] != a[:-1]]] if len(a) else a


def _unique_inverse(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(a, return_inverse=True) by a stable argsort: keys that come in ascending
    runs (one customer after another) sort as a merge of the runs, not a quicksort."""
    order = np.argsort(a, kind="stable")
    s = a[order]
    new = np.r_[True, s[1:] != s[:-1]] if len(s) else np.zeros(0, bool)
    inv = np.empty(len(a), np.int64)
    inv[order] = np.cumsum(new) - 1
    return s[new], inv


def _argmax_runs(value: np.ndarray, total: np.ndarray, key: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per run of rows (``starts``: first row of each run; rows of a run sorted by ``key``
    codes), the ``key`` code with the largest ``value`` (ties: larger ``total``, then smaller
    key); -1 where the run's largest value is 0. One maximum over a packed int64 per run
    (lexicographic sort when the three do not fit in 63 bits)."""
    value = np.asarray(value, np.int64)
    if not len(value):
        return np.zeros(0, np.int64)
    vb = max(int(value.max()), 1).bit_length()
    tb = max(int(total.max()), 1).bit_length()
    kb = max(int(key.max()), 1).bit_length()
    if vb + tb + kb <= 62:
        packed = (value << (tb + kb)) | (np.asarray(total, np.int64) << kb) | ((1 << kb) - 1 - key)
        best = np.maximum.reduceat(packed, starts)
        code = (1 << kb) - 1 - (best & ((1 << kb) - 1))
        top = best >> (tb + kb)
    else:  # pragma: no cover - values beyond 2^20 sightings
        run = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(value)]))
        order = np.lexsort((key, -np.asarray(total, np.int64), -value, run))
        first = order[np.r_[True, run[order][1:] != run[order][:-1]]]
        code, top = key[first], value[first]
    return np.where(top > 0, code, -1).astype(np.int64)


def _pos_in_run(key: np.ndarray, starts: np.ndarray, code: np.ndarray) -> np.ndarray:
    """Offset, inside each run, of the row whose ``key`` is ``code`` (0 where code is -1);
    runs are sorted by key, so a search per run."""
    ends = np.r_[starts[1:], len(key)]
    # global search: key offset by run index so the whole array is sorted
    run = np.repeat(np.arange(len(starts)), ends - starts)
    big = int(key.max()) + 2 if len(key) else 1
    flat = run.astype(np.int64) * big + key
    where = np.searchsorted(flat, np.arange(len(starts), dtype=np.int64) * big + np.maximum(code, 0))
    return np.where(code >= 0, where - starts, 0)


# --------------------------------------------------------------------------- circles
@dataclass(frozen=True)
class LifeCircleTags(Result):
    """Home, work and leisure circles and the frequented hall of each customer, from :func:`circles`.

    Attributes
    ----------
    table : DataFrame
        Index user_id; columns n_sightings, home_cell, work_cell, leisure_cell, hall_id
        (nullable integers: missing when the customer was not seen enough), hall_share
        (the hall's share of the customer's sightings), works_at_home (work cell = home cell).
    months : tuple of str
        The months of sightings used.
    min_sightings : int
    """

    table: pd.DataFrame
    months: tuple[str, ...]
    min_sightings: int

    def to_frame(self) -> pd.DataFrame:
        """The tags per customer."""
        return self.table

    def coverage(self) -> pd.Series:
        """Share of customers with each tag."""
        return self.table[list(_CIRCLES)].notna().mean().rename("coverage")

    def levels(self) -> pd.DataFrame:
        """The tags in three levels: level_1 "life trajectory (生活轨迹)", level_2 the circle,
        level_3 the value; one row per customer and tag held."""
        t = self.table[list(_CIRCLES)]
        long = t.reset_index().melt(id_vars="user_id", var_name="level_2", value_name="level_3").dropna()
        long.insert(1, "level_1", "life trajectory (生活轨迹)")
        long["level_2"] = long["level_2"].map(_LEVEL_2)
        return long.sort_values(["user_id", "level_2"], kind="stable").reset_index(drop=True)

    def summary(self) -> Summary:
        t = self.table
        cov = self.coverage().to_frame()
        notes = (f"{len(t):,} customers seen in {', '.join(self.months)}; tags need at least "
                 f"{self.min_sightings} sightings",
                 f"{t['works_at_home'].mean():.1%} of the tagged work at (or near) home; median hall "
                 f"share {t['hall_share'].median():.0%}")
        return Summary("Life-circle tags (生活圈标签)", (("coverage", cov),), notes)

    def plot(self, ax=None):
        """Histogram of the hall share: how sure each hall attribution is."""
        ax = get_ax(ax)
        ax.hist(self.table["hall_share"].dropna(), bins=20, range=(0, 1))
        ax.set_xlabel("share of a customer's sightings in the attributed hall's radius")
        ax.set_ylabel("customers")
        ax.set_title("Hall attribution (营业厅归属): confidence")
        return ax


def circles(locations: pd.DataFrame, *, months: Sequence[str] | None = None,
            min_sightings: int = 3) -> LifeCircleTags:
    """Home, work and leisure cells and the frequented hall of each customer.

    * home cell: the cell with most night sightings (22–07);
    * work cell: most weekday-daytime sightings (07–18, Monday–Friday); it may be the home
      cell (``works_at_home``);
    * leisure cell: most evening and weekend sightings among the other cells;
    * hall: the hall whose radius holds most of the customer's sightings (summed over its
      cells and every band), with that share as ``hall_share``.

    Ties go to the cell with more sightings in all, then the smaller id. Months are pooled.

    Parameters
    ----------
    locations : DataFrame
        The ``locations`` table of the contract.
    months : list of str, optional
        Months to use; default all.
    min_sightings : int, default 3
        Customers seen fewer times get no tags (their row is kept, tags missing).

    Returns
    -------
    LifeCircleTags

    Raises
    ------
    SchemaError
        ``locations`` breaks the contract.
    ParameterError
        A month not in the table, ``min_sightings`` < 1.
    """
    check_scalar(min_sightings, "min_sightings", kind=int, low=1)
    loc = _check_locations(locations, months)
    used = _months_of(loc)
    # numpy over (customer, cell) pairs, no pandas group-by or sort per tag: the pairs come
    # from one sort of a packed key, the per-customer argmax from one max over each
    # customer's run of pairs (the ties packed into the key, see _argmax_runs)
    user_id = loc["user_id"].to_numpy()
    cells, c_code = _codes(loc["cell_id"].to_numpy())
    n_c = len(cells)
    packable = len(user_id) and 0 <= int(user_id.min()) and int(user_id.max()) < (1 << 62) // max(n_c, 1)
    key = user_id.astype(np.int64) * n_c + c_code if packable else None
    if key is not None and bool((key[1:] >= key[:-1]).all()):
        # rows already sorted by customer and cell (the simulator writes them so, and a month
        # filter keeps the order): each pair is a run of rows, summed in place, no sort
        first_row = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        pair_key = key[first_row]
        band = {b: np.add.reduceat(loc[b].to_numpy().astype(np.int64), first_row) for b in BANDS}
    else:
        if key is None:  # pragma: no cover - ids too large to pack with the cell
            _, u_code = np.unique(user_id, return_inverse=True)
            key = u_code.reshape(-1).astype(np.int64) * n_c + c_code
        pair_key, first_row, p_of_row = np.unique(key, return_index=True, return_inverse=True)
        band = {b: np.bincount(p_of_row, weights=loc[b].to_numpy(), minlength=len(pair_key)).astype(np.int64)
                for b in BANDS}
        del p_of_row
    del key
    p_code, p_cell = np.divmod(pair_key, n_c)                     # sorted by customer, then cell
    starts = np.flatnonzero(np.r_[True, p_code[1:] != p_code[:-1]])
    users = user_id[first_row[starts]]
    p_user = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(p_code)]))
    n_p = len(pair_key)
    total = band["n_night"] + band["n_workday"] + band["n_evening"] + band["n_weekend"]
    out = band["n_evening"] + band["n_weekend"]
    p_hall = loc["hall_id"].to_numpy()[first_row]                # the hall of the pair's first row
    n_seen = np.add.reduceat(total, starts)
    home = _argmax_runs(band["n_night"], total, p_cell, starts)
    work = _argmax_runs(band["n_workday"], total, p_cell, starts)
    run_len = np.diff(np.r_[starts, n_p])
    h_of, w_of = np.repeat(home, run_len), np.repeat(work, run_len)
    leisure = _argmax_runs(np.where((p_cell != h_of) & (p_cell != w_of), out, 0), total, p_cell, starts)
    # hall: sightings per (customer, hall) summed over the customer's cells
    halls_u, h_code = _codes(p_hall)
    hkey = p_user * len(halls_u) + h_code
    hk, h_inv = _unique_inverse(hkey)
    hn = np.bincount(h_inv, weights=total, minlength=len(hk)).astype(np.int64)
    hk_user, hk_hall = np.divmod(hk, len(halls_u))
    h_starts = np.flatnonzero(np.r_[True, hk_user[1:] != hk_user[:-1]])
    hall = _argmax_runs(hn, hn, hk_hall, h_starts)
    hall_n = np.zeros(len(users), np.int64)
    ok = hall >= 0
    hall_n[ok] = hn[h_starts[ok] + _pos_in_run(hk_hall, h_starts, hall)[ok]]

    table = pd.DataFrame(index=pd.Index(users, name="user_id"))
    table["n_sightings"] = n_seen.astype(np.int64)
    few = table["n_sightings"].to_numpy() < min_sightings
    for name, codes, values in (("home_cell", home, cells), ("work_cell", work, cells),
                                ("leisure_cell", leisure, cells), ("hall_id", hall, halls_u)):
        v = values[np.maximum(codes, 0)].astype(np.int64)
        table[name] = pd.arrays.IntegerArray(v, (codes < 0) | few)
    share = np.where(ok, hall_n / np.maximum(n_seen, 1), np.nan)
    share[few] = np.nan
    table["hall_share"] = share
    table["works_at_home"] = (table["work_cell"] == table["home_cell"]).fillna(False).astype(bool)
    return LifeCircleTags(table=table, months=used, min_sightings=int(min_sightings))


# --------------------------------------------------------------------------- music
@dataclass(frozen=True)
class MusicTags(Result):
    """Event-based music preference (音乐偏好) from concert attendance, from :func:`music_tags`.

    Attributes
    ----------
    table : DataFrame
        One row per customer and concert attended: user_id, concert, genre, n_evening (at
        the venue in the concert's month), usual (mean at the venue in the other months),
        excess.
    per_user : DataFrame
        Index user_id: genre (the most attended genre, ties to the first concert's) and
        n_concerts.
    concerts : DataFrame
        The concerts with ``tagged``: customers tagged by each.
    """

    table: pd.DataFrame
    per_user: pd.DataFrame
    concerts: pd.DataFrame

    def to_frame(self) -> pd.DataFrame:
        return self.table

    def summary(self) -> Summary:
        return Summary("Music preference from concerts (音乐事件偏好)",
                       (("", self.concerts.set_index("concert")),),
                       (f"{len(self.per_user):,} customers tagged with a genre",))

    def plot(self, ax=None):
        ax = get_ax(ax)
        c = self.concerts
        ax.barh(c["concert"], c["tagged"])
        ax.set_xlabel("customers tagged")
        ax.set_title("Concert-goers tagged by genre")
        return ax


def music_tags(locations: pd.DataFrame, concerts: pd.DataFrame, *, min_excess: float = 2.0) -> MusicTags:
    """Tag the customers seen at a concert's venue in the concert's month with its genre.

    A customer is tagged when their evening sightings (18–22) in the venue's cell in the
    concert's month exceed their usual count there (the mean over the table's other months;
    0 when there are none) by at least ``min_excess``: people who live, work or go out by
    the venue are not taken for concert-goers.

    Parameters
    ----------
    locations : DataFrame
        The ``locations`` table.
    concerts : DataFrame
        Columns concert, genre, month ('YYYY-MM'), cell_id (the venue).
    min_excess : float, default 2

    Returns
    -------
    MusicTags

    Raises
    ------
    SchemaError
        ``locations`` breaks the contract; ``concerts`` lacks a column.
    ParameterError
        ``min_excess`` <= 0.
    """
    check_scalar(min_excess, "min_excess", kind=(int, float), low=0, low_inclusive=False)
    loc = _check_locations(locations, None)
    check_frame(concerts, table="concerts", columns=["concert", "genre", "month", "cell_id"])
    n_months = len(_months_of(loc))
    rows = []
    tagged = []
    cell_id = loc["cell_id"].to_numpy()
    for c in concerts.itertuples(index=False):
        at = loc[cell_id == c.cell_id]
        m = in_labels(at["month"], [str(c.month)])
        now = at[m].groupby("user_id")["n_evening"].sum()
        before = at[~m].groupby("user_id")["n_evening"].sum() / max(n_months - 1, 1)
        usual = before.reindex(now.index).fillna(0.0) if n_months > 1 else now * 0.0
        excess = now - usual
        hit = excess[excess >= min_excess]
        tagged.append(len(hit))
        rows.append(pd.DataFrame({"user_id": hit.index, "concert": c.concert, "genre": c.genre,
                                  "n_evening": now.reindex(hit.index).to_numpy(),
                                  "usual": usual.reindex(hit.index).to_numpy(), "excess": hit.to_numpy()}))
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["user_id", "concert", "genre", "n_evening", "usual", "excess"])
    cnt = table.groupby(["user_id", "genre"], sort=False).size().rename("n").reset_index()
    cnt = cnt.sort_values(["user_id", "n"], ascending=[True, False], kind="stable")
    per_user = cnt.drop_duplicates("user_id").set_index("user_id")[["genre"]]
    per_user["n_concerts"] = table.groupby("user_id").size().reindex(per_user.index)
    out = concerts[["concert", "genre", "month", "cell_id"]].assign(tagged=tagged).reset_index(drop=True)
    return MusicTags(table=table, per_user=per_user, concerts=out)


# --------------------------------------------------------------------------- accuracy
@dataclass(frozen=True)
class TagAccuracy(Result):
    """Share of tags that are right, from :func:`accuracy`.

    Attributes
    ----------
    table : DataFrame
        Index tag; columns n_reference (customers in the reference), n_tagged (tagged and
        in the reference), coverage (n_tagged / n_reference), n_correct, accuracy
        (n_correct / n_tagged), ci_low, ci_high (Wilson).
    overall : float
        Correct tags / tags, over all tags.
    """

    table: pd.DataFrame
    overall: float
    alpha: float

    def to_frame(self) -> pd.DataFrame:
        return self.table

    def summary(self) -> Summary:
        lo, hi = DECK_TAG_ACCURACY
        return Summary(f"Tag accuracy: {self.overall:.1%} of the tags are right", (("", self.table),),
                       (f"the deck states {lo:.0%}–{hi:.0%}; intervals Wilson {1 - self.alpha:.0%}",))

    def plot(self, ax=None):
        ax = get_ax(ax)
        t = self.table
        y = np.arange(len(t))
        ax.errorbar(t["accuracy"], y, xerr=[t["accuracy"] - t["ci_low"], t["ci_high"] - t["accuracy"]], fmt="o")
        ax.axvspan(*DECK_TAG_ACCURACY, color="grey", alpha=0.25, label="deck: 70–80%")
        ax.set_yticks(y, t.index)
        ax.set_xlim(0, 1)
        ax.set_xlabel("share of tags right")
        ax.legend()
        ax.set_title("Tag accuracy against the reference")
        return ax


def accuracy(tags: pd.DataFrame, reference: pd.DataFrame, *, pairs: Mapping[str, str],
             on: str = "user_id", alpha: float = 0.05) -> TagAccuracy:
    """Share of each tag that matches a reference (planted truth, a survey, a sample checked by hand).

    Parameters
    ----------
    tags : DataFrame
        One row per customer, ``on`` as a column or the index; missing tag values count as
        untagged.
    reference : DataFrame
        One row per customer with ``on`` as a column or the index.
    pairs : mapping
        {tag column: reference column}, e.g. ``{"hall_id": "hall_id"}``.
    on : str, default "user_id"
    alpha : float, default 0.05

    Returns
    -------
    TagAccuracy

    Raises
    ------
    SchemaError
        A column of ``pairs`` or ``on`` missing, or duplicate customers.
    ParameterError
        ``pairs`` empty or not a mapping.
    """
    if not isinstance(pairs, Mapping) or not pairs:
        raise parameter_error("pairs", expected="a mapping {tag column: reference column}", found=pairs)
    check_scalar(alpha, "alpha", kind=float, low=0, high=0.5, low_inclusive=False)

    def keyed(df, name, cols):
        check_frame(df, table=name)
        d = df.reset_index() if on not in df.columns and df.index.name == on else df
        check_frame(d, table=name, columns=[on, *cols])
        if d[on].duplicated().any():
            raise schema_error(table=name, column=on, expected="one row per customer",
                               found=f"{int(d[on].duplicated().sum())} duplicate ids",
                               rows=d.loc[d[on].duplicated(), on].head(5).tolist())
        return d.set_index(on)

    t = keyed(tags, "tags", list(pairs))
    r = keyed(reference, "reference", list(pairs.values()))
    rows = {}
    for tc, rc in pairs.items():
        tv = t[tc].reindex(r.index)
        has = tv.notna().to_numpy()
        rv = r[rc]
        integer = pd.api.types.is_integer_dtype
        if integer(tv.dtype) and integer(rv.dtype):
            # ids (cells, halls): one vectorised comparison of nullable integers, missing = not right
            eq = pd.array(tv.to_numpy(), dtype="Int64") == pd.array(rv.to_numpy(), dtype="Int64")
            same = eq.fillna(False).to_numpy(dtype=bool)
        else:
            a = tv.astype(object).to_numpy(na_value=None)
            b = rv.astype(object).to_numpy()
            same = np.array([x is not None and x == y for x, y in zip(a, b, strict=True)], dtype=bool)
        right = has & same
        n_tag, n_ok = int(has.sum()), int(right.sum())
        rows[tc] = {"n_reference": len(r), "n_tagged": n_tag, "coverage": n_tag / len(r) if len(r) else np.nan,
                    "n_correct": n_ok, "accuracy": n_ok / n_tag if n_tag else np.nan}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "tag"
    table["ci_low"], table["ci_high"] = wilson(table["n_correct"], table["n_tagged"], alpha=alpha)
    total = table["n_tagged"].sum()
    overall = float(table["n_correct"].sum() / total) if total else float("nan")
    return TagAccuracy(table=table, overall=overall, alpha=alpha)


# --------------------------------------------------------------------------- four-dimension view
def customer_view(circles_result: LifeCircleTags, usage: pd.DataFrame, *, month: str,
                  music: MusicTags | None = None) -> pd.DataFrame:
    """The four-dimension customer view (四维全景视图) as three-level tags.

    Dimensions (level 1): value (客户价值: spend band of the month), behaviour (消费行为: the
    P2P SMS band and whether the customer uses GPRS), preference (业务偏好: the concert
    genre, when tagged), life trajectory (生活轨迹: the circles and the hall). Level 2 names
    the tag, level 3 holds its value.

    Parameters
    ----------
    circles_result : LifeCircleTags
    usage : DataFrame
        The ``usage`` table (contract); the rows of ``month`` are used.
    month : str
    music : MusicTags, optional

    Returns
    -------
    DataFrame
        Columns user_id, level_1, level_2, level_3 (categorical: a handful of distinct
        strings over millions of rows); one row per customer and tag, sorted by user_id,
        level_1, level_2.
    """
    if not isinstance(circles_result, LifeCircleTags):
        raise parameter_error("circles_result", expected="a LifeCircleTags from dm.life_circle.circles",
                              found=type(circles_result).__name__)
    schema.validate(usage, "usage")
    u = usage[in_labels(usage["month"], [month])]
    if not len(u):
        raise parameter_error("month", expected="a month of the usage table", found=month)
    u = u[u["user_id"].isin(circles_result.table.index)]
    # every part as (customers, level 1, level 2, codes of level 3 into its own categories):
    # no string per row, the three levels are categorical columns of the result
    parts: list[tuple[np.ndarray, str, str, np.ndarray, list[str]]] = []
    uid = u["user_id"].to_numpy()

    def band(values, edges, labels):
        codes = pd.cut(values.to_numpy(), edges, right=False, labels=labels).codes.astype(np.int64)
        return np.where(codes < 0, len(labels), codes), [*labels, "nan"]   # a missing value reads "nan"

    parts.append((uid, "value (客户价值)", "spend band",
                  *band(u["arpu"], [-np.inf, 50, 150, np.inf], ["spend < 50", "spend 50-150", "spend >= 150"])))
    parts.append((uid, "behaviour (消费行为)", "P2P SMS band",
                  *band(u["sms_p2p"], [-np.inf, 50, 200, np.inf], ["SMS < 50", "SMS 50-200", "SMS >= 200"])))
    parts.append((uid, "behaviour (消费行为)", "GPRS user",
                  np.where(u["gprs_kb"].to_numpy() > 0, 0, 1), ["yes", "no"]))
    if music is not None:
        pu = music.per_user.reset_index()
        codes, cats = pd.factorize(pu["genre"].astype(str).to_numpy())
        parts.append((pu["user_id"].to_numpy(), "preference (业务偏好)", "music genre (concerts)",
                      codes.astype(np.int64), [str(c) for c in cats]))
    t = circles_result.table
    for col in _CIRCLES:
        s = t[col]
        held = s.notna().to_numpy()
        codes, cats = pd.factorize(s[held].to_numpy(dtype=np.int64))
        parts.append((t.index.to_numpy()[held], "life trajectory (生活轨迹)", _LEVEL_2[col],
                      codes.astype(np.int64), [str(c) for c in cats]))
    l1_cats = sorted({p[1] for p in parts})
    l2_cats = sorted({p[2] for p in parts})
    l3_all = pd.Index([c for p in parts for c in p[4]]).unique()
    l3_cats = sorted(l3_all)
    l3_pos = pd.Index(l3_cats)
    users = np.concatenate([p[0] for p in parts])
    l1 = np.concatenate([np.full(len(p[0]), l1_cats.index(p[1]), np.int8) for p in parts])
    l2 = np.concatenate([np.full(len(p[0]), l2_cats.index(p[2]), np.int8) for p in parts])
    l3 = np.concatenate([l3_pos.get_indexer(p[4])[p[3]] for p in parts])
    # the stable sort by (user_id, level_1, level_2): the categories are sorted, so codes sort as the strings
    order = np.lexsort((l2, l1, users))
    return pd.DataFrame({"user_id": users[order],
                         "level_1": pd.Categorical.from_codes(l1[order], categories=l1_cats),
                         "level_2": pd.Categorical.from_codes(l2[order], categories=l2_cats),
                         "level_3": pd.Categorical.from_codes(l3[order], categories=l3_cats)})


# --------------------------------------------------------------------------- hall campaign
@dataclass(frozen=True)
class HallPlan(Result):
    """The hall campaign (营业厅归属营销) planned by :func:`plan_hall_campaign`.

    Attributes
    ----------
    plan : DataFrame
        The targets: user_id, hall_id (the hall each is invited to), score.
    halls : DataFrame
        One row per key hall: hall_id, attributed (customers whose hall it is),
        seen_in_radius (seen in a cell of its radius; only with ``locations``), targeted.
    target_share : float
    customers_in_radius : int
        Customers attributed to the key halls or, with ``locations``, seen in their radius
        (a customer seen in two halls' radius counts once).
    """

    plan: pd.DataFrame
    halls: pd.DataFrame
    target_share: float
    customers_in_radius: int

    def to_frame(self) -> pd.DataFrame:
        return self.plan

    def evaluate(self, took_part: pd.Series, *, alpha: float = 0.05) -> pd.DataFrame:
        """Took-part rate per key hall and overall ("all"), with Wilson intervals.

        ``took_part`` is a bool Series aligned with :attr:`plan` (same index).
        """
        if not isinstance(took_part, pd.Series) or not took_part.index.equals(self.plan.index):
            raise parameter_error("took_part", expected="a bool Series with the plan's index",
                                  found=type(took_part).__name__)
        d = self.plan.assign(y=took_part.astype(bool).to_numpy())
        per = d.groupby("hall_id")["y"].agg(targeted="size", took_part="sum")
        per.loc["all"] = [len(d), int(d["y"].sum())]
        per["rate"] = per["took_part"] / per["targeted"]
        per["ci_low"], per["ci_high"] = wilson(per["took_part"], per["targeted"], alpha=alpha)
        return per

    def summary(self) -> Summary:
        d = DECK_HALL_CAMPAIGN
        return Summary(f"Hall campaign: {len(self.halls)} key halls, {self.customers_in_radius:,} customers in "
                       f"their radius, {len(self.plan):,} targeted", (("", self.halls.head(15)),),
                       (f"the deck: {d['halls']} halls, {d['customers_in_radius']:,} in radius, "
                        f"{d['targeted']:,} targeted ({d['targeted'] / d['customers_in_radius']:.1%})",))

    def plot(self, ax=None):
        ax = get_ax(ax)
        col = "seen_in_radius" if "seen_in_radius" in self.halls else "attributed"
        h = self.halls.sort_values(col, ascending=False)
        x = np.arange(len(h))
        ax.bar(x, h[col], label=col.replace("_", " "))
        ax.bar(x, h["targeted"], label="targeted")
        ax.set_xlabel("key hall (by customers in radius)")
        ax.set_ylabel("customers")
        ax.legend()
        ax.set_title("Key halls: customers in radius and targets")
        return ax


def plan_hall_campaign(circles_result: LifeCircleTags, *, n_halls: int = 56,
                       target_share: float = DECK_HALL_CAMPAIGN["targeted"] / DECK_HALL_CAMPAIGN["customers_in_radius"],
                       halls: Sequence[int] | None = None, score: pd.Series | None = None,
                       locations: pd.DataFrame | None = None) -> HallPlan:
    """Pick the key halls, the customers in their radius and the targets of a hall campaign.

    The key halls are ``halls`` or the ``n_halls`` halls with most attributed customers
    (ties to the smaller id). The customers in their radius are those attributed to them or,
    when ``locations`` is given, everyone seen in a cell of their radius (the deck's
    "在其辐射区域出现的客户"). The targets are ``round(target_share × customers in radius)``
    of the customers attributed to a key hall (at most all of them), the highest ``score``
    first (default: ``hall_share``, how sure the attribution is), each invited to their
    attributed hall. The deck's share is 126k / 1.025M = 12.3%.

    Parameters
    ----------
    circles_result : LifeCircleTags
    n_halls : int, default 56
    target_share : float in (0, 1]
    halls : list of int, optional
    score : Series, optional
        Indexed by user_id (e.g. a 一起玩吧 propensity score); higher first.
    locations : DataFrame, optional
        The ``locations`` table the tags were built from: counts the customers seen in the
        key halls' radius (``HallPlan.halls["seen_in_radius"]``).

    Returns
    -------
    HallPlan

    Raises
    ------
    ParameterError
        ``n_halls`` < 1, ``target_share`` outside (0, 1], no customer in the halls' radius.
    """
    if not isinstance(circles_result, LifeCircleTags):
        raise parameter_error("circles_result", expected="a LifeCircleTags from dm.life_circle.circles",
                              found=type(circles_result).__name__)
    check_scalar(n_halls, "n_halls", kind=int, low=1)
    check_scalar(target_share, "target_share", kind=(int, float), low=0, high=1, low_inclusive=False)
    t = circles_result.table.dropna(subset=["hall_id"])
    counts = t["hall_id"].astype(np.int64).value_counts()
    if halls is None:
        c = counts.rename_axis("hall_id").reset_index(name="n").sort_values(["n", "hall_id"],
                                                                             ascending=[False, True])
        key = c["hall_id"].head(n_halls).tolist()
    else:
        key = [int(h) for h in halls]
    inside = t[t["hall_id"].astype(np.int64).isin(key)]
    if not len(inside):
        raise parameter_error("halls", expected="halls with attributed customers", found=key)
    s = inside["hall_share"] if score is None else score.reindex(inside.index).astype(float)
    seen = None
    if locations is not None:
        loc = _check_locations(locations, list(circles_result.months))
        h = loc["hall_id"].to_numpy()
        is_key = np.zeros(max(int(h.max()) if len(h) else 0, max(key, default=0)) + 1, bool)
        is_key[[k for k in key if k >= 0]] = True
        near = np.flatnonzero(is_key[h])
        nu, nh = loc["user_id"].to_numpy()[near].astype(np.int64), h[near].astype(np.int64)
        pair = _sorted_unique(nu * len(is_key) + nh)             # (customer, key hall) seen
        seen = pd.Series(pair % len(is_key)).value_counts()
        n_radius = len(_sorted_unique(pair // len(is_key)))
    else:
        n_radius = len(inside)
    n_target = min(len(inside), max(1, int(round(target_share * n_radius))))
    order = pd.DataFrame({"user_id": inside.index, "hall_id": inside["hall_id"].astype(np.int64).to_numpy(),
                          "score": s.to_numpy()}).sort_values(["score", "user_id"], ascending=[False, True],
                                                               kind="stable", na_position="last")
    plan = order.head(n_target).reset_index(drop=True)
    per = pd.DataFrame({"hall_id": key})
    per["attributed"] = per["hall_id"].map(counts).fillna(0).astype(np.int64)
    if seen is not None:
        per["seen_in_radius"] = per["hall_id"].map(seen).fillna(0).astype(np.int64)
    per["targeted"] = per["hall_id"].map(plan["hall_id"].value_counts()).fillna(0).astype(np.int64)
    return HallPlan(plan=plan, halls=per, target_share=float(target_share), customers_in_radius=n_radius)
