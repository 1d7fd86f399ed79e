"""Month arithmetic for the simulator (datetime64, no Python loops over users)."""
from __future__ import annotations

import numpy as np

__all__ = ["month_range", "month_start", "DAY_NS", "MONTH_DAYS", "floor_to_microseconds"]

DAY_NS = np.int64(86_400 * 10**9)
MONTH_DAYS = 30.4375


def month_start(month: str) -> np.datetime64:
    """First instant of ``month`` ('YYYY-MM') as datetime64[ns]."""
    return np.datetime64(month, "M").astype("datetime64[ns]")


def month_range(month: str, n_months: int) -> list[str]:
    """``n_months`` consecutive months ending at ``month``, oldest first."""
    end = np.datetime64(month, "M")
    return [str(end - k) for k in range(n_months - 1, -1, -1)]


def shift_month(month: str, k: int) -> str:
    """``month`` shifted by ``k`` months."""
    return str(np.datetime64(month, "M") + k)


def floor_to_microseconds(ns: np.ndarray, chunk: int = 1 << 22) -> np.ndarray:
    """Floor int64 nanosecond timestamps to whole microseconds in place (NaT stays NaT).

    The tables are written to Parquet at microsecond precision, the one Spark, Hive and
    most warehouses read (``TIMESTAMP(NANOS)`` they reject), so simulated timestamps carry
    no nanoseconds that a write would have to drop. Works in chunks so the temporaries
    stay small on 40 million rows.
    """
    nat = np.iinfo(np.int64).min
    for lo in range(0, len(ns), chunk):
        block = ns[lo:lo + chunk]
        rem = block % 1000
        rem[block == nat] = 0
        block -= rem
    return ns
