"""``dmkit.synth.truth``: the planted truth's container, :class:`~dmkit.contract.truth.Truth`.

It lives in the contract (:mod:`dmkit.contract.truth`, with the definition of every field)
because extracts written by ``dmkit synth`` carry it beside the tables.
"""
from __future__ import annotations

from dmkit.contract.truth import Truth

__all__ = ["Truth"]
