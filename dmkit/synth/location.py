"""Case G4's life circles (生活圈) planted on a simulated province: where each customer lives,
works and spends leisure time, which service hall's radius they frequent, which concerts they
attend, and the cell-broadcast signalling (小区短信) that sees them, with a known accuracy.

The geography is a square grid of cells (``n_cells``, 1 km apart); ``n_halls`` service halls
(营业厅) sit on commercial and business cells and every cell belongs to the radius (辐射区) of
its nearest hall (the operator's cell-to-hall map, ``hall_id`` of the ``locations`` table).
Cells have a kind (residential, business, industrial, campus, commercial, leisure) that
decides who lives, works and goes out there.

What is planted, per customer (``LocationData.truth``)
------------------------------------------------------
* ``home_cell`` (a residential cell), ``work_cell`` (business or industrial; campus for
  students; the home cell itself for the :data:`HOME_BASED` share with no separate workplace),
  ``leisure_cell`` (commercial or leisure, within :data:`LEISURE_RADIUS_KM` of home when
  possible);
* ``hall_id``: the frequented hall (营业厅归属) — the hall whose radius holds the largest
  expected share of the customer's sightings (:data:`PLACE_BY_BAND`);
* ``music_genre``: the music taste that drives concert attendance and ringtone take-up — the
  simulator's ``user_truth.preferred_genre`` when ``pdata.truth`` holds it (the same taste
  drives the ``events`` downloads), else drawn;
* ``attended``: the concerts the customer went to (``LocationData.attendance``).

The signal
----------
Every month a customer is seen ``Poisson(lambda)`` times, lambda ~ Gamma(shape
:data:`SIGHTING_SHAPE`) with mean ``sightings`` (some handsets are rarely seen). Each
sighting falls in a time band (:data:`BAND_SHARES`), then at home, work or leisure with the
band's probabilities (:data:`PLACE_BY_BAND`), and is recorded at that cell with probability
``accuracy`` — else at a neighbouring cell within 2 km (a handover to another tower): the
known accuracy of the signal. A concert adds :data:`CONCERT_SIGHTINGS` evening sightings at
its venue for each attendee (recorded with the same accuracy). Fans of a concert's genre
attend with probability ``p_fan``, others with ``p_other``.

Responses to the two G4 campaigns (``respond_hall_campaign``, ``respond_offers``) are
planted too: a customer invited to the hall they really frequent takes part with
probability :data:`P_HALL_TRUE` (:data:`P_HALL_OTHER` for another hall) times their game
affinity (``game_affinity``: higher for the under-30s, KJava handsets and M-Zone, mean 1 —
what a 一起玩吧 model can learn from a pilot); a ringtone offer of
the customer's own genre is taken with :data:`P_OFFER_MATCH`, another genre with
:data:`P_OFFER_OTHER` (the deck's 3–5% baseline, midpoint).
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dmkit import catalog
from dmkit.errors import parameter_error, schema_error

__all__ = ["simulate_locations", "signal_sample", "LocationData", "respond_hall_campaign", "respond_offers", "hall_probability",
           "CONCERTS", "BANDS", "BAND_SHARES", "PLACE_BY_BAND", "CELL_KINDS"]

BANDS: tuple[str, ...] = ("n_night", "n_workday", "n_evening", "n_weekend")
"""The ``locations`` count columns: night 22–07, weekday daytime 07–18, evening 18–22,
weekend daytime 07–18."""

BAND_SHARES = np.array([0.30, 0.35, 0.20, 0.15])
"""Share of a customer's sightings in each band (night, workday, evening, weekend)."""

PLACE_BY_BAND = np.array([
    [1.00, 0.00, 0.00],   # night: at home
    [0.10, 0.85, 0.05],   # workday: at work
    [0.45, 0.05, 0.50],   # evening: home or out
    [0.40, 0.05, 0.55],   # weekend: home or out
])
"""Probability of being at (home, work, leisure) in each band."""

CELL_KINDS: tuple[str, ...] = ("residential", "business", "industrial", "campus", "commercial", "leisure")
_KIND_SHARES = np.array([0.45, 0.17, 0.08, 0.05, 0.15, 0.10])
HOME_BASED = 0.20
"""Share of non-student customers with no separate workplace (work cell = home cell)."""
LEISURE_RADIUS_KM = 6.0
SIGHTING_SHAPE = 1.2
CONCERT_SIGHTINGS = 3
CHUNK_USERS = 200_000
"""Customers whose signalling is drawn at once (each chunk from its own seeded stream): the
simulation's temporaries stay bounded (about 60 MB per month of a chunk) at any province size."""
P_HALL_TRUE, P_HALL_OTHER = 0.22, 0.02
P_OFFER_MATCH, P_OFFER_OTHER = 0.25, 0.04

