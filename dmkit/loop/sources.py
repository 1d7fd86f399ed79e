"""Where the loop's world and responses come from: the simulator, or the operator's extracts.

The runner talks to a source through four calls, so it never reaches into the simulator:

* ``initial(start)`` — the world (a ``ProvinceData``) at the month before ``start``;
* ``respond(world, plan, month)`` — the month's new rows (a :class:`MonthRows`), or None
  when the responses are not available yet (real campaigns: the contacts extract of that
  month has not arrived);
* ``true_probability(world, month)`` — the planted take-up probability per user and
  service (the oracle policy; simulator only);
* ``excluded()`` — the sensitive numbers never to contact.

:class:`SimulatedSource` reaches the simulator only through the data facade
(:func:`dmkit.io.load_province`) and :func:`dmkit.synth.respond.respond`;
:class:`ExtractSource` reads the extracts with :func:`dmkit.io.load_province` /
:func:`dmkit.io.read_table` and needs no simulator at all.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from dmkit.errors import DataNotFoundError, parameter_error

__all__ = ["MonthRows", "SimulatedSource", "ExtractSource"]

SENSITIVE_SHARE = 0.02
"""Share of numbers on the simulated sensitive list (VIPs, complainers: never contacted)."""


@dataclass(frozen=True)
class MonthRows:
    """New rows of one month: ``contacts``, ``usage``, ``kpis``; ``subscriptions`` either the
    month's new rows (``subscriptions_full=False``) or the full table at the month's end;
    ``truth`` (planted probabilities per plan row) or None."""

    contacts: pd.DataFrame
    usage: pd.DataFrame
    kpis: pd.DataFrame
    subscriptions: pd.DataFrame
    subscriptions_full: bool
    truth: pd.DataFrame | None = None


def _prev(month: str) -> str:
    return str(pd.Period(month, "M") - 1)


class SimulatedSource:
    """The province simulator as the loop's world.

    Parameters
    ----------
    province : str
    n_users, seed : int
        Size and seed of the simulated province; ``seed`` also seeds the responses.
    n_months : int, default 3
        Months of history before the loop starts.
    cache_dir : path, optional
        The facade's simulator cache (default as :func:`dmkit.io.load_province`).
    """

    simulated = True

    def __init__(self, province: str, *, n_users: int, seed: int, n_months: int = 3,
                 cache_dir: str | Path | None = None) -> None:
        self.province = province
        self.n_users = n_users
        self.seed = seed
        self.n_months = n_months
        self.cache_dir = cache_dir

    def initial(self, start: str):
        import dmkit as dm

        return dm.io.load_province("synth", province=self.province, month=_prev(start), n_users=self.n_users,
                                   seed=self.seed, n_months=self.n_months, cache_dir=self.cache_dir)

    def respond(self, world, plan: pd.DataFrame, month: str) -> MonthRows:
        from dmkit.synth.respond import respond

        ym = int(month[:4]) * 12 + int(month[5:7])
        r = respond(world, plan, month=month, seed=int(np.random.SeedSequence([self.seed, ym, 2]).generate_state(1)[0]))
        truth = r.truth
        target = (truth["group"] == "target").to_numpy()
        rate = truth["channel"].astype(object).map(r.planted["delivery"]).to_numpy(dtype=float)
        # P(subscribe | delivered): the planted probability the delivered offers' outcomes are drawn from
        truth = truth.assign(p_delivered=np.where(target, truth["p_effective"].to_numpy() / rate, np.nan))
        return MonthRows(contacts=r.contacts, usage=r.usage, kpis=r.kpis, subscriptions=r.subscriptions,
                         subscriptions_full=False, truth=truth)

    def true_probability(self, world, month: str, *, services=None, heterogeneity: bool = True) -> pd.DataFrame:
        """:func:`dmkit.synth.respond.take_up_probability` (``heterogeneity=False``: without the
        unobservable per-user effect, what the users' data can tell)."""
        from dmkit.synth.respond import take_up_probability

        return take_up_probability(world, month=month, services=services, heterogeneity=heterogeneity)

    def delivered_probability(self, p: pd.DataFrame, channel: np.ndarray, contacts_90d: np.ndarray) -> pd.DataFrame:
        """The planted P(subscribe | delivered) of offers of ``p``'s services (one row per user):
        ``min(1, p × channel effect × fatigue ** k)`` with the user's contact channel and
        ``k`` = offers sent to the user in the three months before."""
        from dmkit.synth.respond import PLANTED

        eff = pd.Series(np.asarray(channel, dtype=object)).map(PLANTED["channel_effect"]).to_numpy(float)
        fat = float(PLANTED["fatigue"]) ** np.asarray(contacts_90d, dtype=float)
        return p.mul(eff * fat, axis=0).clip(upper=1.0)

    def excluded(self, world) -> np.ndarray:
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0x5E5]))
        n = len(world.users)
        return np.flatnonzero(rng.random(n) < SENSITIVE_SHARE)


