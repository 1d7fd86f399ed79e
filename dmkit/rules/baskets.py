"""Users × services boolean baskets from the ``subscriptions`` table."""
from __future__ import annotations

import numpy as np
import pandas as pd

from dmkit import catalog, schema
from dmkit._positions import positions
from dmkit.contract.labels import label_codes
from dmkit.contract.months import month_end
from dmkit.errors import parameter_error

__all__ = ["baskets_from_subscriptions"]


def baskets_from_subscriptions(
    subscriptions: pd.DataFrame,
    *,
    month: str | None = None,
    active_only: bool = True,
    users: object = None,
    services: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """One row per user, one boolean column per service: who holds what at a month's end.

    Parameters
    ----------
    subscriptions : DataFrame
        The ``subscriptions`` table of the data contract.
    month : str 'YYYY-MM', optional
        Subscriptions started by the end of this month count; default: the month of the
        latest ``start``.
    active_only : bool
        True: only subscriptions still active at the month's end (``end`` null or later).
        False: every service the user ever started by then.
    users : array-like of user ids, optional
        The subscriber base: rows for these users in this order (users without a
        subscription get an all-False row; subscriptions of other users are ignored).
        Default: the users found in ``subscriptions``, sorted. Supports are shares of
        these rows, so pass every subscriber (``users.user_id``) for penetration-based
        supports.
    services : tuple of str, optional
        Columns, default every service of the active catalog
        (:func:`dmkit.catalog.active_catalog`: the simulator's 35 unless an operator's
        catalog YAML is in use).

    Returns
    -------
    DataFrame
        Index ``user_id``, one numpy-bool column per service.
    """
    # keys not checked: a repeated (user, service, start) row sets the same basket cell; only
    # the columns read are required (a table read with those columns passes)
    schema.validate(subscriptions, "subscriptions", check_keys=False,
                    columns=["user_id", "service", "start", "end"])
    known = catalog.active_catalog().service_codes
    services = tuple(known if services is None else services)
    bad = [s for s in services if s not in known]
    if bad:
        raise parameter_error("services", expected=f"service codes of the active catalog, e.g. {known[:4]}",
                              found=bad[0], fix="load the operator's catalog: dm.catalog.use_catalog(path)")
    start = subscriptions["start"]
    end_t = month_end(month) if month is not None else month_end(start.max().strftime("%Y-%m"))
    keep = (start < end_t).to_numpy()  # month_end is exclusive: the next month's first midnight
    if active_only:
        end = subscriptions["end"]
        keep &= (end.isna() | (end >= end_t)).to_numpy()
    uid = subscriptions["user_id"].to_numpy()[keep]  # arrays of the kept rows, no frame copy
    if users is None:
        # hashed unique, then sorted: np.unique on tens of millions of ids is many times slower
        index = pd.Index(np.sort(pd.unique(subscriptions["user_id"].to_numpy())), name="user_id")
    else:
        index = pd.Index(np.asarray(users), name="user_id")
        if not index.is_unique:
            raise parameter_error("users", expected="unique user ids", found="duplicated ids")
    rows = positions(uid, index)
    # the service's column through its category codes (or one factorize): no text copy of the rows
    codes, labels = label_codes(subscriptions["service"])
    col_of = {s: j for j, s in enumerate(services)}
    cols = np.append(np.array([col_of.get(lb, -1) for lb in labels], dtype=np.int64), -1)[codes[keep]]
    ok = (rows >= 0) & (cols >= 0)
    values = np.zeros((len(index), len(services)), dtype=bool)
    values.reshape(-1)[rows[ok].astype(np.int64) * len(services) + cols[ok]] = True  # one flat scatter
    return pd.DataFrame(values, index=index, columns=list(services))