CONCERTS = pd.DataFrame({
    "concert": ["Jacky Cheung tour", "European brass concertos", "Guzheng concert", "Tsai Chin concert"],
    "genre": ["pop", "classic", "classic", "pop"],
    "original": ["张学友“好久不见”2008巡回演唱会", "欧洲经典管乐协奏曲专场音乐会", "周廷甲周望周展古筝音乐会",
                 "蔡琴演唱会"],
})
"""The four concerts of G4's table (2008), with the genre of ``dmkit.catalog.GENRES`` each
reveals (the deck: pop / symphonic / classical guzheng / pop)."""


@dataclass(frozen=True)
class LocationData:
    """What :func:`simulate_locations` returns.

    Attributes
    ----------
    locations : DataFrame
        The contract table ``locations`` (``dmkit.schema.validate(df, "locations")`` passes).
    cells : DataFrame
        cell_id, x_km, y_km, kind, hall_id: the grid and the operator's cell-to-hall map.
    halls : DataFrame
        hall_id, cell_id, x_km, y_km, kind (of its cell), n_cells.
    concerts : DataFrame
        concert, genre, original, month, cell_id (the venue).
    truth : DataFrame
        One row per customer: user_id, home_cell, work_cell, leisure_cell, hall_id,
        music_genre, home_based, lam (expected sightings a month), game_affinity.
    attendance : DataFrame
        user_id, concert: who attended which concert.
    planted : dict
        The parameters used (accuracy, sightings, p_fan, p_other, band shares, response
        probabilities, months, seed).
    """

    locations: pd.DataFrame
    cells: pd.DataFrame
    halls: pd.DataFrame
    concerts: pd.DataFrame
    truth: pd.DataFrame
    attendance: pd.DataFrame
    planted: dict = field(default_factory=dict)


