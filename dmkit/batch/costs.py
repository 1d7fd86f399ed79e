"""What each notebook declares it costs, and the order of the batch that follows from it.

Each notebook declares in its metadata (``metadata["dmkit"]``), measured with
``benchmarks/notebooks.py`` on the 12-million-user batch:

* ``peak_bytes_per_user``: its kernel's peak memory per simulated user (the memory
  admission of :mod:`dmkit.batch.memory`);
* ``seconds_per_user``: its kernel's wall seconds per simulated user.

On two lanes a batch ends no sooner than its longest notebook, and a long notebook started
last leaves the other lane idle while it runs: :func:`longest_first` starts the notebooks
expected to take longest first (the longest-processing-time rule), so the short ones fill
the lanes at the end.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

__all__ = ["declared_costs", "estimated_seconds", "longest_first"]

T = TypeVar("T")
_READ: dict[tuple[str, float], dict] = {}


def declared_costs(notebook: str | Path) -> dict:
    """``metadata["dmkit"]`` of a notebook ({} when it declares none or cannot be read),
    read once per file and modification time."""
    path = Path(notebook)
    try:
        key = (str(path.resolve()), path.stat().st_mtime)
    except OSError:
        return {}
    if key not in _READ:
        try:
            meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {}).get("dmkit", {})
        except (OSError, ValueError, AttributeError):
            meta = {}
        _READ[key] = meta if isinstance(meta, dict) else {}
    return _READ[key]


def estimated_seconds(notebook: str | Path, n_users: int | None) -> float:
    """``seconds_per_user * n_users`` as the notebook declares it; 0 when it declares none or
    the size is unknown (``n_users`` None: real extracts)."""
    try:
        per_user = float(declared_costs(notebook).get("seconds_per_user", 0.0))
    except (TypeError, ValueError):
        per_user = 0.0
    return per_user * int(n_users) if n_users else 0.0


def longest_first(jobs: Sequence[T], seconds: Callable[[T], float]) -> list[T]:
    """``jobs`` by estimated ``seconds(job)``, longest first; equal estimates (none declared)
    keep their order."""
    return sorted(jobs, key=lambda job: -seconds(job))
