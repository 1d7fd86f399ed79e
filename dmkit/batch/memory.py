"""Memory admission of the batch: a notebook starts only when its estimated peak fits.

Two kernels each holding a whole province do not fit in one machine's memory at province
scale (12 million users). Each notebook declares, in its metadata, the peak memory its
kernel needs per simulated user (``metadata["dmkit"]["peak_bytes_per_user"]``, measured
with ``benchmarks/notebooks.py`` at 3 million users); the batch starts the next notebook
only when the running kernels' estimated peaks plus its own stay within the budget, taking
the first queued notebook that fits (first fit), and always runs a notebook when nothing
else is running (a notebook estimated above the budget then runs alone).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dmkit.batch.costs import declared_costs

__all__ = ["BASE_BYTES", "DEFAULT_BYTES_PER_USER", "available_bytes", "estimated_peak", "first_fit"]

BASE_BYTES = 400 * 2 ** 20
"""A kernel's memory before it reads any data (Python, pandas, scikit-learn, dmkit)."""
DEFAULT_BYTES_PER_USER = 1_000
"""The estimate for a notebook that declares none."""


def estimated_peak(notebook: str | Path, n_users: int | None) -> int:
    """Estimated peak bytes of the notebook's kernel at ``n_users`` simulated users.

    ``BASE_BYTES + peak_bytes_per_user * n_users`` with the notebook's declared
    ``metadata["dmkit"]["peak_bytes_per_user"]`` (:data:`DEFAULT_BYTES_PER_USER` when it
    declares none); ``BASE_BYTES`` alone when the size is unknown (``n_users`` None: real
    extracts, whose size the batch does not read).
    """
    if not n_users:
        return BASE_BYTES
    try:
        per_user = float(declared_costs(notebook).get("peak_bytes_per_user", DEFAULT_BYTES_PER_USER))
    except (TypeError, ValueError):
        per_user = DEFAULT_BYTES_PER_USER
    return int(BASE_BYTES + per_user * int(n_users))


def available_bytes(meminfo: str | Path = "/proc/meminfo") -> int | None:
    """The kernel's ``MemAvailable`` in bytes (None where it cannot be read: not Linux)."""
    try:
        for line in Path(meminfo).read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def first_fit(queued: Sequence[int], running: Sequence[int], budget: int | None) -> int | None:
    """Index of the first queued estimate that fits beside the running ones, or None.

    Parameters
    ----------
    queued : sequence of int
        Estimated peak bytes of the notebooks waiting, in their order.
    running : sequence of int
        Estimated peak bytes of the notebooks running.
    budget : int or None
        Bytes the kernels may hold together; None: no limit (the first queued).

    Returns
    -------
    int or None
        None when nothing is queued, or when something is running and no queued estimate
        fits beside it; with nothing running, 0 (a notebook above the budget runs alone).
    """
    if not queued:
        return None
    if budget is None or not running:
        return 0
    room = budget - sum(running)
    return next((i for i, need in enumerate(queued) if need <= room), None)