def _check(pdata, n_cells, n_halls, accuracy, sightings, p_fan, p_other, n_months, seed):
    for name in ("users",):
        if not hasattr(pdata, name):
            raise parameter_error("pdata", expected="a ProvinceData (dm.io.load_province or dm.synth.generate)",
                                  found=type(pdata).__name__)
    for name, v, low in (("n_cells", n_cells, 4), ("n_halls", n_halls, 1), ("n_months", n_months, 1),
                         ("seed", seed, 0)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < low:
            raise parameter_error(name, expected=f"an integer >= {low}", found=v)
    if n_halls > n_cells:
        raise parameter_error("n_halls", expected=f"at most n_cells ({n_cells})", found=n_halls)
    for name, v in (("accuracy", accuracy), ("p_fan", p_fan), ("p_other", p_other)):
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not 0 <= v <= 1:
            raise parameter_error(name, expected="a probability in [0, 1]", found=v)
    if isinstance(sightings, bool) or not isinstance(sightings, numbers.Real) or not sightings > 0:
        raise parameter_error("sightings", expected="a number > 0 (mean sightings a month)", found=sightings)


def simulate_locations(
    pdata,
    *,
    n_cells: int = 3600,
    n_halls: int = 300,
    accuracy: float = 0.75,
    sightings: float = 12.0,
    p_fan: float = 0.05,
    p_other: float = 0.004,
    n_months: int = 3,
    seed: int = 0,
    sample_size: int | None = None,
) -> LocationData:
    """Plant life circles, halls and concerts on ``pdata``'s customers and draw their signalling.

    Parameters
    ----------
    pdata : ProvinceData
        A simulated province (``dm.synth.generate`` or ``dm.io.load_province("synth", ...)``);
        its ``users`` give the customers and students, ``truth.user_truth.preferred_genre``
        the music taste (drawn from the genre shares when there is no truth).
    n_cells, n_halls : int
        Cells of the square grid (rounded down to a square) and service halls.
    accuracy : float, default 0.75
        Probability that a sighting is recorded at the cell the customer is really in (the
        deck: "70%–80% of the data is right").
    sightings : float, default 12
        Mean sightings per customer and month.
    p_fan, p_other : float
        Probability that a fan of a concert's genre, or anyone else, attends it.
    n_months : int, default 3
        Months of observations, ending at the data month (``pdata.meta["month"]``); the four
        concerts are held in the last one.
    seed : int, default 0
    sample_size : int, optional
        Customers whose life circles and signalling are simulated: when ``pdata`` has more,
        a stratified sample of that many (:func:`signal_sample`: each brand and student
        status keeps its share, drawn with ``seed``), in the users' order; every table of the
        result (``locations``, ``truth``, ``attendance``) holds the sample only, and
        ``planted`` records ``n_customers`` and ``sample_size``. Default: every customer.

    Returns
    -------
    LocationData

    Raises
    ------
    ParameterError
        A parameter out of range or ``pdata`` not a ProvinceData.
    """
    _check(pdata, n_cells, n_halls, accuracy, sightings, p_fan, p_other, n_months, seed)
    if sample_size is not None and (isinstance(sample_size, bool) or not isinstance(sample_size, numbers.Integral)
                                    or sample_size < 1):
        raise parameter_error("sample_size", expected="an integer >= 1 or None (every customer)", found=sample_size)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 4]))
    users = pdata.users
    n_customers = len(users)
    if sample_size is not None and sample_size < n_customers:
        users = users.iloc[signal_sample(users, int(sample_size), seed=seed)].reset_index(drop=True)
    uid = users["user_id"].to_numpy()
    n = len(uid)
    month = str(pdata.meta.get("month") or pdata.usage["month"].astype(str).max())
    months = [str(np.datetime64(month, "M") - k) for k in range(n_months - 1, -1, -1)]

    # -- geography
    side = int(np.floor(np.sqrt(n_cells)))
    nc = side * side
    xy = np.stack(np.divmod(np.arange(nc), side), axis=1).astype(float)
    kind = rng.choice(len(CELL_KINDS), size=nc, p=_KIND_SHARES)
    hall_pool = np.flatnonzero(np.isin(kind, [1, 4]))
    if len(hall_pool) < n_halls:
        hall_pool = np.arange(nc)
    hall_cells = np.sort(rng.choice(hall_pool, size=n_halls, replace=False))
    d2 = ((xy[:, None, :] - xy[hall_cells][None, :, :]) ** 2).sum(-1)
    cell_hall = d2.argmin(axis=1).astype(np.int32)
    cells = pd.DataFrame({"cell_id": np.arange(nc, dtype=np.int32), "x_km": xy[:, 1], "y_km": xy[:, 0],
                          "kind": pd.Categorical.from_codes(kind, categories=list(CELL_KINDS)),
                          "hall_id": cell_hall})
    halls = pd.DataFrame({"hall_id": np.arange(n_halls, dtype=np.int32), "cell_id": hall_cells.astype(np.int32),
                          "x_km": xy[hall_cells, 1], "y_km": xy[hall_cells, 0],
                          "kind": pd.Categorical.from_codes(kind[hall_cells], categories=list(CELL_KINDS)),
                          "n_cells": np.bincount(cell_hall, minlength=n_halls)})

    # -- circles
    def pick(kinds, size):
        pool = np.flatnonzero(np.isin(kind, kinds))
        return pool[rng.integers(0, len(pool), size)] if len(pool) else rng.integers(0, nc, size)

    student = users["student"].to_numpy(dtype=bool) if "student" in users else np.zeros(n, bool)
    home = pick([0], n)
    work = np.where(student, pick([3], n), pick([1, 2], n))
    home_based = ~student & (rng.random(n) < HOME_BASED)
    work = np.where(home_based, home, work)
    leisure = pick([4, 5], n)
    near = _near_leisure(rng, xy, kind, home)
    leisure = np.where((near >= 0) & (rng.random(n) < 0.7), near, leisure)
    # the frequented hall: largest expected share of sightings
    place_share = BAND_SHARES @ PLACE_BY_BAND            # home, work, leisure
    cand = np.stack([cell_hall[home], cell_hall[work], cell_hall[leisure]], axis=1)
    score = np.zeros((n, 3))
    for j in range(3):
        for k in range(3):
            score[:, j] += np.where(cand[:, k] == cand[:, j], place_share[k], 0.0)
    true_hall = cand[np.arange(n), score.argmax(axis=1)]
    genre = _music_genre(pdata, users, rng, n)
    age = users["age"].to_numpy() if "age" in users else np.full(n, 35)
    java = users["term_java"].to_numpy(dtype=bool) if "term_java" in users else np.zeros(n, bool)
    mzone = (users["brand"].astype(str).to_numpy() == "mzone") if "brand" in users else np.zeros(n, bool)
    aff = 1.0 / (1.0 + np.exp(-(-1.5 + 1.5 * (age < 30) + 1.2 * java + 0.8 * mzone)))
    aff = aff / aff.mean()
    lam = rng.gamma(SIGHTING_SHAPE, sightings / SIGHTING_SHAPE, n)

    # -- concerts in the data month, at leisure/commercial venues
    venues = rng.choice(np.flatnonzero(np.isin(kind, [4, 5])), size=len(CONCERTS), replace=False)
    concerts = CONCERTS.assign(month=month, cell_id=venues.astype(np.int32))
    att_u, att_c = [], []
    for i, g in enumerate(concerts["genre"]):
        p = np.where(genre == g, p_fan, p_other)
        who = np.flatnonzero(rng.random(n) < p)
        att_u.append(who)
        att_c.append(np.full(len(who), i))
    att_u, att_c = np.concatenate(att_u), np.concatenate(att_c)

    # -- sightings, CHUNK_USERS customers at a time (each chunk its own random stream, so the
    # data does not depend on the province's size beyond its chunks, and the temporaries are
    # bounded): one sort of packed (user, cell, month, band) keys per chunk, stable (the keys
    # come out user by user, so the sort merges short runs); rows come out sorted by
    # user, cell, month
    places = np.stack([home, work, leisure], axis=1).ravel()               # customer-major
    cum = PLACE_BY_BAND.cumsum(axis=1).astype(np.float32)
    at_home, at_work = cum[:, 0], cum[:, 1]                               # a draw above: further out
    n_m = len(months)
    att_order = np.argsort(att_u, kind="stable")
    att_su, att_sc = att_u[att_order], att_c[att_order]
    cols: dict[str, list[np.ndarray]] = {c: [] for c in ("user", "month", "cell", "wide")}
    for ci, c0 in enumerate(range(0, n, CHUNK_USERS)):
        c1 = min(n, c0 + CHUNK_USERS)
        crng = np.random.default_rng(np.random.SeedSequence([int(seed), 4, 1, ci]))
        keys = []
        for mi in range(n_m):
            counts = crng.poisson(lam[c0:c1, None] * BAND_SHARES[None, :])      # users x 4
            rows = np.repeat(np.arange(4 * (c1 - c0), dtype=np.int64), counts.ravel())  # by user, band
            del counts
            su, sb = rows >> 2, (rows & 3).astype(np.int8)
            del rows
            r = crng.random(len(su), dtype=np.float32)
            place = (r > at_home[sb]).astype(np.int64) + (r > at_work[sb])      # 0 home, 1 work, 2 leisure
            del r
            cell = places[(c0 + su) * 3 + place]
            del place
            if mi == n_m - 1:
                lo, hi = np.searchsorted(att_su, [c0, c1])
                if hi > lo:
                    su = np.concatenate([su, np.repeat(att_su[lo:hi] - c0, CONCERT_SIGHTINGS)])
                    sb = np.concatenate([sb, np.full((hi - lo) * CONCERT_SIGHTINGS, 2, dtype=sb.dtype)])
                    cell = np.concatenate([cell, np.repeat(venues[att_sc[lo:hi]], CONCERT_SIGHTINGS)])
            cell = _noisy(crng, cell, accuracy, side)
            keys.append(((su * nc + cell) * n_m + mi) * 4 + sb)
            del su, sb, cell
        key = np.sort(np.concatenate(keys), kind="stable")
        del keys
        first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
        c = np.diff(np.r_[first, len(key)])                                # sightings per (row, band)
        row_key, b = np.divmod(key[first], 4)
        del key, first
        new_row = np.r_[True, row_key[1:] != row_key[:-1]]
        inv = np.cumsum(new_row) - 1                                      # each (row, band) once
        wide = np.zeros((int(new_row.sum()), 4), dtype=np.int32)
        wide[inv, b] = c
        pair, pm = np.divmod(row_key[new_row], n_m)
        pu, pc = np.divmod(pair, nc)
        cols["user"].append(uid[c0 + pu])
        cols["month"].append(pm.astype(np.int8))
        cols["cell"].append(pc.astype(np.int32))
        cols["wide"].append(wide)
        del c, row_key, b, new_row, inv, pair, pm, pu, pc
    cell_of = np.concatenate(cols.pop("cell"))
    wide = np.concatenate(cols.pop("wide")) if cols["wide"] else np.zeros((0, 4), np.int32)
    count_dtype = np.int16 if not len(wide) or int(wide.max()) < np.iinfo(np.int16).max else np.int32
    loc = pd.DataFrame({"user_id": np.concatenate(cols.pop("user")),
                        "month": pd.Categorical.from_codes(np.concatenate(cols.pop("month")), categories=months),
                        "cell_id": cell_of, "hall_id": cell_hall[cell_of],
                        **{band: wide[:, j].astype(count_dtype) for j, band in enumerate(BANDS)}})
    del cell_of, wide

    truth = pd.DataFrame({"user_id": uid, "home_cell": home.astype(np.int32), "work_cell": work.astype(np.int32),
                          "leisure_cell": leisure.astype(np.int32), "hall_id": true_hall.astype(np.int32),
                          "music_genre": pd.Categorical(genre, categories=list(catalog.GENRES)),
                          "home_based": home_based, "lam": lam, "game_affinity": aff})
    attendance = pd.DataFrame({"user_id": uid[att_u], "concert": concerts["concert"].to_numpy()[att_c]})
    planted = {"accuracy": float(accuracy), "sightings": float(sightings), "p_fan": float(p_fan),
               "p_other": float(p_other), "band_shares": BAND_SHARES.tolist(),
               "place_by_band": PLACE_BY_BAND.tolist(), "p_hall_true": P_HALL_TRUE, "p_hall_other": P_HALL_OTHER,
               "p_offer_match": P_OFFER_MATCH, "p_offer_other": P_OFFER_OTHER, "months": months,
               "seed": int(seed), "n_cells": nc, "n_halls": int(n_halls), "n_customers": int(n_customers),
               "sample_size": None if sample_size is None else int(sample_size)}
    return LocationData(locations=loc, cells=cells, halls=halls, concerts=concerts, truth=truth,
                        attendance=attendance, planted=planted)


