"""``dm.runner``: the names notebooks and scripts have used, kept for them.

The batch lives in :mod:`dmkit.batch` (plan, data, execute, HTML, pool, kernels); the
command line is ``dmkit run`` in :mod:`dmkit.cli`. Notebooks end with
``dm.runner.record(out_dir, name, {...})``, which writes their key figures for the tests
and the index (:func:`dmkit.batch.record.record`).
"""
from __future__ import annotations

from dmkit.batch import *  # noqa: F403 (the batch's public names)
from dmkit.batch import __all__  # noqa: F401
