"""The province simulator: seeded, vectorised tables of the data contract plus planted truth.

    import dmkit as dm
    data = dm.synth.generate("jiangsu", month="2009-06", n_users=100_000, seed=7)
    data.usage, data.subscriptions, ..., data.truth

See :mod:`dmkit.synth.truth` for what is planted and how each truth field is defined.
"""
from __future__ import annotations

from dmkit.synth.data import ProvinceData
from dmkit.synth.generate import generate
from dmkit.synth.profiles import PROVINCES
from dmkit.synth.truth import Truth

__all__ = ["generate", "ProvinceData", "PROVINCES", "Truth"]