def _near_leisure(rng, xy, kind, home):
    """A random commercial/leisure cell within LEISURE_RADIUS_KM of each home (-1 if none)."""
    pool = np.flatnonzero(np.isin(kind, [4, 5]))
    out = np.full(len(home), -1)
    order = np.argsort(home, kind="stable")                 # the customers of each home cell, in order
    hs = home[order]
    first = np.flatnonzero(np.r_[True, hs[1:] != hs[:-1]])
    bounds = np.r_[first, len(hs)]
    for g, h in enumerate(hs[first]):
        d = np.abs(xy[pool] - xy[h]).max(axis=1)
        near = pool[d <= LEISURE_RADIUS_KM]
        idx = order[bounds[g]:bounds[g + 1]]
        if len(near):
            out[idx] = near[rng.integers(0, len(near), len(idx))]
    return out


def _noisy(rng, cell, accuracy, side):
    """Record each sighting at its cell with probability ``accuracy``, else at a neighbour
    cell within 2 km (Chebyshev), staying on the grid."""
    wrong = rng.random(len(cell), dtype=np.float32) >= np.float32(accuracy)
    k = int(wrong.sum())
    if not k:
        return cell
    r, c = np.divmod(cell[wrong], side)
    off = np.array([(i, j) for i in range(-2, 3) for j in range(-2, 3) if (i, j) != (0, 0)])
    d = off[rng.integers(0, len(off), k)]
    dr, dc = d[:, 0], d[:, 1]
    r2 = np.clip(r + dr, 0, side - 1)
    c2 = np.clip(c + dc, 0, side - 1)
    out = cell.copy()
    out[wrong] = r2 * side + c2
    return out


