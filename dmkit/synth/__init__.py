"""The province simulator: seeded, vectorised tables of the data contract plus planted truth.

    import dmkit as dm
    data = dm.synth.generate("jiangsu", month="2009-06", n_users=100_000, seed=7)
    data.usage, data.subscriptions, ..., data.truth

See :mod:`dmkit.contract.truth` for what is planted and how each truth field is defined.

Layer 2 of the house: imports the contract (:mod:`dmkit.contract`) and no method;
:mod:`dmkit.synth.cache` keeps generated provinces on disk for :func:`dmkit.io.load_province`.
"""
from __future__ import annotations

from dmkit.contract.province import ProvinceData
from dmkit.contract.truth import Truth
from dmkit.synth.generate import generate
from dmkit.synth.profiles import PROVINCES
from dmkit.synth.respond import Responses, respond, take_up_probability

__all__ = ["generate", "respond", "take_up_probability", "Responses", "ProvinceData", "PROVINCES", "Truth"]
