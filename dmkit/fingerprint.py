"""The customer fingerprint (客户指纹库) of case Y4 and the customer portrait of case V.

* :func:`profile` — one row per customer: channel preference (most used channel, with
  its share as confidence), content/genre preference (most downloaded genre, with
  confidence), terminal capability, social-circle size (distinct contacts in ``edges``),
  value tier (ARPU tertiles or given cut points), brand, age band, the month's usage and
  the services held. Vectorised: one ``bincount`` per table, no loop over customers.
* :func:`preference_rules` — readable IF-THEN rules that explain a preference, from a
  shallow one-vs-rest decision tree per preferred value, with support, precision and
  lift per rule (Y4's "WEB channel: M-Zone brand, under 20, many MMS" kind).
* :meth:`FingerprintResult.card` — the portrait of one customer as a small table.

Example
-------
>>> fp = dm.fingerprint.profile(d.users, d.usage, d.subscriptions, d.events, d.edges)
>>> fp = dm.fingerprint.profile(pdata, month="2008-12")  # from a province: read a table at a time
>>> fp.table.head()
>>> dm.fingerprint.preference_rules(fp, target="channel").top()
>>> fp.card(fp.table.index[0])
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from dmkit import schema
from dmkit._positions import positions
from dmkit._results import Result, Summary, get_ax
from dmkit._trees import node_counts, read_rules
from dmkit._validation import check_choice, check_scalar
from dmkit.contract.labels import in_labels, label_codes, present_labels
from dmkit.contract.months import check_month, month_end
from dmkit.contract.province import ProvinceData
from dmkit.errors import DataNotFoundError, parameter_error, schema_error

__all__ = [
    "profile",
    "FingerprintResult",
    "preference_rules",
    "PreferenceRules",
    "AGE_BANDS",
    "NO_PREFERENCE",
    "PROFILE_COLUMNS",
    "TERMINAL_COLUMNS",
    "Y4_PUBLISHED",
]

AGE_BANDS: tuple[int, ...] = (20, 25, 35, 42)
"""Default age cut points (Y4's rules speak of under 20, under 35 and over 42):
bands <20, 20–24, 25–34, 35–41, 42+."""

#: how :meth:`Fingerprint.shares` names the customers without a preference on a dimension
NO_PREFERENCE: dict[str, str] = {"channel": "no actions", "genre": "no downloads", "terminal": "unknown"}

TERMINAL_COLUMNS: dict[str, str] = {"term_mms": "mms", "term_wap": "wap", "term_java": "java",
                                    "term_fetion": "fetion"}
"""users columns -> the capability word used in ``terminal``."""

Y4_PUBLISHED: pd.DataFrame = pd.DataFrame(
    [
        ("channel", "ivr", "high activity, under 20, close contacts prefer voice, uses the secretary service"),
        ("channel", "web", "music-club senior member, sets tones on the web, many MMS/SMS, M-Zone, under 20"),
        ("channel", "wap", "uses Monternet WAP/PDA services"),
        ("channel", "sms", "the rest (other/SMS channel)"),
        ("genre", "pop", "downloaded many genres, under 35, changes tone often"),
        ("genre", "classic", "downloaded classics, over 42, little SMS/MMS"),
        ("genre", "local", "subscribes a local newspaper, many in-city SMS"),
        ("genre", "greeting", "students, much SMS/MMS, likes campus songs"),
        ("genre", "diy", "changes tone often, downloads full songs"),
    ],
    columns=["target", "preference", "published"],
)
"""Case Y4's CRBT preference rules as the deck states them, to show beside found rules."""

USAGE_FEATURES: tuple[str, ...] = tuple(
    s.name for s in schema.COLUMNS["usage"] if s.name not in ("user_id", "month"))


PROFILE_COLUMNS: dict[str, tuple[str, ...]] = {
    "users": ("user_id", "brand", "gender", "age", "student", "tenure_months", *TERMINAL_COLUMNS,
              "preferred_channel"),
    "usage": tuple(s.name for s in schema.COLUMNS["usage"]),
    "subscriptions": ("user_id", "service", "start", "end", "channel"),
    "events": ("user_id", "ts", "genre", "channel"),
    "edges": ("user_id", "month", "sms", "calls"),
}
"""The contract columns :func:`profile` reads from each table (and validates): what a loader
needs to read for it."""


# --------------------------------------------------------------------------------------
# profile
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FingerprintResult(Result):
    """Per-customer fingerprints from :func:`profile`.

    Attributes
    ----------
    table : DataFrame
        Index user_id. Columns: brand, gender, age, age_band, student, tenure_months,
        channel, channel_confidence, channel_actions, genre, genre_confidence,
        genre_downloads, n_genres, terminal, terminal_score, term_* flags, circle_size,
        arpu, value_tier, the month's usage columns, sms_mms (P2P SMS + MMS sent), and ``holds_<service>`` (bool) for
        each service held at the month's end.
    month : str
    value_cuts : tuple of float
        ARPU cut points between the value tiers (low / mid / high).
    """

    table: pd.DataFrame
    month: str
    value_cuts: tuple[float, ...]

    def to_frame(self) -> pd.DataFrame:
        """The fingerprint table."""
        return self.table.copy()

    def shares(self) -> pd.DataFrame:
        """Share of customers per channel preference, genre preference, value tier, age band.

        Customers without a preference on a dimension (no download in the month: no genre; no
        action: no channel) are one row named for that, e.g. "no downloads", never a bare NaN.
        """
        parts = []
        for col in ("channel", "genre", "value_tier", "age_band", "terminal"):
            s = self.table[col].value_counts(normalize=True, dropna=False)
            labels = [NO_PREFERENCE.get(col, "unknown") if pd.isna(v) else str(v) for v in s.index]
            parts.append(pd.DataFrame({"dimension": col, "value": labels, "share": s.to_numpy()}))
        return pd.concat(parts, ignore_index=True)

    def summary(self) -> Summary:
        t = self.table
        sh = self.shares()
        tables = tuple((dim, sh[sh["dimension"] == dim].drop(columns="dimension").set_index("value").head(10))
                       for dim in ("channel", "genre", "value_tier", "age_band"))
        conf = pd.DataFrame({"median confidence": [t["channel_confidence"].median(), t["genre_confidence"].median()],
                             "customers with data": [int(t["channel_actions"].gt(0).sum()),
                                                     int(t["genre_downloads"].gt(0).sum())]},
                            index=pd.Index(["channel", "genre"], name="preference"))
        notes = (f"{len(t):,} customers, month {self.month}; median circle size {t['circle_size'].median():g}",
                 f"value tiers cut at ARPU {', '.join(f'{c:.1f}' for c in self.value_cuts)}")
        return Summary(title="Customer fingerprint (客户指纹库)", tables=(("confidence", conf),) + tables, notes=notes)

    def plot(self, ax=None, *, dimension: Literal["channel", "genre", "value_tier", "age_band", "terminal"] = "channel"):
        """Bar chart of the customers' preferences on one dimension."""
        check_choice(dimension, "dimension", ("channel", "genre", "value_tier", "age_band", "terminal"))
        ax = get_ax(ax)
        s = self.table[dimension].value_counts(normalize=True)
        ax.bar(s.index.astype(str), s.to_numpy())
        ax.set_ylabel("share of customers")
        ax.set_title(f"Preference: {dimension}")
        ax.tick_params(axis="x", rotation=30)
        return ax

    def card(self, user_id: int) -> pd.DataFrame:
        """The portrait (客户画像) of one customer: a two-column table field / value.

        Raises
        ------
        ParameterError
            When ``user_id`` is not in the profile.
        """
        if user_id not in self.table.index:
            raise parameter_error("user_id", expected=f"a customer of this profile ({len(self.table):,} ids)",
                                  found=user_id)
        r = self.table.loc[user_id]
        subs = [c[6:] for c in self.table.columns if c.startswith("holds_") and bool(r[c])]

        def pct(v: float) -> str:
            return "n/a" if pd.isna(v) else f"{v:.0%}"

        rows = [
            ("brand", r["brand"]),
            ("age", f"{r['age']} ({r['age_band']})"),
            ("gender", r["gender"]),
            ("student", "yes" if r["student"] else "no"),
            ("tenure", f"{r['tenure_months']} months"),
            ("value tier", f"{r['value_tier']} (ARPU {r['arpu']:.1f} yuan)"),
            ("channel preference", f"{r['channel']} ({pct(r['channel_confidence'])} of {int(r['channel_actions'])} actions)"),
            ("content preference", f"{r['genre']} ({pct(r['genre_confidence'])} of {int(r['genre_downloads'])} downloads, "
                                   f"{int(r['n_genres'])} genres)"),
            ("terminal", r["terminal"]),
            ("social circle", f"{int(r['circle_size'])} contacts"),
            ("P2P SMS", f"{r['sms_p2p']:g} to {r['sms_contacts']:g} numbers"),
            ("MMS", f"{r['mms']:g}"),
            ("voice", f"{r['voice_minutes']:.0f} min on {r['call_days']:g} days"),
            ("services held", ", ".join(subs) if subs else "none"),
        ]
        out = pd.DataFrame(rows, columns=["field", "value"]).set_index("field")
        out["value"] = out["value"].astype(str)
        out.columns.name = f"user {user_id}"
        return out


def _argmax_share(parts: Sequence[tuple[np.ndarray, np.ndarray]], n: int, m: int):
    """Most frequent category per customer, its share and the customer's total count.

    ``parts``: pairs (customer position, category code) of the same length, one pair per
    source table (codes -1 and positions -1 are not counted). The counts come from one
    ``bincount`` of ``position x m + code`` per part and block of customers (blocks of at
    most :data:`_COUNT_CELLS` customer-category cells: memory bounded, a few passes over
    the sources instead of one per category); ties go to the first category, as ``argmax``
    does.

    Returns best (int16/int32 code), confidence (float64, NaN without actions), total and
    number of categories used (int32).
    """
    step = max(1, _COUNT_CELLS // max(m, 1))
    n_blocks = -(-n // step) if m else 0
    kept = []
    for pos, codes in parts:
        ok = (pos >= 0) & (codes >= 0)
        pos, codes = (pos, codes) if ok.all() else (pos[ok], codes[ok])  # nothing to drop: no copy
        if n_blocks > 1:   # the rows grouped by block once (a radix sort of small ints), not a scan per block
            block = (pos // step).astype(np.int16 if n_blocks < 2 ** 15 else np.int32)
            order = np.argsort(block, kind="stable")
            bounds = np.r_[0, np.cumsum(np.bincount(block, minlength=n_blocks))]
            del block
            pos, codes = pos[order], codes[order]
            del order
        else:
            bounds = np.array([0, len(pos)])
        kept.append((pos, codes, bounds))
    best = np.zeros(n, dtype=np.int16 if m < 2 ** 15 else np.int32)
    top = np.zeros(n, dtype=np.int64)
    total = np.zeros(n, dtype=np.int64)
    nnz = np.zeros(n, dtype=np.int32)
    for j, a in enumerate(range(0, n if m else 0, step)):
        b = min(n, a + step)
        cnt = np.zeros((b - a) * m, dtype=np.int64)
        for pos, codes, bounds in kept:
            lo, hi = bounds[j], bounds[j + 1]
            key = (pos[lo:hi].astype(np.int64) - a) * m + codes[lo:hi]
            cnt += np.bincount(key, minlength=(b - a) * m)
        cnt = cnt.reshape(b - a, m)
        best[a:b] = cnt.argmax(axis=1)
        top[a:b] = cnt.max(axis=1)
        total[a:b] = cnt.sum(axis=1)
        nnz[a:b] = (cnt > 0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.where(total > 0, top / np.maximum(total, 1), np.nan)
    return best, conf, total.astype(np.int32), nnz


_COUNT_CELLS = 1 << 24
"""Customer x category count cells :func:`_argmax_share` holds at once (128 MiB of int64)."""


def _recode(codes: np.ndarray, labels: Sequence[str], categories: Sequence[str], *,
            drop: Sequence[str] = ()) -> np.ndarray:
    """Codes into ``labels`` (from :func:`~dmkit.contract.labels.label_codes`, -1 missing)
    as codes into ``categories`` (-1 if absent or in ``drop``), int16 (int32 past 32,767
    categories)."""
    dt = np.int16 if len(categories) < 2 ** 15 else np.int32
    remap = pd.Index(list(categories)).get_indexer(list(labels))
    remap[np.isin(np.asarray(labels, dtype=object), list(drop))] = -1
    return np.append(remap, -1).astype(dt)[codes]  # code -1 -> last entry, -1


def _used(codes: np.ndarray, labels: Sequence[str]) -> set[str]:
    """The labels taken by ``codes`` (codes into ``labels``, -1 missing)."""
    used = np.bincount(codes[codes >= 0], minlength=len(labels))
    return {str(v) for v, k in zip(labels, used, strict=True) if k}


class _Source:
    """One table as :func:`profile` reads it: a DataFrame (checked whole at the start), or a
    :class:`~dmkit.contract.province.ProvinceData` read a few columns at a time (of a monthly
    table the month's rows only), each piece checked against the contract as it is read and
    dropped once reduced, so that no more than one table's few columns are held at once."""

    def __init__(self, src: pd.DataFrame | ProvinceData, table: str, validate: bool) -> None:
        self.src, self.table, self.validate = src, table, validate

    @property
    def lazy(self) -> bool:
        return isinstance(self.src, ProvinceData)

    def get(self, *columns: str, months: Sequence[str] | None = None, check_keys: bool = False) -> pd.DataFrame:
        """A frame holding ``columns``: the DataFrame itself, or those columns read from the
        province (``months``: only those months' rows; ``DataNotFoundError`` when it has none)."""
        if not self.lazy:
            return self.src
        df = self.src.read(self.table, columns=list(columns), months=months)
        if self.validate:
            schema.validate(df, self.table, check_keys=check_keys, columns=list(columns))
        return df

    def months(self) -> set[str]:
        """The months of a monthly table."""
        return present_labels(self.get("month")["month"])


def _sources(users, usage, subscriptions, events, edges, validate: bool) -> dict[str, _Source]:
    """The five tables by name; a table not given (None) is read from ``users`` when it is a
    province."""
    given = {"users": users, "usage": usage, "subscriptions": subscriptions, "events": events, "edges": edges}
    out = {}
    for name, src in given.items():
        if src is None and isinstance(users, ProvinceData):
            src = users
        if not isinstance(src, (pd.DataFrame, ProvinceData)):
            raise parameter_error(name, expected=f"the {name} table (a DataFrame) or a ProvinceData",
                                  found=type(src).__name__,
                                  fix=None if src is not None else "pass the table, or the province as users")
        out[name] = _Source(src, name, validate)
    return out


def profile(
    users: pd.DataFrame | ProvinceData,
    usage: pd.DataFrame | ProvinceData | None = None,
    subscriptions: pd.DataFrame | ProvinceData | None = None,
    events: pd.DataFrame | ProvinceData | None = None,
    edges: pd.DataFrame | ProvinceData | None = None,
    *,
    month: str | None = None,
    channel_from: Literal["both", "events", "subscriptions"] = "both",
    exclude_channels: Sequence[str] = ("sp_push", "outbound"),
    value_cuts: Sequence[float] | None = None,
    age_bands: Sequence[int] = AGE_BANDS,
    validate: bool = True,
) -> FingerprintResult:
    """Build each customer's fingerprint for one month.

    Parameters
    ----------
    users, usage, subscriptions, events, edges : DataFrame or ProvinceData
        Contract tables (:mod:`dmkit.schema`), or a province (``dm.io.load_province``) for
        any of them: then only the columns profile reads (:data:`PROFILE_COLUMNS`) are read,
        of ``usage`` and ``edges`` the month's rows only, one table at a time and a few
        columns at a time, each reduced to per-customer arrays before the next is read
        (from a lazily loaded province, the simulator cache, nothing else of the tables is
        held). ``profile(pdata, month=...)`` reads all five from ``pdata``; a table left out
        (None) is read from ``users`` when that is a province. The same table either way.
    month : str 'YYYY-MM', optional
        The data month; default the latest month of ``usage``. Usage and edges are taken
        for that month, events and subscriptions up to its end.
    channel_from : {"both", "events", "subscriptions"}
        Which actions count for the channel preference: downloads (``events.channel``),
        service orders (``subscriptions.channel``) or both. Customers without any action
        get the CRM field ``users.preferred_channel`` with confidence NaN.
    exclude_channels : list of str, default ("sp_push", "outbound")
        Channels that say nothing of the customer's habit (an SP ordering for them, an
        outbound call) and are not counted.
    value_cuts : two floats, optional
        ARPU cut points low|mid|high; default the tertiles of the month's ARPU.
    age_bands : ints
        Age cut points (default :data:`AGE_BANDS`).
    validate : bool, default True
        Check the tables against the data contract first: the columns profile reads
        (:data:`PROFILE_COLUMNS`; a table loaded with only those columns is enough), and
        unique keys of users and usage. What is read from a province is checked as it is
        read (of usage and edges the month's rows).

    Returns
    -------
    FingerprintResult
        ``table`` indexed by user_id with the columns listed in :class:`FingerprintResult`.

    Raises
    ------
    SchemaError
        A table breaks the contract, or ``usage`` has no row for ``month``.
    ParameterError
        A table is neither a DataFrame nor a province.
    """
    check_choice(channel_from, "channel_from", ("both", "events", "subscriptions"))
    if month is not None:
        check_month(month)
    if value_cuts is not None:
        value_cuts = tuple(float(v) for v in value_cuts)
        if len(value_cuts) != 2 or value_cuts[0] >= value_cuts[1]:
            raise parameter_error("value_cuts", expected="two increasing ARPU cut points", found=value_cuts)
    age_bands = tuple(age_bands)
    exclude_channels = tuple(str(c) for c in exclude_channels)

    def compute() -> tuple[pd.DataFrame, dict]:
        fp = _profile(users, usage, subscriptions, events, edges, month=month, channel_from=channel_from,
                      exclude_channels=exclude_channels, value_cuts=value_cuts, age_bands=age_bands,
                      validate=validate)
        return fp.table, {"month": fp.month, "value_cuts": list(fp.value_cuts)}

    if not (isinstance(users, ProvinceData) and all(t is None or t is users
                                                    for t in (usage, subscriptions, events, edges))):
        frame, meta = compute()
    else:  # all five from the province's files: computed once per province-month and parameters
        from dmkit.catalog import active_catalog
        from dmkit.contract.derived import stored
        from dmkit.contract.sources import source_digest

        params = {"month": month, "channel_from": channel_from, "exclude_channels": exclude_channels,
                  "value_cuts": value_cuts, "age_bands": age_bands, "validate": validate,
                  "channels": list(active_catalog().codes("channels")),
                  "genres": list(active_catalog().codes("genres"))}
        frame, meta = stored(users, "fingerprint", compute, tables=tuple(PROFILE_COLUMNS), params=params,
                             code=source_digest(__name__))
    return FingerprintResult(table=frame, month=meta["month"], value_cuts=tuple(meta["value_cuts"]))


def _profile(users, usage, subscriptions, events, edges, *, month: str | None, channel_from: str,
             exclude_channels: tuple[str, ...], value_cuts: tuple[float, float] | None,
             age_bands: Sequence[int], validate: bool) -> FingerprintResult:
    """:func:`profile` itself, on checked parameters."""
    src = _sources(users, usage, subscriptions, events, edges, validate)
    if validate:
        for name, s in src.items():
            if not s.lazy:
                schema.validate(s.src, name, check_keys=name in ("users", "usage"), columns=PROFILE_COLUMNS[name])
    t: dict[str, object] = {}  # columns, assembled into one frame at the end

    # the month: checked against usage's months first (a province's month column alone read)
    us = src["usage"]
    present = us.months() if us.lazy else None
    if month is None:
        month = max(present if us.lazy else present_labels(us.src["month"]))
    u_rows = None if us.lazy else np.flatnonzero(in_labels(us.src["month"], [month]))  # no copy of usage
    if (month not in present) if us.lazy else not len(u_rows):
        raise schema_error(table="usage", column="month", expected=f"rows for month {month!r}",
                           found=f"months {sorted(present if us.lazy else present_labels(us.src['month']))[:6]}")
    end = month_end(month)  # exclusive: midnight starting the next month
    cuts = value_cuts

    # users ----------------------------------------------------------------------------
    users = src["users"].get(*PROFILE_COLUMNS["users"], check_keys=True)
    ids = pd.Index(users["user_id"].to_numpy())
    n = len(ids)
    for c in ("brand", "gender", "age", "student", "tenure_months"):
        t[c] = users[c].array
    t["age_band"] = _age_band(users["age"].to_numpy(), age_bands)
    flags = users[list(TERMINAL_COLUMNS)].to_numpy(dtype=bool)
    crm = label_codes(users["preferred_channel"])  # codes and labels, into the channels once known
    seen = _used(*crm)
    del users

    # subscriptions: the channels of the orders, the services held at the month's end ------
    sub_part, sub_seen, held = _subscription_parts(src["subscriptions"], end, ids)
    seen |= sub_seen

    # events: the channels and genres of the downloads --------------------------------------
    ev_part, ev_seen, genre_part = _event_parts(src["events"], end, ids)
    seen |= ev_seen

    # channel preference --------------------------------------------------------------
    from dmkit.catalog import active_catalog

    CHANNELS = active_catalog().codes("channels")  # noqa: N806 - the operator's catalog, or the simulator's
    chans = list(CHANNELS) + sorted(seen - set(CHANNELS))
    parts = []
    if channel_from in ("both", "events"):
        parts.append(ev_part)
    if channel_from in ("both", "subscriptions"):
        parts.append(sub_part)
    del ev_part, sub_part
    parts = [(pos, _recode(codes, labels, chans, drop=exclude_channels))  # excluded: -1, not counted
             for pos, codes, labels in parts]
    best, conf, total, _ = _argmax_share(parts, n, len(chans))
    del parts
    crm_code = _recode(crm[0], crm[1], chans)
    t["channel"] = pd.Categorical.from_codes(np.where(total > 0, best, crm_code), categories=chans)
    t["channel_confidence"] = conf
    t["channel_actions"] = total
    del best, conf, total, crm_code

    # genre preference ---------------------------------------------------------------
    GENRES = active_catalog().codes("genres")  # noqa: N806 - the operator's catalog, or the simulator's
    gpos, gcodes, glabels = genre_part
    del genre_part
    genres = list(GENRES) + sorted(_used(gcodes, glabels) - set(GENRES))
    gbest, gconf, gtotal, ngen = _argmax_share([(gpos, _recode(gcodes, glabels, genres))], n, len(genres))
    del gpos, gcodes
    t["genre"] = pd.Categorical.from_codes(np.where(gtotal > 0, gbest, -1), categories=genres)
    t["genre_confidence"] = gconf
    t["genre_downloads"] = gtotal
    t["n_genres"] = ngen

    # the month's usage and value tier (read once the big tables are reduced) -----------
    u = us.get(*PROFILE_COLUMNS["usage"], months=[month], check_keys=True) if us.lazy else us.src
    if us.lazy:
        u_rows = np.flatnonzero(in_labels(u["month"], [month]))
    upos = positions(u["user_id"].to_numpy()[u_rows], ids)
    keep = upos >= 0
    u_keep, upos = u_rows[keep], upos[keep]
    for c in USAGE_FEATURES:
        vals = u[c].to_numpy()
        col = np.zeros(n, dtype=vals.dtype)  # customers without usage that month: 0
        col[upos] = vals[u_keep]
        t[c] = col
    month_arpu = u["arpu"].to_numpy()[u_rows]
    del u, vals, upos, u_keep
    t["sms_mms"] = (t["sms_p2p"].astype(np.int64) + t["mms"]).astype(np.int32)
    if value_cuts is None:
        cuts = tuple(float(q) for q in np.quantile(month_arpu.astype(float), [1 / 3, 2 / 3]))
    del month_arpu
    t["value_tier"] = pd.Categorical.from_codes(np.searchsorted(np.asarray(cuts), t["arpu"], side="right"),
                                                categories=["low", "mid", "high"], ordered=True)

    # social circle ------------------------------------------------------------------
    t["circle_size"] = _circle_sizes(src["edges"], month, ids)

    # terminal -----------------------------------------------------------------------
    words = np.array(list(TERMINAL_COLUMNS.values()), dtype=object)
    # one distinct text per capability combination (at most 16), then a lookup: no per-user join
    combo = flags @ (1 << np.arange(flags.shape[1]))
    texts = np.array([", ".join(words[[(c >> b) & 1 == 1 for b in range(len(words))]]) or "voice/SMS only"
                      for c in range(1 << len(words))], dtype=object)
    t["terminal"] = pd.Categorical.from_codes(combo, categories=texts)  # 16 texts, a code per user
    t["terminal_score"] = flags.sum(axis=1).astype(np.int32)
    for j, c in enumerate(TERMINAL_COLUMNS):
        t[c] = np.ascontiguousarray(flags[:, j])

    # services held at the month's end -------------------------------------------------
    spos, scode, slabels = held
    del held
    services = sorted(_used(scode, slabels))
    order = ["brand", "gender", "age", "student", "tenure_months", "age_band", "channel", "channel_confidence",
             "channel_actions", "genre", "genre_confidence", "genre_downloads", "n_genres", "terminal",
             "terminal_score", *TERMINAL_COLUMNS, "circle_size", *USAGE_FEATURES, "sms_mms", "value_tier"]
    t = {c: t[c] for c in order}
    if services:
        scode = _recode(scode, slabels, services)
        ok = (spos >= 0) & (scode >= 0)
        spos, scode = spos[ok], scode[ok]
        for i, s in enumerate(services):  # one bool column each: no n x services matrix copied into the frame
            col = np.zeros(n, dtype=bool)
            col[spos[scode == i]] = True
            t[f"holds_{s}"] = col
    table = pd.DataFrame(t, index=pd.Index(ids, name="user_id"), copy=False)  # the columns as built, no consolidation copy
    return FingerprintResult(table=table, month=month, value_cuts=cuts)


def _circle_sizes(edges: _Source, month: str, ids: pd.Index) -> np.ndarray:
    """Distinct contacts per customer (int32): the rows of ``month`` with an SMS or a call
    (the latest earlier month, or the earliest, with a warning, when ``month`` has none)."""
    n = len(ids)
    months = [month]
    if edges.lazy:
        try:
            e = edges.get("month", "sms", months=months)
        except DataNotFoundError:
            e = None
        if e is None:
            present = edges.months()
            if not present:
                return np.zeros(n, dtype=np.int32)
            latest = max([m for m in present if m <= month] or present)
            warnings.warn(f"profile: no edges for {month}; circle sizes from {latest}", UserWarning, stacklevel=3)
            months = [latest]
            e = edges.get("month", "sms", months=months)
        active = e["sms"].to_numpy() > 0  # one column at a time: the month's rows only
        del e
        active |= edges.get("month", "calls", months=months)["calls"].to_numpy() > 0
        uid = edges.get("month", "user_id", months=months)["user_id"].to_numpy()[active]
        del active
    else:
        e = edges.src
        e_rows = np.flatnonzero(in_labels(e["month"], months))
        if not len(e_rows) and len(e):
            e_months = sorted(present_labels(e["month"]))
            latest = max([m for m in e_months if m <= month] or e_months)
            warnings.warn(f"profile: no edges for {month}; circle sizes from {latest}", UserWarning, stacklevel=3)
            e_rows = np.flatnonzero(in_labels(e["month"], [latest]))
        active = (e["sms"].to_numpy()[e_rows] > 0) | (e["calls"].to_numpy()[e_rows] > 0)
        uid = e["user_id"].to_numpy()[e_rows[active]]
    epos = positions(uid, ids)
    return np.bincount(epos[epos >= 0], minlength=n).astype(np.int32)


def _subscription_parts(subs: _Source, end: pd.Timestamp, ids: pd.Index):
    """Of the subscriptions started before ``end``: (customer position, channel code,
    channel labels) of each order, the channels of every row, and (position, service code,
    service labels) of those still running at ``end``. A province's table is read a column
    (``start`` with ``end``) at a time."""
    s = subs.get("start", "end")
    sub_mask = (s["start"] < end).to_numpy()
    held = sub_mask & ~(s["end"] < end).to_numpy()  # running at the month's end (NaT: not ended)
    del s
    rows = np.flatnonzero(sub_mask)
    pos = positions(subs.get("user_id")["user_id"].to_numpy()[rows], ids)
    codes, labels = label_codes(subs.get("channel")["channel"])
    seen = _used(codes, labels)
    part = (pos, codes[rows], labels)
    del codes
    hrows = np.flatnonzero(held)
    spos = pos[held[rows]]
    del rows, held
    scodes, slabels = label_codes(subs.get("service")["service"])
    return part, seen, (spos, scodes[hrows], slabels)


def _event_parts(events: _Source, end: pd.Timestamp, ids: pd.Index):
    """Of the downloads before ``end``: (customer position, channel code, channel labels),
    the channels of every row, and (position, genre code, genre labels). A province's table
    is read a column at a time."""
    ev_rows = np.flatnonzero((events.get("ts")["ts"] < end).to_numpy())
    pos = positions(events.get("user_id")["user_id"].to_numpy()[ev_rows], ids)
    codes, labels = label_codes(events.get("channel")["channel"])
    seen = _used(codes, labels)
    part = (pos, codes[ev_rows], labels)
    del codes
    gcodes, glabels = label_codes(events.get("genre")["genre"])
    return part, seen, (pos, gcodes[ev_rows], glabels)


def _age_band(age: np.ndarray, cuts: Sequence[int]) -> pd.Categorical:
    cuts = [int(c) for c in cuts]
    if any(b <= a for a, b in zip(cuts[:-1], cuts[1:], strict=True)) or not cuts:
        raise parameter_error("age_bands", expected="increasing integer cut points, e.g. (20, 25, 35, 42)",
                              found=cuts)
    labels = [f"<{cuts[0]}"] + [f"{a}–{b - 1}" for a, b in zip(cuts[:-1], cuts[1:], strict=True)] + [f"{cuts[-1]}+"]
    return pd.Categorical.from_codes(np.searchsorted(np.asarray(cuts), age, side="right"),
                                     categories=labels, ordered=True)


# --------------------------------------------------------------------------------------
# preference rules
# --------------------------------------------------------------------------------------

_NOT_FEATURES = ("channel", "channel_confidence", "channel_actions", "genre", "genre_confidence",
                 "genre_downloads", "age_band", "value_tier", "terminal", "gender")


def default_features(table: pd.DataFrame) -> list[str]:
    """The profile columns used to explain a preference: demographics, brand, terminal,
    usage, circle size, genres downloaded and services held (not the preferences
    themselves nor their derived bands)."""
    return [c for c in table.columns if c not in _NOT_FEATURES]


def _design(table: pd.DataFrame, features: list[str]) -> tuple[pd.DataFrame, dict[str, tuple[str, str]]]:
    """Numeric design matrix; categorical columns one-hot as ``col=value`` (kind map)."""
    cols, kinds = {}, {}
    for f in features:
        s = table[f]
        if pd.api.types.is_bool_dtype(s):
            cols[f] = s.to_numpy(dtype=np.float32)
            kinds[f] = ("bool", f)
        elif pd.api.types.is_numeric_dtype(s):
            cols[f] = s.to_numpy(dtype=np.float64)
            kinds[f] = ("num", f)
        else:
            for v in sorted(present_labels(s)):
                name = f"{f}={v}"
                cols[name] = in_labels(s, [v]).astype(np.float32)
                kinds[name] = ("cat", f, v)
    return pd.DataFrame(cols, index=table.index), kinds


def _design_column(table: pd.DataFrame, kind: tuple, rows: np.ndarray) -> np.ndarray:
    """One design column (float32) over ``rows`` of ``table``, from its kind map entry."""
    if kind[0] == "cat":
        return in_labels(table[kind[1]], [kind[2]])[rows].astype(np.float32)
    return table[kind[1]].to_numpy()[rows].astype(np.float32)


_MAX_BINS = 1024


class _Tree:
    """The arrays of a fitted binary tree, as scikit-learn's ``tree_`` holds them
    (``children_left/right`` -1 at a leaf, ``feature``/``threshold`` -2 there)."""

    def __init__(self) -> None:
        self.children_left: list[int] = []
        self.children_right: list[int] = []
        self.feature: list[int] = []
        self.threshold: list[float] = []

    def add(self) -> int:
        for a, v in ((self.children_left, -1), (self.children_right, -1), (self.feature, -2),
                     (self.threshold, -2.0)):
            a.append(v)
        return len(self.feature) - 1

    def freeze(self) -> None:
        self.children_left = np.asarray(self.children_left, dtype=np.intp)
        self.children_right = np.asarray(self.children_right, dtype=np.intp)
        self.feature = np.asarray(self.feature, dtype=np.intp)
        self.threshold = np.asarray(self.threshold, dtype=np.float64)
        self.node_count = len(self.feature)


class _BinnedTree:
    """A shallow gini decision tree grown on binned features (histograms, as histogram
    gradient boosting bins them), read by :func:`dmkit._trees.read_rules` like scikit-learn's.

    Each feature's candidate thresholds are the midpoints between its consecutive distinct
    values in the fitting rows, as :class:`sklearn.tree.DecisionTreeClassifier` tries them;
    a feature with more than ``_MAX_BINS`` distinct values keeps the midpoints at its
    quantiles. A node's best split over every feature comes from a ``bincount`` of its rows
    and its positives per feature's bins (the larger child's by difference from its parent):
    linear in rows x features, no sort per node. Split
    rule as scikit-learn's: the least weighted gini impurity of the children, each child at
    least ``ceil(min_samples_leaf x rows)`` rows; no split of a pure node or at ``max_depth``.
    """

    def __init__(self, max_depth: int, min_samples_leaf: float) -> None:
        self.max_depth, self.min_samples_leaf = max_depth, min_samples_leaf

    @staticmethod
    def bin(X: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, dict]:
        """``(cuts, codes, shared)``: each feature's candidate thresholds, each row's bin per
        feature (uint16, rows x features, one contiguous column per feature) and the
        histogram of all rows once computed: binned once for every tree grown on these rows."""
        n, p = X.shape
        cuts, codes = [], np.empty((n, p), dtype=np.uint16, order="F")
        for j in range(p):
            x = np.ascontiguousarray(X[:, j])
            u = np.unique(x)
            mids = (u[:-1].astype(np.float64) + u[1:]) / 2
            if len(mids) > _MAX_BINS - 1:
                q = np.quantile(x, np.linspace(0, 1, _MAX_BINS + 1)[1:-1])
                mids = np.unique(mids[np.minimum(np.searchsorted(u, q, side="left"), len(mids) - 1)])
            cuts.append(mids)
            codes[:, j] = np.searchsorted(mids, x, side="left")  # x <= mids[b] <=> bin <= b
        return cuts, codes, {}

    def fit(self, binned: tuple[list[np.ndarray], np.ndarray, dict], y: np.ndarray) -> _BinnedTree:
        """Grow the tree on rows binned by :meth:`bin`, ``y`` the target (bool) of each row."""
        cuts, codes, shared = binned
        n, p = codes.shape
        width = _MAX_BINS
        y = np.asarray(y, dtype=bool)
        n_cuts = np.array([len(c) for c in cuts])[:, None]

        def hist(rows: np.ndarray) -> np.ndarray:
            out = np.zeros((p, width), dtype=np.int64)
            for j in range(p):  # one small histogram per feature (cache-resident counts)
                out[j] = np.bincount(codes[:, j][rows], minlength=width)
            return out

        if "rows" not in shared:  # every tree's root: all the rows
            shared["rows"] = hist(np.arange(n))
        min_leaf = int(np.ceil(self.min_samples_leaf * n))
        tree = _Tree()
        all_rows = np.arange(n)
        stack = [(tree.add(), all_rows, 0, shared["rows"], hist(all_rows[y]))]
        while stack:
            node, rows, depth, cnt, pos = stack.pop()
            nn, kk = len(rows), float(np.count_nonzero(y[rows]))
            if depth >= self.max_depth or nn < 2 * min_leaf or kk == 0 or kk == nn:
                continue
            nl = np.cumsum(cnt, axis=1)[:, :-1].astype(np.float64)
            kl = np.cumsum(pos, axis=1)[:, :-1].astype(np.float64)
            nr, kr = nn - nl, kk - kl
            valid = (nl >= min_leaf) & (nr >= min_leaf) & (np.arange(width - 1)[None, :] < n_cuts)
            if not valid.any():
                continue
            with np.errstate(invalid="ignore", divide="ignore"):
                cost = kl * (nl - kl) / nl + kr * (nr - kr) / nr  # half the children's weighted gini
            cost = np.where(valid, cost, np.inf)
            f, b = np.unravel_index(int(np.argmin(cost)), cost.shape)
            tree.feature[node], tree.threshold[node] = int(f), float(cuts[f][b])
            go_left = codes[rows, f] <= b
            left, right = tree.add(), tree.add()
            tree.children_left[node], tree.children_right[node] = left, right
            lrows, rrows = rows[go_left], rows[~go_left]
            if depth + 1 < self.max_depth:  # histograms of the smaller child; the other's by difference
                small = lrows if len(lrows) <= len(rrows) else rrows
                sc, sp = hist(small), hist(small[y[small]])
                lc, lp, rc, rp = ((sc, sp, cnt - sc, pos - sp) if small is lrows else (cnt - sc, pos - sp, sc, sp))
            else:
                lc = lp = rc = rp = None
            stack += [(right, rrows, depth + 1, rc, rp), (left, lrows, depth + 1, lc, lp)]
        tree.freeze()
        self.tree_ = tree
        return self

    def apply(self, column, n_rows: int) -> np.ndarray:
        """The leaf of each of ``n_rows`` rows; ``column(j)`` gives feature ``j`` over those
        rows (float32), read only for the features the tree splits on."""
        t = self.tree_
        leaf = np.zeros(n_rows, dtype=np.intp)
        for node in range(t.node_count):  # parents before children
            if t.children_left[node] == -1:
                continue
            here = np.flatnonzero(leaf == node)
            go_left = column(int(t.feature[node]))[here] <= t.threshold[node]
            leaf[here[go_left]] = t.children_left[node]
            leaf[here[~go_left]] = t.children_right[node]
        return leaf


def _render(cond: tuple[str, str, float], kinds: dict) -> str:
    f, op, thr = cond
    kind = kinds[f]
    if kind[0] == "bool":
        return f if op == ">" else f"not {f}"
    if kind[0] == "cat":
        return f"{kind[1]} == {kind[2]!r}" if op == ">" else f"{kind[1]} != {kind[2]!r}"
    return f"{f} {op} {thr:.4g}"


def _wilson_low(k: np.ndarray, n: np.ndarray, z: float = 1.96) -> np.ndarray:
    p = k / n
    den = 1 + z * z / n
    centre = p + z * z / (2 * n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / den


@dataclass(frozen=True)
class PreferenceRules(Result):
    """IF-THEN rules explaining a preference, from :func:`preference_rules`.

    Attributes
    ----------
    rules : DataFrame
        One row per rule (a leaf where the preference is more common than overall):
        preference, rule (text), conditions (list of (feature, op, threshold); a
        one-hot feature reads ``"brand=mzone"`` with ``>`` meaning equal), n, support
        (n / customers), precision (share of the leaf with the preference), recall,
        lift (precision / base rate), base_rate, score (Wilson lower bound of the
        precision, the ranking key). Sorted by preference, then score.
    target : str
    features : tuple of str
    """

    rules: pd.DataFrame
    target: str
    features: tuple[str, ...]

    def top(self, preference: str | None = None) -> pd.DataFrame | pd.Series:
        """The best rule per preference (a frame), or for one ``preference`` (a Series)."""
        if preference is None:
            return self.rules.groupby("preference", observed=True, sort=False).head(1).set_index("preference")
        sub = self.rules[self.rules["preference"] == preference]
        if not len(sub):
            raise parameter_error("preference", expected=f"one of {sorted(self.rules['preference'].unique())}",
                                  found=preference)
        return sub.iloc[0]

    def text(self, n_per_preference: int = 2) -> list[str]:
        """The rules as lines: ``IF ... THEN channel = web (support 3.1%, precision 72%)``."""
        lines = []
        for _, r in self.rules.groupby("preference", sort=False).head(n_per_preference).iterrows():
            lines.append(f"IF {r['rule']} THEN {self.target} = {r['preference']} "
                         f"(support {r['support']:.1%}, precision {r['precision']:.0%}, lift {r['lift']:.1f})")
        return lines

    def beside_published(self) -> pd.DataFrame:
        """The best rule per preference beside the deck's wording (:data:`Y4_PUBLISHED`)."""
        pub = Y4_PUBLISHED[Y4_PUBLISHED["target"] == self.target].set_index("preference")["published"]
        top = self.top()[["rule", "support", "precision", "lift"]]
        return pub.to_frame().join(top, how="outer").rename(columns={"rule": "found"})

    def to_frame(self) -> pd.DataFrame:
        """The rules table."""
        return self.rules.copy()

    def summary(self) -> Summary:
        show = self.top()[["rule", "n", "support", "precision", "lift", "base_rate"]]
        return Summary(title=f"Rules for the {self.target} preference", tables=(("best rule per preference", show),),
                       notes=(f"{len(self.rules)} rules from trees over {len(self.features)} features",))

    def plot(self, ax=None):
        """Precision of the best rule per preference beside the preference's base rate."""
        ax = get_ax(ax)
        top = self.top()
        x = np.arange(len(top))
        ax.bar(x - 0.2, top["base_rate"], width=0.4, label="base rate")
        ax.bar(x + 0.2, top["precision"], width=0.4, label="precision of best rule")
        ax.set_xticks(x, top.index.astype(str), rotation=30)
        ax.set_ylabel("share with the preference")
        ax.set_title(f"{self.target} preference: best rule vs base rate")
        ax.legend()
        return ax


def preference_rules(
    profile: FingerprintResult | pd.DataFrame,
    *,
    target: Literal["channel", "genre"] | str = "channel",
    features: Sequence[str] | None = None,
    max_depth: int = 3,
    min_support: float = 0.005,
    min_confidence: float | None = None,
    min_lift: float = 1.2,
    values: Sequence[str] | None = None,
    sample_size: int | None = 200_000,
    seed: int = 0,
) -> PreferenceRules:
    """Readable IF-THEN rules that explain each preferred value of ``target``.

    For each value (e.g. channel ``web``) a shallow gini decision tree (scikit-learn's split
    rule, grown on binned features: :class:`_BinnedTree`; a feature with more than 1024
    distinct values in the sample is cut at its quantiles) separates the customers who
    prefer it from the others; every leaf where it is more
    common than overall becomes a rule: the path's conditions (tightest threshold kept
    per feature and direction), its support and precision. Sibling leaves on the same
    side of ``min_lift`` are merged first, so a split that changes nothing is not shown.

    Parameters
    ----------
    profile : FingerprintResult or DataFrame
        From :func:`profile` (or its ``table``).
    target : str, default "channel"
        Column holding the preference (``channel`` or ``genre``). Customers without a
        value (no downloads for genre) are left out.
    features : list of str, optional
        Explanatory columns; default :func:`default_features`. Text columns are one-hot
        encoded (``brand == 'mzone'``), booleans read as ``student`` / ``not student``.
    max_depth : int, default 3
        Depth of each tree: at most ``max_depth`` conditions per rule.
    min_support : float, default 0.005
        Smallest leaf, as a share of customers (of the sample the trees grow on).
    min_confidence : float, optional
        Keep rules with at least this precision.
    min_lift : float, default 1.2
        Keep rules whose precision is at least this multiple of the base rate.
    values : list of str, optional
        Only these preferred values (default every value held by >= ``min_support``).
    sample_size : int or None, default 200_000
        Grow the trees on a random sample of this many customers (None: all); support,
        precision and lift are then counted on every customer.
    seed : int

    Returns
    -------
    PreferenceRules
        ``rules`` (preference, rule, conditions, n, support, precision, recall, lift,
        base_rate, score), ``.top()``, ``.text()``.

    Raises
    ------
    SchemaError
        Unknown ``target`` or feature column, or no customers with a preference.
    ParameterError
        ``max_depth`` < 1, ``min_support`` outside (0, 1).
    """
    table = profile.table if isinstance(profile, FingerprintResult) else profile
    if not isinstance(table, pd.DataFrame):
        raise parameter_error("profile", expected="a FingerprintResult or its table", found=type(profile).__name__)
    check_scalar(max_depth, "max_depth", kind=int, low=1)
    check_scalar(min_support, "min_support", kind=float, low=0, high=1, low_inclusive=False,
                 high_inclusive=False)
    check_scalar(min_lift, "min_lift", kind=(int, float), low=0)
    check_scalar(min_confidence, "min_confidence", kind=(int, float), low=0, high=1, allow_none=True)
    if target not in table.columns:
        raise schema_error(table="profile", column=target, expected="a preference column such as 'channel' or 'genre'",
                           found=f"no column {target!r}")
    feats = default_features(table) if features is None else list(features)
    missing = [f for f in feats if f not in table.columns]
    if missing:
        raise schema_error(table="profile", column=missing[0], expected="feature columns of the profile",
                           found=f"no column(s) {missing}")
    if target in feats:
        raise parameter_error("features", expected=f"columns other than the target {target!r}", found=target)
    y_all = table[target]
    has = y_all.notna().to_numpy()
    if not has.any():
        raise schema_error(table="profile", column=target, expected="customers with a preference", found="none")
    has_rows = np.flatnonzero(has)
    y_has = y_all.iloc[has_rows]
    if isinstance(y_has.dtype, pd.CategoricalDtype):  # codes -> labels without a per-row str()
        y = np.asarray(y_has.cat.categories.astype(str), dtype=object)[y_has.cat.codes.to_numpy()]
    else:
        y = y_has.astype(str).to_numpy()
    n = len(y)
    counts = pd.Series(y).value_counts()
    if values is None:
        values = [v for v in counts.index if counts[v] >= min_support * n]
    check_scalar(sample_size, "sample_size", kind=int, low=100, allow_none=True)
    fit_rows = (np.sort(np.random.default_rng(seed).choice(n, size=sample_size, replace=False))
                if sample_size is not None and n > sample_size else np.arange(n))
    # the design matrix of the fitting rows only; a feature over every customer is read
    # when a tree splits on it (no customers x features matrix)
    X, kinds = _design(table.iloc[has_rows[fit_rows]], feats)
    names = list(X.columns)
    binned = _BinnedTree.bin(X.to_numpy(dtype=np.float32))
    del X
    full: dict[int, np.ndarray] = {}

    def column(j: int) -> np.ndarray:
        if j not in full:
            full[j] = _design_column(table, kinds[names[j]], has_rows)
        return full[j]

    rows = []
    for v in values:
        yy = y == v
        pos_total = int(yy.sum())
        if pos_total == 0:
            continue
        base = pos_total / n
        tree = _BinnedTree(max_depth, float(min_support)).fit(binned, yy[fit_rows])
        leaves = tree.apply(column, n)
        n_node, k_node = node_counts(tree, leaves, yy)
        prec_node = np.divide(k_node, n_node, out=np.zeros_like(k_node), where=n_node > 0)
        positive = (prec_node >= base * min_lift) & (
            True if min_confidence is None else prec_node >= min_confidence)

        for leaf, path in read_rules(tree, names, positive):
            nl, kl = int(n_node[leaf]), float(k_node[leaf])
            if nl == 0 or not path or not positive[leaf]:
                continue
            prec = kl / nl
            conds = list(path)
            rows.append({
                "preference": v,
                "rule": " and ".join(_render(c, kinds) for c in conds),
                "conditions": conds,
                "n": nl,
                "support": nl / n,
                "precision": prec,
                "recall": kl / pos_total,
                "lift": prec / base,
                "base_rate": base,
                "score": float(_wilson_low(np.array(kl), np.array(float(nl)))),
            })
    cols = ["preference", "rule", "conditions", "n", "support", "precision", "recall", "lift", "base_rate", "score"]
    rules = pd.DataFrame(rows, columns=cols)
    if len(rules):
        order = {v: i for i, v in enumerate(values)}
        rules = rules.assign(_o=rules["preference"].map(order)).sort_values(
            ["_o", "score"], ascending=[True, False], kind="stable").drop(columns="_o").reset_index(drop=True)
    return PreferenceRules(rules=rules, target=target, features=tuple(feats))