def signal_sample(users: pd.DataFrame, size: int, *, seed: int = 0) -> np.ndarray:
    """Positions of ``size`` rows of ``users``, stratified by brand and student status (each
    stratum keeps its share of the rows, largest remainders rounded up), drawn without
    replacement from a stream seeded by ``seed``; sorted (the users' order is kept).

    Parameters
    ----------
    users : DataFrame
        The ``users`` table; ``brand`` and ``student`` are used when present.
    size : int
        Rows to draw (all of them when ``users`` has no more).
    seed : int

    Returns
    -------
    ndarray of int64
    """
    n = len(users)
    if size >= n:
        return np.arange(n, dtype=np.int64)
    code = np.zeros(n, np.int64)
    if "brand" in users:
        b = users["brand"]
        code = pd.Categorical(b).codes.astype(np.int64) if not isinstance(b.dtype, pd.CategoricalDtype) \
            else b.cat.codes.to_numpy().astype(np.int64)
        code = code + 1                                            # missing brand: its own stratum
    if "student" in users:
        code = code * 2 + users["student"].to_numpy(dtype=bool)
    order = np.argsort(code, kind="stable")
    strata, start, count = np.unique(code[order], return_index=True, return_counts=True)
    want = size * count / n
    k = np.floor(want).astype(np.int64)
    k[np.argsort(-(want - k), kind="stable")[: size - int(k.sum())]] += 1
    k = np.minimum(k, count)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 4, 2]))
    take = [order[s + rng.choice(c, kk, replace=False)] for s, c, kk in zip(start, count, k, strict=True) if kk]
    return np.sort(np.concatenate(take))


