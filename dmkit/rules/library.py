"""The customer–service–channel rule library of case G3 (客户-业务-渠道匹配).

Four layers, by priority as in Guangdong's precision marketing 2.0: data-mining models
> marketing-experience rules > CRM segment defaults > brand–service–terminal matching,
with terminal capability as a gate. Every rule names a service, a source (layer), the
customers it selects (a model score column, or a readable expression over the customer
table), a brand filter, a monthly volume cap, a priority and the channels it uses.
Rules live in YAML so analysts edit them without code; ``fetion_rules.yaml`` (the G3
Fetion table) ships as the example and loads with ``rules="fetion"``; ``g3_rules.yaml``
(``rules="g3"``) holds every layer for all 35 services: a model rule and an experience rule
per service, the CRM segment defaults (27 segments in the 3 brands, over :func:`crm_segment`)
and the brand–service–terminal match. :func:`offer_candidates` turns a library's matches
into the candidates and activities of :func:`dmkit.offers.optimize`.

YAML layout::

    name: Fetion rule library
    eligibility:                 # gates: a service is only offered where this holds
      fetion_client: "term_fetion"
    rules:
      - id: fetion_campus        # unique; errors name it
        service: fetion          # dmkit.catalog.SERVICES
        source: experience       # model | experience | segment | matching
        brand: all               # all, a brand, or a list (earlier brands served first)
        rule: "student and sms_p2p > 0"   # not for model rules
        rank_by: sms_p2p         # optional: who comes first under the volume cap
        score: fetion            # model rules only: column of the scores table
        min_score: 0.0           # model rules only
        volume: 50000            # offers per month at most (null: no cap)
        priority: 2              # 1 = highest
        channels: [campus]       # dmkit.catalog.CHANNELS; the customer's preferred one if listed
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from dmkit import catalog, schema
from dmkit._results import Result, Summary, get_ax
from dmkit._validation import check_frame, check_numeric, check_scalar
from dmkit.errors import DataNotFoundError, parameter_error, schema_error
from dmkit.rules.basket_scores import BasketScores
from dmkit.rules.expressions import check_expression, evaluate

__all__ = ["ARPU_TIERS", "LAYERS", "LAYER_LIFT", "USAGE_PROFILES", "LibraryResult", "crm_segment", "customer_table", "evaluate_offers", "library",
           "load_rules", "offer_candidates"]

LAYERS: tuple[str, ...] = ("model", "experience", "segment", "matching")
"""Rule sources in the order G3 ranks them (models first)."""

LAYER_LIFT: dict[str, float] = {"model": 3.0, "experience": 2.0, "segment": 1.5, "matching": 1.0}
"""Take-up of a layer's offer relative to the service's base rate (rules without a score)."""

_KEYS = {"id", "service", "source", "brand", "rule", "rank_by", "score", "min_score", "volume",
         "priority", "channels", "description"}
REC_COLUMNS = ("user_id", "rank", "service", "channel", "rule", "source", "priority", "score")


# ---------------------------------------------------------------------------- loading
def load_rules(rules: object) -> dict:
    """Read a rule library: a packaged name (``"fetion"``), a YAML path, a dict or a list of rules.

    Returns ``{"name": str, "eligibility": {service: expr}, "rules": [rule dicts]}`` with
    every rule checked for its keys, service, source, brand, volume, priority and
    channels (expressions are checked against a table in :func:`library`).

    Raises
    ------
    DataNotFoundError
        No such file or packaged library.
    ParameterError
        A malformed rule, naming it (``rules['fetion_campus'].channels: ...``).
    """
    if isinstance(rules, (str, Path)):
        path = Path(rules)
        if not path.suffix:
            res = resources.files("dmkit.rules").joinpath(f"{rules}_rules.yaml")
            if not res.is_file():
                raise DataNotFoundError(f"no packaged rule library {str(rules)!r}; packaged: 'fetion', 'g3'. "
                                        "Pass a path to a .yaml file instead")
            text = res.read_text(encoding="utf-8")
        elif not path.is_file():
            raise DataNotFoundError(f"rule library file {str(path)!r} does not exist")
        else:
            text = path.read_text(encoding="utf-8")
        from dmkit.contract.ingest import parse_yaml

        spec = parse_yaml(text, where=f"rule library {str(rules)!r}", parameter="rules")  # no key twice
    else:
        spec = rules
    if isinstance(spec, list):
        spec = {"rules": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("rules"), list) or not spec["rules"]:
        raise parameter_error("rules", expected="a mapping with a non-empty list under 'rules'",
                              found=type(spec).__name__)
    elig = spec.get("eligibility") or {}
    if not isinstance(elig, dict):
        raise parameter_error("rules.eligibility", expected="a mapping service -> expression", found=elig)
    services = catalog.active_catalog().service_codes  # an operator's catalog YAML, or the simulator's
    for svc in elig:
        if svc not in services:
            raise parameter_error(f"eligibility[{svc!r}]", expected="a service of the active catalog",
                                  found=svc)
    out, seen = [], set()
    for i, raw in enumerate(spec["rules"]):
        out.append(_check_rule(raw, i, seen))
    return {"name": str(spec.get("name", "rule library")), "eligibility": dict(elig), "rules": out}


def _check_rule(raw: object, i: int, seen: set) -> dict:
    if not isinstance(raw, dict):
        raise parameter_error(f"rules[{i}]", expected="a mapping of rule fields", found=raw)
    rid = str(raw.get("id", f"#{i}"))
    where = f"rules[{rid!r}]"
    if rid in seen:
        raise parameter_error(f"{where}.id", expected="unique rule ids", found=rid)
    seen.add(rid)
    extra = sorted(k for k in set(raw) - _KEYS if not str(k).startswith("_"))
    if extra:
        raise parameter_error(f"{where}", expected=f"fields among {sorted(_KEYS)}", found=extra[0])
    r = dict(raw, id=rid)
    cat = catalog.active_catalog()
    if r.get("service") not in cat.service_codes:
        raise parameter_error(f"{where}.service", expected="a service of the active catalog",
                              found=r.get("service"))
    if r.get("source") not in LAYERS:
        raise parameter_error(f"{where}.source", expected=f"one of {list(LAYERS)}", found=r.get("source"))
    if r["source"] == "model":
        if not isinstance(r.get("score"), str):
            raise parameter_error(f"{where}.score", expected="the scores column a model rule ranks by",
                                  found=r.get("score"))
        r.setdefault("min_score", 0.0)
        check_scalar(r["min_score"], f"{where}.min_score")
    elif "rule" not in r:
        raise parameter_error(f"{where}.rule", expected="an expression such as \"sms_p2p > 0\"", found=None)
    brand = r.get("brand", "all")
    known = cat.codes("brands")
    brands = list(known) if brand == "all" else [brand] if isinstance(brand, str) else brand
    if not isinstance(brands, list) or not brands or any(b not in known for b in brands):
        raise parameter_error(f"{where}.brand", expected=f"'all', one of {list(known)} or a list",
                              found=brand)
    r["_brands"] = brands
    r["_brand_ordered"] = brand != "all"
    check_scalar(r.get("priority"), f"{where}.priority", kind=int, low=1)
    check_scalar(r.get("volume"), f"{where}.volume", kind=int, low=0, allow_none=True)
    ch = r.get("channels")
    ch = [ch] if isinstance(ch, str) else ch
    if not isinstance(ch, list) or not ch or any(c not in cat.codes("channels") for c in ch):
        raise parameter_error(f"{where}.channels", expected=f"a non-empty list of {list(cat.codes('channels'))}",
                              found=r.get("channels"))
    r["channels"] = ch
    return r


# ---------------------------------------------------------------------------- customers
def customer_table(users: pd.DataFrame, usage: pd.DataFrame | None = None, *,
                   month: str | None = None, extra: pd.DataFrame | None = None) -> pd.DataFrame:
    """The table rules are written over: ``users`` joined with one month of ``usage``.

    Parameters
    ----------
    users, usage : DataFrame
        Contract tables; ``usage`` rows of ``month`` (default: its latest month) are
        joined on user_id (users without usage get zeros).
    extra : DataFrame, optional
        More columns by user_id (e.g. a ``segment`` label), joined left.

    Returns
    -------
    DataFrame
        One row per user: user_id, the users columns, the usage columns (minus month),
        and ``extra``'s columns.
    """
    schema.validate(users, "users")
    out = users.reset_index(drop=True)
    if usage is not None:
        schema.validate(usage, "usage")
        m = month if month is not None else str(usage["month"].max())
        u = usage[usage["month"] == m].drop(columns="month")
        if u.empty:
            raise parameter_error("month", expected=f"a month present in usage, e.g. {usage['month'].max()!r}",
                                  found=month)
        out = out.merge(u, on="user_id", how="left")
        num = [c for c in u.columns if c != "user_id"]
        out[num] = out[num].fillna(0)
    if extra is not None:
        check_frame(extra, table="extra", columns=["user_id"])
        out = out.merge(extra, on="user_id", how="left")
    return out


# ---------------------------------------------------------------------------- result
@dataclass(frozen=True)
class LibraryResult(Result):
    """Offers per customer from a rule library.

    Attributes
    ----------
    recommendations : DataFrame
        One row per offer: user_id, rank (1 = first offer), service, channel, rule (id),
        source (layer), priority, score (the model score or rank_by value).
    coverage : DataFrame
        Offers per service and channel: service, channel, offers, share_of_customers.
    rule_stats : DataFrame
        Per rule: rule, service, source, priority, volume (cap after scaling),
        matched (customers the rule selects), capped (kept under the volume cap),
        offered (offers it finally made).
    n_customers : int
    max_offers : int
    name : str
    """

    recommendations: pd.DataFrame
    coverage: pd.DataFrame
    rule_stats: pd.DataFrame
    n_customers: int
    max_offers: int
    name: str = "rule library"

    @property
    def covered(self) -> int:
        """Customers with at least one offer."""
        return int(self.recommendations["user_id"].nunique())

    @property
    def coverage_rate(self) -> float:
        """Share of customers with at least one offer."""
        return self.covered / self.n_customers if self.n_customers else 0.0

    def offers(self, user_id: int) -> pd.DataFrame:
        """The offers of one customer."""
        return self.recommendations[self.recommendations["user_id"] == user_id].reset_index(drop=True)

    def evaluate(self, taken: pd.DataFrame) -> pd.DataFrame:
        """Hit rate (命中率) of the offers against services taken afterwards.

        Parameters
        ----------
        taken : DataFrame
            users × services booleans: who took each service after the offers (e.g. held
            at the next month's end and not before). Customers missing from it took nothing.

        Returns
        -------
        DataFrame
            One row per rule and a last row ``all``: rule, service, offers, hits,
            hit_rate (hits / offers), base_rate (share of all customers who took the
            rule's service; for ``all``, the offers-weighted mean), lift (hit_rate / base_rate).
        """
        return evaluate_offers(self.recommendations, taken, n_customers=self.n_customers, by="rule")

    def to_frame(self) -> pd.DataFrame:
        """The recommendations (a copy)."""
        return self.recommendations.copy()

    def summary(self) -> Summary:
        """Coverage overview, offers per service × channel and per-rule volumes."""
        per_cust = self.recommendations.groupby("user_id").size()
        overview = pd.DataFrame({"value": [self.n_customers, self.covered, self.coverage_rate,
                                           len(self.recommendations),
                                           float(per_cust.mean()) if len(per_cust) else 0.0]},
                                index=["customers", "customers with >= 1 offer", "coverage",
                                       "offers", "offers per covered customer"])
        notes = []
        full = self.rule_stats[(self.rule_stats["volume"].notna())
                               & (self.rule_stats["capped"] >= self.rule_stats["volume"])]
        if len(full):
            notes.append(f"volume cap reached by {list(full['rule'])}")
        return Summary(title=f"Customer–service–channel library (客户-业务-渠道): {self.name}",
                       tables=(("overview", overview), ("offers per service and channel", self.coverage),
                               ("rules", self.rule_stats)), notes=tuple(notes))

    def plot(self, ax=None):
        """Offers per service, stacked by channel."""
        ax = get_ax(ax)
        if self.coverage.empty:
            ax.set_title("no offers")
            return ax
        tab = self.coverage.pivot_table(index="service", columns="channel", values="offers",
                                        aggfunc="sum", fill_value=0)
        tab = tab.loc[tab.sum(axis=1).sort_values().index]
        left = np.zeros(len(tab))
        for ch in tab.columns:
            ax.barh(tab.index, tab[ch], left=left, label=ch)
            left += tab[ch].to_numpy()
        ax.set_xlabel("offers")
        ax.legend(title="channel", fontsize=8)
        ax.set_title(f"{self.covered:,} of {self.n_customers:,} customers get an offer")
        return ax


# ---------------------------------------------------------------------------- library
def library(
    customers: pd.DataFrame,
    *,
    rules: object = "fetion",
    scores: pd.DataFrame | None = None,
    holdings: pd.DataFrame | None = None,
    max_offers: int = 3,
    volume_scale: float = 1.0,
) -> LibraryResult:
    """Match customers to services and channels with a ranked rule library (G3).

    Every rule selects customers (model rules: a positive score above ``min_score``;
    other rules: their expression), within its brands, passing the service's
    eligibility gate and not already holding the service; the selected are ranked
    (brand order, then score or ``rank_by``, descending) and cut at the rule's
    volume × ``volume_scale``. A customer's offers are then ordered by priority, then
    layer (model > experience > segment > matching), then rule order; a service is
    offered once; the first ``max_offers`` are kept. The channel is the customer's
    ``preferred_channel`` when the rule lists it, else the rule's first channel.
    A rule's volume is an upper bound: its customers may use their slots on
    higher-priority offers.

    Parameters
    ----------
    customers : DataFrame
        One row per customer with user_id and the columns the rules use (see
        :func:`customer_table`).
    rules : str, path, dict or list
        The library (see :func:`load_rules`); default the packaged G3 Fetion table.
    scores : DataFrame or BasketScores, optional
        Model scores: index user_id (or a user_id column), one column per score name
        used by model rules (e.g. propensities or :meth:`RuleSet.recommend` scores), or
        :meth:`RuleSet.recommend_baskets`' per-basket scores indexed by user_id (same
        offers as their ``.to_frame()``, without the users × items floats).
        Model rules whose column is missing are skipped with a warning.
    holdings : DataFrame, optional
        users × services booleans (:func:`baskets_from_subscriptions`): services
        already held are not offered.
    max_offers : int in [1, 10]
        Offers per customer at most (G3: 1–3).
    volume_scale : float > 0
        Multiplies every volume cap (e.g. ``n_users / 12_000_000`` on a sample).

    Returns
    -------
    LibraryResult
        ``.recommendations`` (user_id, rank, service, channel, rule, source, priority,
        score), ``.coverage`` (service, channel, offers, share_of_customers),
        ``.rule_stats`` (rule, service, source, priority, volume, matched, capped,
        offered).

    Raises
    ------
    ParameterError
        A malformed rule, a bad expression or an unknown column — naming the rule.
    SchemaError
        ``customers`` without user_id or empty.
    """
    check_frame(customers, table="customers", columns=["user_id"])
    check_scalar(max_offers, "max_offers", kind=int, low=1, high=10)
    check_scalar(volume_scale, "volume_scale", low=0.0, low_inclusive=False)
    lib = load_rules(rules)
    cols = set(customers.columns)
    for svc, expr in lib["eligibility"].items():
        check_expression(expr, cols, where=f"eligibility[{svc!r}]")
    for r in lib["rules"]:
        if r["source"] != "model":
            check_expression(r["rule"], cols, where=f"rules[{r['id']!r}].rule")
        if r.get("rank_by") is not None and r["rank_by"] not in cols:
            raise parameter_error(f"rules[{r['id']!r}].rank_by", expected="a column of the customer table",
                                  found=r["rank_by"])
    if any(len(r["_brands"]) < len(catalog.active_catalog().codes("brands")) or r["_brand_ordered"]
           for r in lib["rules"]):
        check_frame(customers, table="customers", columns=["brand"])

    n = len(customers)
    uid = customers["user_id"].to_numpy()
    score_frame = None if scores is None else _aligned_scores(scores, uid)
    held = None if holdings is None else _aligned(holdings, uid, table="holdings", fill=False)
    gates = {svc: evaluate(expr, customers, where=f"eligibility[{svc!r}]")
             for svc, expr in lib["eligibility"].items()}
    # brands and preferred channels as integer codes: one pass over the customers, not one per rule
    if "brand" in cols:
        brand_codes, brand_names = _labels(customers["brand"])
        brand_pos = {b: i for i, b in enumerate(brand_names)}
    else:
        brand_codes, brand_pos = None, {}
    chan_names = list(dict.fromkeys(c for r in lib["rules"] for c in r["channels"]))
    pref = None
    if "preferred_channel" in cols:
        pref_codes, pref_names = _labels(customers["preferred_channel"])
        chan_names += [c for c in pref_names if c not in chan_names]
        pref = (pref_codes, np.array([chan_names.index(c) for c in pref_names], dtype=np.int16))
    chan_pos = {c: i for i, c in enumerate(chan_names)}

    parts, stats, skipped = {}, [], []
    for order, r in enumerate(lib["rules"]):
        where = f"rules[{r['id']!r}]"
        cap = None if r.get("volume") is None else int(round(r["volume"] * volume_scale))
        if r["source"] == "model":
            if score_frame is None or r["score"] not in score_frame.columns:
                skipped.append(f"{where} (no scores column {r['score']!r})")
                stats.append((r["id"], r["service"], r["source"], r["priority"], cap, 0, 0))
                continue
            value = score_frame[r["score"]].to_numpy(dtype=float)
            mask = np.nan_to_num(value, nan=-np.inf) > float(r["min_score"])
        else:
            mask = evaluate(r["rule"], customers, where=f"{where}.rule")
            value = (customers[r["rank_by"]].to_numpy(dtype=float) if r.get("rank_by")
                     else np.zeros(n))
        if brand_codes is not None:
            wanted = [brand_pos[b] for b in r["_brands"] if b in brand_pos]
            if len(wanted) < len(brand_pos):
                allowed = np.zeros(len(brand_pos), dtype=bool)
                allowed[wanted] = True
                mask &= allowed[brand_codes]
        if r["service"] in gates:
            mask &= gates[r["service"]]
        if held is not None and r["service"] in held.columns:
            mask &= ~held[r["service"]].to_numpy(dtype=bool)
        idx = np.flatnonzero(mask)
        matched = len(idx)
        brand_rank = _brand_rank(r["_brands"], brand_pos, brand_codes[idx]) if r["_brand_ordered"] else None
        idx = _ranked(idx, -np.nan_to_num(value[idx]), brand_rank, cap)
        parts[order] = (idx, _channels(r["channels"], idx, chan_pos, pref), value[idx])
        stats.append((r["id"], r["service"], r["source"], r["priority"], cap, matched, len(idx)))

    if skipped:
        warnings.warn(f"model rules skipped: {'; '.join(skipped)}. Pass scores=... with those columns",
                      stacklevel=2)
    rec = _first_offers(parts, lib["rules"], uid, chan_names, max_offers)
    rule_stats = pd.DataFrame(stats, columns=["rule", "service", "source", "priority", "volume",
                                              "matched", "capped"])
    offered = np.bincount(rec["rule"].cat.codes.to_numpy(), minlength=len(rec["rule"].cat.categories))
    rule_stats["offered"] = rule_stats["rule"].map(pd.Series(offered, index=rec["rule"].cat.categories)
                                                   ).fillna(0).astype(np.int64)
    rule_stats["volume"] = rule_stats["volume"].astype("Float64")
    return LibraryResult(recommendations=rec, coverage=_coverage(rec, n), rule_stats=rule_stats,
                         n_customers=n, max_offers=max_offers, name=lib["name"])


def _aligned(frame: pd.DataFrame, uid: np.ndarray, *, table: str, fill: object) -> pd.DataFrame:
    """``frame`` (index user_id, or a user_id column) with rows in the order of ``uid``; no copy
    when it is already in that order (the scores of a province are n x services floats)."""
    check_frame(frame, table=table)
    out = frame.set_index("user_id") if "user_id" in frame.columns else frame
    if out.index.equals(pd.Index(uid)):
        return out
    return out.reindex(uid) if fill is np.nan else out.reindex(uid, fill_value=fill)


def _aligned_scores(scores: object, uid: np.ndarray) -> pd.DataFrame | BasketScores:
    """The scores in the order of ``uid``: a frame as :func:`_aligned`; a :class:`BasketScores`
    reindexed on its codes (a column is expanded to the customers only when a rule reads it)."""
    if isinstance(scores, BasketScores):
        return scores.reindex(uid)
    return _aligned(scores, uid, table="scores", fill=np.nan)


def _labels(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes and their labels as strings (a missing value is the label ``"nan"``);
    a categorical column through its codes, without a string per row."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy().astype(np.int64)
        names = [str(c) for c in values.cat.categories]
        if (codes < 0).any():
            codes[codes < 0] = len(names)
            names.append("nan")
        return codes, names
    codes, names = pd.factorize(values.astype(str).to_numpy())
    return codes, [str(c) for c in names]


def _brand_rank(brands: list[str], brand_pos: dict[str, int], codes: np.ndarray) -> np.ndarray:
    """Position of each customer's brand in a rule's ordered brand list (unlisted: after all)."""
    rank_of = np.full(len(brand_pos), len(brands), dtype=np.int64)
    for i, b in enumerate(brands):
        if b in brand_pos and rank_of[brand_pos[b]] == len(brands):
            rank_of[brand_pos[b]] = i
    return rank_of[codes]


def _ranked(idx: np.ndarray, key: np.ndarray, group: np.ndarray | None, cap: int | None) -> np.ndarray:
    """``idx`` (ascending) ordered by ``group``, then ``key``, then itself, cut at ``cap``.

    The same rows in the same order as ``idx[np.lexsort((idx, key, group))][:cap]``, without
    sorting the rows beyond the cap: each group in turn gives its ``cap`` left smallest keys
    (a partition, ties to the earlier row), sorted stably.
    """
    if group is None:
        return idx[_smallest(key, cap)]
    out, left = [], cap
    for g in np.flatnonzero(np.bincount(group)):
        if left is not None and left <= 0:
            break
        rows = np.flatnonzero(group == g)
        take = rows[_smallest(key[rows], left)]
        out.append(take)
        left = None if left is None else left - len(take)
    return idx[np.concatenate(out)] if out else idx[:0]


def _smallest(key: np.ndarray, cap: int | None) -> np.ndarray:
    """Positions of the ``cap`` smallest keys (ties: earlier position first), in that order:
    ``np.argsort(key, kind="stable")[:cap]``."""
    if cap is None or cap >= len(key):
        return np.argsort(key, kind="stable")
    if cap <= 0:
        return np.zeros(0, dtype=np.int64)
    kth = np.partition(key, cap - 1)[cap - 1]
    chosen = key < kth
    tied = np.flatnonzero(key == kth)
    chosen[tied[:cap - int(chosen.sum())]] = True
    rows = np.flatnonzero(chosen)
    return rows[np.argsort(key[rows], kind="stable")]


def _channels(channels: list[str], idx: np.ndarray, chan_pos: dict[str, int], pref) -> np.ndarray:
    """Channel code of each offer: the customer's preferred channel when the rule lists it,
    else the rule's first channel."""
    ch = np.full(len(idx), chan_pos[channels[0]], dtype=np.int16)
    if pref is not None:
        pref_codes, pref_to_chan = pref
        listed = np.zeros(len(chan_pos), dtype=bool)
        listed[[chan_pos[c] for c in channels]] = True
        pc = pref_to_chan[pref_codes[idx]]
        hit = listed[pc]
        ch[hit] = pc[hit]
    return ch


def _first_offers(parts: dict, rules: list[dict], uid: np.ndarray, chan_names: list[str],
                  max_offers: int) -> pd.DataFrame:
    """The recommendations: per customer the offers by priority, layer, rule order and the
    rule's own ranking, each service once (its first offer), the first ``max_offers``.

    The rules are visited in that order; a service already offered to the customer and a
    customer with ``max_offers`` offers are skipped (a bit per service and a count per
    customer), so no sort of all matches is needed. Rows are placed by user_id, then rank.
    Text columns are categoricals of the values present, in sorted order.
    """
    ucode, users = _user_codes(uid)
    n_users = len(users)
    if n_users < 2 ** 31:
        ucode = ucode.astype(np.int32, copy=False)
    services = sorted({r["service"] for r in rules})
    svc_of = np.array([services.index(r["service"]) for r in rules], dtype=np.int16)
    words = max(1, -(-len(services) // 64))
    taken = np.zeros((n_users, words), dtype=np.uint64)
    count = np.zeros(n_users, dtype=np.int16)
    dup_users = n_users < len(uid)
    visit = sorted(parts, key=lambda o: (rules[o]["priority"], LAYERS.index(rules[o]["source"]), o))
    kept = []
    for o in visit:
        idx, ch, score = parts.pop(o)   # each rule's matches freed once visited (a province's are millions)
        u = ucode[idx]
        del idx
        w, bit = int(svc_of[o]) // 64, np.uint64(1) << np.uint64(int(svc_of[o]) % 64)
        keep = ((taken[u, w] & bit) == 0) & (count[u] < max_offers)
        if dup_users:   # two rows of one user_id in one rule: the first only
            keep &= ~pd.Index(u).duplicated()
        u = u[keep]
        taken[u, w] |= bit
        rank = count[u] + 1
        count[u] = rank
        kept.append((u, rank.astype(np.int8), np.full(len(u), o, dtype=np.int16), ch[keep], score[keep]))
    del taken
    total = int(count.sum())
    by_user = np.argsort(users, kind="stable")      # the rows are ordered by user_id, then rank
    start = np.zeros(n_users, dtype=np.int64)
    start[by_user] = np.cumsum(count[by_user]) - count[by_user]
    del by_user, count
    cols = {"user": np.empty(total, dtype=ucode.dtype), "rank": np.empty(total, dtype=np.int8),
            "rule": np.empty(total, dtype=np.int16), "channel": np.empty(total, dtype=np.int16),
            "score": np.empty(total, dtype=np.float64)}
    while kept:   # placed and freed one rule at a time
        u, rank, o, ch, score = kept.pop()
        at = start[u] + rank - 1
        for name, v in zip(cols, (u, rank, o, ch, score), strict=True):
            cols[name][at] = v
    del start
    # the frame's columns built one at a time, each source array dropped once used
    out = {"user_id": users[cols.pop("user")], "rank": cols.pop("rank").astype(np.int64)}
    rule_of = cols.pop("rule")
    out["service"] = _categorical(svc_of[rule_of], services)
    out["channel"] = _categorical(cols.pop("channel"), chan_names)
    out["rule"] = _categorical(rule_of, [r["id"] for r in rules])
    out["source"] = _categorical(np.array([LAYERS.index(r["source"]) for r in rules], dtype=np.int16)[rule_of],
                                 list(LAYERS))
    out["priority"] = np.array([r["priority"] for r in rules], dtype=np.int64)[rule_of]
    del rule_of
    out["score"] = cols.pop("score")
    return pd.DataFrame(out, columns=list(REC_COLUMNS), copy=False)


def _user_codes(uid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A code per customer row and the distinct user ids (rows of one user_id share a code)."""
    if len(uid) < 2 or bool((uid[1:] > uid[:-1]).all()):
        return np.arange(len(uid)), uid
    codes, users = pd.factorize(uid)
    return codes, np.asarray(users)


def _categorical(codes: np.ndarray, names: list[str]) -> pd.Categorical:
    """``names[codes]`` as a categorical of the names present, sorted."""
    present = np.flatnonzero(np.bincount(codes, minlength=len(names)))
    order = sorted(present, key=lambda i: names[i])
    recode = np.full(len(names), -1, dtype=np.int16)
    recode[order] = np.arange(len(order))
    return pd.Categorical.from_codes(recode[codes], categories=[names[i] for i in order])


def _coverage(rec: pd.DataFrame, n: int) -> pd.DataFrame:
    """Offers per service and channel, most offered first (ties by service, then channel)."""
    svc, ch = rec["service"].cat, rec["channel"].cat
    k = len(ch.categories)
    counts = np.bincount(svc.codes.to_numpy().astype(np.int64) * k + ch.codes.to_numpy(),
                         minlength=len(svc.categories) * k)
    pairs = np.flatnonzero(counts)
    out = pd.DataFrame({"service": np.asarray(svc.categories, dtype=object)[pairs // k],
                        "channel": np.asarray(ch.categories, dtype=object)[pairs % k],
                        "offers": counts[pairs].astype(np.int64)})
    out = out.sort_values(["service", "channel"], kind="stable")
    out = out.sort_values("offers", ascending=False, kind="stable").reset_index(drop=True)
    out["share_of_customers"] = out["offers"] / float(n)
    return out


def evaluate_offers(offers: pd.DataFrame, taken: pd.DataFrame, *, n_customers: int, by: str = "rule") -> pd.DataFrame:
    """Hit rate (命中率) of offers (user_id, service and a ``by`` column) against services taken afterwards.

    Parameters
    ----------
    offers : DataFrame
        One row per offer: user_id, service and ``by`` (e.g. rule, or channel).
    taken : DataFrame
        users × services booleans: who took each service after the offers. Customers
        missing from it took nothing.
    n_customers : int
        Customers the base rates are taken over.
    by : str
        Column the rows are grouped by.

    Returns
    -------
    DataFrame
        One row per ``by`` value and service and a last row ``all``: ``by``, service, offers,
        hits, hit_rate (hits / offers), base_rate (share of all customers who took the
        service; for ``all``, the offers-weighted mean), lift (hit_rate / base_rate).
    """
    check_frame(taken, table="taken")
    check_frame(offers, table="offers", columns=["user_id", "service", by], min_rows=0)
    rec = offers
    row = taken.index.get_indexer(rec["user_id"].to_numpy())   # -1: a customer who took nothing
    svc = rec["service"]
    svc_code, svc_names = (svc.cat.codes.to_numpy(), svc.cat.categories) if isinstance(svc.dtype, pd.CategoricalDtype) \
        else pd.factorize(svc.to_numpy())
    hit = np.zeros(len(rec), dtype=bool)
    for j, s in enumerate(svc_names):   # one service's column at a time: no offers x services table
        if s not in taken.columns:
            continue
        m = (svc_code == j) & (row >= 0)
        hit[m] = taken[s].to_numpy(dtype=bool)[row[m]]
    base = {s: float(taken[s].sum()) / n_customers if s in taken.columns else 0.0
            for s in rec["service"].unique()}
    d = rec.assign(hit=hit, base=rec["service"].map(base).astype(float))
    per = d.groupby([by, "service"], sort=False, observed=True).agg(offers=("hit", "size"), hits=("hit", "sum"),
                                                    base_rate=("base", "first")).reset_index()
    total = pd.DataFrame({by: ["all"], "service": ["all"], "offers": [len(d)],
                          "hits": [int(d["hit"].sum())], "base_rate": [float(d["base"].mean())
                                                                      if len(d) else np.nan]})
    out = pd.concat([per, total], ignore_index=True)
    out["hits"] = out["hits"].astype(np.int64)
    out["hit_rate"] = out["hits"] / out["offers"].where(out["offers"] > 0)
    out["lift"] = out["hit_rate"] / out["base_rate"].where(out["base_rate"] > 0)
    return out[[by, "service", "offers", "hits", "hit_rate", "base_rate", "lift"]]


# ---------------------------------------------------------------------------- G3 2.0 helpers
USAGE_PROFILES: tuple[str, ...] = ("basic", "messaging", "data")
"""The usage profiles of :func:`crm_segment`, in code order (0, 1, 2)."""

ARPU_TIERS: tuple[str, ...] = ("low", "mid", "high")
"""The ARPU tiers of :func:`crm_segment`, in code order (0, 1, 2)."""


def crm_segment(customers: pd.DataFrame, *, arpu: tuple[float, float] = (50.0, 120.0),
                sms: float = 200.0, data: float = 2048.0) -> pd.Series:
    """The 27 CRM segments (CRM细分) of G3: 27 customer groups in all over the three brands.

    Brand (3) × ARPU tier (low / mid / high) × usage profile (basic / messaging / data):
    the deck's "三大品牌共27个客户群" — nine groups per brand, so each segment lies in one
    brand. The usage profile is

    * ``data`` (2): ``gprs_kb >= data`` (heavy data, whatever the SMS);
    * ``messaging`` (1): ``sms_p2p >= sms`` and ``gprs_kb < data`` (SMS-led);
    * ``basic`` (0): ``sms_p2p < sms`` and ``gprs_kb < data`` (light SMS and light data).

    The ARPU tier is low below ``arpu[0]``, high from ``arpu[1]`` on, mid between.

    Parameters
    ----------
    customers : DataFrame
        With brand, arpu, sms_p2p and gprs_kb (see :func:`customer_table`: the users
        table's brand joined with a month of usage).
    arpu : (low, high)
        ARPU tier cuts in yuan per month, ``low <= high``.
    sms : float
        P2P SMS per month from which a customer is a messaging user (default 200).
    data : float
        GPRS KB per month from which a customer is a data user (default 2048, 2 MB).

    Returns
    -------
    Series
        ``crm_segment``, aligned on ``customers``:
        ``1 + 9 * brand + 3 * arpu_tier + profile``, where ``brand`` is the brand's position
        in the active catalog (:func:`dmkit.catalog.active_catalog`; the simulator's:
        gotone 0, mzone 1, easyown 2), ``arpu_tier`` and ``profile`` 0, 1, 2 as above
        (:data:`ARPU_TIERS`, :data:`USAGE_PROFILES`). The simulator's three brands give
        segments 1..27 (gotone 1–9, mzone 10–18, easyown 19–27); an operator catalog with
        ``B`` brands gives ``B × 9`` segments, 1..9B.

    Raises
    ------
    SchemaError
        A column missing, non-numeric or NaN (naming it), or a brand code not in the
        active catalog (naming the column, the codes expected and the rows).
    ParameterError
        Bad cuts.
    """
    check_frame(customers, table="customers", columns=["brand", "arpu", "sms_p2p", "gprs_kb"])
    check_numeric(customers, ["arpu", "sms_p2p", "gprs_kb"], table="customers")
    if (not isinstance(arpu, (tuple, list)) or len(arpu) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in arpu)
            or arpu[0] > arpu[1]):
        raise parameter_error("arpu", expected="(low, high) finite ARPU cuts with low <= high", found=arpu)
    check_scalar(sms, "sms", low=0)
    check_scalar(data, "data", low=0)
    codes = catalog.active_catalog().codes("brands")
    brand = pd.Categorical(customers["brand"].astype(object), categories=list(codes)).codes.astype(np.int64)
    bad = brand < 0
    if bad.any():
        found = sorted({str(v) for v in customers["brand"][bad]})
        raise schema_error(table="customers", column="brand",
                           expected=f"brand codes of the active catalog {list(codes)}",
                           found=f"{int(bad.sum())} rows with other codes {found[:5]}",
                           rows=list(customers.index[bad][:5]))
    tier = np.digitize(customers["arpu"].to_numpy(dtype=float), [float(arpu[0]), float(arpu[1])])
    gprs = customers["gprs_kb"].to_numpy(dtype=float)
    texts = customers["sms_p2p"].to_numpy(dtype=float)
    profile = np.where(gprs >= data, 2, np.where(texts >= sms, 1, 0))
    return pd.Series(1 + 9 * brand + 3 * tier + profile, index=customers.index, name="crm_segment")


def offer_candidates(recommendations: pd.DataFrame, *, base_rate: pd.Series, margin: pd.Series,
                     channel_cost: pd.Series, lift: dict[str, float] | None = None,
                     days: int = 28) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The candidates and activities of :func:`dmkit.offers.optimize` from a library's matches.

    One activity per (service, channel) the matches use, ``activity_id`` ``"service@channel"``,
    on a day spread over the month (activities in code order take days 1, 8, 15, 22, 2, ...).
    The take-up probability of a match is its model score (model rules) or the service's
    ``base_rate`` × the layer's lift (:data:`LAYER_LIFT`), at most 1; its value is
    ``p_response × margin[service] − channel_cost[channel]``. Priorities weight nothing in the
    values: they ride along as the ``priority`` column, which orders the greedy plan (what the
    campaign system did). A customer matched twice to one activity keeps the match of best
    priority, then value.

    Parameters
    ----------
    recommendations : DataFrame
        :attr:`LibraryResult.recommendations` (user_id, service, channel, rule, source,
        priority, score), e.g. from ``library(..., max_offers=10)``.
    base_rate : Series
        service -> take-up of the service among those who did not hold it (per month).
    margin : Series
        service -> value of one take-up (e.g. yuan of revenue over the horizon).
    channel_cost : Series
        channel -> cost of one contact.
    lift : dict, optional
        Layer -> lift over the base rate (default :data:`LAYER_LIFT`).
    days : int
        Days of the month the activities are spread over.

    Returns
    -------
    (candidates, activities) : tuple of DataFrame
        candidates: user_id, activity_id, value, p_response, priority, service, channel, rule,
        source; activities: activity_id, day, channel, services, cost.
    """
    check_frame(recommendations, table="recommendations",
                columns=["user_id", "service", "channel", "source", "priority", "score"])
    lift = dict(LAYER_LIFT if lift is None else lift)
    rec = recommendations
    svc_code, svc_names = _sorted_codes(rec["service"])
    ch_code, ch_names = _sorted_codes(rec["channel"])
    src_code, src_names = _sorted_codes(rec["source"])
    for name, ser, col, names in (("base_rate", base_rate, "service", svc_names), ("margin", margin, "service", svc_names),
                                  ("channel_cost", channel_cost, "channel", ch_names)):
        missing = sorted(set(names) - set(ser.index))
        if missing:
            raise parameter_error(name, expected=f"a value for every {col} of the matches", found=missing[:5])
    # p and value built in place (a province's matches are tens of millions: one float array each)
    model_code = src_names.index("model") if "model" in src_names else -1
    p = base_rate.reindex(svc_names).to_numpy(dtype=float)[svc_code]          # the base rate x the layer's lift
    p *= np.array([lift.get(s, np.nan) for s in src_names], dtype=float)[src_code]
    is_model = src_code == model_code
    p[is_model] = rec["score"].to_numpy(dtype=float)[is_model]                # model rules: their score
    del is_model
    p = np.clip(np.nan_to_num(p, nan=0.0, copy=False), 0.0, 1.0, out=p)
    value = margin.reindex(svc_names).to_numpy(dtype=float)[svc_code]
    value *= p
    value -= channel_cost.reindex(ch_names).to_numpy(dtype=float)[ch_code]
    # activities: one per (service, channel) pair, "service@channel", numbered in the order of their ids
    k = max(1, len(ch_names))
    pair = svc_code * k + ch_code
    pair_vals = np.flatnonzero(np.bincount(pair, minlength=len(svc_names) * k))
    ids = np.array([f"{svc_names[v // k]}@{ch_names[v % k]}" for v in pair_vals], dtype=object)
    id_order = np.argsort(ids.astype(str), kind="stable")
    act_of_pair = np.full(len(svc_names) * k, -1, dtype=np.int32)
    act_of_pair[pair_vals[id_order]] = np.arange(len(ids))
    act = act_of_pair[pair]                        # activity code, in activity_id order
    del pair
    prio = rec["priority"].to_numpy()
    uid = rec["user_id"].to_numpy()
    # a customer matched twice to one activity keeps the match of best priority, then value
    o = _best_match(uid, act, prio, value)
    ids_sorted = list(ids[id_order])
    # the candidates' columns taken one at a time, each match-length source dropped once used
    cand = {"user_id": uid[o], "activity_id": pd.Categorical.from_codes(act[o], categories=ids_sorted)}
    del act
    cand["value"] = value[o]
    del value
    cand["p_response"] = p[o]
    del p
    cand["priority"] = prio[o]
    cand["service"] = pd.Categorical.from_codes(svc_code[o], categories=svc_names)
    cand["channel"] = pd.Categorical.from_codes(ch_code[o], categories=ch_names)
    del svc_code, ch_code
    cand["rule"] = rec["rule"].array.take(o) if "rule" in rec.columns else np.full(len(o), "", dtype=object)
    cand["source"] = pd.Categorical.from_codes(src_code[o], categories=src_names)
    del src_code, o
    cand = pd.DataFrame(cand, copy=False)
    svc_of = np.array(svc_names, dtype=object)[pair_vals[id_order] // k]
    ch_of = np.array(ch_names, dtype=object)[pair_vals[id_order] % k]
    i = np.arange(len(ids_sorted))
    activities = pd.DataFrame({"activity_id": np.array(ids_sorted, dtype=object),
                               "day": 1 + (7 * i + i // 4) % days,
                               "channel": ch_of,
                               "services": [[s] for s in svc_of],
                               "cost": channel_cost.reindex(list(ch_of)).to_numpy(dtype=float)})
    return cand, activities


def _sorted_codes(values: pd.Series) -> tuple[np.ndarray, list]:
    """Integer codes of ``values`` and the values present, sorted (``pd.factorize(sort=True)``);
    a categorical column through its codes (no hashing of a string per row)."""
    if isinstance(values.dtype, pd.CategoricalDtype) and not values.isna().any():
        codes = values.cat.codes.to_numpy()
        cats = list(values.cat.categories)
        present = np.flatnonzero(np.bincount(codes, minlength=len(cats)))
        order = sorted(present, key=lambda j: cats[j])
        recode = np.full(len(cats), -1, dtype=np.int32)
        recode[order] = np.arange(len(order))
        return recode[codes], [cats[j] for j in order]
    codes, names = pd.factorize(values, sort=True)
    return codes.astype(np.int32), list(names)


def _best_match(uid: np.ndarray, act: np.ndarray, prio: np.ndarray, value: np.ndarray,
                chunk: int = 1 << 20) -> np.ndarray:
    """Rows ordered by (user, activity), the first of each pair by priority then value:
    ``np.lexsort((-value, prio, act, uid))`` with one row per (uid, act).

    Rows already grouped by ascending user (a library's recommendations) are sorted a chunk
    of whole users at a time on one integer key, falling back to the full sort in a chunk
    where a user has two matches of one activity.
    """
    n = len(uid)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if not bool((uid[1:] >= uid[:-1]).all()):
        return _first_pairs(np.lexsort((-value, prio, act, uid)), uid, act)
    width = int(act.max()) + 1
    out, start = [], 0
    while start < n:
        stop = min(n, start + chunk)
        if stop < n:   # end the chunk at a user boundary
            stop = start + int(np.searchsorted(uid[start:], uid[stop], side="left"))
            stop = stop if stop > start else start + int(np.searchsorted(uid[start:], uid[start], side="right"))
        rows = np.arange(start, stop)
        key = (uid[rows].astype(np.int64) - int(uid[start])) * width + act[rows]
        o = np.argsort(key, kind="stable")
        ks = key[o]
        if (ks[1:] == ks[:-1]).any():
            o = _first_pairs(np.lexsort((-value[rows], prio[rows], act[rows], uid[rows])), uid[rows], act[rows])
        out.append(rows[o])
        start = stop
    return np.concatenate(out)


def _first_pairs(o: np.ndarray, uid: np.ndarray, act: np.ndarray) -> np.ndarray:
    """The first row of each (uid, act) run of the order ``o``."""
    uo, ao = uid[o], act[o]
    first = np.r_[True, (uo[1:] != uo[:-1]) | (ao[1:] != ao[:-1])] if len(o) else np.zeros(0, dtype=bool)
    return o[first]
