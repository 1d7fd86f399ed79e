"""One cap on BLAS/OpenMP threads for small fits, shared by the estimators."""
from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

SMALL_FIT_ROWS = 100_000
"""Below this many rows a fit runs on one thread unless told otherwise: oversubscribed
OpenMP threads made KMeans and gradient boosting on a few thousand rows 10-50x slower on a
busy 2-core machine."""


def thread_limit(limit: int | None, n_rows: int | None) -> AbstractContextManager:
    """Context manager capping native threads at ``limit`` (1 for small fits when None)."""
    if limit is None and n_rows is not None and n_rows < SMALL_FIT_ROWS:
        limit = 1
    if limit is None:
        return nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=limit)