def _music_genre(pdata, users, rng, n) -> np.ndarray:
    ut = getattr(getattr(pdata, "truth", None), "user_truth", None)
    if ut is not None and len(ut) and "preferred_genre" in ut:
        ids, want = ut["user_id"].to_numpy(), users["user_id"].to_numpy()
        genre = pd.Series(ut["preferred_genre"].array)            # one column, no copy of the truth
        if len(ids) and bool((ids[1:] > ids[:-1]).all()):         # sorted ids: a binary search, no hash table
            at = np.minimum(np.searchsorted(ids, want), len(ids) - 1)
            g = genre.take(at).where(ids[at] == want).reset_index(drop=True)
        else:
            g = genre.set_axis(pd.Index(ids)).reindex(want)
        if g.notna().all():                                       # the customers' rows, then strings
            return g.astype(str).to_numpy(dtype=object)
    return rng.choice(np.array(["pop", "classic", "local", "greeting", "diy"], dtype=object), size=n,
                      p=[0.35, 0.15, 0.2, 0.15, 0.15])


def _plan(plan: pd.DataFrame, table: str, columns: list[str]) -> pd.DataFrame:
    if not isinstance(plan, pd.DataFrame):
        raise schema_error(table=table, column=None, expected="a DataFrame", found=type(plan).__name__)
    missing = [c for c in columns if c not in plan.columns]
    if missing:
        raise schema_error(table=table, column=missing[0], expected=f"columns {columns}",
                           found=f"no column(s) {missing}; it has {list(plan.columns)}")
    return plan


def respond_hall_campaign(data: LocationData, plan: pd.DataFrame, *, seed: int = 0) -> pd.Series:
    """Who takes part when invited to a hall (G4's 一起玩吧 campaign), as planted.

    Parameters
    ----------
    data : LocationData
    plan : DataFrame
        Columns user_id, hall_id: each targeted customer and the hall they are invited to.
    seed : int

    Returns
    -------
    Series of bool
        Aligned with ``plan``: took part, with :func:`hall_probability`.
    """
    p = hall_probability(data, plan)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 41]))
    return pd.Series(rng.random(len(plan)) < p, index=plan.index, name="took_part")


def hall_probability(data: LocationData, plan: pd.DataFrame) -> np.ndarray:
    """The planted probability that each planned customer takes part in the hall campaign:
    (:data:`P_HALL_TRUE` at the customer's own hall, else :data:`P_HALL_OTHER`) times their
    game affinity (``truth.game_affinity``, mean 1 over the province), at most 1."""
    _plan(plan, "plan", ["user_id", "hall_id"])
    t = data.truth.set_index("user_id")
    true = t["hall_id"].reindex(plan["user_id"]).to_numpy()
    base = np.where(true == plan["hall_id"].to_numpy(), P_HALL_TRUE, P_HALL_OTHER)
    return np.minimum(1.0, base * t["game_affinity"].reindex(plan["user_id"]).to_numpy())


def respond_offers(data: LocationData, plan: pd.DataFrame, *, seed: int = 0) -> pd.Series:
    """Who takes a ringtone offer of a genre (G4's concert-linked offers), as planted.

    Parameters
    ----------
    data : LocationData
    plan : DataFrame
        Columns user_id, genre: each customer offered a tone and the tone's genre.
    seed : int

    Returns
    -------
    Series of bool
        Aligned with ``plan``: took the offer. Probability :data:`P_OFFER_MATCH` when the
        genre is the customer's planted taste, :data:`P_OFFER_OTHER` otherwise.
    """
    _plan(plan, "plan", ["user_id", "genre"])
    true = data.truth.set_index("user_id")["music_genre"].astype(str).reindex(plan["user_id"]).to_numpy()
    p = np.where(true == plan["genre"].astype(str).to_numpy(), P_OFFER_MATCH, P_OFFER_OTHER)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 42]))
    return pd.Series(rng.random(len(plan)) < p, index=plan.index, name="took_offer")