class ExtractSource:
    """The operator's extracts as the loop's world: responses are the real ``contacts``.

    Parameters
    ----------
    root : path
        A folder of extracts as :func:`dmkit.io.write_table` lays them out, holding every
        table up to the month before the loop's start, and for each later month ``m``
        (once the campaign of ``m`` ran) the ``contacts`` of ``m`` (partition ``month=m``),
        the ``usage`` and ``kpis`` rows of ``m`` and the ``subscriptions`` snapshot of ``m``.
    province : str
    mapping : path or dict, optional
        Column mapping of the extracts (:func:`dmkit.io.load_mapping`).
    exclude : path, sequence of int or None
        The sensitive-number list: a CSV/Parquet file with a ``user_id`` column, or ids.
    """

    simulated = False

    def __init__(self, root: str | Path, *, province: str, mapping=None, exclude=None) -> None:
        self.root = Path(root)
        self.province = province
        self.mapping = mapping
        self.exclude = exclude

    def initial(self, start: str):
        import dmkit as dm

        return dm.io.load_province(self.root, province=self.province, month=_prev(start), mapping=self.mapping)

    def respond(self, world, plan: pd.DataFrame, month: str) -> MonthRows | None:
        import dmkit as dm

        try:
            contacts = dm.io.read_table(self.root, "contacts", province=self.province, month=month,
                                        mapping=self.mapping)
        except DataNotFoundError:
            return None
        usage = dm.io.read_table(self.root, "usage", province=self.province, month=month, mapping=self.mapping)
        kpis = dm.io.read_table(self.root, "kpis", province=self.province, month=month, mapping=self.mapping)
        subs = dm.io.read_table(self.root, "subscriptions", province=self.province, month=month,
                                mapping=self.mapping)
        return MonthRows(contacts=contacts, usage=usage, kpis=kpis, subscriptions=subs, subscriptions_full=True)

    def true_probability(self, world, month: str, **kw) -> pd.DataFrame:
        raise parameter_error("policy", expected="'model' or 'random' with real extracts (no planted truth)",
                              found="oracle")

    def excluded(self, world) -> np.ndarray:
        if self.exclude is None:
            return np.zeros(0, dtype=np.int64)
        if isinstance(self.exclude, (str, Path)):
            p = Path(self.exclude)
            if not p.is_file():
                raise DataNotFoundError(f"exclusion list {str(p)!r} does not exist (a CSV or Parquet file "
                                        "with a user_id column)")
            df = pd.read_parquet(p) if p.suffix.lower() == ".parquet" else pd.read_csv(p)
            if "user_id" not in df.columns:
                raise parameter_error("exclude", expected="a file with a 'user_id' column",
                                      found=list(df.columns)[:8])
            return df["user_id"].to_numpy(dtype=np.int64)
        return np.asarray(list(self.exclude), dtype=np.int64)
